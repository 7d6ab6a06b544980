/* SPDX-License-Identifier: MIT */
/*
 * vm-state: everything KVM holds about a VM besides its memory, saved and
 * restored so a clone or a snapshot resumes exactly: per vCPU the general
 * and special registers, FPU/XSAVE, XCRs, the MSRs KVM reports, the LAPIC,
 * pending events, MP state and debug registers; per VM the in-kernel PIC
 * and IOAPIC, the PIT and the KVM clock.
 *
 * Save from a VM that is paused (or not started, or stopped); restore into
 * a VM with the same number of vCPUs that is not running. The MSR list is
 * the one KVM_GET_MSR_INDEX_LIST reports, minus MSRs this host refuses to
 * read; restore fails (-EIO) if KVM refuses to write back a saved one.
 */
#ifndef VMM_VM_STATE_H
#define VMM_VM_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "vm.h"

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave *xsave; /* xsave_size bytes */
	size_t xsave_size;
	struct kvm_xcrs xcrs;
	bool has_xcrs;
	struct kvm_msrs *msrs;
	struct kvm_lapic_state lapic;
	bool has_lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs debugregs;
	bool parked;		 /* the VMM's own: the vCPU parked itself (HC_PARK) */
};

struct vm_state {
	unsigned nr_cpus;
	struct vcpu_state *cpus;
	bool has_irqchip, has_pit;
	struct kvm_irqchip chips[3]; /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

int vm__save_state(struct vm *vm, struct vm_state **ret_state);
int vm__restore_state(struct vm *vm, const struct vm_state *state);
/*
 * vm__restore_state for a reset: @vm was at @state (restored or saved
 * there) and has since only run guest code at CPL 3, ending in one of its
 * own hypercalls: no exception, interrupt or VM-made change but its
 * registers and memory. (The VMM's exception stubs are its only CPL-0
 * code, and they end a run as a crash; a guest that rewrote the VMM's
 * tables below ABI_RESERVED may have made its own: the caller checks the
 * dirty log.) Then only registers, events and XSAVE can differ: they are
 * written, the rest is left (vm-state.c says why each is exact). Falls back
 * to vm__restore_state for a VM with an in-kernel irqchip. Registers are
 * staged (vm__stage_regs) where KVM can: one ioctl a vCPU.
 */
int vm__reset_state(struct vm *vm, const struct vm_state *state);
void vm_state__free(struct vm_state *state); /* NULL: no-op */

#endif
