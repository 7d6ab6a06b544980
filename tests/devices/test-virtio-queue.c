// SPDX-License-Identifier: MIT
/*
 * test-virtio-queue: split virtqueues (devices/virtio/queue.c) and the
 * virtio-mmio transport (mmio.c) against a fake guest - an mm space the
 * test thread writes as the driver - with no KVM (suite devices; run it
 * under ASan/UBSan too).
 *
 * - Valid chains (direct, indirect, a chain of the whole queue, avail and
 *   used indices wrapping at 2^16) pop and push exactly.
 * - Every hostile value is refused with its errno: ring size and
 *   alignment, rings outside memory, zero/huge/wrapping/outside/MMIO
 *   descriptor addresses, loops, indices out of range, avail idx jumps,
 *   readable-after-writable, every indirect-table abuse.
 * - Nothing outside guest memory is touched: a neighbour space in the same
 *   pool keeps its canary and is never pinned; inside guest memory the
 *   device writes only the used ring (byte-compared after every case); the
 *   pins the queue holds are exactly its rings', and none leak.
 * - The transport: register widths, feature negotiation (FEATURES_OK
 *   refused without VERSION_1 or with unknown bits), queue setup only
 *   after FEATURES_OK, a malformed queue marking it NEEDS_RESET with the
 *   config interrupt bit and the error callback, notifies ignored until a
 *   reset, and a clone of the transport over a cloned space.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/mmio.h"
#include "virtio/queue.h"

#define MEM (1ULL << 20)
#define DESC 0x1000ULL
#define AVAIL 0x2000ULL
#define USED 0x3000ULL
#define ITAB 0x5000ULL
#define DATA 0x10000ULL
#define NUM 16
#define USED_BYTES (6 + 8 * VIRTQ_MAX_SIZE)
#define CANARY 0xa5

struct fix {
	struct mm_pool *pool;
	struct mm_space *space, *neighbour;
	uint8_t *g;		/* the guest's memory, as the driver writes it */
	uint8_t *before;	/* its copy before the device ran */
	struct virtq q;
};

static struct fix *F;

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(mm_pool_create(NULL, &f->pool), 0);
	assert_int_equal(mm_space_create(f->pool, MEM, &f->space), 0);
	assert_int_equal(mm_space_create(f->pool, MEM, &f->neighbour), 0);
	f->g = mm_space_hva(f->space);
	f->before = malloc(MEM);
	assert_non_null(f->before);
	memset(f->g, 0, MEM);
	memset(mm_space_hva(f->neighbour), CANARY, MEM);
	F = f;
	*state = f;
	return 0;
}

static void assert_neighbour_untouched(struct fix *f)
{
	const uint8_t *n = mm_space_hva(f->neighbour);
	struct mm_stats s;

	for (uint64_t i = 0; i < MEM; i++)
		if (n[i] != CANARY)
			fail_msg("neighbour space byte 0x%llx changed", (unsigned long long)i);
	mm_space_stats(f->neighbour, &s);
	assert_int_equal(s.pins, 0);
}

static int teardown(void **state)
{
	struct fix *f = *state;
	struct mm_stats s;

	virtq__disable(&f->q);
	assert_neighbour_untouched(f);
	mm_pool_stats(f->pool, &s);
	assert_int_equal(s.pinned_pages, 0); /* no pin leaked */
	assert_int_equal(mm_space_destroy(f->space), 0);
	assert_int_equal(mm_space_destroy(f->neighbour), 0);
	assert_int_equal(mm_pool_destroy(f->pool), 0);
	free(f->before);
	free(f);
	return 0;
}

static struct vring_desc *desc_at(uint64_t table, unsigned i)
{
	return (struct vring_desc *)(F->g + table) + i;
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	*desc_at(table, i) = (struct vring_desc){.addr = addr, .len = len, .flags = flags,
						 .next = next};
}

static uint16_t *avail_idx(void)
{
	return (uint16_t *)(F->g + AVAIL + 2);
}

/* The driver offers chain @head. */
static void offer(uint16_t head)
{
	uint16_t idx = *avail_idx();

	((uint16_t *)(F->g + AVAIL + 4))[idx % NUM] = head; /* every queue here has NUM */
	*avail_idx() = idx + 1;
}

static void enable(struct fix *f, uint16_t num, bool indirect)
{
	f->q = (struct virtq){.num = num, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED};
	assert_int_equal(virtq__enable(&f->q, f->space, VIRTQ_MAX_SIZE, indirect), 0);
}

/* Pop with the device; only the used ring may change in guest memory. */
static int pop(struct virtq_chain *c)
{
	int ret;

	memcpy(F->before, F->g, MEM);
	ret = virtq__pop(&F->q, c);
	for (uint64_t i = 0; i < MEM; i++)
		if (F->g[i] != F->before[i])
			fail_msg("pop changed guest byte 0x%llx", (unsigned long long)i);
	return ret;
}

static void assert_buf(const struct virtq_chain *c, unsigned i, uint64_t gpa, uint32_t len,
		       bool write)
{
	assert_true(i < c->nbufs);
	assert_int_equal(c->bufs[i].gpa, gpa);
	assert_int_equal(c->bufs[i].len, len);
	assert_int_equal(c->bufs[i].write, write);
}

static void test_valid_chains(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	struct mm_stats s;

	enable(f, NUM, true);
	mm_space_stats(f->space, &s);
	assert_int_equal(s.pinned_pages, 3); /* the three rings, nothing else */
	assert_int_equal(pop(&c), 0);	     /* empty */
	set_desc(DESC, 5, DATA, 16, VRING_DESC_F_NEXT, 9);
	set_desc(DESC, 9, DATA + 0x1000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(DESC, 2, DATA + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	offer(5);
	assert_int_equal(pop(&c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nbufs, 3);
	assert_buf(&c, 0, DATA, 16, false);
	assert_buf(&c, 1, DATA + 0x1000, 4096, true);
	assert_buf(&c, 2, DATA + 0x3000, 1, true);
	assert_int_equal(virtq__push(&f->q, 5, 4097), 0);
	assert_int_equal(*(uint16_t *)(f->g + USED + 2), 1);
	assert_int_equal(*(uint32_t *)(f->g + USED + 4), 5);
	assert_int_equal(*(uint32_t *)(f->g + USED + 8), 4097);

	/* Indirect: the table's chain, not the head descriptor. */
	set_desc(ITAB, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(ITAB, 1, DATA + 0x100, 512, VRING_DESC_F_WRITE, 0);
	set_desc(DESC, 0, ITAB, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(pop(&c), 1);
	assert_int_equal(c.nbufs, 2);
	assert_buf(&c, 1, DATA + 0x100, 512, true);

	/* A chain through every descriptor is not a loop. */
	for (unsigned i = 0; i < NUM; i++)
		set_desc(DESC, i, DATA + i * 64, 64, i + 1 < NUM ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	offer(0);
	assert_int_equal(pop(&c), 1);
	assert_int_equal(c.nbufs, NUM);
	/* The last byte of memory is a valid buffer. */
	set_desc(DESC, 0, MEM - 1, 1, 0, 0);
	offer(0);
	assert_int_equal(pop(&c), 1);
	assert_int_equal(pop(&c), 0);
}

static void test_indices_wrap(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;

	enable(f, NUM, false);
	f->q.last_avail = f->q.used_idx = 65534;
	*avail_idx() = 65534;
	set_desc(DESC, 1, DATA, 8, 0, 0);
	for (int i = 0; i < 4; i++) {
		offer(1);
		assert_int_equal(pop(&c), 1);
		assert_int_equal(virtq__push(&f->q, 1, (uint32_t)i), 0);
	}
	assert_int_equal(*avail_idx(), 2);
	assert_int_equal(*(uint16_t *)(f->g + USED + 2), 2);
	assert_int_equal(pop(&c), 0);
	/* A jump of exactly the queue size is legal; one more is not. */
	for (unsigned i = 0; i < NUM; i++)
		((uint16_t *)(f->g + AVAIL + 4))[i] = 1;
	*avail_idx() = (uint16_t)(f->q.last_avail + NUM);
	assert_int_equal(pop(&c), 1);
	*avail_idx() = (uint16_t)(f->q.last_avail + NUM + 1);
	assert_int_equal(pop(&c), -EOVERFLOW);
}

struct bad_desc {
	const char *what;
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	int err;
};

static void test_bad_descriptors(void **state)
{
	static const struct bad_desc cases[] = {
		{"zero length", DATA, 0, 0, -EINVAL},
		{"address = memory size", MEM, 512, 0, -EFAULT},
		{"crosses the end", MEM - 256, 512, 0, -EFAULT},
		{"huge length", DATA, 0xffffffffu, VRING_DESC_F_WRITE, -EFAULT},
		{"wraps around 2^64", ~0ULL - 4095, 8192, 0, -EFAULT},
		{"MMIO window", 0xd0010000ULL, 4096, 0, -EFAULT},
		{"far above", 1ULL << 40, 1, 0, -EFAULT},
	};
	struct fix *f = *state;
	struct virtq_chain c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enable(f, NUM, true);
		set_desc(DESC, 3, DATA, 16, VRING_DESC_F_NEXT, 4);
		set_desc(DESC, 4, cases[i].addr, cases[i].len, cases[i].flags, 0);
		offer(3);
		if (pop(&c) != cases[i].err)
			fail_msg("%s: not refused with %d", cases[i].what, cases[i].err);
		virtq__disable(&f->q);
		memset(f->g, 0, 0x10000);
	}
}

static void test_bad_chains(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;

	enable(f, NUM, false);
	set_desc(DESC, 0, DATA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 8, VRING_DESC_F_NEXT, 0);
	offer(0);
	assert_int_equal(pop(&c), -ELOOP);
	set_desc(DESC, 2, DATA, 8, VRING_DESC_F_NEXT, 2);
	offer(2);
	assert_int_equal(pop(&c), -ELOOP); /* self loop */
	set_desc(DESC, 3, DATA, 8, VRING_DESC_F_NEXT, NUM);
	offer(3);
	assert_int_equal(pop(&c), -EINVAL); /* next out of range */
	offer(NUM);
	assert_int_equal(pop(&c), -EINVAL); /* head out of range */
	offer(0xffff);
	assert_int_equal(pop(&c), -EINVAL);
	set_desc(DESC, 4, DATA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	set_desc(DESC, 5, DATA, 8, 0, 0);
	offer(4);
	assert_int_equal(pop(&c), -EINVAL); /* readable after writable */
	set_desc(DESC, 6, ITAB, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(ITAB, 0, DATA, 8, 0, 0);
	offer(6);
	assert_int_equal(pop(&c), -EINVAL); /* indirect not negotiated */
	*avail_idx() = (uint16_t)(f->q.last_avail + NUM + 1);
	assert_int_equal(pop(&c), -EOVERFLOW);
	*avail_idx() = (uint16_t)(f->q.last_avail - 1); /* "behind": a jump of 65535 */
	assert_int_equal(pop(&c), -EOVERFLOW);
}

struct bad_indirect {
	const char *what;
	uint64_t table;
	uint32_t len;
	uint16_t flags;
	int err;
};

static void test_bad_indirect(void **state)
{
	static const struct bad_indirect cases[] = {
		{"length not a multiple of 16", ITAB, 24, 0, -EINVAL},
		{"length 0", ITAB, 0, 0, -EINVAL},
		{"257 entries", ITAB, 16 * 257, 0, -E2BIG},
		{"huge", ITAB, 0xfffffff0u, 0, -E2BIG},
		{"with NEXT", ITAB, 32, VRING_DESC_F_NEXT, -EINVAL},
		{"outside memory", MEM - 16, 32, 0, -EFAULT},
		{"wrapping", ~0ULL - 15, 32, 0, -EFAULT},
	};
	struct fix *f = *state;
	struct virtq_chain c;

	enable(f, NUM, true);
	set_desc(ITAB, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(ITAB, 1, DATA + 16, 16, VRING_DESC_F_WRITE, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_desc(DESC, 1, cases[i].table, cases[i].len, VRING_DESC_F_INDIRECT | cases[i].flags, 2);
		offer(1);
		if (pop(&c) != cases[i].err)
			fail_msg("indirect %s: not refused with %d", cases[i].what, cases[i].err);
	}
	/* Nested, looping and out-of-table chains inside a table. */
	set_desc(ITAB, 0, ITAB + 0x100, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(DESC, 1, ITAB, 32, VRING_DESC_F_INDIRECT, 0);
	offer(1);
	assert_int_equal(pop(&c), -EINVAL);
	set_desc(ITAB, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(ITAB, 1, DATA, 16, VRING_DESC_F_NEXT, 0);
	offer(1);
	assert_int_equal(pop(&c), -ELOOP);
	set_desc(ITAB, 1, DATA, 16, VRING_DESC_F_NEXT, 2); /* the table has 2 entries */
	offer(1);
	assert_int_equal(pop(&c), -EINVAL);
	/* INDIRECT anywhere but the head. */
	set_desc(ITAB, 1, DATA, 16, 0, 0);
	set_desc(DESC, 2, DATA, 16, VRING_DESC_F_NEXT, 3);
	set_desc(DESC, 3, ITAB, 32, VRING_DESC_F_INDIRECT, 0);
	offer(2);
	assert_int_equal(pop(&c), -EINVAL);
	/* And a good one still works: the queue state is intact. */
	offer(1);
	assert_int_equal(pop(&c), 1);
	assert_int_equal(c.nbufs, 2);
}

/* Pop and push on a queue that was never made ready, or was disabled: -EINVAL, no pin. */
static void test_not_ready(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;

	f->q = (struct virtq){.num = NUM, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED};
	assert_int_equal(virtq__pop(&f->q, &c), -EINVAL);
	assert_int_equal(virtq__push(&f->q, 0, 0), -EINVAL);
	enable(f, NUM, false);
	virtq__disable(&f->q);
	offer(0);
	assert_int_equal(virtq__pop(&f->q, &c), -EINVAL);
	assert_int_equal(virtq__push(&f->q, 0, 0), -EINVAL);
}

static void test_bad_rings(void **state)
{
	static const struct {
		uint16_t num;
		uint64_t desc, avail, used;
		int err;
	} cases[] = {
		{0, DESC, AVAIL, USED, -EINVAL},
		{3, DESC, AVAIL, USED, -EINVAL},
		{512, DESC, AVAIL, USED, -EINVAL},
		{NUM, DESC + 8, AVAIL, USED, -EINVAL},
		{NUM, DESC, AVAIL + 1, USED, -EINVAL},
		{NUM, DESC, AVAIL, USED + 2, -EINVAL},
		{NUM, MEM, AVAIL, USED, -EFAULT},
		{NUM, DESC, MEM - 8, USED, -EFAULT},
		{NUM, DESC, AVAIL, MEM - 64, -EFAULT},
		{NUM, DESC, AVAIL, 0xd0010000ULL, -EFAULT},
		{NUM, ~0ULL - 15, AVAIL, USED, -EFAULT},
	};
	struct fix *f = *state;
	struct mm_stats s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->q = (struct virtq){.num = cases[i].num, .desc_gpa = cases[i].desc,
				      .avail_gpa = cases[i].avail, .used_gpa = cases[i].used};
		if (virtq__enable(&f->q, f->space, VIRTQ_MAX_SIZE, false) != cases[i].err)
			fail_msg("ring case %zu: not refused with %d", i, cases[i].err);
		assert_false(f->q.ready);
		mm_space_stats(f->space, &s);
		assert_int_equal(s.pinned_pages, 0); /* a refused queue pins nothing */
	}
}

/* A fake device: takes every chain, returns it with its length. */
static unsigned notified, errors_seen;

static void fake_notify(void *dev, struct virtio_mmio *t, unsigned qi)
{
	struct virtq_chain c;
	int ret;

	(void)dev;
	notified++;
	while ((ret = virtq__pop(&t->vqs[qi], &c)) > 0)
		assert_int_equal(virtq__push(&t->vqs[qi], c.head, c.bufs[0].len), 0);
	if (ret < 0)
		virtio_mmio__set_broken_locked(t, qi, ret);
	virtio_mmio__signal_used_locked(t);
}

static void fake_error(void *arg, unsigned qi, int err)
{
	(void)arg;
	(void)qi;
	(void)err;
	errors_seen++;
}

static const struct virtio_mmio_dev_ops fake_ops = {.notify = fake_notify};

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio__access(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio__access(t, off, (uint8_t *)&v, 4, true);
}

static void driver_setup(struct virtio_mmio *t, uint32_t feat_hi, uint16_t num, uint64_t desc)
{
	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, feat_hi);
	wr(t, VIRTIO_MMIO_STATUS, 0xb);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	wr(t, VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_transport(void **state)
{
	struct fix *f = *state;
	struct virtio_mmio_config cfg = {.device_id = 2, .nr_queues = 1, .queue_max = 64,
					 .ops = &fake_ops, .on_error = fake_error,
					 .config = "\x01\x02\x03\x04\x05", .config_len = 5};
	struct virtio_mmio t, child_t;
	struct mm_space *child;
	struct mm_stats s;
	uint64_t v8 = ~0ULL;

	assert_int_equal(virtio_mmio__init(&t, f->space, &cfg), 0);
	assert_int_equal(rd(&t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(&t, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(&t, VIRTIO_MMIO_DEVICE_ID), 2);
	virtio_mmio__access(&t, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&v8, 2, false);
	assert_int_equal(v8, ~0ULL << 16); /* a 2-byte register read: zeros, counted */
	virtio_mmio__access(&t, VIRTIO_MMIO_CONFIG + 3, (uint8_t *)&v8, 4, false);
	assert_int_equal(v8 & 0xffffffff, 0x0504); /* config bytes 3, 4, then zeros */
	wr(&t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(&t, VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 */

	driver_setup(&t, 0, NUM, DESC); /* no VERSION_1: refused, queue not ready */
	assert_false(rd(&t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(rd(&t, VIRTIO_MMIO_QUEUE_READY), 0);
	driver_setup(&t, 3, NUM, DESC); /* an unknown feature: refused */
	assert_false(rd(&t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	driver_setup(&t, 1, NUM, DESC);
	assert_int_equal(rd(&t, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(&t, VIRTIO_MMIO_QUEUE_NUM, 8); /* ignored while ready */
	assert_int_equal(rd(&t, VIRTIO_MMIO_QUEUE_NUM), NUM);
	wr(&t, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* before DRIVER_OK: ignored */
	assert_int_equal(notified, 0);
	wr(&t, VIRTIO_MMIO_STATUS, 0xf);
	set_desc(DESC, 0, DATA, 100, 0, 0);
	*avail_idx() = 0;
	offer(0);
	wr(&t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(notified, 1);
	assert_int_equal(*(uint32_t *)(f->g + USED + 8), 100);
	assert_int_equal(rd(&t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(&t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(&t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* Clone the transport over a clone of the space: same state, its own pins. */
	assert_int_equal(mm_space_clone(f->space, 0, &child), 0);
	assert_int_equal(virtio_mmio__clone(&child_t, &t, child, &cfg), 0);
	assert_int_equal(rd(&child_t, VIRTIO_MMIO_STATUS), 0xf);
	assert_int_equal(child_t.vqs[0].last_avail, 1);
	mm_space_stats(child, &s);
	assert_int_equal(s.pinned_pages, 3);
	virtio_mmio__exit(&child_t);
	assert_int_equal(mm_space_destroy(child), 0);

	/* A loop: broken, NEEDS_RESET + config interrupt, reported once. */
	set_desc(DESC, 0, DATA, 100, VRING_DESC_F_NEXT, 0);
	offer(0);
	wr(&t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(&t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(rd(&t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(errors_seen, 1);
	wr(&t, VIRTIO_MMIO_STATUS, 0xf); /* the driver cannot clear it */
	assert_true(rd(&t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(&t, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* ignored while broken */
	assert_int_equal(notified, 2);
	/* A bad ring at QueueReady breaks it too. */
	driver_setup(&t, 1, NUM, MEM - 16);
	assert_true(rd(&t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(errors_seen, 2);
	/* Reset: clean, unpinned. */
	wr(&t, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(&t, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(&t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	mm_space_stats(f->space, &s);
	assert_int_equal(s.pinned_pages, 0);
	virtio_mmio__stats(&t, &(struct virtio_mmio_stats){0});
	assert_int_equal(t.stats.errors, 2);
	assert_true(t.stats.bad_accesses >= 3);
	virtio_mmio__exit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indices_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
