/* SPDX-License-Identifier: MIT */
/* bench-syscall: `vmm bench syscall`, a static Linux program in a VM beside natively (bench-syscall.c). */
#ifndef VMM_BENCH_SYSCALL_H
#define VMM_BENCH_SYSCALL_H

#include <stdbool.h>

#include "bench-out.h"

/* Print the rows; 0 or -errno (a run failed). */
int bench_syscall__run(struct bench_out *out, bool quick);

#endif
