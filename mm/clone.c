// SPDX-License-Identifier: MIT
/*
 * clone.c: clone (= fork) and reset of address spaces.
 *
 * Clone, while the parent's threads keep writing:
 *   1. write-protect the whole parent (map__protect_all): from now every write
 *      of the parent waits for the fault thread, which waits for our lock;
 *   2. adopt the pages the parent populated without faults;
 *   3. share every present frame (refcount/mapcount +1, anon-exclusive
 *      cleared) - except pinned frames, which the child gets a copy of at
 *      once (the kernel's early COW for pinned pages at fork) and which stay
 *      exclusive to the parent;
 *   4. map the child and write-protect its shared runs;
 *   5. move the parent to a fresh home if its current one holds frames (they
 *      are shared now; the parent's copies must not land on them);
 *   6. unprotect what the parent need not fault on (its holes, pinned pages).
 * The child sees exactly the parent's contents at step 1.
 *
 * Reset of a MM_CLONE_RESETTABLE clone: the clone keeps a reference on each
 * clone-point frame (space->origin), so those frames never change and every
 * write to them copies. Every page of such a clone that is not on its dirty
 * list is write-protected (holes included), so no write escapes the list. Reset restores contents page by page from the
 * clone-point frames into the clone's own frames, only for the pages on the
 * dirty list (written since the clone or last reset) and pages written
 * without a fault (found in the home range): cost proportional to what the
 * clone wrote. The restored private frames stay mapped and write-protected
 * (the next run's first write to them is a cheap reuse, not a copy, and puts
 * them back on the dirty list). No mapping is replaced, so a writer racing a
 * reset can never reach a shared frame, and a pinned frame is restored in
 * place: the device keeps seeing the guest's page - and a frame the clone
 * no longer holds alone (it was cloned since) is never written: the page is
 * unshared instead (reset_unshare).
 *
 * Mappings (MM_SPACE_VMAS): the child starts with the parent's layout, its
 * holes in its own home; the parent's holes move to its new home. Where
 * present pages and holes alternate, that would cost both spaces a mapping
 * per alternation, so when that would not fit the budget the parent's holes
 * are adopted before sharing (clone_adopt_holes): free zero frames, shared
 * like any page, and both keep the parent's layout. The parent is compacted
 * first if its layout would not fit twice (compact__before_clone), the
 * child's table before it is mapped; a reset makes room before each unshare.
 *
 * Layer: above space. May call: space, compact, map, pool, uffd.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

/*
 * Early COW of a pinned frame for the child. A resettable child's copy is
 * also its clone point (the origin holds a reference), so it must not sit in
 * the child's home: discard and reset write and punch home slots. Those
 * copies go to an ownerless range of their own, @points, allocated on first
 * use and freed with its last frame.
 */
static int clone_early_copy(struct mm_space *child, uint64_t gfn, uint64_t src_pfn,
			    struct mm_range **points)
{
	struct mm_pool *pool = child->pool;
	int err;

	if (!child->origin)
		return map__copy_frame(child, gfn, src_pfn, &child->ptes[gfn].pfn);
	if (!*points) {
		err = pool__range_alloc(pool, child->npages, NULL, points);
		if (err)
			return err;
	}
	err = pool__frame_fill(pool, (*points)->base + gfn, src_pfn);
	if (err)
		return err;
	child->ptes[gfn].pfn = (*points)->base + gfn;
	return 0;
}

static int clone_share(struct mm_space *parent, struct mm_space *child, unsigned flags)
{
	struct mm_pool *pool = parent->pool;
	struct mm_range *points = NULL;
	int err = 0;

	for (uint64_t g = 0; g < parent->npages; g++) {
		struct mm_pte *pe = &parent->ptes[g], *ce = &child->ptes[g];
		struct mm_frame *f;

		if (!(pe->flags & PTE_PRESENT))
			continue; /* a hole: the child's own home slot is one too */
		f = pool__frame(pool, pe->pfn);
		if (f->pincount) {
			/* Early COW: the pinned frame stays the parent's alone. */
			err = clone_early_copy(child, g, pe->pfn, &points);
			if (err)
				break;
			pool__frame(pool, ce->pfn)->mapcount++;
			ce->flags = PTE_PRESENT | PTE_EXCL;
			child->nr_present++;
			STAT_INC(parent, clone_pinned_copies);
		} else {
			pool__frame_get(pool, pe->pfn);
			f->mapcount++;
			pe->flags &= ~PTE_EXCL;
			ce->pfn = pe->pfn;
			ce->flags = PTE_PRESENT;
			child->nr_present++;
		}
		if (flags & MM_CLONE_RESETTABLE) {
			/* The clone point holds its own reference. */
			pool__frame_get(pool, ce->pfn);
			child->origin[g] = ce->pfn;
			ce->flags &= ~PTE_EXCL;
		}
	}
	if (points)
		pool__range_retire(pool, points); /* freed now if it holds no frame */
	return err;
}

/* Undo clone_share for a child that will not be published. */
static void clone_unshare(struct mm_space *parent, struct mm_space *child)
{
	for (uint64_t g = 0; g < child->npages; g++) {
		struct mm_pte *ce = &child->ptes[g];

		if (child->origin && child->origin[g] != NO_PFN)
			pool__frame_put(parent->pool, child->origin[g]);
		if (ce->flags & PTE_PRESENT)
			map__drop(child, g);
		/*
		 * The parent's frames that lost anon-exclusive stay shareable;
		 * that only costs the parent a reuse fault later, never a
		 * wrong answer.
		 */
	}
}

static int clone_map_child(struct mm_space *child)
{
	int err;

	map__set_runs(child, 1);
	map__account_runs(child, 0, child->npages, +1);
	/* Early copies of pinned frames break the parent's layout: stay in bounds. */
	err = compact__table(child);
	if (err)
		return err;
	err = map__remap(child, 0, child->npages);
	if (err)
		return err;
	return map__protect_unshared(child, 0, child->npages);
}

/*
 * The mappings the child would need with its holes in its own home (and the
 * parent after moving its holes to its new home): the parent's, plus one at
 * each boundary between a present page and a hole.
 */
static uint64_t clone_runs_with_holes(struct mm_space *parent)
{
	uint64_t runs = parent->runs;

	for (uint64_t g = 1; g < parent->npages; g++) {
		const struct mm_pte *a = &parent->ptes[g - 1], *b = &parent->ptes[g];

		runs += (a->flags & PTE_PRESENT) != (b->flags & PTE_PRESENT);
	}
	return runs;
}

/*
 * When the holes would cost more mappings than the budget has (for the
 * parent and the child both), make them present zero frames in the parent's
 * current home (nothing is allocated until written), so that the child and
 * the parent keep the parent's layout. Not a write: no page becomes dirty.
 */
static void clone_adopt_holes(struct mm_space *parent)
{
	uint64_t runs = clone_runs_with_holes(parent);

	if (runs == parent->runs || compact__fits(parent, runs, runs))
		return;
	for (uint64_t g = 0; g < parent->npages; g++)
		if (!(parent->ptes[g].flags & PTE_PRESENT))
			map__adopt(parent, g);
}

/*
 * Step 5: the parent's current home holds shared frames; move it to @home,
 * allocated before anything was shared (so a pool without room fails the
 * clone with nothing changed). Holes move along: non-present entries address
 * the current home. Where a hole run cannot be remapped (mmap failed), its
 * entries adopt their old home slots instead: those are free (they were holes
 * when the frames were shared), so they become present frames the parent
 * holds alone, outside its home, and the old home never again gets a discard
 * or a copy. Cannot fail.
 */
static void clone_rehome_parent(struct mm_space *parent, struct mm_range *home)
{
	struct mm_pool *pool = parent->pool;
	struct mm_range *old = parent->home;

	for (uint64_t g = 0; g < parent->npages;) {
		if (parent->ptes[g].flags & PTE_PRESENT) {
			g++;
			continue;
		}
		uint64_t s = g;

		while (g < parent->npages && !(parent->ptes[g].flags & PTE_PRESENT))
			g++;
		if (map__pages(parent, s, g - s, home->base + s)) {
			for (uint64_t i = s; i < g; i++)
				map__adopt(parent, i);
			continue;
		}
		map__account_runs(parent, s, g - s, -1);
		for (uint64_t i = s; i < g; i++)
			parent->ptes[i].pfn = home->base + i;
		map__account_runs(parent, s, g - s, +1);
	}
	parent->home = home;
	pool__range_retire(pool, old);
}

int mm_space_clone(struct mm_space *parent, unsigned flags, struct mm_space **ret_child)
{
	struct mm_pool *pool = parent->pool;
	struct mm_range *home = NULL;
	struct mm_space *child;
	int err;

	if (flags & ~MM_CLONE_RESETTABLE)
		return -EINVAL;
	pthread_mutex_lock(&pool->lock);
	/* Room for the child's mappings, while the parent's pages may still move. */
	err = compact__before_clone(parent);
	if (err)
		goto out;
	err = space__alloc(pool, parent->npages, &child);
	if (err)
		goto out;
	if (flags & MM_CLONE_RESETTABLE) {
		child->origin = malloc(child->npages * sizeof(*child->origin));
		if (!child->origin) {
			err = -ENOMEM;
			goto err_free;
		}
		memset(child->origin, 0xff, child->npages * sizeof(*child->origin));
	}
	/* 1. Write-protect first: the clone point is now. */
	err = map__protect_all(parent);
	if (err)
		goto err_unprotect;
	err = map__adopt_populated(parent); /* 2 */
	if (err)
		goto err_unprotect;
	clone_adopt_holes(parent);
	/* The parent's next home (step 5), before anything is shared. */
	if (parent->home->live) {
		err = pool__range_alloc(pool, parent->npages, parent, &home);
		if (err)
			goto err_unprotect;
	}
	err = clone_share(parent, child, flags); /* 3 */
	if (!err)
		err = clone_map_child(child); /* 4 */
	if (err) {
		clone_unshare(parent, child);
		if (home)
			pool__range_retire(pool, home);
		goto err_unprotect;
	}
	space__publish(child);
	if (home)
		clone_rehome_parent(parent, home); /* 5 */
	/* 6: a failure here leaves the parent correct, only slower. */
	(void)map__protect_unshared(parent, 0, parent->npages);
	STAT_INC(parent, clones);
	*ret_child = child;
	pthread_mutex_unlock(&pool->lock);
	return 0;

err_unprotect:
	(void)map__protect_unshared(parent, 0, parent->npages);
err_free:
	space__free(child);
out:
	pthread_mutex_unlock(&pool->lock);
	return err;
}

/*
 * The dirty page's frame is no longer the clone's alone: the clone was cloned
 * since it wrote the page, and the frame is shared with that child (or its
 * clone point). Never write into it: give the clone a new frame with the
 * clone-point contents (a hole where the clone point is one), as a write
 * fault would have. The new mapping is writable until protected again, so
 * the page stays on the dirty list: a write in between is undone by the next
 * reset.
 */
static int reset_unshare(struct mm_space *space, uint64_t gfn)
{
	uint64_t o = space->origin[gfn], pfn;
	int err;

	if (o == NO_PFN)
		return map__discard(space, gfn, 1);
	err = map__copy_frame(space, gfn, o, &pfn);
	if (err)
		return err;
	err = map__pages(space, gfn, 1, pfn);
	if (err) {
		pool__frame_put(space->pool, pfn);
		return err;
	}
	map__install_copy(space, gfn, 1, pfn);
	return 0;
}

/*
 * Restore one dirty page from its clone-point frame: in place when the frame
 * is the clone's alone, else by unsharing. Pages that stay dirty (pinned,
 * unshared) are kept at the front of the list, @kept counting them.
 */
static int reset_page(struct mm_space *space, uint64_t gfn, bool protect, uint64_t *kept)
{
	struct mm_pool *pool = space->pool;
	struct mm_pte *pte = &space->ptes[gfn];
	uint64_t o = space->origin[gfn];
	int err;

	if (!(pte->flags & PTE_PRESENT)) {
		if (o == NO_PFN) {
			/* Discarded, maybe written since: a hole again. */
			map__warn_unless_private(space, gfn);
			(void)fallocate(pool->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)(pte->pfn << MM_PAGE_SHIFT), MM_PAGE_SIZE);
			goto clean;
		}
		map__adopt(space, gfn);
	} else if (pte->pfn == o) {
		goto clean;
	} else if (!frame_private(pool__frame(pool, pte->pfn))) {
		/* The unshare may add two mappings; compaction may move this page. */
		err = compact__make_room(space, protect);
		if (err)
			return err;
		if (frame_private(pool__frame(pool, pte->pfn)))
			goto restore;
		err = reset_unshare(space, gfn);
		if (err)
			return err;
		goto keep;
	}
restore:
	map__warn_unless_private(space, gfn);
	if (o == NO_PFN)
		memset(pool__direct(pool, pte->pfn), 0, MM_PAGE_SIZE);
	else
		memcpy(pool__direct(pool, pte->pfn), pool__direct(pool, o), MM_PAGE_SIZE);
	if (pool__frame(pool, pte->pfn)->pincount) {
		/* A device may write it behind any protection: it stays dirty. */
		STAT_INC(space, reset_pinned_in_place);
		goto keep;
	}
clean:
	pte->flags &= ~PTE_DIRTY;
	STAT_INC(space, reset_pages);
	return 0;
keep:
	space->dirty[(*kept)++] = gfn;
	STAT_INC(space, reset_pages);
	return 0;
}

static bool reset_needs_scan(struct mm_space *space)
{
	return space->ndirty == UINT64_MAX;
}

/*
 * The reset proper, under the pool lock. @protect: write-protect each dirty
 * page before restoring it (mm then sees the next write to it); without,
 * the caller tracks writes to the clone's own frames itself.
 */
static int reset_locked(struct mm_space *space, unsigned flags, bool protect,
			uint64_t *ret_restored)
{
	struct mm_pool *pool = space->pool;
	int err;

	if (!space->origin || space->snap_fn)
		return space->origin ? -EBUSY : -EINVAL;
	/* The dirty list overflowed (no memory): rebuild it from the table. */
	if (reset_needs_scan(space)) {
		space->ndirty = 0;
		for (uint64_t g = 0; g < space->npages; g++) {
			space->ptes[g].flags &= ~PTE_DIRTY;
			if (space->ptes[g].pfn != space->origin[g])
				map__mark_dirty(space, g);
		}
		if (reset_needs_scan(space))
			return -ENOMEM;
	}
	for (uint64_t i = 0; i < space->ndirty; i++) {
		const struct mm_pte *e = &space->ptes[space->dirty[i]];

		if ((flags & MM_RESET_REFUSE_PINNED) && (e->flags & PTE_PRESENT) &&
		    pool__frame(pool, e->pfn)->pincount)
			return -EBUSY;
	}
	/* Protect first, then restore: a racing write faults and re-dirties. */
	for (uint64_t i = 0; protect && i < space->ndirty; i++) {
		struct mm_pte *pte = &space->ptes[space->dirty[i]];

		if (pte->flags & PTE_WP)
			continue;
		err = map__protect(space, space->dirty[i], 1, true);
		if (err)
			return err;
	}
	/* Pinned and unshared pages stay on the list, compacted to its front. */
	uint64_t kept = 0;

	for (uint64_t i = 0; i < space->ndirty; i++) {
		err = reset_page(space, space->dirty[i], protect, &kept);
		if (reset_needs_scan(space))
			return -ENOMEM; /* a compaction overflowed the list: the next reset scans */
		if (err) {
			/*
			 * Out of frames or mappings while unsharing: the pages
			 * not restored yet stay listed, so a retry finishes.
			 */
			while (i < space->ndirty)
				space->dirty[kept++] = space->dirty[i++];
			space->ndirty = kept;
			return err;
		}
	}
	*ret_restored = space->ndirty;
	space->ndirty = kept;
	STAT_INC(space, resets);
	return 0;
}

int mm_space_reset(struct mm_space *space, unsigned flags, uint64_t *ret_restored)
{
	uint64_t restored = 0;
	int err;

	if (flags & ~MM_RESET_REFUSE_PINNED)
		return -EINVAL;
	pthread_mutex_lock(&space->pool->lock);
	err = reset_locked(space, flags, true, &restored);
	pthread_mutex_unlock(&space->pool->lock);
	if (!err && ret_restored)
		*ret_restored = restored;
	return err;
}

int mm_space_reset_tracked(struct mm_space *space, const uint64_t *dirty, unsigned flags,
			   uint64_t *ret_restored)
{
	uint64_t restored = 0;
	int err;

	if (flags & ~MM_RESET_REFUSE_PINNED)
		return -EINVAL;
	pthread_mutex_lock(&space->pool->lock);
	for (uint64_t w = 0; space->origin && w < (space->npages + 63) / 64; w++)
		for (uint64_t bits = dirty[w]; bits; bits &= bits - 1) {
			uint64_t g = w * 64 + (uint64_t)__builtin_ctzll(bits);

			if (g < space->npages)
				map__mark_dirty(space, g);
		}
	err = reset_locked(space, flags, false, &restored);
	pthread_mutex_unlock(&space->pool->lock);
	if (!err && ret_restored)
		*ret_restored = restored;
	return err;
}
