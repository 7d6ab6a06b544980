/* SPDX-License-Identifier: MIT */
/*
 * snapshot: live snapshots of a VM to a file (format: snapfile.h), and
 * restoring one into a new VM.
 *
 * Saving is QEMU's background-snapshot scheme on mm's snapshot
 * write-protection: with the VM paused, its vCPU/irqchip state is captured
 * and its memory write-protected (mm_space_snapshot_begin); the VM then runs
 * on while the saver walks memory. A page the guest writes before the saver
 * reaches it is saved first, from mm's fault path, so the file holds every
 * page as it was at the snapshot point. The guest's frames stay its own (a
 * device's pin is never disturbed). Chosen over a COW clone saved in the
 * background because it costs no extra frames and no KVM VM (measured in
 * `vmm bench snapshot`).
 *
 * Restoring loads the whole file into a fresh VM's memory (checking every
 * page's CRC) before any state is restored: a bad file is rejected and
 * nothing is half-restored.
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stdint.h>

#include "vm.h"

struct vm_snapshot;

struct vm_snapshot_stats {
	uint64_t pause_ns;	/* the VM held: state captured, memory protected */
	uint64_t save_ns;	/* begin to file committed */
	uint64_t mem_bytes;	/* guest memory size */
};

/*
 * Begin a snapshot of @vm, which must be paused (or stopped), to @path.
 * After it returns the VM may run again; then vm_snapshot__finish.
 */
int vm__snapshot_begin(struct vm *vm, const char *path, struct vm_snapshot **ret_snap,
		       char *ret_msg, size_t msg_len);
/* Save the memory still pending and commit the file; frees @s. */
int vm_snapshot__finish(struct vm_snapshot *s, struct vm_snapshot_stats *ret_stats,
			char *ret_msg, size_t msg_len);
void vm_snapshot__abort(struct vm_snapshot *s); /* NULL: no-op */

/*
 * Create a VM from the snapshot @path (its memory size and vCPU count; @cfg
 * gives the rest: console, notify fd, pool), ready to vm__start.
 */
int vm__restore_file(const char *path, const struct vm_config *cfg, struct vm **ret_vm,
		     char *ret_msg, size_t msg_len);

#endif
