/* SPDX-License-Identifier: MIT */
/*
 * linux-internal: the process structure shared by the core's files. Only
 * vmm/linux includes it.
 */
#ifndef VMM_LINUX_INTERNAL_H
#define VMM_LINUX_INTERNAL_H

#include <signal.h>

#include "linux.h"

#define PAGE 4096ULL
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define LINUX_NSIG 64

enum vma_kind { VMA_IMAGE, VMA_HEAP, VMA_ANON, VMA_STACK };

/* A mapping: [start, end), page-aligned. Sorted, non-overlapping. */
struct vma {
	uint64_t start, end;
	int prot;
	enum vma_kind kind;
};

enum fd_kind { FD_NONE, FD_STDIN, FD_STDOUT, FD_STDERR, FD_FILE };

struct fd {
	enum fd_kind kind;
	unsigned file;		/* FD_FILE: index into files */
	uint64_t off;
	bool cloexec;
};

/* The kernel's struct k_sigaction on x86-64. */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

struct linux_proc {
	struct mm_space *space;
	uint8_t *mem;
	uint64_t mem_size;
	const struct linux_io_ops *io;
	void *io_ctx;
	struct linux_file *files;
	unsigned nr_files;
	struct fd fds[LINUX_MAX_FDS];

	/* Memory layout (linux-mem.c). */
	struct vma *vmas;
	unsigned nr_vmas;
	uint64_t brk_start, brk;	/* heap [brk_start, brk) */
	uint64_t mmap_top;		/* mappings go below this (the stack's guard) */
	uint64_t stack_lo;

	int64_t pid;			/* getpid's answer: 1, or a clone's own */
	uint64_t tid_address;
	struct ksigaction sigactions[LINUX_NSIG + 1];
	uint64_t sigmask;
	uint64_t altstack[3];		/* ss_sp, ss_flags (+pad), ss_size */
	bool thread_notice;

	uint64_t *touched;		/* linux_proc__track_touched: pages handed out */
	uint64_t calls, unknown, unknown_big;
	uint64_t unknown_by_nr[LINUX_NR_COUNTED];
};

/* linux-mem.c */
int mem__init(struct linux_proc *p);
/* Record a mapping (ELF image, stack); -ENOMEM if the table is full, -EEXIST on overlap. */
int mem__add(struct linux_proc *p, uint64_t start, uint64_t end, int prot, enum vma_kind kind);
int64_t mem__brk(struct linux_proc *p, uint64_t addr);
int64_t mem__mmap(struct linux_proc *p, uint64_t addr, uint64_t len, int prot, int flags,
		  int fd, uint64_t off);
int64_t mem__munmap(struct linux_proc *p, uint64_t addr, uint64_t len);
int64_t mem__mprotect(struct linux_proc *p, uint64_t addr, uint64_t len, int prot);
int64_t mem__mremap(struct linux_proc *p, uint64_t old, uint64_t old_len, uint64_t new_len,
		    int flags, uint64_t new_addr);
int64_t mem__madvise(struct linux_proc *p, uint64_t addr, uint64_t len, int advice);
/* Copy a NUL-terminated guest string of at most @len - 1 bytes: 0, -EFAULT, -ENAMETOOLONG. */
int mem__strncpy(struct linux_proc *p, uint64_t gva, char *out, size_t len);

/* linux-fs.c */
void fs__init(struct linux_proc *p);
int64_t fs__read(struct linux_proc *p, int fd, uint64_t buf, uint64_t len);
int64_t fs__write(struct linux_proc *p, int fd, uint64_t buf, uint64_t len);
int64_t fs__readv(struct linux_proc *p, int fd, uint64_t iov, uint64_t cnt, bool write);
int64_t fs__pread(struct linux_proc *p, int fd, uint64_t buf, uint64_t len, int64_t off);
int64_t fs__openat(struct linux_proc *p, int dirfd, uint64_t path, int flags);
int64_t fs__close(struct linux_proc *p, int fd);
int64_t fs__fstat(struct linux_proc *p, int fd, uint64_t buf);
int64_t fs__newfstatat(struct linux_proc *p, int dirfd, uint64_t path, uint64_t buf, int flags);
int64_t fs__lseek(struct linux_proc *p, int fd, int64_t off, int whence);
int64_t fs__ioctl(struct linux_proc *p, int fd, uint64_t req, uint64_t arg);
int64_t fs__fcntl(struct linux_proc *p, int fd, int cmd, uint64_t arg);
/* The file descriptor @fd if open, else NULL. */
struct fd *fs__fd(struct linux_proc *p, int fd);

/* linux-stack.c */
int stack__build(struct linux_proc *p, uint64_t phdr_gva, unsigned phnum,
		 uint64_t entry, int argc, char *const *argv, char *const *envp,
		 uint64_t *ret_rsp, char *msg, size_t msg_len);

/* linux-elf.c */
struct elf_info {
	uint64_t entry, phdr_gva, end; /* entry, AT_PHDR, end of the highest segment */
	unsigned phnum;
};
int elf__load_linux(struct linux_proc *p, const void *image, size_t size,
		    struct elf_info *ret_info, char *msg, size_t msg_len);

#endif
