// SPDX-License-Identifier: MIT
/*
 * vm-state.c: save/restore of KVM's VM and vCPU state (see vm-state.h).
 *
 * Restore order follows what KVM needs: special registers before MSRs (EFER
 * and the APIC base decide which MSRs are valid), MSRs before the LAPIC,
 * vCPU events last (they may carry a pending exception for the restored
 * context).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm-state.h"

#define MAX_MSRS 1024

static int xsave_size(struct vm *vm)
{
	int n = ioctl(vm__kvm_fd(vm), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

/* The MSRs KVM lists that this vCPU can read, with their values. */
static int save_msrs(struct vm *vm, int fd, struct kvm_msrs **ret_msrs)
{
	size_t bytes = sizeof(struct kvm_msrs) + MAX_MSRS * sizeof(struct kvm_msr_entry);
	struct kvm_msr_list *list = calloc(1, sizeof(*list) + MAX_MSRS * sizeof(uint32_t));
	struct kvm_msrs *msrs = calloc(1, bytes), *batch = calloc(1, bytes);
	unsigned n = 0;
	int err = 0;

	if (!list || !msrs || !batch) {
		err = -ENOMEM;
		goto out;
	}
	list->nmsrs = MAX_MSRS;
	if (ioctl(vm__kvm_fd(vm), KVM_GET_MSR_INDEX_LIST, list)) {
		err = -errno;
		goto out;
	}
	/* KVM_GET_MSRS stops at the first MSR it cannot read: skip it and go on. */
	for (unsigned next = 0; next < list->nmsrs;) {
		int got;

		batch->nmsrs = list->nmsrs - next;
		for (unsigned i = 0; i < batch->nmsrs; i++)
			batch->entries[i] = (struct kvm_msr_entry){.index = list->indices[next + i]};
		got = ioctl(fd, KVM_GET_MSRS, batch);
		if (got < 0) {
			err = -errno;
			goto out;
		}
		memcpy(&msrs->entries[n], batch->entries, (size_t)got * sizeof(batch->entries[0]));
		n += (unsigned)got;
		next += (unsigned)got + 1;
	}
	msrs->nmsrs = n;
	*ret_msrs = msrs;
	msrs = NULL;
out:
	free(list);
	free(msrs);
	free(batch);
	return err;
}

static int save_vcpu(struct vm *vm, int fd, struct vcpu_state *s)
{
	int err;

	s->xsave_size = (size_t)xsave_size(vm);
	s->xsave = calloc(1, s->xsave_size);
	if (!s->xsave)
		return -ENOMEM;
	if (ioctl(fd, KVM_GET_REGS, &s->regs) || ioctl(fd, KVM_GET_SREGS, &s->sregs) ||
	    ioctl(fd, s->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		  s->xsave) ||
	    ioctl(fd, KVM_GET_MP_STATE, &s->mp) || ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events) ||
	    ioctl(fd, KVM_GET_DEBUGREGS, &s->debugregs))
		return -errno;
	if (ioctl(vm__kvm_fd(vm), KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		if (ioctl(fd, KVM_GET_XCRS, &s->xcrs))
			return -errno;
		s->has_xcrs = true;
	}
	if (vm__has_irqchip(vm)) {
		if (ioctl(fd, KVM_GET_LAPIC, &s->lapic))
			return -errno;
		s->has_lapic = true;
	}
	err = save_msrs(vm, fd, &s->msrs);
	return err;
}

/*
 * Write the saved MSRs whose value differs from the vCPU's now: a fresh
 * vCPU (a clone's) needs only what the guest changed, and an MSR the host
 * does not implement (AMD's IA32_DEBUGCTL on some kernels: "Unhandled
 * WRMSR" in the host's log) is never written with the 0 it already reads.
 */
static int restore_msrs(int fd, const struct kvm_msrs *saved)
{
	size_t bytes = sizeof(struct kvm_msrs) + saved->nmsrs * sizeof(struct kvm_msr_entry);
	struct kvm_msrs *now = malloc(bytes), *diff = malloc(bytes);
	int n, err = 0;

	if (!now || !diff) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(now, saved, bytes);
	n = ioctl(fd, KVM_GET_MSRS, now);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	diff->nmsrs = 0;
	for (unsigned i = 0; i < saved->nmsrs; i++)
		if (i >= (unsigned)n || now->entries[i].data != saved->entries[i].data)
			diff->entries[diff->nmsrs++] = saved->entries[i];
	n = diff->nmsrs ? ioctl(fd, KVM_SET_MSRS, diff) : 0;
	if (n < 0)
		err = -errno;
	else if ((unsigned)n != diff->nmsrs)
		err = -EIO; /* KVM refused MSR diff->entries[n] */
out:
	free(now);
	free(diff);
	return err;
}

static int restore_vcpu(int fd, const struct vcpu_state *s)
{
	struct kvm_vcpu_events ev = s->events;
	int err;

	if (ioctl(fd, KVM_SET_SREGS, &s->sregs) || ioctl(fd, KVM_SET_REGS, &s->regs) ||
	    ioctl(fd, KVM_SET_XSAVE, s->xsave))
		return -errno;
	if (s->has_xcrs && ioctl(fd, KVM_SET_XCRS, &s->xcrs))
		return -errno;
	err = restore_msrs(fd, s->msrs);
	if (err)
		return err;
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp))
		return -errno;
	if (s->has_lapic && ioctl(fd, KVM_SET_LAPIC, &s->lapic))
		return -errno;
	ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
		    KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
		    KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) || ioctl(fd, KVM_SET_DEBUGREGS, &s->debugregs))
		return -errno;
	return 0;
}

static int save_machine(struct vm *vm, struct vm_state *st)
{
	int fd = vm__fd(vm);

	if (vm__has_irqchip(vm)) {
		for (unsigned i = 0; i < 3; i++) {
			st->chips[i].chip_id = i;
			if (ioctl(fd, KVM_GET_IRQCHIP, &st->chips[i]))
				return -errno;
		}
		st->has_irqchip = true;
		st->has_pit = ioctl(fd, KVM_GET_PIT2, &st->pit) == 0;
	}
	if (ioctl(fd, KVM_GET_CLOCK, &st->clock))
		return -errno;
	return 0;
}

static int restore_machine(struct vm *vm, const struct vm_state *st)
{
	struct kvm_clock_data clock = {.clock = st->clock.clock};
	int fd = vm__fd(vm);

	if (st->has_irqchip != vm__has_irqchip(vm))
		return -EINVAL;
	for (unsigned i = 0; st->has_irqchip && i < 3; i++)
		if (ioctl(fd, KVM_SET_IRQCHIP, &st->chips[i]))
			return -errno;
	if (st->has_pit && ioctl(fd, KVM_SET_PIT2, &st->pit))
		return -errno;
	if (ioctl(fd, KVM_SET_CLOCK, &clock))
		return -errno;
	return 0;
}

int vm__save_state(struct vm *vm, struct vm_state **ret_state)
{
	struct vm_state *st = calloc(1, sizeof(*st));
	int err;

	if (!st)
		return -ENOMEM;
	st->nr_cpus = vm__nr_cpus(vm);
	st->cpus = calloc(st->nr_cpus, sizeof(st->cpus[0]));
	if (!st->cpus) {
		free(st);
		return -ENOMEM;
	}
	err = save_machine(vm, st);
	for (unsigned i = 0; !err && i < st->nr_cpus; i++) {
		err = save_vcpu(vm, vm__vcpu_fd(vm, i), &st->cpus[i]);
		st->cpus[i].parked = vm__vcpu_parked(vm, i);
	}
	if (err) {
		vm_state__free(st);
		return err;
	}
	*ret_state = st;
	return 0;
}

int vm__restore_state(struct vm *vm, const struct vm_state *st)
{
	int err;

	if (st->nr_cpus != vm__nr_cpus(vm))
		return -EINVAL;
	err = restore_machine(vm, st);
	for (unsigned i = 0; !err && i < st->nr_cpus; i++) {
		err = restore_vcpu(vm__vcpu_fd(vm, i), &st->cpus[i]);
		vm__set_vcpu_restored(vm, i, st->cpus[i].parked);
	}
	return err;
}

void vm_state__free(struct vm_state *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->nr_cpus; i++) {
		free(st->cpus[i].xsave);
		free(st->cpus[i].msrs);
	}
	free(st->cpus);
	free(st);
}
