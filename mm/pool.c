// SPDX-License-Identifier: MIT
/*
 * pool.c: the frame pool. One memfd (shmem) holds all guest memory; a frame
 * is one 4 KiB page of it, named by its page index (pfn). The whole memfd is
 * also mapped once, never write-protected: the "direct map" through which
 * the fault service copies and devices DMA, so neither ever touches a
 * write-protected guest mapping.
 *
 * Invariants (pool->lock held):
 * - frames[pfn].refcount == 0 <=> the frame is free, and its memory has been
 *   punched out of the memfd (or was never populated).
 * - range->live counts the frames inside it with refcount > 0. A range is
 *   returned to the free list only when it has no owner and no live frame;
 *   it is punched whole then, so stray pages (a guest read of a hole
 *   populates one) never outlive it.
 * - Ranges are 2 MiB aligned: a large frame never straddles two ranges.
 * - A frame is written (pool__frame_fill) only while free (refcount 0).
 *
 * Layer: the bottom. Calls nothing else in mm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MIN_DEFAULT_CAPACITY (16ULL << 30)
#define SCRATCH_PAGES MM_LARGE_PAGES

struct mm_frame *pool__frame(struct mm_pool *pool, uint64_t pfn)
{
	MM_WARN_ON(pfn >= pool->bump);
	return &pool->frames[pfn];
}

void *pool__direct(struct mm_pool *pool, uint64_t pfn)
{
	return pool->direct + (pfn << MM_PAGE_SHIFT);
}

static struct mm_range *range_of(struct mm_pool *pool, uint64_t pfn)
{
	return pool->range_of[pfn >> MM_LARGE_ORDER];
}

static void set_range_of(struct mm_pool *pool, struct mm_range *r, struct mm_range *val)
{
	for (uint64_t c = r->base >> MM_LARGE_ORDER; c < (r->base + r->npages) >> MM_LARGE_ORDER;
	     c++)
		pool->range_of[c] = val;
}

static void punch(struct mm_pool *pool, uint64_t pfn, uint64_t n)
{
	/* Cannot fail on shmem for a valid range; nothing to undo if it did. */
	(void)fallocate(pool->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(pfn << MM_PAGE_SHIFT), (off_t)(n << MM_PAGE_SHIFT));
}

static void list_remove(struct mm_range **head, struct mm_range *r)
{
	for (struct mm_range **p = head; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			return;
		}
	}
	MM_WARN_ON(1);
}

/* Return @r to the free list, merging it with free neighbours. */
static void range_free(struct mm_pool *pool, struct mm_range *r)
{
	list_remove(&pool->ranges, r);
	set_range_of(pool, r, NULL);
	punch(pool, r->base, r->npages);
	for (struct mm_range **p = &pool->free_ranges; *p;) {
		struct mm_range *f = *p;

		if (f->base + f->npages == r->base || r->base + r->npages == f->base) {
			r->base = f->base < r->base ? f->base : r->base;
			r->npages += f->npages;
			*p = f->next;
			free(f);
			continue;
		}
		p = &f->next;
	}
	if (r->base + r->npages == pool->bump) {
		pool->bump = r->base;
		free(r);
		return;
	}
	r->next = pool->free_ranges;
	pool->free_ranges = r;
}

int pool__range_alloc(struct mm_pool *pool, uint64_t npages, struct mm_space *owner,
		      struct mm_range **ret_range)
{
	struct mm_range *r = NULL;

	npages = (npages + MM_LARGE_PAGES - 1) & ~(MM_LARGE_PAGES - 1);
	for (struct mm_range **p = &pool->free_ranges; *p; p = &(*p)->next) {
		struct mm_range *f = *p;

		if (f->npages < npages)
			continue;
		if (f->npages == npages) {
			*p = f->next;
			r = f;
		} else {
			r = calloc(1, sizeof(*r));
			if (!r)
				return -ENOMEM;
			r->base = f->base;
			f->base += npages;
			f->npages -= npages;
		}
		break;
	}
	if (!r) {
		if (pool->bump + npages > pool->capacity_pages)
			return -ENOSPC;
		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		r->base = pool->bump;
		pool->bump += npages;
	}
	r->npages = npages;
	r->live = 0;
	r->owner = owner;
	r->next = pool->ranges;
	pool->ranges = r;
	set_range_of(pool, r, r);
	*ret_range = r;
	return 0;
}

void pool__range_retire(struct mm_pool *pool, struct mm_range *range)
{
	range->owner = NULL;
	if (range->live == 0)
		range_free(pool, range);
}

void pool__frame_get(struct mm_pool *pool, uint64_t pfn)
{
	struct mm_frame *f = pool__frame(pool, pfn);

	if (f->refcount++ == 0) {
		range_of(pool, pfn)->live++;
		pool->stats.frames_in_use++;
	}
}

void pool__frame_put(struct mm_pool *pool, uint64_t pfn)
{
	struct mm_frame *f = pool__frame(pool, pfn);
	struct mm_range *r = range_of(pool, pfn);

	MM_WARN_ON(f->refcount == 0 || f->refcount < f->mapcount + f->pincount);
	if (--f->refcount)
		return;
	/* Last reference gone: the frame is free, its memory goes back. */
	punch(pool, pfn, 1);
	pool->stats.frames_in_use--;
	if (--r->live == 0 && !r->owner)
		range_free(pool, r);
}

/*
 * A copy of @src_pfn (NO_PFN: zeros) outside any home: only when a space's
 * home slot is unexpectedly busy. Scattered frames cost a VMA each, so this
 * is a fallback, not a path. Returns the frame with one reference.
 */
int pool__scratch_copy(struct mm_pool *pool, uint64_t src_pfn, uint64_t *ret_pfn)
{
	struct mm_range *r;
	int err = pool__range_alloc(pool, SCRATCH_PAGES, NULL, &r);

	if (err)
		return err;
	/*
	 * An ownerless range is freed when its last live frame goes. The rest
	 * of the range stays unused: scratch frames are rare by design.
	 */
	err = pool__frame_fill(pool, r->base, src_pfn);
	if (err) {
		range_free(pool, r); /* no live frame: nothing else frees it */
		return err;
	}
	*ret_pfn = r->base;
	return 0;
}

/*
 * Copy frame @src_pfn (NO_PFN: zeros) into the free frame @dst_pfn and take
 * its first reference. pwrite, not memcpy through the direct map: a store
 * into a hole makes shmem allocate and clear a page we then overwrite; a
 * full-page write allocates it without clearing. A free frame is punched,
 * so it already reads zero.
 */
int pool__frame_fill(struct mm_pool *pool, uint64_t dst_pfn, uint64_t src_pfn)
{
	MM_WARN_ON(pool__frame(pool, dst_pfn)->refcount);
	if (pool->inject_copy_failures) {
		pool->inject_copy_failures--;
		return pool->inject_copy_err ? pool->inject_copy_err : -ENOMEM;
	}
	if (src_pfn != NO_PFN) {
		ssize_t n = pwrite(pool->memfd, pool__direct(pool, src_pfn), MM_PAGE_SIZE,
				   (off_t)(dst_pfn << MM_PAGE_SHIFT));

		if (n != (ssize_t)MM_PAGE_SIZE)
			return n < 0 ? -errno : -ENOSPC;
	}
	pool__frame_get(pool, dst_pfn);
	return 0;
}

void pool__stat_add(struct mm_space *space, size_t offset, uint64_t n)
{
	*(uint64_t *)((char *)&space->stats + offset) += n;
	*(uint64_t *)((char *)&space->pool->stats + offset) += n;
}

static uint64_t read_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long long v = 65530;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

static int pool_map(struct mm_pool *pool)
{
	size_t frames_len = pool->capacity_pages * sizeof(struct mm_frame);
	size_t chunks = pool->capacity_pages >> MM_LARGE_ORDER;

	pool->memfd = memfd_create("vmm-guest-memory", MFD_CLOEXEC);
	if (pool->memfd < 0)
		return -errno;
	if (ftruncate(pool->memfd, (off_t)(pool->capacity_pages << MM_PAGE_SHIFT)) < 0)
		return -errno;
	pool->direct = mmap(NULL, pool->capacity_pages << MM_PAGE_SHIFT, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_NORESERVE, pool->memfd, 0);
	if (pool->direct == MAP_FAILED) {
		pool->direct = NULL;
		return -errno;
	}
	pool->frames = mmap(NULL, frames_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pool->frames == MAP_FAILED) {
		pool->frames = NULL;
		return -errno;
	}
	/* Frame structs are touched in bulk (clone, adopt): fault them in 2 MiB at a time. */
	(void)madvise(pool->frames, frames_len, MADV_HUGEPAGE);
	pool->range_of = calloc(chunks, sizeof(*pool->range_of));
	if (!pool->range_of)
		return -ENOMEM;
	return 0;
}

static void pool_unmap(struct mm_pool *pool)
{
	free(pool->range_of);
	if (pool->frames)
		munmap(pool->frames, pool->capacity_pages * sizeof(struct mm_frame));
	if (pool->direct)
		munmap(pool->direct, pool->capacity_pages << MM_PAGE_SHIFT);
	if (pool->memfd >= 0)
		close(pool->memfd);
}

/*
 * Create the pool's memfd, direct map and frame table for @capacity bytes.
 * Unless @exact, settle for less where less address space is to be had
 * (ThreadSanitizer's layout, a ulimit -v), down to MIN_DEFAULT_CAPACITY.
 */
int pool__init(struct mm_pool *pool, uint64_t capacity, bool exact)
{
	int err;

	pool->memfd = -1;
	pool->capacity_pages = capacity >> MM_PAGE_SHIFT;
	pool->vma_soft_limit = read_max_map_count() / 4;
	pool->vma_extra = pool->vma_soft_limit;
	err = pool_map(pool);
	while (err == -ENOMEM && !exact &&
	       (pool->capacity_pages << MM_PAGE_SHIFT) > MIN_DEFAULT_CAPACITY) {
		pool_unmap(pool);
		pool->memfd = -1;
		pool->direct = NULL;
		pool->frames = NULL;
		pool->range_of = NULL;
		pool->capacity_pages /= 2;
		err = pool_map(pool);
	}
	if (err)
		pool_unmap(pool);
	return err;
}

/* Undo pool__init; every range must have been freed. */
void pool__fini(struct mm_pool *pool)
{
	MM_WARN_ON(pool->ranges != NULL);
	while (pool->free_ranges) {
		struct mm_range *r = pool->free_ranges;

		pool->free_ranges = r->next;
		free(r);
	}
	pool_unmap(pool);
}

/* What the memfd holds, in bytes. */
uint64_t pool__host_bytes(struct mm_pool *pool)
{
	struct stat st;

	if (fstat(pool->memfd, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}
