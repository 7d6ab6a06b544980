// SPDX-License-Identifier: MIT
/*
 * fuzz-virtq: split virtqueues (devices/virtio/queue.c) as a hostile
 * driver sets them up, over an mm space (no KVM) whose contents come from
 * the input, as tests/devices/test-virtio-queue.c does by hand.
 *
 * Input: a 16-byte queue configuration, then guest memory from address 0
 * (the rest of the 256 KiB guest reads zero):
 *   bytes 0-1   num (u16 LE), the queue size the driver writes
 *   byte 2      flags: bit 0 VIRTIO_RING_F_INDIRECT_DESC negotiated
 *   byte 3      how many chains the device pops at most (0: 2 * num + 2)
 *   bytes 4-15  desc, avail, used ring addresses (u32 LE each)
 * The device enables the queue and pops chains until none is left or one
 * is malformed (where the transport marks it NEEDS_RESET), pushing each
 * popped chain back with the length of its writable buffers.
 *
 * Properties, beyond no memory error or UB:
 *  - a popped chain has 1..VIRTQ_MAX_CHAIN buffers, each non-empty and
 *    inside guest memory, readable ones before writable ones, and a head
 *    below num;
 *  - the device writes guest memory only in the used ring;
 *  - a ready queue holds exactly its ring pins, and after disable no page
 *    of the pool is pinned.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "virtio/queue.h"

#define MEM (256u << 10)
#define CONFIG 16

static struct mm_pool *pool;
static struct mm_space *space;
static uint8_t *g, *before;
static size_t dirty = MEM; /* guest bytes [0, dirty) may be non-zero */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (mm_pool_create(NULL, &pool) || mm_space_create(pool, MEM, &space))
		abort();
	g = mm_space_hva(space);
	before = malloc(MEM);
	if (!before)
		abort();
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_chain(const struct virtq *q, const struct virtq_chain *c)
{
	uint64_t end;

	FUZZ_CHECK(c->head < q->num, "head %u, num %u", c->head, q->num);
	FUZZ_CHECK(c->nbufs >= 1 && c->nbufs <= VIRTQ_MAX_CHAIN, "%u buffers", c->nbufs);
	for (unsigned i = 0; i < c->nbufs; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		FUZZ_CHECK(b->len && !__builtin_add_overflow(b->gpa, b->len, &end) && end <= MEM,
			   "buffer %u: 0x%llx+0x%x", i, (unsigned long long)b->gpa, b->len);
		FUZZ_CHECK(!i || !c->bufs[i - 1].write || b->write,
			   "buffer %u readable after a writable one", i);
	}
}

/* Only the used ring [used, used + 6 + 8 * num) may have changed. */
static void check_written(const struct virtq *q)
{
	uint64_t lo = q->used_gpa, hi = lo + 6 + 8ull * q->num;

	if (!memcmp(g, before, lo) && !memcmp(g + hi, before + hi, MEM - hi))
		return; /* the fast path: byte loops are slow under ASan */
	for (uint64_t i = 0; i < MEM; i++)
		FUZZ_CHECK(g[i] == before[i] || (i >= lo && i < hi),
			   "guest byte 0x%llx written outside the used ring",
			   (unsigned long long)i);
}

static void run_queue(struct virtq *q, unsigned max_pops)
{
	static struct virtq_chain c;
	struct mm_stats s;
	int ret = 0;

	mm_space_stats(space, &s);
	FUZZ_CHECK(s.pinned_pages >= 1 && s.pinned_pages <= 6, "%llu pages pinned by 3 rings",
		   (unsigned long long)s.pinned_pages);
	for (unsigned n = 0; n < max_pops; n++) {
		uint32_t written = 0;

		ret = virtq__pop(q, &c);
		if (ret <= 0)
			break;
		check_chain(q, &c);
		for (unsigned i = 0; i < c.nbufs; i++)
			if (c.bufs[i].write)
				written += c.bufs[i].len;
		FUZZ_CHECK(!virtq__push(q, c.head, written), "push of a popped chain");
	}
	if (ret < 0)
		FUZZ_REJECT("pop: %s", strerror(-ret));
	else
		FUZZ_ACCEPT();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq q;
	struct mm_stats s;
	size_t n;
	int err;

	if (size < CONFIG) {
		FUZZ_REJECT("no %d-byte configuration", CONFIG);
		return 0;
	}
	memset(g, 0, dirty);
	n = size - CONFIG < MEM ? size - CONFIG : MEM;
	memcpy(g, data + CONFIG, n);
	dirty = n;
	q = (struct virtq){.num = (uint16_t)(data[0] | data[1] << 8),
			   .desc_gpa = le32(data + 4),
			   .avail_gpa = le32(data + 8),
			   .used_gpa = le32(data + 12)};
	err = virtq__enable(&q, space, VIRTQ_MAX_SIZE, data[2] & 1);
	if (err)
		FUZZ_REJECT("enable: %s", strerror(-err));
	if (!err) {
		memcpy(before, g, MEM);
		run_queue(&q, data[3] ? data[3] : 2u * q.num + 2);
		check_written(&q);
		if (q.used_gpa + 6 + 8ull * q.num > dirty)
			dirty = q.used_gpa + 6 + 8ull * q.num;
	}
	virtq__disable(&q);
	mm_pool_stats(pool, &s);
	FUZZ_CHECK(!s.pinned_pages, "%llu pages still pinned", (unsigned long long)s.pinned_pages);
	return 0;
}
