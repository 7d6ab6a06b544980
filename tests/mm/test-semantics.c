// SPDX-License-Identifier: MIT
/*
 * test-semantics: the kernel's COW/GUP matrix (tools/testing/selftests/mm/
 * cow.c and gup_longterm.c) carried over to mm, suite "semantics".
 *
 * Every case runs on every backing: run_case(backing, case) is one cmocka
 * test per pair. A backing leaves a parent space P whose target page T (and
 * its neighbours) hold known contents in a known state:
 *
 *   small          pages written by P's guest, no full large block: exclusive
 *   large          a full 2 MiB-aligned block written by P: a large frame
 *   large-partial  that block after a clone wrote 16 of its pages in P (then
 *                  the clone died): P maps 16 copies and 496 pages of the
 *                  large frame, refcount 1 but no longer anon-exclusive
 *   shared3        P's page is also mapped by two more clones (refcount 3)
 *   zero           P's pages discarded: holes that read zero
 *
 * Each case asserts what every party sees - the guest through its host
 * mapping (a host thread), the device through its pin's iovecs (another
 * host thread) - and the counters: a copy where a reuse was due fails, and
 * so does a reuse where a copy was due. On holes (the zero backing) the
 * fault counters are don't-care: mm may adopt a hole with a reuse fault.
 */
#include "mm-test.h"

#define SPACE_SIZE (8ull << 20)
#define NPAGES (SPACE_SIZE / PAGE)
#define BLOCK_GPA (2ull << 20) /* a 2 MiB-aligned block */
#define T_GPA (BLOCK_GPA + 100 * PAGE)
#define T2_GPA (T_GPA + 2 * PAGE)
#define T3_GPA (T_GPA + 3 * PAGE)
#define FAR_GPA (SPACE_SIZE - PAGE) /* never touched by any backing */
#define ORIG_BASE 0x100000u
#define MAX_SPACES 8
#define MAX_PINS 4

enum tags { TAG_A = 0xa1, TAG_B, TAG_C, TAG_D, TAG_E };

enum backing { B_SMALL, B_LARGE, B_LARGE_PARTIAL, B_SHARED3, B_ZERO, B_NR };

static const char *const backing_names[B_NR] = {
	[B_SMALL] = "small",	 [B_LARGE] = "large",  [B_LARGE_PARTIAL] = "large-partial",
	[B_SHARED3] = "shared3", [B_ZERO] = "zero",
};

struct ctx {
	enum backing b;
	unsigned k; /* the case */
	struct mm_pool *pool;
	struct mm_space *spaces[MAX_SPACES];
	struct mm_pin *pins[MAX_PINS];
	struct mm_space *p;	    /* the subject: the backing's parent */
	struct mm_space *others[2]; /* shared3: the other two mappers */
	unsigned nothers;
	struct mm_stats st; /* counters at the last check */
};

/* ---- bookkeeping: every space and pin is released by finish()/teardown ---- */

static struct mm_space *track_space(struct ctx *c, struct mm_space *s)
{
	for (unsigned i = 0; i < MAX_SPACES; i++) {
		if (!c->spaces[i]) {
			c->spaces[i] = s;
			return s;
		}
	}
	fail_msg("too many spaces");
	return NULL;
}

static struct mm_space *new_clone(struct ctx *c, struct mm_space *parent, unsigned flags)
{
	struct mm_space *s = NULL;
	int err = mm_space_clone(parent, flags, &s);

	if (err)
		fail_msg("mm_space_clone: %s", strerror(-err));
	return track_space(c, s);
}

static void kill_space(struct ctx *c, struct mm_space *s)
{
	assert_int_equal(mm_space_destroy(s), 0);
	for (unsigned i = 0; i < MAX_SPACES; i++)
		if (c->spaces[i] == s)
			c->spaces[i] = NULL;
	if (c->p == s)
		c->p = NULL;
}

static struct mm_pin *pin_page(struct ctx *c, struct mm_space *s, uint64_t gpa, bool rw)
{
	struct mm_pin *pin = NULL;
	int err = mm_pin(s, gpa, PAGE, MM_PIN_LONGTERM | (rw ? MM_PIN_WRITE : 0), &pin);

	if (err)
		fail_msg("mm_pin(%#llx): %s", (unsigned long long)gpa, strerror(-err));
	for (unsigned i = 0; i < MAX_PINS; i++) {
		if (!c->pins[i]) {
			c->pins[i] = pin;
			return pin;
		}
	}
	fail_msg("too many pins");
	return NULL;
}

static void unpin_page(struct ctx *c, struct mm_pin *pin)
{
	mm_unpin(pin);
	for (unsigned i = 0; i < MAX_PINS; i++)
		if (c->pins[i] == pin)
			c->pins[i] = NULL;
}

static void release_all(struct ctx *c)
{
	for (unsigned i = 0; i < MAX_PINS; i++) {
		mm_unpin(c->pins[i]);
		c->pins[i] = NULL;
	}
	for (unsigned i = MAX_SPACES; i-- > 0;) {
		if (c->spaces[i] && mm_space_destroy(c->spaces[i]) == 0)
			c->spaces[i] = NULL;
	}
}

/* ---- the backings ---- */

static bool is_zero(const struct ctx *c)
{
	return c->b == B_ZERO;
}

/* The contents page @gpa had when the backing was set up. */
static uint32_t orig(const struct ctx *c, uint64_t gpa)
{
	uint64_t gfn = gpa / PAGE;

	switch (c->b) {
	case B_LARGE:
	case B_LARGE_PARTIAL:
		if (gpa >= BLOCK_GPA && gpa < BLOCK_GPA + MM_LARGE_SIZE)
			return ORIG_BASE + (uint32_t)gfn;
		return 0;
	case B_ZERO:
		if (gpa >= T_GPA)
			return 0;
		/* fall through */
	default:
		if (gpa >= T_GPA - 2 * PAGE && gpa <= T3_GPA)
			return ORIG_BASE + (uint32_t)gfn;
		return 0;
	}
}

static void setup_backing(struct ctx *c)
{
	struct mm_space *tmp;
	struct mm_page_info pi;

	c->p = NULL;
	assert_int_equal(mm_space_create(c->pool, SPACE_SIZE, &c->p), 0);
	track_space(c, c->p);
	mm_pool_stats(c->pool, &c->st);
	switch (c->b) {
	case B_LARGE_PARTIAL:
		guest_fill_seq(c->p, BLOCK_GPA, MM_LARGE_PAGES, ORIG_BASE + BLOCK_GPA / PAGE);
		tmp = new_clone(c, c->p, 0);
		mm_pool_stats(c->pool, &c->st);
		/* Same contents, but each write still has to copy. */
		guest_fill_seq(c->p, BLOCK_GPA, 16, ORIG_BASE + BLOCK_GPA / PAGE);
		check_delta(c->pool, &c->st, "large-partial setup", .copies = 16);
		kill_space(c, tmp);
		pi = page_info(c->p, T_GPA);
		assert_true(pi.present && !pi.exclusive && pi.refcount == 1);
		break;
	case B_LARGE:
		guest_fill_seq(c->p, BLOCK_GPA, MM_LARGE_PAGES, ORIG_BASE + BLOCK_GPA / PAGE);
		break;
	case B_SMALL:
	case B_SHARED3:
	case B_ZERO:
		guest_fill_seq(c->p, T_GPA - 2 * PAGE, 6, ORIG_BASE + T_GPA / PAGE - 2);
		break;
	case B_NR:
		break;
	}
	if (c->b == B_SHARED3) {
		c->others[0] = new_clone(c, c->p, 0);
		c->others[1] = new_clone(c, c->p, 0);
		c->nothers = 2;
		pi = page_info(c->p, T_GPA);
		assert_int_equal(pi.refcount, 3);
		assert_int_equal(pi.mapcount, 3);
	}
	if (c->b == B_ZERO) {
		assert_int_equal(mm_space_discard(c->p, T_GPA, 4 * PAGE), 0);
		/* Do not read the hole: a read may populate it. */
		pi = page_info(c->p, T_GPA);
		assert_false(pi.present);
		assert_int_equal(pi.refcount, 0);
	}
	mm_pool_stats(c->pool, &c->st);
}

/* Spaces that are not part of the case must keep seeing the backing. */
static void assert_others_orig(struct ctx *c)
{
	for (unsigned i = 0; i < c->nothers; i++) {
		assert_guest_tag(c->others[i], T_GPA, orig(c, T_GPA));
		assert_guest_tag(c->others[i], T2_GPA, orig(c, T2_GPA));
	}
}

/*
 * Counter expectations. Z(x): x unless the target is a hole (zero backing),
 * where the fault decisions are don't-care.
 */
#define Z(x) (is_zero(c) ? DC : (x))
/* A write by the last remaining mapper: reuse, unless shared3's others hold it. */
#define LAST_WRITER_COPIES (c->b == B_SHARED3 ? 1 : 0)

/* Unsharing P's own page for a pin taken before any clone of the case. */
static int64_t unshare_copies_before_clone(const struct ctx *c)
{
	return c->b == B_SHARED3 ? 1 : c->b == B_ZERO ? DC : 0;
}

static int64_t unshare_reuses_before_clone(const struct ctx *c)
{
	return c->b == B_LARGE_PARTIAL ? 1 : c->b == B_ZERO ? DC : 0;
}

/*
 * The guest of @s writes @tag to @gpa, a page that is exclusive to @s: never a
 * copy, and the frame stays; a reuse fault only if the page was protected.
 */
static void write_exclusive(struct ctx *c, struct mm_space *s, uint64_t gpa, uint32_t tag,
			    const char *what)
{
	struct mm_page_info before = page_info(s, gpa), after;

	assert_true(before.present);
	assert_true(before.exclusive);
	mm_pool_stats(c->pool, &c->st);
	guest_fill(s, gpa, 1, tag);
	check_delta(c->pool, &c->st, what, .copies = 0,
		    .reuses = before.write_protected ? 1 : 0,
		    .faults = FAULTS(before.write_protected ? 1 : 0));
	after = page_info(s, gpa);
	if (after.pfn != before.pfn)
		fail_msg("%s: exclusive page moved from pfn %llu to %llu", what,
			 (unsigned long long)before.pfn, (unsigned long long)after.pfn);
	assert_guest_tag(s, gpa, tag);
}

static void assert_pinned(struct mm_space *s, uint64_t gpa, uint64_t pfn)
{
	struct mm_page_info pi = page_info(s, gpa);

	assert_true(pi.present);
	assert_true(pi.exclusive);
	assert_int_equal(pi.pincount, 1);
	if (pi.pfn != pfn)
		fail_msg("pinned page at gpa %#llx moved from pfn %llu to %llu",
			 (unsigned long long)gpa, (unsigned long long)pfn,
			 (unsigned long long)pi.pfn);
}

/* Large backings: a 4 KiB copy leaves the rest of the block shared. */
static void assert_neighbour_shared(struct ctx *c, struct mm_space *a, struct mm_space *b)
{
	uint64_t n = T_GPA + PAGE;
	struct mm_page_info pa = page_info(a, n), pb = page_info(b, n);

	if (c->b != B_LARGE && c->b != B_LARGE_PARTIAL)
		return;
	assert_int_equal(pa.pfn, pb.pfn);
	assert_false(pa.exclusive);
	assert_guest_tag(a, n, orig(c, n));
	assert_guest_tag(b, n, orig(c, n));
}

/* ---- the cases ---- */

static void case_clone_write(struct ctx *c, bool parent_first)
{
	struct mm_space *ch = new_clone(c, c->p, 0);
	struct mm_space *first = parent_first ? c->p : ch, *second = parent_first ? ch : c->p;

	check_delta(c->pool, &c->st, "clone", .clones = 1);
	guest_fill(first, T_GPA, 1, TAG_A);
	check_delta(c->pool, &c->st, "first write to a shared page", .copies = Z(1),
		    .reuses = Z(0));
	assert_guest_tag(first, T_GPA, TAG_A);
	assert_guest_tag(second, T_GPA, orig(c, T_GPA));
	assert_neighbour_shared(c, first, second);

	guest_fill(second, T_GPA, 1, TAG_B);
	check_delta(c->pool, &c->st, "second write", .copies = Z(LAST_WRITER_COPIES),
		    .reuses = Z(1 - LAST_WRITER_COPIES));
	assert_guest_tag(first, T_GPA, TAG_A);
	assert_guest_tag(second, T_GPA, TAG_B);
	assert_guest_tag(first, T2_GPA, orig(c, T2_GPA));
	assert_guest_tag(second, T2_GPA, orig(c, T2_GPA));
	assert_others_orig(c);
}

static void case_clone_write_parent(struct ctx *c)
{
	case_clone_write(c, true);
}

static void case_clone_write_child(struct ctx *c)
{
	case_clone_write(c, false);
}

/*
 * P pins T, then clones: the child gets a copy at once and the pinned frame
 * stays P's. The device sees P's later writes (R/O pin too), P sees the
 * device's writes, the child sees neither and the device never sees the
 * child's.
 */
static void case_pin_before_clone(struct ctx *c, bool rw)
{
	struct mm_pin *pin = pin_page(c, c->p, T_GPA, rw);
	struct mm_page_info pi = page_info(c->p, T_GPA), ci;
	uint32_t pv = TAG_A;
	struct mm_space *ch;

	check_delta(c->pool, &c->st, "pin", .pins = 1,
		    .unshare_copies = unshare_copies_before_clone(c),
		    .unshare_reuses = unshare_reuses_before_clone(c));
	assert_int_equal(pi.refcount, 2); /* its mapping and the pin */
	assert_int_equal(pi.mapcount, 1);
	assert_pinned(c->p, T_GPA, pi.pfn);
	assert_device_tag(pin, orig(c, T_GPA));

	ch = new_clone(c, c->p, 0);
	check_delta(c->pool, &c->st, "clone of a pinned page", .clones = 1,
		    .clone_pinned_copies = 1);
	assert_pinned(c->p, T_GPA, pi.pfn);
	ci = page_info(ch, T_GPA);
	assert_true(ci.present);
	assert_int_not_equal(ci.pfn, pi.pfn);
	assert_int_equal(ci.refcount, 1);
	assert_int_equal(ci.pincount, 0);
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));

	write_exclusive(c, c->p, T_GPA, TAG_A, "parent writes its pinned page");
	assert_device_tag(pin, TAG_A);
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	if (rw) {
		device_fill(pin, TAG_B);
		pv = TAG_B;
		assert_guest_tag(c->p, T_GPA, TAG_B);
		assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	}
	write_exclusive(c, ch, T_GPA, TAG_C, "child writes its early copy");
	assert_device_tag(pin, pv);
	assert_guest_tag(c->p, T_GPA, pv);
	assert_pinned(c->p, T_GPA, pi.pfn);
	assert_others_orig(c);
	unpin_page(c, pin);
	check_delta(c->pool, &c->st, "unpin", .unpins = 1);
}

static void case_pin_ro_before_clone(struct ctx *c)
{
	case_pin_before_clone(c, false);
}

static void case_pin_rw_before_clone(struct ctx *c)
{
	case_pin_before_clone(c, true);
}

/* P clones, then pins its now shared page: the pin unshares by copying. */
static void case_pin_after_clone(struct ctx *c, bool rw)
{
	struct mm_space *ch = new_clone(c, c->p, 0);
	struct mm_pin *pin;
	struct mm_page_info pi;
	uint32_t pv = TAG_A;

	check_delta(c->pool, &c->st, "clone", .clones = 1);
	pin = pin_page(c, c->p, T_GPA, rw);
	check_delta(c->pool, &c->st, "pin of a shared page", .pins = 1, .unshare_copies = Z(1),
		    .unshare_reuses = Z(0));
	pi = page_info(c->p, T_GPA);
	assert_pinned(c->p, T_GPA, pi.pfn);
	assert_int_not_equal(page_info(ch, T_GPA).pfn, pi.pfn);
	assert_device_tag(pin, orig(c, T_GPA));
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));

	/* Invariant 5: after unsharing, the device sees the owner's writes. */
	write_exclusive(c, c->p, T_GPA, TAG_A, "parent writes its pinned page");
	assert_device_tag(pin, TAG_A);
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	if (rw) {
		device_fill(pin, TAG_B);
		pv = TAG_B;
		assert_guest_tag(c->p, T_GPA, TAG_B);
		assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	}
	/* The pin's unshare left the child the only mapper of the old frame. */
	guest_fill(ch, T_GPA, 1, TAG_C);
	check_delta(c->pool, &c->st, "child writes the frame the pin left it",
		    .copies = Z(LAST_WRITER_COPIES), .reuses = Z(1 - LAST_WRITER_COPIES));
	assert_guest_tag(ch, T_GPA, TAG_C);
	assert_device_tag(pin, pv);
	assert_guest_tag(c->p, T_GPA, pv);
	assert_pinned(c->p, T_GPA, pi.pfn);
	assert_others_orig(c);
	unpin_page(c, pin);
	check_delta(c->pool, &c->st, "unpin", .unpins = 1);
}

static void case_pin_ro_after_clone(struct ctx *c)
{
	case_pin_after_clone(c, false);
}

static void case_pin_rw_after_clone(struct ctx *c)
{
	case_pin_after_clone(c, true);
}

/* Unpin drops the pin: the page stays exclusive, and the next clone shares it. */
static void case_unpin_then_write(struct ctx *c)
{
	struct mm_pin *pin = pin_page(c, c->p, T_GPA, true);
	struct mm_space *ch, *ch2;
	struct mm_page_info pi;

	check_delta(c->pool, &c->st, "pin", .pins = 1,
		    .unshare_copies = unshare_copies_before_clone(c),
		    .unshare_reuses = unshare_reuses_before_clone(c));
	ch = new_clone(c, c->p, 0);
	check_delta(c->pool, &c->st, "clone", .clones = 1, .clone_pinned_copies = 1);
	unpin_page(c, pin);
	check_delta(c->pool, &c->st, "unpin", .unpins = 1);
	pi = page_info(c->p, T_GPA);
	assert_int_equal(pi.pincount, 0);
	assert_int_equal(pi.refcount, 1);

	write_exclusive(c, c->p, T_GPA, TAG_A, "parent writes after unpin");
	write_exclusive(c, ch, T_GPA, TAG_B, "child writes its early copy");
	assert_guest_tag(c->p, T_GPA, TAG_A);

	/* No pin any more: a new clone shares the frame instead of copying it. */
	ch2 = new_clone(c, c->p, 0);
	check_delta(c->pool, &c->st, "clone after unpin", .clones = 1, .clone_pinned_copies = 0);
	assert_int_equal(page_info(ch2, T_GPA).pfn, page_info(c->p, T_GPA).pfn);
	guest_fill(c->p, T_GPA, 1, TAG_C);
	check_delta(c->pool, &c->st, "parent writes the page shared again", .copies = 1,
		    .reuses = 0);
	guest_fill(ch2, T_GPA, 1, TAG_D);
	check_delta(c->pool, &c->st, "second clone writes", .copies = 0, .reuses = 1);
	assert_guest_tag(c->p, T_GPA, TAG_C);
	assert_guest_tag(ch, T_GPA, TAG_B);
	assert_guest_tag(ch2, T_GPA, TAG_D);
	assert_others_orig(c);
}

/* Parent destroyed, then the child writes: it holds the only reference. */
static void case_parent_destroyed(struct ctx *c)
{
	struct mm_space *ch = new_clone(c, c->p, 0);

	check_delta(c->pool, &c->st, "clone", .clones = 1);
	kill_space(c, c->p);
	check_delta(c->pool, &c->st, "parent destroyed", .clones = 0);
	guest_fill(ch, T_GPA, 1, TAG_A);
	if (c->b == B_LARGE) {
		check_delta(c->pool, &c->st, "child writes its whole large frame",
			    .reuses_large = 1, .reuses = 0, .copies = 0);
		/* The whole block is writable now: no further faults. */
		guest_fill(ch, BLOCK_GPA, 1, TAG_B);
		guest_fill(ch, T_GPA + PAGE, 1, TAG_C);
		guest_fill(ch, BLOCK_GPA + MM_LARGE_SIZE - PAGE, 1, TAG_D);
		check_delta(c->pool, &c->st, "rest of the reused large frame", .faults = FAULTS(0));
		assert_guest_tag(ch, BLOCK_GPA, TAG_B);
	} else {
		check_delta(c->pool, &c->st, "child writes after its parent died",
			    .copies = Z(LAST_WRITER_COPIES), .reuses = Z(1 - LAST_WRITER_COPIES));
	}
	assert_guest_tag(ch, T_GPA, TAG_A);
	assert_guest_tag(ch, T2_GPA, orig(c, T2_GPA));
	assert_others_orig(c);
}

/*
 * A resettable clone with a R/W-pinned page and a plain dirty page: reset
 * restores the pinned page in place (same frame, the device sees the
 * restored contents and keeps reaching the guest's page).
 */
static void case_reset_pinned(struct ctx *c)
{
	struct mm_space *ch = new_clone(c, c->p, MM_CLONE_RESETTABLE);
	uint64_t restored = 0;
	struct mm_pin *pin;
	uint64_t pfn;

	check_delta(c->pool, &c->st, "resettable clone", .clones = 1);
	pin = pin_page(c, ch, T_GPA, true);
	check_delta(c->pool, &c->st, "pin in the clone", .pins = 1, .unshare_copies = Z(1),
		    .unshare_reuses = Z(0));
	pfn = page_info(ch, T_GPA).pfn;
	write_exclusive(c, ch, T_GPA, TAG_A, "clone writes its pinned page");
	assert_device_tag(pin, TAG_A);
	device_fill(pin, TAG_B);
	assert_guest_tag(ch, T_GPA, TAG_B);
	guest_fill(ch, T2_GPA, 1, TAG_C);
	check_delta(c->pool, &c->st, "clone writes a clone-point page", .copies = Z(1),
		    .reuses = Z(0));

	assert_int_equal(mm_space_reset(ch, 0, &restored), 0);
	check_delta(c->pool, &c->st, "reset", .resets = 1, .reset_pinned_in_place = 1);
	assert_true(restored >= 2);
	assert_pinned(ch, T_GPA, pfn);
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	assert_device_tag(pin, orig(c, T_GPA));
	assert_guest_tag(ch, T2_GPA, orig(c, T2_GPA));
	assert_guest_tag(c->p, T_GPA, orig(c, T_GPA));
	assert_guest_tag(c->p, T2_GPA, orig(c, T2_GPA));

	/* Still one page for guest and device after the reset. */
	device_fill(pin, TAG_D);
	assert_guest_tag(ch, T_GPA, TAG_D);
	guest_fill(ch, T_GPA, 1, TAG_E);
	check_delta(c->pool, &c->st, "clone writes its pinned page after reset", .copies = 0,
		    .reuses = DC);
	assert_device_tag(pin, TAG_E);
	assert_pinned(ch, T_GPA, pfn);
	unpin_page(c, pin);
	assert_others_orig(c);
}

/* MM_RESET_REFUSE_PINNED: -EBUSY and nothing changed, not even other pages. */
static void case_reset_refuse_pinned(struct ctx *c)
{
	struct mm_space *ch = new_clone(c, c->p, MM_CLONE_RESETTABLE);
	uint64_t restored = 12345;
	struct mm_pin *pin = pin_page(c, ch, T_GPA, true);
	uint64_t pfn = page_info(ch, T_GPA).pfn;

	guest_fill(ch, T_GPA, 1, TAG_A);
	guest_fill(ch, T2_GPA, 1, TAG_B);
	mm_pool_stats(c->pool, &c->st);
	assert_int_equal(mm_space_reset(ch, MM_RESET_REFUSE_PINNED, &restored), -EBUSY);
	assert_int_equal(restored, 12345);
	check_delta(c->pool, &c->st, "refused reset", .resets = 0);
	assert_pinned(ch, T_GPA, pfn);
	assert_guest_tag(ch, T_GPA, TAG_A);
	assert_guest_tag(ch, T2_GPA, TAG_B);
	assert_device_tag(pin, TAG_A);

	unpin_page(c, pin);
	assert_int_equal(mm_space_reset(ch, MM_RESET_REFUSE_PINNED, NULL), 0);
	check_delta(c->pool, &c->st, "reset after unpin", .unpins = 1, .resets = 1,
		    .reset_pinned_in_place = 0);
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	assert_guest_tag(ch, T2_GPA, orig(c, T2_GPA));
	assert_guest_tag(c->p, T_GPA, orig(c, T_GPA));
	assert_others_orig(c);
}

struct snap_rec {
	unsigned calls[NPAGES];
	int64_t tag[NPAGES]; /* tag of the old contents; 0 for NULL */
	bool null[NPAGES];
};

static void snap_hook(void *arg, uint64_t gfn, const void *old)
{
	struct snap_rec *r = arg;

	if (gfn >= NPAGES)
		return;
	/*
	 * Atomics: the hook runs on mm's fault thread, ordered before the
	 * guest's write only by userfaultfd, which ThreadSanitizer cannot see.
	 */
	__atomic_store_n(&r->null[gfn], !old, __ATOMIC_RELAXED);
	__atomic_store_n(&r->tag[gfn], old ? page_tag(old) : 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&r->calls[gfn], 1, __ATOMIC_RELEASE);
}

/* The hook had page @gpa exactly once, with @tag (0: NULL, or zeros if @zero_ok). */
static void assert_saved(const struct snap_rec *r, uint64_t gpa, uint32_t tag, bool zero_ok)
{
	uint64_t g = gpa / PAGE;

	if (SEEN(r->calls[g]) != 1)
		fail_msg("snapshot hook called %u times for gfn %llu, want once", SEEN(r->calls[g]),
			 (unsigned long long)g);
	if (SEEN(r->tag[g]) != tag)
		fail_msg("snapshot hook got tag %#llx for gfn %llu, want %#x", (long long)SEEN(r->tag[g]),
			 (unsigned long long)g, tag);
	if (!tag && !zero_ok && !SEEN(r->null[g]))
		fail_msg("snapshot hook got a page of zeros for hole gfn %llu, want NULL",
			 (unsigned long long)g);
}

/*
 * DESIGN.md invariant 8: snapshot write-protection while a device holds a
 * R/W pin. The hook gets the old contents at once; the guest's next write
 * reuses the pinned frame (never a copy), so guest and device stay on it.
 */
static void case_snapshot_rw_pin(struct ctx *c)
{
	struct snap_rec *r = calloc(1, sizeof(*r));
	struct mm_pin *pin;
	uint64_t pfn;

	assert_non_null(r);
	pin = pin_page(c, c->p, T_GPA, true);
	check_delta(c->pool, &c->st, "pin", .pins = 1,
		    .unshare_copies = unshare_copies_before_clone(c),
		    .unshare_reuses = unshare_reuses_before_clone(c));
	pfn = page_info(c->p, T_GPA).pfn;

	assert_int_equal(mm_space_snapshot_begin(c->p, snap_hook, r), 0);
	assert_saved(r, T_GPA, orig(c, T_GPA), true);
	assert_pinned(c->p, T_GPA, pfn);
	/* The snapshot protects the pinned page too: the write must fault and reuse. */
	assert_true(page_info(c->p, T_GPA).write_protected);
	write_exclusive(c, c->p, T_GPA, TAG_A, "guest writes its pinned page in a snapshot");
	assert_device_tag(pin, TAG_A);
	device_fill(pin, TAG_B);
	assert_guest_tag(c->p, T_GPA, TAG_B);
	assert_int_equal(mm_space_snapshot_page(c->p, T_GPA / PAGE), 0);
	assert_saved(r, T_GPA, orig(c, T_GPA), true);

	/* A plain page: the hook gets its old contents before the write lands. */
	assert_int_equal(SEEN(r->calls[T2_GPA / PAGE]), 0);
	guest_fill(c->p, T2_GPA, 1, TAG_C);
	check_delta(c->pool, &c->st, "first write after snapshot_begin",
		    .copies = Z(LAST_WRITER_COPIES), .reuses = Z(1 - LAST_WRITER_COPIES));
	assert_saved(r, T2_GPA, orig(c, T2_GPA), true);
	assert_guest_tag(c->p, T2_GPA, TAG_C);
	assert_int_equal(mm_space_snapshot_page(c->p, T2_GPA / PAGE), 0);

	/* Pages the guest does not write are handed over on request, once. */
	assert_int_equal(mm_space_snapshot_page(c->p, T3_GPA / PAGE), 1);
	assert_saved(r, T3_GPA, orig(c, T3_GPA), true);
	assert_int_equal(mm_space_snapshot_page(c->p, T3_GPA / PAGE), 0);
	assert_int_equal(mm_space_snapshot_page(c->p, FAR_GPA / PAGE), 1);
	assert_saved(r, FAR_GPA, 0, false);

	assert_int_equal(mm_space_snapshot_end(c->p), 0);
	guest_fill(c->p, T3_GPA, 1, TAG_D);
	assert_int_equal(SEEN(r->calls[T3_GPA / PAGE]), 1);
	assert_guest_tag(c->p, T3_GPA, TAG_D);
	assert_pinned(c->p, T_GPA, pfn);
	assert_device_tag(pin, TAG_B);
	unpin_page(c, pin);
	assert_others_orig(c);
	free(r);
}

/* Clones of clones: the first two writers copy, the last one reuses. */
static void case_clone_of_clone(struct ctx *c)
{
	struct mm_space *c1 = new_clone(c, c->p, 0);
	struct mm_space *c2 = new_clone(c, c1, 0), *c3;

	check_delta(c->pool, &c->st, "clone of a clone", .clones = 2);
	if (!is_zero(c))
		assert_int_equal(page_info(c2, T_GPA).refcount, 3 + c->nothers);
	guest_fill(c2, T_GPA, 1, TAG_A);
	check_delta(c->pool, &c->st, "grandchild writes", .copies = Z(1), .reuses = Z(0));
	guest_fill(c1, T_GPA, 1, TAG_B);
	check_delta(c->pool, &c->st, "child writes", .copies = Z(1), .reuses = Z(0));
	guest_fill(c->p, T_GPA, 1, TAG_C);
	check_delta(c->pool, &c->st, "parent writes last", .copies = Z(LAST_WRITER_COPIES),
		    .reuses = Z(1 - LAST_WRITER_COPIES));
	assert_guest_tag(c->p, T_GPA, TAG_C);
	assert_guest_tag(c1, T_GPA, TAG_B);
	assert_guest_tag(c2, T_GPA, TAG_A);

	/* Destroy the middle of the chain, then the next one. */
	c3 = new_clone(c, c2, 0);
	kill_space(c, c2);
	kill_space(c, c1);
	assert_guest_tag(c3, T_GPA, TAG_A);
	assert_guest_tag(c3, T2_GPA, orig(c, T2_GPA));
	assert_guest_tag(c->p, T_GPA, TAG_C);
	mm_pool_stats(c->pool, &c->st);
	guest_fill(c3, T_GPA, 1, TAG_D);
	check_delta(c->pool, &c->st, "great-grandchild writes what its dead parent left it",
		    .copies = Z(0), .reuses = Z(1));
	assert_guest_tag(c3, T_GPA, TAG_D);
	assert_guest_tag(c->p, T_GPA, TAG_C);
	assert_others_orig(c);
}

/* A resettable clone's clone point holds a reference: both sides copy. */
static void case_resettable_writes(struct ctx *c)
{
	struct mm_space *ch = new_clone(c, c->p, MM_CLONE_RESETTABLE);

	check_delta(c->pool, &c->st, "resettable clone", .clones = 1);
	guest_fill(c->p, T_GPA, 1, TAG_A);
	check_delta(c->pool, &c->st, "parent writes", .copies = Z(1), .reuses = Z(0));
	guest_fill(ch, T_GPA, 1, TAG_B);
	check_delta(c->pool, &c->st, "clone writes: the clone point still holds the frame",
		    .copies = Z(1), .reuses = Z(0));
	assert_guest_tag(c->p, T_GPA, TAG_A);
	assert_guest_tag(ch, T_GPA, TAG_B);

	assert_int_equal(mm_space_reset(ch, 0, NULL), 0);
	check_delta(c->pool, &c->st, "reset", .resets = 1);
	assert_guest_tag(ch, T_GPA, orig(c, T_GPA));
	assert_guest_tag(c->p, T_GPA, TAG_A);
	/* The clone's private frame survives the reset: no new copy. */
	guest_fill(ch, T_GPA, 1, TAG_C);
	check_delta(c->pool, &c->st, "clone writes after reset", .copies = Z(0), .reuses = DC);
	assert_guest_tag(ch, T_GPA, TAG_C);

	kill_space(c, ch);
	write_exclusive(c, c->p, T_GPA, TAG_D, "parent rewrites its own copy");
	assert_others_orig(c);
}

typedef void (*case_fn)(struct ctx *c);

static const struct {
	const char *name;
	case_fn fn;
} cases[] = {
	{"clone-write-parent", case_clone_write_parent},
	{"clone-write-child", case_clone_write_child},
	{"pin-ro-before-clone", case_pin_ro_before_clone},
	{"pin-rw-before-clone", case_pin_rw_before_clone},
	{"pin-ro-after-clone", case_pin_ro_after_clone},
	{"pin-rw-after-clone", case_pin_rw_after_clone},
	{"unpin-then-write", case_unpin_then_write},
	{"parent-destroyed-child-writes", case_parent_destroyed},
	{"reset-pinned-in-place", case_reset_pinned},
	{"reset-refuse-pinned", case_reset_refuse_pinned},
	{"snapshot-rw-pin", case_snapshot_rw_pin},
	{"clone-of-clone", case_clone_of_clone},
	{"resettable-clone-writes", case_resettable_writes},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct matrix_param {
	enum backing b;
	unsigned k;
};

static int ctx_setup(void **state)
{
	const struct matrix_param *mp = *state;
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->b = mp ? mp->b : B_SMALL;
	c->k = mp ? mp->k : 0;
	*state = c;
	return 0;
}

static int ctx_teardown(void **state)
{
	struct ctx *c = *state;

	if (!c)
		return 0;
	if (c->pool) {
		release_all(c);
		mm_pool_destroy(c->pool);
	}
	free(c);
	return 0;
}

/* Destroy everything the case left and check that nothing leaked. */
static void finish(struct ctx *c)
{
	for (unsigned i = 0; i < MAX_PINS; i++)
		assert_null(c->pins[i]);
	for (unsigned i = MAX_SPACES; i-- > 0;) {
		if (c->spaces[i]) {
			assert_int_equal(mm_space_destroy(c->spaces[i]), 0);
			c->spaces[i] = NULL;
		}
	}
	assert_pool_empty(c->pool);
	assert_int_equal(mm_pool_destroy(c->pool), 0);
	c->pool = NULL;
}

static void run_case(struct ctx *c, unsigned k)
{
	test_pool_create(NULL, &c->pool);
	setup_backing(c);
	cases[k].fn(c);
	finish(c);
}

static struct matrix_param params[B_NR * NCASES];

static void test_matrix(void **state)
{
	struct ctx *c = *state;

	run_case(c, c->k);
}

/* ---- beyond the matrix ---- */

/*
 * A write into a shared large frame copies 4 KiB only. Once the child is
 * gone, a block P never wrote is reused whole (one fault for 512 pages);
 * a block with one copied page is reused page by page.
 */
static void test_large_frame_copy_then_reuse(void **state)
{
	struct ctx *c = *state;
	const uint64_t b1 = BLOCK_GPA, b2 = BLOCK_GPA + MM_LARGE_SIZE;
	struct mm_space *ch;
	struct mm_stats before, after;

	test_pool_create(NULL, &c->pool);
	assert_int_equal(mm_space_create(c->pool, SPACE_SIZE, &c->p), 0);
	track_space(c, c->p);
	guest_fill_seq(c->p, b1, 2 * MM_LARGE_PAGES, ORIG_BASE);
	ch = new_clone(c, c->p, 0);
	mm_pool_stats(c->pool, &before);
	c->st = before;
	guest_fill(c->p, b1 + 7 * PAGE, 1, TAG_A);
	check_delta(c->pool, &c->st, "write into a shared large frame", .copies = 1,
		    .copies_around = 0, .reuses = 0, .reuses_large = 0, .faults = FAULTS(1));
	mm_pool_stats(c->pool, &after);
	assert_int_equal(after.frames_in_use, before.frames_in_use + 1);
	assert_int_equal(page_info(c->p, b1 + 8 * PAGE).pfn, page_info(ch, b1 + 8 * PAGE).pfn);
	assert_guest_tag(ch, b1 + 7 * PAGE, ORIG_BASE + 7);

	kill_space(c, ch);
	mm_pool_stats(c->pool, &c->st);
	guest_fill(c->p, b2 + 300 * PAGE, 1, TAG_B);
	check_delta(c->pool, &c->st, "write into a large frame no one else maps",
		    .reuses_large = 1, .reuses = 0, .copies = 0, .faults = FAULTS(1));
	guest_fill_seq(c->p, b2, MM_LARGE_PAGES, 0x200000);
	check_delta(c->pool, &c->st, "rest of the reused large frame", .faults = FAULTS(0));
	guest_fill(c->p, b1 + 9 * PAGE, 1, TAG_C);
	check_delta(c->pool, &c->st, "write into a block with a copied page", .reuses = 1,
		    .reuses_large = 0, .copies = 0);
	assert_guest_tag(c->p, b1 + 7 * PAGE, TAG_A);
	assert_guest_tag(c->p, b1 + 10 * PAGE, ORIG_BASE + 10);
	assert_guest_tag(c->p, b2 + 511 * PAGE, 0x200000 + 511);
	finish(c);
}

/*
 * DESIGN.md invariant 9: exclusivity is per 4 KiB inside a large frame that
 * is partly shared. The child copied the first 64 pages of the block, so P
 * holds the only reference to those and must reuse them, while the other
 * 448 are still shared and must be copied.
 */
static void test_large_frame_partly_shared(void **state)
{
	struct ctx *c = *state;
	struct mm_space *ch;

	test_pool_create(NULL, &c->pool);
	assert_int_equal(mm_space_create(c->pool, SPACE_SIZE, &c->p), 0);
	track_space(c, c->p);
	guest_fill_seq(c->p, BLOCK_GPA, MM_LARGE_PAGES, ORIG_BASE);
	ch = new_clone(c, c->p, 0);
	mm_pool_stats(c->pool, &c->st);
	guest_fill_seq(ch, BLOCK_GPA, 64, 0x300000);
	check_delta(c->pool, &c->st, "child copies 64 pages", .copies = DC, .reuses = 0);
	assert_int_equal(c->st.copies + c->st.copies_around, 64);

	guest_fill(c->p, BLOCK_GPA + 10 * PAGE, 1, TAG_A);
	check_delta(c->pool, &c->st, "parent writes a page only it maps", .reuses = 1,
		    .copies = 0, .reuses_large = 0);
	guest_fill(c->p, BLOCK_GPA + 300 * PAGE, 1, TAG_B);
	check_delta(c->pool, &c->st, "parent writes a page still shared", .copies = 1,
		    .reuses = 0);
	guest_fill(ch, BLOCK_GPA + 300 * PAGE, 1, TAG_C);
	check_delta(c->pool, &c->st, "child writes what the parent left it", .reuses = 1,
		    .copies = 0);
	guest_fill(ch, BLOCK_GPA + 301 * PAGE, 1, TAG_D);
	check_delta(c->pool, &c->st, "child writes a page still shared", .copies = 1,
		    .reuses = 0);

	assert_guest_tag(c->p, BLOCK_GPA + 10 * PAGE, TAG_A);
	assert_guest_tag(ch, BLOCK_GPA + 10 * PAGE, 0x300000 + 10);
	assert_guest_tag(c->p, BLOCK_GPA + 300 * PAGE, TAG_B);
	assert_guest_tag(ch, BLOCK_GPA + 300 * PAGE, TAG_C);
	assert_guest_tag(c->p, BLOCK_GPA + 301 * PAGE, ORIG_BASE + 301);
	assert_guest_tag(ch, BLOCK_GPA + 301 * PAGE, TAG_D);
	assert_guest_tag(ch, BLOCK_GPA + 302 * PAGE, ORIG_BASE + 302);
	finish(c);
}

/* A R/O pin on a page the clone shares: the device follows the owner only. */
static void test_ro_pin_in_child(void **state)
{
	struct ctx *c = *state;
	struct mm_space *ch;
	struct mm_pin *pin;

	test_pool_create(NULL, &c->pool);
	assert_int_equal(mm_space_create(c->pool, SPACE_SIZE, &c->p), 0);
	track_space(c, c->p);
	guest_fill(c->p, T_GPA, 1, TAG_A);
	ch = new_clone(c, c->p, 0);
	mm_pool_stats(c->pool, &c->st);
	pin = pin_page(c, ch, T_GPA, false);
	check_delta(c->pool, &c->st, "R/O pin in the child", .pins = 1, .unshare_copies = 1);
	guest_fill(c->p, T_GPA, 1, TAG_B);
	check_delta(c->pool, &c->st, "parent writes the frame the pin left it", .reuses = 1,
		    .copies = 0);
	assert_device_tag(pin, TAG_A);
	write_exclusive(c, ch, T_GPA, TAG_C, "child writes its pinned page");
	assert_device_tag(pin, TAG_C);
	assert_guest_tag(c->p, T_GPA, TAG_B);
	unpin_page(c, pin);
	finish(c);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test_setup_teardown(test_large_frame_copy_then_reuse, ctx_setup,
						ctx_teardown),
		cmocka_unit_test_setup_teardown(test_large_frame_partly_shared, ctx_setup,
						ctx_teardown),
		cmocka_unit_test_setup_teardown(test_ro_pin_in_child, ctx_setup, ctx_teardown),
	};
	const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(B_NR * NCASES + nfixed, sizeof(*tests));
	size_t n = 0;

	if (!tests)
		return 1;
	for (unsigned b = 0; b < B_NR; b++) {
		for (unsigned k = 0; k < NCASES; k++) {
			char *name;

			if (asprintf(&name, "%s/%s", backing_names[b], cases[k].name) < 0)
				return 1;
			params[n] = (struct matrix_param){.b = b, .k = k};
			tests[n] = (struct CMUnitTest){
				.name = name,
				.test_func = test_matrix,
				.setup_func = ctx_setup,
				.teardown_func = ctx_teardown,
				.initial_state = &params[n],
			};
			n++;
		}
	}
	for (size_t i = 0; i < nfixed; i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("semantics", tests, n, NULL, NULL);
}
