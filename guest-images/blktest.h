/* SPDX-License-Identifier: MIT */
/* blktest.h: what blktest.c and blktest-hostile.c share (see blktest.c). */
#ifndef GUEST_BLKTEST_H
#define GUEST_BLKTEST_H

#include "virtio-drv.h"

extern struct vblk blk;
extern struct vdev_mem vmem;
extern uint64_t mem_size;

/* Bring the disk up (reset first) with the features in @want: 0 or <0. */
int disk_init(uint64_t want);
void fill(void *p, uint64_t seed, uint64_t sector, uint64_t bytes);
int holds(const void *p, uint64_t seed, uint64_t sector, uint64_t bytes);
int mode_hostile(uint64_t seed);

#endif
