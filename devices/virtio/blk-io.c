// SPDX-License-Identifier: MIT
/*
 * blk-io.c: virtio-blk's image and I/O backends (blk.h says which and why).
 *
 * Invariants:
 * - Data moves only between the image and a request's pinned pages (its
 *   iovecs, or for fixed buffers the registered range those pins lie in),
 *   or its own aligned bounce buffer.
 * - Every SQE carries its request; b->inflight and r->inflight count SQEs
 *   submitted and not reaped, and blk_io__wait returns only at 0, so no
 *   I/O outlives the notify that started it.
 * - With fixed buffers, ram_pin (all guest RAM, long-term R/W) is taken
 *   before the registration and dropped only after the unregistration:
 *   mm treats the frames as pinned for as long as the kernel pins them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/blk-internal.h"

static int set_step(const char **ret_step, const char *step, int err)
{
	if (ret_step)
		*ret_step = step;
	return err;
}

static int image_size(int fd, const struct stat *st, uint64_t *ret)
{
	if (S_ISREG(st->st_mode)) {
		*ret = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKGETSIZE64, ret) ? -errno : 0;
	return -EINVAL;
}

/* O_DIRECT's alignment for this file; conservative when the kernel won't say. */
static void dio_align(struct virtio_blk *b)
{
	struct statx sx;

	b->mem_align = b->off_align = 4096;
	if (!statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_mem_align && sx.stx_dio_offset_align) {
		b->mem_align = sx.stx_dio_mem_align;
		b->off_align = sx.stx_dio_offset_align;
	}
}

int blk_io__open(struct virtio_blk *b, const char **ret_step)
{
	int acc = (b->opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	uint64_t size;
	struct stat st;
	int err;

	b->fd = open(b->path, acc | O_DIRECT);
	b->direct = b->fd >= 0;
	if (b->fd < 0 && errno == EINVAL) /* no O_DIRECT on this file system */
		b->fd = open(b->path, acc);
	if (b->fd < 0)
		return set_step(ret_step, "opening the image", -errno);
	if (fstat(b->fd, &st))
		return set_step(ret_step, "opening the image", -errno);
	err = image_size(b->fd, &st, &size);
	if (err)
		return set_step(ret_step, "the image is neither a regular file nor a block device",
				err);
	if (size < VIRTIO_BLK_SECTOR)
		return set_step(ret_step, "the image is smaller than one 512-byte sector", -EINVAL);
	b->capacity = size / VIRTIO_BLK_SECTOR;
	if (flock(b->fd, (b->opts.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB))
		return set_step(ret_step, "locking the image (is another VM using it?)",
				errno == EWOULDBLOCK ? -EBUSY : -errno);
	b->fd_buffered = b->direct ? open(b->path, acc) : b->fd;
	if (b->fd_buffered < 0)
		return set_step(ret_step, "opening the image without O_DIRECT", -errno);
	dio_align(b);
	snprintf(b->id, sizeof(b->id), "vmm-blk-%llx", (unsigned long long)st.st_ino);
	return 0;
}

int blk_io__dup(struct virtio_blk *b, const struct virtio_blk *src, const char **ret_step)
{
	b->fd = fcntl(src->fd, F_DUPFD_CLOEXEC, 0);
	if (b->fd < 0)
		return set_step(ret_step, "sharing the image", -errno);
	b->fd_buffered = src->direct ? fcntl(src->fd_buffered, F_DUPFD_CLOEXEC, 0) : b->fd;
	if (b->fd_buffered < 0)
		return set_step(ret_step, "sharing the image", -errno);
	b->direct = src->direct;
	b->mem_align = src->mem_align;
	b->off_align = src->off_align;
	b->capacity = src->capacity;
	memcpy(b->id, src->id, sizeof(b->id));
	return 0;
}

/* Register all of guest RAM (host mapping) as fixed buffers, under an mm pin. */
static int register_ram(struct virtio_blk *b, const char **ret_step)
{
	struct iovec iov[8]; /* ABI_MEM_MAX / BLK_FIXED_CHUNK, rounded up */
	unsigned n = 0;
	int err;

	if (b->mem_size > BLK_FIXED_CHUNK * 8)
		return set_step(ret_step, "guest RAM too large for fixed buffers", -E2BIG);
	err = mm_pin(b->space, 0, b->mem_size, MM_PIN_WRITE | MM_PIN_LONGTERM, &b->ram_pin);
	if (err)
		return set_step(ret_step, "pinning guest RAM for the fixed buffers", err);
	for (uint64_t off = 0; off < b->mem_size; off += BLK_FIXED_CHUNK, n++) {
		iov[n].iov_base = b->hva + off;
		iov[n].iov_len = b->mem_size - off < BLK_FIXED_CHUNK ? b->mem_size - off
								     : BLK_FIXED_CHUNK;
	}
	err = io_uring_register_buffers(&b->ring, iov, n);
	if (err) {
		mm_unpin(b->ram_pin);
		b->ram_pin = NULL;
		return set_step(ret_step, "registering guest RAM as io_uring fixed buffers", err);
	}
	return 0;
}

int blk_io__setup(struct virtio_blk *b, const char **ret_step)
{
	int err;

	if (b->opts.backend == VIRTIO_BLK_BOUNCE) {
		if (b->opts.fixed_buffers)
			return set_step(ret_step, "fixed buffers need the io_uring backend", -EINVAL);
		b->bounce_buf = aligned_alloc(4096, VIRTIO_BLK_MAX_DATA);
		return b->bounce_buf ? 0 : set_step(ret_step, "allocating the bounce buffer", -ENOMEM);
	}
	err = io_uring_queue_init(BLK_RING_ENTRIES, &b->ring, 0);
	if (err)
		return set_step(ret_step, "setting up io_uring", err);
	b->ring_ok = true;
	return b->opts.fixed_buffers ? register_ram(b, ret_step) : 0;
}

void blk_io__close(struct virtio_blk *b)
{
	if (b->ring_ok) {
		if (b->ram_pin)
			io_uring_unregister_buffers(&b->ring); /* the kernel's pins go first */
		io_uring_queue_exit(&b->ring);
		b->ring_ok = false;
	}
	mm_unpin(b->ram_pin);
	b->ram_pin = NULL;
	if (b->fd_buffered >= 0 && b->fd_buffered != b->fd)
		close(b->fd_buffered);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = b->fd_buffered = -1;
	free(b->bounce_buf);
	b->bounce_buf = NULL;
}

static void iov_copy(const struct iovec *iov, unsigned niov, uint8_t *buf, uint64_t len,
		     bool to_iov)
{
	for (unsigned i = 0; i < niov && len; i++) {
		uint64_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_iov)
			memcpy(iov[i].iov_base, buf, n);
		else
			memcpy(buf, iov[i].iov_base, n);
		buf += n;
		len -= n;
	}
}

static bool iov_aligned(const struct virtio_blk *b, const struct blk_req *r)
{
	if (r->niov > IOV_MAX)
		return false;
	for (unsigned i = 0; i < r->niov; i++)
		if ((uintptr_t)r->iov[i].iov_base % b->mem_align || r->iov[i].iov_len % b->off_align)
			return false;
	return true;
}

static bool segs_aligned(const struct virtio_blk *b, const struct blk_req *r)
{
	for (unsigned i = 0; i < r->nsegs; i++)
		if (r->segs[i].gpa % b->mem_align || r->segs[i].gpa % b->off_align ||
		    r->segs[i].len % b->off_align)
			return false;
	return true;
}

/* Pick how @r's data moves (uring backend) and count it. */
static enum blk_path choose_path(struct virtio_blk *b, struct blk_req *r)
{
	uint64_t off = r->sector * VIRTIO_BLK_SECTOR;

	r->fd = b->fd;
	if (!b->direct || off % b->off_align || r->len % b->off_align) {
		r->fd = b->fd_buffered;
		b->stats.buffered++;
		if (r->niov <= IOV_MAX) {
			b->stats.zero_copy++;
			return BLK_PATH_ZERO_COPY;
		}
	} else if (b->ram_pin && segs_aligned(b, r)) {
		b->stats.zero_copy++;
		b->stats.fixed++;
		return BLK_PATH_FIXED;
	} else if (iov_aligned(b, r)) {
		b->stats.zero_copy++;
		return BLK_PATH_ZERO_COPY;
	}
	b->stats.bounced++;
	return BLK_PATH_BOUNCE;
}

static void reap(struct virtio_blk *b)
{
	struct io_uring_cqe *cqe;

	while (!io_uring_peek_cqe(&b->ring, &cqe)) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);

		if (cqe->res < 0 && !r->err)
			r->err = cqe->res;
		else if (cqe->res > 0)
			r->done += (uint64_t)cqe->res;
		r->inflight--;
		b->inflight--;
		io_uring_cqe_seen(&b->ring, cqe);
	}
}

/* Submit what is queued and wait for one completion; EINTR (a vCPU kick) retries. */
static void submit_wait_one(struct virtio_blk *b)
{
	int ret;

	do
		ret = io_uring_submit_and_wait(&b->ring, 1);
	while (ret == -EINTR || ret == -EAGAIN);
	reap(b);
}

/* An SQE for @r, making room by reaping when the rings are full. */
static struct io_uring_sqe *get_sqe(struct virtio_blk *b, struct blk_req *r)
{
	struct io_uring_sqe *sqe;

	while (b->inflight >= BLK_RING_ENTRIES)
		submit_wait_one(b);
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) {
		io_uring_submit(&b->ring);
		sqe = io_uring_get_sqe(&b->ring);
	}
	if (sqe) {
		io_uring_sqe_set_data(sqe, r);
		r->inflight++;
		b->inflight++;
	}
	return sqe;
}

static void queue_fixed(struct virtio_blk *b, struct blk_req *r, bool write)
{
	uint64_t off = r->sector * VIRTIO_BLK_SECTOR;

	for (unsigned i = 0; i < r->nsegs; i++) {
		uint64_t gpa = r->segs[i].gpa, left = r->segs[i].len;

		while (left) {
			uint64_t chunk_end = (gpa / BLK_FIXED_CHUNK + 1) * BLK_FIXED_CHUNK;
			unsigned n = (unsigned)(chunk_end - gpa < left ? chunk_end - gpa : left);
			struct io_uring_sqe *sqe = get_sqe(b, r);
			int idx = (int)(gpa / BLK_FIXED_CHUNK);

			if (!sqe) {
				r->err = -EBUSY;
				return;
			}
			if (write)
				io_uring_prep_write_fixed(sqe, r->fd, b->hva + gpa, n, off, idx);
			else
				io_uring_prep_read_fixed(sqe, r->fd, b->hva + gpa, n, off, idx);
			gpa += n;
			off += n;
			left -= n;
		}
	}
}

static void queue_data(struct virtio_blk *b, struct blk_req *r)
{
	bool write = r->type == VIRTIO_BLK_T_OUT;
	uint64_t off = r->sector * VIRTIO_BLK_SECTOR;
	struct io_uring_sqe *sqe;

	r->path = choose_path(b, r);
	if (r->path == BLK_PATH_FIXED) {
		queue_fixed(b, r, write);
		return;
	}
	if (r->path == BLK_PATH_BOUNCE) {
		r->bounce = aligned_alloc(4096, (r->len + 4095) & ~4095ULL);
		if (!r->bounce) {
			r->err = -ENOMEM;
			return;
		}
		if (write)
			iov_copy(r->iov, r->niov, r->bounce, r->len, false);
	}
	sqe = get_sqe(b, r);
	if (!sqe) {
		r->err = -EBUSY;
		return;
	}
	if (r->path == BLK_PATH_BOUNCE && write)
		io_uring_prep_write(sqe, r->fd, r->bounce, (unsigned)r->len, off);
	else if (r->path == BLK_PATH_BOUNCE)
		io_uring_prep_read(sqe, r->fd, r->bounce, (unsigned)r->len, off);
	else if (write)
		io_uring_prep_writev(sqe, r->fd, r->iov, r->niov, off);
	else
		io_uring_prep_readv(sqe, r->fd, r->iov, r->niov, off);
}

static int full_io(int fd, void *buf, uint64_t len, uint64_t off, bool write, uint64_t *done)
{
	while (*done < len) {
		ssize_t n = write ? pwrite(fd, (uint8_t *)buf + *done, len - *done, (off_t)(off + *done))
				  : pread(fd, (uint8_t *)buf + *done, len - *done, (off_t)(off + *done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		*done += (uint64_t)n;
	}
	return 0;
}

/* The baseline: synchronous pread/pwrite through the device's bounce buffer. */
static void bounce_backend(struct virtio_blk *b, struct blk_req *r)
{
	uint64_t off = r->sector * VIRTIO_BLK_SECTOR;
	bool write = r->type == VIRTIO_BLK_T_OUT;
	int fd = b->fd;

	if (r->type == VIRTIO_BLK_T_FLUSH) {
		r->err = fdatasync(b->fd) ? -errno : 0;
		return;
	}
	if (b->direct && (off % b->off_align || r->len % b->off_align)) {
		fd = b->fd_buffered;
		b->stats.buffered++;
	}
	b->stats.bounced++;
	if (write)
		iov_copy(r->iov, r->niov, b->bounce_buf, r->len, false);
	r->err = full_io(fd, b->bounce_buf, r->len, off, write, &r->done);
	if (!write && !r->err)
		iov_copy(r->iov, r->niov, b->bounce_buf, r->len, true);
}

void blk_io__start(struct virtio_blk *b, struct blk_req *r)
{
	struct io_uring_sqe *sqe;

	if (b->opts.backend == VIRTIO_BLK_BOUNCE) {
		bounce_backend(b, r);
		return;
	}
	if (r->type != VIRTIO_BLK_T_FLUSH) {
		queue_data(b, r);
		return;
	}
	sqe = get_sqe(b, r);
	if (sqe)
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	else
		r->err = -EBUSY;
}

void blk_io__wait(struct virtio_blk *b)
{
	if (!b->ring_ok)
		return;
	while (b->inflight)
		submit_wait_one(b);
}

void blk_io__finish(struct virtio_blk *b, struct blk_req *r)
{
	if (r->err || r->done != r->len) {
		r->result = VIRTIO_BLK_S_IOERR;
		b->stats.host_errors++;
	} else if (r->path == BLK_PATH_BOUNCE && r->type == VIRTIO_BLK_T_IN) {
		iov_copy(r->iov, r->niov, r->bounce, r->len, true);
	}
	free(r->bounce);
	r->bounce = NULL;
}
