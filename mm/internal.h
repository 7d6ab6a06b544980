/* SPDX-License-Identifier: MIT */
/*
 * mm internals shared by the files of mm/. Not for users of mm.
 *
 * Everything here is protected by pool->lock unless a field says otherwise.
 *
 * Frames and references (the vocabulary of mm/memory.c):
 *   refcount = mapcount + pincount + origin references held by resettable
 *   clones. A frame with refcount 0 is free and its memory is punched out of
 *   the memfd. A pinned frame (pincount > 0) is mapped by exactly one space,
 *   which holds it anon-exclusive.
 *
 * Page table entries: a present entry holds one reference (and one mapping)
 * on entry->pfn. A non-present entry holds nothing and always addresses the
 * space's own home slot (home->base + gfn): the guest may have written it
 * directly (the memfd page is then populated but unaccounted); mm adopts such
 * pages (makes them present and exclusive) before it shares, pins, snapshots
 * or counts them.
 *
 * Home ranges: each space owns a home range of memfd pages laid out 1:1 with
 * its gfns; the copies it makes go there, so runs of private pages stay
 * contiguous and their mappings merge into few VMAs. A frame in a space's
 * current home is referenced only by that space's entry at the same gfn (its
 * mapping and its pins), never by another space or a clone point: clone
 * moves the parent to a fresh home when the current one holds frames (and
 * fails with nothing changed when the pool has no room for one), so the
 * shared frames stay behind in the old one; a resettable clone's early
 * copies of pinned frames, which are its clone point, live outside its home.
 * That is what lets discard and reset punch and write home slots.
 *
 * Who may write or punch a frame: only a space that holds it alone
 * (frame_private: one mapping, no reference but that mapping and its pins),
 * or nobody holds it (refcount 0: a hole's home slot, a fresh copy). Debug
 * builds check this at every such place (map__warn_unless_private).
 */
#ifndef MM_INTERNAL_H
#define MM_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "mm.h"

#ifdef NDEBUG
#define MM_WARN_ON(cond) ((void)0)
#else
#define MM_WARN_ON(cond)                                                                   \
	do {                                                                               \
		if (__builtin_expect(!!(cond), 0)) {                                       \
			fprintf(stderr, "mm: %s:%d: invariant broken: %s\n", __FILE__,     \
				__LINE__, #cond);                                          \
			abort();                                                           \
		}                                                                          \
	} while (0)
#endif

/* Page table entry flags. */
#define PTE_PRESENT 0x01 /* holds a reference on pfn */
#define PTE_WP 0x02	 /* write-protected through userfaultfd */
#define PTE_EXCL 0x04	 /* anon-exclusive: no other space or origin can reach pfn */
#define PTE_SNAP 0x08	 /* snapshot: contents not yet handed to the hook */
#define PTE_DIRTY 0x10	 /* differs from the clone point (on the reset list) */
#define PTE_STALLED 0x20 /* a fault here failed; retried by mm_space_retry_faults */

struct mm_pte {
	uint64_t pfn;
	uint32_t flags;
};

struct mm_frame {
	uint32_t refcount;
	uint32_t mapcount;
	uint32_t pincount;
	uint32_t pad;
};

/* Held by one mapping alone (and that mapping's pins): its space may write it. */
static inline bool frame_private(const struct mm_frame *f)
{
	return f->mapcount == 1 && f->refcount == 1 + f->pincount;
}

/* A range of memfd pages, 2 MiB aligned: a home, or a scratch chunk. */
struct mm_range {
	uint64_t base; /* first pfn */
	uint64_t npages;
	uint64_t live;		  /* frames with refcount > 0 inside */
	struct mm_space *owner;	  /* whose home this is; NULL once retired */
	struct mm_range *next;	  /* pool's list of ranges in use */
};

struct mm_uffd;

struct mm_pool {
	pthread_mutex_t lock;
	int memfd;
	uint64_t capacity_pages;
	uint8_t *direct;	 /* whole memfd mapped, never write-protected */
	struct mm_frame *frames; /* indexed by pfn */
	struct mm_range **range_of; /* per 2 MiB chunk: its range, or NULL */
	uint64_t bump;		    /* first never-used pfn */
	struct mm_range *free_ranges; /* reusable, sorted by nothing, first fit */
	struct mm_range *ranges;      /* in use */
	struct mm_space *spaces;      /* all live spaces */
	struct mm_uffd *uffd;
	struct mm_stats stats;
	uint64_t vma_soft_limit;
	uint64_t vma_extra; /* the process's spaces' excess over MM_SPACE_VMAS this pool's may grow to */
	unsigned inject_copy_failures;
	int inject_copy_err;
};

struct mm_space {
	struct mm_pool *pool;
	struct mm_space *next; /* pool->spaces */
	uint8_t *hva;
	uint64_t npages;
	struct mm_pte *ptes;
	struct mm_range *home;
	uint64_t runs; /* mappings (VMAs) this space uses */
	uint32_t *block_breaks; /* per 2 MiB block of gfns: breaks in it (map.c) */
	uint64_t nr_present; /* entries with PTE_PRESENT */
	unsigned pins; /* live mm_pin objects */
	bool published; /* on pool->spaces: its threads may run */
	struct mm_stats stats;
	/* Resettable clones: the clone-point frame of each gfn (or NO_PFN). */
	uint64_t *origin;
	uint64_t *dirty; /* gfns with PTE_DIRTY */
	uint64_t ndirty, dirty_cap;
	/* Snapshot */
	mm_snapshot_fn snap_fn;
	void *snap_arg;
	/* Fault errors */
	mm_fault_error_fn err_fn;
	void *err_arg;
	uint64_t stalled; /* entries with PTE_STALLED */
};

#define NO_PFN UINT64_MAX

/*
 * Layers, bottom up. A file calls only into the layers below it (and its
 * own); nothing calls up, so there is no call cycle between mm files.
 * tests/mm/check-layers.py checks this.
 *
 *   uffd.c, pool.c      userfaultfd kernel interface; frames and ranges
 *   map.c               a space's host mapping and page table entries
 *   snapshot.c          snapshot write-protection (snapshot__save)
 *   compact.c           keeping a space within MM_SPACE_VMAS mappings
 *   fault.c             the write-fault path (do_wp_page) and its handler
 *   space.c             create, destroy, discard, queries, retry
 *   clone.c, pin.c      clone and reset; pins
 *   mm.c                pool lifecycle: wires uffd's thread to fault__handle
 */

/* uffd.c: all userfaultfd code. Calls nothing in mm. */
typedef void (*uffd_handler_fn)(struct mm_pool *pool, uint64_t addr);
int uffd__open(struct mm_pool *pool, uffd_handler_fn handler);
void uffd__close(struct mm_pool *pool);
int uffd__register(struct mm_pool *pool, void *addr, uint64_t len);
int uffd__protect(struct mm_pool *pool, void *addr, uint64_t len, bool wp);
bool uffd__wp_per_vma(struct mm_pool *pool);
int uffd__wake(struct mm_pool *pool, void *addr, uint64_t len);

/* pool.c: frames and ranges. Calls nothing in mm. */
int pool__init(struct mm_pool *pool, uint64_t capacity, bool exact);
void pool__fini(struct mm_pool *pool);
uint64_t pool__host_bytes(struct mm_pool *pool);
struct mm_frame *pool__frame(struct mm_pool *pool, uint64_t pfn);
void *pool__direct(struct mm_pool *pool, uint64_t pfn);
int pool__range_alloc(struct mm_pool *pool, uint64_t npages, struct mm_space *owner,
		      struct mm_range **ret_range);
void pool__range_retire(struct mm_pool *pool, struct mm_range *range);
void pool__frame_get(struct mm_pool *pool, uint64_t pfn);
void pool__frame_put(struct mm_pool *pool, uint64_t pfn);
int pool__scratch_copy(struct mm_pool *pool, uint64_t src_pfn, uint64_t *ret_pfn);
int pool__frame_fill(struct mm_pool *pool, uint64_t dst_pfn, uint64_t src_pfn);
void pool__stat_add(struct mm_space *space, size_t offset, uint64_t n);
#define STAT_INC(space, field) pool__stat_add(space, offsetof(struct mm_stats, field), 1)
#define STAT_ADD(space, field, n) pool__stat_add(space, offsetof(struct mm_stats, field), n)

/* map.c: the host mapping of a space. Calls pool, uffd. */
int map__pages(struct mm_space *space, uint64_t gfn, uint64_t n, uint64_t pfn);
void map__install_copy(struct mm_space *space, uint64_t gfn, uint64_t n, uint64_t pfn);
void map__account_runs(struct mm_space *space, uint64_t gfn, uint64_t n, int sign);
uint64_t map__excess(uint64_t runs);
uint64_t map__excess_total(void);
void map__set_runs(struct mm_space *space, uint64_t runs);
int map__adopt_populated(struct mm_space *space);
void map__adopt(struct mm_space *space, uint64_t gfn);
int map__copy_frame(struct mm_space *space, uint64_t gfn, uint64_t src_pfn, uint64_t *ret_pfn);
void map__drop(struct mm_space *space, uint64_t gfn);
int map__discard(struct mm_space *space, uint64_t gfn, uint64_t n);
void map__warn_unless_private(struct mm_space *space, uint64_t gfn);
void map__mark_dirty(struct mm_space *space, uint64_t gfn);
int map__protect(struct mm_space *space, uint64_t gfn, uint64_t n, bool wp);
int map__protect_unshared(struct mm_space *space, uint64_t gfn, uint64_t n);
int map__remap(struct mm_space *space, uint64_t gfn, uint64_t n);
int map__protect_all(struct mm_space *space);

/* snapshot.c. Calls map, pool. */
void snapshot__save(struct mm_space *space, uint64_t gfn);

/* compact.c. Calls snapshot, map, pool. */
bool compact__fits(struct mm_space *space, uint64_t runs, uint64_t child_runs);
int compact__make_room(struct mm_space *space, bool wp);
int compact__before_clone(struct mm_space *parent);
int compact__table(struct mm_space *space);

/* fault.c: the write-fault path (do_wp_page). Calls compact, snapshot, map, pool, uffd. */
int fault__wp_page(struct mm_space *space, uint64_t gfn);
void fault__handle(struct mm_pool *pool, uint64_t addr);

/* space.c. Calls fault, compact, snapshot, map, pool, uffd. */
int space__alloc(struct mm_pool *pool, uint64_t npages, struct mm_space **ret_space);
void space__free(struct mm_space *s);
void space__publish(struct mm_space *s);

#endif
