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
	int notify_fd;		/* > 0: an eventfd the VM signals when it stops
				   (not owned); 0 or -1: none */
	bool no_irqchip;	/* no in-kernel LAPIC, IOAPIC, PIC or PIT: their
				   addresses and ports exit to the VMM like any
				   other (a guest that takes no interrupts, such
				   as a fuzz target: its resets skip that state) */
};

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT,	       /* the guest wrote its exit status */
	VM_STOP_CRASH,	       /* an exception the guest did not handle */
	VM_STOP_TRIPLE_FAULT,  /* KVM_EXIT_SHUTDOWN */
	VM_STOP_UNHANDLED,     /* an exit the VMM cannot handle */
	VM_STOP_ERROR,	       /* a host error (err) */
	VM_STOP_REQUESTED,     /* vm__stop() */
	VM_STOP_REQUEST,       /* the guest asks the controller for something (req) */
	VM_STOP_ALL_PARKED,    /* every vCPU parked itself: none can run again */
	VM_STOP_RESET,	       /* the guest asked for a reset (a Linux guest's reboot) */
};

/* A guest request: hypercall number and its arguments (rdi, rsi, rdx). */
struct vm_request {
	uint64_t nr;
	uint64_t args[3];
};

struct vm_stop {
	enum vm_stop_reason reason;
	int status;		/* VM_STOP_EXIT: the guest's status */
	int err;		/* VM_STOP_ERROR: -errno */
	struct vm_request req;	/* VM_STOP_REQUEST */
	unsigned cpu;		/* the vCPU that stopped the VM */
	bool have_vector;	/* VM_STOP_CRASH by an exception: vector is its number */
	uint8_t vector;
	int signal;		/* VM_STOP_CRASH of a process guest ended by a signal
				   it sent itself (abort()): the signal; else 0 */
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
	int serial_err;		/* 0, or why console output was lost (-errno); flushes first */
};

struct vm;

/*
 * A device on the MMIO bus: @mmio is called on the vCPU thread that made
 * the access, for @len (1-8) bytes at @off inside the device's window;
 * a read fills @data. The device locks its own state.
 */
struct vm_device_ops {
	void (*mmio)(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
	/*
	 * Optional, for clones: copy the device for a clone whose memory is
	 * @child_space. Called by vm__capture while the VM is paused, so the
	 * copy matches the captured vCPU state and memory; the clone owns the
	 * copy and calls release() once its vCPU threads are gone. A device
	 * without it leaves its window empty in clones (an access stops them).
	 */
	int (*clone)(void *dev, struct mm_space *child_space, void **ret_dev);
	void (*release)(void *dev);
};

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

struct vm_pool;

struct vm_clone_config {
	int serial_fd;		/* the clone's console; -1 discards it */
	struct vm_pool *vm_pool; /* NULL, or where to take the clone's KVM VM from */
	const char *tag;	/* NULL, or a prefix for each line of its console */
	unsigned mm_flags;	/* mm_space_clone flags (MM_CLONE_RESETTABLE) */
	bool no_devices;	/* vm__clone only: no device copies, empty windows */
};

#define VM_MAX_CLONES 1024 /* clones one capture makes */

struct vm_capture;
struct vm_state;

/*
 * Capture @parent for @count clones, running or not: pause it (unless
 * paused or stopped), save its vCPU and irqchip state, clone its memory
 * @count times (mm_space_clone with @mm_flags), resume it. @ret_pause_ns
 * (may be NULL) gets how long the parent was held. The children are built
 * afterwards, while the parent runs: vm__capture_spawn builds clone @i - a
 * new KVM VM in the parent's pool with the captured state, not started
 * (vm__start it), signalling the parent's notify_fd. @parent must outlive
 * the capture; vm_capture__free drops the clones not spawned.
 */
int vm__capture(struct vm *parent, unsigned count, unsigned mm_flags,
		struct vm_capture **ret_cap, uint64_t *ret_pause_ns);
int vm__capture_spawn(struct vm_capture *cap, unsigned i, const struct vm_clone_config *cfg,
		      struct vm **ret_child);
const struct vm_state *vm_capture__state(const struct vm_capture *cap);
void vm_capture__free(struct vm_capture *cap); /* NULL: no-op */

/*
 * One clone: vm__capture, vm__capture_spawn, vm_capture__free. Clone @parent, running or not: pause it (unless paused or stopped),
 * capture its vCPU and irqchip state, clone its memory copy-on-write, resume
 * it, then build the child - a new KVM VM sharing the parent's pool, with
 * the captured state, not started (vm__start it). @ret_pause_ns (may be
 * NULL) gets how long the parent was held.
 */
int vm__clone(struct vm *parent, const struct vm_clone_config *cfg, struct vm **ret_child,
	      uint64_t *ret_pause_ns);

/*
 * A pool of KVM VMs made ahead of clones by a background thread (vm-pool.c):
 * a clone that takes one (vm_clone_config.vm_pool) skips KVM VM creation
 * and only points its memory slot at its space. An empty pool (a burst of
 * clones, a failed background creation) makes the clone create its VM on
 * demand, as without a pool. A pooled VM holds its fds (/dev/kvm, the VM,
 * one a vCPU) and the kernel's VM and vCPU structures, no guest memory.
 */
#define VM_POOL_MAX 64
#define VM_POOL_DEFAULT 8 /* `vmm run --vm-pool`'s default */

struct vm_pool_config {
	unsigned size;		/* VMs kept ready, 1..VM_POOL_MAX */
	unsigned nr_cpus;	/* their vCPUs: clones of VMs with another count skip the pool */
	bool lazy;		/* make none until the first take (or wait), not at creation */
	unsigned fail_next;	/* test only: the next fail_next VMs the pool makes fail */
	int fail_err;		/* with this -errno (0: -EIO) */
};

struct vm_pool_stats {
	uint64_t made;		/* VMs made ahead */
	uint64_t taken;		/* clones that took one */
	uint64_t empty;		/* clones that found none ready (made their own) */
	uint64_t failed;	/* background creations that failed */
	int last_err;		/* the last failure's -errno, or 0 */
	unsigned ready;		/* VMs ready now */
};

int vm_pool__create(const struct vm_pool_config *cfg, struct vm_pool **ret_pool);
void vm_pool__destroy(struct vm_pool *pool); /* NULL: no-op */
/*
 * Clones under way from the pool: its thread makes no VM until as many
 * releases (a VM made beside a clone slows the clone's KVM calls, vm-pool.c).
 * NULL: no-op.
 */
void vm_pool__hold(struct vm_pool *pool);
void vm_pool__release(struct vm_pool *pool);
/*
 * Wait until the pool holds cfg.size VMs (a lazy pool starts): 0, -ETIMEDOUT after @timeout_ms,
 * or the error that stopped its refilling (it retries at the next take).
 */
int vm_pool__wait(struct vm_pool *pool, int timeout_ms);
void vm_pool__stats(struct vm_pool *pool, struct vm_pool_stats *ret_stats);
/* A background creation's failure not returned before (-errno), else 0. NULL: 0. */
int vm_pool__take_error(struct vm_pool *pool);
/*
 * vm__destroy closes a VM's KVM fds on reaper threads (closing a VM with an
 * irqchip waits ~7-16 ms in the kernel); this waits until every fd handed
 * over so far is closed.
 */
void vm__reap_wait(void);

/*
 * Put a device on the bus, in the next ABI_DEV_WINDOW window from
 * ABI_DEV_MMIO_BASE, and list it in the guest's device table (abi.h) with
 * @type and @subtype. Before vm__load_elf; at most ABI_DEV_MAX (-ENOSPC).
 * @ret_gpa (may be NULL) gets the window's address. Clones do not inherit
 * devices.
 */
int vm__add_device(struct vm *vm, uint32_t type, uint32_t subtype,
		   const struct vm_device_ops *ops, void *dev, uint64_t *ret_gpa);
/* The device in window @i (a clone's own copy for a clone), or NULL. */
void *vm__device(struct vm *vm, unsigned i);

/*
 * Process guests (vmm/linux): a program that makes system calls. The
 * machine is vm__load_elf's, with the low 2 MiB guarded (x86-setup.h:
 * supervisor-only, not present from 64 KiB) but for the page holding
 * @syscall_entry, which gets @user_code (at most 4 KiB, at the page's
 * start) readable and executable by ring 3. `syscall` is enabled with
 * LSTAR = @syscall_entry; XSAVE/AVX as the CPU allows. vCPU 0 starts at
 * CPL 3 at @rip with @rsp, every other register 0; the VM must have one
 * vCPU. Guest memory above 2 MiB is the caller's (load the program first
 * or after: this writes only below 64 KiB).
 */
struct vm_process_entry {
	uint64_t rip, rsp;
	uint64_t syscall_entry;
	const void *user_code;
	size_t user_code_len;
};
int vm__load_process(struct vm *vm, const struct vm_process_entry *entry);

/*
 * A system call: the guest's stub wrote to ABI_SYSCALL_MMIO. @regs are the
 * vCPU's registers at the `syscall` (rax the number, rcx/r11 the return
 * rip/rflags); the handler sets rax. @set_fs_base asks for FS base to be
 * loaded with @fs_base (arch_prctl).
 */
struct vm_syscall {
	struct kvm_regs regs;
	bool set_fs_base;
	uint64_t fs_base;
};

struct vm_syscall_ops {
	/*
	 * On the vCPU's thread. Return VM_RUNNING to go back to the guest with
	 * @sc's registers, or a stop reason (VM_STOP_EXIT with @stop->status,
	 * VM_STOP_CRASH with @stop->what) to stop the VM.
	 */
	enum vm_stop_reason (*syscall)(void *ctx, unsigned cpu, struct vm_syscall *sc,
				       struct vm_stop *stop);
	/* Optional: what the guest dies of on exception @vector ("SIGSEGV"), for the report. */
	const char *(*crash_name)(void *ctx, unsigned vector);
	/*
	 * Optional, all four or none: clones serve system calls too. @clone
	 * copies the process for a clone whose memory is @space (made with
	 * @mm_flags), while the parent is paused; the copy belongs to the
	 * capture, then to the child VM, which @attach tells it of (before it
	 * runs) and which @release frees it with (after its vCPUs are gone).
	 * @rewind puts a MM_CLONE_RESETTABLE clone's process back to its clone
	 * point (vm__rewind_process). Without them, a clone's first system
	 * call stops it as unhandled.
	 */
	int (*clone)(void *ctx, struct mm_space *space, unsigned mm_flags, void **ret_copy);
	void (*attach)(void *copy, struct vm *vm);
	void (*release)(void *copy);
	int (*rewind)(void *copy);
	/* Optional: OR the pages the VMM wrote for the process into @bitmap (vm__get_dirty_log). */
	void (*host_dirty)(void *ctx, uint64_t *bitmap);
};

/*
 * A resettable clone's process back to its clone point (its descriptors,
 * heap, mappings: what memory and vCPU state do not hold), with the VM
 * paused; 0 when the VM serves no system calls.
 */
int vm__rewind_process(struct vm *vm);

/* Whether the VM serves system calls (a Linux program or a clone of one). */
bool vm__serves_syscalls(const struct vm *vm);

/* Write @buf to the VM's console (the UART's output: stdout, --serial, a clone's tag). */
void vm__console_write(struct vm *vm, const void *buf, size_t len);

/*
 * Serve ABI_SYSCALL_MMIO with @ops (before vm__start). @ctx stays the
 * caller's unless @owned (then @ops->release frees it with the VM); clones
 * get copies through @ops->clone, which they own.
 */
void vm__set_syscall_ops(struct vm *vm, const struct vm_syscall_ops *ops, void *ctx, bool owned);

/*
 * The PC platform a Linux guest expects (vmm/boot describes it in its ACPI
 * tables): the UART on port 0x3f8 raises IRQ 4 through the in-kernel
 * irqchip; ACPI's PM1a event block and control register are ports, and a
 * write of SLP_EN with sleep type VM_PC_S5_TYPE (the DSDT's _S5) powers the
 * VM off - it stops with VM_STOP_EXIT, status 0; the reset register (and
 * the keyboard controller's reset pulse, 0xfe to port 0x64) stop it with
 * VM_STOP_RESET. Needs the irqchip (-ENODEV without); before vm__start.
 */
#define VM_PC_UART_IRQ 4
#define VM_PC_SCI_IRQ 9
#define VM_PC_PM1_EVT_PORT 0x600 /* 4 bytes: PM1a status, PM1a enable */
#define VM_PC_PM1_CNT_PORT 0x604 /* 2 bytes: PM1a control */
#define VM_PC_RESET_PORT 0xcf9
#define VM_PC_RESET_VALUE 0x06
#define VM_PC_S5_TYPE 5
int vm__set_pc_platform(struct vm *vm);

int vm__start(struct vm *vm);
/* Wait for the VM to stop, at most @timeout_ms (< 0: forever): 0 or -ETIMEDOUT. */
int vm__wait(struct vm *vm, int timeout_ms, struct vm_stop *ret_stop);
/* Ask the vCPUs to stop (VM_STOP_REQUESTED unless already stopped). */
void vm__stop(struct vm *vm);
/*
 * Pause every vCPU: returns when each is out of KVM_RUN with its pending I/O
 * done (also for a stopped VM, whose vCPUs wait, paused, until destroy).
 */
int vm__pause(struct vm *vm);
/* vm__pause unless paused or stopped already; true if this call paused it. */
bool vm__pause_if_running(struct vm *vm);
int vm__resume(struct vm *vm);
/*
 * KVM's dirty log over guest memory (the plain-reset baseline of `vmm bench
 * reset`): turn it on or off; fetch and clear it into @bitmap, one bit per
 * 4 KiB page (mem_size / 4096 bits, in u64 words).
 */
int vm__set_dirty_logging(struct vm *vm, bool on);
/* KVM's log, and the pages the VMM wrote for a process (vm_syscall_ops' host_dirty). */
int vm__get_dirty_log(struct vm *vm, uint64_t *bitmap);
/*
 * Manual protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), set before the log
 * is turned on: vm__get_dirty_log then reports every page written since
 * its bit was last cleared and write-protects nothing, so a page stays
 * writable (no fault) until vm__clear_dirty_log write-protects the pages
 * of @bitmap again and clears their bits. -ENOTSUP without it.
 */
/*
 * The guest pages (bit n: page n, all below ABI_RESERVED) where the VMM
 * keeps the page tables it builds (vm__load_elf, vm__load_process).
 */
uint64_t vm__page_table_pages(void);
int vm__set_dirty_log_manual(struct vm *vm);
int vm__clear_dirty_log(struct vm *vm, const uint64_t *bitmap);
/* Signal eventfd @fd (not owned; -1: none) when the VM stops. */
void vm__set_notify_fd(struct vm *vm, int fd);
/*
 * Clear the stop so the VM can run again (after the controller served a
 * request or restored a state); call it while paused, then vm__resume.
 * Stops that arrived while this one was pending are not lost: the oldest
 * becomes the VM's stop at once (vm__wait returns it, notify_fd is
 * signalled) and the VM stays stopped until it is served in turn.
 */
void vm__rearm(struct vm *vm);
/*
 * Set the result (rax) of the hypercall that vCPU @cpu stopped in; paused.
 * A request's result is -EINTR until this is called.
 */
int vm__set_hcall_result(struct vm *vm, unsigned cpu, int64_t value);
/* Whether vCPU @cpu parked itself (HC_PARK); state a clone or snapshot keeps. */
bool vm__vcpu_parked(struct vm *vm, unsigned cpu);
/*
 * vCPU @cpu's state was replaced (paused): it is parked or not as @parked
 * says, and a stop it had queued is dropped (it belongs to the old state).
 */
void vm__set_vcpu_restored(struct vm *vm, unsigned cpu, bool parked);

/*
 * Staged registers (KVM_CAP_SYNC_REGS): vCPU @cpu's general and special
 * registers and pending events written into its kvm_run page, applied by
 * KVM at its next KVM_RUN: no ioctl. Paused or not started. -ENOTSUP if
 * KVM cannot (vm__can_stage_regs false): then use the ioctls.
 * Any code that reads or writes those registers with ioctls calls
 * vm__flush_staged_regs first: it applies what is staged (ioctls) and
 * stops the VMM from trusting the kvm_run copy until the vCPU runs again.
 */
bool vm__can_stage_regs(const struct vm *vm);
int vm__stage_regs(struct vm *vm, unsigned cpu, const struct kvm_regs *regs,
		   const struct kvm_sregs *sregs, const struct kvm_vcpu_events *events);
int vm__flush_staged_regs(struct vm *vm, unsigned cpu);

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
