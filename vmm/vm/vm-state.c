// SPDX-License-Identifier: MIT
/*
 * vm-state.c: save/restore of KVM's VM and vCPU state (see vm-state.h).
 *
 * Restore order follows what KVM needs: special registers before MSRs (EFER
 * and the APIC base decide which MSRs are valid), MSRs before the LAPIC,
 * vCPU events last (they may carry a pending exception for the restored
 * context).
 *
 * Invariants:
 * - Registers staged in kvm_run (vm__stage_regs) are applied before any
 *   ioctl reads or writes the vCPU's state here (vm__flush_staged_regs), so
 *   a save after a reset sees the reset's state, and a full restore is not
 *   undone by an older staged copy at the next KVM_RUN.
 * - vm__reset_state writes only what a run can have changed under its
 *   precondition (vm-state.h); each state it leaves alone says why below.
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

static int save_vcpu(struct vm *vm, unsigned cpu, struct vcpu_state *s)
{
	int fd = vm__vcpu_fd(vm, cpu);
	int err = vm__flush_staged_regs(vm, cpu);

	if (err)
		return err;
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

/* The event flags KVM_SET_VCPU_EVENTS may be given back (not the ones it only reports). */
static struct kvm_vcpu_events events_to_set(const struct kvm_vcpu_events *saved)
{
	struct kvm_vcpu_events ev = *saved;

	ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
		    KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
		    KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	return ev;
}

static int set_xsave(int fd, const struct vcpu_state *s)
{
	return ioctl(fd, KVM_SET_XSAVE, s->xsave) ? -errno : 0;
}

static int restore_vcpu(struct vm *vm, unsigned cpu, const struct vcpu_state *s)
{
	struct kvm_vcpu_events ev = events_to_set(&s->events);
	int fd = vm__vcpu_fd(vm, cpu);
	int err = vm__flush_staged_regs(vm, cpu);

	if (err)
		return err;
	if (ioctl(fd, KVM_SET_SREGS, &s->sregs) || ioctl(fd, KVM_SET_REGS, &s->regs))
		return -errno;
	err = set_xsave(fd, s);
	if (err)
		return err;
	if (s->has_xcrs && ioctl(fd, KVM_SET_XCRS, &s->xcrs))
		return -errno;
	err = restore_msrs(fd, s->msrs);
	if (err)
		return err;
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp))
		return -errno;
	if (s->has_lapic && ioctl(fd, KVM_SET_LAPIC, &s->lapic))
		return -errno;
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
		err = save_vcpu(vm, i, &st->cpus[i]);
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
		err = restore_vcpu(vm, i, &st->cpus[i]);
		vm__set_vcpu_restored(vm, i, st->cpus[i].parked);
	}
	return err;
}

/*
 * One vCPU back at @s after a run under vm__reset_state's precondition.
 * Written:
 * - general and special registers and pending events: staged in kvm_run
 *   (KVM_CAP_SYNC_REGS), applied by KVM at the next KVM_RUN, no ioctl; by
 *   ioctl where KVM cannot stage them;
 * - FPU/SSE/AVX (XSAVE): ring-3 code changes it freely; one ioctl.
 * Left alone, each exact for a run that never executed guest code at CPL 0
 * (the precondition) in a VM without an in-kernel irqchip:
 * - XCR0: only XSETBV writes it, and XSETBV faults outside CPL 0;
 * - MSRs: only WRMSR writes them (CPL 0), and the VMM itself writes only
 *   FS base for process guests, which the staged sregs restore (fs.base).
 *   The TSC is time, not state: it runs on, as on hardware (and KVM treats
 *   a host write within a second of the TSC it expects as a
 *   synchronisation, not a rewind, so the full restore did not rewind it
 *   either);
 * - MP state: only HLT (CPL 0) and INIT/SIPI (a LAPIC, which this VM has
 *   not) change it;
 * - LAPIC: none in this VM;
 * - debug registers: MOV DR is CPL 0; a #DB, which sets DR6, goes through
 *   the VMM's exception stub and ends the run as a crash (full restore);
 * - the KVM clock: the guest can see it only through kvmclock, which it
 *   must enable with WRMSR (CPL 0); the guest's clock is the host's
 *   (HC_TIME_NS) or the TSC.
 */
static int reset_vcpu(struct vm *vm, unsigned cpu, const struct vcpu_state *s)
{
	struct kvm_vcpu_events ev = events_to_set(&s->events);
	int fd = vm__vcpu_fd(vm, cpu);
	int err;

	if (vm__can_stage_regs(vm)) {
		err = vm__stage_regs(vm, cpu, &s->regs, &s->sregs, &ev);
	} else {
		err = 0;
		if (ioctl(fd, KVM_SET_SREGS, &s->sregs) || ioctl(fd, KVM_SET_REGS, &s->regs) ||
		    ioctl(fd, KVM_SET_VCPU_EVENTS, &ev))
			err = -errno;
	}
	return err ? err : set_xsave(fd, s);
}

int vm__reset_state(struct vm *vm, const struct vm_state *st)
{
	int err = 0;

	/* With an irqchip, the guest reaches LAPIC, IOAPIC, PIC and PIT from ring 3. */
	if (st->has_irqchip || vm__has_irqchip(vm))
		return vm__restore_state(vm, st);
	if (st->nr_cpus != vm__nr_cpus(vm))
		return -EINVAL;
	for (unsigned i = 0; !err && i < st->nr_cpus; i++) {
		err = reset_vcpu(vm, i, &st->cpus[i]);
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
