/* SPDX-License-Identifier: MIT */
/* bench-vm: `vmm bench vm`, guest costs beside host baselines (bench-vm.c). */
#ifndef VMM_BENCH_VM_H
#define VMM_BENCH_VM_H

#include <stdbool.h>

#include "bench-out.h"

/* Print the rows; 0 or -errno (a guest failed to run). */
int bench_vm__run(struct bench_out *out, bool quick);

#endif
