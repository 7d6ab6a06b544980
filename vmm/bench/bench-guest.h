/* SPDX-License-Identifier: MIT */
/*
 * bench-guest: what the clone, reset and snapshot benchmarks share - a
 * memwrite guest that has populated its memory and then holds or churns
 * (guest-images/memwrite.c), and the host process of the same size that
 * the fork baselines use.
 */
#ifndef VMM_BENCH_GUEST_H
#define VMM_BENCH_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "builtin-guests.h"
#include "vm.h"

struct bench_guest {
	struct vm *vm;
	int console[2];	/* a pipe: the guest's console, read for its line */
};

/*
 * Boot memwrite over all of @mem's free RAM with @mode ("hold" or "churn"),
 * running; return once it has written the whole region.
 */
int bench_guest__boot_populated(uint64_t mem, const char *mode, struct bench_guest *ret_g);
void bench_guest__destroy(struct bench_guest *g);
/* A built-in guest image by name (NULL if none). */
const struct builtin_guest *bench_guest__image(const char *name);
double bench_guest__median(double *v, unsigned n);
/* Memory the pool of @vm holds, in KiB. */
double bench_guest__pool_kib(struct vm *vm);

#endif
