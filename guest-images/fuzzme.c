// SPDX-License-Identifier: MIT
/*
 * fuzzme: a fuzzing target for `vmm fuzz`. It names its input buffer with
 * HC_FUZZ_READY (the snapshot point), parses the input the VMM wrote there
 * and reports HC_FUZZ_DONE. The input is a list of records, each a tag
 * byte, a length byte and that many payload bytes:
 *   'W' off data...   copy data into the scratch area at page `off`
 *   'D' lo hi         dirty (lo | hi << 8) scratch pages, one write each
 *   'H'               hang (a `vmm fuzz --timeout` case)
 *   'C' c0 c1 c2 c3   check a 4-byte code: "BUG!" crashes (a write to an
 *                     unmapped address); anything else is fine
 * A truncated record ends the input. Outside `vmm fuzz` (no input) it says
 * so and exits 0. An empty input is an input like any other.
 */
#include "guest.h"
#include "memwrite.h"

#define INPUT_MAX 4096
#define SCRATCH MEMWRITE_BASE
#define SCRATCH_PAGES 4096UL

static uint8_t input[INPUT_MAX] __attribute__((aligned(4096)));

static void dirty_pages(uint64_t n, uint64_t mem_size)
{
	uint64_t max = (mem_size - SCRATCH) / 4096 - 64; /* stay below the stacks */

	if (n > SCRATCH_PAGES)
		n = SCRATCH_PAGES;
	if (n > max)
		n = max;
	for (uint64_t i = 0; i < n; i++)
		(*(volatile uint8_t *)(SCRATCH + i * 4096))++;
}

static void check_code(const uint8_t *c)
{
	/* One byte at a time, the way real parsers branch. */
	if (c[0] == 'B')
		if (c[1] == 'U')
			if (c[2] == 'G')
				if (c[3] == '!')
					*(volatile uint64_t *)0xead00000000ULL = 1; /* unmapped */
}

static uint64_t parse(const uint8_t *in, uint64_t len, uint64_t mem_size)
{
	uint64_t pos = 0, records = 0;

	while (pos + 2 <= len) {
		uint8_t tag = in[pos], n = in[pos + 1];
		const uint8_t *p = in + pos + 2;

		if (pos + 2 + n > len)
			break;
		switch (tag) {
		case 'W':
			if (n >= 1) /* off < 256 pages: inside the scratch area */
				memcpy((void *)(SCRATCH + p[0] * 4096UL), p + 1, n - 1u);
			break;
		case 'D':
			if (n >= 2)
				dirty_pages(p[0] | (uint64_t)p[1] << 8, mem_size);
			break;
		case 'H':
			for (;;)
				__asm__ volatile("pause");
		case 'C':
			if (n == 4)
				check_code(p);
			break;
		}
		pos += 2u + n;
		records++;
	}
	return records;
}

int guest_main(const struct guest_boot *boot)
{
	int64_t len = hcall(HC_FUZZ_READY, (uint64_t)input, sizeof(input), 0);
	uint64_t records;

	if (len < 0) {
		puts_uart("fuzzme: no input (run me with vmm fuzz)\n");
		return 0;
	}
	if (len > INPUT_MAX)
		len = INPUT_MAX;
	records = parse(input, (uint64_t)len, boot->mem_size);
	hcall(HC_FUZZ_DONE, records, 0, 0);
	return 0;
}
