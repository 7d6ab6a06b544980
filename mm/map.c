// SPDX-License-Identifier: MIT
/*
 * map.c: a space's host mapping and page table entries.
 *
 * Mapping a frame at a gfn is an mmap(MAP_SHARED|MAP_FIXED) of its memfd
 * page at the gfn's host address, registered with the pool's userfaultfd
 * right away; KVM follows through its MMU notifier.
 *
 * Invariants (pool->lock held):
 * - space->runs == 1 + the number of gfn boundaries g-1|g where
 *   ptes[g].pfn != ptes[g-1].pfn + 1 (a "break"): the mappings (kernel VMAs)
 *   this space needs, since the kernel merges neighbours with contiguous
 *   offsets. space->block_breaks[b] counts the breaks at the gfns of 2 MiB
 *   block b, so a scan for them skips whole blocks (compact.c).
 * - The host mapping at gfn g maps memfd page ptes[g].pfn, present or not.
 * - PTE_WP is set exactly where the kernel PTE is write-protected.
 * - A writable mapping in a published space maps only frames its entry
 *   holds alone (map__warn_unless_private checks every place).
 *
 * Layer: above pool and uffd. May call: pool, uffd.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static inline uint64_t home_pfn(struct mm_space *space, uint64_t gfn)
{
	return space->home->base + gfn;
}

/*
 * The mappings all spaces of the process (every pool) use beyond
 * MM_SPACE_VMAS each: the allowance compact.c shares out. Atomic: pools
 * change it under their own locks.
 */
static uint64_t excess_total;

uint64_t map__excess(uint64_t runs)
{
	return runs > MM_SPACE_VMAS ? runs - MM_SPACE_VMAS : 0;
}

uint64_t map__excess_total(void)
{
	return __atomic_load_n(&excess_total, __ATOMIC_RELAXED);
}

/* Every change of space->runs after space__alloc goes through here. */
void map__set_runs(struct mm_space *space, uint64_t runs)
{
	uint64_t was = map__excess(space->runs), now = map__excess(runs);

	if (was != now)
		__atomic_add_fetch(&excess_total, now - was, __ATOMIC_RELAXED); /* wraps right */
	space->runs = runs;
}

/*
 * Around a change of ptes[gfn .. gfn+n), call with sign -1 before and +1
 * after: keeps space->runs and the per-block counts exact at the cost of the
 * changed range only.
 */
void map__account_runs(struct mm_space *space, uint64_t gfn, uint64_t n, int sign)
{
	uint64_t first = gfn ? gfn : 1;
	uint64_t last = gfn + n < space->npages ? gfn + n : space->npages - 1;
	uint64_t b = 0;

	for (uint64_t g = first; g <= last; g++) {
		if (space->ptes[g].pfn == space->ptes[g - 1].pfn + 1)
			continue;
		b++;
		space->block_breaks[g >> MM_LARGE_ORDER] += (uint32_t)sign;
	}
	map__set_runs(space, sign < 0 ? space->runs - b : space->runs + b);
}

/* Map memfd pages pfn.. at gfn.. (n pages); ptes are the caller's. */
int map__pages(struct mm_space *space, uint64_t gfn, uint64_t n, uint64_t pfn)
{
	struct mm_pool *pool = space->pool;
	uint8_t *addr = space->hva + (gfn << MM_PAGE_SHIFT);
	void *p;

#ifndef NDEBUG
	/*
	 * The new mapping is writable until protected: in a space whose threads
	 * may run, it must map only frames no one else holds (a hole's home
	 * slot, a fresh copy with the caller's one reference, or the entry's
	 * own private frame).
	 */
	for (uint64_t i = 0; space->published && i < n; i++) {
		const struct mm_frame *f = pool__frame(pool, pfn + i);

		MM_WARN_ON(f->refcount - f->pincount > 1);
	}
#endif
	p = mmap(addr, n << MM_PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 pool->memfd, (off_t)(pfn << MM_PAGE_SHIFT));
	if (p == MAP_FAILED)
		return -errno;
	/* A new mapping starts writable. */
	for (uint64_t i = gfn; i < gfn + n; i++)
		space->ptes[i].flags &= ~PTE_WP;
	int err = uffd__register(pool, addr, n << MM_PAGE_SHIFT);

	if (err)
		return err;
	/* Threads asleep on a fault in the old mapping retry on the new one. */
	return uffd__wake(pool, addr, n << MM_PAGE_SHIFT);
}

/*
 * The table side of a copy: gfn..gfn+n, just mapped (map__pages) to the
 * fresh copies pfn.. (one reference each), leave their shared frames and
 * become anon-exclusive.
 */
void map__install_copy(struct mm_space *space, uint64_t gfn, uint64_t n, uint64_t pfn)
{
	struct mm_pool *pool = space->pool;

	map__account_runs(space, gfn, n, -1);
	for (uint64_t i = 0; i < n; i++) {
		struct mm_pte *pte = &space->ptes[gfn + i];

		MM_WARN_ON(!(pte->flags & PTE_PRESENT));
		pool__frame(pool, pte->pfn)->mapcount--;
		pool__frame_put(pool, pte->pfn);
		pool__frame(pool, pfn + i)->mapcount++;
		pte->pfn = pfn + i;
		pte->flags |= PTE_EXCL;
		map__mark_dirty(space, gfn + i);
	}
	map__account_runs(space, gfn, n, +1);
}

void map__mark_dirty(struct mm_space *space, uint64_t gfn)
{
	struct mm_pte *pte = &space->ptes[gfn];

	if (!space->origin || (pte->flags & PTE_DIRTY))
		return;
	if (space->ndirty == space->dirty_cap) {
		uint64_t cap = space->dirty_cap ? space->dirty_cap * 2 : 256;
		uint64_t *d = realloc(space->dirty, cap * sizeof(*d));

		if (!d) {
			/*
			 * Out of memory for the reset list: fall back to a
			 * full scan at reset time rather than lose the page.
			 */
			space->ndirty = UINT64_MAX;
			return;
		}
		space->dirty = d;
		space->dirty_cap = cap;
	}
	if (space->ndirty != UINT64_MAX)
		space->dirty[space->ndirty++] = gfn;
	pte->flags |= PTE_DIRTY;
}

/*
 * A non-present entry becomes the exclusive owner of its home frame. Not a
 * write by itself: whoever writes marks the page dirty.
 */
void map__adopt(struct mm_space *space, uint64_t gfn)
{
	struct mm_pte *pte = &space->ptes[gfn];

	MM_WARN_ON(pte->flags & PTE_PRESENT);
	map__warn_unless_private(space, gfn); /* the home slot is free */
	pool__frame_get(space->pool, pte->pfn);
	pool__frame(space->pool, pte->pfn)->mapcount++;
	pte->flags |= PTE_PRESENT | PTE_EXCL;
	space->nr_present++;
}

/*
 * Adopt the pages the guest populated by writing (or reading) holes of its
 * home without any fault. Cost: the populated extents of the home range.
 */
int map__adopt_populated(struct mm_space *space)
{
	struct mm_pool *pool = space->pool;
	off_t start = (off_t)(space->home->base << MM_PAGE_SHIFT);
	off_t end = start + (off_t)(space->npages << MM_PAGE_SHIFT);
	off_t pos = start;

	/* Every entry present: nothing to find (a clone of a warm guest). */
	while (pos < end && space->nr_present < space->npages) {
		off_t data = lseek(pool->memfd, pos, SEEK_DATA);

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		if (data >= end)
			break;
		off_t hole = lseek(pool->memfd, data, SEEK_HOLE);

		if (hole < 0)
			return -errno;
		if (hole > end)
			hole = end;
		for (uint64_t g = (uint64_t)(data - start) >> MM_PAGE_SHIFT;
		     g < (uint64_t)(hole - start) >> MM_PAGE_SHIFT; g++) {
			if (!(space->ptes[g].flags & PTE_PRESENT))
				map__adopt(space, g);
		}
		pos = hole;
	}
	return 0;
}

/*
 * Copy the contents of src_pfn (NO_PFN: zeros) into a new frame for gfn: its
 * home slot, so that runs of copies stay contiguous. Returns the new frame
 * with one reference; the caller maps it.
 */
int map__copy_frame(struct mm_space *space, uint64_t gfn, uint64_t src_pfn, uint64_t *ret_pfn)
{
	struct mm_pool *pool = space->pool;
	uint64_t pfn = home_pfn(space, gfn);
	int err;

	/* The home slot is free unless this gfn's own entry maps it. */
	if (pool__frame(pool, pfn)->refcount)
		return pool__scratch_copy(pool, src_pfn, ret_pfn);
	err = pool__frame_fill(pool, pfn, src_pfn);
	if (err)
		return err;
	*ret_pfn = pfn;
	return 0;
}

/*
 * Debug check before @space writes the frame of ptes[gfn] (or lets its guest
 * write it, or punches it): the frame is the space's alone. A present entry's
 * frame has no reference but its mapping and its pins; a hole's home slot
 * has none at all. Anything else means another space or a clone point would
 * see the write.
 */
void map__warn_unless_private(struct mm_space *space, uint64_t gfn)
{
	const struct mm_pte *pte = &space->ptes[gfn];
	const struct mm_frame *f __attribute__((unused)) = pool__frame(space->pool, pte->pfn);

	if (pte->flags & PTE_PRESENT) {
		MM_WARN_ON(!frame_private(f));
		return;
	}
	MM_WARN_ON(pte->pfn != home_pfn(space, gfn));
	MM_WARN_ON(f->refcount);
}

/*
 * Balloon-style discard of gfn..gfn+n: map the home slots over the range
 * first (nothing reaches the old frames any more), drop the entries'
 * references, then punch the home slots, which held data only if the guest
 * wrote a hole without a fault. Pages read zero afterwards and are on the
 * dirty list. The caller has refused pinned pages and saved snapshot pages.
 */
int map__discard(struct mm_space *space, uint64_t gfn, uint64_t n)
{
	struct mm_pool *pool = space->pool;
	int err = map__pages(space, gfn, n, home_pfn(space, gfn));

	if (err)
		return err;
	map__account_runs(space, gfn, n, -1);
	for (uint64_t g = gfn; g < gfn + n; g++) {
		struct mm_pte *pte = &space->ptes[g];

		MM_WARN_ON(pte->flags & PTE_SNAP);
		if (pte->flags & PTE_PRESENT)
			map__drop(space, g);
		pte->pfn = home_pfn(space, g);
		map__mark_dirty(space, g);
		map__warn_unless_private(space, g);
	}
	map__account_runs(space, gfn, n, +1);
	(void)fallocate(pool->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(home_pfn(space, gfn) << MM_PAGE_SHIFT), (off_t)(n << MM_PAGE_SHIFT));
	return 0;
}

/* Drop the entry's mapping reference; the caller remaps the address. */
void map__drop(struct mm_space *space, uint64_t gfn)
{
	struct mm_pte *pte = &space->ptes[gfn];
	struct mm_frame *f = pool__frame(space->pool, pte->pfn);

	MM_WARN_ON(!(pte->flags & PTE_PRESENT));
	MM_WARN_ON(f->pincount);
	f->mapcount--;
	pool__frame_put(space->pool, pte->pfn);
	pte->flags &= ~(PTE_PRESENT | PTE_EXCL);
	space->nr_present--;
}

static bool needs_wp(const struct mm_space *space, const struct mm_pte *pte)
{
	if (pte->flags & PTE_SNAP)
		return true; /* the snapshot still waits for its contents */
	if ((pte->flags & PTE_PRESENT) && !(pte->flags & PTE_EXCL))
		return true; /* shared: a write must copy or prove it may reuse */
	/* A resettable clone learns of every first write since the clone point. */
	return space->origin && !(pte->flags & PTE_DIRTY);
}

/*
 * One UFFDIO_WRITEPROTECT over gfn..gfn+n, which should lie in one VMA. If
 * the kernel still finds a VMA boundary inside (-ENOENT: a merge we counted
 * on did not happen), halve the range until each piece fits. The kernel
 * looks the VMA up before it changes anything, so a refused call changed
 * nothing and PTE_WP stays exact.
 */
static int protect_one_vma(struct mm_space *space, uint64_t gfn, uint64_t n, bool wp)
{
	int err = uffd__protect(space->pool, space->hva + (gfn << MM_PAGE_SHIFT),
				n << MM_PAGE_SHIFT, wp);

	if (!err) {
		for (uint64_t g = gfn; g < gfn + n; g++) {
			if (wp)
				space->ptes[g].flags |= PTE_WP;
			else
				space->ptes[g].flags &= ~PTE_WP;
		}
		return 0;
	}
	if (err != -ENOENT || n == 1 || !uffd__wp_per_vma(space->pool))
		return err;
	err = protect_one_vma(space, gfn, n / 2, wp);
	return err ? err : protect_one_vma(space, gfn + n / 2, n - n / 2, wp);
}

/*
 * Set (@wp) or clear the write protection of gfn..gfn+n and PTE_WP with it;
 * clearing wakes the threads waiting there. Every UFFDIO_WRITEPROTECT of mm
 * goes through here. Kernels before 6.4 (Debian 12's 6.1) refuse one that
 * spans VMAs (uffd.c): there it is split where the memfd offsets of
 * neighbouring pages are not contiguous - the only places a space's mapping
 * can break into VMAs, since the kernel merges contiguous neighbours (and
 * at the space's edges, which no range crosses). On failure PTE_WP still
 * says what the kernel did: the runs done before it keep their new state.
 */
int map__protect(struct mm_space *space, uint64_t gfn, uint64_t n, bool wp)
{
	/* The guest may write these pages now: each must be the space's alone. */
	for (uint64_t g = gfn; !wp && g < gfn + n; g++)
		map__warn_unless_private(space, g);
	if (!uffd__wp_per_vma(space->pool))
		return protect_one_vma(space, gfn, n, wp);
	for (uint64_t g = gfn; g < gfn + n;) {
		uint64_t s = g++;

		while (g < gfn + n && space->ptes[g].pfn == space->ptes[g - 1].pfn + 1)
			g++;
		int err = protect_one_vma(space, s, g - s, wp);

		if (err)
			return err;
	}
	return 0;
}

/*
 * Set the write protection of gfn..gfn+n to what each entry needs (see
 * needs_wp); everything else is writable. One call per run of changes.
 */
int map__protect_unshared(struct mm_space *space, uint64_t gfn, uint64_t n)
{
	uint64_t end = gfn + n;

	for (uint64_t g = gfn; g < end;) {
		bool want = needs_wp(space, &space->ptes[g]);
		bool have = space->ptes[g].flags & PTE_WP;
		uint64_t s = g;

		if (want == have) {
			g++;
			continue;
		}
		while (g < end && needs_wp(space, &space->ptes[g]) == want &&
		       !!(space->ptes[g].flags & PTE_WP) == have)
			g++;
		int err = map__protect(space, s, g - s, want);

		if (err)
			return err;
	}
	return 0;
}

/*
 * Write-protect the whole space, holes included (shmem installs markers).
 * Costs about what fork() does: ~17 ms for a GiB of mapped pages here.
 * (Zapping the PTEs first and protecting the empty range was measured too:
 * 2.3x slower when the pages are mapped, as a running guest's are.)
 */
int map__protect_all(struct mm_space *space)
{
	return map__protect(space, 0, space->npages, true);
}

/* Map ptes[gfn..gfn+n) as they say, one mmap per run of contiguous frames. */
int map__remap(struct mm_space *space, uint64_t gfn, uint64_t n)
{
	for (uint64_t g = gfn; g < gfn + n;) {
		uint64_t s = g++;

		while (g < gfn + n && space->ptes[g].pfn == space->ptes[g - 1].pfn + 1)
			g++;
		int err = map__pages(space, s, g - s, space->ptes[s].pfn);

		if (err)
			return err;
	}
	return 0;
}
