// SPDX-License-Identifier: MIT
/*
 * fault.c: the write-fault path, our do_wp_page().
 *
 * A write hit a write-protected page of a space. Decide, like Linux:
 *   - a page a snapshot still waits for is handed to the hook first;
 *   - a hole (non-present entry) is adopted: the space's own zero page;
 *   - anon-exclusive: reuse (unprotect, no copy);
 *   - a large frame whose every reference is a mapping of this space, in
 *     place: reuse all 512 pages at once;
 *   - refcount == 1 (no other mapping, pin or clone point holds it): reuse
 *     and mark exclusive;
 *   - otherwise copy into a new frame, map it, drop the old reference.
 * The decision is on the refcount, not the mapcount: a pin or a resettable
 * clone's clone-point reference must force a copy even with one mapping.
 * A pinned frame is always exclusive (pin unshares first), so a pin never
 * makes its own space copy: that is what keeps the device and the guest on
 * the same page (DESIGN.md invariant 8).
 *
 * Locking: pool->lock held by the caller throughout; there is no lock drop,
 * so no state needs re-checking, except that the fault may be stale (the
 * page was resolved after the message was queued): then only wake.
 *
 * Before a copy, compact__make_room keeps the space within MM_SPACE_VMAS
 * mappings; it may move the faulting page itself into the home (then
 * exclusive and writable: the fault is resolved).
 *
 * Layer: above compact. May call: compact, snapshot, map, pool, uffd. Its handler
 * fault__handle reaches uffd's thread only through mm.c's wiring.
 */
#include <errno.h>

#include "internal.h"

static struct mm_space *space_of(struct mm_pool *pool, uint64_t addr)
{
	for (struct mm_space *s = pool->spaces; s; s = s->next) {
		uintptr_t b = (uintptr_t)s->hva;

		if (addr >= b && addr < b + (s->npages << MM_PAGE_SHIFT))
			return s;
	}
	return NULL;
}

static void *page_addr(struct mm_space *space, uint64_t gfn)
{
	return space->hva + (gfn << MM_PAGE_SHIFT);
}

static int wp_page_reuse(struct mm_space *space, uint64_t gfn)
{
	int err = map__protect(space, gfn, 1, false); /* checks the frame is ours alone */

	if (err)
		return err;
	map__mark_dirty(space, gfn);
	STAT_INC(space, reuses);
	return 0;
}

/*
 * Reuse a whole large frame: every one of its 512 frames is mapped by this
 * space, in order, at the aligned gfn block holding @gfn, and nothing else
 * (no other mapping, pin or clone point) references any of them.
 */
static bool wp_can_reuse_large(struct mm_space *space, uint64_t gfn)
{
	uint64_t gbase = gfn & ~(MM_LARGE_PAGES - 1);
	uint64_t pbase = space->ptes[gfn].pfn - (gfn - gbase);

	if ((pbase & (MM_LARGE_PAGES - 1)) || gbase + MM_LARGE_PAGES > space->npages)
		return false;
	for (uint64_t i = 0; i < MM_LARGE_PAGES; i++) {
		const struct mm_pte *e = &space->ptes[gbase + i];

		if (!(e->flags & PTE_PRESENT) || (e->flags & (PTE_SNAP | PTE_STALLED)) ||
		    e->pfn != pbase + i)
			return false;
		if (pool__frame(space->pool, e->pfn)->refcount != 1)
			return false;
	}
	return true;
}

static int wp_large_reuse(struct mm_space *space, uint64_t gfn)
{
	uint64_t gbase = gfn & ~(MM_LARGE_PAGES - 1);
	int err;

	err = map__protect(space, gbase, MM_LARGE_PAGES, false);
	if (err)
		return err;
	for (uint64_t i = 0; i < MM_LARGE_PAGES; i++) {
		space->ptes[gbase + i].flags |= PTE_EXCL;
		map__mark_dirty(space, gbase + i);
	}
	STAT_INC(space, reuses_large);
	return 0;
}

/*
 * Under VMA pressure, copy the shared neighbours between @gfn and the
 * nearest private run (within a window) too, so the new copy merges with
 * it instead of splitting a mapping in three. Trades memory for staying
 * far from vm.max_map_count; below the soft limit nothing is copied around.
 */
#define AROUND_WINDOW 16

static uint64_t copy_around_bound(struct mm_space *space, uint64_t gfn, int dir)
{
	uint64_t home = space->home->base;
	uint64_t g = gfn;

	for (unsigned i = 0; i < AROUND_WINDOW; i++) {
		if ((dir < 0 && g == 0) || (dir > 0 && g + 1 >= space->npages))
			return gfn;
		g += dir;
		const struct mm_pte *e = &space->ptes[g];

		if (e->pfn == home + g)
			return g - dir; /* reached our own run: fill up to it */
		if (!(e->flags & PTE_PRESENT) || (e->flags & (PTE_EXCL | PTE_SNAP | PTE_STALLED)))
			return gfn;
	}
	return gfn;
}

static uint64_t pool_vmas(struct mm_pool *pool)
{
	uint64_t n = 0;

	for (struct mm_space *s = pool->spaces; s; s = s->next)
		n += s->runs;
	return n;
}

static int wp_page_copy(struct mm_space *space, uint64_t gfn)
{
	struct mm_pool *pool = space->pool;
	uint64_t first = gfn, last = gfn;
	uint64_t pfns[2 * AROUND_WINDOW + 1];
	uint64_t n;
	int err = compact__make_room(space, false);

	if (err)
		return err;
	if (!(space->ptes[gfn].flags & PTE_WP)) {
		/* The compaction moved this page home: private and writable now. */
		STAT_INC(space, copies);
		return uffd__wake(pool, page_addr(space, gfn), MM_PAGE_SIZE);
	}
	if (pool_vmas(pool) > pool->vma_soft_limit) {
		/*
		 * Joining one private neighbour run keeps the count where it
		 * is (a copy inside a shared run adds two): fill the shorter gap.
		 */
		uint64_t l = copy_around_bound(space, gfn, -1);
		uint64_t r = copy_around_bound(space, gfn, +1);
		bool left = l < gfn && (r == gfn || gfn - l <= r - gfn);

		first = left ? l : gfn;
		last = left ? gfn : r;
	}
	n = last - first + 1;
	pfns[0] = NO_PFN;
	for (uint64_t i = 0; i < n; i++) {
		err = map__copy_frame(space, first + i, space->ptes[first + i].pfn, &pfns[i]);
		if (err) {
			n = i;
			goto err_put;
		}
		if (pfns[i] != pfns[0] + i) {
			/* A scratch frame: no run to merge into, copy just @gfn. */
			pool__frame_put(pool, pfns[i]);
			n = i;
			break;
		}
	}
	if (gfn >= first + n) {
		/* The faulting page itself did not fit the run: start over alone. */
		while (n)
			pool__frame_put(pool, pfns[--n]);
		first = gfn;
		err = map__copy_frame(space, gfn, space->ptes[gfn].pfn, &pfns[0]);
		if (err)
			return err;
		n = 1;
	}
	err = map__pages(space, first, n, pfns[0]);
	if (err)
		goto err_put;
	map__install_copy(space, first, n, pfns[0]);
	STAT_INC(space, copies);
	STAT_ADD(space, copies_around, n - 1);
	return 0;

err_put:
	while (n)
		pool__frame_put(pool, pfns[--n]);
	return err;
}

/* Resolve a write fault at @gfn; 0 when the writer may go on. */
int fault__wp_page(struct mm_space *space, uint64_t gfn)
{
	struct mm_pte *pte = &space->ptes[gfn];

	if (!(pte->flags & PTE_WP)) {
		/* Stale: resolved since the message was queued. */
		return uffd__wake(space->pool, page_addr(space, gfn), MM_PAGE_SIZE);
	}
	if (pte->flags & PTE_SNAP)
		snapshot__save(space, gfn);
	if (!(pte->flags & PTE_PRESENT)) {
		map__adopt(space, gfn);
		return wp_page_reuse(space, gfn);
	}
	if (pte->flags & PTE_EXCL)
		return wp_page_reuse(space, gfn);
	if (wp_can_reuse_large(space, gfn))
		return wp_large_reuse(space, gfn);
	if (pool__frame(space->pool, pte->pfn)->refcount == 1) {
		/* We hold the only reference: nobody can see our writes. */
		pte->flags |= PTE_EXCL;
		return wp_page_reuse(space, gfn);
	}
	return wp_page_copy(space, gfn);
}

/*
 * The fault thread's handler (uffd.c): resolve the write fault at page
 * address @addr. Takes pool->lock.
 */
void fault__handle(struct mm_pool *pool, uint64_t addr)
{
	struct mm_space *space;
	uint64_t gfn;
	int err;

	pthread_mutex_lock(&pool->lock);
	space = space_of(pool, addr);
	if (!space) {
		/* The space went away while the message was queued. */
		pthread_mutex_unlock(&pool->lock);
		return;
	}
	gfn = (addr - (uintptr_t)space->hva) >> MM_PAGE_SHIFT;
	STAT_INC(space, faults);
	err = fault__wp_page(space, gfn);
	if (err) {
		/* Leave the thread asleep; the owner decides (retry or destroy). */
		if (!(space->ptes[gfn].flags & PTE_STALLED)) {
			space->ptes[gfn].flags |= PTE_STALLED;
			space->stalled++;
		}
		STAT_INC(space, fault_errors);
		if (space->err_fn)
			space->err_fn(space->err_arg, space, gfn << MM_PAGE_SHIFT, err);
	}
	pthread_mutex_unlock(&pool->lock);
}
