// SPDX-License-Identifier: MIT
/*
 * snapshot.c: live snapshot to a file and restore (see snapshot.h).
 *
 * vmm/snapshot owns live snapshots (this file) and the snapshot file
 * format (snapfile.c, snapfile-state.c). It may call vmm/vm and mm.
 * Public: snapshot.h, snapfile.h.
 *
 * Invariants:
 * - Between begin and finish/abort the space has an active mm snapshot
 *   whose hook writes each page to the file exactly once: from the fault
 *   thread before a guest write lands, or from the saver's walk.
 * - The file appears at its path only when complete (snapfile__commit).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "snapfile.h"
#include "snapshot.h"
#include "vm-state.h"

#define SAVE_BATCH 64 /* pages */

struct vm_snapshot {
	struct vm *vm;
	struct snapfile_writer *w;
	/*
	 * The saver's batch: pages mm hands over to the saver's own range call
	 * are copied here (under the pool lock, a memcpy) and written after it,
	 * in runs, outside the lock. Pages the fault path hands over (another
	 * thread) are written at once.
	 */
	pthread_t saver;
	uint64_t batch_gfn;
	bool batching;
	uint64_t staged[SAVE_BATCH / 64];
	uint8_t *stage;
	struct vm_state *state;
	const char *path;
	uint64_t t0, pause_ns;
	int err;		/* first page-write error (under the pool lock) */
};

/* mm's snapshot hook: under the pool lock, from any thread. */
static void save_page(void *arg, uint64_t gfn, const void *old)
{
	struct vm_snapshot *s = arg;
	int err;

	if (old && s->batching && pthread_equal(pthread_self(), s->saver) &&
	    gfn - s->batch_gfn < SAVE_BATCH) {
		uint64_t i = gfn - s->batch_gfn;

		memcpy(s->stage + i * MM_PAGE_SIZE, old, MM_PAGE_SIZE);
		s->staged[i / 64] |= 1ULL << (i % 64);
		return;
	}
	err = snapfile__write_page(s->w, gfn, old);

	if (err && !s->err)
		s->err = err;
}

int vm__snapshot_begin(struct vm *vm, const char *path, struct vm_snapshot **ret_snap,
		       char *ret_msg, size_t msg_len)
{
	struct vm_snapshot *s = calloc(1, sizeof(*s));
	struct mm_space *space = vm__space(vm);
	int err;

	if (!s)
		return -ENOMEM;
	if (vm__serves_syscalls(vm)) {
		snprintf(ret_msg, msg_len, "snapshots of Linux programs are not supported yet "
			 "(the file would not hold the process's descriptors and mappings)");
		free(s);
		return -EOPNOTSUPP;
	}
	s->stage = malloc(SAVE_BATCH * MM_PAGE_SIZE);
	if (!s->stage) {
		free(s);
		return -ENOMEM;
	}
	s->vm = vm;
	s->path = path;
	s->t0 = clock_now_ns();
	err = snapfile__create(path, mm_space_size(space), vm__nr_cpus(vm), &s->w);
	if (err) {
		if (err == -EEXIST)
			snprintf(ret_msg, msg_len, "%s: exists and is not a regular file (a device, "
				 "FIFO, socket, directory or symlink): not replaced", path);
		else
			snprintf(ret_msg, msg_len, "%s: cannot create the snapshot file: %s", path,
				 strerror(-err));
		free(s->stage);
		free(s);
		return err;
	}
	err = vm__save_state(vm, &s->state);
	if (!err)
		err = mm_space_snapshot_begin(space, save_page, s);
	if (err) {
		snprintf(ret_msg, msg_len, "%s: %s: %s", path, s->state ?
			 "write-protecting guest memory" : "saving the vCPU state", strerror(-err));
		vm_snapshot__abort(s);
		return err;
	}
	s->pause_ns = clock_now_ns() - s->t0;
	*ret_snap = s;
	return 0;
}

/* Hand over [gfn, gfn+n) and write what mm staged, in runs of pages. */
static int save_batch(struct vm_snapshot *s, struct mm_space *space, uint64_t gfn, uint64_t n)
{
	int err;

	memset(s->staged, 0, sizeof(s->staged));
	s->batch_gfn = gfn;
	s->batching = true;
	err = mm_space_snapshot_range(space, gfn, n, NULL);
	s->batching = false;
	for (uint64_t i = 0; !err && i < n;) {
		uint64_t j = i;

		while (j < n && (s->staged[j / 64] >> (j % 64) & 1))
			j++;
		if (j > i)
			err = snapfile__write_pages(s->w, gfn + i, s->stage + i * MM_PAGE_SIZE, j - i);
		i = j > i ? j : i + 1;
	}
	return err;
}

int vm_snapshot__finish(struct vm_snapshot *s, struct vm_snapshot_stats *ret_stats,
			char *ret_msg, size_t msg_len)
{
	struct mm_space *space = vm__space(s->vm);
	uint64_t npages = mm_space_size(space) / MM_PAGE_SIZE;
	int err = 0;

	/* In batches: the pool lock is held per batch, so guest faults wait little. */
	s->saver = pthread_self();
	for (uint64_t g = 0; g < npages && !err; g += SAVE_BATCH)
		err = save_batch(s, space, g, npages - g < SAVE_BATCH ? npages - g : SAVE_BATCH);
	mm_space_snapshot_end(space);
	if (!err)
		err = s->err;
	if (err) {
		snprintf(ret_msg, msg_len, "%s: saving guest memory: %s", s->path, strerror(-err));
		snapfile__abort(s->w);
	} else {
		err = snapfile__commit(s->w, s->state);
		if (err)
			snprintf(ret_msg, msg_len, "%s: writing the snapshot file: %s", s->path,
				 strerror(-err));
	}
	if (!err && ret_stats)
		*ret_stats = (struct vm_snapshot_stats){.pause_ns = s->pause_ns,
			.save_ns = clock_now_ns() - s->t0, .mem_bytes = npages * MM_PAGE_SIZE};
	vm_state__free(s->state);
	free(s->stage);
	free(s);
	return err;
}

void vm_snapshot__abort(struct vm_snapshot *s)
{
	if (!s)
		return;
	if (s->state)
		mm_space_snapshot_end(vm__space(s->vm)); /* -EINVAL if never begun */
	snapfile__abort(s->w);
	vm_state__free(s->state);
	free(s->stage);
	free(s);
}

int vm__restore_file(const char *path, const struct vm_config *cfg, struct vm **ret_vm,
		     char *ret_msg, size_t msg_len)
{
	struct vm_config vc = *cfg;
	struct snapfile *sf;
	struct vm *vm;
	int err;

	err = snapfile__open(path, &sf, ret_msg, msg_len);
	if (err)
		return err;
	vc.mem_size = snapfile__mem_size(sf);
	vc.nr_cpus = snapfile__nr_cpus(sf);
	vc.space = NULL;
	err = vm__create(&vc, &vm);
	if (err) {
		snprintf(ret_msg, msg_len, "%s: creating a VM of %llu MiB and %u vCPUs: %s", path,
			 (unsigned long long)(vc.mem_size >> 20), vc.nr_cpus, strerror(-err));
		snapfile__close(sf);
		return err;
	}
	err = snapfile__load_memory(sf, mm_space_hva(vm__space(vm)), ret_msg, msg_len);
	if (!err) {
		err = vm__restore_state(vm, snapfile__state(sf));
		if (err)
			snprintf(ret_msg, msg_len, "%s: KVM refused the saved vCPU state: %s", path,
				 strerror(-err));
	}
	snapfile__close(sf);
	if (err) {
		vm__destroy(vm);
		return err;
	}
	*ret_vm = vm;
	return 0;
}
