// SPDX-License-Identifier: MIT
/*
 * vm.c: VM and vCPU lifecycle, the vCPU run loop, pause/resume, stop.
 *
 * vmm/vm owns one KVM VM: this file, its state save/restore (vm-state.c),
 * live clones (vm-clone.c), the pool of VMs made ahead for clones
 * (vm-pool.c), the reaper that closes dead VMs' fds (vm-reap.c), long-mode
 * setup (x86-setup.c), the ELF loader (elf-load.c) and the ring probe
 * (ring-probe.c). It may call mm, devices
 * (the UART) and the guest ABI (guest-images/abi.h), nothing else in vmm.
 * Public: vm.h, vm-state.h, clock.h, ring-probe.h.
 *
 * Invariants:
 * - vm->stop.reason changes from VM_RUNNING under vm->lock; whoever
 *   changes it kicks every vCPU, and every vCPU thread then pauses.
 * - Every stop is served exactly once: a stop that arrives while another is
 *   pending is queued (a vCPU's on that vCPU, which stays paused; a VM-wide
 *   one, such as vm__stop, on the VM) and vm__rearm makes the oldest queued
 *   stop the VM's stop instead of letting it run. Replacing a vCPU's state
 *   (vm__set_vcpu_restored) drops the stop it had queued: it belongs to a
 *   run that is gone.
 * - A request's hypercall returns -EINTR unless the controller sets its
 *   result: a request nobody served never reads as success.
 * - A kick sets the vCPU's run->immediate_exit before signalling its thread,
 *   and the thread clears immediate_exit before it re-reads the requests:
 *   a kick that lands between the check and KVM_RUN is never lost.
 * - A vCPU counted in nr_paused or nr_exited is out of KVM_RUN with its
 *   last MMIO/PIO completed (KVM_RUN with immediate_exit), so its state can
 *   be read and written.
 * - Guest memory is only touched through bounds-checked helpers (gpa_ptr).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "clock.h"
#include "elf-load.h"
#include "vm-internal.h"
#include "x86-setup.h"

#define SIG_KICK SIGUSR1
#define MIB2 (2ULL << 20)
#define SYNC_ALL (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

/* Host pointer for guest-physical [gpa, gpa+len), or NULL if outside RAM. */
static void *gpa_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa > vm->mem_size || len > vm->mem_size - gpa)
		return NULL;
	return vm->mem + gpa;
}

/* Counted by the vCPU's thread, read by vm__stats from another. */
static void count_exit(struct vcpu *c, enum vm_exit_kind kind)
{
	__atomic_fetch_add(&c->exits[kind], 1, __ATOMIC_RELAXED);
}

static void kick_handler(int sig)
{
	(void)sig;
}

static void install_kick_handler(void)
{
	struct sigaction sa = {.sa_handler = kick_handler}; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_KICK, &sa, NULL);
}

static void kick(struct vcpu *c)
{
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (c->started && !pthread_equal(c->thread, pthread_self()))
		pthread_kill(c->thread, SIG_KICK);
}

static void kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_cpus; i++)
		kick(&vm->vcpus[i]);
}

static void notify_stop(struct vm *vm)
{
	uint64_t one = 1;

	if (vm->notify_fd >= 0 && write(vm->notify_fd, &one, sizeof(one)) < 0)
		(void)0; /* a full eventfd has a wakeup pending anyway */
}

/* Finish the exit KVM last reported (an MMIO read's data, say) without running. */
static void complete_io(struct vcpu *c)
{
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ioctl(c->fd, KVM_RUN, 0); /* returns -EINTR once pending I/O is complete */
	__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	c->regs_current = c->run->kvm_valid_regs == SYNC_ALL; /* stored on the way out */
}

/* Under vm->lock: true if @stop is now the VM's stop, false if it was queued. */
static bool set_stop_locked(struct vm *vm, struct vcpu *c, const struct vm_stop *stop)
{
	if (vm->stop.reason == VM_RUNNING) {
		vm->stop = *stop;
		vm->stop_ns = clock_now_ns();
		pthread_cond_broadcast(&vm->cond);
		return true;
	}
	if (c && !c->queued_seq) {
		*c->queued = *stop;
		c->queued_seq = ++vm->stop_seq;
	} else if (!c && stop->reason != VM_STOP_REQUESTED && vm->queued.reason == VM_RUNNING) {
		/* vm__stop needs no queue: its caller sees the VM stopped already. */
		vm->queued = *stop;
	}
	return false;
}

/*
 * Record why the VM stops and kick every vCPU; if a stop is pending already,
 * queue this one behind it (on vCPU @c, or VM-wide when @c is NULL). A
 * vCPU's queued stop keeps that vCPU paused until it is served; a second
 * VM-wide stop while one is queued adds nothing (the VM will stop).
 */
static void vm_set_stop(struct vm *vm, struct vcpu *c, const struct vm_stop *stop)
{
	bool first;

	/*
	 * A vCPU stopping the VM pauses itself in the same step: whoever waits
	 * for the stop then finds it paused too, and vm__pause neither wakes
	 * nor kicks it (one thread handoff a stop instead of three).
	 */
	if (c)
		complete_io(c);
	pthread_mutex_lock(&vm->lock);
	first = set_stop_locked(vm, c, stop);
	if (c && !c->paused) {
		c->paused = true;
		vm->nr_paused++;
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	if (first) {
		kick_all(vm);
		notify_stop(vm);
	}
}

static void stop_with_regs(struct vcpu *c, enum vm_stop_reason reason, const char *what)
{
	struct vm_stop s = {.reason = reason, .cpu = c->id};

	snprintf(s.what, sizeof(s.what), "%s", what);
	s.have_regs = !ioctl(c->fd, KVM_GET_REGS, &s.regs) && !ioctl(c->fd, KVM_GET_SREGS, &s.sregs);
	vm_set_stop(c->vm, c, &s);
}

/*
 * A triple fault. Some KVMs (AMD SVM: the shutdown intercept) have reset the
 * vCPU by the time userspace sees it: its registers are the reset vector's,
 * not the guest's at the fault, and are not reported as if they were.
 */
static void stop_shutdown(struct vcpu *c)
{
	struct vm_stop s = {.reason = VM_STOP_TRIPLE_FAULT, .cpu = c->id};
	bool reset;

	s.have_regs = !ioctl(c->fd, KVM_GET_REGS, &s.regs) && !ioctl(c->fd, KVM_GET_SREGS, &s.sregs);
	reset = s.have_regs && !(s.sregs.cr0 & 1) && s.sregs.cs.selector == 0xf000;
	snprintf(s.what, sizeof(s.what), "triple fault on vCPU %u: an exception could not be "
		 "delivered (KVM_EXIT_SHUTDOWN)%s", c->id,
		 reset ? "; KVM reset the vCPU, so its registers at the fault are gone" : "");
	s.have_regs &= !reset;
	vm_set_stop(c->vm, c, &s);
}

static void stop_error(struct vcpu *c, int err, const char *what)
{
	struct vm_stop s = {.reason = VM_STOP_ERROR, .err = err, .cpu = c->id};

	snprintf(s.what, sizeof(s.what), "vCPU %u: %s: %s", c->id, what, strerror(-err));
	vm_set_stop(c->vm, c, &s);
}


/*
 * The vCPU's general registers: the kvm_run copy when it is current (no
 * ioctl), else KVM_GET_REGS. The vCPU thread between runs, or the
 * controller while the vCPU is paused.
 */
static int vcpu_get_regs(struct vcpu *c, struct kvm_regs *ret_regs)
{
	if (c->regs_current) {
		*ret_regs = c->run->s.regs.regs;
		return 0;
	}
	return ioctl(c->fd, KVM_GET_REGS, ret_regs) ? -errno : 0;
}

/* Set them: staged for the next KVM_RUN when the copy is current, else KVM_SET_REGS. */
static int vcpu_set_regs(struct vcpu *c, const struct kvm_regs *regs)
{
	if (c->regs_current) {
		c->run->s.regs.regs = *regs;
		c->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	return ioctl(c->fd, KVM_SET_REGS, regs) ? -errno : 0;
}

/* Under vm->lock: no vCPU can run again until the controller changes a state. */
static bool all_parked(const struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_cpus; i++)
		if (!vm->vcpus[i].parked)
			return false;
	return true;
}

/*
 * Honour pause, stop and park requests; true when the thread must end (the
 * VM is being destroyed). A stopped VM keeps its vCPU threads, paused, so
 * the controller can restore a state and let it run again (vm__rearm).
 */
static bool vcpu_wait_requests(struct vcpu *c)
{
	struct vm *vm = c->vm;
	bool quit;

	pthread_mutex_lock(&vm->lock);
	for (;;) {
		/*
		 * A kick that arrived while the thread waited here is answered by
		 * what it requested, read below: clear it so the next KVM_RUN does
		 * not return at once for nothing (an ioctl of ~5 us on PVM). A
		 * request made from here on kicks again, after this store.
		 */
		__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (vm->quit)
			break;
		if (vm->pause_req || vm->stop.reason != VM_RUNNING || c->queued_seq) {
			if (!c->paused) {
				pthread_mutex_unlock(&vm->lock);
				complete_io(c);
				pthread_mutex_lock(&vm->lock);
				c->paused = true;
				vm->nr_paused++;
				pthread_cond_broadcast(&vm->cond);
				continue;
			}
		} else if (c->paused) {
			c->paused = false;
			vm->nr_paused--;
			continue;
		} else if (!c->parked) {
			break;
		} else if (all_parked(vm)) {
			struct vm_stop s = {.reason = VM_STOP_ALL_PARKED, .cpu = c->id};

			snprintf(s.what, sizeof(s.what), "every vCPU parked itself (HC_PARK): the "
				 "guest can never run again");
			if (set_stop_locked(vm, NULL, &s)) {
				pthread_mutex_unlock(&vm->lock);
				kick_all(vm);
				notify_stop(vm);
				pthread_mutex_lock(&vm->lock);
			}
			continue;
		}
		pthread_cond_wait(&vm->cond, &vm->lock);
	}
	if (c->paused) {
		c->paused = false;
		vm->nr_paused--;
	}
	quit = vm->quit;
	pthread_mutex_unlock(&vm->lock);
	return quit;
}

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "reserved",
	"#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
	"#VE virtualization", "#CP control protection",
};

/* The guest took an exception: the stub left its frame on the ring-0 stack. */
static void handle_crash(struct vcpu *c)
{
	struct vm_stop s = {.reason = VM_STOP_CRASH, .cpu = c->id, .have_regs = true};
	uint64_t f[X86_CRASH_FRAME_WORDS];
	const uint64_t *frame;

	if (ioctl(c->fd, KVM_GET_REGS, &s.regs) || ioctl(c->fd, KVM_GET_SREGS, &s.sregs)) {
		stop_error(c, -errno, "reading registers after a guest exception");
		return;
	}
	frame = gpa_ptr(c->vm, s.regs.rsp, sizeof(f));
	if (!frame) {
		snprintf(s.what, sizeof(s.what), "guest crash on vCPU %u: exception frame at "
			 "0x%llx is outside guest memory", c->id, s.regs.rsp);
		vm_set_stop(c->vm, c, &s);
		return;
	}
	memcpy(f, frame, sizeof(f));
	/* The faulting context, as the CPU saved it. */
	s.regs.rax = f[0];
	s.regs.rip = f[3];
	s.regs.rflags = f[5];
	s.regs.rsp = f[6];
	s.sregs.cs.selector = (uint16_t)f[4];
	s.sregs.ss.selector = (uint16_t)f[7];
	const char *name = f[1] < 32 && exception_names[f[1]] ? exception_names[f[1]] : "exception";

	s.have_vector = f[1] < 256;
	s.vector = (uint8_t)f[1];

	const struct vm_syscall_ops *ops = c->vm->syscall_ops;
	const char *sig = ops && ops->crash_name ? ops->crash_name(c->vm->syscall_ctx,
								    (unsigned)f[1]) : NULL;
	char killed[40] = "";

	if (sig) /* a process guest: what it dies of, as Linux would say */
		snprintf(killed, sizeof(killed), "killed by %.20s: ", sig);
	if (f[1] == 14)
		snprintf(s.what, sizeof(s.what), "guest crash on vCPU %u: %s%s (vector 14, error "
			 "0x%llx) at rip 0x%llx, address 0x%llx", c->id, killed, name,
			 (unsigned long long)f[2], s.regs.rip, s.sregs.cr2);
	else
		snprintf(s.what, sizeof(s.what), "guest crash on vCPU %u: %s%s (vector %llu, error "
			 "0x%llx) at rip 0x%llx", c->id, killed, name, (unsigned long long)f[1],
			 (unsigned long long)f[2], s.regs.rip);
	vm_set_stop(c->vm, c, &s);
}

static void handle_exit_device(struct vcpu *c, uint32_t status)
{
	struct vm_stop s = {.reason = VM_STOP_EXIT, .status = (int)status, .cpu = c->id};

	snprintf(s.what, sizeof(s.what), "guest exited with status %u", status);
	vm_set_stop(c->vm, c, &s);
}

void vm__console_write(struct vm *vm, const void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		uart__write(&vm->uart, 0, ((const uint8_t *)buf)[i]);
}

static int64_t hcall_write(struct vcpu *c, uint64_t gpa, uint64_t len)
{
	const uint8_t *p;

	if (len > HC_MAX_WRITE)
		return -EINVAL;
	p = gpa_ptr(c->vm, gpa, len);
	if (!p)
		return -EFAULT;
	vm__console_write(c->vm, p, len);
	return (int64_t)len;
}

/*
 * A request only the controller can serve (a clone, a snapshot, the fuzzing
 * handshake): the VM stops with VM_STOP_REQUEST (queued behind a stop that
 * is pending) and the controller sets the result before it rearms; the
 * hypercall returns -EINTR if nobody does.
 */
static bool hcall_request(struct vcpu *c, struct kvm_regs *regs, uint64_t nr)
{
	struct vm_stop s = {.reason = VM_STOP_REQUEST, .cpu = c->id, .req = {
		.nr = nr, .args = {regs->rdi, regs->rsi, regs->rdx}}};

	int err;

	regs->rax = (uint64_t)-EINTR; /* what the guest sees unless the controller serves it */
	err = vcpu_set_regs(c, regs);
	if (err) {
		stop_error(c, err, "writing the hypercall result");
		return true;
	}
	snprintf(s.what, sizeof(s.what), "guest request %llu on vCPU %u",
		 (unsigned long long)nr, c->id);
	vm_set_stop(c->vm, c, &s);
	return true;
}

/* Returns true when the vCPU must stop. */
static bool handle_hcall(struct vcpu *c, uint64_t nr)
{
	struct kvm_regs regs;
	int64_t ret = -ENOSYS;
	int err;

	count_exit(c, VM_EXITS_HCALL);
	err = vcpu_get_regs(c, &regs);
	if (err) {
		stop_error(c, err, "reading registers for a hypercall");
		return true;
	}
	switch (nr) {
	case HC_NOP:
		ret = 0;
		break;
	case HC_PARK:
		pthread_mutex_lock(&c->vm->lock);
		c->parked = true;
		pthread_mutex_unlock(&c->vm->lock);
		ret = 0;
		break;
	case HC_WRITE:
		ret = hcall_write(c, regs.rdi, regs.rsi);
		break;
	case HC_TIME_NS:
		ret = (int64_t)clock_now_ns();
		break;
	case HC_FUZZ_READY:
	case HC_FUZZ_DONE:
	case HC_CLONE:
	case HC_SNAPSHOT:
		return hcall_request(c, &regs, nr);
	}
	regs.rax = (uint64_t)ret;
	err = vcpu_set_regs(c, &regs);
	if (err) {
		stop_error(c, err, "writing the hypercall result");
		return true;
	}
	return false;
}

/* The RFLAGS bits a return to ring 3 takes from r11, as sysret does (CF..OF, TF, AC, ID). */
#define SYSRET_RFLAGS 0x240dd7ULL
#define MSR_FS_BASE 0xc0000100

static bool syscall_stop(struct vcpu *c, struct vm_stop *s, const struct kvm_regs *regs)
{
	s->cpu = c->id;
	s->regs = *regs;
	s->have_regs = !ioctl(c->fd, KVM_GET_SREGS, &s->sregs);
	vm_set_stop(c->vm, c, s);
	return true;
}

/*
 * A process guest's system call (vm__load_process): its stub stored rax to
 * ABI_SYSCALL_MMIO. Where `syscall` left the CPU at CPL 3 (this project's
 * PVM hosts), the VMM returns to the caller itself: rip = rcx, rflags =
 * r11, as sysret would. At CPL 0 (hardware KVM) the stub's sysretq does.
 * The CPL is read once per vCPU, at its first call.
 */
static bool handle_syscall(struct vcpu *c)
{
	struct vm *vm = c->vm;
	struct vm_syscall sc = {0};
	struct vm_stop s = {0};
	struct kvm_sregs sregs;
	int err;

	count_exit(c, VM_EXITS_HCALL);
	err = vcpu_get_regs(c, &sc.regs);
	if (err) {
		stop_error(c, err, "reading registers for a system call");
		return true;
	}
	if (!vm->syscall_ops) {
		s.reason = VM_STOP_UNHANDLED;
		snprintf(s.what, sizeof(s.what), "unhandled exit on vCPU %u: a system call (%llu) "
			 "in a VM that serves none", c->id,
			 sc.regs.rax);
		return syscall_stop(c, &s, &sc.regs);
	}
	if (!c->syscall_cpl) {
		if (ioctl(c->fd, KVM_GET_SREGS, &sregs)) {
			stop_error(c, -errno, "reading special registers for a system call");
			return true;
		}
		c->syscall_cpl = 1 + (sregs.cs.selector & 3);
	}
	s.reason = vm->syscall_ops->syscall(vm->syscall_ctx, c->id, &sc, &s);
	/* A request (HC_FUZZ_READY...) returns from the call first, as a hypercall does. */
	if (s.reason != VM_RUNNING && s.reason != VM_STOP_REQUEST)
		return syscall_stop(c, &s, &sc.regs);
	if (c->syscall_cpl == 1 + 3) {
		sc.regs.rip = sc.regs.rcx;
		sc.regs.rflags = (sc.regs.r11 & SYSRET_RFLAGS) | X86_RFLAGS_FIXED;
	}
	err = vcpu_set_regs(c, &sc.regs);
	if (err) {
		stop_error(c, err, "writing the system call's result");
		return true;
	}
	if (s.reason == VM_STOP_REQUEST) {
		s.cpu = c->id;
		vm_set_stop(vm, c, &s);
		return true;
	}
	if (sc.set_fs_base) {
		/* struct kvm_msrs with room for one entry (its layout, spelled out). */
		struct {
			__u32 nmsrs, pad;
			struct kvm_msr_entry e[1];
		} m = {.nmsrs = 1, .e = {{.index = MSR_FS_BASE, .data = sc.fs_base}}};

		if (ioctl(c->fd, KVM_SET_MSRS, &m) != 1) {
			stop_error(c, -EIO, "loading FS base (arch_prctl)");
			return true;
		}
		/* KVM's sregs hold it too: keep the kvm_run copy the vCPU's state. */
		c->run->s.regs.sregs.fs.base = sc.fs_base;
	}
	return false;
}

int vm__rewind_process(struct vm *vm)
{
	if (!vm->syscall_owned || !vm->syscall_ops->rewind)
		return 0;
	return vm->syscall_ops->rewind(vm->syscall_ctx);
}

bool vm__serves_syscalls(const struct vm *vm)
{
	return vm->syscall_ops != NULL;
}

void vm__set_syscall_ops(struct vm *vm, const struct vm_syscall_ops *ops, void *ctx, bool owned)
{
	vm->syscall_ops = ops;
	vm->syscall_ctx = ctx;
	vm->syscall_owned = owned;
}

static uint64_t le_value(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;

	memcpy(&v, data, len < 8 ? len : 8);
	return v;
}

static bool handle_mmio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint64_t addr = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	bool wr = run->mmio.is_write;

	count_exit(c, VM_EXITS_MMIO);
	if (addr >= ABI_UART_MMIO && addr < ABI_UART_MMIO + UART_NR_REGS) {
		for (unsigned i = 0; i < len && i < 8; i++) {
			if (wr)
				uart__write(&c->vm->uart, (unsigned)(addr - ABI_UART_MMIO) + i,
					    run->mmio.data[i]);
			else
				run->mmio.data[i] =
					uart__read(&c->vm->uart, (unsigned)(addr - ABI_UART_MMIO) + i);
		}
		return false;
	}
	if (addr == ABI_SYSCALL_MMIO && wr)
		return handle_syscall(c);
	if (addr == ABI_EXIT_MMIO || addr == ABI_HCALL_MMIO || addr == ABI_CRASH_MMIO) {
		if (!wr) {
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
			return false;
		}
		if (addr == ABI_EXIT_MMIO)
			handle_exit_device(c, (uint32_t)le_value(run->mmio.data, len));
		else if (addr == ABI_CRASH_MMIO)
			handle_crash(c);
		else
			return handle_hcall(c, le_value(run->mmio.data, len));
		return true;
	}
	if (addr >= ABI_DEV_MMIO_BASE &&
	    addr < ABI_DEV_MMIO_BASE + c->vm->nr_devices * ABI_DEV_WINDOW) {
		struct device *d = &c->vm->devices[(addr - ABI_DEV_MMIO_BASE) / ABI_DEV_WINDOW];
		uint64_t off = (addr - ABI_DEV_MMIO_BASE) % ABI_DEV_WINDOW;

		if (len > 8 || off + len > ABI_DEV_WINDOW) {
			stop_with_regs(c, VM_STOP_UNHANDLED, "unhandled exit: MMIO access across a "
				       "device window's end");
			return true;
		}
		if (!d->ops) {
			stop_with_regs(c, VM_STOP_UNHANDLED, "unhandled exit: MMIO access to a "
				       "device this clone does not have (it cannot be cloned)");
			return true;
		}
		if (!wr)
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
		d->ops->mmio(d->dev, off, run->mmio.data, len, wr);
		return false;
	}
	char what[120];

	snprintf(what, sizeof(what), "unhandled exit on vCPU %u: MMIO %s of %u bytes at "
		 "unassigned address 0x%llx", c->id, wr ? "write" : "read", len,
		 (unsigned long long)addr);
	stop_with_regs(c, VM_STOP_UNHANDLED, what);
	return true;
}

#define PM1_CNT_SCI_EN 0x0001
#define PM1_CNT_SLP_EN 0x2000
#define KBD_CMD_PORT 0x64
#define KBD_CMD_RESET 0xfe

static void stop_reset(struct vcpu *c, const char *how)
{
	struct vm_stop s = {.reason = VM_STOP_RESET, .cpu = c->id};

	snprintf(s.what, sizeof(s.what), "the guest reset the machine (%s) on vCPU %u", how, c->id);
	vm_set_stop(c->vm, c, &s);
}

/*
 * vm__set_pc_platform's ports; true if @port is one of them, *ret_stop
 * when the access stops the VM (power-off, reset). PM1 status reads 0 (no
 * fixed event ever fires); PM1 enable holds what is written (ACPICA reads
 * back the global lock's enable bit). PM1 control
 * reads SCI_EN: the machine is in ACPI mode from the start (the FADT has
 * no SMI command port).
 */
static bool handle_pc_pio(struct vcpu *c, uint16_t port, uint8_t *data, unsigned size, bool wr,
			  bool *ret_stop)
{
	uint64_t v = wr ? le_value(data, size) : 0;

	*ret_stop = false;
	if (port >= VM_PC_PM1_EVT_PORT && port < VM_PC_PM1_EVT_PORT + 4) {
		unsigned off = port - VM_PC_PM1_EVT_PORT;

		if (!wr)
			memset(data, 0, size);
		for (unsigned i = 0; i < size && off + i < 4; i++) {
			unsigned bit = (off + i - 2) * 8; /* enable: bytes 2-3 */

			if (off + i < 2)
				continue;
			if (wr)
				c->vm->pm1_enable = (uint16_t)((c->vm->pm1_enable & ~(0xffu << bit)) |
							       (data[i] << bit));
			else
				data[i] = (uint8_t)(c->vm->pm1_enable >> bit);
		}
		return true;
	}
	if (port == VM_PC_PM1_CNT_PORT) {
		if (!wr) {
			memset(data, 0, size);
			data[0] = PM1_CNT_SCI_EN;
		} else if ((v & PM1_CNT_SLP_EN) && ((v >> 10) & 7) == VM_PC_S5_TYPE) {
			struct vm_stop s = {.reason = VM_STOP_EXIT, .status = 0, .cpu = c->id};

			snprintf(s.what, sizeof(s.what), "the guest powered off (ACPI S5) on vCPU %u",
				 c->id);
			vm_set_stop(c->vm, c, &s);
			*ret_stop = true;
		}
		return true;
	}
	if (wr && ((port == VM_PC_RESET_PORT && (v & 0x04)) ||
		   (port == KBD_CMD_PORT && (v & 0xff) == KBD_CMD_RESET))) {
		stop_reset(c, port == VM_PC_RESET_PORT ? "reset register" : "keyboard controller");
		*ret_stop = true;
		return true;
	}
	return false;
}

static void uart_irq(void *ctx, bool level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = {.irq = VM_PC_UART_IRQ, .level = level};

	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq); /* cannot fail for a valid GSI */
}

int vm__set_pc_platform(struct vm *vm)
{
	if (!vm->irqchip)
		return -ENODEV;
	vm->pc_platform = true;
	uart__set_irq(&vm->uart, uart_irq, vm);
	return 0;
}

/* Port I/O: the UART and the exit device; other ports read as 0xff. */
static bool handle_pio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool wr = run->io.direction == KVM_EXIT_IO_OUT;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;

	count_exit(c, VM_EXITS_PIO);
	if (run->io.data_offset + bytes > c->vm->run_size)
		return false;
	if (run->io.port >= ABI_UART_PORT && run->io.port < ABI_UART_PORT + UART_NR_REGS) {
		unsigned reg = run->io.port - ABI_UART_PORT;

		for (uint64_t i = 0; i < run->io.count; i++) {
			if (wr)
				uart__write(&c->vm->uart, reg, data[i * run->io.size]);
			else
				data[i * run->io.size] = uart__read(&c->vm->uart, reg);
		}
		return false;
	}
	if (run->io.port == ABI_EXIT_PORT && wr) {
		handle_exit_device(c, (uint32_t)le_value(data, run->io.size));
		return true;
	}
	if (c->vm->pc_platform && run->io.count == 1) {
		bool stop;

		if (handle_pc_pio(c, run->io.port, data, run->io.size, wr, &stop))
			return stop;
	}
	if (!wr)
		memset(data, 0xff, bytes);
	return false;
}

/* Returns true when the vCPU must stop. */
static bool handle_exit(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	char what[160];

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		return handle_mmio(c);
	case KVM_EXIT_IO:
		return handle_pio(c);
	case KVM_EXIT_INTR:
		count_exit(c, VM_EXITS_INTR);
		return false;
	case KVM_EXIT_SHUTDOWN:
		stop_shutdown(c);
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "unhandled exit on vCPU %u: KVM internal error, "
			 "suberror %u", c->id, run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "unhandled exit on vCPU %u: VM entry failed, "
			 "hardware reason 0x%llx", c->id,
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_HLT:
		snprintf(what, sizeof(what), "unhandled exit on vCPU %u: hlt", c->id);
		break;
	default:
		snprintf(what, sizeof(what), "unhandled exit on vCPU %u: KVM exit reason %u",
			 c->id, run->exit_reason);
		break;
	}
	count_exit(c, VM_EXITS_OTHER);
	stop_with_regs(c, VM_STOP_UNHANDLED, what);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct vm *vm = c->vm;
	sigset_t kick_set;

	/* Whatever mask the starting thread had (the control socket's blocks all). */
	sigemptyset(&kick_set);
	sigaddset(&kick_set, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick_set, NULL);
	/*
	 * KVM stores regs, sregs and events into kvm_run on every return from
	 * KVM_RUN: hypercalls and resets read and write them there, not with
	 * ioctls. Set before the first run, so the copy is current from then on.
	 */
	if (vm->sync_regs)
		c->run->kvm_valid_regs = SYNC_ALL;

	while (!vcpu_wait_requests(c)) {
		int ret = ioctl(c->fd, KVM_RUN, 0);

		c->regs_current = vm->sync_regs;
		if (ret < 0) {
			int err = errno;

			__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			if (err == EINTR || err == EAGAIN) {
				count_exit(c, VM_EXITS_INTR);
				continue;
			}
			stop_error(c, -err, "KVM_RUN");
			continue;
		}
		if (handle_exit(c))
			continue; /* vcpu_wait_requests sees the stop */
	}
	complete_io(c);
	pthread_mutex_lock(&vm->lock);
	vm->nr_exited++;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* mm could not resolve a guest write fault: the VM cannot go on. */
static void on_fault_error(void *arg, struct mm_space *space, uint64_t gpa, int err)
{
	struct vm *vm = arg;
	struct vm_stop s = {.reason = VM_STOP_ERROR, .err = err};

	(void)space;
	snprintf(s.what, sizeof(s.what), "guest memory fault at 0x%llx could not be resolved: %s",
		 (unsigned long long)gpa, strerror(-err));
	vm_set_stop(vm, NULL, &s);
}

/*
 * An ioctl that builds the VM (create, memory slot, irqchip, vCPU), again
 * while it is interrupted: one returned -EINTR once in the nested stock-KVM
 * lane (6.12), failing a VM creation that a retry completes.
 */
static int kvm_build_ioctl(int fd, unsigned long req, unsigned long arg)
{
	int r;

	for (int tries = 0; tries < 100; tries++) {
		r = ioctl(fd, req, arg);
		if (r >= 0 || errno != EINTR)
			break;
	}
	return r;
}

static int create_vcpu(struct vm *vm, unsigned id)
{
	struct vcpu *c = &vm->vcpus[id];

	c->vm = vm;
	c->id = id;
	c->queued = calloc(1, sizeof(*c->queued));
	if (!c->queued)
		return -ENOMEM;
	c->fd = kvm_build_ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (c->fd < 0)
		return -errno;
	c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		c->run = NULL;
		return -errno;
	}
	return x86_setup__cpuid(vm->kvm_fd, c->fd);
}

/* /dev/kvm and an empty VM: no memory, no irqchip, no vCPUs yet. */
static int open_kvm_vm(struct vm *vm)
{
	int n;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -ENOTSUP;
	vm->vm_fd = kvm_build_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	n = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	vm->run_size = (size_t)n;
	n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	vm->sync_regs = n > 0 && (n & SYNC_ALL) == SYNC_ALL;
	return 0;
}

/*
 * The in-kernel irqchip and PIT. After the memory slot: the first memory
 * slot change after KVM_CREATE_IRQCHIP stalls (~6-7 ms on the PVM hosts, a
 * wait in the kernel, not CPU), while a slot made before it costs ~0.05 ms.
 */
static int create_irqchip(struct vm *vm, bool no_irqchip)
{
	if (no_irqchip || ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
		return 0;
	if (kvm_build_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0))
		return -errno;
	vm->irqchip = true;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) > 0) {
		struct kvm_pit_config pit = {.flags = 0};

		if (kvm_build_ioctl(vm->vm_fd, KVM_CREATE_PIT2, (unsigned long)&pit))
			return -errno;
	}
	return 0;
}

static int create_vcpus(struct vm *vm)
{
	int err = 0;

	for (unsigned i = 0; !err && i < vm->nr_cpus; i++)
		err = create_vcpu(vm, i);
	return err;
}

void pool_ref__put(struct pool_ref *ref)
{
	if (ref && __atomic_sub_fetch(&ref->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		mm_pool_destroy(ref->pool);
		free(ref);
	}
}

static int attach_pool(struct vm *vm, const struct vm_config *cfg, struct pool_ref *shared)
{
	struct pool_ref *ref;
	int err;

	if (shared) {
		__atomic_add_fetch(&shared->refs, 1, __ATOMIC_RELAXED);
		vm->pool_ref = shared;
		vm->pool = shared->pool;
		return 0;
	}
	if (cfg->pool) {
		vm->pool = cfg->pool;
		return 0;
	}
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return -ENOMEM;
	err = mm_pool_create(NULL, &ref->pool);
	if (err) {
		free(ref);
		return err;
	}
	ref->refs = 1;
	vm->pool_ref = ref;
	vm->pool = ref->pool;
	return 0;
}

static int attach_memory(struct vm *vm, const struct vm_config *cfg, struct pool_ref *shared)
{
	struct kvm_userspace_memory_region slot = {.slot = 0, .guest_phys_addr = 0};
	int err;

	vm->space = cfg->space; /* owned from now on, even on failure */
	err = attach_pool(vm, cfg, shared);
	if (err)
		return err;
	if (!vm->space) {
		err = mm_space_create(vm->pool, cfg->mem_size, &vm->space);
		if (err)
			return err;
	}
	mm_space_set_fault_error_fn(vm->space, on_fault_error, vm);
	vm->mem = mm_space_hva(vm->space);
	vm->mem_size = mm_space_size(vm->space);
	if (vm->mem_size < MIB2 || vm->mem_size % MIB2 || vm->mem_size > ABI_MEM_MAX)
		return -EINVAL;
	slot.memory_size = vm->mem_size;
	slot.userspace_addr = (uintptr_t)vm->mem;
	if (kvm_build_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&slot))
		return -errno;
	return 0;
}

/* A VM with no KVM side yet: its lock, its UART, its fds -1. NULL: no memory. */
static struct vm *vm_alloc(unsigned nr_cpus, int serial_fd, int notify_fd)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_condattr_t ca;
	struct vm *vm;

	pthread_once(&once, install_kick_handler);
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nr_cpus = nr_cpus;
	vm->notify_fd = notify_fd > 0 ? notify_fd : -1;
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &ca);
	pthread_condattr_destroy(&ca);
	uart__init(&vm->uart, serial_fd);
	return vm;
}

/*
 * Make and delete a one-page memory slot: it takes the stall of the first
 * slot change after the irqchip (create_irqchip) now, so the shell's real
 * slot, made when a clone takes it, costs what a slot change costs.
 */
static int warm_memslots(struct vm *vm)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = sizeof(page),
		.userspace_addr = (uintptr_t)page};

	if (kvm_build_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&slot))
		return -errno;
	slot.memory_size = 0;
	return kvm_build_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&slot) ? -errno : 0;
}

int vm__create_shell(unsigned nr_cpus, struct vm **ret_vm)
{
	struct vm *vm;
	int err;

	if (!nr_cpus || nr_cpus > VM_MAX_CPUS)
		return -EINVAL;
	vm = vm_alloc(nr_cpus, -1, -1);
	if (!vm)
		return -ENOMEM;
	err = open_kvm_vm(vm);
	if (!err)
		err = create_irqchip(vm, false);
	if (!err && vm->irqchip)
		err = warm_memslots(vm);
	if (!err)
		err = create_vcpus(vm);
	if (err) {
		vm__destroy(vm);
		return err;
	}
	*ret_vm = vm;
	return 0;
}

/* A shell (vm__create_shell) becomes the VM @cfg asks for: its console, its memory. */
static int adopt_shell(struct vm *vm, const struct vm_config *cfg, struct pool_ref *shared)
{
	uart__exit(&vm->uart); /* the shell's: nothing was written to it */
	uart__init(&vm->uart, cfg->serial_fd);
	vm->notify_fd = cfg->notify_fd > 0 ? cfg->notify_fd : -1;
	return attach_memory(vm, cfg, shared);
}

int vm__create_shared(const struct vm_config *cfg, struct pool_ref *shared, struct vm *shell,
		      struct vm **ret_vm)
{
	struct vm *vm;
	int err;

	if (!cfg->nr_cpus || cfg->nr_cpus > VM_MAX_CPUS ||
	    (!cfg->space && (cfg->mem_size < MIB2 || cfg->mem_size % MIB2 ||
			     cfg->mem_size > ABI_MEM_MAX))) {
		mm_space_destroy(cfg->space); /* owned from the call on */
		vm__destroy(shell);
		return -EINVAL;
	}
	if (shell && (shell->nr_cpus != cfg->nr_cpus || cfg->no_irqchip)) {
		vm__destroy(shell); /* a shell of another machine: another size, an irqchip */
		shell = NULL;
	}
	if (shell) {
		vm = shell;
		err = adopt_shell(vm, cfg, shared);
	} else {
		vm = vm_alloc(cfg->nr_cpus, cfg->serial_fd, cfg->notify_fd);
		if (!vm) {
			mm_space_destroy(cfg->space);
			return -ENOMEM;
		}
		/* The slot before the irqchip: see create_irqchip. */
		err = open_kvm_vm(vm);
		if (!err)
			err = attach_memory(vm, cfg, shared);
		else
			vm->space = cfg->space; /* owned from now on, even on failure */
		if (!err)
			err = create_irqchip(vm, cfg->no_irqchip);
		if (!err)
			err = create_vcpus(vm);
	}
	if (err) {
		vm__destroy(vm);
		return err;
	}
	*ret_vm = vm;
	return 0;
}

int vm__create(const struct vm_config *cfg, struct vm **ret_vm)
{
	return vm__create_shared(cfg, NULL, NULL, ret_vm);
}

static int setup_vcpu(struct vm *vm, struct vcpu *c, uint64_t entry)
{
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = entry,
		.rsp = vm->mem_size - c->id * ABI_STACK_SIZE,
		.rflags = X86_RFLAGS_FIXED | X86_RFLAGS_IOPL3,
		.rdi = vm->mem_size,
		.rsi = ABI_CMDLINE_GPA,
		.rdx = c->id,
		.rcx = vm->nr_cpus,
	};

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	x86_setup__sregs(&sregs, true);
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) || ioctl(c->fd, KVM_SET_REGS, &regs))
		return -errno;
	/* With an in-kernel LAPIC, application processors wait for INIT/SIPI. */
	if (vm->irqchip && ioctl(c->fd, KVM_SET_MP_STATE, &mp))
		return -errno;
	return 0;
}

int vm__add_device(struct vm *vm, uint32_t type, uint32_t subtype,
		   const struct vm_device_ops *ops, void *dev, uint64_t *ret_gpa)
{
	struct device *d;

	if (vm->nr_devices >= ABI_DEV_MAX)
		return -ENOSPC;
	d = &vm->devices[vm->nr_devices];
	d->desc = (struct abi_dev){.type = type, .subtype = subtype, .size = ABI_DEV_WINDOW,
				   .base = ABI_DEV_MMIO_BASE + vm->nr_devices * ABI_DEV_WINDOW};
	d->ops = ops;
	d->dev = dev;
	vm->nr_devices++;
	if (ret_gpa)
		*ret_gpa = d->desc.base;
	return 0;
}

void *vm__device(struct vm *vm, unsigned i)
{
	return i < vm->nr_devices ? vm->devices[i].dev : NULL;
}

/* The device table the guest reads (abi.h), below ABI_RESERVED. */
static void write_devtab(struct vm *vm)
{
	struct abi_devtab tab = {.magic = ABI_DEVTAB_MAGIC, .count = vm->nr_devices};

	memcpy(vm->mem + ABI_DEVTAB_GPA, &tab, sizeof(tab));
	for (unsigned i = 0; i < vm->nr_devices; i++)
		memcpy(vm->mem + ABI_DEVTAB_GPA + sizeof(tab) + i * sizeof(struct abi_dev),
		       &vm->devices[i].desc, sizeof(struct abi_dev));
}

int vm__load_elf(struct vm *vm, const void *image, size_t size, const char *cmdline,
		 char *ret_msg, size_t msg_len)
{
	uint64_t stacks = vm->nr_cpus * ABI_STACK_SIZE, entry;
	struct elf_error e = {{0}};
	size_t cmd_len = cmdline ? strlen(cmdline) : 0;
	int err;

	if (cmd_len >= ABI_CMDLINE_MAX) {
		snprintf(e.msg, sizeof(e.msg), "guest arguments too long (%zu bytes, at most %d)",
			 cmd_len, ABI_CMDLINE_MAX - 1);
		err = -E2BIG;
		goto fail;
	}
	if (vm->mem_size < ABI_RESERVED + stacks) {
		snprintf(e.msg, sizeof(e.msg), "guest memory too small for %u vCPU stacks",
			 vm->nr_cpus);
		err = -ERANGE;
		goto fail;
	}
	err = x86_setup__tables(vm->mem, vm->mem_size, ABI_CRASH_MMIO);
	if (err)
		return err;
	err = elf__load(image, size, vm->mem, ABI_RESERVED, vm->mem_size - stacks, &entry, &e);
	if (err)
		goto fail;
	memcpy(vm->mem + ABI_CMDLINE_GPA, cmdline ? cmdline : "", cmd_len + 1);
	write_devtab(vm);
	for (unsigned i = 0; i < vm->nr_cpus; i++) {
		err = setup_vcpu(vm, &vm->vcpus[i], entry);
		if (err)
			return err;
	}
	return 0;
fail:
	if (ret_msg)
		snprintf(ret_msg, msg_len, "%s", e.msg);
	return err;
}

static int set_process_msrs(struct vcpu *c, struct kvm_sregs *sregs, uint64_t entry)
{
	struct {
		__u32 nmsrs, pad; /* struct kvm_msrs, with room for the entries */
		struct kvm_msr_entry e[X86_SYSCALL_NR_MSRS];
	} m = {.nmsrs = X86_SYSCALL_NR_MSRS};
	int n;

	x86_setup__syscall(sregs, entry, m.e);
	n = ioctl(c->fd, KVM_SET_MSRS, &m);
	return n < 0 ? -errno : n != X86_SYSCALL_NR_MSRS ? -EIO : 0;
}

int vm__load_process(struct vm *vm, const struct vm_process_entry *e)
{
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	struct kvm_regs regs = {.rip = e->rip, .rsp = e->rsp, .rflags = X86_RFLAGS_FIXED};
	uint64_t page = e->syscall_entry & ~0xfffULL, xcr0;
	struct vcpu *c = &vm->vcpus[0];
	struct kvm_sregs sregs;
	int err;

	if (vm->nr_cpus != 1 || page < 0x1000 || page + 0x1000 > ABI_RESERVED ||
	    e->user_code_len > 0x1000)
		return -EINVAL;
	err = x86_setup__tables(vm->mem, vm->mem_size, ABI_CRASH_MMIO);
	if (err)
		return err;
	x86_setup__guard_low(vm->mem, page);
	memcpy(vm->mem + page, e->user_code, e->user_code_len);
	if (ioctl(c->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	x86_setup__sregs(&sregs, true);
	err = set_process_msrs(c, &sregs, e->syscall_entry);
	if (!err)
		err = x86_setup__xsave(vm->kvm_fd, &sregs, &xcr0);
	if (err)
		return err;
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) || ioctl(c->fd, KVM_SET_REGS, &regs))
		return -errno;
	if (xcr0) {
		struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = xcr0}}};

		if (ioctl(c->fd, KVM_SET_XCRS, &xcrs))
			return -errno;
	}
	if (vm->irqchip && ioctl(c->fd, KVM_SET_MP_STATE, &mp))
		return -errno;
	return 0;
}

int vm__start(struct vm *vm)
{
	int err = 0;
	unsigned i;

	/*
	 * Under the lock: a vCPU that stops the VM at once kicks the others
	 * only after every thread id and started flag is written.
	 */
	pthread_mutex_lock(&vm->lock);
	vm->start_ns = clock_now_ns();
	for (i = 0; i < vm->nr_cpus && !err; i++) {
		struct vcpu *c = &vm->vcpus[i];

		err = pthread_create(&c->thread, NULL, vcpu_thread, c);
		c->started = !err;
	}
	pthread_mutex_unlock(&vm->lock);
	if (err) {
		struct vm_stop s = {.reason = VM_STOP_ERROR, .err = -err};

		snprintf(s.what, sizeof(s.what), "starting vCPU %u: %s", i - 1, strerror(err));
		vm_set_stop(vm, NULL, &s);
		return -err;
	}
	return 0;
}

int vm__wait(struct vm *vm, int timeout_ms, struct vm_stop *ret_stop)
{
	struct timespec dl;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	if (timeout_ms >= 0) {
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&vm->lock);
	while (vm->stop.reason == VM_RUNNING && !err) {
		if (timeout_ms < 0)
			pthread_cond_wait(&vm->cond, &vm->lock);
		else if (pthread_cond_timedwait(&vm->cond, &vm->lock, &dl) == ETIMEDOUT)
			err = -ETIMEDOUT;
	}
	if (!err && ret_stop)
		*ret_stop = vm->stop;
	pthread_mutex_unlock(&vm->lock);
	return err;
}

void vm__stop(struct vm *vm)
{
	struct vm_stop s = {.reason = VM_STOP_REQUESTED};

	snprintf(s.what, sizeof(s.what), "stopped by the VMM");
	vm_set_stop(vm, NULL, &s);
}

static unsigned nr_started(const struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->nr_cpus; i++)
		n += vm->vcpus[i].started;
	return n;
}

int vm__pause(struct vm *vm)
{
	unsigned started = nr_started(vm);

	pthread_mutex_lock(&vm->lock);
	vm->pause_req = true;
	/*
	 * Wake and kick only vCPUs that are not paused yet: a paused one sees
	 * pause_req before it runs again, and a signal or a wakeup would cost
	 * it (and this thread) a round trip for nothing - after every fuzz
	 * run, whose vCPU has paused itself by the time its stop is seen.
	 */
	if (vm->nr_paused + vm->nr_exited < started) {
		pthread_cond_broadcast(&vm->cond); /* parked vCPUs */
		for (unsigned i = 0; i < vm->nr_cpus; i++)
			if (!vm->vcpus[i].paused)
				kick(&vm->vcpus[i]);
	}
	while (vm->nr_paused + vm->nr_exited < started)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/* Under vm->lock: make the oldest queued stop the VM's; true if there was one. */
static bool promote_queued(struct vm *vm)
{
	struct vcpu *oldest = NULL;

	if (vm->queued.reason != VM_RUNNING) {
		vm->stop = vm->queued;
		memset(&vm->queued, 0, sizeof(vm->queued));
		return true;
	}
	for (unsigned i = 0; i < vm->nr_cpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		if (c->queued_seq && (!oldest || c->queued_seq < oldest->queued_seq))
			oldest = c;
	}
	if (!oldest)
		return false;
	vm->stop = *oldest->queued;
	oldest->queued_seq = 0;
	return true;
}

void vm__rearm(struct vm *vm)
{
	bool next;

	pthread_mutex_lock(&vm->lock);
	memset(&vm->stop, 0, sizeof(vm->stop));
	vm->stop_ns = 0;
	next = promote_queued(vm);
	if (next) {
		vm->stop_ns = clock_now_ns();
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	if (next)
		notify_stop(vm); /* the vCPUs are paused: nothing to kick */
}

int vm__resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/*
 * Closing a VM with an irqchip waits in the kernel (~7-16 ms here, almost no
 * CPU): the reaper (vm-reap.c) closes its fds on another thread. Its vCPUs
 * have stopped and its slot points at memory about to be unmapped, which KVM
 * follows through its MMU notifier; nothing runs in it again.
 */
static void close_kvm_fds(struct vm *vm)
{
	int fds[VM_MAX_CPUS + 2];
	unsigned n = 0;

	for (unsigned i = 0; i < vm->nr_cpus; i++)
		if (vm->vcpus[i].fd >= 0)
			fds[n++] = vm->vcpus[i].fd;
	if (vm->vm_fd >= 0)
		fds[n++] = vm->vm_fd;
	if (vm->kvm_fd >= 0)
		fds[n++] = vm->kvm_fd;
	vm_reap__close(fds, n);
}

void vm__destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (nr_started(vm)) {
		vm__stop(vm);
		pthread_mutex_lock(&vm->lock);
		vm->quit = true;
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		kick_all(vm);
		for (unsigned i = 0; i < vm->nr_cpus; i++)
			if (vm->vcpus[i].started)
				pthread_join(vm->vcpus[i].thread, NULL);
	}
	uart__exit(&vm->uart);
	if (vm->syscall_owned)
		vm->syscall_ops->release(vm->syscall_ctx);
	/* Before the memory goes: a device may hold pins on it. */
	for (unsigned i = 0; i < vm->nr_devices; i++)
		if (vm->devices[i].owned)
			vm->devices[i].ops->release(vm->devices[i].dev);
	for (unsigned i = 0; i < vm->nr_cpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		free(vm->vcpus[i].queued);
	}
	close_kvm_fds(vm);
	if (vm->space)
		mm_space_destroy(vm->space);
	pool_ref__put(vm->pool_ref);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

bool vm__pause_if_running(struct vm *vm)
{
	bool running;

	pthread_mutex_lock(&vm->lock);
	running = !vm->pause_req && vm->stop.reason == VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	vm__pause(vm);
	return running;
}

int vm__set_hcall_result(struct vm *vm, unsigned cpu, int64_t value)
{
	struct kvm_regs regs;
	struct vcpu *c;
	int err;

	if (cpu >= vm->nr_cpus)
		return -EINVAL;
	c = &vm->vcpus[cpu];
	err = vcpu_get_regs(c, &regs);
	if (err)
		return err;
	regs.rax = (uint64_t)value;
	return vcpu_set_regs(c, &regs);
}

bool vm__can_stage_regs(const struct vm *vm)
{
	return vm->sync_regs;
}

int vm__stage_regs(struct vm *vm, unsigned cpu, const struct kvm_regs *regs,
		   const struct kvm_sregs *sregs, const struct kvm_vcpu_events *events)
{
	struct kvm_run *run;

	if (!vm->sync_regs)
		return -ENOTSUP;
	if (cpu >= vm->nr_cpus)
		return -EINVAL;
	run = vm->vcpus[cpu].run;
	run->s.regs.regs = *regs;
	run->s.regs.sregs = *sregs;
	run->s.regs.events = *events;
	run->kvm_dirty_regs |= SYNC_ALL;
	vm->vcpus[cpu].regs_current = true;
	return 0;
}

int vm__flush_staged_regs(struct vm *vm, unsigned cpu)
{
	struct vcpu *c;
	struct kvm_run *run;
	int err = 0;

	if (cpu >= vm->nr_cpus)
		return -EINVAL;
	c = &vm->vcpus[cpu];
	run = c->run;
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) &&
	    ioctl(c->fd, KVM_SET_SREGS, &run->s.regs.sregs))
		err = -errno;
	if (!err && (run->kvm_dirty_regs & KVM_SYNC_X86_REGS) &&
	    ioctl(c->fd, KVM_SET_REGS, &run->s.regs.regs))
		err = -errno;
	if (!err && (run->kvm_dirty_regs & KVM_SYNC_X86_EVENTS) &&
	    ioctl(c->fd, KVM_SET_VCPU_EVENTS, &run->s.regs.events))
		err = -errno;
	run->kvm_dirty_regs = 0;
	c->regs_current = false;
	return err;
}

int vm__set_dirty_logging(struct vm *vm, bool on)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0, .guest_phys_addr = 0,
		.memory_size = vm->mem_size, .userspace_addr = (uintptr_t)vm->mem};

	return kvm_build_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&slot) ? -errno : 0;
}

int vm__get_dirty_log(struct vm *vm, uint64_t *bitmap)
{
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};

	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log))
		return -errno;
	/* The VMM's own writes for a process (its system calls): no guest write KVM logs. */
	if (vm->syscall_ops && vm->syscall_ops->host_dirty)
		vm->syscall_ops->host_dirty(vm->syscall_ctx, bitmap);
	return 0;
}

uint64_t vm__page_table_pages(void)
{
	return x86_setup__table_pages();
}

int vm__set_dirty_log_manual(struct vm *vm)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				     .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}};
	int n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

	if (n <= 0 || !(n & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE))
		return -ENOTSUP;
	return ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) ? -errno : 0;
}

int vm__clear_dirty_log(struct vm *vm, const uint64_t *bitmap)
{
	struct kvm_clear_dirty_log log = {.slot = 0, .first_page = 0,
					  .num_pages = (uint32_t)(vm->mem_size / 4096),
					  .dirty_bitmap = (void *)bitmap};

	return ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &log) ? -errno : 0;
}

void vm__set_notify_fd(struct vm *vm, int fd)
{
	pthread_mutex_lock(&vm->lock);
	vm->notify_fd = fd;
	pthread_mutex_unlock(&vm->lock);
}

bool vm__vcpu_parked(struct vm *vm, unsigned cpu)
{
	bool parked;

	pthread_mutex_lock(&vm->lock);
	parked = cpu < vm->nr_cpus && vm->vcpus[cpu].parked;
	pthread_mutex_unlock(&vm->lock);
	return parked;
}

void vm__set_vcpu_restored(struct vm *vm, unsigned cpu, bool parked)
{
	pthread_mutex_lock(&vm->lock);
	if (cpu < vm->nr_cpus) {
		struct vcpu *c = &vm->vcpus[cpu];

		/*
		 * Wake the vCPU threads only if what they wait on changed: a reset
		 * that changes neither would wake a paused thread for nothing.
		 */
		if (c->parked != parked || c->queued_seq)
			pthread_cond_broadcast(&vm->cond);
		c->parked = parked;
		c->queued_seq = 0; /* a request of the state that is gone */
	}
	pthread_mutex_unlock(&vm->lock);
}

struct mm_space *vm__space(struct vm *vm)
{
	return vm->space;
}

struct mm_pool *vm__pool(struct vm *vm)
{
	return vm->pool;
}

unsigned vm__nr_cpus(const struct vm *vm)
{
	return vm->nr_cpus;
}

int vm__vcpu_fd(const struct vm *vm, unsigned cpu)
{
	return cpu < vm->nr_cpus ? vm->vcpus[cpu].fd : -EINVAL;
}

int vm__fd(const struct vm *vm)
{
	return vm->vm_fd;
}

int vm__kvm_fd(const struct vm *vm)
{
	return vm->kvm_fd;
}

bool vm__has_irqchip(const struct vm *vm)
{
	return vm->irqchip;
}

void vm__stats(struct vm *vm, struct vm_stats *ret_stats)
{
	struct vm_stats s = {0};

	pthread_mutex_lock(&vm->lock);
	if (vm->start_ns)
		s.run_ns = (vm->stop_ns ? vm->stop_ns : clock_now_ns()) - vm->start_ns;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_cpus; i++)
		for (unsigned k = 0; k < VM_NR_EXIT_KINDS; k++)
			s.exits[k] += __atomic_load_n(&vm->vcpus[i].exits[k], __ATOMIC_RELAXED);
	s.serial_err = uart__flush(&vm->uart);
	pthread_mutex_lock(&vm->uart.lock);
	s.serial_bytes = vm->uart.tx_bytes;
	pthread_mutex_unlock(&vm->uart.lock);
	*ret_stats = s;
}

void vm__print_stop(FILE *out, const struct vm_stop *s)
{
	const struct kvm_regs *r = &s->regs;

	fprintf(out, "vmm: %s\n", s->what);
	if (!s->have_regs)
		return;
	fprintf(out, "  rip %016llx rsp %016llx rflags %016llx\n", r->rip, r->rsp, r->rflags);
	fprintf(out, "  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n", r->rax, r->rbx,
		r->rcx, r->rdx);
	fprintf(out, "  rsi %016llx rdi %016llx rbp %016llx r8  %016llx\n", r->rsi, r->rdi,
		r->rbp, r->r8);
	fprintf(out, "  r9  %016llx r10 %016llx r11 %016llx r12 %016llx\n", r->r9, r->r10,
		r->r11, r->r12);
	fprintf(out, "  r13 %016llx r14 %016llx r15 %016llx\n", r->r13, r->r14, r->r15);
	fprintf(out, "  cs %04x ss %04x cr0 %llx cr2 %llx cr3 %llx cr4 %llx efer %llx\n",
		s->sregs.cs.selector, s->sregs.ss.selector, s->sregs.cr0, s->sregs.cr2,
		s->sregs.cr3, s->sregs.cr4, s->sregs.efer);
}
