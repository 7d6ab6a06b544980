// SPDX-License-Identifier: MIT
/*
 * bench-mm: what mm's operations cost, beside the host kernel doing the same
 * job in the same run. Prints one JSON document (DESIGN.md "Benchmarks").
 *
 *   fault   µs per write fault: copy path, 4 KiB reuse path, large-frame
 *           reuse; baseline: the kernel's own COW fault after fork()
 *   clone   ms to clone a populated space of 64 MiB .. 4 GiB, and an
 *           unpopulated 1 GiB; baseline: fork() of a process holding the
 *           same populated anonymous memory
 *   reset   µs to reset a 256 MiB resettable clone after k dirtied pages;
 *           baseline: userspace dirty tracking (mprotect + SIGSEGV) and a
 *           memcpy of the dirty pages from a saved copy
 *   pattern µs per write (and pages copied per write) of a clone's guest
 *           writing one word every 17 pages, every other page, random pages:
 *           the patterns that would cost a host mapping each without mm's
 *           compaction (mm/compact.c), with each space alone within
 *           MM_SPACE_VMAS ("strict": 1025 VMs) and with the default pool
 *           allowance; baseline: the same clone written sequentially
 *
 * Every mm figure is checked against mm's counters: a benchmark that
 * measured reuses while claiming copies aborts.
 *
 * Usage: bench-mm [--quick]   (--quick: tiny sizes, for the smoke test)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-median.h"
#include "mm.h"

#define PAGE MM_PAGE_SIZE
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static bool quick;
static unsigned nrows;

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-mm: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench-mm: measured the wrong thing: %s\n", what);
		exit(1);
	}
}

/* One row; lower is better for every metric here: speedup = baseline / value. */
static void row(const char *c, const char *metric, double value, const char *baseline,
		double baseline_value)
{
	printf("%s\n    {\"case\": \"%s\", \"metric\": \"%s\", \"value\": %.3f, "
	       "\"baseline\": \"%s\", \"baseline_value\": %.3f, \"speedup\": %.3f}",
	       nrows++ ? "," : "", c, metric, value, baseline, baseline_value,
	       value > 0 ? baseline_value / value : 0);
	fflush(stdout);
}

static void touch(uint8_t *p, uint64_t len, uint8_t v)
{
	for (uint64_t o = 0; o < len; o += PAGE)
		((volatile uint8_t *)p)[o] = v;
}

static void stats(struct mm_space *s, struct mm_stats *st)
{
	mm_space_stats(s, st);
}

/* ---- baseline: the kernel's fork + COW ---- */

/* µs per COW fault: a forked child writes every page of populated anon memory. */
static double fork_cow_fault_us(uint64_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fds[2];
	double us = 0;

	if (p == MAP_FAILED || pipe(fds) < 0)
		die("baseline memory", errno);
	madvise(p, len, MADV_NOHUGEPAGE); /* 4 KiB COW, like mm's */
	touch(p, len, 1);
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		double t0 = now_us();

		touch(p, len, 2);
		us = (now_us() - t0) / (double)(len / PAGE);
		if (write(fds[1], &us, sizeof(us)) != sizeof(us))
			_exit(1);
		_exit(0);
	}
	if (read(fds[0], &us, sizeof(us)) != sizeof(us))
		die("baseline child", EIO);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	munmap(p, len);
	return us;
}

/* ms for fork() of a process holding @len of populated anonymous memory. */
static double fork_ms(uint64_t len, unsigned reps)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double v[16];

	if (p == MAP_FAILED)
		die("baseline memory", errno);
	madvise(p, len, MADV_NOHUGEPAGE);
	touch(p, len, 1);
	for (unsigned i = 0; i < reps; i++) {
		double t0 = now_us();
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		v[i] = (now_us() - t0) / 1e3;
		if (pid < 0)
			die("fork", errno);
		waitpid(pid, NULL, 0);
	}
	munmap(p, len);
	return bench_median(v, reps);
}

/* ---- fault paths ---- */

static void bench_faults(struct mm_pool *pool)
{
	uint64_t len = quick ? 8 * MIB : 64 * MIB, n = len / PAGE, blocks = len / MM_LARGE_SIZE;
	struct mm_space *p, *c;
	struct mm_stats a, b;
	uint8_t *h;
	double t0, copy_us, reuse_us, large_us, base;
	int err;

	base = fork_cow_fault_us(len);

	/* Copy path: the parent writes every page its child shares. */
	if ((err = mm_space_create(pool, len, &p)) || (err = mm_space_clone(p, 0, &c)))
		die("space", err);
	h = mm_space_hva(p);
	touch(h, len, 1);
	mm_space_destroy(c);
	if ((err = mm_space_clone(p, 0, &c)))
		die("clone", err);
	stats(p, &a);
	t0 = now_us();
	touch(h, len, 2);
	copy_us = (now_us() - t0) / (double)n;
	stats(p, &b);
	check(b.copies - a.copies == n, "copy path: every write must copy");
	mm_space_destroy(c);
	mm_space_destroy(p);

	/*
	 * 4 KiB reuse path: the parent copies page 0 of each 2 MiB block while
	 * shared (so no block is a whole large frame any more), the child goes,
	 * then every other page is the parent's only reference: a reuse.
	 */
	if ((err = mm_space_create(pool, len, &p)))
		die("space", err);
	h = mm_space_hva(p);
	touch(h, len, 1);
	if ((err = mm_space_clone(p, 0, &c)))
		die("clone", err);
	for (uint64_t i = 0; i < blocks; i++)
		h[i * MM_LARGE_SIZE] = 3;
	mm_space_destroy(c);
	stats(p, &a);
	t0 = now_us();
	for (uint64_t o = 0; o < len; o += PAGE)
		if (o % MM_LARGE_SIZE)
			h[o] = 4;
	reuse_us = (now_us() - t0) / (double)(n - blocks);
	stats(p, &b);
	check(b.reuses - a.reuses == n - blocks && b.copies == a.copies && b.reuses_large ==
									       a.reuses_large,
	      "reuse path: every write must reuse 4 KiB");
	mm_space_destroy(p);

	/* Large reuse: one fault per 2 MiB block, then the block is ours. */
	if ((err = mm_space_create(pool, len, &p)))
		die("space", err);
	h = mm_space_hva(p);
	touch(h, len, 1);
	if ((err = mm_space_clone(p, 0, &c)))
		die("clone", err);
	mm_space_destroy(c);
	stats(p, &a);
	t0 = now_us();
	touch(h, len, 5);
	large_us = (now_us() - t0) / (double)blocks;
	stats(p, &b);
	check(b.reuses_large - a.reuses_large == blocks && b.faults - a.faults == blocks,
	      "large reuse: one fault per block");
	mm_space_destroy(p);

	row("copy", "fault_us", copy_us, "fork_cow_fault_us", base);
	row("reuse", "fault_us", reuse_us, "fork_cow_fault_us", base);
	row("reuse_large", "us_per_2MiB", large_us, "fork_cow_fault_us_x512", base * 512);
}

/* ---- clone latency ---- */

static void bench_clone_one(struct mm_pool *pool, uint64_t len, bool populate, const char *name)
{
	unsigned reps = quick ? 3 : 7;
	struct mm_space *p, *c;
	double v[16];
	int err;

	if ((err = mm_space_create(pool, len, &p)))
		die("space", err);
	if (populate)
		touch(mm_space_hva(p), len, 1);
	for (unsigned i = 0; i < reps; i++) {
		double t0 = now_us();

		if ((err = mm_space_clone(p, 0, &c)))
			die("clone", err);
		v[i] = (now_us() - t0) / 1e3;
		mm_space_destroy(c);
		/* A running guest keeps its pages mapped: map them again. */
		if (populate)
			for (uint64_t o = 0; o < len; o += PAGE)
				(void)((volatile uint8_t *)mm_space_hva(p))[o];
	}
	mm_space_destroy(p);
	row(name, "clone_ms", bench_median(v, reps), "fork_ms", fork_ms(len, reps));
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

static void bench_clone(struct mm_pool *pool)
{
	static const struct {
		uint64_t len;
		const char *name;
	} sizes[] = {{64 * MIB, "64MiB"}, {256 * MIB, "256MiB"}, {GIB, "1GiB"}, {4 * GIB, "4GiB"}};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t len = quick ? sizes[i].len / 64 : sizes[i].len;

		/* mm's copy and the fork baseline's, one after the other, plus room. */
		if (len * 2 + 4 * GIB > mem_available()) {
			fprintf(stderr, "bench-mm: skipping clone %s: not enough free memory\n",
				sizes[i].name);
			continue;
		}
		bench_clone_one(pool, len, true, sizes[i].name);
	}
	bench_clone_one(pool, quick ? 16 * MIB : GIB, false, "1GiB-unpopulated");
}

/* ---- reset ---- */

static uint8_t *track_base;
static uint64_t track_len, *track_dirty, track_n;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr & ~(PAGE - 1);

	if (a < (uintptr_t)track_base || a >= (uintptr_t)track_base + track_len)
		abort();
	track_dirty[track_n++] = (a - (uintptr_t)track_base) / PAGE;
	mprotect((void *)a, PAGE, PROT_READ | PROT_WRITE);
}

/*
 * The plain way: mprotect dirty tracking, memcpy of the dirty pages back.
 * Returns the reset's median; *ret_cycle_us the median of writes + reset.
 */
static double plain_reset_us(uint64_t len, const uint64_t *pages, unsigned k, unsigned reps,
			     double *ret_cycle_us)
{
	double cyc[64];
	uint8_t *saved = malloc(len);
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
	double v[64];

	track_len = len;
	track_base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	track_dirty = malloc(k * sizeof(*track_dirty));
	if (!saved || track_base == MAP_FAILED || !track_dirty)
		die("baseline memory", ENOMEM);
	touch(track_base, len, 1);
	memcpy(saved, track_base, len);
	sigaction(SIGSEGV, &sa, NULL);
	mprotect(track_base, len, PROT_READ);
	for (unsigned r = 0; r < reps; r++) {
		double tw = now_us();

		track_n = 0;
		for (unsigned i = 0; i < k; i++)
			track_base[pages[i] * PAGE] = 2;
		double t0 = now_us();

		for (uint64_t i = 0; i < track_n; i++)
			memcpy(track_base + track_dirty[i] * PAGE, saved + track_dirty[i] * PAGE,
			       PAGE);
		mprotect(track_base, len, PROT_READ);
		v[r] = now_us() - t0;
		cyc[r] = now_us() - tw;
	}
	*ret_cycle_us = bench_median(cyc, reps);
	signal(SIGSEGV, SIG_DFL);
	munmap(track_base, len);
	free(track_dirty);
	free(saved);
	return bench_median(v, reps);
}

static void bench_reset(struct mm_pool *pool)
{
	uint64_t len = quick ? 16 * MIB : 256 * MIB, n = len / PAGE;
	static const unsigned ks[] = {1, 10, 100, 1000};
	unsigned reps = quick ? 5 : 31;
	struct mm_space *p, *c;
	uint64_t *pages = malloc(1000 * sizeof(*pages));
	int err;

	if (!pages)
		die("memory", ENOMEM);
	srand(42);
	for (unsigned i = 0; i < 1000; i++)
		pages[i] = (uint64_t)rand() % n; /* duplicates are fine: k is an upper bound */
	if ((err = mm_space_create(pool, len, &p)))
		die("space", err);
	touch(mm_space_hva(p), len, 1);
	for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
		unsigned k = ks[j];
		double v[64], cyc[64], plain_cycle;
		char name[32];
		uint8_t *h;

		if ((err = mm_space_clone(p, MM_CLONE_RESETTABLE, &c)))
			die("clone", err);
		h = mm_space_hva(c);
		for (unsigned r = 0; r < reps + 1; r++) {
			uint64_t restored;
			double tw = now_us();

			for (unsigned i = 0; i < k; i++)
				h[pages[i] * PAGE] = (uint8_t)(r + 2);
			double t0 = now_us();

			if ((err = mm_space_reset(c, 0, &restored)))
				die("reset", err);
			if (r) { /* the first run copies: warm-up */
				v[r - 1] = now_us() - t0;
				cyc[r - 1] = now_us() - tw;
			}
			check(restored <= k && restored > 0, "reset restores what was written");
			check(h[pages[0] * PAGE] == 1, "reset restores the contents");
		}
		mm_space_destroy(c);
		snprintf(name, sizeof(name), "%upages", k);
		double plain = plain_reset_us(len, pages, k, reps, &plain_cycle);

		row(name, "reset_us", bench_median(v, reps), "mprotect_track_memcpy_us", plain);
		/* The whole run as a fuzzer sees it: the writes' faults and the reset. */
		row(name, "write_and_reset_us", bench_median(cyc, reps), "mprotect_track_memcpy_us",
		    plain_cycle);
	}
	mm_space_destroy(p);
	free(pages);
}

/* ---- write patterns that fragment a space's mapping ---- */

enum pattern { SEQUENTIAL, STRIDE17, ALTERNATE, RANDOM };

static const char *const pattern_names[] = {"sequential", "stride17", "alternate", "random"};

/* The gfn of write @i of @pattern over @n pages (@n a power of two). */
static uint64_t pattern_gfn(enum pattern pattern, uint64_t i, uint64_t n)
{
	switch (pattern) {
	case SEQUENTIAL:
		return i;
	case STRIDE17:
		return i * 17;
	case ALTERNATE:
		return i * 2;
	case RANDOM:
		break;
	}
	return (i * 0x9E3779B1ull) & (n - 1); /* odd multiplier: a permutation */
}

static uint64_t pattern_writes(enum pattern pattern, uint64_t n)
{
	return pattern == STRIDE17 ? (n + 16) / 17 : pattern == ALTERNATE ? n / 2 : n / 8;
}

/*
 * A clone of a populated @len space takes @pattern's writes, one word each:
 * µs per write and pages copied (faults and compactions) per write. Checks
 * that no fault failed and that the mappings stayed within the budget.
 */
static void pattern_once(struct mm_pool *pool, uint64_t len, enum pattern pattern,
			 uint64_t extra, double *ret_us, double *ret_copied)
{
	uint64_t n = len / PAGE, writes = pattern_writes(pattern, n), vmas = 0;
	struct mm_space *p, *c;
	struct mm_stats a, b;
	uint8_t *h;
	double t0;
	int err;

	if ((err = mm_space_create(pool, len, &p)))
		die("space", err);
	touch(mm_space_hva(p), len, 1);
	if ((err = mm_space_clone(p, 0, &c)))
		die("clone", err);
	h = mm_space_hva(c);
	stats(c, &a);
	t0 = now_us();
	for (uint64_t i = 0; i < writes; i++)
		((volatile uint8_t *)h)[pattern_gfn(pattern, i, n) * PAGE] = 2;
	*ret_us = (now_us() - t0) / (double)writes;
	stats(c, &b);
	*ret_copied = (double)(b.copies + b.copies_around + b.compact_copies - a.copies -
			       a.copies_around - a.compact_copies) /
		      (double)writes;
	check(b.fault_errors == a.fault_errors, "pattern: no fault may fail");
	if ((err = mm_pool_count_vmas(pool, &vmas)))
		die("count vmas", err);
	check(vmas <= 2 * MM_SPACE_VMAS + extra, "pattern: mappings within the budget");
	mm_space_destroy(c);
	mm_space_destroy(p);
}

static void bench_patterns_in(uint64_t len, uint64_t extra, const char *suffix)
{
	struct mm_pool_config cfg = {.vma_extra = extra};
	unsigned reps = quick ? 1 : 3;
	double seq_us = 0, seq_copied = 0;
	struct mm_pool *pool;
	int err;

	if ((err = mm_pool_create(&cfg, &pool)))
		die("mm_pool_create", err);
	extra = mm_pool_vma_extra(pool); /* none, or the default: max_map_count / 4 */
	for (enum pattern pt = SEQUENTIAL; pt <= RANDOM; pt++) {
		double us[8], copied = 0, c;
		char name[64];

		for (unsigned r = 0; r < reps; r++) {
			pattern_once(pool, len, pt, extra, &us[r], &c);
			copied += c;
		}
		copied /= reps;
		if (pt == SEQUENTIAL) {
			seq_us = bench_median(us, reps);
			seq_copied = copied;
			continue;
		}
		snprintf(name, sizeof(name), "%s-%lluMiB-%s", pattern_names[pt],
			 (unsigned long long)(len / MIB), suffix);
		row(name, "us_per_write", bench_median(us, reps), "sequential_us_per_write",
		    seq_us);
		row(name, "pages_copied_per_write", copied, "sequential_pages_copied_per_write",
		    seq_copied);
	}
	if (mm_pool_destroy(pool))
		die("mm_pool_destroy", EBUSY);
}

static void bench_patterns(void)
{
	/* Each space alone within MM_SPACE_VMAS: what 1025 VMs get. */
	bench_patterns_in(quick ? 16 * MIB : 256 * MIB, MM_VMA_EXTRA_NONE, "strict");
	/* The default allowance (max_map_count / 4), exhausted by one clone. */
	bench_patterns_in(quick ? 16 * MIB : GIB, 0, "default");
}

int main(int argc, char **argv)
{
	struct utsname u;
	struct mm_pool *pool;
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (strcmp(argv[i], "--json")) {
			fprintf(stderr, "bench-mm: unknown option '%s'\nusage: bench-mm [--quick] "
					"[--json]\n",
				argv[i]);
			return 2;
		}
	}
	if ((err = mm_pool_create(NULL, &pool)))
		die("mm_pool_create", err);
	uname(&u);
	printf("{\"bench\": \"mm\", \"host\": \"%s %s\", \"rows\": [", u.nodename, u.release);
	bench_faults(pool);
	bench_clone(pool);
	bench_reset(pool);
	bench_patterns();
	printf("\n]}\n");
	struct mm_stats st;

	mm_pool_stats(pool, &st);
	check(st.frames_in_use == 0 && st.host_bytes == 0, "all frames freed at the end");
	return mm_pool_destroy(pool) ? 1 : 0;
}
