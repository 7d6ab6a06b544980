/* SPDX-License-Identifier: MIT */
/*
 * vm: one KVM virtual machine - its KVM fds, its guest memory (an mm
 * address space in memory slot 0), its vCPUs (one host thread each), its
 * platform devices (UART, exit device, hypercall port, crash port) and its
 * lifecycle: create, load, start, pause/resume, stop, destroy.
 *
 * Threads: vm__start() starts the vCPU threads; vm__wait() returns when one
 * of them stops the VM (the guest exited or crashed, an exit could not be
 * handled) or after a timeout; vm__pause() returns once every vCPU is out
 * of KVM_RUN with its pending I/O completed, so its state can be saved.
 * vm__destroy() stops and joins the threads first. These functions are
 * called from one controlling thread.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mm.h"

#define VM_MAX_CPUS 64

struct vm_config {
	uint64_t mem_size;	/* multiple of 2 MiB, at most ABI_MEM_MAX */
	unsigned nr_cpus;	/* 1..VM_MAX_CPUS */
	int serial_fd;		/* console output; -1 discards it */
	struct mm_pool *pool;	/* NULL: the VM creates (and owns) its own */
	struct mm_space *space;	/* guest memory to adopt: the VM owns it from the
				   call on, also when vm__create fails; NULL: a
				   new zero-filled space of mem_size */
};

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT,	       /* the guest wrote its exit status */
	VM_STOP_CRASH,	       /* an exception the guest did not handle */
	VM_STOP_TRIPLE_FAULT,  /* KVM_EXIT_SHUTDOWN */
	VM_STOP_UNHANDLED,     /* an exit the VMM cannot handle */
	VM_STOP_ERROR,	       /* a host error (err) */
	VM_STOP_REQUESTED,     /* vm__stop() */
};

struct vm_stop {
	enum vm_stop_reason reason;
	int status;		/* VM_STOP_EXIT: the guest's status */
	int err;		/* VM_STOP_ERROR: -errno */
	unsigned cpu;		/* the vCPU that stopped the VM */
	char what[200];		/* one line, for the user */
	bool have_regs;		/* regs/sregs hold the vCPU at the stop */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

enum vm_exit_kind {
	VM_EXITS_MMIO, VM_EXITS_PIO, VM_EXITS_HCALL, VM_EXITS_INTR, VM_EXITS_OTHER,
	VM_NR_EXIT_KINDS,
};

struct vm_stats {
	uint64_t run_ns;		   /* from vm__start to the stop (or now) */
	uint64_t exits[VM_NR_EXIT_KINDS];  /* summed over vCPUs */
	uint64_t serial_bytes;
};

struct vm;

int vm__create(const struct vm_config *cfg, struct vm **ret_vm);
/* Stops, joins and frees everything; the space and an owned pool too. NULL: no-op. */
void vm__destroy(struct vm *vm);

/*
 * Set up the machine (page tables, GDT, TSS, IDT), load the ELF @image and
 * point every vCPU at its entry per the boot ABI with @cmdline as the guest's
 * arguments. On -ENOEXEC/-ERANGE/-E2BIG, @ret_msg (may be NULL) says why.
 */
int vm__load_elf(struct vm *vm, const void *image, size_t size, const char *cmdline,
		 char *ret_msg, size_t msg_len);

int vm__start(struct vm *vm);
/* Wait for the VM to stop, at most @timeout_ms (< 0: forever): 0 or -ETIMEDOUT. */
int vm__wait(struct vm *vm, int timeout_ms, struct vm_stop *ret_stop);
/* Ask the vCPUs to stop (VM_STOP_REQUESTED unless already stopped). */
void vm__stop(struct vm *vm);
int vm__pause(struct vm *vm);
int vm__resume(struct vm *vm);

struct mm_space *vm__space(struct vm *vm);
struct mm_pool *vm__pool(struct vm *vm);
unsigned vm__nr_cpus(const struct vm *vm);
int vm__vcpu_fd(const struct vm *vm, unsigned cpu);
int vm__fd(const struct vm *vm);
int vm__kvm_fd(const struct vm *vm);
bool vm__has_irqchip(const struct vm *vm);
void vm__stats(struct vm *vm, struct vm_stats *ret_stats);

/* Describe @stop for the user: the what-line, then registers if known. */
void vm__print_stop(FILE *out, const struct vm_stop *stop);

#endif
