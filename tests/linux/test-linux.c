// SPDX-License-Identifier: MIT
/*
 * test-linux: the KVM-free core of vmm/linux (suite vmm). Guest memory is
 * an mm space in host memory; system calls are driven through
 * linux__syscall with a register struct, exactly as the VM glue does.
 * ELF detection and loading use the programs built with musl-gcc and gcc.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <cmocka.h>

#include "abi.h"
#include "builtin-guests.h"
#include "linux.h"
#include "progs-path.h"

#define MEM (64ULL << 20)
#define MIB (1ULL << 20)

struct fixture {
	struct mm_pool *pool;
	struct mm_space *space;
	struct linux_proc *proc;
	uint8_t *mem;
	char out[65536];
	size_t out_len;
	char notice[256];
	int64_t write_ret; /* 0: accept all */
};

static struct fixture *fx;

static int64_t cap_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fixture *f = ctx;

	(void)fd;
	if (f->write_ret)
		return f->write_ret;
	if (f->out_len + len < sizeof(f->out)) {
		memcpy(f->out + f->out_len, buf, len);
		f->out_len += len;
	}
	return (int64_t)len;
}

static int64_t cap_read(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	memset(buf, 'i', len > 3 ? 3 : len);
	return len > 3 ? 3 : (int64_t)len;
}

static void cap_notice(void *ctx, const char *msg)
{
	struct fixture *f = ctx;

	snprintf(f->notice, sizeof(f->notice), "%s", msg);
}

static const struct linux_io_ops cap_ops = {cap_write, cap_read, cap_notice};

static int make_proc(struct linux_file *files, unsigned nr_files)
{
	struct linux_config cfg = {.io = &cap_ops, .files = files, .nr_files = nr_files};

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	assert_int_equal(mm_pool_create(NULL, &fx->pool), 0);
	assert_int_equal(mm_space_create(fx->pool, MEM, &fx->space), 0);
	fx->mem = mm_space_hva(fx->space);
	cfg.space = fx->space;
	cfg.io_ctx = fx;
	return linux_proc__create(&cfg, &fx->proc);
}

static int setup(void **state)
{
	(void)state;
	return make_proc(NULL, 0);
}

static int teardown(void **state)
{
	(void)state;
	linux_proc__destroy(fx->proc);
	assert_int_equal(mm_space_destroy(fx->space), 0);
	assert_int_equal(mm_pool_destroy(fx->pool), 0);
	free(fx);
	fx = NULL;
	return 0;
}

/* One system call; its result (rax), and the action in @r if given. */
static int64_t sc6(struct linux_result *r, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5)
{
	struct kvm_regs regs = {.rax = nr, .rdi = a0, .rsi = a1, .rdx = a2, .r10 = a3,
				.r8 = a4, .r9 = a5, .rcx = 0x1234, .r11 = 0x202};
	struct kvm_regs before;
	struct linux_result res;

	before = regs;
	linux__syscall(fx->proc, &regs, r ? r : &res);
	/* Nothing but rax changes. */
	before.rax = regs.rax;
	assert_memory_equal(&before, &regs, sizeof(regs));
	if (!r)
		assert_int_equal(res.action, LINUX_RETURN);
	return (int64_t)regs.rax;
}

#define SC(...) sc_n(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
#define sc_n(nr, a, b, c, d, e, f, ...) sc6(NULL, nr, (uint64_t)(a), (uint64_t)(b), \
					    (uint64_t)(c), (uint64_t)(d), (uint64_t)(e), (uint64_t)(f))

/* A scratch guest buffer: inside the stack area, which the fixture never loads. */
#define G(off) (MEM - MIB + (off))

static const uint64_t hostile[] = {
	0, 0x10, 0xb000, 0x100000, LINUX_USER_LO - 1, MEM, MEM - 2, 1ULL << 40, ~0ULL - 7,
};

/* ---------------------------------------------------------------- ELF */

static const struct builtin_guest *builtin(const char *name)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

static void test_detect(void **state)
{
	static const char *const linux_progs[] = {"gcc-hello", "musl-hello", "gcc-pie-hello",
						  "gcc-tls", "musl-tls"};
	size_t size;

	(void)state;
	/* Every built-in guest carries the boot-ABI marker but sysbench, a Linux program. */
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		assert_int_equal(linux_elf__detect(g->data, g->size),
				 strcmp(g->name, "sysbench") ? LINUX_ELF_BOOT_ABI : LINUX_ELF_LINUX);
	for (unsigned i = 0; i < sizeof(linux_progs) / sizeof(linux_progs[0]); i++) {
		uint8_t *img = progs__read(linux_progs[i], &size);

		if (!img)
			continue; /* musl-gcc missing: said at configure time */
		assert_int_equal(linux_elf__detect(img, size), LINUX_ELF_LINUX);
		if (i == 0) {
			Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
			Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff);

			/* A PT_INTERP makes it dynamic. */
			ph[eh->e_phnum - 1].p_type = PT_INTERP;
			assert_int_equal(linux_elf__detect(img, size), LINUX_ELF_DYNAMIC);
			/* Another OS/ABI: left to the boot-ABI loader. */
			ph[eh->e_phnum - 1].p_type = PT_NULL;
			img[EI_OSABI] = ELFOSABI_FREEBSD;
			assert_int_equal(linux_elf__detect(img, size), LINUX_ELF_BOOT_ABI);
		}
		free(img);
	}
	/* Unreadable images go to the boot-ABI loader, which names the problem. */
	assert_int_equal(linux_elf__detect("junk", 4), LINUX_ELF_BOOT_ABI);
	assert_int_equal(linux_elf__detect("\x7f" "ELF", 4), LINUX_ELF_BOOT_ABI);
}

static uint64_t stack_word(uint64_t gva)
{
	uint64_t v;

	assert_true(gva >= LINUX_USER_LO && gva + 8 <= MEM);
	memcpy(&v, fx->mem + gva, 8);
	return v;
}

static const char *stack_str(uint64_t gva)
{
	assert_true(gva >= LINUX_USER_LO && gva < MEM);
	return (const char *)fx->mem + gva;
}

static void check_stack(const char *name, const uint8_t *img, struct linux_entry *e)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	uint64_t sp = e->rsp, aux[64] = {0}, at;

	assert_int_equal(sp % 16, 0);
	assert_int_equal(stack_word(sp), 3);
	assert_string_equal(stack_str(stack_word(sp + 8)), name);
	assert_string_equal(stack_str(stack_word(sp + 16)), "one");
	assert_string_equal(stack_str(stack_word(sp + 24)), "two words");
	assert_int_equal(stack_word(sp + 32), 0);
	assert_string_equal(stack_str(stack_word(sp + 40)), "A=1");
	assert_string_equal(stack_str(stack_word(sp + 48)), "B=");
	assert_int_equal(stack_word(sp + 56), 0);
	for (at = sp + 64; stack_word(at) != AT_NULL; at += 16) {
		assert_true(stack_word(at) < 64);
		aux[stack_word(at)] = stack_word(at + 8);
	}
	assert_int_equal(aux[AT_PAGESZ], 4096);
	assert_int_equal(aux[AT_PHENT], sizeof(Elf64_Phdr));
	assert_int_equal(aux[AT_PHNUM], eh->e_phnum);
	assert_int_equal(aux[AT_ENTRY], e->rip);
	assert_int_equal(aux[AT_SECURE], 0);
	assert_string_equal(stack_str(aux[AT_EXECFN]), name);
	assert_string_equal(stack_str(aux[AT_PLATFORM]), "x86_64");
	assert_true(aux[AT_RANDOM] > sp && aux[AT_RANDOM] + 16 <= MEM);
	/* AT_PHDR points at the program headers, as loaded. */
	assert_memory_equal(fx->mem + aux[AT_PHDR], img + eh->e_phoff,
			    eh->e_phnum * sizeof(Elf64_Phdr));
}

static void load_prog(const char *name, struct linux_entry *e)
{
	char *argv[] = {(char *)name, "one", "two words", NULL};
	char *envp[] = {"A=1", "B=", NULL};
	char msg[200] = "";
	size_t size;
	uint8_t *img = progs__read(name, &size);

	assert_non_null(img);
	if (linux_proc__load(fx->proc, img, size, 3, argv, envp, e, msg, sizeof(msg)))
		fail_msg("loading %s: %s", name, msg);
	check_stack(name, img, e);
	if (((Elf64_Ehdr *)img)->e_type == ET_EXEC)
		assert_int_equal(e->rip, ((Elf64_Ehdr *)img)->e_entry);
	else
		assert_int_equal(e->rip, LINUX_PIE_BASE + ((Elf64_Ehdr *)img)->e_entry);
	free(img);
}

static void test_load_and_stack(void **state)
{
	static const char *const progs[] = {"gcc-hello", "musl-hello", "gcc-pie-hello"};
	struct linux_entry e;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		if (!progs__path(progs[i]))
			continue;
		teardown(NULL);
		assert_int_equal(setup(NULL), 0);
		load_prog(progs[i], &e);
		/* brk starts after the image; memory there is free. */
		int64_t brk = SC(SYS_brk, 0);

		assert_true(brk > (int64_t)LINUX_USER_LO && brk % 4096 == 0);
	}
}

static void test_load_rejects(void **state)
{
	struct linux_entry e;
	char msg[200];
	size_t size;
	uint8_t *img = progs__read("gcc-hello", &size);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff);
	char *argv[] = {"x", NULL};

	(void)state;
	assert_non_null(img);
	/* A segment in the VMM's low 2 MiB. */
	ph[0].p_vaddr = 0x1000;
	assert_int_equal(linux_proc__load(fx->proc, img, size, 1, argv, NULL, &e, msg, sizeof(msg)),
			 -ERANGE);
	assert_non_null(strstr(msg, "outside"));
	ph[0].p_vaddr = 0x400000;
	/* Past RAM, wrapping. */
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			uint64_t save = ph[i].p_vaddr;

			ph[i].p_vaddr = ~0ULL - 0x100;
			assert_int_equal(linux_proc__load(fx->proc, img, size, 1, argv, NULL, &e, msg,
							  sizeof(msg)), -ERANGE);
			ph[i].p_vaddr = MEM - 0x1000;
			assert_int_equal(linux_proc__load(fx->proc, img, size, 1, argv, NULL, &e, msg,
							  sizeof(msg)), -ERANGE);
			ph[i].p_vaddr = save;
			break;
		}
	/* Arguments too long. */
	char *big = malloc(LINUX_ARGS_MAX + 1);
	char *bargv[] = {"x", big, NULL};

	memset(big, 'a', LINUX_ARGS_MAX);
	big[LINUX_ARGS_MAX] = 0;
	assert_int_equal(linux_proc__load(fx->proc, img, size, 2, bargv, NULL, &e, msg, sizeof(msg)),
			 -E2BIG);
	free(big);
	/* The boot-ABI hello is ET_EXEC too but its segments are fine: it loads, detect says no. */
	assert_non_null(builtin("hello"));
	free(img);
}

/* ---------------------------------------------------------- stdio */

static void test_write_read(void **state)
{
	struct iovec iov[3];

	(void)state;
	memcpy(fx->mem + G(0), "hello, ", 7);
	memcpy(fx->mem + G(100), "world\n", 6);
	assert_int_equal(SC(SYS_write, 1, G(0), 7), 7);
	iov[0] = (struct iovec){(void *)(uintptr_t)G(0), 7};
	iov[1] = (struct iovec){NULL, 0};
	iov[2] = (struct iovec){(void *)(uintptr_t)G(100), 6};
	memcpy(fx->mem + G(200), iov, sizeof(iov));
	assert_int_equal(SC(SYS_writev, 2, G(200), 3), 13);
	assert_int_equal(fx->out_len, 20);
	assert_memory_equal(fx->out, "hello, hello, world\n", 20);
	assert_int_equal(SC(SYS_write, 1, G(0), 0), 0);
	assert_int_equal(SC(SYS_write, 0, G(0), 1), -EBADF);
	assert_int_equal(SC(SYS_write, 7, G(0), 1), -EBADF);
	assert_int_equal(SC(SYS_write, -1, G(0), 1), -EBADF);
	assert_int_equal(SC(SYS_read, 0, G(300), 10), 3);
	assert_memory_equal(fx->mem + G(300), "iii", 3);
	assert_int_equal(SC(SYS_read, 1, G(300), 10), -EBADF);
	iov[0] = (struct iovec){(void *)(uintptr_t)G(400), 2};
	iov[1] = (struct iovec){(void *)(uintptr_t)G(500), 5};
	memcpy(fx->mem + G(200), iov, 2 * sizeof(iov[0]));
	assert_int_equal(SC(SYS_readv, 0, G(200), 2), 5); /* 2, then 3 of 5: short */
	assert_int_equal(SC(SYS_writev, 1, G(200), 1025), -EINVAL);
	/* A console error is the guest's error. */
	fx->write_ret = -EIO;
	assert_int_equal(SC(SYS_write, 1, G(0), 7), -EIO);
	fx->write_ret = 0;
	assert_int_equal(SC(SYS_ioctl, 1, 0x5413 /* TIOCGWINSZ */, G(0)), -ENOTTY);
	assert_int_equal(SC(SYS_ioctl, 9, 0x5413, G(0)), -EBADF);
	assert_int_equal(SC(SYS_fcntl, 1, F_GETFL), O_WRONLY);
	assert_int_equal(SC(SYS_fcntl, 1, F_SETFD, FD_CLOEXEC), 0);
	assert_int_equal(SC(SYS_fcntl, 1, F_GETFD), FD_CLOEXEC);
	assert_int_equal(SC(SYS_fcntl, 1, 9999), -EINVAL);
	assert_int_equal(SC(SYS_lseek, 1, 0, SEEK_SET), -ESPIPE);
	assert_int_equal(SC(SYS_fstat, 1, G(1000)), 0);
	assert_true(S_ISCHR(((struct stat *)(fx->mem + G(1000)))->st_mode));
	assert_int_equal(SC(SYS_close, 2), 0);
	assert_int_equal(SC(SYS_close, 2), -EBADF);
	assert_int_equal(SC(SYS_write, 2, G(0), 1), -EBADF);
}

/* Every pointer-taking call refuses every hostile pointer with -EFAULT. */
static void test_hostile_pointers(void **state)
{
	struct iovec iov = {NULL, 16};
	struct timespec ts = {0, 1};

	(void)state;
	memcpy(fx->mem + G(8000), &ts, sizeof(ts));
	memset(fx->mem + MEM - 2, 'a', 2); /* a path there runs off the end of RAM */
	for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		uint64_t b = hostile[i];

		assert_int_equal(SC(SYS_write, 1, b, 16), -EFAULT);
		assert_int_equal(SC(SYS_read, 0, b, 16), -EFAULT);
		assert_int_equal(SC(SYS_writev, 1, b, 1), -EFAULT);
		iov.iov_base = (void *)(uintptr_t)b;
		memcpy(fx->mem + G(0), &iov, sizeof(iov));
		assert_int_equal(SC(SYS_writev, 1, G(0), 1), -EFAULT);
		assert_int_equal(SC(SYS_readv, 0, G(0), 1), -EFAULT);
		assert_int_equal(SC(SYS_openat, AT_FDCWD, b, O_RDONLY), -EFAULT);
		assert_int_equal(SC(SYS_open, b, O_RDONLY), -EFAULT);
		assert_int_equal(SC(SYS_fstat, 1, b), -EFAULT);
		assert_int_equal(SC(SYS_newfstatat, AT_FDCWD, b, G(100), 0), -EFAULT);
		assert_int_equal(SC(SYS_clock_gettime, CLOCK_MONOTONIC, b), -EFAULT);
		assert_int_equal(SC(SYS_clock_getres, CLOCK_MONOTONIC, b), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_gettimeofday, b, 0), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_gettimeofday, G(100), b), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_time, b), b ? -EFAULT : SC(SYS_time, 0));
		assert_int_equal(SC(SYS_nanosleep, b, 0), -EFAULT);
		assert_int_equal(SC(SYS_nanosleep, G(8000), b), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_getrandom, b, 16, 0), -EFAULT);
		assert_int_equal(SC(SYS_uname, b), -EFAULT);
		assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, b, 0, 8), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, 0, b, 8), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_rt_sigprocmask, SIG_BLOCK, b, 0, 8), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_rt_sigprocmask, SIG_BLOCK, 0, b, 8), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_sigaltstack, b, 0), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_prlimit64, 0, RLIMIT_STACK, 0, b), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_prlimit64, 0, RLIMIT_STACK, b, 0), b ? -EFAULT : 0);
		assert_int_equal(SC(SYS_futex, b, 0 /* FUTEX_WAIT */, 1, 0), (b & 3) ? -EINVAL :
				 -EFAULT);
	}
	/* A buffer that starts in RAM and runs past its end. */
	assert_int_equal(SC(SYS_write, 1, MEM - 8, 16), -EFAULT);
	assert_int_equal(SC(SYS_getrandom, MEM - 8, 16, 0), -EFAULT);
	/* A path that runs off the end of RAM without a NUL. */
	memset(fx->mem + MEM - 16, 'a', 16);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, MEM - 16, O_RDONLY), -EFAULT);
	assert_int_equal(fx->out_len, 0);
}

/* ------------------------------------------------------------ memory */

static bool zero(uint64_t gva, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (fx->mem[gva + i])
			return false;
	return true;
}

static void test_brk(void **state)
{
	struct linux_entry e;
	int64_t b0, b1;

	(void)state;
	load_prog("gcc-hello", &e);
	b0 = SC(SYS_brk, 0);
	b1 = SC(SYS_brk, b0 + 100000);
	assert_int_equal(b1, b0 + 100000);
	memset(fx->mem + b0, 0xab, 100000);
	/* Shrink: the dropped pages read zero when the heap grows back. */
	assert_int_equal(SC(SYS_brk, b0 + 4096), b0 + 4096);
	assert_int_equal(SC(SYS_brk, b0 + 100000), b0 + 100000);
	assert_true(zero((uint64_t)b0 + 4096, 100000 - 4096));
	/* Below the start, into the stack, past RAM: refused (the old break). */
	assert_int_equal(SC(SYS_brk, b0 - 4096), b0 + 100000);
	assert_int_equal(SC(SYS_brk, MEM - 4096), b0 + 100000);
	assert_int_equal(SC(SYS_brk, ~0ULL), b0 + 100000);
}

static void test_mmap(void **state)
{
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	struct linux_stats st;
	int64_t a, b, c, d;

	(void)state;
	a = SC(SYS_mmap, 0, 3 * 4096 + 1, PROT_READ | PROT_WRITE, anon, -1, 0);
	assert_true(a > 0 && a % 4096 == 0 && (uint64_t)a >= LINUX_USER_LO && (uint64_t)a < MEM);
	assert_true(zero((uint64_t)a, 4 * 4096));
	memset(fx->mem + a, 1, 4 * 4096);
	b = SC(SYS_mmap, 0, 8192, PROT_READ, anon, -1, 0);
	assert_true(b > 0 && (b + 8192 <= a || b >= a + 4 * 4096));
	/* munmap, then the range comes back zero. */
	assert_int_equal(SC(SYS_munmap, a, 4 * 4096), 0);
	c = SC(SYS_mmap, a, 4 * 4096, PROT_READ | PROT_WRITE, anon, -1, 0);
	assert_int_equal(c, a); /* the hint is free again */
	assert_true(zero((uint64_t)c, 4 * 4096));
	/* MAP_FIXED replaces, MAP_FIXED_NOREPLACE refuses. */
	memset(fx->mem + c, 2, 4096);
	assert_int_equal(SC(SYS_mmap, c, 4096, PROT_READ, anon | MAP_FIXED, -1, 0), c);
	assert_true(zero((uint64_t)c, 4096));
	assert_int_equal(SC(SYS_mmap, c, 4096, PROT_READ, anon | MAP_FIXED_NOREPLACE, -1, 0),
			 -EEXIST);
	/* MAP_FIXED outside user memory. */
	for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		if (hostile[i] % 4096 == 0)
			assert_int_equal(SC(SYS_mmap, hostile[i], 4096, PROT_READ, anon | MAP_FIXED,
					    -1, 0), -ENOMEM);
	/* Bad arguments. */
	assert_int_equal(SC(SYS_mmap, 0, 0, PROT_READ, anon, -1, 0), -EINVAL);
	assert_int_equal(SC(SYS_mmap, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), -EINVAL);
	assert_int_equal(SC(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, 3, 0), -ENODEV);
	assert_int_equal(SC(SYS_mmap, 0, MEM * 2, PROT_READ, anon, -1, 0), -EINVAL);
	assert_int_equal(SC(SYS_mmap, 0, MEM - 4096, PROT_READ, anon, -1, 0), -ENOMEM);
	/* mprotect and madvise on mapped and unmapped ranges. */
	assert_int_equal(SC(SYS_mprotect, b, 8192, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(SC(SYS_mprotect, b + 1, 4096, PROT_READ), -EINVAL);
	assert_int_equal(SC(SYS_mprotect, 0x1000, 4096, PROT_READ), -ENOMEM);
	memset(fx->mem + b, 3, 8192);
	assert_int_equal(SC(SYS_madvise, b, 8192, MADV_DONTNEED), 0);
	assert_true(zero((uint64_t)b, 8192));
	assert_int_equal(SC(SYS_madvise, b, 8192, MADV_WILLNEED), 0);
	/* mremap: grow in place or move (contents kept), shrink. */
	d = SC(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(fx->mem + d, 7, 4096);
	int64_t m = SC(SYS_mremap, d, 4096, 64 * 4096, MREMAP_MAYMOVE, 0);

	assert_true(m > 0);
	assert_int_equal(fx->mem[m], 7);
	assert_int_equal(fx->mem[m + 4095], 7);
	assert_true(zero((uint64_t)m + 4096, 63 * 4096));
	assert_int_equal(SC(SYS_mremap, m, 64 * 4096, 4096, 0, 0), m);
	assert_int_equal(SC(SYS_mremap, 0x1000, 4096, 8192, MREMAP_MAYMOVE, 0), -EINVAL);
	assert_int_equal(SC(SYS_munmap, m, 4096), 0);
	assert_int_equal(SC(SYS_munmap, 0x1000, 4096), -EINVAL);
	assert_int_equal(SC(SYS_munmap, m + 1, 4096), -EINVAL);
	linux_proc__stats(fx->proc, &st);
	assert_true(st.vmas < 10);
}

/* Many small mappings merge; the table never overflows silently. */
static void test_mmap_many(void **state)
{
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	struct linux_stats st;

	(void)state;
	for (int i = 0; i < 5000; i++)
		assert_true(SC(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, anon, -1, 0) > 0);
	linux_proc__stats(fx->proc, &st);
	assert_true(st.vmas <= 3);
	assert_int_equal(st.mmap_bytes, 5000 * 4096);
}

/* ------------------------------------------------------------- files */

/* A grant of a host file holding "granted contents\n" (17 bytes), already unlinked. */
static void open_granted(struct linux_file *f)
{
	char path[] = "/tmp/vmm-linux-file-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "granted contents\n", 17), 17);
	close(fd);
	f->host_fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(f->host_fd >= 0);
	unlink(path);
}

static void test_files(void **state)
{
	struct linux_file *files = calloc(2, sizeof(*files));
	char msg[100];
	int64_t g;

	(void)state;
	teardown(NULL);
	open_granted(&files[0]);
	assert_int_equal(linux__normalize_path("data//./in.txt", files[0].guest_path,
					       sizeof(files[0].guest_path)), 0);
	assert_string_equal(files[0].guest_path, "/data/in.txt");
	assert_int_equal(linux__normalize_path("../x", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(make_proc(files, 1), 0);
	free(files);

	strcpy((char *)fx->mem + G(0), "/data/in.txt");
	strcpy((char *)fx->mem + G(100), "data/./in.txt");
	strcpy((char *)fx->mem + G(200), "/etc/passwd");
	strcpy((char *)fx->mem + G(300), "");
	g = SC(SYS_openat, AT_FDCWD, G(0), O_RDONLY | O_CLOEXEC);
	assert_int_equal(g, 3);
	assert_int_equal(SC(SYS_open, G(100), O_RDONLY), 4);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(200), O_RDONLY), -ENOENT);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(300), O_RDONLY), -ENOENT);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(200), O_RDONLY | O_CREAT), -EACCES);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(0), O_WRONLY), -EACCES);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(0), O_RDONLY | O_TRUNC), -EACCES);
	assert_int_equal(SC(SYS_openat, 3, G(100), O_RDONLY), -ENOTDIR);
	assert_int_equal(SC(SYS_openat, 33, G(100), O_RDONLY), -EBADF);
	assert_int_equal(SC(SYS_fstat, g, G(1000)), 0);
	assert_int_equal(((struct stat *)(fx->mem + G(1000)))->st_size, 17);
	assert_int_equal(SC(SYS_newfstatat, AT_FDCWD, G(0), G(2000), 0), 0);
	assert_int_equal(((struct stat *)(fx->mem + G(2000)))->st_size, 17);
	assert_int_equal(SC(SYS_newfstatat, g, G(300), G(2000), AT_EMPTY_PATH), 0);
	assert_int_equal(SC(SYS_newfstatat, AT_FDCWD, G(200), G(2000), 0), -ENOENT);
	assert_int_equal(SC(SYS_read, g, G(3000), 8), 8);
	assert_memory_equal(fx->mem + G(3000), "granted ", 8);
	assert_int_equal(SC(SYS_read, g, G(3000), 100), 9);
	assert_int_equal(SC(SYS_read, g, G(3000), 100), 0);
	assert_int_equal(SC(SYS_lseek, g, -3, SEEK_END), 14);
	assert_int_equal(SC(SYS_lseek, g, -100, SEEK_CUR), -EINVAL);
	assert_int_equal(SC(SYS_lseek, g, 0, 7), -EINVAL);
	assert_int_equal(SC(SYS_pread64, g, G(3000), 7, 0), 7);
	assert_memory_equal(fx->mem + G(3000), "granted", 7);
	assert_int_equal(SC(SYS_pread64, g, G(3000), 7, -1), -EINVAL);
	assert_int_equal(SC(SYS_pread64, 0, G(3000), 7, 0), -ESPIPE);
	assert_int_equal(SC(SYS_write, g, G(3000), 7), -EBADF);
	for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		if (SC(SYS_read, g, hostile[i], 16) != -EFAULT)
			fail_msg("read to hostile[%u] 0x%llx", i, (unsigned long long)hostile[i]);
		assert_int_equal(SC(SYS_pread64, g, hostile[i], 16, 0), -EFAULT);
		assert_int_equal(SC(SYS_fstat, g, hostile[i]), -EFAULT);
		assert_int_equal(SC(SYS_newfstatat, AT_FDCWD, G(0), hostile[i], 0), -EFAULT);
	}
	assert_int_equal(SC(SYS_close, g), 0);
	assert_int_equal(SC(SYS_read, g, G(3000), 1), -EBADF);
	/* The table fills up: EMFILE. */
	for (int i = 0; i < LINUX_MAX_FDS; i++)
		SC(SYS_openat, AT_FDCWD, G(0), O_RDONLY);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(0), O_RDONLY), -EMFILE);
}

/*
 * A clone of a running process over a clone of its memory: descriptors,
 * offsets, heap, mappings and signal state carry over; afterwards each
 * goes its own way (the copy owns its own host descriptors). Restore puts
 * a process back to a point taken earlier.
 */
static void test_clone_restore(void **state)
{
	struct linux_file *files = calloc(1, sizeof(*files));
	struct linux_proc *parent, *child, *point, *other;
	struct mm_space *cspace, *small;
	uint8_t *pmem, *cmem;
	uint64_t act[4] = {(uint64_t)(uintptr_t)SIG_IGN, 0, 0, 0};
	struct linux_entry e;
	int64_t brk0, m0, pm, cm;

	(void)state;
	teardown(NULL);
	open_granted(&files[0]);
	strcpy(files[0].guest_path, "/in");
	assert_int_equal(make_proc(files, 1), 0);
	free(files);
	load_prog("gcc-hello", &e);
	strcpy((char *)fx->mem + G(0), "/in");
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(0), O_RDONLY), 3);
	assert_int_equal(SC(SYS_read, 3, G(100), 8), 8);
	brk0 = SC(SYS_brk, 0);
	assert_int_equal(SC(SYS_brk, brk0 + 65536), brk0 + 65536);
	m0 = SC(SYS_mmap, 0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m0 > 0);
	memcpy(fx->mem + G(200), act, sizeof(act));
	assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, G(200), 0, 8), 0);

	assert_int_equal(mm_space_clone(fx->space, 0, &cspace), 0);
	assert_int_equal(linux_proc__clone(fx->proc, cspace, fx, &child), 0);
	parent = fx->proc;
	pmem = fx->mem;
	cmem = mm_space_hva(cspace);
	/* The parent goes on: its reads move its own offset. */
	assert_int_equal(SC(SYS_read, 3, G(100), 4), 4);
	assert_memory_equal(fx->mem + G(100), "cont", 4);
	pm = SC(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* The child: the same offset, heap, next mapping and signal state as at the clone. */
	fx->proc = child;
	fx->mem = cmem;
	assert_int_equal(SC(SYS_read, 3, G(100), 100), 9);
	assert_memory_equal(fx->mem + G(100), "contents\n", 9);
	assert_int_equal(SC(SYS_brk, 0), brk0 + 65536);
	cm = SC(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_int_equal(cm, pm);
	assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, 0, G(300), 8), 0);
	assert_memory_equal(fx->mem + G(300), act, sizeof(act));
	/* A pid of its own: signals to the parent's id find no one. */
	assert_true(SC(SYS_getpid) > 1);
	assert_int_equal(SC(SYS_kill, 1, 0), -ESRCH);
	assert_int_equal(SC(SYS_tkill, SC(SYS_getpid), SIGUSR1), 0); /* still ignored */
	/* A point, then the child changes everything and is put back. */
	assert_int_equal(linux_proc__clone(child, cspace, fx, &point), 0);
	assert_int_equal(SC(SYS_lseek, 3, 0, SEEK_SET), 0);
	assert_int_equal(SC(SYS_brk, brk0 + 8192), brk0 + 8192);
	assert_int_equal(SC(SYS_munmap, m0, 65536), 0);
	assert_int_equal(SC(SYS_openat, AT_FDCWD, G(0), O_RDONLY), 4);
	assert_int_equal(SC(SYS_close, 3), 0);
	cm = SC(SYS_getpid);
	assert_int_equal(linux_proc__restore(child, point), 0);
	assert_int_equal(SC(SYS_getpid), cm); /* a restore keeps the id */
	assert_int_equal(SC(SYS_read, 3, G(100), 100), 0); /* at the end, as at the point */
	assert_int_equal(SC(SYS_read, 4, G(100), 1), -EBADF);
	assert_int_equal(SC(SYS_brk, 0), brk0 + 65536);
	assert_int_equal(SC(SYS_munmap, m0, 65536), 0); /* mapped again: it was at the point */
	assert_int_equal(SC(SYS_lseek, 3, 0, SEEK_SET), 0);
	/* The child's close and reads never touched the parent's descriptor. */
	linux_proc__destroy(child);
	linux_proc__destroy(point);
	fx->proc = parent;
	fx->mem = pmem;
	assert_int_equal(SC(SYS_read, 3, G(100), 100), 5);
	assert_memory_equal(fx->mem + G(100), "ents\n", 5);
	/* Not one process: refused. */
	assert_int_equal(mm_space_create(fx->pool, MEM / 2, &small), 0);
	assert_int_equal(linux_proc__clone(parent, small, fx, &other), -EINVAL);
	assert_int_equal(mm_space_destroy(small), 0);
	assert_int_equal(mm_space_destroy(cspace), 0);
	assert_int_equal(mm_space_create(fx->pool, MEM, &cspace), 0);
	{
		struct linux_config cfg = {.space = cspace, .io = &cap_ops, .io_ctx = fx};

		assert_int_equal(linux_proc__create(&cfg, &other), 0);
	}
	assert_int_equal(linux_proc__restore(other, parent), -EINVAL); /* no grant there */
	linux_proc__destroy(other);
	assert_int_equal(mm_space_destroy(cspace), 0);
}

/* ---------------------------------------------- process, time, signals */

static void test_process_calls(void **state)
{
	struct linux_result r;
	struct utsname {
		char f[6][65];
	} *u;
	struct timespec *ts;

	(void)state;
	assert_int_equal(SC(SYS_getpid), 1);
	assert_int_equal(SC(SYS_gettid), 1);
	assert_int_equal(SC(SYS_set_tid_address, G(0)), 1);
	assert_int_equal(SC(SYS_set_robust_list, G(0), 24), 0);
	assert_int_equal(SC(SYS_set_robust_list, G(0), 23), -EINVAL);
	assert_int_equal(SC(SYS_uname, G(0)), 0);
	u = (void *)(fx->mem + G(0));
	assert_string_equal(u->f[0], "Linux");
	assert_string_equal(u->f[4], "x86_64");
	assert_int_equal(SC(SYS_clock_gettime, CLOCK_MONOTONIC, G(128)), 0);
	ts = (void *)(fx->mem + G(128));
	assert_true(ts->tv_sec > 0 || ts->tv_nsec > 0);
	assert_int_equal(SC(SYS_clock_gettime, 99, G(128)), -EINVAL);
	assert_int_equal(SC(SYS_clock_getres, CLOCK_MONOTONIC, 0), 0);
	assert_int_equal(SC(SYS_gettimeofday, G(256), 0), 0);
	assert_true(SC(SYS_time, 0) > 1600000000);
	ts->tv_sec = 0;
	ts->tv_nsec = 1000;
	assert_int_equal(SC(SYS_nanosleep, G(128), 0), 0);
	ts->tv_nsec = 1000000000;
	assert_int_equal(SC(SYS_nanosleep, G(128), 0), -EINVAL);
	assert_int_equal(SC(SYS_getrandom, G(300), 64, 0), 64);
	assert_int_equal(SC(SYS_getrandom, G(300), 64, 0x100), -EINVAL);
	assert_int_equal(SC(SYS_prlimit64, 0, RLIMIT_STACK, 0, G(400)), 0);
	assert_int_equal(*(uint64_t *)(fx->mem + G(400)), LINUX_STACK_MAX);
	assert_int_equal(SC(SYS_prlimit64, 5, RLIMIT_STACK, 0, G(400)), -ESRCH);
	assert_int_equal(SC(SYS_prlimit64, 0, 99, 0, G(400)), -EINVAL);
	/* arch_prctl asks the glue to load FS base. */
	assert_int_equal(sc6(&r, SYS_arch_prctl, ARCH_SET_FS, 0x7000000, 0, 0, 0, 0), 0);
	assert_int_equal(r.action, LINUX_RETURN);
	assert_true(r.set_fs_base);
	assert_int_equal(r.fs_base, 0x7000000);
	assert_int_equal(sc6(&r, SYS_arch_prctl, ARCH_SET_FS, 1ULL << 63, 0, 0, 0, 0), -EPERM);
	assert_false(r.set_fs_base);
	assert_int_equal(SC(SYS_arch_prctl, ARCH_SET_GS, 0), -EINVAL);
	/* futex with one thread. */
	*(uint32_t *)(fx->mem + G(500)) = 5;
	assert_int_equal(SC(SYS_futex, G(500), 1 /* FUTEX_WAKE */, 1), 0);
	assert_int_equal(SC(SYS_futex, G(500), 0 /* FUTEX_WAIT */, 4, 0), -EAGAIN);
	ts->tv_nsec = 1000;
	assert_int_equal(SC(SYS_futex, G(500), 0 | 128, 5, G(128)), -ETIMEDOUT);
	sc6(&r, SYS_futex, G(500), 0, 5, 0, 0, 0);
	assert_int_equal(r.action, LINUX_KILLED);
	assert_non_null(strstr(r.what, "deadlock"));
}

static void test_signals(void **state)
{
	uint64_t act[4] = {(uint64_t)(uintptr_t)SIG_IGN, 0, 0, 0};
	struct linux_result r;

	(void)state;
	assert_int_equal(SC(SYS_rt_sigaction, SIGKILL, G(0), 0, 8), -EINVAL);
	assert_int_equal(SC(SYS_rt_sigaction, 0, 0, 0, 8), -EINVAL);
	assert_int_equal(SC(SYS_rt_sigaction, 65, 0, 0, 8), -EINVAL);
	assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, 0, 0, 4), -EINVAL);
	memcpy(fx->mem + G(0), act, sizeof(act));
	assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, G(0), 0, 8), 0);
	assert_int_equal(SC(SYS_rt_sigaction, SIGUSR1, 0, G(100), 8), 0);
	assert_memory_equal(fx->mem + G(100), act, sizeof(act));
	*(uint64_t *)(fx->mem + G(200)) = 0x5;
	assert_int_equal(SC(SYS_rt_sigprocmask, SIG_BLOCK, G(200), G(304), 8), 0);
	assert_int_equal(SC(SYS_rt_sigprocmask, SIG_SETMASK, 0, G(304), 8), 0);
	assert_int_equal(*(uint64_t *)(fx->mem + G(304)), 0x5);
	assert_int_equal(SC(SYS_rt_sigprocmask, 7, G(200), 0, 8), -EINVAL);
	assert_int_equal(SC(SYS_sigaltstack, 0, G(400)), 0);
	/* Signals to itself: ignored ones and 0 do nothing, others end it. */
	assert_int_equal(SC(SYS_kill, 1, 0), 0);
	assert_int_equal(SC(SYS_tkill, 1, SIGUSR1), 0); /* SIG_IGN */
	assert_int_equal(SC(SYS_tkill, 1, SIGCHLD), 0); /* default: ignore */
	assert_int_equal(SC(SYS_tkill, 2, SIGABRT), -ESRCH);
	assert_int_equal(SC(SYS_tgkill, 1, 1, 99), -EINVAL);
	sc6(&r, SYS_tgkill, 1, 1, SIGABRT, 0, 0, 0);
	assert_int_equal(r.action, LINUX_KILLED);
	assert_int_equal(r.signal, SIGABRT);
	assert_non_null(strstr(r.what, "SIGABRT"));
	/* Exceptions as Linux names them. */
	assert_string_equal(linux__signal_name(linux__vector_signal(14)), "SIGSEGV");
	assert_string_equal(linux__signal_name(linux__vector_signal(13)), "SIGSEGV");
	assert_string_equal(linux__signal_name(linux__vector_signal(6)), "SIGILL");
	assert_string_equal(linux__signal_name(linux__vector_signal(0)), "SIGFPE");
	assert_string_equal(linux__signal_name(linux__vector_signal(3)), "SIGTRAP");
}

static void count_cb(void *arg, int64_t nr, uint64_t count)
{
	int64_t *s = arg;

	if (nr == 999)
		s[0] = (int64_t)count;
	else if (nr == SYS_rseq)
		s[1] = (int64_t)count;
	else if (nr == -1)
		s[2] = (int64_t)count;
}

static void test_exit_unknown_threads(void **state)
{
	struct linux_result r;
	struct linux_stats st;
	int64_t seen[3] = {0};

	(void)state;
	sc6(&r, SYS_exit_group, 300, 0, 0, 0, 0, 0);
	assert_int_equal(r.action, LINUX_EXIT);
	assert_int_equal(r.status, 300 & 0xff);
	sc6(&r, SYS_exit, 7, 0, 0, 0, 0, 0);
	assert_int_equal(r.status, 7);
	assert_int_equal(SC(999), -ENOSYS);
	assert_int_equal(SC(999), -ENOSYS);
	assert_int_equal(SC(SYS_rseq, 0, 0, 0, 0), -ENOSYS);
	assert_int_equal(SC(100000), -ENOSYS);
	assert_int_equal(SC(~0ULL), -ENOSYS);
	assert_int_equal(SC(1023), -ENOSYS);
	linux_proc__stats(fx->proc, &st);
	assert_int_equal(st.unknown, 6);
	linux_proc__for_each_unknown(fx->proc, count_cb, seen);
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 2);
	assert_string_equal(linux__syscall_name(SYS_rseq), "rseq");
	assert_string_equal(linux__syscall_name(999), "?");
	assert_int_equal(SC(SYS_clone, 0x10000 /* CLONE_THREAD */, 0), -ENOSYS);
	assert_non_null(strstr(fx->notice, "CLONE_THREAD"));
	assert_int_equal(SC(SYS_fork), -ENOSYS);
	linux_proc__stats(fx->proc, &st);
	assert_int_equal(st.unknown, 6); /* refused threads are served, not unknown */
}

/* The VMM's own calls: fuzzing requests for the controller; the rest of the range is unknown. */
static void test_vmm_requests(void **state)
{
	struct linux_result r;

	(void)state;
	assert_int_equal(sc6(&r, LINUX_SYS_VMM + HC_FUZZ_READY, G(0), 4096, G(8192), 0, 0, 0),
			 -EINTR);
	assert_int_equal(r.action, LINUX_REQUEST);
	assert_int_equal(r.req_nr, HC_FUZZ_READY);
	assert_int_equal(sc6(&r, LINUX_SYS_VMM + HC_FUZZ_DONE, 3, 0, 0, 0, 0, 0), -EINTR);
	assert_int_equal(r.action, LINUX_REQUEST);
	assert_int_equal(r.req_nr, HC_FUZZ_DONE);
	assert_int_equal(SC(LINUX_SYS_VMM + HC_CLONE), -ENOSYS);
	assert_int_equal(SC(LINUX_SYS_VMM + HC_SNAPSHOT), -ENOSYS);
	assert_int_equal(SC(LINUX_SYS_VMM), -ENOSYS);
	assert_int_equal(SC(LINUX_SYS_VMM - 1 + HC_FUZZ_READY), -ENOSYS);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test_setup_teardown(test_load_and_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_pointers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmap_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_unknown_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmm_requests, setup, teardown),
	};

	progs__init(argc, argv, 1);
	if (!progs__path("gcc-hello")) {
		fprintf(stderr, "usage: test-linux NAME=PATH... (gcc-hello at least)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
