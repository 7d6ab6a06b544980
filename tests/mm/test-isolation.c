// SPDX-License-Identifier: MIT
/*
 * test-isolation: sequences that once let one space see another's writes
 * (issue 11), suite "semantics". Each writes into or punches a frame that
 * was not exclusive to the space doing it:
 *
 *   reset-cloned     reset of a resettable clone C that was itself cloned (G):
 *                    the reset wrote C's clone point into frames C shares with G;
 *   pinned-discard   a resettable clone of a parent holding R/W pins, then a
 *                    discard: the early copy was both C's page and its clone
 *                    point, and discard punched it;
 *   no-room          clone when the pool cannot give the parent a fresh home:
 *                    the parent's home slots were the shared frames.
 *
 * Every sequence runs in variants: both reset kinds (mm_space_reset and
 * mm_space_reset_tracked with every page marked), clone chains, resettable
 * grandchildren and whole large frames. The guest is a host thread (see
 * mm-test.h); every space reads what it must, and the pool ends empty.
 */
#include "mm-test.h"

#define SIZE (8ull << 20)
#define NPAGES (SIZE / PAGE)
#define BLK (2ull << 20)	      /* a 2 MiB-aligned block */
#define BLK2 (4ull << 20)	      /* a block nobody writes before the clone */
#define A_GPA (BLK + 7 * PAGE)	      /* written by P before the clone */
#define B_GPA (BLK2 + 9 * PAGE)	      /* written by nobody before the clone */
#define TAG_P 0x51u
#define TAG_C1 0x61u
#define TAG_C2 0x62u
#define TAG_C3 0x63u
#define TAG_G 0x71u
#define TAG_DEV 0x81u

struct variant;

struct iso {
	struct mm_pool *pool;
	struct mm_space *s[8];
	struct mm_pin *pins[4];
	unsigned ns, npins;
	const struct variant *v;
};

static int iso_setup(void **state)
{
	*state = calloc(1, sizeof(struct iso));
	return *state ? 0 : -1;
}

static int iso_teardown(void **state)
{
	struct iso *t = *state;

	for (unsigned i = 0; i < t->npins; i++)
		mm_unpin(t->pins[i]);
	for (unsigned i = t->ns; i-- > 0;)
		assert_int_equal(mm_space_destroy(t->s[i]), 0);
	if (t->pool) {
		assert_pool_empty(t->pool);
		assert_int_equal(mm_pool_destroy(t->pool), 0);
	}
	free(t);
	return 0;
}

static void iso_pool(struct iso *t, uint64_t capacity)
{
	struct mm_pool_config cfg = {.capacity = capacity};

	test_pool_create(&cfg, &t->pool);
}

static struct mm_space *iso_space(struct iso *t, uint64_t size)
{
	struct mm_space *s = NULL;

	assert_int_equal(mm_space_create(t->pool, size, &s), 0);
	t->s[t->ns++] = s;
	return s;
}

static struct mm_space *iso_clone(struct iso *t, struct mm_space *p, unsigned flags)
{
	struct mm_space *s = NULL;
	int err = mm_space_clone(p, flags, &s);

	if (err)
		fail_msg("mm_space_clone: %s", strerror(-err));
	t->s[t->ns++] = s;
	return s;
}

static void iso_pin(struct iso *t, struct mm_space *s, uint64_t gpa, uint64_t len)
{
	assert_int_equal(mm_pin(s, gpa, len, MM_PIN_WRITE | MM_PIN_LONGTERM,
				&t->pins[t->npins]), 0);
	t->npins++;
}

enum reset_kind { RESET_FAULT, RESET_TRACKED };

/* Tracked resets get every page marked: the harshest input, all pages restored. */
static void do_reset(struct mm_space *s, enum reset_kind kind)
{
	uint64_t npages = mm_space_size(s) / PAGE;
	uint64_t *dirty;
	int err;

	if (kind == RESET_FAULT) {
		assert_int_equal(mm_space_reset(s, 0, NULL), 0);
		return;
	}
	dirty = malloc((npages + 63) / 64 * sizeof(*dirty));
	assert_non_null(dirty);
	memset(dirty, 0xff, (npages + 63) / 64 * sizeof(*dirty));
	err = mm_space_reset_tracked(s, dirty, 0, NULL);
	free(dirty);
	assert_int_equal(err, 0);
}

/* Pages of a block checked after each step: edges and a few inside. */
static const uint64_t probe[] = {0, 1, 7, 9, 300, 511};
#define NPROBE (sizeof(probe) / sizeof(probe[0]))

static void assert_block(struct mm_space *s, uint64_t blk, uint32_t base, const char *what)
{
	for (unsigned i = 0; i < NPROBE; i++) {
		int64_t got = page_tag(gpa_ptr(s, blk + probe[i] * PAGE));
		uint32_t want = base ? base + (uint32_t)probe[i] : 0;

		if (got != (int64_t)want)
			fail_msg("%s: page %llu of block %#llx reads %#llx, want %#x", what,
				 (unsigned long long)probe[i], (unsigned long long)blk,
				 (long long)got, want);
	}
}

/* ---- 1. reset of a resettable clone that has been cloned ---- */

struct reset_cloned {
	enum reset_kind kind;
	unsigned gflags; /* how G is cloned from C */
	bool chain;	 /* G2 = clone(G) too */
	bool large;	 /* whole 2 MiB blocks instead of single pages */
};

static void run_reset_cloned(struct iso *t, const struct reset_cloned *v)
{
	struct mm_space *p, *c, *g, *g2 = NULL;

	iso_pool(t, 0);
	p = iso_space(t, SIZE);
	if (v->large)
		guest_fill_seq(p, BLK, MM_LARGE_PAGES, 0x100000);
	else
		guest_fill(p, A_GPA, 1, TAG_P);
	c = iso_clone(t, p, MM_CLONE_RESETTABLE);
	/* C writes what P had written and what nobody had. */
	if (v->large) {
		guest_fill_seq(c, BLK, MM_LARGE_PAGES, 0x200000);
		guest_fill_seq(c, BLK2, MM_LARGE_PAGES, 0x300000);
	} else {
		guest_fill(c, A_GPA, 1, TAG_C1);
		guest_fill(c, B_GPA, 1, TAG_C2);
	}
	g = iso_clone(t, c, v->gflags);
	if (v->chain)
		g2 = iso_clone(t, g, 0);

	do_reset(c, v->kind);
	for (struct mm_space *x = g; x; x = x == g ? g2 : NULL) {
		if (v->large) {
			assert_block(x, BLK, 0x200000, "G after C's reset");
			assert_block(x, BLK2, 0x300000, "G after C's reset");
		} else {
			assert_guest_tag(x, A_GPA, TAG_C1);
			assert_guest_tag(x, B_GPA, TAG_C2);
		}
	}
	if (v->large) {
		assert_block(c, BLK, 0x100000, "C after reset");
		assert_block(c, BLK2, 0, "C after reset");
		assert_block(p, BLK, 0x100000, "P");
	} else {
		assert_guest_tag(c, A_GPA, TAG_P);
		assert_guest_tag(c, B_GPA, 0);
		assert_guest_tag(p, A_GPA, TAG_P);
	}

	/* A second run of C, and G writing too: still no one sees the other. */
	guest_fill(c, A_GPA, 1, TAG_C3);
	guest_fill(g, B_GPA, 1, TAG_G);
	assert_guest_tag(g, A_GPA, v->large ? 0x200000 + 7 : TAG_C1);
	assert_guest_tag(c, B_GPA, 0);
	do_reset(c, v->kind);
	assert_guest_tag(c, A_GPA, v->large ? 0x100000 + 7 : TAG_P);
	assert_guest_tag(c, B_GPA, 0);
	assert_guest_tag(g, B_GPA, TAG_G);
	if (g2)
		assert_guest_tag(g2, B_GPA, v->large ? 0x300000 + 9 : TAG_C2);

	/* A resettable G goes back to its own clone point: C's writes. */
	if (v->gflags & MM_CLONE_RESETTABLE) {
		guest_fill(g, A_GPA, 1, TAG_G);
		do_reset(g, v->kind);
		assert_guest_tag(g, A_GPA, v->large ? 0x200000 + 7 : TAG_C1);
		assert_guest_tag(g, B_GPA, v->large ? 0x300000 + 9 : TAG_C2);
		assert_guest_tag(c, A_GPA, v->large ? 0x100000 + 7 : TAG_P);
	}
}

/* ---- 2. resettable clone of a parent holding pins, then discard ---- */

struct pinned_discard {
	enum reset_kind kind;
	bool chain; /* G = clone(C) after C's writes, before the reset */
	bool large; /* the pins sit in a large frame; C discards the whole block */
};

static void run_pinned_discard(struct iso *t, const struct pinned_discard *v)
{
	const uint64_t a = A_GPA, b = A_GPA + PAGE;
	struct mm_space *p, *c, *g = NULL;
	unsigned niov;

	iso_pool(t, 0);
	p = iso_space(t, SIZE);
	if (v->large) {
		guest_fill_seq(p, BLK, MM_LARGE_PAGES, 0x100000);
	} else {
		guest_fill(p, a, 1, 0x100007);
		guest_fill(p, b, 1, 0x100008);
	}
	iso_pin(t, p, a, PAGE);
	iso_pin(t, p, b, PAGE);
	c = iso_clone(t, p, MM_CLONE_RESETTABLE);
	if (v->large)
		assert_int_equal(mm_space_discard(c, BLK, MM_LARGE_SIZE), 0);
	else
		assert_int_equal(mm_space_discard(c, a, 2 * PAGE), 0);
	guest_fill(c, a, 1, TAG_C1);
	assert_guest_tag(c, b, 0);
	if (v->chain)
		g = iso_clone(t, c, 0);

	do_reset(c, v->kind);
	assert_guest_tag(c, a, 0x100007);
	assert_guest_tag(c, b, 0x100008);
	if (v->large)
		assert_block(c, BLK, 0x100000, "C after reset");
	if (g) {
		assert_guest_tag(g, a, TAG_C1);
		assert_guest_tag(g, b, 0);
	}

	/* The device and P stay on P's pinned frames; C never sees them. */
	struct device_job j = {.pin = t->pins[0], .tag = TAG_DEV, .write = true};

	device_run(&j);
	(void)mm_pin_iov(t->pins[0], &niov);
	assert_guest_tag(p, a, TAG_DEV);
	assert_guest_tag(c, a, 0x100007);
	guest_fill(c, b, 1, TAG_C2);
	do_reset(c, v->kind);
	assert_guest_tag(c, b, 0x100008);
	assert_guest_tag(p, b, 0x100008);
}

/* ---- 3. clone when the pool has no room to move the parent ---- */

struct no_room {
	uint64_t capacity;
	unsigned flags;
};

static void run_no_room(struct iso *t, const struct no_room *v)
{
	const uint64_t size = 2ull << 20;
	struct mm_space *p, *c = NULL;
	struct mm_stats before, after;
	int err;

	iso_pool(t, v->capacity);
	p = iso_space(t, size);
	guest_fill_seq(p, 0, 4, 0x10);
	mm_pool_stats(t->pool, &before);
	err = mm_space_clone(p, v->flags, &c);
	if (err) {
		/* Refused: then cleanly, and P is as it was. */
		assert_int_equal(err, -ENOSPC);
		mm_pool_stats(t->pool, &after);
		assert_int_equal(after.frames_in_use, before.frames_in_use);
		assert_int_equal(after.clones, before.clones);
		guest_fill(p, 2 * PAGE, 1, TAG_P);
		mm_pool_stats(t->pool, &after);
		assert_int_equal(after.copies, before.copies);
		assert_guest_tag(p, 2 * PAGE, TAG_P);
		assert_guest_tag(p, 3 * PAGE, 0x13);
		assert_int_equal(mm_space_discard(p, 2 * PAGE, PAGE), 0);
		assert_guest_tag(p, 2 * PAGE, 0);
		return;
	}
	t->s[t->ns++] = c;
	assert_int_equal(mm_space_discard(p, 2 * PAGE, PAGE), 0);
	assert_guest_tag(c, 2 * PAGE, 0x12);
	assert_guest_tag(p, 2 * PAGE, 0);
	guest_fill(p, 2 * PAGE, 1, TAG_P);
	assert_guest_tag(c, 2 * PAGE, 0x12);
	guest_fill(p, 0, 1, TAG_C1);	     /* a shared page */
	guest_fill(p, 100 * PAGE, 1, TAG_C2); /* a hole at the clone point */
	guest_fill(c, PAGE, 1, TAG_G);
	assert_guest_tag(c, 0, 0x10);
	assert_guest_tag(c, 100 * PAGE, 0);
	assert_guest_tag(p, PAGE, 0x11);
	assert_guest_tag(p, 2 * PAGE, TAG_P);
	if (v->flags & MM_CLONE_RESETTABLE) {
		do_reset(c, RESET_FAULT);
		assert_guest_tag(c, PAGE, 0x11);
		assert_guest_tag(c, 2 * PAGE, 0x12);
	}
}

/* ---- the table ---- */

enum kind { K_RESET_CLONED, K_PINNED_DISCARD, K_NO_ROOM };

struct variant {
	const char *name;
	enum kind kind;
	struct reset_cloned rc;
	struct pinned_discard pd;
	struct no_room nr;
};

static const struct variant variants[] = {
	{"reset-cloned/reset", K_RESET_CLONED, .rc = {RESET_FAULT, 0, false, false}},
	{"reset-cloned/tracked", K_RESET_CLONED, .rc = {RESET_TRACKED, 0, false, false}},
	{"reset-cloned/reset/resettable-g", K_RESET_CLONED,
	 .rc = {RESET_FAULT, MM_CLONE_RESETTABLE, false, false}},
	{"reset-cloned/tracked/resettable-g", K_RESET_CLONED,
	 .rc = {RESET_TRACKED, MM_CLONE_RESETTABLE, false, false}},
	{"reset-cloned/reset/chain", K_RESET_CLONED, .rc = {RESET_FAULT, 0, true, false}},
	{"reset-cloned/tracked/chain", K_RESET_CLONED, .rc = {RESET_TRACKED, 0, true, false}},
	{"reset-cloned/reset/large", K_RESET_CLONED, .rc = {RESET_FAULT, 0, true, true}},
	{"reset-cloned/tracked/large", K_RESET_CLONED,
	 .rc = {RESET_TRACKED, MM_CLONE_RESETTABLE, false, true}},
	{"pinned-discard/reset", K_PINNED_DISCARD, .pd = {RESET_FAULT, false, false}},
	{"pinned-discard/tracked", K_PINNED_DISCARD, .pd = {RESET_TRACKED, false, false}},
	{"pinned-discard/reset/chain", K_PINNED_DISCARD, .pd = {RESET_FAULT, true, false}},
	{"pinned-discard/tracked/chain", K_PINNED_DISCARD, .pd = {RESET_TRACKED, true, false}},
	{"pinned-discard/reset/large", K_PINNED_DISCARD, .pd = {RESET_FAULT, false, true}},
	{"pinned-discard/tracked/large", K_PINNED_DISCARD, .pd = {RESET_TRACKED, true, true}},
	{"no-room/4MiB", K_NO_ROOM, .nr = {4ull << 20, 0}},
	{"no-room/4MiB/resettable", K_NO_ROOM, .nr = {4ull << 20, MM_CLONE_RESETTABLE}},
	{"no-room/6MiB", K_NO_ROOM, .nr = {6ull << 20, 0}},
	{"no-room/6MiB/resettable", K_NO_ROOM, .nr = {6ull << 20, MM_CLONE_RESETTABLE}},
	{"no-room/8MiB/resettable", K_NO_ROOM, .nr = {8ull << 20, MM_CLONE_RESETTABLE}},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static void test_variant(void **state)
{
	struct iso *t = *state;
	const struct variant *v = t->v;

	switch (v->kind) {
	case K_RESET_CLONED:
		run_reset_cloned(t, &v->rc);
		break;
	case K_PINNED_DISCARD:
		run_pinned_discard(t, &v->pd);
		break;
	case K_NO_ROOM:
		run_no_room(t, &v->nr);
		break;
	}
}

static int variant_setup(void **state)
{
	const struct variant *v = *state;
	struct iso *t;

	if (iso_setup(state))
		return -1;
	t = *state;
	t->v = v;
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[NVARIANTS];

	for (size_t i = 0; i < NVARIANTS; i++)
		tests[i] = (struct CMUnitTest){
			.name = variants[i].name,
			.test_func = test_variant,
			.setup_func = variant_setup,
			.teardown_func = iso_teardown,
			.initial_state = (void *)&variants[i],
		};
	return _cmocka_run_group_tests("isolation", tests, NVARIANTS, NULL, NULL);
}
