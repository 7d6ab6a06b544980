// SPDX-License-Identifier: MIT
/*
 * vm-reap.c: closing dead VMs' KVM fds off the caller's thread
 * (vm-internal.h: vm_reap__close; vm.h: vm__reap_wait).
 *
 * Closing the last fd of a VM with an in-kernel irqchip and PIT takes
 * ~7-16 ms on this project's hosts, nearly all of it waiting in the kernel
 * (RCU/SRCU grace periods), not CPU. vm__destroy hands the fds here, so a
 * clone's end or a pool's teardown does not hold the controlling thread.
 * Several reaper threads close in parallel: the waits overlap (8 VMs close
 * in ~36 ms on 8 threads, ~130 ms on one).
 *
 * Invariants:
 * - An fd handed over is closed exactly once, by a reaper thread, or at
 *   once by the caller when no reaper can be had (no memory, no thread).
 * - reap.pending counts the batches queued or being closed; vm__reap_wait
 *   returns once it is 0 - every fd handed over before the call is closed.
 * - The process does not exit with VMs half closed: an atexit handler waits
 *   (in the process that started the reapers, not in a forked child, which
 *   has none). A VM's KVM threads (the NX huge page recovery vhost task)
 *   live until its last fd closes, and LeakSanitizer's exit-time check
 *   hangs trying to ptrace-stop them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <unistd.h>

#include "vm-internal.h"

#define REAPERS 4

struct reap_batch {
	struct reap_batch *next;
	unsigned n;
	int fds[];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct reap_batch *head, **tail;
	unsigned pending; /* batches queued or being closed */
	unsigned threads;
	pid_t owner; /* the process the threads run in; 0 before the first (atomic) */
} reap = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.tail = &reap.head,
};

static void close_all(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

static void *reaper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reap.lock);
	for (;;) {
		struct reap_batch *b = reap.head;

		if (!b) {
			pthread_cond_wait(&reap.work, &reap.lock);
			continue;
		}
		reap.head = b->next;
		if (!reap.head)
			reap.tail = &reap.head;
		pthread_mutex_unlock(&reap.lock);
		close_all(b->fds, b->n);
		free(b);
		pthread_mutex_lock(&reap.lock);
		if (!--reap.pending)
			pthread_cond_broadcast(&reap.idle);
	}
	return NULL;
}

static void reap_at_exit(void)
{
	/* Atomic: a forked child that exits must not take a lock copied held. */
	if (getpid() == __atomic_load_n(&reap.owner, __ATOMIC_ACQUIRE))
		vm__reap_wait();
}

/* Under reap.lock: start reaper threads up to REAPERS; false if none runs. */
static bool start_reapers(void)
{
	sigset_t all, old;

	if (reap.threads && getpid() != reap.owner)
		return false; /* a forked child: its parent's threads are not here */
	if (reap.threads == REAPERS)
		return true;
	if (!reap.owner) {
		__atomic_store_n(&reap.owner, getpid(), __ATOMIC_RELEASE);
		if (atexit(reap_at_exit))
			return false;
	}

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the threads inherit it: no signal lands there */
	while (reap.threads < REAPERS) {
		pthread_t t;

		if (pthread_create(&t, NULL, reaper, NULL))
			break;
		pthread_detach(t);
		reap.threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return reap.threads > 0;
}

void vm_reap__close(const int *fds, unsigned n)
{
	struct reap_batch *b;

	if (!n)
		return;
	b = malloc(sizeof(*b) + n * sizeof(b->fds[0]));
	if (!b) {
		close_all(fds, n);
		return;
	}
	b->next = NULL;
	b->n = n;
	memcpy(b->fds, fds, n * sizeof(fds[0]));
	pthread_mutex_lock(&reap.lock);
	if (!start_reapers()) {
		pthread_mutex_unlock(&reap.lock);
		close_all(fds, n);
		free(b);
		return;
	}
	*reap.tail = b;
	reap.tail = &b->next;
	reap.pending++;
	pthread_cond_signal(&reap.work);
	pthread_mutex_unlock(&reap.lock);
}

void vm__reap_wait(void)
{
	pthread_mutex_lock(&reap.lock);
	while (reap.pending)
		pthread_cond_wait(&reap.idle, &reap.lock);
	pthread_mutex_unlock(&reap.lock);
}
