/* SPDX-License-Identifier: MIT */
/* bench-snapshot: `vmm bench snapshot` (bench-snapshot.c). */
#ifndef VMM_BENCH_SNAPSHOT_H
#define VMM_BENCH_SNAPSHOT_H

#include <stdbool.h>

#include "bench-out.h"

int bench_snapshot__run(struct bench_out *o, bool quick);

#endif
