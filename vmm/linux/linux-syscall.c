// SPDX-License-Identifier: MIT
/*
 * linux-syscall.c: the process (create, load, stats) and the system-call
 * dispatcher. The table of served calls is README.md's ("Linux programs");
 * every other number returns -ENOSYS and is counted by number.
 *
 * vmm/linux runs static Linux programs on a VM (ARCHITECTURE.md): it may
 * call vmm/vm (the glue, linux-vm.c) and mm; the core here calls only mm.
 * Public: linux.h, linux-vm.h.
 *
 * Invariants: a call changes nothing but rax (and the process's own
 * bookkeeping) unless it ends the process; every guest pointer goes
 * through linux_mem__ptr; signals are never delivered (a fatal one ends
 * the process, README.md says why).
 */
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>

#include "abi.h"
#include "linux-internal.h"

/*
 * Process ids: a loaded program is 1, as the init of its own namespace; each
 * clone of a process gets the next id of this VMM process (a clone is a
 * fork: it must be able to tell itself apart). A reset keeps the id.
 */
#define LINUX_PID 1
static int64_t next_clone_pid = LINUX_PID;
#define SIGSET_SIZE 8
#define MAX_RANDOM (32U << 20)

int linux_proc__create(const struct linux_config *cfg, struct linux_proc **ret_proc)
{
	struct linux_proc *p;
	int err;

	if (!cfg->space || cfg->nr_files > LINUX_MAX_FILES)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vmas = calloc(LINUX_MAX_VMAS, sizeof(*p->vmas));
	p->files = calloc(cfg->nr_files ? cfg->nr_files : 1, sizeof(*p->files));
	if (!p->vmas || !p->files) {
		err = -ENOMEM;
		goto free_proc;
	}
	if (cfg->nr_files) /* cfg->files may be NULL then */
		memcpy(p->files, cfg->files, cfg->nr_files * sizeof(*p->files));
	p->nr_files = cfg->nr_files;
	p->space = cfg->space;
	p->mem = mm_space_hva(cfg->space);
	p->mem_size = mm_space_size(cfg->space);
	p->io = cfg->io;
	p->io_ctx = cfg->io_ctx;
	p->pid = LINUX_PID;
	if (p->mem_size < 4 * LINUX_USER_LO) {
		err = -EINVAL;
		goto free_proc;
	}
	err = mem__init(p);
	if (err)
		goto free_proc;
	fs__init(p);
	*ret_proc = p;
	return 0;
free_proc:
	free(p->vmas);
	free(p->files);
	free(p);
	for (unsigned i = 0; i < cfg->nr_files; i++)
		close(cfg->files[i].host_fd);
	return err;
}

void linux_proc__destroy(struct linux_proc *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nr_files; i++)
		close(p->files[i].host_fd);
	free(p->files);
	free(p->vmas);
	free(p->touched);
	free(p);
}

/*
 * Copy what a running process is - file descriptors and their offsets, the
 * memory layout, brk, signal bookkeeping - from @src into @dst. @dst keeps
 * its own memory, I/O, grants (the same files, the same order) and its
 * counters: those are its own history, not state.
 */
static void proc_copy_state(struct linux_proc *dst, const struct linux_proc *src)
{
	memcpy(dst->fds, src->fds, sizeof(dst->fds));
	memcpy(dst->vmas, src->vmas, src->nr_vmas * sizeof(*dst->vmas));
	dst->nr_vmas = src->nr_vmas;
	dst->brk_start = src->brk_start;
	dst->brk = src->brk;
	dst->mmap_top = src->mmap_top;
	dst->stack_lo = src->stack_lo;
	dst->tid_address = src->tid_address;
	memcpy(dst->sigactions, src->sigactions, sizeof(dst->sigactions));
	dst->sigmask = src->sigmask;
	memcpy(dst->altstack, src->altstack, sizeof(dst->altstack));
	dst->thread_notice = src->thread_notice;
}

int linux_proc__clone(const struct linux_proc *src, struct mm_space *space, void *io_ctx,
		      struct linux_proc **ret_proc)
{
	struct linux_config cfg = {.space = space, .io = src->io, .io_ctx = io_ctx,
				   .nr_files = src->nr_files};
	struct linux_file *files = NULL;
	struct linux_proc *p;
	int err;

	if (mm_space_size(space) != src->mem_size)
		return -EINVAL;
	if (src->nr_files) {
		files = calloc(src->nr_files, sizeof(*files));
		if (!files)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < src->nr_files; i++) {
		files[i] = src->files[i];
		files[i].host_fd = fcntl(src->files[i].host_fd, F_DUPFD_CLOEXEC, 0);
		if (files[i].host_fd < 0) {
			err = -errno;
			while (i--)
				close(files[i].host_fd);
			free(files);
			return err;
		}
	}
	cfg.files = files;
	err = linux_proc__create(&cfg, &p); /* owns the duplicates from here */
	free(files);
	if (err)
		return err;
	proc_copy_state(p, src);
	p->pid = __atomic_add_fetch(&next_clone_pid, 1, __ATOMIC_RELAXED);
	p->calls = src->calls;
	p->unknown = src->unknown;
	p->unknown_big = src->unknown_big;
	memcpy(p->unknown_by_nr, src->unknown_by_nr, sizeof(p->unknown_by_nr));
	*ret_proc = p;
	return 0;
}

int linux_proc__track_touched(struct linux_proc *p)
{
	if (!p->touched)
		p->touched = calloc((p->mem_size / PAGE + 63) / 64, sizeof(*p->touched));
	return p->touched ? 0 : -ENOMEM;
}

void linux_proc__take_touched(struct linux_proc *p, uint64_t *bitmap)
{
	for (uint64_t w = 0; p->touched && w < (p->mem_size / PAGE + 63) / 64; w++) {
		bitmap[w] |= p->touched[w];
		p->touched[w] = 0;
	}
}

int linux_proc__restore(struct linux_proc *dst, const struct linux_proc *point)
{
	if (dst->nr_files != point->nr_files || dst->mem_size != point->mem_size)
		return -EINVAL;
	proc_copy_state(dst, point);
	return 0;
}

int linux_proc__load(struct linux_proc *p, const void *image, size_t size, int argc,
		     char *const *argv, char *const *envp, struct linux_entry *ret_entry,
		     char *msg, size_t msg_len)
{
	struct elf_info info;
	uint64_t rsp;
	int err;

	err = elf__load_linux(p, image, size, &info, msg, msg_len);
	if (err)
		return err;
	p->brk_start = p->brk = PAGE_UP(info.end);
	err = stack__build(p, info.phdr_gva, info.phnum, info.entry, argc, argv, envp, &rsp, msg,
			   msg_len);
	if (err)
		return err;
	*ret_entry = (struct linux_entry){.rip = info.entry, .rsp = rsp};
	return 0;
}

static int64_t put_user(struct linux_proc *p, uint64_t gva, const void *src, size_t len)
{
	void *dst = linux_mem__ptr(p, gva, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

static int64_t get_user(struct linux_proc *p, uint64_t gva, void *dst, size_t len)
{
	const void *src = linux_mem__ptr(p, gva, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

static bool clock_ok(int64_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_MONOTONIC || id == CLOCK_PROCESS_CPUTIME_ID ||
	       id == CLOCK_THREAD_CPUTIME_ID || id == CLOCK_MONOTONIC_RAW ||
	       id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE || id == CLOCK_BOOTTIME;
}

static int64_t sys_clock_gettime(struct linux_proc *p, int64_t id, uint64_t tp, bool res)
{
	struct timespec ts;

	if (!clock_ok(id))
		return -EINVAL;
	if (res && !tp)
		return 0;
	/* The vCPU thread's CPU time is the process's: one thread. */
	if (res ? clock_getres((clockid_t)id, &ts) : clock_gettime((clockid_t)id, &ts))
		return -errno;
	return put_user(p, tp, &ts, sizeof(ts));
}

static int64_t sys_gettimeofday(struct linux_proc *p, uint64_t tv, uint64_t tz)
{
	struct timespec ts;
	struct { int64_t sec, usec; } t;
	static const int32_t zone[2];

	clock_gettime(CLOCK_REALTIME, &ts);
	t.sec = ts.tv_sec;
	t.usec = ts.tv_nsec / 1000;
	if (tv && put_user(p, tv, &t, sizeof(t)))
		return -EFAULT;
	if (tz && put_user(p, tz, zone, sizeof(zone)))
		return -EFAULT;
	return 0;
}

static int64_t sys_time(struct linux_proc *p, uint64_t tloc)
{
	int64_t now = (int64_t)time(NULL);

	if (tloc && put_user(p, tloc, &now, sizeof(now)))
		return -EFAULT;
	return now;
}

static int64_t sys_nanosleep(struct linux_proc *p, int64_t clock, int flags, uint64_t req,
			     uint64_t rem)
{
	struct timespec ts;
	int err;

	if (!clock_ok(clock) || clock == CLOCK_THREAD_CPUTIME_ID)
		return -EINVAL;
	if (get_user(p, req, &ts, sizeof(ts)))
		return -EFAULT;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
		return -EINVAL;
	if (rem && !linux_mem__ptr(p, rem, sizeof(ts)))
		return -EFAULT;
	err = clock_nanosleep((clockid_t)clock, flags & TIMER_ABSTIME, &ts, &ts);
	if (err == EINTR && rem && !(flags & TIMER_ABSTIME))
		put_user(p, rem, &ts, sizeof(ts));
	return -err;
}

static int64_t sys_getrandom(struct linux_proc *p, uint64_t buf, uint64_t len, unsigned flags)
{
	uint8_t *dst;
	ssize_t n;

	if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
		return -EINVAL;
	if (!len)
		return 0;
	len = len > MAX_RANDOM ? MAX_RANDOM : len;
	dst = linux_mem__ptr(p, buf, len);
	if (!dst)
		return -EFAULT;
	n = getrandom(dst, len, GRND_NONBLOCK);
	return n < 0 ? -errno : n;
}

static int64_t sys_uname(struct linux_proc *p, uint64_t buf)
{
	struct utsname u;

	memset(&u, 0, sizeof(u));
	snprintf(u.sysname, sizeof(u.sysname), "Linux");
	snprintf(u.nodename, sizeof(u.nodename), "vmm-cow");
	snprintf(u.release, sizeof(u.release), "6.1.0-vmm-cow"); /* glibc checks >= 3.2 */
	snprintf(u.version, sizeof(u.version), "#1 SMP vmm-cow");
	snprintf(u.machine, sizeof(u.machine), "x86_64");
	snprintf(u.domainname, sizeof(u.domainname), "(none)");
	return put_user(p, buf, &u, sizeof(u));
}

static int64_t sys_arch_prctl(struct linux_proc *p, int code, uint64_t addr,
			      struct linux_result *r)
{
	switch (code) {
	case ARCH_SET_FS:
		/* A canonical address: the CPU faults on loading anything else. */
		if (addr >= (1ULL << 47))
			return -EPERM;
		r->set_fs_base = true;
		r->fs_base = addr;
		return 0;
	case ARCH_SET_GS:
	case ARCH_GET_GS:
		return -EINVAL;
	default:
		(void)p;
		return -EINVAL;
	}
}

static int64_t sys_sigaction(struct linux_proc *p, int sig, uint64_t act, uint64_t old,
			     uint64_t size)
{
	struct ksigaction ka;

	if (size != SIGSET_SIZE || sig < 1 || sig > LINUX_NSIG)
		return -EINVAL;
	if (act && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	if (act && get_user(p, act, &ka, sizeof(ka)))
		return -EFAULT;
	if (old && put_user(p, old, &p->sigactions[sig], sizeof(ka)))
		return -EFAULT;
	if (act)
		p->sigactions[sig] = ka;
	return 0;
}

static int64_t sys_sigprocmask(struct linux_proc *p, int how, uint64_t set, uint64_t old,
			       uint64_t size)
{
	uint64_t m = 0;

	if (size != SIGSET_SIZE)
		return -EINVAL;
	if (set && get_user(p, set, &m, sizeof(m)))
		return -EFAULT;
	if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK)
		return -EINVAL;
	if (old && put_user(p, old, &p->sigmask, sizeof(p->sigmask)))
		return -EFAULT;
	if (!set)
		return 0;
	m &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	if (how == SIG_BLOCK)
		p->sigmask |= m;
	else if (how == SIG_UNBLOCK)
		p->sigmask &= ~m;
	else
		p->sigmask = m;
	return 0;
}

static int64_t sys_sigaltstack(struct linux_proc *p, uint64_t ss, uint64_t old)
{
	uint64_t st[3];

	if (ss && get_user(p, ss, st, sizeof(st)))
		return -EFAULT;
	if (old && put_user(p, old, p->altstack, sizeof(p->altstack)))
		return -EFAULT;
	if (ss)
		memcpy(p->altstack, st, sizeof(st));
	return 0;
}

static int64_t sys_prlimit(struct linux_proc *p, int64_t pid, unsigned res, uint64_t new,
			   uint64_t old)
{
	struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};

	if (pid && pid != p->pid)
		return -ESRCH;
	if (res >= RLIM_NLIMITS)
		return -EINVAL;
	if (res == RLIMIT_STACK)
		r.rlim_cur = r.rlim_max = p->mem_size - p->stack_lo;
	else if (res == RLIMIT_NOFILE)
		r.rlim_cur = r.rlim_max = LINUX_MAX_FDS;
	else if (res == RLIMIT_AS || res == RLIMIT_DATA)
		r.rlim_cur = r.rlim_max = p->mem_size;
	if (new && !linux_mem__ptr(p, new, sizeof(r)))
		return -EFAULT;
	if (old && put_user(p, old, &r, sizeof(r)))
		return -EFAULT;
	return 0; /* a new limit is accepted and changes nothing */
}

static int64_t sys_futex(struct linux_proc *p, uint64_t uaddr, int op, uint32_t val,
			 uint64_t timeout, struct linux_result *r)
{
	uint32_t cur;
	struct timespec ts;

	if (uaddr & 3)
		return -EINVAL;
	if (get_user(p, uaddr, &cur, sizeof(cur)))
		return -EFAULT;
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAKE:
		return 0; /* one thread: nobody waits */
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (cur != val)
			return -EAGAIN;
		if (!timeout) {
			/* Nobody could ever wake it: end it instead of hanging. */
			r->action = LINUX_KILLED;
			r->signal = SIGKILL;
			snprintf(r->what, sizeof(r->what), "guest deadlocked: FUTEX_WAIT on 0x%llx "
				 "with no other thread to wake it",
				 (unsigned long long)uaddr);
			return 0;
		}
		if (get_user(p, timeout, &ts, sizeof(ts)))
			return -EFAULT;
		if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
			return -EINVAL;
		if ((op & FUTEX_CMD_MASK) == FUTEX_WAIT)
			nanosleep(&ts, NULL);
		else
			clock_nanosleep((op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME :
					CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		return -ETIMEDOUT;
	default:
		return -ENOSYS;
	}
}

/* A signal sent to the process itself: default action or nothing. */
static int64_t send_self(struct linux_proc *p, int sig, struct linux_result *r)
{
	uint64_t h;

	if (sig < 0 || sig > LINUX_NSIG)
		return -EINVAL;
	if (!sig)
		return 0;
	h = p->sigactions[sig].handler;
	if (sig != SIGKILL && (h == (uint64_t)(uintptr_t)SIG_IGN ||
			       (h == (uint64_t)(uintptr_t)SIG_DFL &&
				(sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH))))
		return 0;
	/* Not delivered, even with a handler installed: README.md. */
	r->action = LINUX_KILLED;
	r->signal = sig;
	snprintf(r->what, sizeof(r->what), "guest killed by %s (sent by the guest itself%s)",
		 linux__signal_name(sig), sig == SIGABRT ? ", abort()" : "");
	return 0;
}

static int64_t sys_clone(struct linux_proc *p, uint64_t flags)
{
	if (!p->thread_notice && p->io && p->io->notice) {
		p->thread_notice = true;
		p->io->notice(p->io_ctx, (flags & CLONE_THREAD) ?
			      "the guest tried to start a thread (clone with CLONE_THREAD): "
			      "threads are not supported, it gets ENOSYS" :
			      "the guest tried to fork (clone): processes are not supported, "
			      "it gets ENOSYS");
	}
	return -ENOSYS;
}

static int64_t unknown(struct linux_proc *p, uint64_t nr)
{
	p->unknown++;
	if (nr < LINUX_NR_COUNTED)
		p->unknown_by_nr[nr]++;
	else
		p->unknown_big++;
	return -ENOSYS;
}

/* Memory, files, signals, time: the calls with up to six arguments. */
static int64_t dispatch(struct linux_proc *p, const struct kvm_regs *g, struct linux_result *r)
{
	uint64_t a0 = g->rdi, a1 = g->rsi, a2 = g->rdx, a3 = g->r10, a4 = g->r8, a5 = g->r9;

	switch (g->rax) {
	case SYS_read: return fs__read(p, (int)a0, a1, a2);
	case SYS_write: return fs__write(p, (int)a0, a1, a2);
	case SYS_readv: return fs__readv(p, (int)a0, a1, a2, false);
	case SYS_writev: return fs__readv(p, (int)a0, a1, a2, true);
	case SYS_pread64: return fs__pread(p, (int)a0, a1, a2, (int64_t)a3);
	case SYS_open: return fs__openat(p, AT_FDCWD, a0, (int)a1);
	case SYS_openat: return fs__openat(p, (int)a0, a1, (int)a2);
	case SYS_close: return fs__close(p, (int)a0);
	case SYS_fstat: return fs__fstat(p, (int)a0, a1);
	case SYS_stat: return fs__newfstatat(p, AT_FDCWD, a0, a1, 0);
	case SYS_lstat: return fs__newfstatat(p, AT_FDCWD, a0, a1, AT_SYMLINK_NOFOLLOW);
	case SYS_newfstatat: return fs__newfstatat(p, (int)a0, a1, a2, (int)a3);
	case SYS_lseek: return fs__lseek(p, (int)a0, (int64_t)a1, (int)a2);
	case SYS_ioctl: return fs__ioctl(p, (int)a0, a1, a2);
	case SYS_fcntl: return fs__fcntl(p, (int)a0, (int)a1, a2);
	case SYS_brk: return mem__brk(p, a0);
	case SYS_mmap: return mem__mmap(p, a0, a1, (int)a2, (int)a3, (int)a4, a5);
	case SYS_munmap: return mem__munmap(p, a0, a1);
	case SYS_mprotect: return mem__mprotect(p, a0, a1, (int)a2);
	case SYS_mremap: return mem__mremap(p, a0, a1, a2, (int)a3, a4);
	case SYS_madvise: return mem__madvise(p, a0, a1, (int)a2);
	case SYS_clock_gettime: return sys_clock_gettime(p, (int64_t)a0, a1, false);
	case SYS_clock_getres: return sys_clock_gettime(p, (int64_t)a0, a1, true);
	case SYS_gettimeofday: return sys_gettimeofday(p, a0, a1);
	case SYS_time: return sys_time(p, a0);
	case SYS_nanosleep: return sys_nanosleep(p, CLOCK_MONOTONIC, 0, a0, a1);
	case SYS_clock_nanosleep: return sys_nanosleep(p, (int64_t)a0, (int)a1, a2, a3);
	case SYS_getrandom: return sys_getrandom(p, a0, a1, (unsigned)a2);
	case SYS_uname: return sys_uname(p, a0);
	case SYS_getpid: case SYS_gettid: return p->pid;
	case SYS_getppid: return 0;
	case SYS_getuid: case SYS_geteuid: case SYS_getgid: case SYS_getegid: return 0;
	case SYS_set_tid_address: p->tid_address = a0; return p->pid;
	case SYS_set_robust_list: return a1 == 24 ? 0 : -EINVAL;
	case SYS_rt_sigaction: return sys_sigaction(p, (int)a0, a1, a2, a3);
	case SYS_rt_sigprocmask: return sys_sigprocmask(p, (int)a0, a1, a2, a3);
	case SYS_sigaltstack: return sys_sigaltstack(p, a0, a1);
	case SYS_prlimit64: return sys_prlimit(p, (int64_t)a0, (unsigned)a1, a2, a3);
	case SYS_arch_prctl: return sys_arch_prctl(p, (int)a0, a1, r);
	case SYS_futex: return sys_futex(p, a0, (int)a1, (uint32_t)a2, a3, r);
	case SYS_sched_yield: return 0;
	case SYS_tkill:
		return (int64_t)a0 == p->pid ? send_self(p, (int)a1, r) : -ESRCH;
	case SYS_tgkill:
		return (int64_t)a0 == p->pid && (int64_t)a1 == p->pid ?
		       send_self(p, (int)a2, r) : -ESRCH;
	case SYS_kill:
		return (int64_t)a0 == p->pid || a0 == 0 ? send_self(p, (int)a1, r) : -ESRCH;
	case SYS_clone: return sys_clone(p, a0);
	case SYS_clone3: case SYS_fork: case SYS_vfork: return sys_clone(p, 0);
	default: return unknown(p, g->rax);
	}
}

void linux__syscall(struct linux_proc *p, struct kvm_regs *regs, struct linux_result *r)
{
	int64_t ret;

	memset(r, 0, sizeof(*r));
	p->calls++;
	switch (regs->rax) {
	case SYS_exit:
	case SYS_exit_group:
		r->action = LINUX_EXIT;
		r->status = (int)(regs->rdi & 0xff);
		return;
	case LINUX_SYS_VMM + HC_FUZZ_READY:
	case LINUX_SYS_VMM + HC_FUZZ_DONE:
		/* A request for the controller; it may answer in rax. */
		r->action = LINUX_REQUEST;
		r->req_nr = regs->rax - LINUX_SYS_VMM;
		regs->rax = (uint64_t)-EINTR;
		return;
	}
	ret = dispatch(p, regs, r);
	if (r->action == LINUX_RETURN)
		regs->rax = (uint64_t)ret;
}

void linux_proc__stats(struct linux_proc *p, struct linux_stats *s)
{
	*s = (struct linux_stats){.calls = p->calls, .unknown = p->unknown,
				  .brk_bytes = p->brk - p->brk_start, .vmas = p->nr_vmas};
	for (unsigned i = 0; i < p->nr_vmas; i++)
		if (p->vmas[i].kind == VMA_ANON)
			s->mmap_bytes += p->vmas[i].end - p->vmas[i].start;
}

void linux_proc__for_each_unknown(struct linux_proc *p,
				  void (*fn)(void *arg, int64_t nr, uint64_t count), void *arg)
{
	for (unsigned i = 0; i < LINUX_NR_COUNTED; i++)
		if (p->unknown_by_nr[i])
			fn(arg, i, p->unknown_by_nr[i]);
	if (p->unknown_big)
		fn(arg, -1, p->unknown_big);
}

const char *linux__signal_name(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL", [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE", [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
		[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
		[SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
		[SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU",
		[SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
		[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO", [SIGPWR] = "SIGPWR",
		[SIGSYS] = "SIGSYS",
	};

	if (sig > 0 && (unsigned)sig < sizeof(names) / sizeof(names[0]) && names[sig])
		return names[sig];
	return sig >= 32 && sig <= LINUX_NSIG ? "a real-time signal" : "an unknown signal";
}

int linux__vector_signal(unsigned vector)
{
	switch (vector) {
	case 0: case 16: case 19: return SIGFPE;  /* #DE, #MF, #XM */
	case 1: case 3: return SIGTRAP;		  /* #DB, #BP */
	case 6: return SIGILL;			  /* #UD (ud2, as musl's a_crash) */
	case 7: return SIGFPE;			  /* #NM: cannot happen, FPU on */
	case 17: return SIGBUS;			  /* #AC */
	default: return SIGSEGV;		  /* #GP, #PF, #SS, #NP, #OF, #BR, ... */
	}
}
