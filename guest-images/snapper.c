// SPDX-License-Identifier: MIT
/*
 * snapper MIB: live-snapshot test. Writes the memwrite pattern (seed 1)
 * over MIB MiB at MEMWRITE_BASE, asks for a snapshot (HC_SNAPSHOT, saved
 * to `vmm run --snapshot-to FILE` while this guest runs on), then checks
 * the region still holds seed 1 and overwrites it with seed 2 - racing the
 * VMM's saver - and prints the checksum. Resumed from the file (`vmm run
 * --restore FILE`) it continues right after the hypercall, so its check
 * proves the file holds the memory of the snapshot point, and it prints
 * the same line. Exit: 0 ok, 10 the region changed, 3 bad arguments.
 */
#include "guest.h"
#include "memwrite.h"

int guest_main(const struct guest_boot *boot)
{
	uint64_t mib = parse_u64(boot->cmdline, NULL), sum = 0;
	uint64_t end = MEMWRITE_BASE + (mib << 20);
	int64_t ret;

	if (!mib || end > boot->mem_size - boot->ncpus * ABI_STACK_SIZE) {
		puts_uart("snapper: usage: snapper MIB (the region must fit)\n");
		return 3;
	}
	for (uint64_t a = MEMWRITE_BASE; a < end; a += 8)
		*(volatile uint64_t *)a = memwrite_word(1, a);
	ret = hcall(HC_SNAPSHOT, 0, 0, 0);
	for (uint64_t a = MEMWRITE_BASE; a < end; a += 8) {
		if (*(volatile uint64_t *)a != memwrite_word(1, a)) {
			printf_uart("snapper: memory at 0x%lx changed across the snapshot\n", a);
			return 10;
		}
		*(volatile uint64_t *)a = memwrite_word(2, a);
		sum += memwrite_word(2, a);
	}
	printf_uart("snapper: snapshot returned %ld, checksum 0x%016lx\n", ret, sum);
	return 0;
}
