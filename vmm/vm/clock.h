/* SPDX-License-Identifier: MIT */
/*
 * clock: the one clock vmm times with (CLOCK_MONOTONIC), and a sleep for
 * the benchmarks.
 */
#ifndef VMM_CLOCK_H
#define VMM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static inline double clock_now_s(void)
{
	return (double)clock_now_ns() * 1e-9;
}

static inline void clock_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

#endif
