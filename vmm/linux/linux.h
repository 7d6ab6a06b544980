/* SPDX-License-Identifier: MIT */
/*
 * linux: static x86-64 Linux programs as guests - the Linux system-call ABI
 * served by the VMM (issue 14).
 *
 * The core (linux-elf.c, linux-stack.c, linux-mem.c, linux-fs.c,
 * linux-syscall.c) knows no KVM: a process (struct linux_proc) is guest
 * memory (an mm space: host view of guest-physical [0, size), identity
 * mapped as guest-virtual) plus its brk, mappings, file descriptors and
 * signal bookkeeping. linux__syscall() takes the guest's registers at a
 * `syscall` and answers it, so tests drive it with plain host memory from
 * mm. The KVM glue (linux-vm.c) puts a process on a VM: the machine with a
 * guarded low 2 MiB, the syscall entry stub, the syscall exits.
 *
 * Guest address map of a process (virtual = guest-physical):
 *   [0, 2 MiB)                the VMM's (tables, stubs) and a guard: no
 *                             guest pointer may point here (-EFAULT); only
 *                             the syscall entry page is user-accessible
 *   ELF segments              ET_EXEC at their addresses (>= 2 MiB); ET_DYN
 *                             (static-pie) at LINUX_PIE_BASE
 *   brk heap                  from the page after the highest segment, up
 *   mmap area                 top-down from below the stack
 *   stack                     the top of RAM, LINUX_STACK_MAX at most
 */
#ifndef VMM_LINUX_H
#define VMM_LINUX_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm.h"

#define LINUX_USER_LO (2ULL << 20)	 /* lowest guest address a pointer may use */
#define LINUX_PIE_BASE (4ULL << 20)	 /* where a static-pie (ET_DYN) is loaded */
#define LINUX_STUB_GPA 0xb000ULL	 /* the syscall entry page (user R/X) */
#define LINUX_STACK_MAX (8ULL << 20)	 /* stack size cap (RLIMIT_STACK) */
#define LINUX_ARGS_MAX (128U << 10)	 /* argv + envp strings and pointers */
#define LINUX_MAX_FDS 64
#define LINUX_MAX_FILES 64		 /* --file grants */
#define LINUX_MAX_VMAS 4096
#define LINUX_PATH_MAX 4096
#define LINUX_NR_COUNTED 1024	 /* unknown calls counted by number below this */

/* What an ELF image is: the detection rule is linux_elf__detect's comment. */
enum linux_elf_kind {
	LINUX_ELF_BOOT_ABI,	/* a freestanding guest of guest-images/README.md */
	LINUX_ELF_LINUX,	/* a static Linux executable */
	LINUX_ELF_DYNAMIC,	/* a Linux executable with PT_INTERP: refused */
};

/*
 * Which ABI @image follows. The rule (README.md, "Linux programs"):
 *  - an image that carries the boot-ABI note (an ELF note of owner
 *    "vmm-cow", type 1: guest-images/crt0.S) is a boot-ABI guest;
 *  - an image whose header or program headers cannot be read is left to
 *    the boot-ABI loader, which names what is wrong;
 *  - one with PT_INTERP is a dynamically linked Linux program (refused);
 *  - any other ELF64 x86-64 ET_EXEC or ET_DYN with OS/ABI System V or
 *    GNU/Linux is a static Linux program (PT_TLS and PT_GNU_STACK are
 *    allowed, not required: musl's static binaries have no PT_TLS).
 */
enum linux_elf_kind linux_elf__detect(const void *image, size_t size);

/* A host file the user granted read-only (--file HOST[:GUEST]). */
struct linux_file {
	char guest_path[LINUX_PATH_MAX]; /* normalised, absolute */
	int host_fd;			 /* O_RDONLY; owned by the process from create on */
};

/* The guest's stdin, stdout and stderr. */
struct linux_io_ops {
	/* fd 1 or 2: bytes written or -errno */
	int64_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	/* fd 0: bytes read (0 at end) or -errno */
	int64_t (*read)(void *ctx, void *buf, size_t len);
	/* A one-line notice for the user (threads refused, ...); rate-limited by the caller. */
	void (*notice)(void *ctx, const char *msg);
};

struct linux_config {
	struct mm_space *space;		/* guest memory (not owned) */
	const struct linux_io_ops *io;
	void *io_ctx;
	struct linux_file *files;	/* grants; host fds owned from the call on */
	unsigned nr_files;
};

struct linux_proc;

int linux_proc__create(const struct linux_config *cfg, struct linux_proc **ret_proc);
void linux_proc__destroy(struct linux_proc *proc); /* NULL: no-op; closes the grants */

/*
 * A copy of the running process @src over @space, a clone of its memory (the
 * same size): descriptors, offsets, mappings, brk and signal state as they
 * are, the granted files duplicated (the copy owns its descriptors), I/O
 * through @src's ops with @io_ctx, and a process id of its own (getpid). For clones and fuzzing snapshot points:
 * call it while @src's vCPU is stopped.
 */
int linux_proc__clone(const struct linux_proc *src, struct mm_space *space, void *io_ctx,
		      struct linux_proc **ret_proc);
/*
 * Put @dst back to the state @point had (a clone of @dst's process, or of
 * the process @dst was cloned from): what linux_proc__clone copies, except
 * the counters, which keep counting. -EINVAL if they are not of one process.
 */
int linux_proc__restore(struct linux_proc *dst, const struct linux_proc *point);

/*
 * Record every guest page the VMM hands out for a system call to read or
 * write (linux_mem__ptr) from now on, and take that set: OR it into
 * @bitmap (one bit a page) and start afresh. A fuzzing reset restores
 * these pages too: the VMM's writes are no guest write KVM's dirty log
 * sees. 0 or -ENOMEM.
 */
int linux_proc__track_touched(struct linux_proc *proc);
void linux_proc__take_touched(struct linux_proc *proc, uint64_t *bitmap);

/* The registers a process starts with. */
struct linux_entry {
	uint64_t rip, rsp;
};

/*
 * Load the static Linux executable @image into guest memory and build its
 * initial stack: argc, @argv (@argc strings; argv[0] is the program's
 * name), @envp (NULL-terminated, may be NULL), the auxiliary vector, the
 * strings and 16 random bytes (AT_RANDOM). Nothing but guest memory and
 * the process's mappings change. -ENOEXEC/-ERANGE/-E2BIG with @ret_msg
 * naming the problem.
 */
int linux_proc__load(struct linux_proc *proc, const void *image, size_t size, int argc,
		     char *const *argv, char *const *envp, struct linux_entry *ret_entry,
		     char *ret_msg, size_t msg_len);

/*
 * The VMM's own system calls: number LINUX_SYS_VMM + HC_FUZZ_READY or
 * HC_FUZZ_DONE (guest-images/abi.h), arguments in rdi, rsi, rdx as the
 * hypercalls take them, make a Linux program a fuzzing target like a
 * boot-ABI guest (guest-images/linux/vmm-fuzz.h wraps them). Far above
 * every Linux number: anything else there is an unknown call (-ENOSYS).
 */
#define LINUX_SYS_VMM 0x564d4d00ULL /* "VMM\0" */

enum linux_action {
	LINUX_RETURN,	/* rax holds the result: back to the guest */
	LINUX_EXIT,	/* exit/exit_group: status */
	LINUX_KILLED,	/* a fatal signal: signal, what */
	LINUX_REQUEST,	/* a request for the controller (req_nr); rax -EINTR until answered */
};

struct linux_result {
	enum linux_action action;
	int status;		/* LINUX_EXIT: 0-255 */
	int signal;		/* LINUX_KILLED */
	uint64_t req_nr;	/* LINUX_REQUEST: HC_FUZZ_READY or HC_FUZZ_DONE */
	bool set_fs_base;	/* arch_prctl(ARCH_SET_FS): load FS base */
	uint64_t fs_base;
	char what[160];		/* LINUX_KILLED: one line for the user */
};

/*
 * Serve the system call in @regs (rax the number; rdi, rsi, rdx, r10, r8,
 * r9 the arguments): the result goes to regs->rax (a value or -errno) for
 * LINUX_RETURN; no other register changes. Every guest pointer is checked
 * (linux_mem__ptr): a bad one gives -EFAULT, and the VMM never touches
 * memory outside the guest's RAM above LINUX_USER_LO. Called on the vCPU's
 * thread; one vCPU per process.
 */
void linux__syscall(struct linux_proc *proc, struct kvm_regs *regs, struct linux_result *ret);

/*
 * The host view of guest [gva, gva + len) if all of it is RAM a guest
 * pointer may use ([LINUX_USER_LO, memory size), no wrap), else NULL.
 * len 0 is checked like len 1.
 */
void *linux_mem__ptr(struct linux_proc *proc, uint64_t gva, uint64_t len);

/* Counters for --stats. */
struct linux_stats {
	uint64_t calls;			/* every system call served */
	uint64_t unknown;		/* of them -ENOSYS because not served */
	uint64_t brk_bytes, mmap_bytes;	/* current heap and mapped anonymous memory */
	unsigned vmas;
};
void linux_proc__stats(struct linux_proc *proc, struct linux_stats *ret_stats);
/*
 * Unknown system calls by number: call @fn for each number that was asked
 * for at least once (numbers >= LINUX_NR_COUNTED are counted as one, nr = -1).
 */
void linux_proc__for_each_unknown(struct linux_proc *proc,
				  void (*fn)(void *arg, int64_t nr, uint64_t count), void *arg);

const char *linux__syscall_name(uint64_t nr); /* "?" if not known */
const char *linux__signal_name(int sig);	  /* "SIGSEGV"; "signal N" form not given */
/* The signal Linux sends for x86 exception @vector (SIGSEGV, SIGILL, SIGFPE, ...). */
int linux__vector_signal(unsigned vector);

/*
 * Normalise a guest path: relative paths are taken from "/" (the
 * process's working directory), "//" and "/./" collapse, ".." is refused.
 * 0, -EINVAL (empty, ".."), -ENAMETOOLONG.
 */
int linux__normalize_path(const char *path, char *out, size_t len);

#endif
