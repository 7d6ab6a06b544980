// SPDX-License-Identifier: MIT
/*
 * racer MODE [SPIN]: every vCPU stops the VM at once, for the VMM's "every
 * stop is served exactly once" rule. vCPUs 1..n-1 run racer_ap (guest_ap_main).
 *   clone   every vCPU calls HC_CLONE at the same instant; vCPU 0 checks that
 *           each got a distinct clone number (nonzero, not an error) and
 *           exits 0, or prints what it got and exits 1. In a clone, the vCPU
 *           told HC_CLONE_CHILD exits 0; a vCPU whose request the parent had
 *           not served yet at the clone point gets -EINTR there and parks.
 *   exit    vCPU 0 spins SPIN iterations and exits 7 while the others call
 *           HC_FUZZ_DONE in a loop (each one a request the VMM serves).
 *   crash   the same, but vCPU 0 executes ud2 (a guest crash).
 *   mmio    the same, but vCPU 0 writes an address no device claims.
 *   park    every vCPU parks (HC_PARK): the VM can never run again.
 */
#include "guest.h"

#define EINTR 4

static volatile uint64_t arrived, done;
static volatile int64_t result[64];

static void barrier(uint64_t ncpus)
{
	__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < ncpus)
		__asm__ volatile("pause");
}

static void race_clone(const struct guest_boot *boot)
{
	int64_t r;

	barrier(boot->ncpus);
	r = hcall(HC_CLONE, 0, 0, 0);
	if (r > 0 && (r & HC_CLONE_CHILD))
		guest_exit(0);
	if (r == -EINTR)
		for (;;) /* a clone whose parent served this request after the clone point */
			hcall(HC_PARK, 0, 0, 0);
	result[boot->cpu] = r;
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
}

/* Stop kinds racing one another: requests from the others, MODE from vCPU 0. */
static void race_requests(void)
{
	for (;;)
		hcall(HC_FUZZ_DONE, 0, 0, 0);
}

/* Not in guest.h's default path: lib.c runs it on vCPUs 1..n-1 when a guest has it. */
void guest_ap_main(const struct guest_boot *boot);

void guest_ap_main(const struct guest_boot *boot)
{
	const char *mode = skip_spaces(boot->cmdline);

	if (str_eq_word(mode, "clone"))
		race_clone(boot);
	else if (str_eq_word(mode, "exit") || str_eq_word(mode, "crash") ||
		 str_eq_word(mode, "mmio"))
		race_requests();
}

static int check_clones(const struct guest_boot *boot)
{
	int bad = 0;

	while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < boot->ncpus)
		__asm__ volatile("pause");
	for (uint64_t i = 0; i < boot->ncpus; i++) {
		bad |= result[i] <= 0;
		for (uint64_t j = 0; j < i; j++)
			bad |= result[i] == result[j];
	}
	if (bad) {
		for (uint64_t i = 0; i < boot->ncpus; i++)
			printf_uart("racer: vCPU %lu got %ld\n", i, result[i]);
		return 1;
	}
	printf_uart("racer: %lu clones, each vCPU its own\n", boot->ncpus);
	return 0;
}

int guest_main(const struct guest_boot *boot)
{
	const char *mode = skip_spaces(boot->cmdline);
	const char *arg = mode;
	uint64_t spin;

	while (*arg && *arg != ' ')
		arg++;
	arg = skip_spaces(arg);
	spin = *arg ? parse_u64(arg, NULL) : 100000;
	if (str_eq_word(mode, "clone")) {
		race_clone(boot);
		return check_clones(boot);
	}
	if (str_eq_word(mode, "park"))
		for (;;)
			hcall(HC_PARK, 0, 0, 0);
	for (volatile uint64_t i = 0; i < spin; i++)
		;
	if (str_eq_word(mode, "exit"))
		return 7;
	if (str_eq_word(mode, "crash"))
		__asm__ volatile("ud2");
	if (str_eq_word(mode, "mmio"))
		*(volatile uint32_t *)(ABI_MMIO_BASE + 0x100000) = 1;
	puts_uart("racer: usage: racer clone|exit|crash|mmio|park [SPIN]\n");
	return 2;
}
