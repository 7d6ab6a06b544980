// SPDX-License-Identifier: MIT
/*
 * test-vmas: guests that try to exhaust vm.max_map_count, suite "stress".
 *
 * Every break in the memfd-offset contiguity of a space's pages is a kernel
 * VMA. A guest writing one word every 17 pages after a clone made two per
 * write, and a few such clones drove the process to vm.max_map_count (65530):
 * every fault then failed with -ENOMEM, in every VM of the process. mm keeps
 * each space within MM_SPACE_VMAS mappings plus a pool-shared allowance
 * (mm.h). Here clones (host threads as guests) write adversarial patterns
 * (every 17th page up and down, every other page of a quarter, random pages)
 * while a monitor samples /proc/self/maps, and each test checks that:
 *   - no fault fails;
 *   - every space reads exactly what it should: its own writes, the clone
 *     point elsewhere; resets restore the clone point; a snapshot gets each
 *     page's contents at its start exactly once;
 *   - the mappings inside the pool's spaces, and the process's, never pass
 *     the bound computed from MM_SPACE_VMAS and the pool's allowance (an
 *     allowance the process's pools share);
 *   - a pinned page keeps its frame, and the device and the guest keep
 *     seeing each other's writes through it.
 */
#include <unistd.h>

#include "mm-test.h"

#define MIB (1ull << 20)
#define PTAG (0x1111ull << 48) /* the parent before the clone */
#define PTAG2 (0x2222ull << 48) /* the parent after the clone */
#define CTAG(i) ((0x3000ull + (i)) << 48)
#define WRITER_TIMEOUT_S 60
/*
 * Mappings the rest of the process may add during a test beyond its threads'
 * stacks: the sanitizers' runtimes map memory as threads start (TSan ~150).
 */
#define SLACK 256

enum pattern { STRIDE17, STRIDE17_DOWN, ALTERNATE, RANDOM, POPULATE };

struct writer {
	uint8_t *hva;
	uint64_t npages, tag;
	enum pattern pattern;
	uint64_t offset;
	uint64_t end; /* ALTERNATE: up to this page (the time a test may take) */
	uint8_t *written; /* per page: 1 once this writer wrote it */
	pthread_t thread;
};

static void write_page(struct writer *w, uint64_t g)
{
	if (w->written)
		w->written[g] = 1;
	*(volatile uint64_t *)(w->hva + g * PAGE) = w->tag | g;
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 0x9E3779B97F4A7C15ull ^ w->tag;

	switch (w->pattern) {
	case STRIDE17:
		for (uint64_t g = w->offset; g < w->npages; g += 17)
			write_page(w, g);
		break;
	case STRIDE17_DOWN:
		for (uint64_t g = w->npages - 1 - w->offset; g < w->npages; g -= 17)
			write_page(w, g);
		break;
	case ALTERNATE:
		for (uint64_t g = w->offset; g < w->end; g += 2)
			write_page(w, g);
		break;
	case RANDOM:
		for (uint64_t i = 0; i < w->npages / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			write_page(w, x % w->npages);
		}
		break;
	case POPULATE:
		for (uint64_t g = w->offset; g < w->npages; g++)
			write_page(w, g);
		break;
	}
	return NULL;
}

static void writer_start(struct writer *w, struct mm_space *s, enum pattern p, uint64_t offset,
			 uint64_t tag, uint8_t *written)
{
	*w = (struct writer){.hva = mm_space_hva(s), .npages = mm_space_size(s) / PAGE,
			     .tag = tag, .pattern = p, .offset = offset, .written = written};
	w->end = p == ALTERNATE ? w->npages / 4 : w->npages;
	assert_int_equal(pthread_create(&w->thread, NULL, writer_thread, w), 0);
}

static void writer_join(struct writer *w)
{
	if (join_timeout(w->thread, WRITER_TIMEOUT_S))
		fail_msg("a writer did not finish in %d s (a fault was never resolved)",
			 WRITER_TIMEOUT_S);
}

static void writers_run(struct writer *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		writer_join(&w[i]);
}

/* ---- the monitor: the highest mapping counts seen while the guests write ---- */

static uint64_t process_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	uint64_t n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

struct monitor {
	struct mm_pool *pool;
	pthread_t thread;
	volatile int stop;
	uint64_t max_pool, max_process, samples;
	int err;
};

static void monitor_sample(struct monitor *m)
{
	uint64_t pool = 0, process = 0;
	int err = mm_pool_count_maps(m->pool, &pool, &process);

	if (err)
		m->err = err;
	if (pool > m->max_pool)
		m->max_pool = pool;
	if (process > m->max_process)
		m->max_process = process;
	m->samples++;
}

static void *monitor_thread(void *arg)
{
	struct monitor *m = arg;

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		monitor_sample(m);
		usleep(2000); /* reading the maps holds the pool lock */
	}
	return NULL;
}

static void monitor_start(struct monitor *m, struct mm_pool *pool)
{
	*m = (struct monitor){.pool = pool};
	assert_int_equal(pthread_create(&m->thread, NULL, monitor_thread, m), 0);
}

/* Stop, take a last sample and check both maxima. */
static void monitor_check(struct monitor *m, uint64_t pool_bound, uint64_t process_bound)
{
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(m->thread, NULL), 0);
	monitor_sample(m);
	fprintf(stderr, "# mappings: pool max %llu (bound %llu), process max %llu (bound %llu), %llu samples\n",
		(unsigned long long)m->max_pool, (unsigned long long)pool_bound,
		(unsigned long long)m->max_process, (unsigned long long)process_bound,
		(unsigned long long)m->samples);
	assert_int_equal(m->err, 0);
	if (m->max_pool > pool_bound)
		fail_msg("the pool's spaces used %llu mappings, bound %llu",
			 (unsigned long long)m->max_pool, (unsigned long long)pool_bound);
	if (m->max_process > process_bound)
		fail_msg("the process had %llu mappings, bound %llu",
			 (unsigned long long)m->max_process, (unsigned long long)process_bound);
}

/* ---- checks ---- */

/* The pool's spaces use at most @bound mappings now. */
static void assert_maps_within(struct mm_pool *pool, uint64_t bound)
{
	uint64_t n = 0;

	assert_int_equal(mm_pool_count_maps(pool, &n, NULL), 0);
	if (n > bound)
		fail_msg("the pool's spaces use %llu mappings, bound %llu", (unsigned long long)n,
			 (unsigned long long)bound);
}

static uint64_t vmas_guest_word(struct mm_space *s, uint64_t g)
{
	return *(volatile uint64_t *)((uint8_t *)mm_space_hva(s) + g * PAGE);
}

/* Page g reads its writer's word where @written, else @base | g. */
static void assert_words(struct mm_space *s, const char *name, const uint8_t *written,
			 uint64_t tag, uint64_t base)
{
	uint64_t npages = mm_space_size(s) / PAGE;

	for (uint64_t g = 0; g < npages; g++) {
		uint64_t want = (written && written[g] ? tag : base) | g;

		if (vmas_guest_word(s, g) != want)
			fail_msg("%s: gfn %llu reads %#llx, want %#llx", name,
				 (unsigned long long)g, (unsigned long long)vmas_guest_word(s, g),
				 (unsigned long long)want);
	}
}

static struct mm_stats stats_of(struct mm_pool *pool)
{
	struct mm_stats st;

	mm_pool_stats(pool, &st);
	return st;
}

static struct mm_space *clone_of(struct mm_space *p, unsigned flags)
{
	struct mm_space *c = NULL;
	int err = mm_space_clone(p, flags, &c);

	if (err)
		fail_msg("mm_space_clone: %s", strerror(-err));
	return c;
}

static struct mm_pin *pin_of(struct mm_space *s, uint64_t gfn, uint64_t n)
{
	struct mm_pin *pin = NULL;
	int err = mm_pin(s, gfn * PAGE, n * PAGE, MM_PIN_WRITE | MM_PIN_LONGTERM, &pin);

	if (err)
		fail_msg("mm_pin: %s", strerror(-err));
	return pin;
}

/* The pin's first page is still frame @pfn, and device and guest see each other. */
static void assert_pin_coherent(struct mm_space *s, struct mm_pin *pin, uint64_t gfn,
				uint64_t pfn, uint64_t want_word, uint32_t tag)
{
	unsigned niov;
	const struct iovec *iov = mm_pin_iov(pin, &niov);
	struct guest_job j = {.op = GUEST_WORD, .p = gpa_ptr(s, gfn * PAGE), .len = PAGE,
			      .word = 0x5a5a0000ull | gfn};

	assert_int_equal(page_info(s, gfn * PAGE).pfn, pfn);
	assert_true(page_info(s, gfn * PAGE).exclusive);
	/* The device reads what the guest wrote before, then overwrites it. */
	assert_int_equal(*(volatile uint64_t *)iov[0].iov_base, want_word);
	device_fill(pin, tag);
	assert_guest_tag(s, gfn * PAGE, tag);
	/* The guest writes; the device sees it. */
	guest_run(&j, "write a pinned page");
	assert_int_equal(*(volatile uint64_t *)iov[0].iov_base, j.word);
	assert_int_equal(page_info(s, gfn * PAGE).pfn, pfn);
}

static struct mm_pool *pool_with_extra(uint64_t extra)
{
	struct mm_pool_config cfg = {.vma_extra = extra};
	struct mm_pool *pool = NULL;

	test_pool_create(&cfg, &pool);
	return pool;
}

static struct mm_space *space_of_size(struct mm_pool *pool, uint64_t size)
{
	struct mm_space *s = NULL;
	int err = mm_space_create(pool, size, &s);

	if (err)
		fail_msg("mm_space_create: %s", strerror(-err));
	return s;
}

/* ---- the attack ---- */

#define NCLONES 4

/*
 * A parent of @size holding pinned pages, four clones and a resettable one
 * writing every 17th page up and down, every other page (of the first
 * quarter) and random pages, the parent writing every 17th page too, all at
 * once. @extra: the pool's
 * shared allowance (MM_VMA_EXTRA_NONE: each space alone within
 * MM_SPACE_VMAS).
 */
static void attack(uint64_t size, uint64_t extra)
{
	const uint64_t npages = size / PAGE, pin2 = npages / 8 * 5; /* not 5 mod 17 */
	static const enum pattern patterns[NCLONES] = {STRIDE17, STRIDE17_DOWN, ALTERNATE,
						       RANDOM};
	struct mm_pool *pool = pool_with_extra(extra);
	struct mm_space *p = space_of_size(pool, size), *c[NCLONES], *r;
	uint8_t *written[NCLONES + 2];
	struct writer w[NCLONES + 2], pop;
	struct mm_pin *ppin, *ppin2, *cpin;
	uint64_t ppfn, ppfn2, cpfn, lines0, nspaces = NCLONES + 2;
	struct monitor m;
	struct mm_stats st;

	for (unsigned i = 0; i < NCLONES + 2; i++) {
		written[i] = calloc(npages, 1);
		assert_non_null(written[i]);
	}
	writer_start(&pop, p, POPULATE, 0, PTAG, NULL);
	writer_join(&pop);
	/* Pinned before the clones: the parent's frames, never moved or unshared. */
	ppin = pin_of(p, 1000, 2);
	ppin2 = pin_of(p, pin2, 1);
	ppfn = page_info(p, 1000 * PAGE).pfn;
	ppfn2 = page_info(p, pin2 * PAGE).pfn;
	lines0 = process_maps();
	monitor_start(&m, pool);
	for (unsigned i = 0; i < NCLONES; i++)
		c[i] = clone_of(p, 0);
	r = clone_of(p, MM_CLONE_RESETTABLE);
	/* A clone's page pinned before its guest writes all around it. */
	cpin = pin_of(c[2], 3000, 1);
	cpfn = page_info(c[2], 3000 * PAGE).pfn;
	for (unsigned i = 0; i < NCLONES; i++)
		writer_start(&w[i], c[i], patterns[i], i, CTAG(i), written[i]);
	writer_start(&w[NCLONES], p, STRIDE17, 5, PTAG2, written[NCLONES]);
	writer_start(&w[NCLONES + 1], r, STRIDE17, 3, CTAG(9), written[NCLONES + 1]);
	writers_run(w, NCLONES + 2);
	/* The resettable clone: reset, another pattern, reset again. */
	uint64_t restored = 0;

	assert_int_equal(mm_space_reset(r, 0, &restored), 0);
	assert_true(restored >= npages / 17);
	assert_words(r, "resettable clone after a reset", NULL, 0, PTAG);
	memset(written[NCLONES + 1], 0, npages);
	writer_start(&w[NCLONES + 1], r, STRIDE17_DOWN, 1, CTAG(10), written[NCLONES + 1]);
	writers_run(&w[NCLONES + 1], 1);
	assert_words(r, "resettable clone", written[NCLONES + 1], CTAG(10), PTAG);
	assert_int_equal(mm_space_reset(r, 0, NULL), 0);
	assert_words(r, "resettable clone after the second reset", NULL, 0, PTAG);

	/* Two per pinned frame outside its home (1000-1001, pin2, 3000). */
	uint64_t pool_bound = nspaces * MM_SPACE_VMAS + 2 * 4 +
			      (extra == MM_VMA_EXTRA_NONE ? 0 : extra);
	/* The writer and monitor threads: a stack and its guard each. */
	monitor_check(&m, pool_bound, lines0 + pool_bound + 2 * (nspaces + 1) + SLACK);

	st = stats_of(pool);
	fprintf(stderr, "# faults %llu copies %llu compactions %llu compact_copies %llu\n",
		(unsigned long long)st.faults, (unsigned long long)st.copies,
		(unsigned long long)st.compactions, (unsigned long long)st.compact_copies);
	assert_int_equal(st.fault_errors, 0);
	assert_true(st.compactions > 0); /* the patterns did push past the budget */
	for (unsigned i = 0; i < NCLONES; i++)
		assert_words(c[i], "clone", written[i], CTAG(i), PTAG);
	assert_words(p, "parent", written[NCLONES], PTAG2, PTAG);

	assert_pin_coherent(p, ppin, 1000, ppfn, PTAG | 1000, 0x77);
	assert_pin_coherent(p, ppin2, pin2, ppfn2, PTAG | pin2, 0x78);
	assert_pin_coherent(c[2], cpin, 3000, cpfn, CTAG(2) | 3000, 0x79);
	mm_unpin(ppin);
	mm_unpin(ppin2);
	mm_unpin(cpin);
	assert_int_equal(mm_space_destroy(r), 0);
	for (unsigned i = 0; i < NCLONES; i++)
		assert_int_equal(mm_space_destroy(c[i]), 0);
	assert_int_equal(mm_space_destroy(p), 0);
	assert_pool_empty(pool);
	assert_int_equal(mm_pool_destroy(pool), 0);
	for (unsigned i = 0; i < NCLONES + 2; i++)
		free(written[i]);
}

/* Each space alone: MM_SPACE_VMAS mappings at most (and its pinned frames). */
static void test_attack_strict(void **state)
{
	(void)state;
	attack(256 * MIB, MM_VMA_EXTRA_NONE);
}

/* A shared allowance the clones exhaust between them. */
static void test_attack_shared(void **state)
{
	(void)state;
	attack(128 * MIB, 1500);
}

/* ---- a snapshot pending on the pages a compaction moves ---- */

struct snap_rec {
	uint32_t calls[16384];
	uint64_t word[16384];
};

static void on_snapshot(void *arg, uint64_t gfn, const void *old)
{
	struct snap_rec *r = arg;

	r->word[gfn] = old ? *(const uint64_t *)old : 0;
	__atomic_fetch_add(&r->calls[gfn], 1, __ATOMIC_RELEASE);
}

static void test_attack_snapshot(void **state)
{
	const uint64_t size = 64 * MIB, npages = size / PAGE;
	struct mm_pool *pool = pool_with_extra(MM_VMA_EXTRA_NONE);
	struct mm_space *p = space_of_size(pool, size), *c;
	struct snap_rec *rec = calloc(1, sizeof(*rec));
	uint8_t *written = calloc(npages, 1);
	struct writer w;
	struct monitor m;
	uint64_t lines0;

	(void)state;
	assert_non_null(rec);
	assert_non_null(written);
	assert_true(npages <= 16384);
	writer_start(&w, p, POPULATE, 0, PTAG, NULL);
	writer_join(&w);
	c = clone_of(p, 0);
	lines0 = process_maps();
	monitor_start(&m, pool);
	assert_int_equal(mm_space_snapshot_begin(p, on_snapshot, rec), 0);
	writer_start(&w, p, STRIDE17, 2, PTAG2, written);
	writer_join(&w);
	writer_start(&w, p, RANDOM, 0, PTAG2, written);
	writer_join(&w);
	monitor_check(&m, 2 * MM_SPACE_VMAS, lines0 + 2 * MM_SPACE_VMAS + 4 + SLACK);
	/* Every page handed over once, with its contents at the snapshot's start. */
	assert_int_equal(mm_space_snapshot_range(p, 0, npages, NULL), 0);
	assert_int_equal(mm_space_snapshot_end(p), 0);
	for (uint64_t g = 0; g < npages; g++) {
		if (SEEN(rec->calls[g]) != 1 || rec->word[g] != (PTAG | g))
			fail_msg("gfn %llu: snapshot got %u calls, word %#llx",
				 (unsigned long long)g, SEEN(rec->calls[g]),
				 (unsigned long long)rec->word[g]);
	}
	assert_true(stats_of(pool).compactions > 0);
	assert_int_equal(stats_of(pool).fault_errors, 0);
	assert_words(p, "parent", written, PTAG2, PTAG);
	assert_words(c, "clone", NULL, 0, PTAG);
	assert_int_equal(mm_space_destroy(c), 0);
	assert_int_equal(mm_space_destroy(p), 0);
	assert_pool_empty(pool);
	assert_int_equal(mm_pool_destroy(pool), 0);
	free(rec);
	free(written);
}

/* ---- clones of a guest whose pages and holes alternate ---- */

static void test_alternating_holes(void **state)
{
	const uint64_t size = 64 * MIB, npages = size / PAGE;
	struct mm_pool *pool = pool_with_extra(MM_VMA_EXTRA_NONE);
	struct mm_space *p = space_of_size(pool, size), *c1, *c2, *gc;
	uint8_t *pw = calloc(npages, 1), *cw = calloc(npages, 1);
	struct writer w;
	struct monitor m;
	uint64_t lines0;

	(void)state;
	assert_non_null(pw);
	assert_non_null(cw);
	/* Discarded, not just unwritten: shmem may back unwritten pages with a huge page. */
	writer_start(&w, p, POPULATE, 0, PTAG, pw);
	writer_join(&w);
	for (uint64_t g = 1; g < npages; g += 2) {
		assert_int_equal(mm_space_discard(p, g * PAGE, PAGE), 0);
		pw[g] = 0;
	}
	lines0 = process_maps();
	monitor_start(&m, pool);
	c1 = clone_of(p, 0);
	assert_maps_within(pool, 2 * MM_SPACE_VMAS);
	c2 = clone_of(p, MM_CLONE_RESETTABLE);
	assert_maps_within(pool, 3 * MM_SPACE_VMAS);
	gc = clone_of(c1, 0);
	assert_maps_within(pool, 4 * MM_SPACE_VMAS);
	/* Holes read zero everywhere; the guests write into them. */
	for (uint64_t g = 0; g < npages; g++)
		if (vmas_guest_word(gc, g) != (pw[g] ? PTAG | g : 0) || vmas_guest_word(c2, g) != (pw[g] ? PTAG | g : 0))
			fail_msg("gfn %llu: clones read %#llx / %#llx", (unsigned long long)g,
				 (unsigned long long)vmas_guest_word(gc, g), (unsigned long long)vmas_guest_word(c2, g));
	writer_start(&w, c1, STRIDE17, 1, CTAG(1), cw);
	writer_join(&w);
	monitor_check(&m, 4 * MM_SPACE_VMAS, lines0 + 4 * MM_SPACE_VMAS + 4 + SLACK);
	assert_int_equal(stats_of(pool).fault_errors, 0);
	for (uint64_t g = 0; g < npages; g++) {
		uint64_t base = pw[g] ? PTAG | g : 0;

		if (vmas_guest_word(p, g) != base || vmas_guest_word(gc, g) != base || vmas_guest_word(c2, g) != base ||
		    vmas_guest_word(c1, g) != (cw[g] ? CTAG(1) | g : base))
			fail_msg("gfn %llu: parent %#llx clone %#llx", (unsigned long long)g,
				 (unsigned long long)vmas_guest_word(p, g), (unsigned long long)vmas_guest_word(c1, g));
	}
	assert_int_equal(mm_space_destroy(gc), 0);
	assert_int_equal(mm_space_destroy(c2), 0);
	assert_int_equal(mm_space_destroy(c1), 0);
	assert_int_equal(mm_space_destroy(p), 0);
	assert_pool_empty(pool);
	assert_int_equal(mm_pool_destroy(pool), 0);
	free(pw);
	free(cw);
}

/* ---- resets whose unshares need compacting ---- */

static uint64_t space_compactions(struct mm_space *s)
{
	struct mm_stats st;

	mm_space_stats(s, &st);
	return st.compactions;
}

/*
 * Resettable clones write every 17th page, are cloned (their written frames
 * are shared then), and reset: every restored page needs a new frame, and
 * the reset compacts between them. Both mm_space_reset and
 * mm_space_reset_tracked; the clones of the clones keep what was written.
 */
static void test_reset_after_clone(void **state)
{
	const uint64_t size = 64 * MIB, npages = size / PAGE;
	struct mm_pool *pool = pool_with_extra(MM_VMA_EXTRA_NONE);
	struct mm_space *p = space_of_size(pool, size), *r, *rc, *t, *tc;
	uint8_t *rw = calloc(npages, 1), *tw = calloc(npages, 1);
	uint64_t *dirty = calloc((npages + 63) / 64, sizeof(*dirty)), before, lines0;
	struct writer w[2];
	struct monitor m;

	(void)state;
	assert_non_null(rw);
	assert_non_null(tw);
	assert_non_null(dirty);
	writer_start(&w[0], p, POPULATE, 0, PTAG, NULL);
	writer_join(&w[0]);
	lines0 = process_maps();
	monitor_start(&m, pool);
	r = clone_of(p, MM_CLONE_RESETTABLE);
	t = clone_of(p, MM_CLONE_RESETTABLE);
	writer_start(&w[0], r, STRIDE17, 0, CTAG(1), rw);
	writer_start(&w[1], t, STRIDE17_DOWN, 3, CTAG(2), tw);
	writers_run(w, 2);
	rc = clone_of(r, 0);
	tc = clone_of(t, 0);

	before = space_compactions(r);
	assert_int_equal(mm_space_reset(r, 0, NULL), 0);
	assert_true(space_compactions(r) > before);
	assert_words(r, "reset clone", NULL, 0, PTAG);
	assert_words(rc, "clone of the reset clone", rw, CTAG(1), PTAG);
	/* It keeps resetting: another pattern, another reset. */
	memset(rw, 0, npages);
	writer_start(&w[0], r, ALTERNATE, 1, CTAG(3), rw);
	writers_run(w, 1);
	assert_words(r, "reset clone", rw, CTAG(3), PTAG);
	assert_int_equal(mm_space_reset(r, 0, NULL), 0);
	assert_words(r, "reset clone, again", NULL, 0, PTAG);

	for (uint64_t g = 0; g < npages; g++)
		if (tw[g])
			dirty[g / 64] |= 1ull << (g % 64);
	before = space_compactions(t);
	assert_int_equal(mm_space_reset_tracked(t, dirty, 0, NULL), 0);
	assert_true(space_compactions(t) > before);
	assert_words(t, "tracked reset clone", NULL, 0, PTAG);
	assert_words(tc, "clone of the tracked reset clone", tw, CTAG(2), PTAG);
	monitor_check(&m, 5 * MM_SPACE_VMAS, lines0 + 5 * MM_SPACE_VMAS + 6 + SLACK);
	assert_int_equal(stats_of(pool).fault_errors, 0);
	assert_words(p, "parent", NULL, 0, PTAG);

	assert_int_equal(mm_space_destroy(tc), 0);
	assert_int_equal(mm_space_destroy(rc), 0);
	assert_int_equal(mm_space_destroy(t), 0);
	assert_int_equal(mm_space_destroy(r), 0);
	assert_int_equal(mm_space_destroy(p), 0);
	assert_pool_empty(pool);
	assert_int_equal(mm_pool_destroy(pool), 0);
	free(rw);
	free(tw);
	free(dirty);
}

/* ---- the allowance is the process's, not each pool's ---- */

/*
 * Two pools, each allowing 1000 mappings beyond MM_SPACE_VMAS a space, each
 * with a clone writing every 17th page (7700 mappings each without
 * compaction): together they stay within 1000 beyond MM_SPACE_VMAS each.
 */
static void test_allowance_per_process(void **state)
{
	const uint64_t size = 64 * MIB, npages = size / PAGE, extra = 1000;
	struct mm_pool *pool[2];
	struct mm_space *p[2], *c[2];
	uint8_t *written[2];
	struct writer w[2];
	uint64_t total = 0;

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		pool[i] = pool_with_extra(extra);
		p[i] = space_of_size(pool[i], size);
		written[i] = calloc(npages, 1);
		assert_non_null(written[i]);
		writer_start(&w[i], p[i], POPULATE, 0, PTAG, NULL);
		writer_join(&w[i]);
		c[i] = clone_of(p[i], 0);
	}
	writer_start(&w[0], c[0], STRIDE17, 0, CTAG(0), written[0]);
	writer_start(&w[1], c[1], STRIDE17_DOWN, 0, CTAG(1), written[1]);
	writers_run(w, 2);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t n = 0;

		assert_int_equal(mm_pool_count_maps(pool[i], &n, NULL), 0);
		total += n;
		assert_int_equal(stats_of(pool[i]).fault_errors, 0);
		assert_words(c[i], "clone", written[i], CTAG(i), PTAG);
		assert_words(p[i], "parent", NULL, 0, PTAG);
	}
	fprintf(stderr, "# two pools: %llu mappings (bound %llu)\n", (unsigned long long)total,
		(unsigned long long)(4 * MM_SPACE_VMAS + extra));
	assert_true(total <= 4 * MM_SPACE_VMAS + extra);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(mm_space_destroy(c[i]), 0);
		assert_int_equal(mm_space_destroy(p[i]), 0);
		assert_pool_empty(pool[i]);
		assert_int_equal(mm_pool_destroy(pool[i]), 0);
		free(written[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attack_strict),
		cmocka_unit_test(test_attack_shared),
		cmocka_unit_test(test_attack_snapshot),
		cmocka_unit_test(test_alternating_holes),
		cmocka_unit_test(test_reset_after_clone),
		cmocka_unit_test(test_allowance_per_process),
	};

	return cmocka_run_group_tests_name("vmas", tests, NULL, NULL);
}
