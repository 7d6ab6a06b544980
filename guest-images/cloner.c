// SPDX-License-Identifier: MIT
/*
 * cloner MIB N [NESTED|chain]: clone tests from inside the guest.
 * Writes the memwrite pattern (seed 1) over MIB MiB at MEMWRITE_BASE, then
 * asks the VMM for N clones (HC_CLONE) with callee-saved registers holding
 * known values. Each clone checks that it sees seed 1 and the registers of
 * the clone point, writes its own pattern (seed 100 + its number), waits a
 * little while the others write theirs, and checks its pattern is intact;
 * the parent does the same with seed 2 after its last clone. With NESTED,
 * clone number 1 makes one clone of its own. With "chain", the clones form
 * a chain N deep instead: the parent makes one clone, which checks the
 * memory and registers of its clone point, writes its own pattern (seed 100
 * + its number: a write at each level), makes the next clone, and after it
 * checks that its pattern is intact. Each VM prints its checksum.
 * Exit: 0 ok; 10 clone-point memory wrong; 11 registers wrong; 12 another
 * VM's writes showed through; 13 the clone request failed; 3 bad arguments.
 */
#include "guest.h"
#include "memwrite.h"

static uint64_t base_end;

static uint64_t fill(uint64_t seed)
{
	uint64_t sum = 0;

	for (uint64_t a = MEMWRITE_BASE; a < base_end; a += 8) {
		uint64_t w = memwrite_word(seed, a);

		*(volatile uint64_t *)a = w;
		sum += w;
	}
	return sum;
}

static int holds(uint64_t seed)
{
	for (uint64_t a = MEMWRITE_BASE; a < base_end; a += 8)
		if (*(volatile uint64_t *)a != memwrite_word(seed, a))
			return 0;
	return 1;
}

/* HC_CLONE with r12/r13 loaded; *regs_ok says whether they came back. */
static int64_t clone_vm(uint64_t magic, int *regs_ok)
{
	register uint64_t r12 __asm__("r12") = magic;
	register uint64_t r13 __asm__("r13") = ~magic;
	int64_t ret;

	__asm__ volatile("movq %3, (%4)"
			 : "=a"(ret), "+r"(r12), "+r"(r13)
			 : "r"((uint64_t)HC_CLONE), "r"(ABI_HCALL_MMIO)
			 : "memory");
	*regs_ok = r12 == magic && r13 == ~magic;
	return ret;
}

static void linger(void)
{
	int64_t end = hcall(HC_TIME_NS, 0, 0, 0) + 20 * 1000 * 1000;

	while (hcall(HC_TIME_NS, 0, 0, 0) < end)
		;
}

static int own_pattern(const char *who, uint64_t n, uint64_t seed)
{
	uint64_t sum = fill(seed);

	linger();
	if (!holds(seed)) {
		printf_uart("cloner: %s %lu: another VM's writes showed through\n", who, n);
		return 12;
	}
	printf_uart("cloner: %s %lu ok seed %lu checksum 0x%016lx\n", who, n, seed, sum);
	return 0;
}

static int as_clone(uint64_t n, int regs_ok, int nested)
{
	if (!regs_ok) {
		printf_uart("cloner: clone %lu: registers differ from the clone point\n", n);
		return 11;
	}
	if (!holds(1)) {
		printf_uart("cloner: clone %lu: memory differs from the clone point\n", n);
		return 10;
	}
	if (nested && n == 1) {
		int ok;
		int64_t r = clone_vm(0x5eed0000 + n, &ok);

		if (r < 0)
			return 13;
		if (r & (int64_t)HC_CLONE_CHILD)
			return as_clone((uint64_t)r & 0xffff, ok, 0);
	}
	return own_pattern("clone", n, 100 + n);
}

/*
 * A link of the chain: VM @n at @level, cloned when memory held @seed; it
 * writes its own pattern, then clones itself while @level < @depth.
 */
static int as_link(uint64_t n, uint64_t level, uint64_t depth, uint64_t seed, int regs_ok)
{
	if (!regs_ok) {
		printf_uart("cloner: clone %lu: registers differ from the clone point\n", n);
		return 11;
	}
	if (!holds(seed)) {
		printf_uart("cloner: clone %lu: memory differs from the clone point\n", n);
		return 10;
	}
	fill(100 + n);
	if (level < depth) {
		int ok;
		int64_t r = clone_vm(0x11a40000 + level, &ok);

		if (r < 0) {
			printf_uart("cloner: clone %lu: clone request failed: %ld\n", n, r);
			return 13;
		}
		if (r & (int64_t)HC_CLONE_CHILD)
			return as_link((uint64_t)r & 0xffff, level + 1, depth, 100 + n, ok);
		if (!ok || !holds(100 + n)) {
			printf_uart("cloner: clone %lu: state changed across its clone\n", n);
			return ok ? 12 : 11;
		}
	}
	return own_pattern("clone", n, 100 + n);
}

static int chain(uint64_t depth)
{
	int ok;
	int64_t r = clone_vm(0x11a40000, &ok);

	if (r < 0) {
		printf_uart("cloner: clone request failed: %ld\n", r);
		return 13;
	}
	if (r & (int64_t)HC_CLONE_CHILD)
		return as_link((uint64_t)r & 0xffff, 1, depth, 1, ok);
	if (!ok || !holds(1)) {
		printf_uart("cloner: parent: state changed across clone 1\n");
		return ok ? 10 : 11;
	}
	return own_pattern("parent", 0, 2);
}

int guest_main(const struct guest_boot *boot)
{
	const char *p;
	uint64_t mib = parse_u64(boot->cmdline, &p);
	uint64_t n = parse_u64(skip_spaces(p), &p);
	int is_chain = str_eq_word(skip_spaces(p), "chain");
	int nested = !is_chain && *skip_spaces(p) != '\0';

	base_end = MEMWRITE_BASE + (mib << 20);
	if (!mib || !n || n > 64 || base_end > boot->mem_size - boot->ncpus * ABI_STACK_SIZE) {
		puts_uart("cloner: usage: cloner MIB N [NESTED|chain] (the region must fit)\n");
		return 3;
	}
	fill(1);
	if (is_chain)
		return chain(n);
	for (uint64_t i = 0; i < n; i++) {
		int ok;
		int64_t r = clone_vm(0xc10e0000 + i, &ok);

		if (r < 0) {
			printf_uart("cloner: clone request failed: %ld\n", r);
			return 13;
		}
		if (r & (int64_t)HC_CLONE_CHILD)
			return as_clone((uint64_t)r & 0xffff, ok, nested);
		if (!ok || !holds(1)) {
			printf_uart("cloner: parent: state changed across clone %lu\n", i + 1);
			return ok ? 10 : 11;
		}
	}
	return own_pattern("parent", 0, 2);
}
