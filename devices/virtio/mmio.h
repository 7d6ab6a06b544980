/* SPDX-License-Identifier: MIT */
/*
 * virtio/mmio: the virtio-mmio transport, version 2 (virtio 1.x, section
 * 4.2.2), apart from the devices behind it (virtio/blk.c).
 *
 * Register window (4 KiB): magic, version, device and vendor ID, device and
 * driver features (32-bit halves picked by the *FeaturesSel registers),
 * queue select / num max / num / ready / desc, driver (avail) and device
 * (used) addresses, queue notify, interrupt status and ack, status, config
 * generation, and the device's config space from 0x100. Registers take
 * 32-bit accesses only (others are ignored and counted); config space any
 * width up to 8 bytes inside it.
 *
 * Status: FEATURES_OK sticks only if the driver's features are a subset of
 * the device's and include VIRTIO_F_VERSION_1; queues go ready only after
 * FEATURES_OK; notifies are served only with DRIVER_OK. Writing 0 resets
 * the device (queues unpinned). A malformed ring or descriptor (queue.h),
 * or a ring configuration that fails its checks, makes the device broken:
 * DEVICE_NEEDS_RESET in status, the config-change bit in interrupt status,
 * an error counted, the error callback told (the VMM may print a
 * rate-limited line: devices do not log); it then ignores notifies until
 * the driver resets it. Guests poll: no interrupt is injected, the
 * interrupt status register says what would have been raised.
 *
 * Locking: one mutex per transport, taken by virtio_mmio__access (any
 * vCPU thread) and held across the device's notify callback, so a
 * device's queue processing runs on the notifying vCPU's thread,
 * serialised. The *_locked helpers are for devices inside a callback.
 */
#ifndef DEVICES_VIRTIO_MMIO_H
#define DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mm.h"
#include "virtio/queue.h"

#define VIRTIO_MMIO_MAX_QUEUES 4
#define VIRTIO_MMIO_CONFIG_MAX 256 /* bytes of device config space */

struct virtio_mmio;

struct virtio_mmio_dev_ops {
	/* Queue @qi has buffers: process them (transport lock held). */
	void (*notify)(void *dev, struct virtio_mmio *t, unsigned qi);
	/* The driver reset the device: drop device state (lock held; may be NULL). */
	void (*reset)(void *dev);
};

struct virtio_mmio_config {
	uint32_t device_id;
	uint64_t features;	/* offered; VIRTIO_F_VERSION_1 is always added */
	unsigned nr_queues;	/* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_max;	/* QueueNumMax, a power of 2 <= VIRTQ_MAX_SIZE */
	const void *config;	/* device config space (copied), may be NULL */
	unsigned config_len;	/* <= VIRTIO_MMIO_CONFIG_MAX */
	const struct virtio_mmio_dev_ops *ops;
	void *dev;
	/* Broken by a malformed ring: @err the reason (lock held; may be NULL). */
	void (*on_error)(void *arg, unsigned qi, int err);
	void *error_arg;
};

struct virtio_mmio_stats {
	uint64_t notifies;	/* queue notifies served */
	uint64_t errors;	/* times the device was made broken */
	uint64_t bad_accesses;	/* ignored register accesses (width, order) */
	uint64_t resets;	/* driver resets */
};

struct virtio_mmio {
	pthread_mutex_t lock;
	struct virtio_mmio_config cfg;
	struct mm_space *space;
	uint8_t config[VIRTIO_MMIO_CONFIG_MAX];
	/* Under lock: */
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t driver_features;
	uint32_t status, isr, config_gen;
	bool broken;
	int last_err;
	struct virtq vqs[VIRTIO_MMIO_MAX_QUEUES];
	struct virtio_mmio_stats stats;
};

/* A transport over guest memory @space; -EINVAL for a bad @cfg. */
__mm_must_check int virtio_mmio__init(struct virtio_mmio *t, struct mm_space *space,
				      const struct virtio_mmio_config *cfg);
/* Unpin the queues, free nothing else (the struct is the caller's). */
void virtio_mmio__exit(struct virtio_mmio *t);
/*
 * Copy @src's state (features, status, queues with their indices) to @t,
 * set up over @space - the memory of a clone of @src's VM - with @cfg
 * (the clone's device). Called with @src's device quiescent (VM paused).
 */
__mm_must_check int virtio_mmio__clone(struct virtio_mmio *t, const struct virtio_mmio *src,
				       struct mm_space *space,
				       const struct virtio_mmio_config *cfg);

/* One guest access of @len (1-8) bytes at @off in the window; vm_device_ops-shaped. */
void virtio_mmio__access(struct virtio_mmio *t, uint64_t off, uint8_t *data, unsigned len,
			 bool is_write);

/* For devices inside notify (lock held): */
void virtio_mmio__set_broken_locked(struct virtio_mmio *t, unsigned qi, int err);
void virtio_mmio__signal_used_locked(struct virtio_mmio *t);
bool virtio_mmio__has_feature_locked(const struct virtio_mmio *t, unsigned bit);

void virtio_mmio__stats(struct virtio_mmio *t, struct virtio_mmio_stats *ret);
/* Status register value (for tests and the VMM). */
uint32_t virtio_mmio__status(struct virtio_mmio *t);

#endif
