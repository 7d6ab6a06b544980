/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the mm tests.
 *
 * The guest is a host thread writing through mm_space_hva(); the device is a
 * host thread reading and writing through a pin's iovecs. Writes into a
 * write-protected page sleep until mm's fault thread resolves them, so every
 * guest write here runs in its own thread and is joined with a timeout: a
 * write that never completes fails the test loudly instead of hanging it.
 *
 * cmocka's assertions longjmp into the test's main thread, so helper threads
 * never assert: they report, and the main thread asserts.
 */
#ifndef TESTS_MM_TEST_H
#define TESTS_MM_TEST_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mm.h"

/* A value a snapshot hook wrote on mm's fault thread (see the hooks). */
#define SEEN(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

#define PAGE MM_PAGE_SIZE
#define WORDS_PER_PAGE (MM_PAGE_SIZE / sizeof(uint64_t))
#define GUEST_TIMEOUT_S 20

/* A page's contents are named by a tag; tag 0 is the zero page. */
static inline uint64_t tag_word(uint32_t tag, size_t i)
{
	return tag ? ((uint64_t)tag << 32) | (uint64_t)(i * 2654435761u & 0xffffffffu) : 0;
}

static inline void fill_tag(void *p, uint32_t tag)
{
	uint64_t *w = p;

	for (size_t i = 0; i < WORDS_PER_PAGE; i++)
		w[i] = tag_word(tag, i);
}

/* Returns the tag the page holds (its first word), or -1 if it is not uniform. */
static inline int64_t page_tag(const void *p)
{
	const volatile uint64_t *w = p;
	uint32_t tag = (uint32_t)(w[0] >> 32);

	for (size_t i = 0; i < WORDS_PER_PAGE; i++)
		if (w[i] != tag_word(tag, i))
			return -1;
	return tag;
}

static inline void *gpa_ptr(struct mm_space *s, uint64_t gpa)
{
	return (uint8_t *)mm_space_hva(s) + gpa;
}

/* Assert that the guest of @s reads page @gpa as @tag. */
#define assert_guest_tag(s, gpa, tag)                                                      \
	do {                                                                               \
		int64_t __t = page_tag(gpa_ptr((s), (gpa)));                               \
		if (__t != (int64_t)(tag))                                                 \
			fail_msg("%s: guest %s reads gpa %#llx as tag %#llx, want %#llx",  \
				 __func__, #s, (unsigned long long)(gpa), (long long)__t,  \
				 (unsigned long long)(tag));                               \
	} while (0)

/* ---- pool creation with a loud skip when userfaultfd is unavailable ---- */

static inline int test_pool_create(const struct mm_pool_config *cfg, struct mm_pool **ret)
{
	int err = mm_pool_create(cfg, ret);

	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP) {
		fprintf(stderr,
			"\n*** SKIP: mm_pool_create failed with %s: userfaultfd (write-protect "
			"on shmem) is unavailable here (check vm.unprivileged_userfaultfd, "
			"/dev/userfaultfd, kernel >= 5.19) ***\n\n",
			strerror(-err));
		skip();
	}
	if (err)
		fail_msg("mm_pool_create: %s", strerror(-err));
	return err;
}

/* Everything destroyed: the pool must hold no frame and the memfd no memory. */
static inline void assert_pool_empty(struct mm_pool *pool)
{
	struct mm_stats st;

	mm_pool_stats(pool, &st);
	if (st.frames_in_use || st.host_bytes || st.pinned_pages)
		fail_msg("leak: frames_in_use %llu host_bytes %llu pinned_pages %llu after "
			 "destroying every space",
			 (unsigned long long)st.frames_in_use,
			 (unsigned long long)st.host_bytes,
			 (unsigned long long)st.pinned_pages);
}

/* ---- guest threads ---- */

enum guest_op { GUEST_FILL, GUEST_FILL_SEQ, GUEST_WORD };

struct guest_job {
	enum guest_op op;
	uint8_t *p;
	uint64_t len;
	uint32_t tag;
	uint64_t word;
	volatile int done;
};

static inline void *guest_thread(void *arg)
{
	struct guest_job *j = arg;

	switch (j->op) {
	case GUEST_FILL:
		for (uint64_t off = 0; off < j->len; off += PAGE)
			fill_tag(j->p + off, j->tag);
		break;
	case GUEST_FILL_SEQ:
		for (uint64_t off = 0; off < j->len; off += PAGE)
			fill_tag(j->p + off, j->tag + (uint32_t)(off / PAGE));
		break;
	case GUEST_WORD:
		for (uint64_t off = 0; off < j->len; off += PAGE)
			*(volatile uint64_t *)(j->p + off) = j->word;
		break;
	}
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static inline int join_timeout(pthread_t t, int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	return pthread_timedjoin_np(t, NULL, &ts);
}

static inline void guest_run(struct guest_job *j, const char *what)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, guest_thread, j), 0);
	if (join_timeout(t, GUEST_TIMEOUT_S))
		fail_msg("guest thread hung for %d s: %s (a write fault was never resolved)",
			 GUEST_TIMEOUT_S, what);
}

/* The guest of @s fills @npages pages at @gpa with @tag. */
static inline void guest_fill(struct mm_space *s, uint64_t gpa, uint64_t npages, uint32_t tag)
{
	struct guest_job j = {.op = GUEST_FILL, .p = gpa_ptr(s, gpa), .len = npages * PAGE,
			      .tag = tag};
	char what[96];

	snprintf(what, sizeof(what), "fill gpa %#llx x%llu", (unsigned long long)gpa,
		 (unsigned long long)npages);
	guest_run(&j, what);
}

/* The guest of @s fills page i of the @npages at @gpa with tag @base + i. */
static inline void guest_fill_seq(struct mm_space *s, uint64_t gpa, uint64_t npages,
				  uint32_t base)
{
	struct guest_job j = {.op = GUEST_FILL_SEQ, .p = gpa_ptr(s, gpa), .len = npages * PAGE,
			      .tag = base};

	guest_run(&j, "fill_seq");
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the device: a host thread using a pin's iovecs ---- */

struct device_job {
	const struct mm_pin *pin;
	uint32_t tag;
	bool write;
	int64_t seen; /* tag read through the iovecs (-1: not uniform or mixed) */
};

static inline void *device_thread(void *arg)
{
	struct device_job *j = arg;
	unsigned niov;
	const struct iovec *iov = mm_pin_iov(j->pin, &niov);

	j->seen = -2;
	for (unsigned i = 0; i < niov; i++) {
		uint8_t *base = iov[i].iov_base;

		for (size_t off = 0; off + PAGE <= iov[i].iov_len; off += PAGE) {
			if (j->write) {
				fill_tag(base + off, j->tag);
				continue;
			}
			int64_t t = page_tag(base + off);

			j->seen = j->seen == -2 || j->seen == t ? t : -1;
		}
	}
	return NULL;
}

static inline void device_run(struct device_job *j)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, device_thread, j), 0);
	if (join_timeout(t, GUEST_TIMEOUT_S))
		fail_msg("device thread hung: DMA through a pin's iovecs must never block");
}

/* The device writes @tag into every whole page its pin covers. */
static inline void device_fill(const struct mm_pin *pin, uint32_t tag)
{
	struct device_job j = {.pin = pin, .tag = tag, .write = true};

	device_run(&j);
}

#define assert_device_tag(pin, want)                                                       \
	do {                                                                               \
		struct device_job __j = {.pin = (pin)};                                    \
		device_run(&__j);                                                          \
		if (__j.seen != (int64_t)(want))                                           \
			fail_msg("%s: device reads its pin as tag %#llx, want %#llx",      \
				 __func__, (long long)__j.seen,                            \
				 (unsigned long long)(want));                              \
	} while (0)

/* ---- counters ---- */

/*
 * Expected counter deltas. Every named decision counter must move by exactly
 * the given amount, 0 when unnamed; DC = don't care. "faults" is the one
 * counter left free unless named, as FAULTS(n).
 */
#define DC INT64_MIN
#define FAULTS(n) ((n) + 1)

struct expect {
	int64_t faults; /* 0: don't care, else FAULTS(n) */
	int64_t reuses, reuses_large, copies, copies_around, unshare_copies, unshare_reuses,
		pins, unpins, clone_pinned_copies, clones, resets, reset_pinned_in_place,
		discards, fault_errors;
};

#define EXPECT_FIELDS(X)                                                                   \
	X(reuses) X(reuses_large) X(copies) X(copies_around) X(unshare_copies)             \
	X(unshare_reuses) X(pins) X(unpins) X(clone_pinned_copies) X(clones) X(resets)     \
	X(reset_pinned_in_place) X(discards) X(fault_errors)

static inline void check_delta_at(const char *where, int line, const char *what,
				  const struct mm_stats *a, const struct mm_stats *b,
				  struct expect e)
{
	char msg[1024];
	size_t n = 0;

#define CHECK_FIELD(f)                                                                     \
	if (e.f != DC && (int64_t)(b->f - a->f) != e.f && n < sizeof(msg))                 \
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, " %s %+lld (want %+lld);", #f, \
				      (long long)(b->f - a->f), (long long)e.f);
	EXPECT_FIELDS(CHECK_FIELD)
#undef CHECK_FIELD
	if (e.faults && (int64_t)(b->faults - a->faults) != e.faults - 1 && n < sizeof(msg))
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, " faults %+lld (want %+lld);",
				      (long long)(b->faults - a->faults),
				      (long long)(e.faults - 1));
	if (n)
		fail_msg("%s:%d: after %s:%s", where, line, what, msg);
}

/* Compare pool counters now with @before against the expectation; refresh @before. */
#define check_delta(pool, before, what, ...)                                               \
	do {                                                                               \
		struct mm_stats __now;                                                     \
		struct expect __e = {__VA_ARGS__};                                         \
		mm_pool_stats((pool), &__now);                                             \
		check_delta_at(__func__, __LINE__, (what), (before), &__now, __e);         \
		*(before) = __now;                                                         \
	} while (0)

static inline struct mm_page_info page_info(struct mm_space *s, uint64_t gpa)
{
	struct mm_page_info pi;
	int err = mm_space_page_info(s, gpa, &pi);

	if (err)
		fail_msg("mm_space_page_info(%#llx): %s", (unsigned long long)gpa,
			 strerror(-err));
	return pi;
}

#endif
