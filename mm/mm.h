/* SPDX-License-Identifier: MIT */
/*
 * mm: the guest memory manager.
 *
 * Guest memory lives in one memfd per pool. A frame is one 4 KiB page of it;
 * 512 aligned frames form a large frame. An address space (one per VM) is a
 * guest-physical range with a host mapping (what a KVM memory slot points
 * at) and a table gfn -> frame. Spaces are cloned copy-on-write; write faults
 * arrive through userfaultfd write-protect and are resolved the way Linux's
 * do_wp_page resolves them: reuse a frame only when we hold its only
 * reference, otherwise copy. Devices reach guest memory only through pins
 * (mm_pin), which unshare first and are never silently unshared afterwards.
 *
 * Locking: every exported function takes the pool lock itself; none may be
 * called from a snapshot hook or a fault-error callback (they run under the
 * pool lock). All functions return 0 or a negative errno.
 */
#ifndef MM_MM_H
#define MM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define MM_PAGE_SHIFT 12
#define MM_PAGE_SIZE (1UL << MM_PAGE_SHIFT)
#define MM_LARGE_ORDER 9
#define MM_LARGE_PAGES (1UL << MM_LARGE_ORDER)
#define MM_LARGE_SIZE (MM_PAGE_SIZE << MM_LARGE_ORDER)

/*
 * Host mappings (kernel VMAs). Each break in the memfd-offset contiguity of a
 * space's pages is one, and vm.max_map_count (65530 by default) holds for
 * the whole process. Whatever the guests write, every space may use
 * MM_SPACE_VMAS mappings, and all spaces of the process (every pool) share
 * an allowance beyond that: their excess may reach a pool's vma_extra
 * (mm_pool_config; default max_map_count / 4). The process's spaces never
 * use more than MM_SPACE_VMAS * nspaces + the largest vma_extra together,
 * plus two for each pinned frame outside its space's home (a pinned frame
 * never moves). Past its budget a space is compacted: mm copies the pages
 * between its private runs into its home (mm/compact.c), trading memory (at
 * most the space's size per clone) for mappings. vmm's VM limit,
 * 1025 x 32 + 16382 = 49182, leaves 16k of 65530 for the rest of the process.
 */
#define MM_SPACE_VMAS 32
#define MM_VMA_EXTRA_NONE UINT64_MAX /* mm_pool_config.vma_extra: no sharing */

#define __mm_must_check __attribute__((warn_unused_result))

struct mm_pool;
struct mm_space;
struct mm_pin;

/* Counters, like /proc/vmstat. Pool-wide and per space (same struct). */
struct mm_stats {
	uint64_t faults;	   /* write-protect faults served */
	uint64_t reuses;	   /* fault resolved by reusing the frame (4 KiB) */
	uint64_t reuses_large;	   /* fault resolved by reusing a whole large frame */
	uint64_t copies;	   /* fault resolved by copying into a new frame */
	uint64_t copies_around;	   /* extra neighbour copies made to keep VMAs merged */
	uint64_t compactions;	   /* times a space was compacted to stay within MM_SPACE_VMAS */
	uint64_t compact_copies;   /* pages copied or moved into their home by compactions */
	uint64_t unshare_copies;   /* pin unshared a shared frame by copying it */
	uint64_t unshare_reuses;   /* pin unshared by marking the only reference exclusive */
	uint64_t pins;		   /* pages pinned */
	uint64_t unpins;	   /* pages unpinned */
	uint64_t clone_pinned_copies; /* pinned frames copied for a child at clone */
	uint64_t clones;
	uint64_t resets;
	uint64_t reset_pages;	      /* pages restored by resets */
	uint64_t reset_pinned_in_place; /* pinned pages whose contents a reset restored in place */
	uint64_t discards;	      /* pages discarded */
	uint64_t snapshot_saves;      /* snapshot hook calls */
	uint64_t fault_errors;	      /* faults that could not be resolved */
	/* Gauges (pool-wide values in both pool and space stats where noted). */
	uint64_t frames_in_use;	  /* frames holding a reference (space: mapped by it) */
	uint64_t host_bytes;	  /* memory the memfd holds (pool only) */
	uint64_t vmas;		  /* host mappings (runs) in use */
	uint64_t pinned_pages;	  /* pages currently pinned */
};

struct mm_pool_config {
	uint64_t capacity;	   /* memfd offset space in bytes; 0 = default (1 TiB) */
	uint64_t vma_soft_limit;   /* VMA count above which copies fill gaps; 0 = default */
	uint64_t vma_extra;	   /* allowance beyond MM_SPACE_VMAS a space (above); 0 = default */
};

/*
 * Fault-error report: the fault at @gpa in @space could not be resolved;
 * @err is a negative errno. The writer stays asleep until
 * mm_space_retry_faults resolves it or the space is destroyed.
 */
typedef void (*mm_fault_error_fn)(void *arg, struct mm_space *space, uint64_t gpa, int err);

__mm_must_check int mm_pool_create(const struct mm_pool_config *cfg, struct mm_pool **ret_pool);
/* Destroys the pool. Every space must have been destroyed (else -EBUSY). NULL: no-op. */
int mm_pool_destroy(struct mm_pool *pool);
void mm_pool_stats(struct mm_pool *pool, struct mm_stats *ret_stats);
/* The allowance beyond MM_SPACE_VMAS a space that this pool's spaces share (0: none). */
uint64_t mm_pool_vma_extra(const struct mm_pool *pool);
/* Counts the process's VMAs inside this pool's spaces from /proc/self/maps. */
__mm_must_check int mm_pool_count_vmas(struct mm_pool *pool, uint64_t *ret_count);
/*
 * The same, and the process's mappings (/proc/self/maps lines; @ret_process
 * may be NULL), read at one moment for mm: under the pool lock.
 */
__mm_must_check int mm_pool_count_maps(struct mm_pool *pool, uint64_t *ret_pool,
				       uint64_t *ret_process);
/* Test hook: make the next @n frame copies fail with @err (0 disables). */
void mm_pool_inject_copy_failure(struct mm_pool *pool, unsigned n, int err);

/*
 * Create a zero-filled space of @size bytes (multiple of 4 KiB), populated
 * lazily: memory is allocated when the guest first touches a page. A read
 * allocates too (shmem has no shared zero page), so a read page counts as a
 * frame from then on, exclusive to the space.
 */
__mm_must_check int mm_space_create(struct mm_pool *pool, uint64_t size,
				    struct mm_space **ret_space);
/* Destroys a space; pinned pages make it fail with -EBUSY. NULL is a no-op. */
int mm_space_destroy(struct mm_space *space);
void *mm_space_hva(const struct mm_space *space);
uint64_t mm_space_size(const struct mm_space *space);
void mm_space_stats(struct mm_space *space, struct mm_stats *ret_stats);
void mm_space_set_fault_error_fn(struct mm_space *space, mm_fault_error_fn fn, void *arg);
/* Retry faults that failed earlier (after the owner freed resources). */
__mm_must_check int mm_space_retry_faults(struct mm_space *space);

#define MM_CLONE_RESETTABLE 0x1 /* keep the clone point so mm_space_reset works */

/*
 * Clone @parent copy-on-write. The parent may keep running: it is
 * write-protected first, so the child sees exactly the parent's contents at
 * the clone point. Pinned frames are copied for the child at once.
 */
__mm_must_check int mm_space_clone(struct mm_space *parent, unsigned flags,
				   struct mm_space **ret_child);

#define MM_RESET_REFUSE_PINNED 0x1 /* -EBUSY if a pinned page would need restoring */

/*
 * Reset a MM_CLONE_RESETTABLE clone to its clone point: private frames are
 * dropped and the clone-point frames mapped back write-protected. Cost is
 * proportional to the pages written since the clone or the last reset.
 * A pinned page is never replaced: its contents are restored in place (the
 * device keeps seeing the guest's page), or with MM_RESET_REFUSE_PINNED the
 * reset fails with -EBUSY and changes nothing. @ret_restored may be NULL.
 */
__mm_must_check int mm_space_reset(struct mm_space *space, unsigned flags,
				   uint64_t *ret_restored);

/*
 * Reset for a caller that tracks writes itself (a VMM with KVM's dirty log):
 * like mm_space_reset, but the dirty pages are not write-protected again.
 * The clone's own frames stay writable across resets, so its next writes to
 * them cost no fault - and mm does not see them: the caller passes them in
 * @dirty, a bitmap of one bit per page (all pages written since the last
 * reset that mm may not have seen: the guest's, by KVM's dirty log, and its
 * own host writes). Pages still shared with the clone point stay
 * write-protected, so a first write still copies and mm lists it. Nothing
 * may write the space during the call. Once a clone was reset this way,
 * keep resetting it this way (mm_space_reset relies on mm seeing every write).
 */
__mm_must_check int mm_space_reset_tracked(struct mm_space *space, const uint64_t *dirty,
					   unsigned flags, uint64_t *ret_restored);

/* Balloon-style discard: frames released, pages read zero. Pinned: -EBUSY. */
__mm_must_check int mm_space_discard(struct mm_space *space, uint64_t gpa, uint64_t len);

#define MM_PIN_WRITE 0x1    /* device writes (R/W pin); else read-only */
#define MM_PIN_LONGTERM 0x2 /* FOLL_LONGTERM */

/*
 * Pin [gpa, gpa+len) for DMA. Pages not anon-exclusive are unshared first
 * (copied if shared, marked exclusive if not), read-only pins included. The
 * returned iovecs stay valid and keep addressing the guest's own frames until
 * mm_unpin, whatever clone, snapshot, reset or discard happen meanwhile.
 */
__mm_must_check int mm_pin(struct mm_space *space, uint64_t gpa, uint64_t len, unsigned flags,
			   struct mm_pin **ret_pin);
void mm_unpin(struct mm_pin *pin); /* NULL: no-op */
const struct iovec *mm_pin_iov(const struct mm_pin *pin, unsigned *ret_niov);

/*
 * Snapshot write-protection: write-protect the whole space without cloning
 * it; @fn gets each page's contents at the snapshot point exactly once,
 * either before the page's first write goes through (from the fault thread)
 * or when mm_space_snapshot_page saves it. @old is NULL for a page that reads
 * as zero. Pages under a R/W pin are handed over at once, since a device may
 * write them at any time. The frames stay the guest's. @fn runs under the
 * pool lock: copy and return.
 */
typedef void (*mm_snapshot_fn)(void *arg, uint64_t gfn, const void *old);
__mm_must_check int mm_space_snapshot_begin(struct mm_space *space, mm_snapshot_fn fn, void *arg);
/*
 * Hand over page @gfn now if still pending; 1 if it was, 0 if done already,
 * -EINVAL if no snapshot is active (or has ended) or @gfn is out of range.
 */
__mm_must_check int mm_space_snapshot_page(struct mm_space *space, uint64_t gfn);
/*
 * Hand over every page of [gfn, gfn+n) still pending, then lift the
 * protection of those that need no more faults in one call (cheaper than
 * page by page). @ret_saved (may be NULL) gets how many were handed over.
 * -EINVAL as for mm_space_snapshot_page.
 */
__mm_must_check int mm_space_snapshot_range(struct mm_space *space, uint64_t gfn, uint64_t n,
					    uint64_t *ret_saved);
/* End the snapshot; pages still pending are dropped without a call. -EINVAL if none. */
int mm_space_snapshot_end(struct mm_space *space);

/* What backs one page, for tests and debugging. */
struct mm_page_info {
	uint64_t pfn;	    /* memfd page index */
	uint32_t refcount;  /* 0 for a page never touched or discarded */
	uint32_t mapcount;
	uint32_t pincount;
	bool present;	    /* holds a frame reference */
	bool write_protected;
	bool exclusive;	    /* anon-exclusive */
};
__mm_must_check int mm_space_page_info(struct mm_space *space, uint64_t gpa,
				       struct mm_page_info *ret_info);

/* What this kernel's userfaultfd offers mm (for `vmm doctor`). */
struct mm_uffd_caps {
	int open_err;	      /* 0, or why no userfaultfd could be created */
	uint64_t features;    /* UFFDIO_API features offered */
	int wp_shmem_err;     /* 0 if write-protecting a memfd mapping works */
	int wp_multi_vma_err; /* 0 if one UFFDIO_WRITEPROTECT may span VMAs */
	bool wp_unpopulated;  /* UFFD_FEATURE_WP_UNPOPULATED */
	bool wp_async;	      /* UFFD_FEATURE_WP_ASYNC */
	bool move;	      /* UFFDIO_MOVE */
	/*
	 * mm's fallbacks: wp_per_vma when one UFFDIO_WRITEPROTECT may not span
	 * VMAs (kernels before 6.4) - mm then issues one per VMA. Forced on any
	 * kernel by MM_UFFD_FALLBACK=1 in the environment (a test knob).
	 */
	bool wp_per_vma;
	bool fallback_forced;
};
/*
 * Probe (once per process; later calls return the same answer). mm needs
 * open_err and wp_shmem_err 0 (Linux 5.19+); a wp_multi_vma_err only costs
 * more ioctls (wp_per_vma).
 */
void mm_probe_uffd(struct mm_uffd_caps *ret_caps);

#endif
