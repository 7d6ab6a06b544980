/* SPDX-License-Identifier: MIT */
/*
 * blk-internal.h: what virtio/blk.c (requests, device) and virtio/blk-io.c
 * (the image and its I/O backends) share. Not for other modules.
 */
#ifndef DEVICES_VIRTIO_BLK_INTERNAL_H
#define DEVICES_VIRTIO_BLK_INTERNAL_H

#include <liburing.h>
#include <sys/uio.h>

#include "virtio/blk.h"

#define BLK_RING_ENTRIES 256
#define BLK_FIXED_CHUNK (1ULL << 30) /* io_uring's limit per registered buffer */

struct blk_seg {
	uint64_t gpa;
	uint32_t len;
};

enum blk_path {
	BLK_PATH_NONE,		/* no data I/O (flush, or answered already) */
	BLK_PATH_ZERO_COPY,	/* readv/writev on the pinned pages */
	BLK_PATH_FIXED,		/* READ_FIXED/WRITE_FIXED over registered guest RAM */
	BLK_PATH_BOUNCE,	/* through an aligned host buffer */
};

/* One request, from its chain being taken to its status being written. */
struct blk_req {
	uint16_t head;
	uint32_t type;
	uint64_t sector;
	uint64_t len;		/* data bytes */
	struct mm_pin *status_pin;
	uint8_t *status;	/* in status_pin */
	struct mm_pin **pins;	/* the data segments' pins */
	struct blk_seg *segs;	/* data, guest-physical; nsegs == npins */
	unsigned nsegs;
	struct iovec *iov;	/* data, in the pins */
	unsigned niov;
	bool io;		/* its I/O was started: blk_io__finish it */
	enum blk_path path;
	int fd;			/* the descriptor the data I/O uses */
	void *bounce;		/* BLK_PATH_BOUNCE on the uring backend */
	unsigned inflight;	/* submitted, not completed SQEs */
	uint64_t done;		/* bytes moved */
	int err;		/* first I/O error */
	uint8_t result;		/* VIRTIO_BLK_S_* */
	uint32_t used_len;
};

struct virtio_blk {
	struct virtio_mmio t;
	struct virtio_blk_opts opts;
	char *path;
	struct mm_space *space;
	uint8_t *hva;		/* the guest's host mapping (fixed buffers) */
	uint64_t mem_size;
	int fd;			/* the image; O_DIRECT if direct */
	int fd_buffered;	/* without O_DIRECT (== fd when !direct) */
	bool direct;
	uint32_t mem_align, off_align; /* O_DIRECT's (statx DIOALIGN) */
	uint64_t capacity;	/* sectors */
	char id[20];		/* GET_ID */
	struct io_uring ring;
	bool ring_ok;
	unsigned inflight;
	struct mm_pin *ram_pin; /* fixed buffers: all of guest RAM, long-term R/W */
	void *bounce_buf;	/* VIRTIO_BLK_BOUNCE: VIRTIO_BLK_MAX_DATA bytes */
	struct virtio_blk_stats stats; /* under t.lock (not .transport) */
	struct virtq_chain chain;
	struct blk_req reqs[VIRTQ_MAX_SIZE];
};

/* blk-io.c */
int blk_io__open(struct virtio_blk *b, const char **ret_step);
int blk_io__dup(struct virtio_blk *b, const struct virtio_blk *src, const char **ret_step);
int blk_io__setup(struct virtio_blk *b, const char **ret_step);
void blk_io__close(struct virtio_blk *b);
/* Start @r's I/O (its result may be final at once); then blk_io__wait. */
void blk_io__start(struct virtio_blk *b, struct blk_req *r);
void blk_io__wait(struct virtio_blk *b);
/* After the wait: the request's result from its I/O (and bounce copy-out). */
void blk_io__finish(struct virtio_blk *b, struct blk_req *r);

#endif
