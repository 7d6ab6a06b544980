// SPDX-License-Identifier: MIT
/*
 * memwrite MIB [SEED [hold|churn]]: write a pattern over MIB MiB starting at
 * MEMWRITE_BASE and print its checksum. The 64-bit word at guest-physical
 * address a holds memwrite_word(seed, a); the checksum is the sum of all
 * words. The host recomputes both (tests/vm) and reads the bytes back
 * through mm. Exit 3 if the region does not fit in memory.
 * For the benchmarks: "hold" then idles without writing memory, forever;
 * "churn" keeps rewriting the region one word per page and counts the pages
 * written in the word at MEMWRITE_COUNTER, forever.
 */
#include "guest.h"
#include "memwrite.h"

int guest_main(const struct guest_boot *boot)
{
	const char *p;
	uint64_t mib = parse_u64(boot->cmdline, &p);
	uint64_t seed = *skip_spaces(p) ? parse_u64(skip_spaces(p), &p) : 1;
	const char *mode = skip_spaces(p);
	uint64_t end = MEMWRITE_BASE + (mib << 20), sum = 0;

	if (!mib || end > boot->mem_size - boot->ncpus * ABI_STACK_SIZE) {
		printf_uart("memwrite: %lu MiB at 0x%lx does not fit in %lu MiB\n", mib,
			    MEMWRITE_BASE, boot->mem_size >> 20);
		return 3;
	}
	for (uint64_t a = MEMWRITE_BASE; a < end; a += 8) {
		uint64_t w = memwrite_word(seed, a);

		*(volatile uint64_t *)a = w;
		sum += w;
	}
	printf_uart("memwrite: %lu MiB at 0x%lx seed %lu checksum 0x%016lx\n", mib,
		    MEMWRITE_BASE, seed, sum);
	if (str_eq_word(mode, "hold"))
		for (;;)
			__asm__ volatile("pause");
	if (str_eq_word(mode, "churn"))
		for (uint64_t pass = 1;; pass++)
			for (uint64_t a = MEMWRITE_BASE; a < end; a += 4096) {
				*(volatile uint64_t *)a = pass;
				(*(volatile uint64_t *)MEMWRITE_COUNTER)++;
			}
	return 0;
}
