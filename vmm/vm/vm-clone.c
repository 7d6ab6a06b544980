// SPDX-License-Identifier: MIT
/*
 * vm-clone.c: live clones of a VM (vm.h: vm__capture, vm__capture_spawn,
 * vm__clone). The parent is paused only while its vCPU and irqchip state
 * is saved (vm-state.c), its memory is cloned copy-on-write (mm) and its
 * devices are copied; the children are built afterwards, while it runs.
 *
 * It sits above vm.c and vm-state.c: vm.c knows nothing of saved state.
 *
 * Invariants:
 * - A capture holds a reference on the parent's pool (pool_ref) until it is
 *   freed, so the cloned spaces outlive a parent destroyed meanwhile.
 * - A space, the device copies and the process copy (a Linux program's:
 *   vm_syscall_ops' clone) of clone i belong to the capture until
 *   vm__capture_spawn hands them to the child (also when that fails).
 */
#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "vm-internal.h"
#include "vm-state.h"

struct vm_capture {
	struct vm *parent;
	struct pool_ref *pool_ref;	/* held: the spaces live in its pool */
	struct vm_state *state;
	unsigned count;
	void *(*devs)[ABI_DEV_MAX];	/* [count]: device copies, NULL once spawned */
	void **procs;			/* [count]: process copies, NULL once spawned */
	struct mm_space *spaces[];	/* NULL once spawned */
};

/* Copy every device that can be for clone @i (the parent paused). */
static int capture_devices(struct vm_capture *cap, unsigned i)
{
	struct vm *p = cap->parent;

	for (unsigned d = 0; d < p->nr_devices; d++) {
		const struct vm_device_ops *ops = p->devices[d].ops;
		int err;

		if (!ops || !ops->clone)
			continue;
		err = ops->clone(p->devices[d].dev, cap->spaces[i], &cap->devs[i][d]);
		if (err)
			return err;
	}
	return 0;
}

static void release_devices(struct vm_capture *cap, unsigned i)
{
	for (unsigned d = 0; d < cap->parent->nr_devices; d++) {
		if (cap->devs[i][d])
			cap->parent->devices[d].ops->release(cap->devs[i][d]);
		cap->devs[i][d] = NULL;
	}
}

void vm_capture__free(struct vm_capture *cap)
{
	if (!cap)
		return;
	for (unsigned i = 0; i < cap->count; i++) {
		if (cap->devs)
			release_devices(cap, i); /* their pins first */
		if (cap->procs && cap->procs[i])
			cap->parent->syscall_ops->release(cap->procs[i]);
		mm_space_destroy(cap->spaces[i]);
	}
	free(cap->devs);
	free(cap->procs);
	vm_state__free(cap->state);
	pool_ref__put(cap->pool_ref);
	free(cap);
}

static int capture(struct vm *parent, unsigned count, unsigned mm_flags, bool devices,
		   struct vm_capture **ret_cap, uint64_t *ret_pause_ns)
{
	struct vm_capture *cap;
	uint64_t t0 = clock_now_ns();
	bool resume;
	int err;

	if (!count || count > VM_MAX_CLONES)
		return -EINVAL;
	cap = calloc(1, sizeof(*cap) + count * sizeof(cap->spaces[0]));
	if (!cap)
		return -ENOMEM;
	cap->devs = calloc(count, sizeof(*cap->devs));
	cap->procs = calloc(count, sizeof(*cap->procs));
	if (!cap->devs || !cap->procs) {
		free(cap->devs);
		free(cap->procs);
		free(cap);
		return -ENOMEM;
	}
	cap->parent = parent;
	cap->count = count;
	cap->pool_ref = parent->pool_ref;
	if (cap->pool_ref)
		__atomic_add_fetch(&cap->pool_ref->refs, 1, __ATOMIC_RELAXED);
	resume = vm__pause_if_running(parent);
	err = vm__save_state(parent, &cap->state);
	for (unsigned i = 0; !err && i < count; i++) {
		err = mm_space_clone(parent->space, mm_flags, &cap->spaces[i]);
		if (!err && devices)
			err = capture_devices(cap, i);
		if (!err && parent->syscall_ops && parent->syscall_ops->clone)
			err = parent->syscall_ops->clone(parent->syscall_ctx, cap->spaces[i],
							 mm_flags, &cap->procs[i]);
	}
	if (resume)
		vm__resume(parent);
	if (err) {
		vm_capture__free(cap);
		return err;
	}
	if (ret_pause_ns)
		*ret_pause_ns = clock_now_ns() - t0;
	*ret_cap = cap;
	return 0;
}

int vm__capture(struct vm *parent, unsigned count, unsigned mm_flags,
		struct vm_capture **ret_cap, uint64_t *ret_pause_ns)
{
	return capture(parent, count, mm_flags, true, ret_cap, ret_pause_ns);
}

int vm__capture_spawn(struct vm_capture *cap, unsigned i, const struct vm_clone_config *cfg,
		      struct vm **ret_child)
{
	struct vm_config ccfg = {.nr_cpus = cap->parent->nr_cpus, .serial_fd = cfg->serial_fd,
				 .notify_fd = cap->parent->notify_fd,
				 .no_irqchip = !cap->parent->irqchip};
	struct vm *child, *shell;
	int err;

	if (i >= cap->count || !cap->spaces[i])
		return -EINVAL;
	ccfg.space = cap->spaces[i];
	cap->spaces[i] = NULL; /* the child owns it from here, also on failure */
	ccfg.pool = cap->parent->pool;
	/* Pooled VMs have the irqchip: a parent without one gets a child without. */
	shell = cap->parent->irqchip ? vm_pool__take(cfg->vm_pool, ccfg.nr_cpus) : NULL;
	err = vm__create_shared(&ccfg, cap->pool_ref, shell, &child);
	if (err)
		return err;
	err = vm__restore_state(child, cap->state);
	if (err) {
		vm__destroy(child);
		return err;
	}
	/* The same windows as the parent's (the device table in memory says so). */
	child->nr_devices = cap->parent->nr_devices;
	for (unsigned d = 0; d < child->nr_devices; d++) {
		child->devices[d].desc = cap->parent->devices[d].desc;
		if (cap->devs[i][d]) {
			child->devices[d].ops = cap->parent->devices[d].ops;
			child->devices[d].dev = cap->devs[i][d];
			child->devices[d].owned = true;
			cap->devs[i][d] = NULL;
		}
	}
	if (cap->procs[i]) {
		child->syscall_ops = cap->parent->syscall_ops;
		child->syscall_ctx = cap->procs[i];
		child->syscall_owned = true;
		cap->procs[i] = NULL;
		child->syscall_ops->attach(child->syscall_ctx, child);
	}
	if (cfg->tag)
		uart__set_tag(&child->uart, cfg->tag);
	*ret_child = child;
	return 0;
}

const struct vm_state *vm_capture__state(const struct vm_capture *cap)
{
	return cap->state;
}

int vm__clone(struct vm *parent, const struct vm_clone_config *cfg, struct vm **ret_child,
	      uint64_t *ret_pause_ns)
{
	struct vm_capture *cap;
	int err;

	err = capture(parent, 1, cfg->mm_flags, !cfg->no_devices, &cap, ret_pause_ns);
	if (err)
		return err;
	err = vm__capture_spawn(cap, 0, cfg, ret_child);
	vm_capture__free(cap);
	return err;
}
