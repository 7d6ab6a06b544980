/* SPDX-License-Identifier: MIT */
/*
 * virtio/queue: split virtqueues (virtio 1.x, section 2.7), device side.
 *
 * Everything in a ring is written by the guest and may change under us, so
 * the device copies each value once, validates the copy and uses only the
 * copy. What is checked, and what a violation returns (the transport then
 * marks the device broken):
 *   - queue size a power of 2 in [1, max]; ring addresses aligned (desc 16,
 *     avail 2, used 4) and the whole ring inside guest memory   -EINVAL/-EFAULT
 *   - avail idx running more than the queue size ahead          -EOVERFLOW
 *   - a head or next index >= the queue size                    -EINVAL
 *   - a descriptor of length 0, or an address+length outside guest memory
 *     (or wrapping)                                              -EINVAL/-EFAULT
 *   - a device-readable descriptor after a device-writable one  -EINVAL
 *   - a chain longer than the queue size (a loop)               -ELOOP
 *   - INDIRECT without VIRTIO_RING_F_INDIRECT_DESC, INDIRECT with NEXT,
 *     INDIRECT anywhere but the head, nested INDIRECT, a table length not
 *     a multiple of 16 or of more than VIRTQ_MAX_INDIRECT entries -EINVAL/-E2BIG
 *     (a loop inside the table: -ELOOP).
 * Guest memory is the mm space's and it is reached only through mm pins:
 * the three rings are pinned long-term (MM_PIN_LONGTERM; the used ring R/W,
 * the others read-only) from virtq__enable to virtq__disable - a clone of
 * the VM gets copies of those pages and the owner keeps its own; an
 * indirect table is pinned short-term while it is copied. Buffers are not
 * touched here: a chain is a list of guest-physical (address, length,
 * direction) the device pins for the request's life.
 *
 * Not thread-safe: the transport serialises calls (its lock).
 */
#ifndef DEVICES_VIRTIO_QUEUE_H
#define DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm.h"

#define VIRTQ_MAX_SIZE 256	/* the largest queue a device offers */
#define VIRTQ_MAX_INDIRECT 256	/* entries of one indirect table */
#define VIRTQ_MAX_CHAIN 256	/* buffers of one chain, direct or indirect */

struct virtq_buf {
	uint64_t gpa;
	uint32_t len;		/* > 0; [gpa, gpa + len) inside guest memory */
	bool write;		/* device-writable */
};

struct virtq_chain {
	uint16_t head;		/* what virtq__push returns to the driver */
	unsigned nbufs;		/* readable ones first, then writable ones */
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

struct virtq {
	/* Configured by the driver (through the transport) while not ready. */
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Device side, valid while ready. */
	bool ready;
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	struct mm_space *space;
	uint64_t mem_size;
	struct mm_pin *desc_pin, *avail_pin, *used_pin;
	uint16_t last_avail;	/* next avail entry the device takes */
	uint16_t used_idx;	/* next used entry the device fills */
};

/*
 * Validate the configuration (num <= @max) and pin the rings in @space; the
 * queue starts at avail/used index 0. On error nothing stays pinned and the
 * queue stays not ready.
 */
__mm_must_check int virtq__enable(struct virtq *q, struct mm_space *space, uint16_t max,
				  bool indirect);
/* Unpin the rings and forget the configuration. Idempotent. */
void virtq__disable(struct virtq *q);
/*
 * A ready queue with the same configuration and indices as @src, its rings
 * pinned in @space (a clone of @src's space: the same layout).
 */
__mm_must_check int virtq__clone(struct virtq *q, const struct virtq *src,
				 struct mm_space *space);

/* Take the next available chain: 1 and *ret filled, 0 if none, -errno if malformed. */
__mm_must_check int virtq__pop(struct virtq *q, struct virtq_chain *ret);
/* Return chain @head with @len bytes written by the device; publishes the used idx. */
__mm_must_check int virtq__push(struct virtq *q, uint16_t head, uint32_t len);

#endif
