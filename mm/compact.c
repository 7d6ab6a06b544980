// SPDX-License-Identifier: MIT
/*
 * compact.c: keeps every space within MM_SPACE_VMAS host mappings.
 *
 * Each break in the memfd-offset contiguity of a space's pages is a kernel
 * VMA (map.c counts them in space->runs), and vm.max_map_count (65530) holds
 * for the whole process. Private copies go to the space's home, 1:1 with its
 * gfns, but a private page between shared ones still breaks its neighbours'
 * run in three: a guest writing one word every 17 pages after a clone makes
 * two mappings per write, and would drive the process to the limit.
 *
 * The budget: every space may have MM_SPACE_VMAS mappings; beyond that, all
 * spaces of the process (every pool) share an allowance: a space may grow
 * past MM_SPACE_VMAS while their excess over MM_SPACE_VMAS each stays within
 * its pool's vma_extra (default: max_map_count / 4; map.c keeps the total).
 * So a few VMs writing scattered pages keep their memory shared, and 1025
 * VMs (vmm's limit) still fit: the process's spaces never hold more than
 * MM_SPACE_VMAS * nspaces + the largest vma_extra mappings together (plus
 * two per pinned frame outside its home, below).
 *
 * The rule: before any change that can add mappings to a published space -
 * a copy on a write fault, a pin's unshare, a reset's unshare, a discard,
 * each adding at most two (the breaks at the two ends of one contiguous
 * change) - compact__make_room checks that the space fits the budget with
 * two more. If not, the space is compacted: its "foreign segments" (maximal
 * runs of entries not in its home) are filled with copies in the home,
 * shortest first, until its mappings are halved (or down to
 * MM_SPACE_VMAS / 2), so the next compaction is many islands away. Filling
 * a segment removes the breaks at its ends: each fill of a fully movable
 * segment takes at least one mapping away. A clone compacts the parent
 * first when the child (which starts with the parent's layout) would not
 * fit, and the child's table before it is mapped (compact__table).
 *
 * Moving an entry into its home slot keeps every mm semantic:
 *   - a shared frame is copied, as a write fault would copy it (same
 *     contents, same references dropped; a resettable clone's clone-point
 *     reference stays, and the page goes on the dirty list);
 *   - an exclusive frame that is not pinned is write-protected first, so a
 *     writer waits (on the fault thread, which waits for our lock) until the
 *     copy is mapped, then copied and remapped;
 *   - a pinned frame never moves (it stays the device's and the guest's
 *     page), so each pinned frame outside the home may cost two mappings
 *     more;
 *   - a page a snapshot still waits for is handed to the hook first, since
 *     its copy is mapped writable.
 * The moved pages are private, exclusive and (for a resettable clone) dirty:
 * writable is right for them, except during mm_space_reset, which wants
 * every page it restores write-protected (@wp).
 *
 * Bound, at every moment and whatever the guests write: the excess of the
 * process's spaces over MM_SPACE_VMAS adds up to the largest vma_extra at
 * most, plus two per pinned frame outside its space's home. Cost: a page moves at most once
 * between two clones (a moved page is home and exclusive), so compaction
 * copies at most the space's size per clone; a compaction scans the table
 * once per 16 segments it fills, skipping 2 MiB blocks without breaks.
 *
 * Invariants (pool->lock held): a compaction changes which frame backs a
 * page, never what the page reads.
 *
 * Layer: above snapshot. May call: snapshot, map, pool.
 */
#include <errno.h>

#include "internal.h"

#define COMPACT_FLOOR (MM_SPACE_VMAS / 2)
#define COMPACT_BATCH 16 /* segments found per scan of the table */

struct segment {
	uint64_t gfn, n;
};

static inline uint64_t home_pfn(struct mm_space *space, uint64_t gfn)
{
	return space->home->base + gfn;
}

static bool foreign(struct mm_space *space, uint64_t gfn)
{
	return space->ptes[gfn].pfn != home_pfn(space, gfn);
}

/*
 * Present (a hole is always home), not pinned, and its home slot free - it
 * is by the home invariant (internal.h); checked, never assumed.
 */
static bool movable(struct mm_space *space, uint64_t gfn)
{
	const struct mm_pte *pte = &space->ptes[gfn];
	struct mm_pool *pool = space->pool;

	return (pte->flags & PTE_PRESENT) && foreign(space, gfn) &&
	       !pool__frame(pool, pte->pfn)->pincount &&
	       !pool__frame(pool, home_pfn(space, gfn))->refcount;
}

/* Keep the COMPACT_BATCH shortest segments seen, sorted by length. */
static void keep_shortest(struct segment *segs, unsigned *n, struct segment s)
{
	unsigned i = *n < COMPACT_BATCH ? (*n)++ : COMPACT_BATCH;

	if (i == COMPACT_BATCH) {
		if (s.n >= segs[COMPACT_BATCH - 1].n)
			return;
		i = COMPACT_BATCH - 1;
	}
	while (i > 0 && segs[i - 1].n > s.n) {
		segs[i] = segs[i - 1];
		i--;
	}
	segs[i] = s;
}

/* The first break after @gfn (npages if none): skips blocks without any. */
static uint64_t next_break(struct mm_space *space, uint64_t gfn)
{
	for (uint64_t g = gfn + 1; g < space->npages; g++) {
		if (!(g & (MM_LARGE_PAGES - 1)) && !space->block_breaks[g >> MM_LARGE_ORDER]) {
			g += MM_LARGE_PAGES - 1;
			continue;
		}
		if (space->ptes[g].pfn != space->ptes[g - 1].pfn + 1)
			return g;
	}
	return space->npages;
}

/*
 * The shortest foreign segments holding at least one movable entry. A run
 * (between two breaks) is foreign or home as a whole, since a home entry's
 * contiguous neighbour is home too.
 */
static unsigned find_segments(struct mm_space *space, struct segment *segs)
{
	unsigned n = 0;

	for (uint64_t g = 0; g < space->npages;) {
		uint64_t end = next_break(space, g);

		if (!foreign(space, g)) {
			g = end;
			continue;
		}
		struct segment s = {.gfn = g};
		bool any = false;

		while (g < space->npages && foreign(space, g)) {
			for (; !any && g < end; g++)
				any = movable(space, g);
			g = end;
			if (g < space->npages)
				end = next_break(space, g);
		}
		s.n = g - s.gfn;
		if (any)
			keep_shortest(segs, &n, s);
	}
	return n;
}

/* Stop the writers of gfn..gfn+n: write-protect what is writable. */
static int stop_writers(struct mm_space *space, uint64_t gfn, uint64_t n)
{
	for (uint64_t g = gfn; g < gfn + n;) {
		if (space->ptes[g].flags & PTE_WP) {
			g++;
			continue;
		}
		uint64_t s = g;

		while (g < gfn + n && !(space->ptes[g].flags & PTE_WP))
			g++;
		int err = map__protect(space, s, g - s, true);

		if (err)
			return err;
	}
	return 0;
}

/*
 * Move the movable run gfn..gfn+n into the home slots. @mapped: the space
 * has a host mapping (else only the table changes: a clone's child before it
 * is mapped).
 */
static int move_run(struct mm_space *space, uint64_t gfn, uint64_t n, bool mapped, bool wp)
{
	struct mm_pool *pool = space->pool;
	uint64_t done = 0;
	int err = 0;

	if (mapped) {
		for (uint64_t g = gfn; g < gfn + n; g++)
			if (space->ptes[g].flags & PTE_SNAP)
				snapshot__save(space, g);
		err = stop_writers(space, gfn, n);
		if (err)
			return err;
	}
	for (; done < n; done++) {
		err = pool__frame_fill(pool, home_pfn(space, gfn + done),
				       space->ptes[gfn + done].pfn);
		if (err)
			goto err_put;
	}
	if (mapped) {
		err = map__pages(space, gfn, n, home_pfn(space, gfn));
		if (err)
			goto err_put;
	}
	map__install_copy(space, gfn, n, home_pfn(space, gfn));
	STAT_ADD(space, compact_copies, n);
	/* PTE_WP is exact on failure: the pages are only slower to write. */
	return mapped && wp ? map__protect(space, gfn, n, true) : 0;

err_put:
	while (done)
		pool__frame_put(pool, home_pfn(space, gfn + --done));
	return err;
}

/* Fill one foreign segment, around its immovable entries; counts the moves. */
static int fill(struct mm_space *space, struct segment s, bool mapped, bool wp,
		uint64_t *moved)
{
	for (uint64_t g = s.gfn; g < s.gfn + s.n;) {
		if (!movable(space, g)) {
			g++;
			continue;
		}
		uint64_t a = g;

		while (g < s.gfn + s.n && movable(space, g))
			g++;
		int err = move_run(space, a, g - a, mapped, wp);

		if (err)
			return err;
		*moved += g - a;
	}
	return 0;
}

/* Fill the shortest foreign segments until runs <= @target; @ret_moved: any? */
static int compact(struct mm_space *space, uint64_t target, bool mapped, bool wp,
		   bool *ret_moved)
{
	*ret_moved = false;
	while (space->runs > target) {
		struct segment segs[COMPACT_BATCH];
		unsigned n = find_segments(space, segs);
		uint64_t moved = 0;

		for (unsigned i = 0; i < n && space->runs > target; i++) {
			int err = fill(space, segs[i], mapped, wp, &moved);

			*ret_moved = *ret_moved || moved;
			if (err)
				return err;
		}
		if (!moved)
			return 0; /* only pinned frames keep it above the target */
	}
	return 0;
}

/*
 * Would the budget hold with @space at @runs mappings and, for a clone about
 * to be made, a second space at @child_runs (0: none)? The process's spaces'
 * excess over MM_SPACE_VMAS each may reach the pool's vma_extra.
 */
bool compact__fits(struct mm_space *space, uint64_t runs, uint64_t child_runs)
{
	uint64_t add = map__excess(runs) + map__excess(child_runs);

	if (!add)
		return true;
	return map__excess_total() - map__excess(space->runs) + add <= space->pool->vma_extra;
}

/* Compact @space until the budget holds with it at runs + @add (and a child). */
static int make_fit(struct mm_space *space, uint64_t add, uint64_t child_runs, bool mapped,
		    bool wp)
{
	bool counted = false;

	while (!compact__fits(space, space->runs + add, child_runs ? space->runs : 0)) {
		uint64_t target = space->runs / 2 > COMPACT_FLOOR ? space->runs / 2 : COMPACT_FLOOR;
		bool moved;
		int err;

		if (!counted) {
			STAT_INC(space, compactions);
			counted = true;
		}
		err = compact(space, target, mapped, wp, &moved);
		if (err || !moved)
			return err;
	}
	return 0;
}

/*
 * Before a change that adds at most two mappings to published @space: make
 * room for it. @wp: write-protect the pages it moves (mm_space_reset).
 * Fails (-ENOMEM, -ENOSPC) only when a copy or a mapping does; the caller
 * then fails its change, so the bound holds even then.
 */
int compact__make_room(struct mm_space *space, bool wp)
{
	return make_fit(space, 2, 0, true, wp);
}

/*
 * Before cloning published @parent (before it is write-protected: the pages
 * moved are mapped writable): room for a child with the parent's layout.
 */
int compact__before_clone(struct mm_space *parent)
{
	return make_fit(parent, 0, 1, true, false);
}

/* A child's table (runs counted, nothing mapped yet) within the budget. */
int compact__table(struct mm_space *space)
{
	return make_fit(space, 0, 0, false, false);
}
