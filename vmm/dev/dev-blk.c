// SPDX-License-Identifier: MIT
/*
 * dev-blk.c: a virtio-blk disk onto a VM's MMIO bus (dev-blk.h).
 *
 * Invariants: a disk is listed on the bus only once it exists; a failure
 * leaves neither a device nor a bus entry behind. Guest-triggered reports
 * (a guest broke its device) print at most one line a second, process-wide,
 * with a count of the ones left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "dev-blk.h"

static void blk_mmio(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	virtio_mmio__access(virtio_blk__transport(dev), off, data, len, is_write);
}

/* A clone's disk: same window, transport state and image, its own rings' pins and ring. */
static int blk_clone(void *dev, struct mm_space *child_space, void **ret_dev)
{
	const char *step;
	struct virtio_blk *b;
	int err = virtio_blk__clone(dev, child_space, &b, &step);

	if (!err)
		*ret_dev = b;
	return err;
}

static void blk_release(void *dev)
{
	virtio_blk__destroy(dev);
}

static const struct vm_device_ops blk_bus_ops = {
	.mmio = blk_mmio, .clone = blk_clone, .release = blk_release,
};

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t report_last;
static unsigned long report_dropped;

/* A guest made its disk broken: one line a second at most (a guest can trigger it). */
static void report_broken(void *arg, unsigned qi, int err)
{
	time_t now = time(NULL);

	(void)arg;
	pthread_mutex_lock(&report_lock);
	if (now != report_last) {
		fprintf(stderr, "vmm: virtio-blk: the guest sent a malformed queue %u (%s); the "
			"device needs a reset", qi, strerror(-err));
		if (report_dropped)
			fprintf(stderr, " (%lu more such reports left out)", report_dropped);
		fputc('\n', stderr);
		report_last = now;
		report_dropped = 0;
	} else {
		report_dropped++;
	}
	pthread_mutex_unlock(&report_lock);
}

static int parse_error(char *msg, size_t len, const char *what, const char *arg)
{
	snprintf(msg, len, "%s '%s'", what, arg);
	return -EINVAL;
}

/* Can the image be used as asked? Checked before any VM exists. */
static int check_image(const struct virtio_blk_opts *o, char *msg, size_t len)
{
	int fd = open(o->path, (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		snprintf(msg, len, "'%s': %s%s", o->path, strerror(errno),
			 errno == EACCES || errno == EROFS ? " (add ,ro for a read-only disk)" : "");
		return -EINVAL;
	}
	if (fstat(fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		close(fd);
		return parse_error(msg, len, "not a regular file or block device:", o->path);
	}
	close(fd);
	if (S_ISREG(st.st_mode) && st.st_size < 512)
		return parse_error(msg, len, "image smaller than one 512-byte sector:", o->path);
	return 0;
}

int dev_blk__parse(const char *arg, struct virtio_blk_opts *ret, char *path_buf, size_t path_len,
		   char *msg, size_t msg_len)
{
	struct virtio_blk_opts o = {.backend = VIRTIO_BLK_URING, .on_error = report_broken};
	const char *comma = strchr(arg, ',');
	size_t n = comma ? (size_t)(comma - arg) : strlen(arg);

	if (!n)
		return parse_error(msg, msg_len, "no image file in", arg);
	if (n >= path_len)
		return parse_error(msg, msg_len, "image path too long:", arg);
	memcpy(path_buf, arg, n);
	path_buf[n] = '\0';
	o.path = path_buf;
	while (comma) {
		const char *opt = comma + 1;
		size_t l;

		comma = strchr(opt, ',');
		l = comma ? (size_t)(comma - opt) : strlen(opt);
		if (l == 2 && !strncmp(opt, "ro", 2))
			o.read_only = true;
		else if (l == 13 && !strncmp(opt, "fixed-buffers", 13))
			o.fixed_buffers = true;
		else
			return parse_error(msg, msg_len, "unknown disk option (ro, fixed-buffers) in",
					   opt);
	}
	if (check_image(&o, msg, msg_len))
		return -EINVAL;
	*ret = o;
	return 0;
}

static int attach(struct vm *vm, struct virtio_blk *b, struct virtio_blk **ret_blk, char *msg,
		  size_t msg_len)
{
	int err = vm__add_device(vm, ABI_DEV_VIRTIO, VIRTIO_ID_BLOCK, &blk_bus_ops, b, NULL);

	if (err) {
		snprintf(msg, msg_len, "adding the disk to the device bus: %s", strerror(-err));
		virtio_blk__destroy(b);
		return err;
	}
	*ret_blk = b;
	return 0;
}

int dev_blk__attach(struct vm *vm, const struct virtio_blk_opts *o, struct virtio_blk **ret_blk,
		    char *msg, size_t msg_len)
{
	const char *step = "creating the device";
	struct virtio_blk *b;
	int err = virtio_blk__create(vm__space(vm), o, &b, &step);

	if (err) {
		snprintf(msg, msg_len, "'%s': %s: %s", o->path, step, strerror(-err));
		return err;
	}
	return attach(vm, b, ret_blk, msg, msg_len);
}

int dev_blk__attach_clone(struct vm *child, struct virtio_blk *src, struct virtio_blk **ret_blk,
			  char *msg, size_t msg_len)
{
	const char *step = "cloning the device";
	struct virtio_blk *b;
	int err = virtio_blk__clone(src, vm__space(child), &b, &step);

	if (err) {
		snprintf(msg, msg_len, "clone's disk: %s: %s", step, strerror(-err));
		return err;
	}
	return attach(child, b, ret_blk, msg, msg_len);
}

void dev_blk__print_stats(FILE *out, struct virtio_blk *b)
{
	struct virtio_blk_stats s;

	virtio_blk__stats(b, &s);
	fprintf(out, "stats: virtio-blk: in %llu (%llu KiB), out %llu (%llu KiB), flush %llu, "
		"get-id %llu, unsupported %llu, ioerr %llu (host %llu), zero-copy %llu "
		"(fixed %llu), bounced %llu, buffered %llu, bad chains %llu, batches %llu, notifies %llu, "
		"transport errors %llu, bad accesses %llu, resets %llu%s\n",
		(unsigned long long)s.reqs_in, (unsigned long long)(s.bytes_read >> 10),
		(unsigned long long)s.reqs_out, (unsigned long long)(s.bytes_written >> 10),
		(unsigned long long)s.reqs_flush, (unsigned long long)s.reqs_get_id,
		(unsigned long long)s.reqs_unsupp, (unsigned long long)s.ioerr,
		(unsigned long long)s.host_errors, (unsigned long long)s.zero_copy,
		(unsigned long long)s.fixed, (unsigned long long)s.bounced,
		(unsigned long long)s.buffered, (unsigned long long)s.bad_chains,
		(unsigned long long)s.batches,
		(unsigned long long)s.transport.notifies, (unsigned long long)s.transport.errors,
		(unsigned long long)s.transport.bad_accesses, (unsigned long long)s.transport.resets,
		virtio_blk__direct(b) ? "" : " (no O_DIRECT on this file system)");
}
