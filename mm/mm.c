// SPDX-License-Identifier: MIT
/*
 * mm.c: the pool's public lifecycle and pool-wide queries.
 *
 * The top of mm's layers: the only file that wires the bottom (uffd.c's
 * fault thread) to the fault path above it, by handing fault__handle to
 * uffd__open. Keeping that here is what keeps the layers free of cycles.
 *
 * Invariants: a pool is destroyed only with no space left (-EBUSY); its
 * fault thread is stopped before its memory goes.
 *
 * May call: pool, map, fault, uffd.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_CAPACITY (1ULL << 40) /* 1 TiB of memfd offsets: sparse, costs nothing */

int mm_pool_create(const struct mm_pool_config *cfg, struct mm_pool **ret_pool)
{
	uint64_t capacity = cfg && cfg->capacity ? cfg->capacity : DEFAULT_CAPACITY;
	struct mm_pool *pool;
	int err;

	if (capacity % MM_LARGE_SIZE)
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pthread_mutex_init(&pool->lock, NULL);
	/* The default is only address space; an explicit capacity is taken or refused. */
	err = pool__init(pool, capacity, cfg && cfg->capacity);
	if (err)
		goto err_free;
	if (cfg && cfg->vma_soft_limit)
		pool->vma_soft_limit = cfg->vma_soft_limit;
	if (cfg && cfg->vma_extra)
		pool->vma_extra = cfg->vma_extra == MM_VMA_EXTRA_NONE ? 0 : cfg->vma_extra;
	err = uffd__open(pool, fault__handle);
	if (err)
		goto err_fini;
	*ret_pool = pool;
	return 0;

err_fini:
	pool__fini(pool);
err_free:
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	return err;
}

int mm_pool_destroy(struct mm_pool *pool)
{
	if (!pool)
		return 0;
	pthread_mutex_lock(&pool->lock);
	if (pool->spaces) {
		pthread_mutex_unlock(&pool->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&pool->lock);
	uffd__close(pool);
	pool__fini(pool);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	return 0;
}

uint64_t mm_pool_vma_extra(const struct mm_pool *pool)
{
	return pool->vma_extra; /* set at create, never changed */
}

void mm_pool_stats(struct mm_pool *pool, struct mm_stats *ret_stats)
{
	pthread_mutex_lock(&pool->lock);
	pool->stats.vmas = 0;
	for (struct mm_space *s = pool->spaces; s; s = s->next) {
		/* Pages the guests wrote without a fault become frames here. */
		(void)map__adopt_populated(s);
		pool->stats.vmas += s->runs;
	}
	*ret_stats = pool->stats;
	ret_stats->host_bytes = pool__host_bytes(pool);
	pthread_mutex_unlock(&pool->lock);
}

int mm_pool_count_maps(struct mm_pool *pool, uint64_t *ret_pool, uint64_t *ret_process)
{
	char line[512];
	uint64_t n = 0, all = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -errno;
	/* mm maps and unmaps only under the lock: the count is one moment's. */
	pthread_mutex_lock(&pool->lock);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		all++;
		for (struct mm_space *s = pool->spaces; s; s = s->next) {
			uintptr_t b = (uintptr_t)s->hva;

			if (start >= b && end <= b + (s->npages << MM_PAGE_SHIFT)) {
				n++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&pool->lock);
	fclose(f);
	*ret_pool = n;
	if (ret_process)
		*ret_process = all;
	return 0;
}

int mm_pool_count_vmas(struct mm_pool *pool, uint64_t *ret_count)
{
	return mm_pool_count_maps(pool, ret_count, NULL);
}

void mm_pool_inject_copy_failure(struct mm_pool *pool, unsigned n, int err)
{
	pthread_mutex_lock(&pool->lock);
	pool->inject_copy_failures = n;
	pool->inject_copy_err = err;
	pthread_mutex_unlock(&pool->lock);
}
