/* SPDX-License-Identifier: MIT */
/* bench-blk: `vmm bench blk`, virtio-blk on io_uring beside a pread/pwrite baseline. */
#ifndef VMM_BENCH_BLK_H
#define VMM_BENCH_BLK_H

#include <stdbool.h>

#include "bench-out.h"

/* Print the rows; 0 or -errno (no image could be made, a guest failed). */
int bench_blk__run(struct bench_out *out, bool quick);

#endif
