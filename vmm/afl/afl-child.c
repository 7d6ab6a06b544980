// SPDX-License-Identifier: MIT
/*
 * afl-child.c: the stand-in child (see afl-child.h).
 *
 * It is forked from the VMM, threads and all, between runs (the vCPUs are
 * paused); the child runs only async-signal-safe calls before it waits.
 * Guest memory is a MAP_SHARED memfd whose page tables fork() does not
 * copy, so a fork costs little, and it happens only after afl-fuzz killed
 * the previous stand-in.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afl-child.h"

static __attribute__((noreturn)) void stand_in(pid_t parent)
{
	/* Die with the VMM; if it died before the prctl, go now. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(0);
	/* Hold nothing of the VMM's: not afl-fuzz's pipes, not KVM's fds. */
	syscall(SYS_close_range, 0U, ~0U, 0U);
	for (;;)
		pause();
}

int afl_child__spawn(struct afl_child *c)
{
	pid_t parent = getpid(), pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		stand_in(parent);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		int err = -errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return err;
	}
	c->pid = pid;
	c->pidfd = fd;
	return 0;
}

bool afl_child__died(const struct afl_child *c, int timeout_ms)
{
	struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

	if (c->pidfd < 0)
		return true;
	return poll(&p, 1, timeout_ms) > 0 && p.revents;
}

int afl_child__reap(struct afl_child *c)
{
	int status = 0;

	if (!c->pid)
		return 0;
	if (!afl_child__died(c, 0))
		kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	close(c->pidfd);
	c->pid = 0;
	c->pidfd = -1;
	return status;
}
