/* SPDX-License-Identifier: MIT */
/*
 * dev-blk: a virtio-blk disk (devices/virtio/blk.h) on a VM's MMIO bus, as
 * ABI_DEV_VIRTIO with subtype 2 (the virtio block device ID): option
 * parsing for `--disk FILE[,ro][,fixed-buffers]`, attaching to a VM (after
 * vm__create, before vm__load_elf) or to a clone of one (the clone's
 * device table is its parent's, so the disk takes the same window and the
 * same transport state), its counters in one line, and a rate-limited
 * report of guests that broke their device.
 *
 * The caller owns the device: destroy it while the VM is stopped and
 * before vm__destroy (its pins would keep the memory busy). Clones made
 * with vm__capture (HC_CLONE and `clone` under `vmm run`) get their own
 * copy of the disk (the same image), which they own and release.
 */
#ifndef VMM_DEV_BLK_H
#define VMM_DEV_BLK_H

#include <stddef.h>
#include <stdio.h>

#include "virtio/blk.h"
#include "vm.h"

/*
 * Parse FILE[,ro][,fixed-buffers] into @ret (ret->path points into @arg) and
 * check FILE can be opened so; on error @msg says what is wrong: -EINVAL.
 */
int dev_blk__parse(const char *arg, struct virtio_blk_opts *ret, char *path_buf, size_t path_len,
		   char *msg, size_t msg_len);
/* Create the disk over @vm's memory and put it on the bus. @msg on error. */
int dev_blk__attach(struct vm *vm, const struct virtio_blk_opts *o, struct virtio_blk **ret_blk,
		    char *msg, size_t msg_len);
/* The disk of @child, a clone of the VM of @src (paused): same window, state, image. */
int dev_blk__attach_clone(struct vm *child, struct virtio_blk *src, struct virtio_blk **ret_blk,
			  char *msg, size_t msg_len);
/* One line of the device's counters, for --stats. */
void dev_blk__print_stats(FILE *out, struct virtio_blk *b);

#endif
