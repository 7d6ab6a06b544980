// SPDX-License-Identifier: MIT
/*
 * test-mm: unit tests of mm's API, suite "mm".
 *
 * Each test makes its own pool and ends by destroying every space and
 * checking that the pool holds no frame and its memfd no memory.
 */
#include <unistd.h>

#include "mm-test.h"

#define SIZE_16M (16ull << 20)

struct fixture {
	struct mm_pool *pool;
	struct mm_space *spaces[16];
	struct mm_pin *pins[8];
};

static int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	*state = f;
	return f ? 0 : -1;
}

/* After a failure: release what is left, without asserting. */
static int fx_teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0; i < 8; i++)
		mm_unpin(f->pins[i]);
	for (unsigned i = 16; i-- > 0;)
		(void)mm_space_destroy(f->spaces[i]);
	if (f->pool)
		(void)mm_pool_destroy(f->pool);
	free(f);
	return 0;
}

static struct mm_pool *fx_pool(struct fixture *f, const struct mm_pool_config *cfg)
{
	test_pool_create(cfg, &f->pool);
	return f->pool;
}

static struct mm_space *track(struct fixture *f, struct mm_space *s)
{
	for (unsigned i = 0; i < 16; i++) {
		if (!f->spaces[i]) {
			f->spaces[i] = s;
			return s;
		}
	}
	fail_msg("too many spaces");
	return NULL;
}

static struct mm_space *fx_space(struct fixture *f, uint64_t size)
{
	struct mm_space *s = NULL;
	int err = mm_space_create(f->pool, size, &s);

	if (err)
		fail_msg("mm_space_create(%llu): %s", (unsigned long long)size, strerror(-err));
	return track(f, s);
}

static struct mm_space *fx_clone(struct fixture *f, struct mm_space *parent, unsigned flags)
{
	struct mm_space *s = NULL;
	int err = mm_space_clone(parent, flags, &s);

	if (err)
		fail_msg("mm_space_clone: %s", strerror(-err));
	return track(f, s);
}

static void fx_destroy(struct fixture *f, struct mm_space *s)
{
	assert_int_equal(mm_space_destroy(s), 0);
	for (unsigned i = 0; i < 16; i++)
		if (f->spaces[i] == s)
			f->spaces[i] = NULL;
}

static struct mm_pin *fx_pin(struct fixture *f, struct mm_space *s, uint64_t gpa, uint64_t len,
			     unsigned flags)
{
	struct mm_pin *pin = NULL;
	int err = mm_pin(s, gpa, len, flags, &pin);

	if (err)
		fail_msg("mm_pin: %s", strerror(-err));
	for (unsigned i = 0; i < 8; i++) {
		if (!f->pins[i]) {
			f->pins[i] = pin;
			return pin;
		}
	}
	fail_msg("too many pins");
	return NULL;
}

static void fx_unpin(struct fixture *f, struct mm_pin *pin)
{
	mm_unpin(pin);
	for (unsigned i = 0; i < 8; i++)
		if (f->pins[i] == pin)
			f->pins[i] = NULL;
}

/* Destroy everything in reverse order of creation; the pool must be empty. */
static void fx_finish(struct fixture *f)
{
	for (unsigned i = 0; i < 8; i++)
		assert_null(f->pins[i]);
	for (unsigned i = 16; i-- > 0;) {
		if (f->spaces[i])
			fx_destroy(f, f->spaces[i]);
	}
	assert_pool_empty(f->pool);
	assert_int_equal(mm_pool_destroy(f->pool), 0);
	f->pool = NULL;
}

static struct mm_stats space_stats(struct mm_space *s)
{
	struct mm_stats st;

	mm_space_stats(s, &st);
	return st;
}

static struct mm_stats pool_stats(struct mm_pool *pool)
{
	struct mm_stats st;

	mm_pool_stats(pool, &st);
	return st;
}

/* ---- pool and space lifecycle ---- */

static void test_pool_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct mm_pool *pool = fx_pool(f, NULL);
	struct mm_stats st = pool_stats(pool);
	struct mm_space *s;
	uint64_t vmas = 99;

	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.host_bytes, 0);
	assert_int_equal(st.vmas, 0);
	assert_int_equal(mm_pool_count_vmas(pool, &vmas), 0);
	assert_int_equal(vmas, 0);

	s = fx_space(f, SIZE_16M);
	assert_int_equal(mm_pool_destroy(pool), -EBUSY);
	assert_int_equal(mm_pool_count_vmas(pool, &vmas), 0);
	assert_int_equal(vmas, 1);
	assert_int_equal(pool_stats(pool).vmas, 1);
	assert_int_equal(space_stats(s).vmas, 1);
	assert_int_equal(mm_space_destroy(NULL), 0);
	fx_finish(f);
}

static void test_pool_capacity(void **state)
{
	struct fixture *f = *state;
	struct mm_pool_config cfg = {.capacity = 64ull << 20};
	struct mm_space *s = (struct mm_space *)0x1;

	fx_pool(f, &cfg);
	assert_true(mm_space_create(f->pool, 128ull << 20, &s) < 0);
	assert_ptr_equal(s, (struct mm_space *)0x1);
	fx_space(f, 32ull << 20);
	fx_finish(f);
}

static void test_space_size_validation(void **state)
{
	struct fixture *f = *state;
	static const uint64_t bad[] = {0, 1, PAGE - 1, PAGE + 1, 3 * PAGE + 17, SIZE_16M - 8};
	struct mm_space *s;

	fx_pool(f, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = (struct mm_space *)0x1;
		assert_int_equal(mm_space_create(f->pool, bad[i], &s), -EINVAL);
		assert_ptr_equal(s, (struct mm_space *)0x1); /* ret_* untouched on failure */
	}
	s = fx_space(f, PAGE);
	assert_int_equal(mm_space_size(s), PAGE);
	s = fx_space(f, SIZE_16M);
	assert_int_equal(mm_space_size(s), SIZE_16M);
	assert_non_null(mm_space_hva(s));
	assert_int_equal((uintptr_t)mm_space_hva(s) % PAGE, 0);
	fx_finish(f);
}

static void test_zero_fill(void **state)
{
	struct fixture *f = *state;
	struct mm_space *s;

	fx_pool(f, NULL);
	s = fx_space(f, 64ull << 20);
	for (uint64_t gpa = 0; gpa < mm_space_size(s); gpa += PAGE)
		assert_guest_tag(s, gpa, 0);
	fx_finish(f);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct mm_space *s;
	struct mm_stats st;
	const unsigned n = 100;

	fx_pool(f, NULL);
	s = fx_space(f, SIZE_16M);
	for (unsigned i = 0; i < n; i++)
		guest_fill(s, (i * 37ull % 4096) * PAGE, 1, 0x1000 + i);
	for (unsigned i = 0; i < n; i++)
		assert_guest_tag(s, (i * 37ull % 4096) * PAGE, 0x1000 + i);
	st = pool_stats(f->pool);
	assert_int_equal(st.frames_in_use, n);
	assert_int_equal(st.host_bytes, n * PAGE);
	st = space_stats(s);
	assert_int_equal(st.frames_in_use, n);
	/* A fresh space's guest writes without any fault. */
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.copies, 0);
	fx_finish(f);
}

/* ---- clone ---- */

static void test_clone_sees_parent(void **state)
{
	struct fixture *f = *state;
	struct mm_space *p, *c;
	struct mm_stats ps, cs;

	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	for (unsigned i = 0; i < 64; i++)
		guest_fill(p, (i * 61ull % 4096) * PAGE, 1, 0x2000 + i);
	c = fx_clone(f, p, 0);
	assert_int_equal(mm_space_size(c), SIZE_16M);
	assert_ptr_not_equal(mm_space_hva(c), mm_space_hva(p));
	for (unsigned i = 0; i < 64; i++)
		assert_guest_tag(c, (i * 61ull % 4096) * PAGE, 0x2000 + i);
	assert_guest_tag(c, 4095 * PAGE, 0);
	assert_int_equal(space_stats(p).clones, 1);

	/* Invariant 1, both directions; and counters go to the faulting space. */
	guest_fill(c, 0, 1, 0xc0);
	guest_fill(p, 61 * PAGE, 1, 0xd0);
	assert_guest_tag(p, 0, 0x2000);
	assert_guest_tag(c, 0, 0xc0);
	assert_guest_tag(c, 61 * PAGE, 0x2001);
	assert_guest_tag(p, 61 * PAGE, 0xd0);
	ps = space_stats(p);
	cs = space_stats(c);
	assert_int_equal(ps.copies, 1);
	assert_int_equal(cs.copies, 1);
	assert_int_equal(pool_stats(f->pool).copies, 2);
	assert_true(cs.faults >= 1);
	fx_finish(f);
}

/*
 * A tree of clones: space i (i > 0) is a clone of parents[i]. Space 0 fills
 * pages 0..n-1; each space, right after its creation, writes page i; after
 * all exist, each writes page 32 + i. So space j reads tag(i) at page i iff
 * i is j or an ancestor of j, and P's contents otherwise. Spaces are then
 * destroyed in @order and every survivor is checked after each destroy.
 */
static bool is_ancestor(const int *parents, int i, int j)
{
	for (; j > 0; j = parents[j])
		if (j == i)
			return true;
	return i == 0;
}

static void check_tree(struct mm_space **sp, const int *parents, int n, const bool *dead)
{
	for (int j = 0; j < n; j++) {
		if (dead[j])
			continue;
		for (int i = 1; i < n; i++) {
			uint32_t want = is_ancestor(parents, i, j) ? 0x3000 + i : 0x100 + i;

			assert_guest_tag(sp[j], (uint64_t)i * PAGE, want);
			assert_guest_tag(sp[j], (32ull + i) * PAGE, i == j ? 0x4000 + i : 0);
		}
		assert_guest_tag(sp[j], 0, 0x100);
	}
}

static void run_tree(struct fixture *f, const int *parents, int n, const int *order)
{
	struct mm_space *sp[8];
	bool dead[8] = {0};

	fx_pool(f, NULL);
	sp[0] = fx_space(f, 4ull << 20);
	guest_fill_seq(sp[0], 0, (uint64_t)n, 0x100);
	for (int i = 1; i < n; i++) {
		sp[i] = fx_clone(f, sp[parents[i]], 0);
		guest_fill(sp[i], (uint64_t)i * PAGE, 1, 0x3000 + i);
	}
	for (int i = 0; i < n; i++)
		guest_fill(sp[i], (32ull + i) * PAGE, 1, 0x4000 + i);
	check_tree(sp, parents, n, dead);
	for (int k = 0; k < n; k++) {
		fx_destroy(f, sp[order[k]]);
		dead[order[k]] = true;
		check_tree(sp, parents, n, dead);
	}
	fx_finish(f);
}

static bool next_perm(int *a, int n)
{
	int i = n - 2, j = n - 1;

	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return false;
	while (a[j] <= a[i])
		j--;
	int t = a[i];

	a[i] = a[j];
	a[j] = t;
	for (int l = i + 1, r = n - 1; l < r; l++, r--) {
		t = a[l];
		a[l] = a[r];
		a[r] = t;
	}
	return true;
}

/* A chain P -> C1 -> C2 -> C3, destroyed in all 24 orders. */
static void test_destroy_order_chain(void **state)
{
	static const int parents[] = {-1, 0, 1, 2};
	int order[] = {0, 1, 2, 3};

	do
		run_tree(*state, parents, 4, order);
	while (next_perm(order, 4));
}

/* A tree: P -> {C1, C2}, C1 -> {G1, G2}, C2 -> H, destroyed in 30 orders. */
static void test_destroy_order_tree(void **state)
{
	static const int parents[] = {-1, 0, 0, 1, 1, 2};
	uint32_t x = 12345;

	for (int round = 0; round < 30; round++) {
		int order[6] = {0, 1, 2, 3, 4, 5};

		for (int i = 5; i > 0; i--) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			int j = (int)(x % (uint32_t)(i + 1)), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		run_tree(*state, parents, 6, order);
	}
}

/* ---- discard ---- */

static void test_discard(void **state)
{
	struct fixture *f = *state;
	struct mm_space *p, *c;
	struct mm_stats before, after;
	struct mm_pin *pin;

	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	guest_fill_seq(p, 0, 32, 0x500);
	before = pool_stats(f->pool);
	assert_int_equal(before.frames_in_use, 32);
	assert_int_equal(mm_space_discard(p, 8 * PAGE, 8 * PAGE), 0);
	after = pool_stats(f->pool);
	assert_int_equal(after.frames_in_use, 24);
	assert_int_equal(after.host_bytes, 24 * PAGE);
	assert_int_equal(after.discards - before.discards, 8);
	for (uint64_t g = 0; g < 32; g++)
		assert_guest_tag(p, g * PAGE, g >= 8 && g < 16 ? 0 : 0x500 + g);
	/* The hole is usable again. */
	guest_fill(p, 9 * PAGE, 1, 0x5a);
	assert_guest_tag(p, 9 * PAGE, 0x5a);

	/* Discarding a shared page: only the discarding side loses it. */
	c = fx_clone(f, p, 0);
	assert_int_equal(mm_space_discard(c, 20 * PAGE, PAGE), 0);
	assert_guest_tag(c, 20 * PAGE, 0);
	assert_guest_tag(p, 20 * PAGE, 0x500 + 20);
	before = pool_stats(f->pool);
	guest_fill(p, 20 * PAGE, 1, 0x5b);
	after = pool_stats(f->pool);
	assert_int_equal(after.copies - before.copies, 0); /* nobody else holds it */
	assert_int_equal(after.reuses - before.reuses, 1);
	assert_guest_tag(c, 20 * PAGE, 0);

	/* A pinned page in the range: -EBUSY and nothing changed. */
	pin = fx_pin(f, p, 26 * PAGE, PAGE, MM_PIN_WRITE | MM_PIN_LONGTERM);
	before = pool_stats(f->pool);
	assert_int_equal(mm_space_discard(p, 24 * PAGE, 8 * PAGE), -EBUSY);
	after = pool_stats(f->pool);
	assert_int_equal(after.discards, before.discards);
	assert_int_equal(after.frames_in_use, before.frames_in_use);
	for (uint64_t g = 24; g < 32; g++)
		assert_guest_tag(p, g * PAGE, 0x500 + g);
	assert_device_tag(pin, 0x500 + 26);
	fx_unpin(f, pin);

	assert_int_equal(mm_space_discard(p, 100, PAGE), -EINVAL);
	assert_int_equal(mm_space_discard(p, 0, 100), -EINVAL);
	assert_int_equal(mm_space_discard(p, 0, 0), -EINVAL);
	assert_int_equal(mm_space_discard(p, SIZE_16M - PAGE, 2 * PAGE), -EINVAL);
	fx_finish(f);
}

/* ---- counters ---- */

/* Frames are freed exactly when their last reference goes (invariant 3, 6). */
static void test_frame_accounting(void **state)
{
	struct fixture *f = *state;
	struct mm_space *p, *c;
	struct mm_stats st;

	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	guest_fill(p, 0, 1, 0x61);
	c = fx_clone(f, p, 0);
	st = pool_stats(f->pool);
	assert_int_equal(st.frames_in_use, 1);
	assert_int_equal(st.host_bytes, PAGE);
	assert_int_equal(space_stats(p).frames_in_use, 1);
	assert_int_equal(space_stats(c).frames_in_use, 1);

	guest_fill(p, 0, 1, 0x62);
	st = pool_stats(f->pool);
	assert_int_equal(st.frames_in_use, 2);
	assert_int_equal(st.host_bytes, 2 * PAGE);
	assert_int_equal(space_stats(p).copies, 1);
	assert_int_equal(space_stats(c).copies, 0);

	fx_destroy(f, c);
	st = pool_stats(f->pool);
	assert_int_equal(st.frames_in_use, 1);
	assert_int_equal(st.host_bytes, PAGE);
	assert_guest_tag(p, 0, 0x62);
	fx_finish(f);
}

static void test_pin_counters(void **state)
{
	struct fixture *f = *state;
	struct mm_space *p, *c;
	struct mm_pin *a, *b;
	struct mm_stats st;

	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	guest_fill_seq(p, 0, 4, 0x700);
	a = fx_pin(f, p, 0, 3 * PAGE, MM_PIN_WRITE | MM_PIN_LONGTERM);
	b = fx_pin(f, p, 2 * PAGE, 2 * PAGE, 0); /* overlaps a on page 2 */
	st = pool_stats(f->pool);
	assert_int_equal(st.pins, 5);
	assert_int_equal(st.pinned_pages, 4);
	assert_int_equal(space_stats(p).pinned_pages, 4);
	assert_int_equal(page_info(p, 2 * PAGE).pincount, 2);

	c = fx_clone(f, p, 0);
	assert_int_equal(pool_stats(f->pool).clone_pinned_copies, 4);
	assert_int_equal(space_stats(c).pinned_pages, 0);
	fx_unpin(f, a);
	st = pool_stats(f->pool);
	assert_int_equal(st.unpins, 3);
	assert_int_equal(st.pinned_pages, 2);
	assert_int_equal(page_info(p, 2 * PAGE).pincount, 1);
	fx_unpin(f, b);
	assert_int_equal(pool_stats(f->pool).pinned_pages, 0);
	fx_finish(f);
}

/* ---- pins ---- */

static void test_pin_api(void **state)
{
	struct fixture *f = *state;
	const uint64_t gpa = 5 * PAGE + 100, len = 3 * PAGE;
	struct mm_pin *pin = (struct mm_pin *)0x1;
	const struct iovec *iov;
	struct mm_space *p;
	uint64_t total = 0;
	unsigned niov = 0;
	uint8_t *hva;

	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	hva = mm_space_hva(p);
	assert_int_equal(mm_pin(p, 0, 0, MM_PIN_WRITE, &pin), -EINVAL);
	assert_int_equal(mm_pin(p, SIZE_16M - PAGE, 2 * PAGE, MM_PIN_WRITE, &pin), -EINVAL);
	assert_int_equal(mm_pin(p, 0, PAGE, 0x80, &pin), -EINVAL);
	assert_ptr_equal(pin, (struct mm_pin *)0x1);

	guest_fill_seq(p, 0, 16, 0x800);
	pin = fx_pin(f, p, gpa, len, MM_PIN_WRITE | MM_PIN_LONGTERM);
	iov = mm_pin_iov(pin, &niov);
	assert_true(niov >= 1);
	for (unsigned i = 0; i < niov; i++)
		total += iov[i].iov_len;
	assert_int_equal(total, len);
	/* The iovecs address exactly the guest's bytes, in order. */
	uint64_t off = gpa;

	for (unsigned i = 0; i < niov; i++) {
		assert_memory_equal(iov[i].iov_base, hva + off, iov[i].iov_len);
		memset(iov[i].iov_base, 0x5e, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	for (uint64_t b = 0; b < 16 * PAGE; b++) {
		if (b >= gpa && b < gpa + len && hva[b] != 0x5e)
			fail_msg("device write at gpa %#llx not seen by the guest",
				 (unsigned long long)b);
	}
	assert_int_not_equal(hva[gpa - 1], 0x5e);
	assert_int_not_equal(hva[gpa + len], 0x5e);
	for (uint64_t g = 0; g < 16; g++)
		if (g < 5 || g > 8)
			assert_guest_tag(p, g * PAGE, 0x800 + g);

	assert_int_equal(mm_space_destroy(p), -EBUSY);
	assert_guest_tag(p, 0, 0x800); /* still alive and mapped */
	fx_unpin(f, pin);
	fx_finish(f);
}

/* ---- fault errors ---- */

struct err_rec {
	int calls;
	uint64_t gpa;
	int err;
	struct mm_space *space;
};

static void on_fault_error(void *arg, struct mm_space *space, uint64_t gpa, int err)
{
	struct err_rec *r = arg;

	r->gpa = gpa;
	r->err = err;
	r->space = space;
	__atomic_add_fetch(&r->calls, 1, __ATOMIC_RELEASE);
}

static void wait_calls(struct err_rec *r, int n)
{
	uint64_t end = now_ns() + 10ull * 1000000000;

	while (__atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) < n) {
		if (now_ns() > end)
			fail_msg("fault-error callback not called within 10 s");
		usleep(1000);
	}
}

static void assert_blocked(struct guest_job *j, const char *what)
{
	usleep(100000); /* a blocked writer must stay blocked: give it time to escape */
	if (__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
		fail_msg("%s: the writer went on although its fault failed", what);
}

static void errno_is(int got, int want)
{
	if (got != -want && got != want)
		fail_msg("fault-error callback got err %d, want -%d", got, want);
}

static void test_fault_error(void **state)
{
	struct fixture *f = *state;
	struct err_rec rc = {0}, ro = {0};
	const uint64_t x = 5 * PAGE, y = 9 * PAGE;
	struct mm_space *p, *c, *o;
	struct guest_job jx = {.op = GUEST_FILL, .len = PAGE, .tag = 0xe1};
	struct guest_job jy = {.op = GUEST_FILL, .len = PAGE, .tag = 0xe2};
	pthread_t tx, ty;

	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	guest_fill_seq(p, 0, 16, 0x900);
	c = fx_clone(f, p, 0);
	o = fx_clone(f, p, 0);
	mm_space_set_fault_error_fn(c, on_fault_error, &rc);
	mm_space_set_fault_error_fn(o, on_fault_error, &ro);

	/* One failed copy: C's writer sleeps, its owner hears of it. */
	mm_pool_inject_copy_failure(f->pool, 1, -ENOMEM);
	jx.p = gpa_ptr(c, x);
	assert_int_equal(pthread_create(&tx, NULL, guest_thread, &jx), 0);
	wait_calls(&rc, 1);
	assert_ptr_equal(rc.space, c);
	assert_int_equal(rc.gpa & ~(PAGE - 1), x);
	errno_is(rc.err, ENOMEM);
	assert_blocked(&jx, "ENOMEM");
	assert_int_equal(space_stats(c).fault_errors, 1);
	assert_int_equal(pool_stats(f->pool).fault_errors, 1);

	/* Another space keeps working, also on the very same shared frame. */
	guest_fill(o, x, 1, 0xe3);
	guest_fill(p, y, 1, 0xe4);
	assert_guest_tag(o, x, 0xe3);
	assert_guest_tag(p, x, 0x900 + 5);
	assert_guest_tag(c, x, 0x900 + 5); /* nothing of the failed write landed */
	assert_guest_tag(c, y, 0x900 + 9);
	assert_int_equal(ro.calls, 0);
	assert_blocked(&jx, "after other spaces wrote");

	/* Persistent failure: retry fails too, the writer still sleeps. */
	mm_pool_inject_copy_failure(f->pool, 1000, -ENOSPC);
	jy.p = gpa_ptr(c, y);
	assert_int_equal(pthread_create(&ty, NULL, guest_thread, &jy), 0);
	wait_calls(&rc, 2);
	assert_int_equal(rc.gpa & ~(PAGE - 1), y);
	errno_is(rc.err, ENOSPC);
	assert_true(mm_space_retry_faults(c) < 0);
	assert_blocked(&jx, "ENOSPC, retried");
	assert_blocked(&jy, "ENOSPC, retried");

	/* The owner freed resources: retry lets both writers finish. */
	mm_pool_inject_copy_failure(f->pool, 0, 0);
	assert_int_equal(mm_space_retry_faults(c), 0);
	if (join_timeout(tx, GUEST_TIMEOUT_S) || join_timeout(ty, GUEST_TIMEOUT_S))
		fail_msg("writers still blocked after mm_space_retry_faults");
	assert_guest_tag(c, x, 0xe1);
	assert_guest_tag(c, y, 0xe2);
	assert_guest_tag(p, x, 0x900 + 5);
	assert_guest_tag(p, y, 0xe4);
	assert_guest_tag(o, x, 0xe3);
	assert_guest_tag(o, y, 0x900 + 9);
	assert_int_equal(ro.calls, 0);
	fx_finish(f);
}

/* ---- reset ---- */

static void test_reset(void **state)
{
	struct fixture *f = *state;
	struct mm_space *p, *plain, *c;
	uint64_t restored = 0;
	struct mm_stats before, after;

	fx_pool(f, NULL);
	p = fx_space(f, 64ull << 20);
	guest_fill_seq(p, 0, 10, 0xa00);
	assert_int_equal(mm_space_reset(p, 0, NULL), -EINVAL);
	plain = fx_clone(f, p, 0);
	assert_int_equal(mm_space_reset(plain, 0, NULL), -EINVAL);

	c = fx_clone(f, p, MM_CLONE_RESETTABLE);
	for (int round = 0; round < 3; round++) {
		guest_fill_seq(c, 0, 5, 0xb00);		 /* clone-point pages */
		guest_fill(c, 100 * PAGE, 1, 0xb64);	 /* untouched at the clone point */
		guest_fill(c, 16000 * PAGE, 1, 0xb65);	 /* untouched, far away */
		assert_int_equal(mm_space_discard(c, 5 * PAGE, PAGE), 0);
		guest_fill(c, 6 * PAGE, 1, 0xb66);
		assert_int_equal(mm_space_discard(c, 6 * PAGE, PAGE), 0);
		guest_fill(p, 7 * PAGE, 1, 0xb67 + (uint32_t)round); /* the parent moves on */
		before = pool_stats(f->pool);
		assert_int_equal(mm_space_reset(c, 0, &restored), 0);
		after = pool_stats(f->pool);
		assert_int_equal(after.resets - before.resets, 1);
		assert_int_equal(space_stats(c).resets, (uint64_t)round + 1);
		/* Cost follows what the clone wrote, not the 16384 pages it has. */
		assert_true(restored >= 9 && restored <= 64);
		assert_true(after.reset_pages - before.reset_pages <= 64);
		for (uint64_t g = 0; g < 10; g++)
			assert_guest_tag(c, g * PAGE, 0xa00 + g);
		assert_guest_tag(c, 100 * PAGE, 0);
		assert_guest_tag(c, 16000 * PAGE, 0);
		assert_guest_tag(p, 0, 0xa00);
		assert_guest_tag(p, 7 * PAGE, 0xb67 + (uint32_t)round);
		assert_guest_tag(plain, 0, 0xa00);
	}
	/* Nothing written since: nothing to restore. */
	assert_int_equal(mm_space_reset(c, 0, &restored), 0);
	assert_int_equal(restored, 0);
	assert_int_equal(mm_space_reset(c, 0x80, NULL), -EINVAL);
	fx_finish(f);
}

/*
 * Tracked reset: the clone's own frames stay writable across resets (no
 * fault per run), so only what the caller reports plus what mm saw (first
 * writes to shared pages, pins) is restored - never a shared page touched.
 */
static void test_reset_tracked(void **state)
{
	struct fixture *f = *state;
	uint64_t dirty[64] = {0}, restored = 0, faults;
	struct mm_page_info shared, pi;
	struct mm_space *p, *c;
	struct mm_pin *pin;
	unsigned niov;

	fx_pool(f, NULL);
	p = fx_space(f, 16ull << 20);
	guest_fill_seq(p, 0, 16, 0xa00);
	c = fx_clone(f, p, MM_CLONE_RESETTABLE);
	assert_int_equal(mm_space_page_info(c, 9 * PAGE, &shared), 0);

	/* First writes to shared pages fault and copy: mm lists them. */
	guest_fill(c, 3 * PAGE, 1, 0xb03);
	guest_fill(c, 5 * PAGE, 1, 0xb05);
	assert_int_equal(mm_space_reset_tracked(c, dirty, 0, &restored), 0);
	assert_int_equal(restored, 2);
	assert_guest_tag(c, 3 * PAGE, 0xa03);
	assert_guest_tag(c, 5 * PAGE, 0xa05);

	/* Now the clone's own and writable: a write costs no fault. */
	faults = space_stats(c).faults;
	guest_fill(c, 3 * PAGE, 1, 0xc03);
	assert_int_equal(space_stats(c).faults, faults);
	/* Not reported: not restored (the caller's contract). */
	assert_int_equal(mm_space_reset_tracked(c, dirty, 0, &restored), 0);
	assert_int_equal(restored, 0);
	assert_guest_tag(c, 3 * PAGE, 0xc03);
	/* Reported: restored. */
	dirty[0] = 1ULL << 3;
	assert_int_equal(mm_space_reset_tracked(c, dirty, 0, &restored), 0);
	assert_int_equal(restored, 1);
	assert_guest_tag(c, 3 * PAGE, 0xa03);

	/* A pinned page is restored in place at every reset, its frame kept. */
	pin = fx_pin(f, c, 5 * PAGE, PAGE, MM_PIN_WRITE | MM_PIN_LONGTERM);
	assert_int_equal(mm_space_page_info(c, 5 * PAGE, &pi), 0);
	fill_tag(mm_pin_iov(pin, &niov)[0].iov_base, 0xd05);
	dirty[0] = 0;
	assert_int_equal(mm_space_reset_tracked(c, dirty, MM_RESET_REFUSE_PINNED, NULL), -EBUSY);
	assert_guest_tag(c, 5 * PAGE, 0xd05);
	assert_int_equal(mm_space_reset_tracked(c, dirty, 0, &restored), 0);
	assert_guest_tag(c, 5 * PAGE, 0xa05);
	fill_tag(mm_pin_iov(pin, &niov)[0].iov_base, 0xd06);
	assert_int_equal(mm_space_reset_tracked(c, dirty, 0, &restored), 0);
	assert_guest_tag(c, 5 * PAGE, 0xa05);
	{
		struct mm_page_info now;

		assert_int_equal(mm_space_page_info(c, 5 * PAGE, &now), 0);
		assert_int_equal(now.pfn, pi.pfn);
	}
	fx_unpin(f, pin);

	/* Pages never written still share the clone point's frame. */
	assert_int_equal(mm_space_page_info(c, 9 * PAGE, &pi), 0);
	assert_int_equal(pi.pfn, shared.pfn);
	assert_true(pi.write_protected);
	assert_guest_tag(p, 3 * PAGE, 0xa03);
	assert_int_equal(mm_space_reset_tracked(p, dirty, 0, NULL), -EINVAL);
	assert_int_equal(mm_space_reset_tracked(c, dirty, 0x80, NULL), -EINVAL);
	fx_finish(f);
}

/* ---- snapshot ---- */

struct snap_log {
	unsigned calls[4096];
	int64_t tag[4096];
	bool null[4096];
};

static void snap_fn(void *arg, uint64_t gfn, const void *old)
{
	struct snap_log *l = arg;

	if (gfn >= 4096)
		return;
	/*
	 * Atomics: the hook runs on mm's fault thread, ordered before the
	 * guest's write only by userfaultfd, which ThreadSanitizer cannot see.
	 */
	__atomic_store_n(&l->null[gfn], !old, __ATOMIC_RELAXED);
	__atomic_store_n(&l->tag[gfn], old ? page_tag(old) : 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&l->calls[gfn], 1, __ATOMIC_RELEASE);
}

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct snap_log *l = calloc(1, sizeof(*l));
	struct mm_space *p;
	struct mm_stats before, after;

	assert_non_null(l);
	fx_pool(f, NULL);
	p = fx_space(f, SIZE_16M);
	guest_fill_seq(p, 0, 8, 0xc00);
	assert_int_equal(mm_space_snapshot_begin(p, NULL, l), -EINVAL);
	assert_int_equal(mm_space_snapshot_begin(p, snap_fn, l), 0);
	for (uint64_t g = 0; g < 4096; g++)
		assert_int_equal(SEEN(l->calls[g]), 0); /* nothing pinned: nothing yet */

	before = pool_stats(f->pool);
	guest_fill(p, 2 * PAGE, 1, 0xd2);
	guest_fill(p, 2 * PAGE, 1, 0xd3);
	after = pool_stats(f->pool);
	assert_int_equal(SEEN(l->calls[2]), 1);
	assert_int_equal(SEEN(l->tag[2]), 0xc02);
	/* The frame stays the guest's: one reuse, no copy. */
	assert_int_equal(after.copies - before.copies, 0);
	assert_int_equal(after.reuses - before.reuses, 1);
	assert_int_equal(after.snapshot_saves - before.snapshot_saves, 1);
	assert_guest_tag(p, 2 * PAGE, 0xd3);

	assert_int_equal(mm_space_snapshot_page(p, 3), 1);
	assert_int_equal(SEEN(l->tag[3]), 0xc03);
	assert_int_equal(mm_space_snapshot_page(p, 3), 0);
	assert_int_equal(mm_space_snapshot_page(p, 2), 0);
	assert_int_equal(mm_space_snapshot_page(p, 1000), 1);
	assert_true(SEEN(l->null[1000]));
	guest_fill(p, 1001 * PAGE, 1, 0xd4); /* a hole written after the snapshot point */
	assert_int_equal(SEEN(l->calls[1001]), 1);
	assert_true(SEEN(l->null[1001]) || SEEN(l->tag[1001]) == 0);
	assert_true(mm_space_snapshot_page(p, 4096) < 0);

	assert_int_equal(mm_space_snapshot_end(p), 0);
	guest_fill(p, 4 * PAGE, 1, 0xd5);
	assert_int_equal(SEEN(l->calls[4]), 0);
	assert_int_equal(SEEN(l->calls[2]), 1);
	for (uint64_t g = 0; g < 8; g++)
		assert_guest_tag(p, g * PAGE, g == 2 ? 0xd3 : g == 4 ? 0xd5 : 0xc00 + g);
	free(l);
	fx_finish(f);
}

/* ---- VMA economy ---- */

struct scatter_job {
	uint8_t *hva;
	uint64_t npages, nwrites, tag;
	bool populate;
};

static uint64_t scatter_gfn(uint64_t i, uint64_t npages)
{
	return (i * 0x9E3779B1ull) & (npages - 1); /* odd multiplier: a permutation */
}

static void *scatter_thread(void *arg)
{
	struct scatter_job *j = arg;

	if (j->populate) {
		for (uint64_t g = 0; g < j->npages; g++)
			*(volatile uint64_t *)(j->hva + g * PAGE) = j->tag | g;
		return NULL;
	}
	for (uint64_t i = 0; i < j->nwrites; i++) {
		uint64_t g = scatter_gfn(i, j->npages);

		*(volatile uint64_t *)(j->hva + g * PAGE) = j->tag | g;
	}
	return NULL;
}

static void run_scatter(struct scatter_job *j, int timeout_s)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, scatter_thread, j), 0);
	if (join_timeout(t, timeout_s))
		fail_msg("scattered writer did not finish in %d s", timeout_s);
}

/*
 * A clone of a 1 GiB populated space takes scattered writes to 100k
 * distinct pages: every copy would be a VMA of its own without the home
 * layout, far past vm.max_map_count (65530). It must not fail, and the VMA
 * count must stay well below the limit.
 */
static void test_vma_economy(void **state)
{
	struct fixture *f = *state;
	const uint64_t size = 1ull << 30, npages = size / PAGE, nwrites = 100000;
	const uint64_t ptag = 0xaa00000000000000ull, ctag = 0xcc00000000000000ull;
	struct scatter_job jp = {.npages = npages, .tag = ptag, .populate = true};
	struct scatter_job jc = {.npages = npages, .nwrites = nwrites, .tag = ctag};
	uint8_t *written = calloc(npages, 1);
	struct mm_space *p, *c;
	uint64_t vmas = 0, t0;
	struct mm_stats st;

	assert_non_null(written);
	fx_pool(f, NULL);
	p = fx_space(f, size);
	jp.hva = mm_space_hva(p);
	run_scatter(&jp, 120);
	t0 = now_ns();
	c = fx_clone(f, p, 0);
	fprintf(stderr, "# clone of 1 GiB populated: %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	jc.hva = mm_space_hva(c);
	t0 = now_ns();
	run_scatter(&jc, 240);
	fprintf(stderr, "# 100k scattered copy faults: %.2f s\n", (double)(now_ns() - t0) / 1e9);

	assert_int_equal(mm_pool_count_vmas(f->pool, &vmas), 0);
	st = pool_stats(f->pool);
	fprintf(stderr, "# VMAs: /proc/self/maps %llu, stats %llu; copies %llu around %llu\n",
		(unsigned long long)vmas, (unsigned long long)st.vmas,
		(unsigned long long)st.copies, (unsigned long long)st.copies_around);
	assert_int_equal(st.fault_errors, 0);
	assert_true(vmas < 30000);
	assert_true(st.vmas + st.vmas / 10 + 16 >= vmas && vmas + vmas / 10 + 16 >= st.vmas);
	assert_true(st.copies + st.copies_around >= nwrites);

	for (uint64_t i = 0; i < nwrites; i++)
		written[scatter_gfn(i, npages)] = 1;
	for (uint64_t g = 0; g < npages; g++) {
		uint64_t cv = *(volatile uint64_t *)((uint8_t *)mm_space_hva(c) + g * PAGE);
		uint64_t pv = *(volatile uint64_t *)((uint8_t *)mm_space_hva(p) + g * PAGE);

		if (cv != ((written[g] ? ctag : ptag) | g) || pv != (ptag | g))
			fail_msg("gfn %llu: child %#llx parent %#llx", (unsigned long long)g,
				 (unsigned long long)cv, (unsigned long long)pv);
	}
	free(written);
	fx_finish(f);
}


/*
 * The VMAs the kernel keeps inside a space's mapping start exactly where the
 * memfd offsets of neighbouring pages stop being contiguous. mm's fallback
 * for kernels that cannot write-protect across VMAs (6.1) splits every
 * UFFDIO_WRITEPROTECT there (map__protect), so this is what it relies on.
 */
static void assert_vmas_follow_table(struct mm_space *s)
{
	uintptr_t lo = (uintptr_t)mm_space_hva(s), hi = lo + mm_space_size(s);
	uint64_t npages = mm_space_size(s) / PAGE, nwant = 0, ngot = 0;
	uint64_t *want = calloc(npages, sizeof(*want)), *got = calloc(npages, sizeof(*got));
	uint64_t prev = 0;
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "re");

	assert_non_null(want);
	assert_non_null(got);
	assert_non_null(maps);
	for (uint64_t g = 0; g < npages; g++) {
		uint64_t pfn = page_info(s, g * PAGE).pfn;

		if (g == 0 || pfn != prev + 1)
			want[nwant++] = g;
		prev = pfn;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx", &start, &end) != 2 || end <= lo || start >= hi)
			continue;
		got[ngot++] = ((start < lo ? lo : start) - lo) / PAGE;
	}
	fclose(maps);
	for (uint64_t i = 0; i < nwant || i < ngot; i++)
		if (i >= nwant || i >= ngot || want[i] != got[i])
			fail_msg("VMA %llu of the space starts at gfn %lld, mm's table says %lld "
				 "(%llu VMAs, %llu runs)",
				 (unsigned long long)i, i < ngot ? (long long)got[i] : -1LL,
				 i < nwant ? (long long)want[i] : -1LL, (unsigned long long)ngot,
				 (unsigned long long)nwant);
	free(want);
	free(got);
}

/*
 * A fragmented space (scattered copies in a clone, a discard) is cloned and
 * snapshot-protected, as a whole and in parts: every write-protect spans many
 * VMAs. Run with MM_UFFD_FALLBACK=1 (meson test mm-fallback) too, and on a
 * 6.1 kernel, where each is split per VMA.
 */
static uint32_t across_child_tag(uint64_t g)
{
	if (g >= 512 && g < 519)
		return 0; /* discarded */
	return g % 3 ? 0x100 + (uint32_t)g : 0x9000 + (uint32_t)g;
}

static void test_wp_across_vmas(void **state)
{
	struct fixture *f = *state;
	const uint64_t npages = 1024;
	struct mm_space *p, *c, *gc;
	struct mm_uffd_caps caps;
	struct snap_log *l = calloc(1, sizeof(*l));
	unsigned saved = 0;

	mm_probe_uffd(&caps);
	fprintf(stderr, "# write-protect across VMAs: %s; mm splits per VMA: %s%s\n",
		caps.wp_multi_vma_err ? strerror(-caps.wp_multi_vma_err) : "ok",
		caps.wp_per_vma ? "yes" : "no", caps.fallback_forced ? " (forced)" : "");
	fx_pool(f, NULL);
	p = fx_space(f, npages * PAGE);
	guest_fill_seq(p, 0, npages, 0x100);
	c = fx_clone(f, p, 0);
	for (uint64_t g = 0; g < npages; g += 3)
		guest_fill(c, g * PAGE, 1, 0x9000 + (uint32_t)g);
	assert_int_equal(mm_space_discard(c, 512 * PAGE, 7 * PAGE), 0);
	assert_true(space_stats(c).vmas > 300);
	assert_vmas_follow_table(c);
	gc = fx_clone(f, c, MM_CLONE_RESETTABLE); /* write-protects all of c */
	assert_vmas_follow_table(c);
	assert_vmas_follow_table(gc);
	for (uint64_t g = 0; g < npages; g += 2)
		guest_fill(gc, g * PAGE, 1, 0x7000 + (uint32_t)g);
	for (uint64_t g = 0; g < npages; g++) {
		uint32_t ct = across_child_tag(g);

		assert_guest_tag(p, g * PAGE, 0x100 + g);
		assert_guest_tag(c, g * PAGE, ct);
		assert_guest_tag(gc, g * PAGE, g % 2 ? ct : 0x7000 + (uint32_t)g);
	}
	assert_int_equal(mm_space_reset(gc, 0, NULL), 0);
	for (uint64_t g = 0; g < npages; g++)
		assert_guest_tag(gc, g * PAGE, across_child_tag(g));
	/* Snapshot protection over the fragmented c, then a range of it at once. */
	assert_non_null(l);
	assert_int_equal(mm_space_snapshot_begin(c, snap_fn, l), 0);
	assert_int_equal(mm_space_snapshot_range(c, 100, 600, NULL), 0);
	guest_fill(c, 50 * PAGE, 1, 0x55);
	guest_fill(c, 800 * PAGE, 1, 0x66);
	assert_int_equal(mm_space_snapshot_end(c), 0);
	for (uint64_t g = 0; g < npages; g++)
		saved += SEEN(l->calls[g]);
	assert_int_equal(saved, 602);
	assert_int_equal(SEEN(l->tag[800]), across_child_tag(800));
	free(l);
	assert_guest_tag(c, 50 * PAGE, 0x55);
	assert_guest_tag(c, 800 * PAGE, 0x66);
	assert_guest_tag(p, 50 * PAGE, 0x100 + 50);
	assert_int_equal(pool_stats(f->pool).fault_errors, 0);
	fx_finish(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pool_lifecycle),	      T(test_pool_capacity),
		T(test_space_size_validation), T(test_zero_fill),
		T(test_round_trip),	      T(test_clone_sees_parent),
		T(test_destroy_order_chain),  T(test_destroy_order_tree),
		T(test_discard),	      T(test_frame_accounting),
		T(test_pin_counters),	      T(test_pin_api),
		T(test_fault_error),	      T(test_reset),		T(test_reset_tracked),
		T(test_snapshot),	      T(test_vma_economy),	T(test_wp_across_vmas),
	};

	return cmocka_run_group_tests_name("mm", tests, NULL, NULL);
}
