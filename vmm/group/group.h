/* SPDX-License-Identifier: MIT */
/*
 * group: the VMs one `vmm run` controls - the first VM and every clone made
 * from it or from its clones - and the controlling loop that serves their
 * requests (HC_CLONE, HC_SNAPSHOT, the fuzzing hypercalls outside
 * `vmm fuzz`) and collects how each one ends.
 *
 * VMs are numbered: 0 the first, clones 1, 2, ... in the order they are
 * made. Each clone's console goes to the first VM's, every line tagged
 * "[clone N] ", or to a file of its own (FILE.N).
 *
 * Threads: group__run is the controlling loop; the group__* requests may
 * come from another thread (the control socket) while it runs: one lock
 * serialises them with the loop's work.
 */
#ifndef VMM_GROUP_H
#define VMM_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "vm.h"

struct group_config {
	int serial_fd;		  /* VM 0's console (not owned) */
	const char *clone_serial; /* NULL: tagged lines on serial_fd; else FILE.N */
	const char *snapshot_to;  /* where HC_SNAPSHOT saves; NULL: -ENOSYS */
	bool verbose;		  /* report each clone and each VM's end on stderr */
	unsigned vm_pool;	  /* KVM VMs kept ready for clones from the first clone on
				     (vm.h vm_pool, lazy; 0: none) */
	unsigned vm_pool_fail_next; /* test only: the pool's next N creations fail (-EIO) */
};

struct group_clone_times {
	uint64_t pause_ns;	/* the parent held: state saved, memory cloned */
	uint64_t latency_ns;	/* pause to the last child running */
};

struct group;

/* The group takes @root (started or not; group__run starts it). */
int group__create(const struct group_config *cfg, struct vm *root, struct group **ret_group);
void group__destroy(struct group *g); /* every VM too; NULL: no-op */

/*
 * Run until every VM has ended, or @timeout_ms (< 0: none) passed (then
 * every VM is stopped and *ret_status is VMM_EXIT_TIMEOUT). *ret_status:
 * VM 0's exit status (exit-status.h), or if that is 0, the first clone's that is
 * not; each VM that ended badly is reported on stderr. Returns with every
 * VM paused, so no vCPU is inside a device's handler any more.
 */
int group__run(struct group *g, int timeout_ms, int *ret_status);
/* Ask every VM to stop; group__run then returns (a `quit` request). */
void group__quit(struct group *g);

/*
 * Make @count clones of VM @id; their numbers go to @ret_ids. -ENOENT no
 * such VM; -ESHUTDOWN it has ended (or the group is quitting).
 */
int group__clone(struct group *g, unsigned id, unsigned count, unsigned mm_flags,
		 unsigned *ret_ids, struct group_clone_times *ret_times);

/* The group's pool of VMs for clones (NULL: none), for its stats. */
struct vm_pool *group__vm_pool(struct group *g);

/* VMs so far, and VM @id (NULL if none); valid until group__destroy. */
unsigned group__nr_vms(struct group *g);
struct vm *group__vm(struct group *g, unsigned id);

/* The control socket's request handler (api_handler_fn); @arg is the group. */
int group__handle_request(void *arg, const struct json_obj *req, struct json_out *reply);

#endif
