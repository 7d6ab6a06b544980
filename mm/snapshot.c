// SPDX-License-Identifier: MIT
/*
 * snapshot.c: snapshot write-protection, what a live snapshot builds on.
 *
 * The whole space is write-protected without being cloned; each page's
 * contents at that point go to the hook exactly once: before its first write
 * lands (from the fault path), when the saver asks for it
 * (mm_space_snapshot_page), or at once for pinned pages, since a device
 * writes them through the direct map where no protection can stop it.
 *
 * The frame stays the guest's: a write fault on a snapshot-protected
 * exclusive page is a reuse after the hook ran, never a copy. Pinned pages
 * stay protected too once handed over, so their first guest write takes
 * that path like any other page. This is what
 * keeps a device's pin and the guest on one page during a snapshot (DESIGN.md
 * invariant 8): the pinned frame is anon-exclusive, so its refcount (raised
 * by the pin) is never consulted.
 *
 * Invariants (pool->lock held): PTE_SNAP set <=> the hook has not had the
 * page yet; PTE_SNAP implies PTE_WP.
 *
 * Layer: above map. May call: map, pool (snapshot__save is called by fault,
 * space and pin).
 */
#include <errno.h>

#include "internal.h"

void snapshot__save(struct mm_space *space, uint64_t gfn)
{
	struct mm_pte *pte = &space->ptes[gfn];
	const void *old = NULL;

	MM_WARN_ON(!(pte->flags & PTE_SNAP));
	if (pte->flags & PTE_PRESENT)
		old = pool__direct(space->pool, pte->pfn);
	/* A hole reads zero: NULL says so without a page of zeros. */
	space->snap_fn(space->snap_arg, gfn, old);
	pte->flags &= ~PTE_SNAP;
	STAT_INC(space, snapshot_saves);
}

int mm_space_snapshot_begin(struct mm_space *space, mm_snapshot_fn fn, void *arg)
{
	struct mm_pool *pool = space->pool;
	int err;

	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&pool->lock);
	if (space->snap_fn) {
		err = -EBUSY;
		goto out;
	}
	err = map__protect_all(space);
	if (err)
		goto out_unprotect;
	space->snap_fn = fn;
	space->snap_arg = arg;
	for (uint64_t g = 0; g < space->npages; g++)
		space->ptes[g].flags |= PTE_SNAP;
	err = map__adopt_populated(space);
	for (uint64_t g = 0; g < space->npages; g++) {
		const struct mm_pte *e = &space->ptes[g];

		if ((e->flags & PTE_PRESENT) && pool__frame(pool, e->pfn)->pincount)
			snapshot__save(space, g);
	}
	if (!err)
		goto out;
	for (uint64_t g = 0; g < space->npages; g++)
		space->ptes[g].flags &= ~PTE_SNAP;
	space->snap_fn = NULL;
out_unprotect:
	(void)map__protect_unshared(space, 0, space->npages);
out:
	pthread_mutex_unlock(&pool->lock);
	return err;
}

int mm_space_snapshot_range(struct mm_space *space, uint64_t gfn, uint64_t n,
			    uint64_t *ret_saved)
{
	uint64_t saved = 0;
	int err = 0;

	if (gfn >= space->npages || n > space->npages - gfn)
		return -EINVAL;
	pthread_mutex_lock(&space->pool->lock);
	if (!space->snap_fn) {
		err = -EINVAL;
		goto out;
	}
	for (uint64_t g = gfn; g < gfn + n; g++) {
		if (space->ptes[g].flags & PTE_SNAP) {
			snapshot__save(space, g);
			saved++;
		}
	}
	/* One unprotect for the range: fewer TLB flushes than page by page. */
	if (saved)
		err = map__protect_unshared(space, gfn, n);
out:
	pthread_mutex_unlock(&space->pool->lock);
	if (!err && ret_saved)
		*ret_saved = saved;
	return err;
}

int mm_space_snapshot_page(struct mm_space *space, uint64_t gfn)
{
	uint64_t saved;
	int err;

	if (gfn >= space->npages)
		return -EINVAL;
	err = mm_space_snapshot_range(space, gfn, 1, &saved);
	return err ? err : saved > 0;
}

int mm_space_snapshot_end(struct mm_space *space)
{
	int err;

	pthread_mutex_lock(&space->pool->lock);
	if (!space->snap_fn) {
		pthread_mutex_unlock(&space->pool->lock);
		return -EINVAL;
	}
	for (uint64_t g = 0; g < space->npages; g++)
		space->ptes[g].flags &= ~PTE_SNAP;
	space->snap_fn = NULL;
	err = map__protect_unshared(space, 0, space->npages);
	pthread_mutex_unlock(&space->pool->lock);
	return err;
}
