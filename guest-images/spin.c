// SPDX-License-Identifier: MIT
/*
 * spin COUNT: a CPU-bound loop of COUNT iterations whose state lives in
 * general registers, SSE registers and memory; prints a checksum of all of
 * it. Pausing the guest, saving and restoring its vCPU into another VM and
 * resuming must give the same checksum as an uninterrupted run.
 */
#include "guest.h"

#define TABLE 4096

static uint64_t table[TABLE];

int guest_main(const struct guest_boot *boot)
{
	uint64_t count = parse_u64(boot->cmdline, NULL);
	uint64_t x = 0x243f6a8885a308d3ULL;
	double f = 1.0;

	if (!count)
		count = 100000000;
	printf_uart("spin: %lu iterations\n", count);
	for (uint64_t i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		table[x % TABLE] += x;
		f = f * 1.0000001 + (double)(x & 0xff) * 1e-9;
		if (f > 2.0)
			f -= 1.0;
	}
	uint64_t sum = x;

	for (unsigned i = 0; i < TABLE; i++)
		sum = sum * 31 + table[i];
	uint64_t fbits;

	memcpy(&fbits, &f, sizeof(fbits));
	printf_uart("spin: checksum 0x%016lx\n", sum ^ fbits);
	return 0;
}
