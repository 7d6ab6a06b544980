// SPDX-License-Identifier: MIT
/*
 * vm-pool.c: KVM VMs made ahead of the clones that will use them (vm.h:
 * vm_pool__*).
 *
 * A clone needs a KVM VM: /dev/kvm, KVM_CREATE_VM, the irqchip and PIT,
 * its vCPUs with their CPUID, and a memory slot over its space. Made on
 * demand that is ~1 ms here, and up to ~7 ms more when the slot comes after
 * the irqchip (vm.c create_irqchip). The pool keeps shells
 * (vm__create_shell: everything but the memory, the first-slot stall
 * already taken) made by a background thread; a clone takes one and only
 * adds its memory slot (~0.05 ms). An empty pool is not an error: the
 * clone makes its VM on demand, as without a pool, and the thread refills.
 * A lazy pool (`vmm run`'s) makes nothing until the first clone asks: a
 * run that never clones pays for no VM, and none to close at its end.
 *
 * Making a VM beside a clone slows the clone: the shell's first slot change
 * waits for an expedited SRCU grace period (~6-15 ms here), and KVM calls
 * of the clone made meanwhile (a memory slot, the PIT of a VM made on
 * demand) wait up to ~5 ms too (measured with two threads; 80 ms seen under
 * strace). So the thread makes nothing while a clone holds the pool
 * (vm_pool__hold): it refills between clones, not during them.
 *
 * Invariants:
 * - Under pool->lock: ready[0..nr_ready) are shells of cfg.nr_cpus vCPUs,
 *   owned by the pool until taken; nr_ready <= cfg.size.
 * - A failed background creation stops refilling (stalled) until the next
 *   take, so a host that refuses VMs is not asked in a loop; the error is
 *   kept for vm_pool__take_error (reported once by the caller) and counted.
 * - The refill thread is joined, and every shell destroyed, by
 *   vm_pool__destroy; a shell made while it quits is destroyed, not kept.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "vm-internal.h"

struct vm_pool {
	struct vm_pool_config cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the thread's work, and vm_pool__wait's progress */
	/* Under lock: */
	bool quit, stalled;
	bool started;	     /* making VMs: from creation, or (cfg.lazy) the first take or wait */
	unsigned holds;	     /* vm_pool__hold calls not released: make nothing meanwhile */
	int unreported;	     /* a failure vm_pool__take_error has not returned */
	struct vm_pool_stats stats;
	unsigned nr_ready;
	struct vm *ready[VM_POOL_MAX];
};

/* One shell, or the injected failure (test only). */
static int make_shell(struct vm_pool *p, struct vm **ret_vm)
{
	int err = 0;

	pthread_mutex_lock(&p->lock);
	if (p->cfg.fail_next) {
		p->cfg.fail_next--;
		err = p->cfg.fail_err ? p->cfg.fail_err : -EIO;
	}
	pthread_mutex_unlock(&p->lock);
	return err ? err : vm__create_shell(p->cfg.nr_cpus, ret_vm);
}

static void *refill(void *arg)
{
	struct vm_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		struct vm *vm = NULL;
		int err;

		if (!p->started || p->holds || p->nr_ready >= p->cfg.size || p->stalled) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		err = make_shell(p, &vm);
		pthread_mutex_lock(&p->lock);
		if (err) {
			p->stats.failed++;
			p->stats.last_err = err;
			p->unreported = err;
			p->stalled = true;
		} else if (p->quit) {
			pthread_mutex_unlock(&p->lock);
			vm__destroy(vm);
			pthread_mutex_lock(&p->lock);
		} else {
			p->ready[p->nr_ready++] = vm;
			p->stats.made++;
		}
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int vm_pool__create(const struct vm_pool_config *cfg, struct vm_pool **ret_pool)
{
	struct vm_pool *p;
	sigset_t all, old;
	int err;

	if (!cfg->size || cfg->size > VM_POOL_MAX || !cfg->nr_cpus || cfg->nr_cpus > VM_MAX_CPUS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->started = !cfg->lazy;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread inherits it */
	err = pthread_create(&p->thread, NULL, refill, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -err;
	}
	*ret_pool = p;
	return 0;
}

void vm_pool__destroy(struct vm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	for (unsigned i = 0; i < p->nr_ready; i++)
		vm__destroy(p->ready[i]); /* the reaper closes them */
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct vm *vm_pool__take(struct vm_pool *p, unsigned nr_cpus)
{
	struct vm *vm = NULL;

	if (!p)
		return NULL;
	pthread_mutex_lock(&p->lock);
	if (nr_cpus == p->cfg.nr_cpus && p->nr_ready) {
		vm = p->ready[--p->nr_ready];
		p->stats.taken++;
	} else {
		p->stats.empty++;
	}
	p->stalled = false; /* a clone wants VMs: try again */
	p->started = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return vm;
}

void vm_pool__hold(struct vm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->holds++;
	pthread_mutex_unlock(&p->lock);
}

void vm_pool__release(struct vm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->holds && !--p->holds)
		pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int vm_pool__wait(struct vm_pool *p, int timeout_ms)
{
	uint64_t deadline = clock_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int err = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->started) {
		p->started = true;
		pthread_cond_broadcast(&p->cond);
	}
	while (p->nr_ready < p->cfg.size && !p->stalled) {
		uint64_t now = clock_now_ns();
		struct timespec ts;

		if (now >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L; /* re-check the deadline every 10 ms */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	if (!err && p->stalled)
		err = p->stats.last_err;
	pthread_mutex_unlock(&p->lock);
	return err;
}

void vm_pool__stats(struct vm_pool *p, struct vm_pool_stats *ret_stats)
{
	pthread_mutex_lock(&p->lock);
	*ret_stats = p->stats;
	ret_stats->ready = p->nr_ready;
	pthread_mutex_unlock(&p->lock);
}

int vm_pool__take_error(struct vm_pool *p)
{
	int err;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	err = p->unreported;
	p->unreported = 0;
	pthread_mutex_unlock(&p->lock);
	return err;
}
