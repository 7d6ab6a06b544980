// SPDX-License-Identifier: MIT
/*
 * test-race: races between guest writers, devices and mm's operations,
 * suite "stress" (DESIGN.md invariant 7). Each test runs for a bounded time.
 *
 * The shadow model: every page a writer owns holds enc(who, gfn, seq) in
 * its first and last word, where seq counts the writer's writes to that
 * page. A writer publishes started[gfn] before a write and done[gfn] after
 * it, and checks before each write that the page still holds its previous
 * value - a lost write or a foreign value (another space's write leaking
 * in) is caught at once. A clone must see, for each page, a value whose seq
 * lies between done[] read before the clone and started[] read after it,
 * and must keep exactly that value until it writes the page itself. Nothing
 * depends on timing: the bounds come from the published counters, never
 * from sleeps.
 */
#include <sched.h>
#include <unistd.h>

#include "mm-test.h"

#define NP 1024 /* pages per space */
#define SPACE_BYTES ((uint64_t)NP * PAGE)
#define WHO_P 1
#define WHO_DEV 2
#define WHO_HOLE 3
#define HOLE_LO 768 /* test 1: pages a writer fills from holes during each clone */
#define WHO_CHILD 16 /* + clone number */

static int nerrors;
static char first_error[512];

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&nerrors, 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(first_error, sizeof(first_error), fmt, ap);
	va_end(ap);
}

static void assert_no_errors(void)
{
	if (__atomic_load_n(&nerrors, __ATOMIC_RELAXED))
		fail_msg("%d model violations; first: %s", nerrors, first_error);
}

static uint64_t enc(uint32_t who, uint64_t gfn, uint32_t seq)
{
	return ((uint64_t)who << 48) | (gfn << 24) | seq;
}

static volatile uint64_t *word0(struct mm_space *s, uint64_t gfn)
{
	return (volatile uint64_t *)((uint8_t *)mm_space_hva(s) + gfn * PAGE);
}

static volatile uint64_t *wordl(struct mm_space *s, uint64_t gfn)
{
	return word0(s, gfn) + WORDS_PER_PAGE - 1;
}

static uint64_t ld(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* ---- writers ---- */

struct writer {
	struct mm_space *s;
	uint32_t who;
	const uint16_t *pages; /* the gfns it owns */
	unsigned npages;
	uint64_t initial[NP]; /* a page's value before the writer's first write */
	const uint64_t *restore; /* what a reset restores (NULL: no resets) */
	uint64_t zero_lo, zero_hi; /* gfns a discard may zero */
	uint32_t started[NP], done[NP];
	uint64_t max_writes; /* 0: until stop */
	uint64_t writes;     /* published */
	int stop;
	pthread_t thread;
};

static uint64_t expected(const struct writer *w, uint64_t g)
{
	uint32_t d = (uint32_t)ld(&w->done[g]);

	return d ? enc(w->who, g, d) : w->initial[g];
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	for (uint64_t i = 0; !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); i++) {
		if (w->max_writes && i >= w->max_writes)
			break;
		uint64_t g = w->pages[i % w->npages];
		uint64_t cur = *word0(w->s, g), want = expected(w, g);

		if (cur != want && !(w->restore && cur == w->restore[g]) &&
		    !(cur == 0 && g >= w->zero_lo && g < w->zero_hi))
			report("writer %u gfn %llu: reads %#llx before its write, want %#llx", w->who,
			       (unsigned long long)g, (unsigned long long)cur,
			       (unsigned long long)want);
		uint32_t s = w->done[g] + 1;

		__atomic_store_n(&w->started[g], s, __ATOMIC_RELEASE);
		*wordl(w->s, g) = enc(w->who, g, s);
		*word0(w->s, g) = enc(w->who, g, s);
		__atomic_store_n(&w->done[g], s, __ATOMIC_RELEASE);
		__atomic_store_n(&w->writes, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void writer_start(struct writer *w)
{
	assert_int_equal(pthread_create(&w->thread, NULL, writer_thread, w), 0);
}

static void writer_stop(struct writer *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (join_timeout(w->thread, 60))
		fail_msg("writer %u hung (a fault never resolved)", w->who);
}

/* Quiescent: every owned page holds exactly the writer's last value. */
static void writer_check_final(const struct writer *w)
{
	for (unsigned i = 0; i < w->npages; i++) {
		uint64_t g = w->pages[i], want = expected(w, g);

		if (*word0(w->s, g) != want || *wordl(w->s, g) != want)
			report("writer %u gfn %llu: final %#llx/%#llx, want %#llx", w->who,
			       (unsigned long long)g, (unsigned long long)*word0(w->s, g),
			       (unsigned long long)*wordl(w->s, g), (unsigned long long)want);
	}
}

/* The gfns with (g % mod == rem) in [lo, hi). */
static unsigned page_set(uint16_t *out, unsigned lo, unsigned hi, unsigned mod, unsigned rem)
{
	unsigned n = 0;

	for (unsigned g = lo; g < hi; g++)
		if (g % mod == rem)
			out[n++] = (uint16_t)g;
	return n;
}

/* ---- fixture ---- */

struct race {
	struct mm_pool *pool;
	struct mm_space *p;
	struct writer pw[2]; /* the parent's writers: even and odd pages of [0, 512) */
	uint16_t pw_pages[2][256];
	uint64_t deadline;
};

static int race_setup(void **state)
{
	struct race *r = calloc(1, sizeof(*r));

	nerrors = 0;
	*state = r;
	return r ? 0 : -1;
}

static int race_teardown(void **state)
{
	free(*state);
	return 0;
}

static bool time_left(const struct race *r)
{
	return now_ns() < r->deadline;
}

/* Pool, parent with every page at enc(WHO_P, g, 0), parent writers ready. */
static void race_init(struct race *r, double seconds)
{
	/* A small pool: under ThreadSanitizer, 1 TiB of memfd mapping may not fit. */
	const struct mm_pool_config cfg = {.capacity = 16ull << 30};

	test_pool_create(&cfg, &r->pool);
	assert_int_equal(mm_space_create(r->pool, SPACE_BYTES, &r->p), 0);
	for (uint64_t g = 0; g < NP; g++) {
		*wordl(r->p, g) = enc(WHO_P, g, 0);
		*word0(r->p, g) = enc(WHO_P, g, 0);
	}
	for (unsigned k = 0; k < 2; k++) {
		struct writer *w = &r->pw[k];

		w->s = r->p;
		w->who = WHO_P;
		w->npages = page_set(r->pw_pages[k], 0, 512, 2, k);
		w->pages = r->pw_pages[k];
		for (uint64_t g = 0; g < NP; g++)
			w->initial[g] = enc(WHO_P, g, 0);
	}
	r->deadline = now_ns() + (uint64_t)(seconds * 1e9);
}

/* The parent's writer owning page @g. */
static struct writer *owner(struct race *r, uint64_t g)
{
	return &r->pw[g % 2];
}

static void race_finish(struct race *r)
{
	assert_int_equal(mm_space_destroy(r->p), 0);
	r->p = NULL;
	assert_pool_empty(r->pool);
	assert_int_equal(mm_pool_destroy(r->pool), 0);
	r->pool = NULL;
	assert_no_errors();
}

/* ---- 1: clone, reset and destroy against writers in parent and clones ---- */

struct clone_rec {
	struct mm_space *s;
	bool resettable;
	uint64_t cp[NP];   /* what it saw at the clone point: first word */
	uint64_t cpl[NP];  /* and last word (a write may straddle the clone point) */
	uint16_t pages[512];
	struct writer w;
};

/*
 * A clone point is one instant for all pages: a writer going round-robin
 * over its pages (write i hits pages[i % n] with seq i / n + 1) shows a
 * consistent cut, i.e. the write indices seen span at most n consecutive
 * values. Seq 0 (the initial value) counts as index k - n.
 */
static void check_cut(const struct writer *w, const uint64_t *vals, const char *what)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, n = w->npages;

	for (int64_t k = 0; k < n; k++) {
		uint64_t g = w->pages[k], v = vals[g];
		int64_t seq = (int64_t)(v & 0xffffff), idx = (seq - 1) * n + k;

		if (v != w->initial[g] && v >> 24 != enc(w->who, g, 0) >> 24) {
			report("%s: gfn %llu holds %#llx, not writer %u's", what,
			       (unsigned long long)g, (unsigned long long)v, w->who);
			return;
		}
		lo = idx < lo ? idx : lo;
		hi = idx > hi ? idx : hi;
	}
	if (hi - lo > n - 1)
		report("%s: writer %u's writes seen span indices [%lld, %lld]: not one instant",
		       what, w->who, (long long)lo, (long long)hi);
}

/* Read the clone point of @c, checking it against the parent writers' bounds. */
static void take_clone_point(struct race *r, struct clone_rec *c, const uint32_t *lo,
			     const struct writer *hole)
{
	uint32_t hi[512], hi_hole_buf[NP], *hi_hole = hole ? hi_hole_buf : NULL;

	for (uint64_t g = 0; g < 512; g++)
		hi[g] = (uint32_t)ld(&owner(r, g)->started[g]);
	for (uint64_t g = HOLE_LO; hole && g < NP; g++)
		hi_hole[g] = (uint32_t)ld(&hole->started[g]);
	for (uint64_t g = 0; g < NP; g++) {
		c->cp[g] = *word0(c->s, g);
		c->cpl[g] = *wordl(c->s, g);
		for (int k = 0; k < 2; k++) {
			uint64_t v = k ? c->cpl[g] : c->cp[g];
			uint32_t seq = (uint32_t)(v & 0xffffff);

			if (g >= 512 && g < HOLE_LO && v != enc(WHO_P, g, 0))
				report("clone gfn %llu: %#llx, want the initial value",
				       (unsigned long long)g, (unsigned long long)v);
			if (g >= HOLE_LO && g < NP && hi_hole && (k ? c->cpl[g] : c->cp[g]) &&
			    (v >> 24 != enc(WHO_HOLE, g, 0) >> 24 || seq > hi_hole[g]))
				report("clone gfn %llu: %#llx, want a hole-writer value up to seq %u",
				       (unsigned long long)g, (unsigned long long)v, hi_hole[g]);
			if (g < 512 && (v >> 24 != enc(WHO_P, g, 0) >> 24 || seq < lo[g] ||
					seq > hi[g]))
				report("clone gfn %llu: %#llx, want a parent value with seq in "
				       "[%u, %u]",
				       (unsigned long long)g, (unsigned long long)v, lo[g], hi[g]);
		}
	}
	check_cut(&r->pw[0], c->cp, "clone point");
	check_cut(&r->pw[1], c->cp, "clone point");
	if (hole)
		check_cut(hole, c->cp, "clone point");
}

/* Its writer done: its pages hold its last writes, all others the clone point. */
static void check_clone(struct clone_rec *c)
{
	for (uint64_t g = 0; g < NP; g++) {
		uint64_t w = c->w.done[g] ? enc(c->w.who, g, c->w.done[g]) : 0;
		uint64_t want0 = w ? w : c->cp[g], wantl = w ? w : c->cpl[g];

		if (*word0(c->s, g) != want0 || *wordl(c->s, g) != wantl)
			report("clone %u gfn %llu: %#llx/%#llx, want %#llx/%#llx", c->w.who,
			       (unsigned long long)g, (unsigned long long)*word0(c->s, g),
			       (unsigned long long)*wordl(c->s, g), (unsigned long long)want0,
			       (unsigned long long)wantl);
	}
}

static void retire_clone(struct clone_rec *c)
{
	uint64_t restored;

	writer_stop(&c->w);
	check_clone(c);
	if (c->resettable) {
		assert_int_equal(mm_space_reset(c->s, 0, &restored), 0);
		for (uint64_t g = 0; g < NP; g++)
			if (*word0(c->s, g) != c->cp[g] || *wordl(c->s, g) != c->cpl[g])
				report("reset clone gfn %llu: %#llx, want its clone point %#llx",
				       (unsigned long long)g, (unsigned long long)*word0(c->s, g),
				       (unsigned long long)c->cp[g]);
	}
	assert_int_equal(mm_space_destroy(c->s), 0);
	c->s = NULL;
}

static void test_race_clone_destroy(void **state)
{
	struct race *r = *state;
	struct clone_rec *live[3] = {0};
	struct writer *hole = calloc(1, sizeof(*hole));
	uint16_t hole_pages[NP - HOLE_LO];
	uint32_t lo[512];
	unsigned nclones = 0;

	assert_non_null(hole);
	hole->who = WHO_HOLE;
	hole->npages = page_set(hole_pages, HOLE_LO, NP, 1, 0);
	hole->pages = hole_pages;
	hole->max_writes = 4 * (NP - HOLE_LO);

	race_init(r, 8);
	writer_start(&r->pw[0]);
	writer_start(&r->pw[1]);
	while (time_left(r) && !nerrors) {
		unsigned slot = nclones % 3;
		struct clone_rec *c = live[slot];

		if (c) {
			retire_clone(c);
		} else {
			c = calloc(1, sizeof(*c));
			assert_non_null(c);
			live[slot] = c;
		}
		memset(c, 0, sizeof(*c));
		c->resettable = nclones % 2;
		/* Holes again, filled by a writer while the clone runs (adoption races). */
		assert_int_equal(mm_space_discard(r->p, HOLE_LO * PAGE, (NP - HOLE_LO) * PAGE), 0);
		hole->s = r->p;
		hole->stop = 0;
		memset(hole->started, 0, sizeof(hole->started));
		memset(hole->done, 0, sizeof(hole->done));
		writer_start(hole);
		for (uint64_t g = 0; g < 512; g++)
			lo[g] = (uint32_t)ld(&owner(r, g)->done[g]);
		assert_int_equal(mm_space_clone(r->p, c->resettable ? MM_CLONE_RESETTABLE : 0,
						&c->s),
				 0);
		take_clone_point(r, c, lo, hole);
		writer_stop(hole);
		writer_check_final(hole);
		/* The child writes [512, 768) and the even pages the parent writes too. */
		c->w.s = c->s;
		c->w.who = WHO_CHILD + nclones % 1000;
		c->w.npages = page_set(c->pages, 512, 768, 1, 0);
		c->w.npages += page_set(c->pages + c->w.npages, 0, 512, 2, 0);
		c->w.pages = c->pages;
		c->w.max_writes = 2000;
		memcpy(c->w.initial, c->cp, sizeof(c->cp));
		writer_start(&c->w);
		nclones++;
	}
	for (unsigned i = 0; i < 3; i++) {
		if (live[i] && live[i]->s)
			retire_clone(live[i]);
		free(live[i]);
	}
	writer_stop(&r->pw[0]);
	writer_stop(&r->pw[1]);
	writer_check_final(&r->pw[0]);
	writer_check_final(&r->pw[1]);
	free(hole);
	for (uint64_t g = 512; g < HOLE_LO; g++)
		if (*word0(r->p, g) != enc(WHO_P, g, 0))
			report("parent gfn %llu changed: a clone's write leaked",
			       (unsigned long long)g);
	fprintf(stderr, "# %u clones raced\n", nclones);
	assert_true(nclones >= 3);
	race_finish(r);
}

/* ---- 2: pins (device DMA) against writers, clones and discard ---- */

#define DZ_LO 512 /* the device's pages */
#define DZ_HI 576
#define DISC_LO 600 /* the controller's pages for discard */
#define DISC_HI 640

struct device {
	struct race *r;
	uint32_t started[NP], done[NP];
	int stop;
	uint64_t rounds;
	pthread_t thread;
};

static void device_round(struct device *d, uint32_t *x)
{
	struct race *r = d->r;
	uint64_t first = DZ_LO + xorshift(x) % (DZ_HI - DZ_LO - 7), g = xorshift(x) % 512;
	struct mm_pin *rw, *ro;
	const struct iovec *iov;
	unsigned niov;

	if (mm_pin(r->p, first * PAGE, 8 * PAGE, MM_PIN_WRITE | MM_PIN_LONGTERM, &rw)) {
		report("R/W pin failed");
		return;
	}
	iov = mm_pin_iov(rw, &niov);
	for (unsigned i = 0, page = 0; i < niov; i++) {
		for (size_t off = 0; off < iov[i].iov_len; off += PAGE, page++) {
			volatile uint64_t *w = (volatile uint64_t *)((uint8_t *)iov[i].iov_base + off);
			uint64_t pg = first + page;
			uint32_t s = d->done[pg] + 1;

			if (w[0] != (d->done[pg] ? enc(WHO_DEV, pg, d->done[pg]) : enc(WHO_P, pg, 0)))
				report("device gfn %llu lost its last write: %#llx",
				       (unsigned long long)pg, (unsigned long long)w[0]);
			__atomic_store_n(&d->started[pg], s, __ATOMIC_RELEASE);
			w[WORDS_PER_PAGE - 1] = enc(WHO_DEV, pg, s);
			w[0] = enc(WHO_DEV, pg, s);
			__atomic_store_n(&d->done[pg], s, __ATOMIC_RELEASE);
		}
	}
	/* The guest sees the device's writes: one page for both. */
	for (uint64_t pg = first; pg < first + 8; pg++)
		if (*word0(r->p, pg) != enc(WHO_DEV, pg, d->done[pg]))
			report("guest does not see the device's write at gfn %llu",
			       (unsigned long long)pg);

	/* A R/O pin of a page the guest is writing: the device reads the guest's page. */
	struct writer *w = owner(r, g);
	uint32_t lo = (uint32_t)ld(&w->done[g]);

	if (mm_pin(r->p, g * PAGE, PAGE, MM_PIN_LONGTERM, &ro)) {
		report("R/O pin failed");
	} else {
		uint64_t v = *(volatile uint64_t *)mm_pin_iov(ro, &niov)[0].iov_base;
		uint32_t hi = (uint32_t)ld(&w->started[g]), seq = (uint32_t)(v & 0xffffff);

		if (v >> 24 != enc(WHO_P, g, 0) >> 24 || seq < lo || seq > hi)
			report("R/O pin of gfn %llu reads %#llx, want seq in [%u, %u]",
			       (unsigned long long)g, (unsigned long long)v, lo, hi);
		mm_unpin(ro);
	}
	mm_unpin(rw);
}

static void *device_loop(void *arg)
{
	struct device *d = arg;
	uint32_t x = 2463534242u;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE) && !nerrors) {
		device_round(d, &x);
		d->rounds++;
	}
	return NULL;
}

/* A clone made while the device works: its device pages are fixed from then on. */
struct pin_clone {
	struct mm_space *s;
	uint64_t cp[NP];
};

static void pin_clone_take(struct race *r, struct device *d, struct pin_clone *c)
{
	uint32_t dlo[NP], dhi[NP], lo[512], hi[512];

	for (uint64_t g = 0; g < 512; g++)
		lo[g] = (uint32_t)ld(&owner(r, g)->done[g]);
	for (uint64_t g = DZ_LO; g < DZ_HI; g++)
		dlo[g] = (uint32_t)ld(&d->done[g]);
	assert_int_equal(mm_space_clone(r->p, 0, &c->s), 0);
	for (uint64_t g = 0; g < 512; g++)
		hi[g] = (uint32_t)ld(&owner(r, g)->started[g]);
	for (uint64_t g = DZ_LO; g < DZ_HI; g++)
		dhi[g] = (uint32_t)ld(&d->started[g]);
	for (uint64_t g = 0; g < DZ_HI; g++) {
		uint64_t v = *word0(c->s, g);
		uint32_t seq = (uint32_t)(v & 0xffffff), who = g < 512 ? WHO_P : WHO_DEV;
		uint32_t l = g < 512 ? lo[g] : dlo[g], h = g < 512 ? hi[g] : dhi[g];

		c->cp[g] = v;
		if (seq == 0 && v == enc(WHO_P, g, 0))
			who = WHO_P; /* never written since the start */
		if (v >> 24 != enc(who, g, 0) >> 24 || seq < l || seq > h)
			report("pin clone gfn %llu: %#llx, want seq in [%u, %u]",
			       (unsigned long long)g, (unsigned long long)v, l, h);
	}
}

/* Nothing the parent's writers or the device did later reached the clone. */
static void pin_clone_drop(struct pin_clone *c)
{
	for (uint64_t g = 0; g < DZ_HI; g++)
		if (*word0(c->s, g) != c->cp[g])
			report("pin clone gfn %llu changed to %#llx after the clone point",
			       (unsigned long long)g, (unsigned long long)*word0(c->s, g));
	assert_int_equal(mm_space_destroy(c->s), 0);
	c->s = NULL;
}

static void test_race_pins(void **state)
{
	struct race *r = *state;
	struct device *d = calloc(1, sizeof(*d));
	struct pin_clone *c = calloc(2, sizeof(*c));
	unsigned n = 0;
	uint32_t tag = 1;

	assert_non_null(d);
	assert_non_null(c);
	race_init(r, 6);
	d->r = r;
	writer_start(&r->pw[0]);
	writer_start(&r->pw[1]);
	assert_int_equal(pthread_create(&d->thread, NULL, device_loop, d), 0);
	while (time_left(r) && !nerrors) {
		struct pin_clone *pc = &c[n % 2];

		if (pc->s)
			pin_clone_drop(pc);
		pin_clone_take(r, d, pc);
		/* Discard races with everything else; its pages are the controller's. */
		for (uint64_t g = DISC_LO; g < DISC_HI; g++)
			*word0(r->p, g) = enc(WHO_P, g, tag);
		assert_int_equal(mm_space_discard(r->p, DISC_LO * PAGE, (DISC_HI - DISC_LO) * PAGE),
				 0);
		for (uint64_t g = DISC_LO; g < DISC_HI; g++)
			if (*word0(r->p, g) != 0)
				report("discarded gfn %llu reads %#llx", (unsigned long long)g,
				       (unsigned long long)*word0(r->p, g));
		tag++;
		n++;
	}
	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	if (join_timeout(d->thread, 60))
		fail_msg("device thread hung");
	writer_stop(&r->pw[0]);
	writer_stop(&r->pw[1]);
	for (unsigned i = 0; i < 2; i++)
		if (c[i].s)
			pin_clone_drop(&c[i]);
	writer_check_final(&r->pw[0]);
	writer_check_final(&r->pw[1]);
	for (uint64_t g = DZ_LO; g < DZ_HI; g++)
		if (d->done[g] && *word0(r->p, g) != enc(WHO_DEV, g, d->done[g]))
			report("guest lost the device's last write at gfn %llu",
			       (unsigned long long)g);
	fprintf(stderr, "# %u clones, %llu device rounds\n", n, (unsigned long long)d->rounds);
	assert_true(d->rounds > 0);
	free(c);
	free(d);
	race_finish(r);
}

/* ---- 3: reset and discard of a clone against its writer ---- */

#define RZ_HI 256  /* [0, 256): reset only */
#define DZ3_HI 320 /* [256, 320): reset and discard */

struct event {
	uint32_t db, sa; /* writer's done before, started after */
	bool zero;	 /* a discard (restores 0) or a reset (restores the clone point) */
	bool any;
};

static void record_events(struct writer *w, struct event *ev, uint64_t lo, uint64_t hi,
			  const uint32_t *db, bool zero)
{
	for (uint64_t g = lo; g < hi; g++)
		ev[g] = (struct event){.db = db[g], .sa = (uint32_t)ld(&w->started[g]),
				       .zero = zero, .any = true};
}

/* One word after the writer stopped, given the last reset/discard of its page. */
static bool word_ok(uint64_t v, const struct writer *w, uint64_t g, const struct event *e)
{
	uint32_t last = w->done[g];
	uint64_t lastv = last ? enc(w->who, g, last) : w->initial[g];
	uint64_t restored = e->zero ? 0 : w->restore[g];

	if (!e->any || last > e->sa)
		return v == lastv; /* written after the last reset/discard returned */
	if (last > e->db)
		return v == lastv || v == restored; /* overlapped it */
	return v == restored;
}

static void test_race_reset_discard(void **state)
{
	struct race *r = *state;
	struct writer *cw = calloc(1, sizeof(*cw));
	struct event *ev = calloc(NP, sizeof(*ev));
	uint16_t pages[DZ3_HI];
	uint32_t db[NP], x = 88172645u;
	struct mm_space *c = NULL;
	uint64_t resets = 0, discards = 0;
	static uint64_t cp[NP];

	assert_non_null(cw);
	assert_non_null(ev);
	race_init(r, 6);
	assert_int_equal(mm_space_clone(r->p, MM_CLONE_RESETTABLE, &c), 0);
	for (uint64_t g = 0; g < NP; g++)
		cp[g] = enc(WHO_P, g, 0);
	cw->s = c;
	cw->who = WHO_CHILD;
	cw->npages = page_set(pages, 0, DZ3_HI, 1, 0);
	cw->pages = pages;
	memcpy(cw->initial, cp, sizeof(cp));
	cw->restore = cp;
	cw->zero_lo = RZ_HI;
	cw->zero_hi = DZ3_HI;
	/* The parent writes the same pages meanwhile: same frames, other space. */
	writer_start(&r->pw[0]);
	writer_start(&r->pw[1]);
	writer_start(cw);
	while (time_left(r) && !nerrors) {
		uint64_t w0 = __atomic_load_n(&cw->writes, __ATOMIC_ACQUIRE);

		/* Let the writer dirty pages first: wait for writes, not for time. */
		while (__atomic_load_n(&cw->writes, __ATOMIC_ACQUIRE) < w0 + 300 && time_left(r))
			sched_yield();
		for (uint64_t g = 0; g < DZ3_HI; g++)
			db[g] = (uint32_t)ld(&cw->done[g]);
		if (xorshift(&x) % 3) {
			assert_int_equal(mm_space_reset(c, 0, NULL), 0);
			record_events(cw, ev, 0, DZ3_HI, db, false);
			resets++;
		} else {
			uint64_t g = RZ_HI + xorshift(&x) % (DZ3_HI - RZ_HI - 8);

			assert_int_equal(mm_space_discard(c, g * PAGE, 8 * PAGE), 0);
			record_events(cw, ev, g, g + 8, db, true);
			discards++;
		}
	}
	writer_stop(cw);
	writer_stop(&r->pw[0]);
	writer_stop(&r->pw[1]);
	for (uint64_t g = 0; g < DZ3_HI; g++) {
		if (!word_ok(*word0(c, g), cw, g, &ev[g]) || !word_ok(*wordl(c, g), cw, g, &ev[g]))
			report("clone gfn %llu: %#llx/%#llx; last write seq %u, last %s: done "
			       "before %u, started after %u",
			       (unsigned long long)g, (unsigned long long)*word0(c, g),
			       (unsigned long long)*wordl(c, g), cw->done[g],
			       ev[g].zero ? "discard" : "reset", ev[g].db, ev[g].sa);
	}
	writer_check_final(&r->pw[0]);
	writer_check_final(&r->pw[1]);
	/* A final reset: exactly the clone point everywhere. */
	assert_int_equal(mm_space_reset(c, 0, NULL), 0);
	for (uint64_t g = 0; g < NP; g++)
		if (*word0(c, g) != cp[g] || *wordl(c, g) != cp[g])
			report("after the final reset gfn %llu reads %#llx", (unsigned long long)g,
			       (unsigned long long)*word0(c, g));
	fprintf(stderr, "# %llu resets, %llu discards, %llu clone writes\n",
		(unsigned long long)resets, (unsigned long long)discards,
		(unsigned long long)cw->writes);
	assert_int_equal(mm_space_destroy(c), 0);
	free(ev);
	free(cw);
	race_finish(r);
}

/* ---- 4: three spaces fault the same shared frames at once ---- */

#define SHARED_NP 256

struct same_job {
	struct mm_space *s;
	uint32_t tag;
	pthread_barrier_t *bar;
};

static void *same_writer(void *arg)
{
	struct same_job *j = arg;

	pthread_barrier_wait(j->bar);
	for (uint64_t g = 0; g < SHARED_NP; g++)
		*word0(j->s, g) = enc(j->tag, g, 1);
	return NULL;
}

static void test_race_same_frame(void **state)
{
	struct race *r = *state;
	unsigned rounds = 0;

	race_init(r, 3);
	while (time_left(r) && !nerrors) {
		struct mm_space *sp[3] = {r->p};
		struct same_job j[3];
		pthread_barrier_t bar;
		pthread_t t[3];
		struct mm_stats a, b;

		assert_int_equal(mm_space_clone(r->p, 0, &sp[1]), 0);
		assert_int_equal(mm_space_clone(r->p, 0, &sp[2]), 0);
		mm_pool_stats(r->pool, &a);
		assert_int_equal(a.frames_in_use, NP); /* all shared by three */
		pthread_barrier_init(&bar, NULL, 3);
		for (int i = 0; i < 3; i++) {
			j[i] = (struct same_job){.s = sp[i], .tag = 100 + (uint32_t)i, .bar = &bar};
			assert_int_equal(pthread_create(&t[i], NULL, same_writer, &j[i]), 0);
		}
		for (int i = 0; i < 3; i++)
			if (join_timeout(t[i], 60))
				fail_msg("same-frame writer %d hung", i);
		pthread_barrier_destroy(&bar);
		mm_pool_stats(r->pool, &b);
		for (int i = 0; i < 3; i++)
			for (uint64_t g = 0; g < SHARED_NP; g++)
				if (*word0(sp[i], g) != enc(100 + (uint32_t)i, g, 1))
					report("space %d gfn %llu: %#llx", i, (unsigned long long)g,
					       (unsigned long long)*word0(sp[i], g));
		/* Per page: the first two writers copy, the last may reuse. */
		uint64_t copies = b.copies - a.copies, reuses = b.reuses - a.reuses;

		if (copies < 2 * SHARED_NP || copies + reuses != 3 * SHARED_NP ||
		    b.copies_around != a.copies_around || b.reuses_large != a.reuses_large)
			report("same frame: %llu copies, %llu reuses for 3 x %d shared pages",
			       (unsigned long long)copies, (unsigned long long)reuses, SHARED_NP);
		/* Refcounts exact: each space has its own page now, the old frames are gone. */
		if (b.frames_in_use != NP + 2 * SHARED_NP)
			report("frames_in_use %llu, want %d", (unsigned long long)b.frames_in_use,
			       NP + 2 * SHARED_NP);
		for (uint64_t g = 0; g < SHARED_NP; g++) {
			struct mm_page_info pi = page_info(sp[g % 3], g * PAGE);

			if (pi.refcount != 1 || pi.mapcount != 1)
				report("gfn %llu: refcount %u mapcount %u after the race",
				       (unsigned long long)g, pi.refcount, pi.mapcount);
		}
		assert_int_equal(mm_space_destroy(sp[1]), 0);
		assert_int_equal(mm_space_destroy(sp[2]), 0);
		mm_pool_stats(r->pool, &b);
		if (b.frames_in_use != NP)
			report("after destroying the clones: frames_in_use %llu, want %d",
			       (unsigned long long)b.frames_in_use, NP);
		rounds++;
	}
	fprintf(stderr, "# %u rounds\n", rounds);
	race_finish(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, race_setup, race_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_race_clone_destroy),
		T(test_race_pins),
		T(test_race_reset_discard),
		T(test_race_same_frame),
	};

	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
