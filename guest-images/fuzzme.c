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
 *   'F' x             scramble the FPU/SSE state from x: every XMM
 *                     register, MXCSR's rounding, the x87 control word,
 *                     and a value pushed on the x87 stack
 *   'S'               load null selectors into DS, ES, FS and GS
 *   'L' off           write a byte at the VMM's page 0xf000 + off (below
 *                     ABI_RESERVED: a reset must then restore everything)
 * (F, S and L are there for the reset tests: state a run leaves changed.)
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

static void scramble_fpu(uint8_t x)
{
	uint8_t v[16] __attribute__((aligned(16)));
	uint32_t mxcsr = 0x1f80u | (uint32_t)(x & 3) << 13; /* masked, rounding from x */
	uint16_t fcw = (uint16_t)(0x037fu & ~(uint16_t)((x & 1) << 9)); /* precision */

	for (unsigned i = 0; i < 16; i++)
		v[i] = (uint8_t)(x + i * 17u);
	__asm__ volatile("movdqa %0, %%xmm0\n\tmovdqa %0, %%xmm1\n\tmovdqa %0, %%xmm2\n\t"
			 "movdqa %0, %%xmm3\n\tmovdqa %0, %%xmm4\n\tmovdqa %0, %%xmm5\n\t"
			 "movdqa %0, %%xmm6\n\tmovdqa %0, %%xmm7\n\tmovdqa %0, %%xmm8\n\t"
			 "movdqa %0, %%xmm9\n\tmovdqa %0, %%xmm10\n\tmovdqa %0, %%xmm11\n\t"
			 "movdqa %0, %%xmm12\n\tmovdqa %0, %%xmm13\n\tmovdqa %0, %%xmm14\n\t"
			 "movdqa %0, %%xmm15"
			 : : "m"(v) : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
			   "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
			   "xmm15");
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0\n\tfld1" : : "m"(fcw)); /* left on the x87 stack */
}

static void null_selectors(void)
{
	__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\tmov %0, %%fs\n\tmov %0, %%gs"
			 : : "r"(0) : "memory");
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
		case 'F':
			if (n == 1)
				scramble_fpu(p[0]);
			break;
		case 'S':
			null_selectors();
			break;
		case 'L':
			if (n == 1)
				(*(volatile uint8_t *)(0xf000UL + p[0]))++;
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
