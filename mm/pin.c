// SPDX-License-Identifier: MIT
/*
 * pin.c: pins, our GUP with FOLL_PIN (and FOLL_LONGTERM).
 *
 * A device pins a guest range and gets iovecs into the pool's direct map:
 * it reads and writes the guest's frames themselves, from any thread,
 * without ever touching the guest's (possibly write-protected) mapping.
 *
 * Invariants (pool->lock held):
 * - Before a page is pinned it is unshared (FAULT_FLAG_UNSHARE): a shared
 *   frame is copied, an unshared one marked anon-exclusive - read-only pins
 *   included, so the device sees the owner's later writes and never a
 *   clone's.
 * - A frame with pincount > 0 is present and anon-exclusive in exactly one
 *   space and is never replaced in its mapping: not by a write fault (it is
 *   exclusive: reuse), not by clone (the child gets a copy), not by reset
 *   (restored in place), not by discard (-EBUSY), not by destroy (-EBUSY).
 *
 * Layer: above compact, beside clone. May call: compact, snapshot, map, pool.
 */
#include <errno.h>

#include "internal.h"

struct mm_pin {
	struct mm_space *space;
	uint64_t npages;
	uint64_t *pfns;
	unsigned niov;
	struct iovec iov[];
};

/* Unshare one page for a pin (FAULT_FLAG_UNSHARE), without pinning it yet. */
static int pin_unshare(struct mm_space *space, uint64_t gfn)
{
	struct mm_pte *pte = &space->ptes[gfn];
	uint64_t pfn;
	int err;

	/* The device may write at any time: hand the snapshot its page now. */
	if (pte->flags & PTE_SNAP)
		snapshot__save(space, gfn);
	if (!(pte->flags & PTE_PRESENT)) {
		map__adopt(space, gfn);
		map__mark_dirty(space, gfn); /* the device may write it */
		return 0;
	}
	if (pte->flags & PTE_EXCL)
		return 0;
	if (pool__frame(space->pool, pte->pfn)->refcount == 1) {
		pte->flags |= PTE_EXCL;
		STAT_INC(space, unshare_reuses);
		return 0;
	}
	/* A copy may add two mappings; a compaction may copy this page too. */
	err = compact__make_room(space, false);
	if (err)
		return err;
	if (pte->flags & PTE_EXCL) {
		STAT_INC(space, unshare_copies);
		return 0;
	}
	err = map__copy_frame(space, gfn, pte->pfn, &pfn);
	if (err)
		return err;
	err = map__pages(space, gfn, 1, pfn);
	if (err) {
		pool__frame_put(space->pool, pfn);
		return err;
	}
	map__install_copy(space, gfn, 1, pfn);
	STAT_INC(space, unshare_copies);
	return 0;
}

static int pin_unshare_range(struct mm_space *space, uint64_t gfn, uint64_t n)
{
	for (uint64_t g = gfn; g < gfn + n; g++) {
		int err = pin_unshare(space, g);

		if (err)
			return err;
	}
	/* Exclusive pages need no protection unless a snapshot waits for them. */
	return map__protect_unshared(space, gfn, n);
}

static struct mm_pin *pin_build(struct mm_space *space, uint64_t gpa, uint64_t len,
				uint64_t gfn, uint64_t n)
{
	struct mm_pool *pool = space->pool;
	unsigned niov = 1;

	for (uint64_t i = 1; i < n; i++)
		niov += space->ptes[gfn + i].pfn != space->ptes[gfn + i - 1].pfn + 1;
	struct mm_pin *pin = calloc(1, sizeof(*pin) + niov * sizeof(pin->iov[0]));

	if (!pin)
		return NULL;
	pin->pfns = malloc(n * sizeof(*pin->pfns));
	if (!pin->pfns) {
		free(pin);
		return NULL;
	}
	pin->space = space;
	pin->npages = n;
	uint64_t off = gpa & (MM_PAGE_SIZE - 1);
	uint64_t left = len;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t pfn = space->ptes[gfn + i].pfn;
		uint64_t chunk = MM_PAGE_SIZE - off < left ? MM_PAGE_SIZE - off : left;
		uint8_t *p = (uint8_t *)pool__direct(pool, pfn) + off;
		struct iovec *v = &pin->iov[pin->niov ? pin->niov - 1 : 0];

		if (pin->niov && (uint8_t *)v->iov_base + v->iov_len == p) {
			v->iov_len += chunk;
		} else {
			v = &pin->iov[pin->niov++];
			v->iov_base = p;
			v->iov_len = chunk;
		}
		pin->pfns[i] = pfn;
		left -= chunk;
		off = 0;
	}
	return pin;
}

int mm_pin(struct mm_space *space, uint64_t gpa, uint64_t len, unsigned flags,
	   struct mm_pin **ret_pin)
{
	struct mm_pool *pool = space->pool;
	uint64_t gfn, n;
	struct mm_pin *pin;
	int err;

	if (flags & ~(MM_PIN_WRITE | MM_PIN_LONGTERM))
		return -EINVAL;
	if (!len || gpa + len < gpa || gpa + len > space->npages << MM_PAGE_SHIFT)
		return -EINVAL;
	gfn = gpa >> MM_PAGE_SHIFT;
	n = ((gpa + len - 1) >> MM_PAGE_SHIFT) - gfn + 1;
	pthread_mutex_lock(&pool->lock);
	/* Unshare everything first: a failure leaves pages unshared, nothing pinned. */
	err = pin_unshare_range(space, gfn, n);
	if (err)
		goto out;
	pin = pin_build(space, gpa, len, gfn, n);
	if (!pin) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct mm_frame *f = pool__frame(pool, pin->pfns[i]);

		/* The device writes it behind any protection: it must be ours alone. */
		MM_WARN_ON(!(space->ptes[gfn + i].flags & PTE_EXCL));
		map__warn_unless_private(space, gfn + i);
		/* Device writes bypass protection: a reset must always restore it. */
		map__mark_dirty(space, gfn + i);
		if (f->pincount++ == 0)
			pool->stats.pinned_pages++;
		pool__frame_get(pool, pin->pfns[i]);
	}
	space->pins++;
	STAT_ADD(space, pins, n);
	*ret_pin = pin;
out:
	pthread_mutex_unlock(&pool->lock);
	return err;
}

void mm_unpin(struct mm_pin *pin)
{
	struct mm_space *space;
	struct mm_pool *pool;

	if (!pin)
		return;
	space = pin->space;
	pool = space->pool;
	pthread_mutex_lock(&pool->lock);
	for (uint64_t i = 0; i < pin->npages; i++) {
		struct mm_frame *f = pool__frame(pool, pin->pfns[i]);

		MM_WARN_ON(!f->pincount);
		if (--f->pincount == 0)
			pool->stats.pinned_pages--;
		pool__frame_put(pool, pin->pfns[i]);
	}
	space->pins--;
	STAT_ADD(space, unpins, pin->npages);
	pthread_mutex_unlock(&pool->lock);
	free(pin->pfns);
	free(pin);
}

const struct iovec *mm_pin_iov(const struct mm_pin *pin, unsigned *ret_niov)
{
	*ret_niov = pin->niov;
	return pin->iov;
}
