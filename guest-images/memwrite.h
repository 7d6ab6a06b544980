/* SPDX-License-Identifier: MIT */
/* The memwrite guest's pattern, shared with the host tests that check it. */
#ifndef GUEST_MEMWRITE_H
#define GUEST_MEMWRITE_H

#include <stdint.h>

#define MEMWRITE_BASE 0x1000000UL /* 16 MiB: above the guest image */
#define MEMWRITE_COUNTER (MEMWRITE_BASE - 8) /* "churn": pages written so far */

static inline uint64_t memwrite_word(uint64_t seed, uint64_t gpa)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + gpa;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
