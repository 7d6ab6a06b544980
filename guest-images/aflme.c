// SPDX-License-Identifier: MIT
/*
 * aflme: a `vmm afl` target. Built with -fsanitize-coverage=trace-pc, so
 * guest-cov.c records its edges; guest_cov_ready() is its snapshot point
 * (HC_FUZZ_READY naming the input buffer and the coverage map). The input:
 *   "VMM!"...  the magic, compared one byte at a time as real parsers do:
 *              a crash (a write to an unmapped address: SIGSEGV). Coverage
 *              leads a fuzzer there byte by byte; without it the odds are
 *              2^-32 a try
 *   "HANG"...  loops forever (one 32-bit compare: no fuzzer stumbles on it)
 *   "SMSH"...  overwrites its own return address: a crash on return
 *   "ABRT"...  ud2, the way abort() ends a freestanding program (SIGILL)
 * Anything else is done (HC_FUZZ_DONE with the length). Nothing else
 * branches on the input: every new edge a fuzzer sees is a step towards
 * the magic, so a short fuzzing budget (the tests') is enough. Outside
 * `vmm afl`/`vmm fuzz` it says so and exits 0.
 */
#include "guest-cov.h"
#include "guest.h"

#define INPUT_MAX 4096

static uint8_t input[INPUT_MAX] __attribute__((aligned(4096)));

static uint32_t word(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static __attribute__((noinline)) void check_magic(const uint8_t *in)
{
	if (in[0] == 'V')
		if (in[1] == 'M')
			if (in[2] == 'M')
				if (in[3] == '!')
					*(volatile uint64_t *)0xead00000000ULL = 1; /* unmapped */
}

static __attribute__((noinline)) void smash(void)
{
	/* The frame pointer this forces is where the return address sits above. */
	volatile uint64_t *frame = __builtin_frame_address(0);

	frame[1] = 0x4141414141414141ULL; /* non-canonical: #GP on return */
}

int guest_main(const struct guest_boot *boot)
{
	int64_t len = guest_cov_ready(input, sizeof(input));

	(void)boot;
	if (len < 0) {
		puts_uart("aflme: no input (run me with vmm afl)\n");
		return 0;
	}
	/*
	 * Under 4 bytes nothing is looked at: afl-fuzz trims what does not
	 * change the path, and the next byte of the magic must stay there.
	 * Equality tests only (no switch's range compares): every new edge
	 * afl-fuzz sees is a step towards one of these inputs.
	 */
	if (len >= 4) {
		uint32_t w = word(input);

		if (w == 0x474e4148) /* "HANG" */
			for (;;)
				__asm__ volatile("pause");
		if (w == 0x48534d53) /* "SMSH" */
			smash();
		if (w == 0x54524241) /* "ABRT" */
			__builtin_trap();
		check_magic(input);
	}
	hcall(HC_FUZZ_DONE, (uint64_t)len, 0, 0);
	return 0;
}
