// SPDX-License-Identifier: MIT
/*
 * space.c: address spaces - create, destroy, discard, queries.
 *
 * Invariants (pool->lock held):
 * - A space is on pool->spaces from the moment its mapping exists until it
 *   is unmapped, so the fault thread finds it for every fault on it.
 * - A space with live pins cannot be destroyed: a pinned frame must stay
 *   mapped by its space (-EBUSY).
 * - Destroying a space drops every reference it holds (mappings, clone
 *   point) and retires its home; frames are freed exactly when their last
 *   reference goes.
 *
 * Layer: above fault. May call: fault (retry), compact, snapshot, map, pool, uffd.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* Reserve the space's host range and build its (empty) table and home. */
int space__alloc(struct mm_pool *pool, uint64_t npages, struct mm_space **ret_space)
{
	struct mm_space *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s)
		return -ENOMEM;
	s->pool = pool;
	s->npages = npages;
	s->runs = 1;
	s->ptes = calloc(npages, sizeof(*s->ptes));
	s->block_breaks = calloc((npages + MM_LARGE_PAGES - 1) >> MM_LARGE_ORDER,
				 sizeof(*s->block_breaks));
	if (!s->ptes || !s->block_breaks)
		goto err_free;
	s->hva = mmap(NULL, npages << MM_PAGE_SHIFT, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->hva == MAP_FAILED) {
		err = -errno;
		goto err_free;
	}
	err = pool__range_alloc(pool, npages, s, &s->home);
	if (err)
		goto err_unmap;
	for (uint64_t g = 0; g < npages; g++)
		s->ptes[g].pfn = s->home->base + g;
	*ret_space = s;
	return 0;

err_unmap:
	munmap(s->hva, npages << MM_PAGE_SHIFT);
err_free:
	free(s->block_breaks);
	free(s->ptes);
	free(s);
	return err;
}

/* Undo space__alloc for a space never published (ptes hold nothing). */
void space__free(struct mm_space *s)
{
	map__set_runs(s, 1); /* gives its share of the allowance back */
	if (s->hva)
		munmap(s->hva, s->npages << MM_PAGE_SHIFT);
	pool__range_retire(s->pool, s->home);
	free(s->origin);
	free(s->dirty);
	free(s->block_breaks);
	free(s->ptes);
	free(s);
}

void space__publish(struct mm_space *s)
{
	s->next = s->pool->spaces;
	s->pool->spaces = s;
	s->published = true;
}

int mm_space_create(struct mm_pool *pool, uint64_t size, struct mm_space **ret_space)
{
	struct mm_space *s;
	int err;

	if (!size || size % MM_PAGE_SIZE || size > (pool->capacity_pages << MM_PAGE_SHIFT))
		return -EINVAL;
	pthread_mutex_lock(&pool->lock);
	err = space__alloc(pool, size >> MM_PAGE_SHIFT, &s);
	if (err)
		goto out;
	/* The home range, 1:1 with the gfns: one mapping, holes read zero. */
	err = map__pages(s, 0, s->npages, s->home->base);
	if (err) {
		space__free(s);
		goto out;
	}
	space__publish(s);
	*ret_space = s;
out:
	pthread_mutex_unlock(&pool->lock);
	return err;
}

static void space_unlink(struct mm_space *space)
{
	for (struct mm_space **p = &space->pool->spaces; *p; p = &(*p)->next) {
		if (*p == space) {
			*p = space->next;
			return;
		}
	}
	MM_WARN_ON(1);
}

int mm_space_destroy(struct mm_space *space)
{
	struct mm_pool *pool;

	if (!space)
		return 0;
	pool = space->pool;
	pthread_mutex_lock(&pool->lock);
	if (space->pins) {
		pthread_mutex_unlock(&pool->lock);
		return -EBUSY;
	}
	space_unlink(space);
	/*
	 * Unmap first, so no fault can reach a freed table; a thread still
	 * asleep on a fault here is woken into its SIGSEGV, like any access to
	 * unmapped memory, rather than left asleep forever.
	 */
	munmap(space->hva, space->npages << MM_PAGE_SHIFT);
	(void)uffd__wake(pool, space->hva, space->npages << MM_PAGE_SHIFT);
	space->hva = NULL;
	for (uint64_t g = 0; g < space->npages; g++) {
		if (space->ptes[g].flags & PTE_PRESENT)
			map__drop(space, g);
		if (space->origin && space->origin[g] != NO_PFN)
			pool__frame_put(pool, space->origin[g]);
	}
	/* Pages written without a fault are only in the home: freed with it. */
	space__free(space);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void *mm_space_hva(const struct mm_space *space)
{
	return space->hva;
}

uint64_t mm_space_size(const struct mm_space *space)
{
	return space->npages << MM_PAGE_SHIFT;
}

void mm_space_stats(struct mm_space *space, struct mm_stats *ret_stats)
{
	pthread_mutex_lock(&space->pool->lock);
	(void)map__adopt_populated(space);
	space->stats.frames_in_use = 0;
	space->stats.pinned_pages = 0;
	for (uint64_t g = 0; g < space->npages; g++) {
		const struct mm_pte *e = &space->ptes[g];

		if (!(e->flags & PTE_PRESENT))
			continue;
		space->stats.frames_in_use++;
		space->stats.pinned_pages += pool__frame(space->pool, e->pfn)->pincount != 0;
	}
	space->stats.vmas = space->runs;
	*ret_stats = space->stats;
	ret_stats->host_bytes = 0;
	pthread_mutex_unlock(&space->pool->lock);
}

void mm_space_set_fault_error_fn(struct mm_space *space, mm_fault_error_fn fn, void *arg)
{
	pthread_mutex_lock(&space->pool->lock);
	space->err_fn = fn;
	space->err_arg = arg;
	pthread_mutex_unlock(&space->pool->lock);
}

int mm_space_retry_faults(struct mm_space *space)
{
	int err = 0;

	pthread_mutex_lock(&space->pool->lock);
	for (uint64_t g = 0; g < space->npages && space->stalled; g++) {
		struct mm_pte *pte = &space->ptes[g];

		if (!(pte->flags & PTE_STALLED))
			continue;
		err = fault__wp_page(space, g);
		if (err)
			break;
		pte->flags &= ~PTE_STALLED;
		space->stalled--;
		/* A reuse woke the writer; a stale entry needs the wake too. */
		err = uffd__wake(space->pool, space->hva + (g << MM_PAGE_SHIFT), MM_PAGE_SIZE);
		if (err)
			break;
	}
	pthread_mutex_unlock(&space->pool->lock);
	return err;
}

int mm_space_page_info(struct mm_space *space, uint64_t gpa, struct mm_page_info *ret_info)
{
	uint64_t gfn = gpa >> MM_PAGE_SHIFT;

	if (gfn >= space->npages)
		return -EINVAL;
	pthread_mutex_lock(&space->pool->lock);
	const struct mm_pte *e = &space->ptes[gfn];
	const struct mm_frame *f = pool__frame(space->pool, e->pfn);

	*ret_info = (struct mm_page_info){
		.pfn = e->pfn,
		.refcount = f->refcount,
		.mapcount = f->mapcount,
		.pincount = f->pincount,
		.present = e->flags & PTE_PRESENT,
		.write_protected = e->flags & PTE_WP,
		.exclusive = e->flags & PTE_EXCL,
	};
	pthread_mutex_unlock(&space->pool->lock);
	return 0;
}

static int range_to_gfns(struct mm_space *space, uint64_t gpa, uint64_t len, uint64_t *ret_gfn,
			 uint64_t *ret_n)
{
	if (!len || gpa % MM_PAGE_SIZE || len % MM_PAGE_SIZE || gpa + len < gpa ||
	    gpa + len > space->npages << MM_PAGE_SHIFT)
		return -EINVAL;
	*ret_gfn = gpa >> MM_PAGE_SHIFT;
	*ret_n = len >> MM_PAGE_SHIFT;
	return 0;
}

int mm_space_discard(struct mm_space *space, uint64_t gpa, uint64_t len)
{
	struct mm_pool *pool = space->pool;
	uint64_t gfn, n;
	int err = range_to_gfns(space, gpa, len, &gfn, &n);

	if (err)
		return err;
	pthread_mutex_lock(&pool->lock);
	for (uint64_t g = gfn; g < gfn + n; g++) {
		const struct mm_pte *e = &space->ptes[g];

		/* A pinned frame is never replaced: refuse, change nothing. */
		if ((e->flags & PTE_PRESENT) && pool__frame(pool, e->pfn)->pincount) {
			err = -EBUSY;
			goto out;
		}
	}
	/* The snapshot gets the contents first; discarding is a write. */
	for (uint64_t g = gfn; g < gfn + n; g++)
		if (space->ptes[g].flags & PTE_SNAP)
			snapshot__save(space, g);
	/* Mapping the home slots over the range may add two mappings. */
	err = compact__make_room(space, false);
	if (err)
		goto out;
	err = map__discard(space, gfn, n);
	if (err)
		goto out;
	STAT_ADD(space, discards, n);
out:
	pthread_mutex_unlock(&pool->lock);
	return err;
}
