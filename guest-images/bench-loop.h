/* SPDX-License-Identifier: MIT */
/* The loop `vmm bench vm` times in a guest and on the host: same code. */
#ifndef GUEST_BENCH_LOOP_H
#define GUEST_BENCH_LOOP_H

#include <stdint.h>

static inline uint64_t bench_loop(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

#endif
