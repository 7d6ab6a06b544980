/* SPDX-License-Identifier: MIT */
/*
 * guest-cov.h: edge coverage for fuzzing targets (`vmm afl`).
 *
 * A target compiled with GCC's or clang's -fsanitize-coverage=trace-pc
 * calls __sanitizer_cov_trace_pc() at the start of every basic block;
 * guest-cov.c turns those calls into AFL's edge map the classic way (a
 * block's id is a hash of its address, an edge is cur ^ prev >> 1, one
 * byte counter per edge; index 0 stays free, as AFL++ keeps it) in a map
 * of GUEST_COV_SIZE bytes in guest memory.
 * guest_cov_ready() zeroes the map and calls HC_FUZZ_READY naming it
 * (abi.h, struct abi_fuzz_cov), so every run starts from an empty map
 * and the VMM finds the map without symbols. Guests are loaded at fixed
 * addresses, so the ids are the same in every run and every VM.
 */
#ifndef GUEST_COV_H
#define GUEST_COV_H

#include <stdint.h>

#define GUEST_COV_SIZE_LOG2 13
#define GUEST_COV_SIZE (1U << GUEST_COV_SIZE_LOG2) /* 8 KiB: small targets */

/* HC_FUZZ_READY(@buf, @max, the map): the input's length, or -errno. */
int64_t guest_cov_ready(void *buf, uint64_t max);

#endif
