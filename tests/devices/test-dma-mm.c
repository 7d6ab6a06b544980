// SPDX-License-Identifier: MIT
/*
 * test-dma-mm: the DMA test device's pins across clone, reset and snapshot
 * of mm spaces (suite devices; DESIGN.md invariants 4, 5, 7, 8). Host
 * threads are the guests; the device is the real device model, checked
 * through its iovecs and against each space's host mapping and page info.
 * Every mm counter a step may move is asserted exactly (mm-test.h's
 * check_delta: unnamed decision counters must not move).
 *
 * - R/W longterm pin, then clone: the parent keeps its frame (the clone gets
 *   a copy); device writes reach the parent only; the clone's writes never
 *   reach the device; the parent's do.
 * - R/O pin on a page shared with an earlier clone: unshared (copied) first;
 *   the device sees the owner's later writes, never the clone's.
 * - Pin, clone, unpin, parent writes: no copy; once a later clone is gone, a
 *   write fault reuses; while one shares the page, it copies.
 * - Reset of a resettable clone whose device holds a pin: refused with
 *   MM_RESET_REFUSE_PINNED; without it restored in place, the device still
 *   on the guest's frame.
 * - A live snapshot with a pin held: the guest's writes reuse its frame.
 * - Races: two devices DMA on timers (one longterm, one short-term) while
 *   the space is cloned and clones destroyed over and over; no clone ever
 *   sees a device write after its clone point, and no frame leaks.
 */
#include <unistd.h>

#include "dma-helpers.h"

#define MEM (32ULL << 20)
#define BUF (8ULL << 20)
#define NPG 16ULL
#define LEN (NPG * PAGE)
#define RW_LT (DMA_F_DEV_WRITES | DMA_F_DEV_READS | DMA_F_LONGTERM)
#define RO_LT (DMA_F_DEV_READS | DMA_F_LONGTERM)

struct fix {
	struct mm_pool *pool;
	struct mm_space *parent;
	struct dma_test *dev;
	struct mm_stats st; /* counters at the last check_delta */
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct dma_test_config cfg = {0};

	assert_non_null(f);
	*state = f;
	test_pool_create(NULL, &f->pool);
	assert_int_equal(mm_space_create(f->pool, MEM, &f->parent), 0);
	cfg.space = f->parent;
	assert_int_equal(dma_test__create(&cfg, &f->dev), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	dma_test__destroy(f->dev);
	assert_int_equal(mm_space_destroy(f->parent), 0);
	assert_pool_empty(f->pool);
	assert_int_equal(mm_pool_destroy(f->pool), 0);
	free(f);
	return 0;
}

static uint8_t *buf(struct mm_space *s)
{
	return gpa_ptr(s, BUF);
}

static void buf_pfns(struct mm_space *s, uint64_t *pfns)
{
	for (uint64_t i = 0; i < NPG; i++)
		pfns[i] = page_info(s, BUF + i * PAGE).pfn;
}

/* Every page of the buffer in @s: on frame pfns[i] or not, pinned or not. */
static void assert_pages(struct mm_space *s, const uint64_t *pfns, bool same, uint32_t pincount,
			 bool exclusive)
{
	for (uint64_t i = 0; i < NPG; i++) {
		struct mm_page_info pi = page_info(s, BUF + i * PAGE);

		if (!pi.present || (pi.pfn == pfns[i]) != same || pi.pincount != pincount ||
		    pi.exclusive != exclusive)
			fail_msg("page %llu: present %d pfn %llu (%s %llu) pincount %u exclusive %d",
				 (unsigned long long)i, pi.present, (unsigned long long)pi.pfn,
				 same ? "want" : "must differ from", (unsigned long long)pfns[i],
				 pi.pincount, pi.exclusive);
	}
}

static void assert_tags(struct mm_space *s, uint32_t tag)
{
	for (uint64_t i = 0; i < NPG; i++)
		assert_guest_tag(s, BUF + i * PAGE, tag);
}

/* Invariant 4: a R/W longterm pin, then a clone. */
static void test_rw_pin_then_clone(void **state)
{
	struct fix *f = *state;
	struct mm_space *child;
	uint64_t pfns[NPG];

	guest_fill(f->parent, BUF, NPG, 0x100);
	assert_int_equal(dma_test__pin(f->dev, BUF, LEN, RW_LT), 0);
	buf_pfns(f->parent, pfns);
	mm_pool_stats(f->pool, &f->st);
	assert_int_equal(mm_space_clone(f->parent, 0, &child), 0);
	check_delta(f->pool, &f->st, "clone", .clone_pinned_copies = NPG, .clones = 1);
	assert_pages(f->parent, pfns, true, 1, true);
	assert_pages(child, pfns, false, 0, true);
	assert_tags(child, 0x100);

	/* Device writes after the clone reach the parent, never the clone. */
	assert_int_equal(dma_test__write_now(f->dev, 42), 0);
	assert_pattern(buf(f->parent), LEN, 42);
	assert_tags(child, 0x100);
	/* The clone's writes never reach the device; the parent's do. */
	guest_fill(child, BUF, NPG, 0x200);
	assert_device_sees(f->dev, buf(f->parent), LEN);
	assert_pattern(buf(f->parent), LEN, 42);
	guest_fill(f->parent, BUF, NPG, 0x300);
	assert_device_sees(f->dev, buf(f->parent), LEN);
	assert_tags(child, 0x200);
	check_delta(f->pool, &f->st, "writes", .faults = FAULTS(0));
	assert_pages(f->parent, pfns, true, 1, true);

	assert_int_equal(dma_test__unpin(f->dev), 0);
	check_delta(f->pool, &f->st, "unpin", .unpins = NPG);
	assert_int_equal(mm_space_destroy(child), 0);
}

/* Invariant 5: a R/O pin on a page shared with an earlier clone. */
static void test_ro_pin_unshares(void **state)
{
	struct fix *f = *state;
	struct mm_space *child;
	uint64_t shared[NPG], cpfns[NPG];

	guest_fill(f->parent, BUF, NPG, 0x100);
	assert_int_equal(mm_space_clone(f->parent, 0, &child), 0);
	buf_pfns(f->parent, shared);
	buf_pfns(child, cpfns);
	assert_memory_equal(shared, cpfns, sizeof(shared));
	mm_pool_stats(f->pool, &f->st);
	assert_int_equal(dma_test__pin(f->dev, BUF, LEN, RO_LT), 0);
	check_delta(f->pool, &f->st, "R/O pin", .unshare_copies = NPG, .pins = NPG);
	assert_pages(f->parent, shared, false, 1, true);
	assert_device_sees(f->dev, buf(f->parent), LEN);

	/* The owner's later writes reach the device, without a fault. */
	guest_fill(f->parent, BUF, NPG, 0x200);
	check_delta(f->pool, &f->st, "owner writes", .faults = FAULTS(0));
	assert_device_sees(f->dev, buf(f->parent), LEN);
	/* The clone's never do (its fault finds it alone on the old frame). */
	guest_fill(child, BUF, NPG, 0x300);
	check_delta(f->pool, &f->st, "clone writes", .faults = FAULTS(NPG), .reuses = NPG);
	assert_pages(child, shared, true, 0, true);
	assert_device_sees(f->dev, buf(f->parent), LEN);
	assert_int_not_equal(dev_sum(f->dev), mem_sum(buf(child), LEN));
	assert_tags(f->parent, 0x200);
	assert_int_equal(dma_test__write_now(f->dev, 1), -EPERM);

	assert_int_equal(dma_test__unpin(f->dev), 0);
	assert_int_equal(mm_space_destroy(child), 0);
}

/* Pin, clone, unpin, write: reuse, never a copy, once no clone shares it. */
static void test_pin_clone_unpin_reuse(void **state)
{
	struct fix *f = *state;
	struct mm_space *c1, *c2, *c3;
	uint64_t pfns[NPG];

	guest_fill(f->parent, BUF, NPG, 0x100);
	assert_int_equal(dma_test__pin(f->dev, BUF, LEN, RW_LT), 0);
	buf_pfns(f->parent, pfns);
	mm_pool_stats(f->pool, &f->st);
	assert_int_equal(mm_space_clone(f->parent, 0, &c1), 0);
	assert_int_equal(dma_test__unpin(f->dev), 0);
	check_delta(f->pool, &f->st, "pin, clone, unpin", .clone_pinned_copies = NPG,
		    .clones = 1, .unpins = NPG);
	guest_fill(f->parent, BUF, NPG, 0x200);
	check_delta(f->pool, &f->st, "parent writes", .faults = FAULTS(0));
	assert_pages(f->parent, pfns, true, 0, true);
	assert_tags(c1, 0x100);

	/* Shared with a later clone, which goes: the write fault reuses. */
	assert_int_equal(mm_space_clone(f->parent, 0, &c2), 0);
	assert_int_equal(mm_space_destroy(c2), 0);
	guest_fill(f->parent, BUF, NPG, 0x300);
	check_delta(f->pool, &f->st, "write after the clone went", .clones = 1,
		    .faults = FAULTS(NPG), .reuses = NPG);
	assert_pages(f->parent, pfns, true, 0, true);

	/* Control: while a clone shares it, the same write copies. */
	assert_int_equal(mm_space_clone(f->parent, 0, &c3), 0);
	guest_fill(f->parent, BUF, NPG, 0x400);
	check_delta(f->pool, &f->st, "write while shared", .clones = 1, .faults = FAULTS(NPG),
		    .copies = NPG);
	assert_pages(f->parent, pfns, false, 0, true);
	assert_tags(c3, 0x300);
	assert_int_equal(mm_space_destroy(c3), 0);

	/* A R/O pin on a page no longer shared (not exclusive): no copy. */
	assert_int_equal(mm_space_clone(f->parent, 0, &c2), 0);
	assert_int_equal(mm_space_destroy(c2), 0);
	assert_int_equal(dma_test__pin(f->dev, BUF, LEN, RO_LT), 0);
	check_delta(f->pool, &f->st, "R/O pin, alone", .clones = 1, .unshare_reuses = NPG,
		    .pins = NPG);
	assert_device_sees(f->dev, buf(f->parent), LEN);
	assert_int_equal(dma_test__unpin(f->dev), 0);
	assert_int_equal(mm_space_destroy(c1), 0);
}

/* A fuzzing clone's device holds a pin across mm_space_reset. */
static void test_reset_pinned_clone(void **state)
{
	struct fix *f = *state;
	struct dma_test_config cfg = {0};
	struct mm_space *child;
	struct dma_test *cdev;
	uint64_t pfns[NPG], restored = 0;

	guest_fill(f->parent, BUF, NPG, 0x100);
	assert_int_equal(mm_space_clone(f->parent, MM_CLONE_RESETTABLE, &child), 0);
	cfg.space = child;
	assert_int_equal(dma_test__create(&cfg, &cdev), 0);
	mm_pool_stats(f->pool, &f->st);
	assert_int_equal(dma_test__pin(cdev, BUF, LEN, RW_LT), 0);
	check_delta(f->pool, &f->st, "pin in the clone", .unshare_copies = NPG, .pins = NPG);
	buf_pfns(child, pfns);
	assert_int_equal(dma_test__write_now(cdev, 9), 0);
	assert_pattern(buf(child), LEN, 9);

	assert_int_equal(mm_space_reset(child, MM_RESET_REFUSE_PINNED, &restored), -EBUSY);
	assert_pattern(buf(child), LEN, 9);
	check_delta(f->pool, &f->st, "refused reset");
	assert_int_equal(mm_space_reset(child, 0, &restored), 0);
	assert_true(restored >= NPG);
	check_delta(f->pool, &f->st, "reset", .resets = 1, .reset_pinned_in_place = NPG);
	assert_tags(child, 0x100);
	assert_pages(child, pfns, true, 1, true);
	assert_device_sees(cdev, buf(child), LEN);

	/* Still the guest's page both ways; the parent never sees any of it. */
	assert_int_equal(dma_test__write_now(cdev, 10), 0);
	assert_pattern(buf(child), LEN, 10);
	guest_fill(child, BUF, NPG, 0x200);
	check_delta(f->pool, &f->st, "clone writes after reset", .faults = FAULTS(NPG),
		    .reuses = NPG);
	assert_pages(child, pfns, true, 1, true);
	assert_device_sees(cdev, buf(child), LEN);
	assert_tags(f->parent, 0x100);
	assert_int_equal(mm_space_reset(child, 0, NULL), 0);
	assert_tags(child, 0x100);
	assert_device_sees(cdev, buf(child), LEN);
	dma_test__destroy(cdev);
	assert_int_equal(mm_space_reset(child, MM_RESET_REFUSE_PINNED, NULL), 0);
	assert_int_equal(mm_space_destroy(child), 0);
}

struct snap_seen {
	unsigned calls;
	int64_t tags[NPG];
};

static void snap_hook(void *arg, uint64_t gfn, const void *old)
{
	struct snap_seen *s = arg;
	uint64_t i = gfn - BUF / PAGE;

	if (i < NPG)
		__atomic_store_n(&s->tags[i], old ? page_tag(old) : 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&s->calls, 1, __ATOMIC_ACQ_REL);
}

/* Invariant 8: a live snapshot write-protects the owner while a pin is held. */
static void test_snapshot_with_pin(void **state)
{
	struct fix *f = *state;
	struct snap_seen seen;
	uint64_t pfns[NPG];

	memset(&seen, 0, sizeof(seen));
	guest_fill(f->parent, BUF, NPG, 0x100);
	assert_int_equal(dma_test__pin(f->dev, BUF, LEN, RW_LT), 0);
	buf_pfns(f->parent, pfns);
	mm_pool_stats(f->pool, &f->st);
	assert_int_equal(mm_space_snapshot_begin(f->parent, snap_hook, &seen), 0);
	for (uint64_t i = 0; i < NPG; i++)
		assert_int_equal(SEEN(seen.tags[i]), 0x100); /* pinned: handed over at once */
	guest_fill(f->parent, BUF, NPG, 0x200);
	check_delta(f->pool, &f->st, "writes under the snapshot", .faults = FAULTS(NPG),
		    .reuses = NPG);
	assert_pages(f->parent, pfns, true, 1, true);
	assert_device_sees(f->dev, buf(f->parent), LEN);
	assert_int_equal(dma_test__write_now(f->dev, 3), 0);
	assert_pattern(buf(f->parent), LEN, 3);
	for (uint64_t i = 0; i < NPG; i++)
		assert_int_equal(SEEN(seen.tags[i]), 0x100);
	assert_int_equal(mm_space_snapshot_end(f->parent), 0);
	assert_int_equal(dma_test__unpin(f->dev), 0);
}

/* Invariant 7: DMA on timers while the space is cloned and clones go. */
#define BUF2 (BUF + (1ULL << 20))
#define SCRATCH (BUF + (4ULL << 20))
#define RING 4

struct writer {
	struct mm_space *space;
	volatile bool stop;
	uint64_t rounds;
};

/* A vCPU stand-in: keeps writing the parent while it is cloned. */
static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	while (!w->stop) {
		for (uint64_t pg = 0; pg < 64; pg++)
			*(volatile uint64_t *)((uint8_t *)gpa_ptr(w->space, SCRATCH) + pg * PAGE) =
				w->rounds;
		w->rounds++;
	}
	return NULL;
}

struct kid {
	struct mm_space *space;
	uint64_t sum, sum2;
};

static void kid_check_and_destroy(struct kid *k)
{
	/* No device write after the clone point, however long it lived. */
	assert_int_equal(mem_sum(buf(k->space), LEN), k->sum);
	assert_int_equal(mem_sum(gpa_ptr(k->space, BUF2), LEN), k->sum2);
	assert_int_equal(mm_space_destroy(k->space), 0);
	k->space = NULL;
}

static void clone_and_check(struct fix *f, struct dma_test *dev2, struct kid *k)
{
	uint64_t lo = reg_rd(f->dev, DMA_REG_SEQ) - 1, lo2 = reg_rd(dev2, DMA_REG_SEQ) - 1;

	assert_int_equal(mm_space_clone(f->parent, 0, &k->space), 0);
	/* Whole device patterns of the sequence numbers around the clone point. */
	assert_words_from(buf(k->space), LEN, lo, reg_rd(f->dev, DMA_REG_SEQ));
	assert_words_from(gpa_ptr(k->space, BUF2), LEN, lo2, reg_rd(dev2, DMA_REG_SEQ));
	k->sum = mem_sum(buf(k->space), LEN);
	k->sum2 = mem_sum(gpa_ptr(k->space, BUF2), LEN);
}

static void test_race_timer_clones(void **state)
{
	struct fix *f = *state;
	struct dma_test_config cfg = {.space = f->parent};
	struct writer w = {.space = f->parent};
	struct kid kids[RING] = {{0}};
	struct dma_test *dev2;
	struct mm_stats ps, ss;
	pthread_t t;

	assert_int_equal(dma_test__create(&cfg, &dev2), 0);
	assert_int_equal(dma_pin_regs(f->dev, BUF, LEN, RW_LT), 0);
	assert_int_equal(dma_pin_regs(dev2, BUF2, LEN, DMA_F_DEV_WRITES | DMA_F_DEV_READS), 0);
	assert_int_equal(dma_do(f->dev, DMA_CMD_WRITE_PATTERN), 0);
	assert_int_equal(dma_do(dev2, DMA_CMD_WRITE_PATTERN), 0);
	assert_int_equal(dma_test__timer_start(f->dev, 100), 0);
	assert_int_equal(dma_test__timer_start(dev2, 100), 0);
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &w), 0);
	for (unsigned i = 0; i < 300; i++) {
		struct kid *k = &kids[i % RING];

		if (k->space)
			kid_check_and_destroy(k);
		clone_and_check(f, dev2, k);
		if (i % 16 == 0)
			wait_reg(f->dev, DMA_REG_CNT_WRITES, reg_rd(f->dev, DMA_REG_CNT_WRITES) + 2);
	}
	w.stop = true;
	pthread_join(t, NULL);
	dma_test__timer_stop(f->dev);
	dma_test__timer_stop(dev2);
	for (unsigned i = 0; i < RING; i++)
		kid_check_and_destroy(&kids[i]);
	assert_true(w.rounds > 0);
	assert_true(reg_rd(dev2, DMA_REG_CNT_PINS) > 2); /* short-term pins came and went */
	assert_int_equal(reg_rd(dev2, DMA_REG_CNT_ERRORS) + reg_rd(f->dev, DMA_REG_CNT_ERRORS), 0);
	/* The parent alone is left: every frame is one of its own. */
	mm_pool_stats(f->pool, &ps);
	mm_space_stats(f->parent, &ss);
	assert_int_equal(ps.frames_in_use, ss.frames_in_use);
	assert_int_equal(ps.pinned_pages, NPG);
	assert_device_sees(f->dev, buf(f->parent), LEN);
	dma_test__destroy(dev2);
	dma_test__detach(f->dev);
	mm_pool_stats(f->pool, &ps);
	assert_int_equal(ps.pinned_pages, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rw_pin_then_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_pin_unshares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_clone_unpin_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_pinned_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_with_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_timer_clones, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
