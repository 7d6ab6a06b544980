// SPDX-License-Identifier: MIT
/*
 * linux-fs.c: a process's file descriptors - stdin, stdout and stderr (the
 * caller's linux_io_ops) and the host files granted read-only with
 * `--file HOST[:GUEST]`. Nothing else of the host's filesystem is
 * reachable: a path is only ever compared with the grants' guest paths,
 * never handed to the host.
 *
 * Invariant: every guest buffer is checked whole (linux_mem__ptr) before
 * the host reads into or writes from it.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "linux-internal.h"

#define MAX_RW 0x7ffff000ULL /* Linux's MAX_RW_COUNT */
#define IOV_MAX_LINUX 1024

/* The kernel's struct stat on x86-64 is the C library's. */
static_assert(sizeof(struct stat) == 144, "x86-64 struct stat");

void fs__init(struct linux_proc *p)
{
	memset(p->fds, 0, sizeof(p->fds));
	p->fds[0].kind = FD_STDIN;
	p->fds[1].kind = FD_STDOUT;
	p->fds[2].kind = FD_STDERR;
}

struct fd *fs__fd(struct linux_proc *p, int fd)
{
	if (fd < 0 || fd >= LINUX_MAX_FDS || p->fds[fd].kind == FD_NONE)
		return NULL;
	return &p->fds[fd];
}

int linux__normalize_path(const char *path, char *out, size_t len)
{
	size_t o = 0;
	const char *s = path;

	if (!*path || len < 2)
		return -EINVAL;
	out[o++] = '/';
	while (*s) {
		const char *e;
		size_t n;

		while (*s == '/')
			s++;
		e = s;
		while (*e && *e != '/')
			e++;
		n = (size_t)(e - s);
		if (n == 1 && s[0] == '.') {
			s = e;
			continue;
		}
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return -EINVAL;
		if (n) {
			if (o > 1)
				out[o++] = '/';
			if (o + n + 1 > len)
				return -ENAMETOOLONG;
			memcpy(out + o, s, n);
			o += n;
		}
		s = e;
		if (o + 2 > len)
			return -ENAMETOOLONG;
	}
	out[o] = 0;
	return 0;
}

static int64_t io_read(struct linux_proc *p, struct fd *f, uint8_t *dst, uint64_t len)
{
	ssize_t n;

	if (f->kind == FD_STDIN)
		return p->io && p->io->read ? p->io->read(p->io_ctx, dst, len) : 0;
	if (f->kind != FD_FILE)
		return -EBADF;
	n = pread(p->files[f->file].host_fd, dst, len, (off_t)f->off);
	if (n < 0)
		return -errno;
	f->off += (uint64_t)n;
	return n;
}

static int64_t io_write(struct linux_proc *p, struct fd *f, const uint8_t *src, uint64_t len)
{
	if (f->kind != FD_STDOUT && f->kind != FD_STDERR)
		return -EBADF;
	if (!p->io || !p->io->write)
		return (int64_t)len;
	return p->io->write(p->io_ctx, f->kind == FD_STDOUT ? 1 : 2, src, len);
}

int64_t fs__read(struct linux_proc *p, int fd, uint64_t buf, uint64_t len)
{
	struct fd *f = fs__fd(p, fd);
	uint8_t *dst;

	if (!f)
		return -EBADF;
	if (f->kind == FD_STDOUT || f->kind == FD_STDERR)
		return -EBADF;
	if (!len)
		return 0;
	len = len > MAX_RW ? MAX_RW : len;
	dst = linux_mem__ptr(p, buf, len);
	return dst ? io_read(p, f, dst, len) : -EFAULT;
}

int64_t fs__write(struct linux_proc *p, int fd, uint64_t buf, uint64_t len)
{
	struct fd *f = fs__fd(p, fd);
	const uint8_t *src;

	if (!f)
		return -EBADF;
	if (f->kind != FD_STDOUT && f->kind != FD_STDERR)
		return -EBADF;
	if (!len)
		return 0;
	len = len > MAX_RW ? MAX_RW : len;
	src = linux_mem__ptr(p, buf, len);
	return src ? io_write(p, f, src, len) : -EFAULT;
}

int64_t fs__readv(struct linux_proc *p, int fd, uint64_t iov, uint64_t cnt, bool write)
{
	struct fd *f = fs__fd(p, fd);
	const struct iovec *v;
	uint64_t total = 0, done = 0;

	if (!f)
		return -EBADF;
	if (cnt > IOV_MAX_LINUX)
		return -EINVAL;
	if (!cnt)
		return 0;
	v = linux_mem__ptr(p, iov, cnt * sizeof(*v));
	if (!v)
		return -EFAULT;
	for (uint64_t i = 0; i < cnt; i++) {
		if (v[i].iov_len > MAX_RW || total + v[i].iov_len > MAX_RW)
			return -EINVAL;
		total += v[i].iov_len;
		if (v[i].iov_len && !linux_mem__ptr(p, (uintptr_t)v[i].iov_base, v[i].iov_len))
			return -EFAULT;
	}
	for (uint64_t i = 0; i < cnt; i++) {
		uint8_t *b;
		int64_t n;

		if (!v[i].iov_len)
			continue;
		b = linux_mem__ptr(p, (uintptr_t)v[i].iov_base, v[i].iov_len);
		n = write ? io_write(p, f, b, v[i].iov_len) : io_read(p, f, b, v[i].iov_len);
		if (n < 0)
			return done ? (int64_t)done : n;
		done += (uint64_t)n;
		if ((uint64_t)n < v[i].iov_len)
			break;
	}
	return (int64_t)done;
}

int64_t fs__pread(struct linux_proc *p, int fd, uint64_t buf, uint64_t len, int64_t off)
{
	struct fd *f = fs__fd(p, fd);
	uint8_t *dst;
	ssize_t n;

	if (!f)
		return -EBADF;
	if (f->kind != FD_FILE)
		return f->kind == FD_STDIN ? -ESPIPE : -EBADF;
	if (off < 0)
		return -EINVAL;
	if (!len)
		return 0;
	len = len > MAX_RW ? MAX_RW : len;
	dst = linux_mem__ptr(p, buf, len);
	if (!dst)
		return -EFAULT;
	n = pread(p->files[f->file].host_fd, dst, len, off);
	return n < 0 ? -errno : n;
}

/* The grant for guest path @gva (from @dirfd), or -errno. */
static int lookup(struct linux_proc *p, int dirfd, uint64_t gva)
{
	char path[LINUX_PATH_MAX], norm[LINUX_PATH_MAX];
	int err = mem__strncpy(p, gva, path, sizeof(path));

	if (err)
		return err;
	if (!path[0])
		return -ENOENT;
	if (path[0] != '/' && dirfd != AT_FDCWD)
		return fs__fd(p, dirfd) ? -ENOTDIR : -EBADF; /* no directories are open */
	err = linux__normalize_path(path, norm, sizeof(norm));
	if (err)
		return err == -EINVAL ? -ENOENT : err;
	for (unsigned i = 0; i < p->nr_files; i++)
		if (!strcmp(p->files[i].guest_path, norm))
			return (int)i;
	return -ENOENT;
}

int64_t fs__openat(struct linux_proc *p, int dirfd, uint64_t path, int flags)
{
	int file = lookup(p, dirfd, path);

	if (file < 0)
		return (file == -ENOENT && (flags & O_CREAT)) ? -EACCES : file;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
		return -EACCES; /* granted read-only */
	if (flags & O_DIRECTORY)
		return -ENOTDIR;
	for (int fd = 0; fd < LINUX_MAX_FDS; fd++) {
		if (p->fds[fd].kind != FD_NONE)
			continue;
		p->fds[fd] = (struct fd){.kind = FD_FILE, .file = (unsigned)file,
					 .cloexec = !!(flags & O_CLOEXEC)};
		return fd;
	}
	return -EMFILE;
}

int64_t fs__close(struct linux_proc *p, int fd)
{
	struct fd *f = fs__fd(p, fd);

	if (!f)
		return -EBADF;
	f->kind = FD_NONE;
	return 0;
}

static int64_t put_stat(struct linux_proc *p, struct fd *f, int file, uint64_t buf)
{
	struct stat st;
	void *dst = linux_mem__ptr(p, buf, sizeof(st));

	if (!dst)
		return -EFAULT;
	memset(&st, 0, sizeof(st));
	if (f && f->kind != FD_FILE) {
		st.st_mode = S_IFCHR | 0620; /* a terminal-like character device */
		st.st_rdev = makedev(136, 0);
		st.st_blksize = 1024;
	} else {
		struct stat host;

		if (fstat(p->files[file].host_fd, &host))
			return -errno;
		/* Size and times of the host file; nothing that names the host. */
		st.st_mode = S_IFREG | 0444;
		st.st_size = host.st_size;
		st.st_blksize = host.st_blksize;
		st.st_blocks = host.st_blocks;
		st.st_atim = host.st_atim;
		st.st_mtim = host.st_mtim;
		st.st_ctim = host.st_ctim;
		st.st_ino = (ino_t)file + 1;
		st.st_dev = 1;
	}
	st.st_nlink = 1;
	memcpy(dst, &st, sizeof(st));
	return 0;
}

int64_t fs__fstat(struct linux_proc *p, int fd, uint64_t buf)
{
	struct fd *f = fs__fd(p, fd);

	if (!f)
		return -EBADF;
	return put_stat(p, f, f->kind == FD_FILE ? (int)f->file : -1, buf);
}

int64_t fs__newfstatat(struct linux_proc *p, int dirfd, uint64_t path, uint64_t buf, int flags)
{
	char first;
	int file;

	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT))
		return -EINVAL;
	if (mem__strncpy(p, path, &first, 1) == 0 && (flags & AT_EMPTY_PATH))
		return fs__fstat(p, dirfd, buf); /* "" with AT_EMPTY_PATH: dirfd itself */
	file = lookup(p, dirfd, path);
	if (file < 0)
		return file;
	return put_stat(p, NULL, file, buf);
}

int64_t fs__lseek(struct linux_proc *p, int fd, int64_t off, int whence)
{
	struct fd *f = fs__fd(p, fd);
	struct stat st;
	int64_t base;

	if (!f)
		return -EBADF;
	if (f->kind != FD_FILE)
		return -ESPIPE;
	switch (whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = (int64_t)f->off; break;
	case SEEK_END:
		if (fstat(p->files[f->file].host_fd, &st))
			return -errno;
		base = st.st_size;
		break;
	default: return -EINVAL;
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return -EINVAL;
	f->off = (uint64_t)(base + off);
	return (int64_t)f->off;
}

int64_t fs__ioctl(struct linux_proc *p, int fd, uint64_t req, uint64_t arg)
{
	(void)req;
	(void)arg;
	/* TIOCGWINSZ, TCGETS, ...: not a terminal (stdio is fully buffered, then). */
	return fs__fd(p, fd) ? -ENOTTY : -EBADF;
}

int64_t fs__fcntl(struct linux_proc *p, int fd, int cmd, uint64_t arg)
{
	struct fd *f = fs__fd(p, fd);

	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_GETFD:
		return f->cloexec ? FD_CLOEXEC : 0;
	case F_SETFD:
		f->cloexec = !!(arg & FD_CLOEXEC);
		return 0;
	case F_GETFL:
		return f->kind == FD_STDOUT || f->kind == FD_STDERR ? O_WRONLY : O_RDONLY;
	case F_SETFL:
		return 0; /* O_NONBLOCK, O_APPEND: nothing changes for these files */
	default:
		return -EINVAL;
	}
}
