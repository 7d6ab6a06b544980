// SPDX-License-Identifier: MIT
/*
 * linux-vm.c: the KVM glue of vmm/linux (see linux-vm.h): load a program
 * into a VM through vm__load_process, serve its syscall exits with the
 * core (linux__syscall), name its crashes with Linux's signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi.h"
#include "linux-vm.h"

struct linux_vm {
	struct vm *vm;
	struct linux_proc *proc;
	struct linux_proc *point;	/* a resettable clone's process at its clone point */
	int stderr_fd;
};

static const uint8_t stub[] = {
	0x48, 0xa3, /* movabs %rax, ABI_SYSCALL_MMIO (8 bytes follow) */
	(uint8_t)(ABI_SYSCALL_MMIO >> 0), (uint8_t)(ABI_SYSCALL_MMIO >> 8),
	(uint8_t)(ABI_SYSCALL_MMIO >> 16), (uint8_t)(ABI_SYSCALL_MMIO >> 24),
	(uint8_t)(ABI_SYSCALL_MMIO >> 32), (uint8_t)(ABI_SYSCALL_MMIO >> 40),
	(uint8_t)(ABI_SYSCALL_MMIO >> 48), (uint8_t)(ABI_SYSCALL_MMIO >> 56),
	0x48, 0x0f, 0x07, /* sysretq */
	0x0f, 0x0b,	  /* ud2 */
};

static int64_t io_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct linux_vm *lv = ctx;
	size_t done = 0;

	if (fd == 1 || lv->stderr_fd < 0) {
		vm__console_write(lv->vm, buf, len);
		return (int64_t)len;
	}
	while (done < len) {
		ssize_t n = write(lv->stderr_fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (int64_t)done : -errno;
		done += (size_t)n;
	}
	return (int64_t)len;
}

static int64_t io_read(void *ctx, void *buf, size_t len)
{
	ssize_t n = read(STDIN_FILENO, buf, len);

	(void)ctx;
	return n < 0 ? -errno : n;
}

static void io_notice(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "vmm: %s\n", msg);
}

static const struct linux_io_ops io_ops = {
	.write = io_write, .read = io_read, .notice = io_notice,
};

static enum vm_stop_reason on_syscall(void *ctx, unsigned cpu, struct vm_syscall *sc,
				      struct vm_stop *stop)
{
	struct linux_vm *lv = ctx;
	struct linux_result r;

	(void)cpu;
	linux__syscall(lv->proc, &sc->regs, &r);
	sc->set_fs_base = r.set_fs_base;
	sc->fs_base = r.fs_base;
	switch (r.action) {
	case LINUX_EXIT:
		stop->status = r.status;
		snprintf(stop->what, sizeof(stop->what), "guest exited with status %d", r.status);
		return VM_STOP_EXIT;
	case LINUX_KILLED:
		stop->signal = r.signal;
		snprintf(stop->what, sizeof(stop->what), "%s", r.what);
		return VM_STOP_CRASH;
	case LINUX_REQUEST:
		stop->req = (struct vm_request){.nr = r.req_nr,
			.args = {sc->regs.rdi, sc->regs.rsi, sc->regs.rdx}};
		snprintf(stop->what, sizeof(stop->what), "guest request %llu (a system call)",
			 (unsigned long long)r.req_nr);
		return VM_STOP_REQUEST;
	default:
		return VM_RUNNING;
	}
}

static const char *crash_name(void *ctx, unsigned vector)
{
	(void)ctx;
	return linux__signal_name(linux__vector_signal(vector));
}

/*
 * A clone's process: a copy of the parent's over the clone's memory; a
 * resettable clone's also keeps a second copy, its clone point.
 */
static int clone_proc(void *ctx, struct mm_space *space, unsigned mm_flags, void **ret_copy)
{
	struct linux_vm *lv = ctx, *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->stderr_fd = lv->stderr_fd;
	err = linux_proc__clone(lv->proc, space, c, &c->proc);
	if (!err && (mm_flags & MM_CLONE_RESETTABLE))
		err = linux_proc__clone(lv->proc, space, c, &c->point);
	if (!err && (mm_flags & MM_CLONE_RESETTABLE))
		err = linux_proc__track_touched(c->proc);
	if (err) {
		linux_vm__destroy(c);
		return err;
	}
	*ret_copy = c;
	return 0;
}

static void host_dirty(void *ctx, uint64_t *bitmap)
{
	linux_proc__take_touched(((struct linux_vm *)ctx)->proc, bitmap);
}

static int rewind_proc(void *copy)
{
	struct linux_vm *lv = copy;

	return lv->point ? linux_proc__restore(lv->proc, lv->point) : -EINVAL;
}

static void attach_proc(void *copy, struct vm *vm)
{
	((struct linux_vm *)copy)->vm = vm;
}

static void release_proc(void *copy)
{
	linux_vm__destroy(copy);
}

static const struct vm_syscall_ops syscall_ops = {
	.syscall = on_syscall, .crash_name = crash_name,
	.clone = clone_proc, .attach = attach_proc, .release = release_proc,
	.rewind = rewind_proc, .host_dirty = host_dirty,
};

int linux_vm__load(struct vm *vm, const struct linux_vm_config *cfg, struct linux_vm **ret_lv,
		   char *msg, size_t msg_len)
{
	struct linux_config pc = {.space = vm__space(vm), .io = &io_ops,
				  .files = cfg->files, .nr_files = cfg->nr_files};
	struct vm_process_entry pe = {.syscall_entry = LINUX_STUB_GPA, .user_code = stub,
				      .user_code_len = sizeof(stub)};
	struct linux_entry entry;
	struct linux_vm *lv;
	int err;

	lv = calloc(1, sizeof(*lv));
	if (!lv) {
		for (unsigned i = 0; i < cfg->nr_files; i++)
			close(cfg->files[i].host_fd);
		return -ENOMEM;
	}
	lv->vm = vm;
	lv->stderr_fd = cfg->stderr_fd;
	pc.io_ctx = lv;
	err = linux_proc__create(&pc, &lv->proc);
	if (err) {
		snprintf(msg, msg_len, "guest memory too small for a Linux program (8 MiB at least)");
		free(lv);
		return err;
	}
	err = linux_proc__load(lv->proc, cfg->image, cfg->size, cfg->argc, cfg->argv, cfg->envp,
			       &entry, msg, msg_len);
	if (!err) {
		pe.rip = entry.rip;
		pe.rsp = entry.rsp;
		err = vm__load_process(vm, &pe);
		if (err)
			snprintf(msg, msg_len, "setting up the vCPU: %s", strerror(-err));
	}
	if (err) {
		linux_vm__destroy(lv);
		return err;
	}
	vm__set_syscall_ops(vm, &syscall_ops, lv, cfg->vm_owns);
	if (cfg->vm_owns)
		lv = NULL; /* freed with the VM */
	*ret_lv = lv;
	return 0;
}

void linux_vm__destroy(struct linux_vm *lv)
{
	if (!lv)
		return;
	linux_proc__destroy(lv->proc);
	linux_proc__destroy(lv->point);
	free(lv);
}

struct linux_proc *linux_vm__proc(struct linux_vm *lv)
{
	return lv->proc;
}

static void print_unknown(void *arg, int64_t nr, uint64_t count)
{
	FILE *out = arg;

	if (nr < 0)
		fprintf(out, " (numbers >= %d) x%llu", LINUX_NR_COUNTED, (unsigned long long)count);
	else
		fprintf(out, " %lld (%s) x%llu", (long long)nr, linux__syscall_name((uint64_t)nr),
			(unsigned long long)count);
}

void linux_vm__print_stats(FILE *out, struct linux_vm *lv)
{
	struct linux_stats s;

	linux_proc__stats(lv->proc, &s);
	fprintf(out, "stats: linux: system calls %llu, unknown (ENOSYS) %llu; heap %llu KiB, "
		"mmap %llu KiB, mappings %u\n", (unsigned long long)s.calls,
		(unsigned long long)s.unknown, (unsigned long long)(s.brk_bytes >> 10),
		(unsigned long long)(s.mmap_bytes >> 10), s.vmas);
	if (!s.unknown)
		return;
	fprintf(out, "stats: linux: unknown calls:");
	linux_proc__for_each_unknown(lv->proc, print_unknown, out);
	fprintf(out, "\n");
}

int linux_vm__grant(const char *arg, struct linux_file *f, char *msg, size_t msg_len)
{
	const char *colon = strchr(arg, ':');
	char host[LINUX_PATH_MAX];
	size_t hlen = colon ? (size_t)(colon - arg) : strlen(arg);
	const char *guest = colon ? colon + 1 : arg;
	struct stat st;
	int err, fd;

	if (!hlen || hlen >= sizeof(host)) {
		snprintf(msg, msg_len, "no host path");
		return -EINVAL;
	}
	memcpy(host, arg, hlen);
	host[hlen] = 0;
	err = linux__normalize_path(guest, f->guest_path, sizeof(f->guest_path));
	if (err) {
		snprintf(msg, msg_len, "bad guest path '%s' (empty, '..' or too long)", guest);
		return err;
	}
	fd = open(host, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		snprintf(msg, msg_len, "'%s': %s", host, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(msg, msg_len, "'%s' is not a regular file", host);
		close(fd);
		return -EINVAL;
	}
	f->host_fd = fd;
	return 0;
}
