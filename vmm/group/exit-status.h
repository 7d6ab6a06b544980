/* SPDX-License-Identifier: MIT */
/*
 * exit-status: how a run of VMs ended, as `vmm run` reports it (the table
 * in README.md). group__run computes it; the commands (cli/cmd.h) exit
 * with it. A guest's own status (0-99) passes through unchanged.
 */
#ifndef VMM_EXIT_STATUS_H
#define VMM_EXIT_STATUS_H

#define EXIT_FAILED 1

#define VMM_EXIT_BAD_STATUS 100 /* the guest wrote an exit status above 99 */
#define VMM_EXIT_CRASH 101	 /* unhandled guest exception */
#define VMM_EXIT_TRIPLE_FAULT 102
#define VMM_EXIT_UNHANDLED 103	 /* an exit the VMM cannot handle */
#define VMM_EXIT_TIMEOUT 104	 /* --timeout expired */
#define VMM_EXIT_PARKED 105	 /* every vCPU parked itself: the guest cannot go on */
#define VMM_EXIT_REBOOT 106	 /* the guest reset the machine (a Linux guest's reboot) */

#endif
