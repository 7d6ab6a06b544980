/* SPDX-License-Identifier: MIT */
/*
 * cmd: the vmm commands and their exit statuses (documented in README.md).
 *
 * Every command: 0 success, 1 the command failed (a message on stderr says
 * why), 2 usage error (one error line, then the usage line). `vmm run` also
 * exits with the guest's own status (0-99) or one of VMM_EXIT_*.
 */
#ifndef VMM_CMD_H
#define VMM_CMD_H

#include <stdio.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2

#define VMM_EXIT_BAD_STATUS 100 /* the guest wrote an exit status above 99 */
#define VMM_EXIT_CRASH 101	 /* unhandled guest exception */
#define VMM_EXIT_TRIPLE_FAULT 102
#define VMM_EXIT_UNHANDLED 103	 /* an exit the VMM cannot handle */
#define VMM_EXIT_TIMEOUT 104	 /* --timeout expired */
#define VMM_EXIT_PARKED 105	 /* every vCPU parked itself: the guest cannot go on */

extern const char vmm_usage_line[];
/* Print "vmm: WHAT 'ARG'" (or "vmm: WHAT") and the usage line; returns EXIT_USAGE. */
int cmd_usage_error(const char *what, const char *arg);
/* The same for a subcommand: "CMD: WHAT 'ARG'", then @usage. */
int cmd_usage_error_in(const char *cmd, const char *usage, const char *what, const char *arg);

int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_fuzz(int argc, char **argv);

#endif
