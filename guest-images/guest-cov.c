// SPDX-License-Identifier: MIT
/*
 * guest-cov.c: the coverage map of fuzzing targets (see guest-cov.h).
 * Nothing here is instrumented (no_sanitize_coverage): the callback must
 * not call itself, and the map must be empty at the snapshot point.
 */
#include "guest-cov.h"
#include "guest.h"

#define NOCOV __attribute__((no_sanitize_coverage))

static uint8_t cov_map[GUEST_COV_SIZE] __attribute__((aligned(4096)));
static uint64_t cov_prev;
static struct abi_fuzz_cov cov_desc = {
	.magic = ABI_FUZZ_COV_MAGIC, .size = GUEST_COV_SIZE,
};

NOCOV void __sanitizer_cov_trace_pc(void)
{
	uint64_t pc = (uint64_t)__builtin_return_address(0);
	/* Fibonacci hashing: the top bits of pc * 2^64/phi spread nearby pcs. */
	uint64_t cur = (pc * 0x9e3779b97f4a7c15ULL) >> (64 - GUEST_COV_SIZE_LOG2);

	uint64_t edge = cur ^ cov_prev;

	/* Index 0 is AFL's "runtime present" byte (afl-showmap drops a 1 there). */
	cov_map[edge ? edge : 1]++;
	cov_prev = cur >> 1;
}

NOCOV int64_t guest_cov_ready(void *buf, uint64_t max)
{
	volatile uint8_t *m = cov_map;

	for (uint64_t i = 0; i < GUEST_COV_SIZE; i++)
		m[i] = 0;
	cov_prev = 0;
	cov_desc.gpa = (uint64_t)cov_map;
	return hcall(HC_FUZZ_READY, (uint64_t)buf, max, (uint64_t)&cov_desc);
}
