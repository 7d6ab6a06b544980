/* SPDX-License-Identifier: MIT */
/*
 * afl-child: the stand-in child whose pid `vmm afl` reports to afl-fuzz.
 *
 * afl-fuzz expects a fork server to fork a child per run and report its
 * pid, and on a timeout it kill()s that pid (SIGKILL by default). A run
 * here is a reset VM in this process, not a process, so the pid afl-fuzz
 * gets is a stand-in: a small child that only waits (pause()) and holds no
 * file descriptor. Its death is what "kill the child" means: the VMM
 * watches its pidfd during the run, stops the vCPUs when it dies, and
 * reports the wait status the kill produced, as a fork server reports its
 * killed child. One stand-in serves every run until something kills it
 * (persistent-mode fork servers report one pid for many runs too); then
 * the next run gets a new one. It dies with the VMM (PR_SET_PDEATHSIG).
 */
#ifndef VMM_AFL_CHILD_H
#define VMM_AFL_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

struct afl_child {
	pid_t pid;	/* 0: none */
	int pidfd;	/* readable once it died; -1: none */
};

/* Fork a new stand-in into @c (which must have none): 0 or -errno. */
int afl_child__spawn(struct afl_child *c);
/* Whether it died, waiting at most @timeout_ms (0: just look). */
bool afl_child__died(const struct afl_child *c, int timeout_ms);
/* Reap a dead (or kill and reap a live) stand-in: its wait status; @c is then empty. */
int afl_child__reap(struct afl_child *c);

#endif
