/* SPDX-License-Identifier: MIT */
/* bench-reset: `vmm bench reset` (bench-reset.c). */
#ifndef VMM_BENCH_RESET_H
#define VMM_BENCH_RESET_H

#include <stdbool.h>

#include "bench-out.h"

int bench_reset__run(struct bench_out *o, bool quick);

#endif
