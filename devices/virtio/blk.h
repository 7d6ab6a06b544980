/* SPDX-License-Identifier: MIT */
/*
 * virtio/blk: a virtio-blk device (virtio 1.x, section 5.2) backed by a raw
 * image file, behind the virtio-mmio transport (virtio/mmio.h).
 *
 * Requests: IN, OUT, FLUSH, GET_ID; anything else is answered UNSUPP. A
 * request's sector and length (a multiple of 512, at most
 * VIRTIO_BLK_MAX_DATA) are checked against the image: out of range, bad
 * length or a write to a read-only disk is answered IOERR, the device goes
 * on. A chain with no device-writable byte for the status cannot be
 * answered: it is returned with length 0 and counted (bad_chains).
 *
 * Backends:
 *   - VIRTIO_BLK_URING (default): io_uring on the image opened O_DIRECT,
 *     reading and writing straight into the pinned guest pages (zero copy).
 *     A request whose guest buffers are not aligned for O_DIRECT goes
 *     through an aligned bounce buffer (counted: bounced); one whose file
 *     offset is not goes through a second, buffered descriptor (counted:
 *     buffered). Where O_DIRECT cannot be opened at all (tmpfs on older
 *     kernels) the image is used buffered, still zero copy for the VMM.
 *   - fixed_buffers (with URING): guest RAM is registered as io_uring fixed
 *     buffers over the guest's host mapping, so the host kernel holds
 *     long-term pins on the guest's frames. mm must then treat every frame
 *     as pinned: the device holds mm_pin(MM_PIN_WRITE | MM_PIN_LONGTERM)
 *     over all guest RAM for as long as the buffers are registered, so mm
 *     never replaces the owner's frames (write faults reuse, clones get
 *     copies). Data then moves with READ_FIXED/WRITE_FIXED.
 *   - VIRTIO_BLK_BOUNCE: the baseline - pread/pwrite through a host buffer
 *     on the same descriptor, one request at a time, memcpy into or out of
 *     the pinned pages.
 *
 * Guest memory: rings as virtio/queue.h says; every request pins its
 * buffers short-term (mm_pin) from the moment it is taken off the ring to
 * the moment its status is written, and I/O only ever addresses those
 * pins (or, for fixed buffers, the registered range they lie in).
 *
 * Where requests run: on the vCPU thread that writes QueueNotify, under
 * the transport's lock: every available chain is taken, all their I/O is
 * submitted to io_uring at once (queue depth = the batch), the thread
 * waits for the completions and returns the chains before the notify
 * write completes. So no request is ever in flight while the VM is paused,
 * which is what makes a clone of the device (virtio_blk__clone) exact.
 */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "mm.h"
#include "virtio/mmio.h"

#define VIRTIO_BLK_SECTOR 512
#define VIRTIO_BLK_MAX_DATA (4U << 20) /* data bytes of one request */
#define VIRTIO_BLK_QUEUE_MAX 256

enum virtio_blk_backend {
	VIRTIO_BLK_URING = 0,
	VIRTIO_BLK_BOUNCE,
};

struct virtio_blk_opts {
	const char *path;		/* raw image: a regular file or block device */
	bool read_only;			/* VIRTIO_BLK_F_RO; OUT is answered IOERR */
	bool fixed_buffers;		/* register guest RAM with io_uring (URING only) */
	enum virtio_blk_backend backend;
	/* Made broken by the guest (see mmio.h; may be NULL): */
	void (*on_error)(void *arg, unsigned qi, int err);
	void *error_arg;
};

struct virtio_blk_stats {
	uint64_t reqs_in, reqs_out, reqs_flush, reqs_get_id, reqs_unsupp;
	uint64_t bytes_read, bytes_written;
	uint64_t ioerr;		/* requests answered IOERR (guest's or host's fault) */
	uint64_t host_errors;	/* of those: the host I/O failed */
	uint64_t bad_chains;	/* chains that had no status byte */
	uint64_t zero_copy;	/* data requests done straight into the pinned pages */
	uint64_t fixed;		/* of those: through the fixed buffers */
	uint64_t bounced;	/* data requests alignment forced through a bounce buffer */
	uint64_t buffered;	/* data requests done without O_DIRECT */
	uint64_t batches;	/* groups of requests submitted and waited for together */
	struct virtio_mmio_stats transport;
};

struct virtio_blk;

/*
 * Open the image and set the device up over guest memory @space. On error
 * *@ret_step (may be NULL) names the step that failed.
 */
__mm_must_check int virtio_blk__create(struct mm_space *space, const struct virtio_blk_opts *o,
				       struct virtio_blk **ret_blk, const char **ret_step);
/*
 * The device of a clone of @src's VM, over @space (the clone's memory): the
 * same image (shared descriptor: writes by either VM reach the one image),
 * options and transport state, its own io_uring (and fixed buffers over
 * @space). @src must be quiescent: its VM paused.
 */
__mm_must_check int virtio_blk__clone(struct virtio_blk *src, struct mm_space *space,
				      struct virtio_blk **ret_blk, const char **ret_step);
/* Unregister, unpin, close. The VM must not run. NULL: no-op. */
void virtio_blk__destroy(struct virtio_blk *b);

/* The transport the VMM routes the device's MMIO window to. */
struct virtio_mmio *virtio_blk__transport(struct virtio_blk *b);
void virtio_blk__stats(struct virtio_blk *b, struct virtio_blk_stats *ret);
uint64_t virtio_blk__capacity(const struct virtio_blk *b); /* in 512-byte sectors */
bool virtio_blk__direct(const struct virtio_blk *b);	    /* O_DIRECT in use */

#endif
