// SPDX-License-Identifier: MIT
/*
 * queue.c: split virtqueues, device side (queue.h).
 *
 * Invariants:
 * - A ready queue holds exactly three long-term pins (desc, avail, used);
 *   a queue not ready holds none.
 * - Every guest value is read once into a local copy (descriptors, ring
 *   entries, avail idx) and only the copy is checked and used: the guest
 *   changing a ring meanwhile cannot turn a checked value into an unchecked
 *   one (no double fetch).
 * - Guest memory is read and written only through the pins' iovecs, at
 *   offsets checked against the pinned length.
 * - The used idx is published with release order after its element, and
 *   the avail idx read with acquire order before the entries it covers.
 */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define DESC_SIZE 16u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint64_t desc_bytes(uint16_t num)
{
	return (uint64_t)DESC_SIZE * num;
}

static uint64_t avail_bytes(uint16_t num)
{
	return 6 + 2ULL * num; /* flags, idx, ring[num], used_event */
}

static uint64_t used_bytes(uint16_t num)
{
	return 6 + 8ULL * num; /* flags, idx, ring[num] {id, len}, avail_event */
}

static bool range_ok(uint64_t gpa, uint64_t len, uint64_t mem_size)
{
	return len && gpa < mem_size && len <= mem_size - gpa;
}

/* Host pointer to [off, off + len) of @pin if it lies in one iovec, else NULL. */
static void *pin_ptr(const struct mm_pin *pin, uint64_t off, uint64_t len)
{
	unsigned niov;
	const struct iovec *iov = mm_pin_iov(pin, &niov);

	for (unsigned i = 0; i < niov; i++) {
		if (off < iov[i].iov_len)
			return len <= iov[i].iov_len - off ? (uint8_t *)iov[i].iov_base + off : NULL;
		off -= iov[i].iov_len;
	}
	return NULL;
}

/* Copy between the pinned bytes [off, off + len) and @buf; false if out of range. */
static bool pin_copy(const struct mm_pin *pin, uint64_t off, void *buf, uint64_t len,
		     bool to_guest)
{
	unsigned niov;
	const struct iovec *iov = mm_pin_iov(pin, &niov);
	uint8_t *b = buf;

	for (unsigned i = 0; i < niov && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t n = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		uint8_t *g = (uint8_t *)iov[i].iov_base + off;

		if (to_guest)
			memcpy(g, b, n);
		else
			memcpy(b, g, n);
		b += n;
		len -= n;
		off = 0;
	}
	return !len;
}

static int pin_ring(struct virtq *q, uint64_t gpa, uint64_t len, uint64_t align, unsigned flags,
		    struct mm_pin **ret_pin)
{
	if (gpa % align)
		return -EINVAL;
	if (!range_ok(gpa, len, q->mem_size))
		return -EFAULT;
	return mm_pin(q->space, gpa, len, flags | MM_PIN_LONGTERM, ret_pin);
}

static void unpin_rings(struct virtq *q)
{
	mm_unpin(q->desc_pin);
	mm_unpin(q->avail_pin);
	mm_unpin(q->used_pin);
	q->desc_pin = q->avail_pin = q->used_pin = NULL;
}

static int pin_rings(struct virtq *q, struct mm_space *space, uint16_t max)
{
	int err;

	if (!q->num || q->num > max || (q->num & (q->num - 1)))
		return -EINVAL;
	q->space = space;
	q->mem_size = mm_space_size(space);
	err = pin_ring(q, q->desc_gpa, desc_bytes(q->num), 16, 0, &q->desc_pin);
	if (!err)
		err = pin_ring(q, q->avail_gpa, avail_bytes(q->num), 2, 0, &q->avail_pin);
	if (!err)
		err = pin_ring(q, q->used_gpa, used_bytes(q->num), 4, MM_PIN_WRITE, &q->used_pin);
	if (err)
		unpin_rings(q);
	return err;
}

int virtq__enable(struct virtq *q, struct mm_space *space, uint16_t max, bool indirect)
{
	int err;

	if (q->ready)
		return -EBUSY;
	err = pin_rings(q, space, max);
	if (err)
		return err;
	q->indirect = indirect;
	q->last_avail = 0;
	q->used_idx = 0;
	q->ready = true;
	return 0;
}

void virtq__disable(struct virtq *q)
{
	unpin_rings(q);
	*q = (struct virtq){0};
}

int virtq__clone(struct virtq *q, const struct virtq *src, struct mm_space *space)
{
	int err;

	*q = (struct virtq){.num = src->num, .desc_gpa = src->desc_gpa,
			    .avail_gpa = src->avail_gpa, .used_gpa = src->used_gpa};
	if (!src->ready)
		return 0;
	err = pin_rings(q, space, src->num);
	if (err)
		return err;
	q->indirect = src->indirect;
	q->last_avail = src->last_avail;
	q->used_idx = src->used_idx;
	q->ready = true;
	return 0;
}

static int read_desc(const struct mm_pin *table, uint16_t i, struct desc *ret)
{
	return pin_copy(table, (uint64_t)i * DESC_SIZE, ret, sizeof(*ret), false) ? 0 : -EFAULT;
}

/* Append one checked buffer to @c. */
static int add_buf(const struct virtq *q, struct virtq_chain *c, const struct desc *d)
{
	bool write = d->flags & VRING_DESC_F_WRITE;

	if (!d->len)
		return -EINVAL;
	if (!range_ok(d->addr, d->len, q->mem_size))
		return -EFAULT;
	if (c->nbufs && c->bufs[c->nbufs - 1].write && !write)
		return -EINVAL; /* readable after writable */
	if (c->nbufs >= VIRTQ_MAX_CHAIN)
		return -ELOOP;
	c->bufs[c->nbufs++] = (struct virtq_buf){.gpa = d->addr, .len = d->len, .write = write};
	return 0;
}

/*
 * Walk a chain through @table (@n entries) from @first; @d holds the
 * descriptor at @first already. At most @n descriptors: more is a loop.
 */
static int walk(const struct virtq *q, struct virtq_chain *c, const struct mm_pin *table,
		uint16_t n, struct desc d)
{
	for (unsigned count = 1;; count++) {
		int err;

		if (d.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL; /* only a head may be indirect, never nested */
		err = add_buf(q, c, &d);
		if (err)
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return -EINVAL;
		if (count >= n)
			return -ELOOP;
		err = read_desc(table, d.next, &d);
		if (err)
			return err;
	}
}

/* The head is an indirect descriptor: pin its table, walk it, unpin. */
static int walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct desc *head)
{
	struct mm_pin *table;
	uint16_t n;
	struct desc d;
	int err;

	if (!q->indirect || (head->flags & VRING_DESC_F_NEXT))
		return -EINVAL;
	if (!head->len || head->len % DESC_SIZE)
		return -EINVAL;
	if (head->len / DESC_SIZE > VIRTQ_MAX_INDIRECT)
		return -E2BIG;
	if (!range_ok(head->addr, head->len, q->mem_size))
		return -EFAULT;
	n = (uint16_t)(head->len / DESC_SIZE);
	err = mm_pin(q->space, head->addr, head->len, 0, &table);
	if (err)
		return err;
	err = read_desc(table, 0, &d);
	if (!err)
		err = walk(q, c, table, n, d);
	mm_unpin(table);
	return err;
}

int virtq__pop(struct virtq *q, struct virtq_chain *ret)
{
	const uint16_t *avail_idx_p;
	uint16_t avail_idx, head;
	struct desc d;
	int err;

	/* A queue that is not ready holds no pins: check before any lookup. */
	if (!q->ready)
		return -EINVAL;
	avail_idx_p = pin_ptr(q->avail_pin, 2, 2);
	if (!avail_idx_p)
		return -EINVAL;
	avail_idx = __atomic_load_n(avail_idx_p, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return -EOVERFLOW;
	if (!pin_copy(q->avail_pin, 4 + 2ULL * (q->last_avail % q->num), &head, 2, false))
		return -EFAULT;
	q->last_avail++; /* consumed, good or bad */
	if (head >= q->num)
		return -EINVAL;
	ret->head = head;
	ret->nbufs = 0;
	err = read_desc(q->desc_pin, head, &d);
	if (err)
		return err;
	if (d.flags & VRING_DESC_F_INDIRECT)
		err = walk_indirect(q, ret, &d);
	else
		err = walk(q, ret, q->desc_pin, q->num, d);
	return err ? err : 1;
}

int virtq__push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem e = {.id = head, .len = len};
	uint16_t *idx_p;

	if (!q->ready)
		return -EINVAL;
	idx_p = pin_ptr(q->used_pin, 2, 2);
	if (!idx_p)
		return -EINVAL;
	if (!pin_copy(q->used_pin, 4 + 8ULL * (q->used_idx % q->num), &e, sizeof(e), true))
		return -EFAULT;
	q->used_idx++;
	__atomic_store_n(idx_p, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}
