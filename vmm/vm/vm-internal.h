/* SPDX-License-Identifier: MIT */
/*
 * vm-internal: the VM's own structures, shared by the files of vmm/vm that
 * build it (vm.c) and clone it (vm-clone.c). Nothing outside vmm/vm
 * includes it: callers use vm.h.
 */
#ifndef VMM_VM_INTERNAL_H
#define VMM_VM_INTERNAL_H

#include <pthread.h>

#include "abi.h"
#include "uart.h"
#include "vm.h"

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool paused, parked; /* under vm->lock */
	struct vm_stop *queued; /* allocated with the vCPU: a stop waiting for its turn */
	uint64_t queued_seq;	/* under vm->lock: 0 none, else its place in the queue */
	uint64_t exits[VM_NR_EXIT_KINDS];
	uint8_t syscall_cpl;	/* vCPU thread: 0 unknown, else 1 + the CPL a `syscall` runs at */
	/*
	 * run->s.regs (regs, sregs, events) is the vCPU's state, or becomes it
	 * at its next KVM_RUN for what run->kvm_dirty_regs flags: set when
	 * KVM_RUN returns (KVM stores them on every return) and when all three
	 * are staged; cleared when the VMM goes to the ioctls
	 * (vm__flush_staged_regs). Written by the vCPU thread between runs and
	 * by the controller while the vCPU is paused.
	 */
	bool regs_current;
};

struct device {
	struct abi_dev desc;
	const struct vm_device_ops *ops; /* NULL: an empty window (a clone's) */
	void *dev;
	bool owned;			 /* a clone's copy: released by vm__destroy */
};

/* A pool the VMM created, shared by a VM and its clones; the last one frees it. */
struct pool_ref {
	struct mm_pool *pool;
	unsigned refs; /* atomic */
};

struct vm {
	int kvm_fd, vm_fd;
	size_t run_size;
	bool irqchip;
	bool sync_regs;		/* KVM_CAP_SYNC_REGS has regs, sregs and events */
	struct mm_pool *pool;
	struct pool_ref *pool_ref; /* NULL: the caller's pool */
	struct mm_space *space;
	uint8_t *mem;
	uint64_t mem_size;
	unsigned nr_cpus;
	int notify_fd;
	struct uart uart;
	unsigned nr_devices;
	struct device devices[ABI_DEV_MAX];
	bool pc_platform;		/* vm__set_pc_platform: a Linux guest's ports */
	uint16_t pm1_enable;		/* ACPI PM1a enable: holds what the guest writes */
	const struct vm_syscall_ops *syscall_ops; /* NULL: no process guest */
	void *syscall_ctx;
	bool syscall_owned;	/* a clone's process copy: released with the VM */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: */
	struct vm_stop stop;
	struct vm_stop queued;	/* a VM-wide stop waiting for its turn (reason 0: none) */
	uint64_t stop_seq;	/* orders the vCPUs' queued stops */
	bool pause_req, quit;
	unsigned nr_paused, nr_exited;
	uint64_t start_ns, stop_ns;
	struct vcpu vcpus[VM_MAX_CPUS];
};

/* Drop a reference on @ref; the last one destroys the pool. NULL: no-op. */
void pool_ref__put(struct pool_ref *ref);
/*
 * vm__create, in the pool of @shared (a reference is taken) if not NULL,
 * on @shell if not NULL (vm__create_shell: owned from the call on; one of
 * another vCPU count, or for a VM without irqchip, is destroyed and a VM
 * made as without one).
 */
int vm__create_shared(const struct vm_config *cfg, struct pool_ref *shared, struct vm *shell,
		      struct vm **ret_vm);
/*
 * A VM without memory, for the pool (vm-pool.c): its KVM VM, irqchip and
 * PIT, @nr_cpus vCPUs with their CPUID, the first memory slot change after
 * the irqchip already made (its stall taken); vm__create_shared adds the
 * rest. vm__destroy frees it.
 */
int vm__create_shell(unsigned nr_cpus, struct vm **ret_vm);
/* A shell of @nr_cpus vCPUs from @pool (NULL: none), or NULL when it has none ready. */
struct vm *vm_pool__take(struct vm_pool *pool, unsigned nr_cpus);
/* Close @n fds of a dead VM on a reaper thread (vm-reap.c); the caller gives them up. */
void vm_reap__close(const int *fds, unsigned n);

#endif
