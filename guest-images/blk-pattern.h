/* SPDX-License-Identifier: MIT */
/*
 * The blktest guest's disk pattern, shared with the host tests that write
 * it into images and check what guests wrote: the 64-bit word at byte
 * offset @off (a multiple of 8) of a disk filled with @seed.
 */
#ifndef GUEST_BLK_PATTERN_H
#define GUEST_BLK_PATTERN_H

#include <stdint.h>

#define BLK_BUF_BASE 0x1000000UL /* 16 MiB: blktest's data buffers, above the guest image */

static inline uint64_t blk_pattern_word(uint64_t seed, uint64_t off)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + off + 0x5bd1e995;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
