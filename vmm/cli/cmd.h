/* SPDX-License-Identifier: MIT */
/*
 * cmd: the vmm commands and their exit statuses (documented in README.md).
 *
 * Every command: 0 success, 1 the command failed (a message on stderr says
 * why), 2 usage error (one error line, then the usage line). `vmm run` also
 * exits with the guest's own status (0-99) or one of VMM_EXIT_* (exit-status.h).
 */
#ifndef VMM_CMD_H
#define VMM_CMD_H

#include <stdio.h>

#include "exit-status.h" /* EXIT_FAILED, VMM_EXIT_* */

#define EXIT_USAGE 2

/* Print "CMD: WHAT 'ARG'" (or "CMD: WHAT"), then @usage; returns EXIT_USAGE. */
int cmd_usage_error_in(const char *cmd, const char *usage, const char *what, const char *arg);

int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_fuzz(int argc, char **argv);
int cmd_afl(int argc, char **argv);

#endif
