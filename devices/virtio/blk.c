// SPDX-License-Identifier: MIT
/*
 * blk.c: virtio-blk requests and the device (blk.h); the image and the I/O
 * backends are in blk-io.c.
 *
 * Invariants (transport lock held):
 * - A request is taken off the ring, pinned, started, waited for and
 *   returned within one notify: when blk_notify returns, no request holds
 *   a pin and no I/O is in flight.
 * - A batch holds at most the queue size of requests and
 *   BLK_BATCH_BYTES + VIRTIO_BLK_MAX_DATA bytes of data.
 * - A request's header is copied once (through short pins dropped at
 *   once); sector, length and type are checked on that copy before any
 *   data buffer is pinned, and no data buffer is pinned for a request of
 *   more than VIRTIO_BLK_MAX_DATA bytes.
 * - The status byte is written before the chain is returned (virtq__push
 *   publishes with release order), so the driver never sees a used entry
 *   with a stale status.
 */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk-internal.h"

#define BLK_HDR_SIZE 16
/*
 * One batch is at most a queue's worth of requests and about
 * BLK_BATCH_BYTES of data (bounce buffers included, so that is what a guest
 * can make the host allocate at once); one notify serves at most twice the
 * queue size: everything available when it came, and a bounded extra.
 */
#define BLK_BATCH_BYTES (32U << 20)

/* A walk over [skip, skip + left) of a chain's readable (or writable) bytes. */
struct chain_span {
	const struct virtq_chain *c;
	bool writable;
	unsigned i;
	uint64_t skip, left;
};

/* The next piece, in one buffer: false when done (left > 0: the chain ran out). */
static bool span_next(struct chain_span *s, uint64_t *ret_gpa, uint64_t *ret_n)
{
	for (; s->i < s->c->nbufs && s->left; s->i++) {
		const struct virtq_buf *vb = &s->c->bufs[s->i];

		if (vb->write != s->writable)
			continue;
		if (s->skip >= vb->len) {
			s->skip -= vb->len;
			continue;
		}
		*ret_gpa = vb->gpa + s->skip;
		*ret_n = vb->len - s->skip < s->left ? vb->len - s->skip : s->left;
		s->left -= *ret_n;
		s->skip = 0;
		s->i++;
		return true;
	}
	return false;
}

/* Copy [skip, skip + len) of the chain's readable (or writable) bytes, through short pins. */
static int chain_copy(struct virtio_blk *b, const struct virtq_chain *c, bool writable,
		      uint64_t skip, uint8_t *buf, uint64_t len, bool to_guest)
{
	struct chain_span s = {.c = c, .writable = writable, .skip = skip, .left = len};
	uint64_t gpa, n;

	while (span_next(&s, &gpa, &n)) {
		struct mm_pin *pin;
		const struct iovec *iov;
		unsigned niov;
		int err = mm_pin(b->space, gpa, n, to_guest ? MM_PIN_WRITE : 0, &pin);

		if (err)
			return err;
		iov = mm_pin_iov(pin, &niov);
		for (unsigned j = 0; j < niov; j++) {
			if (to_guest)
				memcpy(iov[j].iov_base, buf, iov[j].iov_len);
			else
				memcpy(buf, iov[j].iov_base, iov[j].iov_len);
			buf += iov[j].iov_len;
		}
		mm_unpin(pin);
	}
	return s.left ? -EFAULT : 0;
}

static void req_release(struct blk_req *r)
{
	for (unsigned i = 0; i < r->nsegs; i++)
		mm_unpin(r->pins[i]);
	mm_unpin(r->status_pin);
	free(r->pins);
	free(r->segs);
	free(r->iov);
	free(r->bounce);
	*r = (struct blk_req){0};
}

/* Pin [skip, skip + len) of the readable (or writable) buffers as @r's data. */
static int pin_data(struct virtio_blk *b, struct blk_req *r, const struct virtq_chain *c,
		    bool writable, uint64_t skip, uint64_t len)
{
	struct chain_span s = {.c = c, .writable = writable, .skip = skip, .left = len};
	unsigned niov_total = 0;
	uint64_t gpa, n;

	r->segs = calloc(c->nbufs, sizeof(*r->segs));
	r->pins = calloc(c->nbufs, sizeof(*r->pins));
	if (!r->segs || !r->pins)
		return -ENOMEM;
	while (span_next(&s, &gpa, &n)) {
		unsigned niov;
		int err = mm_pin(b->space, gpa, n, writable ? MM_PIN_WRITE : 0, &r->pins[r->nsegs]);

		if (err)
			return err;
		r->segs[r->nsegs++] = (struct blk_seg){.gpa = gpa, .len = (uint32_t)n};
		mm_pin_iov(r->pins[r->nsegs - 1], &niov);
		niov_total += niov;
	}
	r->iov = calloc(niov_total ? niov_total : 1, sizeof(*r->iov));
	if (!r->iov)
		return -ENOMEM;
	for (unsigned i = 0; i < r->nsegs; i++) {
		unsigned niov;
		const struct iovec *iov = mm_pin_iov(r->pins[i], &niov);

		memcpy(r->iov + r->niov, iov, niov * sizeof(*iov));
		r->niov += niov;
	}
	return s.left ? -EFAULT : 0;
}

static bool data_ok(const struct virtio_blk *b, uint64_t sector, uint64_t len)
{
	return len && len % VIRTIO_BLK_SECTOR == 0 && len <= VIRTIO_BLK_MAX_DATA &&
	       sector <= b->capacity && len / VIRTIO_BLK_SECTOR <= b->capacity - sector;
}

/* IN or OUT: check, pin the data; true if I/O must run. */
static bool prepare_data(struct virtio_blk *b, struct blk_req *r, const struct virtq_chain *c,
			 uint64_t readable, uint64_t writable)
{
	bool in = r->type == VIRTIO_BLK_T_IN;
	int err;

	r->len = in ? writable - 1 : readable - BLK_HDR_SIZE;
	if ((!in && b->opts.read_only) || !data_ok(b, r->sector, r->len)) {
		r->result = VIRTIO_BLK_S_IOERR;
		return false;
	}
	err = pin_data(b, r, c, in, in ? 0 : BLK_HDR_SIZE, r->len);
	if (err) {
		r->result = VIRTIO_BLK_S_IOERR;
		b->stats.host_errors++;
		return false;
	}
	return true;
}

/* Turn @c into request @r: check, pin; true if its I/O must run. */
static bool prepare(struct virtio_blk *b, struct blk_req *r, const struct virtq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	uint64_t readable = 0, writable = 0;
	const struct virtq_buf *last = &c->bufs[c->nbufs - 1];

	*r = (struct blk_req){.head = c->head, .result = VIRTIO_BLK_S_OK, .used_len = 1};
	for (unsigned i = 0; i < c->nbufs; i++)
		*(c->bufs[i].write ? &writable : &readable) += c->bufs[i].len;
	if (!writable) {
		b->stats.bad_chains++; /* no status byte: returned unanswered */
		r->used_len = 0;
		return false;
	}
	if (mm_pin(b->space, last->gpa + last->len - 1, 1, MM_PIN_WRITE, &r->status_pin)) {
		b->stats.host_errors++;
		r->used_len = 0;
		return false;
	}
	r->status = mm_pin_iov(r->status_pin, &(unsigned){0})[0].iov_base;
	if (readable < BLK_HDR_SIZE ||
	    chain_copy(b, c, false, 0, (uint8_t *)&hdr, sizeof(hdr), false)) {
		r->result = VIRTIO_BLK_S_IOERR;
		return false;
	}
	r->type = hdr.type;
	r->sector = hdr.sector;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		b->stats.reqs_in++;
		return prepare_data(b, r, c, readable, writable);
	case VIRTIO_BLK_T_OUT:
		b->stats.reqs_out++;
		return prepare_data(b, r, c, readable, writable);
	case VIRTIO_BLK_T_FLUSH:
		b->stats.reqs_flush++;
		return !b->opts.read_only;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = writable - 1 < sizeof(b->id) ? writable - 1 : sizeof(b->id);

		b->stats.reqs_get_id++;
		if (chain_copy(b, c, true, 0, (uint8_t *)b->id, n, true))
			r->result = VIRTIO_BLK_S_IOERR;
		else
			r->used_len = (uint32_t)n + 1;
		return false;
	}
	default:
		b->stats.reqs_unsupp++;
		r->result = VIRTIO_BLK_S_UNSUPP;
		return false;
	}
}

/* Write the status, drop the pins, return the chain. */
static int complete(struct virtio_blk *b, struct virtq *q, struct blk_req *r)
{
	uint16_t head = r->head;
	uint32_t used = r->used_len;

	if (r->status) {
		if (r->result == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_IN) {
			used = (uint32_t)r->len + 1;
			b->stats.bytes_read += r->len;
		} else if (r->result == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_OUT) {
			b->stats.bytes_written += r->len;
		}
		b->stats.ioerr += r->result == VIRTIO_BLK_S_IOERR;
		*r->status = r->result;
	}
	req_release(r);
	return virtq__push(q, head, used);
}

static void blk_notify(void *dev, struct virtio_mmio *t, unsigned qi)
{
	struct virtio_blk *b = dev;
	struct virtq *q = &t->vqs[qi];
	unsigned served = 0;
	int ret = 1, err = 0;

	while (served < 2U * q->num && ret > 0 && !err) {
		uint64_t bytes = 0;
		unsigned n = 0;

		while (n < q->num && bytes < BLK_BATCH_BYTES && served < 2U * q->num &&
		       (ret = virtq__pop(q, &b->chain)) > 0) {
			struct blk_req *r = &b->reqs[n++];

			served++;
			r->io = prepare(b, r, &b->chain);
			if (r->io)
				blk_io__start(b, r);
			bytes += r->len;
		}
		blk_io__wait(b);
		for (unsigned i = 0; i < n; i++) {
			struct blk_req *r = &b->reqs[i];

			if (r->io)
				blk_io__finish(b, r);
			err = complete(b, q, r) ?: err;
		}
		if (n) {
			b->stats.batches++;
			virtio_mmio__signal_used_locked(t);
		}
	}
	if (ret < 0 || err)
		virtio_mmio__set_broken_locked(t, qi, ret < 0 ? ret : err);
}

static const struct virtio_mmio_dev_ops blk_ops = {.notify = blk_notify};

static int init_transport(struct virtio_blk *b, const struct virtio_mmio *src)
{
	struct virtio_blk_config cfg = {
		.capacity = b->capacity,
		.size_max = VIRTIO_BLK_MAX_DATA,
		.seg_max = VIRTQ_MAX_CHAIN - 2,
		.blk_size = VIRTIO_BLK_SECTOR,
	};
	struct virtio_mmio_config mc = {
		.device_id = VIRTIO_ID_BLOCK,
		.features = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
			    1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH |
			    1ULL << VIRTIO_RING_F_INDIRECT_DESC |
			    (uint64_t)b->opts.read_only << VIRTIO_BLK_F_RO,
		.nr_queues = 1,
		.queue_max = VIRTIO_BLK_QUEUE_MAX,
		.config = &cfg,
		.config_len = sizeof(cfg),
		.ops = &blk_ops,
		.dev = b,
		.on_error = b->opts.on_error,
		.error_arg = b->opts.error_arg,
	};

	return src ? virtio_mmio__clone(&b->t, src, b->space, &mc)
		   : virtio_mmio__init(&b->t, b->space, &mc);
}

static struct virtio_blk *blk_alloc(struct mm_space *space, const struct virtio_blk_opts *o)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->fd = b->fd_buffered = -1;
	b->opts = *o;
	b->path = strdup(o->path);
	b->opts.path = b->path;
	b->space = space;
	b->hva = mm_space_hva(space);
	b->mem_size = mm_space_size(space);
	if (!b->path) {
		free(b);
		return NULL;
	}
	return b;
}

/* Tear down what create/clone built so far (@transport: the transport is set up). */
static void blk_free(struct virtio_blk *b, bool transport)
{
	if (transport)
		virtio_mmio__exit(&b->t);
	blk_io__close(b);
	free(b->path);
	free(b);
}

int virtio_blk__create(struct mm_space *space, const struct virtio_blk_opts *o,
		       struct virtio_blk **ret_blk, const char **ret_step)
{
	struct virtio_blk *b;
	int err;

	if (!o->path || (o->backend != VIRTIO_BLK_URING && o->backend != VIRTIO_BLK_BOUNCE))
		return -EINVAL;
	b = blk_alloc(space, o);
	if (!b)
		return -ENOMEM;
	err = blk_io__open(b, ret_step);
	if (err) {
		blk_free(b, false);
		return err;
	}
	err = init_transport(b, NULL);
	if (err) {
		blk_free(b, false);
		return err;
	}
	err = blk_io__setup(b, ret_step);
	if (err) {
		blk_free(b, true);
		return err;
	}
	*ret_blk = b;
	return 0;
}

int virtio_blk__clone(struct virtio_blk *src, struct mm_space *space, struct virtio_blk **ret_blk,
		      const char **ret_step)
{
	struct virtio_blk *b = blk_alloc(space, &src->opts);
	int err;

	if (!b)
		return -ENOMEM;
	err = blk_io__dup(b, src, ret_step);
	if (err) {
		blk_free(b, false);
		return err;
	}
	pthread_mutex_lock(&src->t.lock);
	err = init_transport(b, &src->t);
	pthread_mutex_unlock(&src->t.lock);
	if (err) {
		if (ret_step)
			*ret_step = "pinning the clone's virtqueues";
		blk_free(b, false);
		return err;
	}
	err = blk_io__setup(b, ret_step);
	if (err) {
		blk_free(b, true);
		return err;
	}
	*ret_blk = b;
	return 0;
}

void virtio_blk__destroy(struct virtio_blk *b)
{
	if (b)
		blk_free(b, true);
}

struct virtio_mmio *virtio_blk__transport(struct virtio_blk *b)
{
	return &b->t;
}

void virtio_blk__stats(struct virtio_blk *b, struct virtio_blk_stats *ret)
{
	pthread_mutex_lock(&b->t.lock);
	*ret = b->stats;
	ret->transport = b->t.stats;
	pthread_mutex_unlock(&b->t.lock);
}

uint64_t virtio_blk__capacity(const struct virtio_blk *b)
{
	return b->capacity;
}

bool virtio_blk__direct(const struct virtio_blk *b)
{
	return b->direct;
}
