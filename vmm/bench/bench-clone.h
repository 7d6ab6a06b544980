/* SPDX-License-Identifier: MIT */
/* bench-clone: `vmm bench clone` (bench-clone.c). */
#ifndef VMM_BENCH_CLONE_H
#define VMM_BENCH_CLONE_H

#include <stdbool.h>

#include "bench-out.h"

int bench_clone__run(struct bench_out *o, bool quick);

#endif
