/* SPDX-License-Identifier: MIT */
/*
 * afl: serve afl-fuzz (AFL++'s fork-server protocol, afl-fsrv.h) with a
 * guest reset to its snapshot point for every run.
 *
 * The guest boots to HC_FUZZ_READY (vmm/fuzz); then `vmm afl` says hello,
 * and each run afl-fuzz asks for is one fuzz__exec of the test case
 * (afl-fuzz's shared-memory test case when it offers one, else stdin):
 * the pid reported is the stand-in child's (afl-child.h), the status is a
 * wait status made from the outcome (done: exit 0; the guest's exit: that
 * status; a crash: killed by the signal Linux would send; a run afl-fuzz
 * killed on its timeout: the stand-in's own status), and before the status
 * goes out the guest's coverage map is copied into afl-fuzz's map
 * (__AFL_SHM_ID). The reset runs after the status is sent, while afl-fuzz
 * looks at the map.
 *
 * Without afl-fuzz (no fd 198) it runs one test case from stdin, prints its
 * outcome and can write the map the run left (--map), for reproducing
 * crashes and checking maps.
 */
#ifndef VMM_AFL_H
#define VMM_AFL_H

#include <stdint.h>
#include <stdio.h>

#include "fuzz.h"

struct afl_config {
	struct fuzz_config fuzz;	/* the guest, booted to its snapshot point */
	const char *map_out;		/* one-shot mode: write the run's map here */
	int timeout_ms;			/* one-shot mode: the run's budget (<= 0: 1 s) */
	const char *stats_path;		/* NULL, or a file rewritten with the summary line
					   every second and at the end (afl-fuzz
					   ends its fork server with SIGKILL) */
};

struct afl_summary {
	uint64_t execs, crashes, kills, exits;
	uint64_t dirtied;		/* pages, summed over runs */
	uint64_t run_ns, reset_ns;	/* guest runs, resets (summed) */
	double secs;			/* from the hello to the end */
};

/*
 * Boot, then serve afl-fuzz on fds 198/199 until it quits (EOF on its
 * pipe or SIGTERM): 0. A failure before the hello: -errno with @ret_msg
 * (afl-fuzz reports a failed handshake; its AFL_DEBUG_CHILD=1 shows our
 * stderr). @ret_summary (may be NULL) gets the counters.
 */
int afl__serve(const struct afl_config *cfg, struct afl_summary *ret_summary, char *ret_msg,
	       size_t msg_len);

/*
 * No afl-fuzz: run the test case read from @input_fd once. 0 with
 * *@ret_result; -errno with @ret_msg.
 */
int afl__run_once(const struct afl_config *cfg, int input_fd, struct fuzz_result *ret_result,
		  char *ret_msg, size_t msg_len);

/* The wait status afl-fuzz gets for @r (a crash: WIFSIGNALED with Linux's signal). */
int afl__wait_status(const struct fuzz_result *r);

void afl__print_summary(FILE *out, const struct afl_summary *s);

#endif
