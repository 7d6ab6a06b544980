/* SPDX-License-Identifier: MIT */
/*
 * virtio-drv: the test guests' ring-3 polled virtio-mmio (version 2) driver
 * and a virtio-blk driver on top of it.
 *
 * vdev_*: find a device in the VMM's device table (abi.h), negotiate
 * VIRTIO_F_VERSION_1 (plus what the caller wants and the device offers),
 * set up queue 0 in guest memory (identity mapped: guest virtual ==
 * guest physical), post descriptor chains, notify, poll the used ring. No
 * interrupts: completion is seen by polling, bounded by a timeout taken
 * with HC_TIME_NS.
 *
 * vblk_*: requests of three descriptors (header, data, status); request
 * slot i owns descriptors 3i..3i+2 and header/status i, so up to
 * VBLK_SLOTS requests may be in flight: submit several, kick once, wait.
 *
 * The rings and request headers live in one static, page-aligned area per
 * device. Tests that need malformed chains write d->desc / d->avail
 * themselves and call vdev_post.
 */
#ifndef GUEST_VIRTIO_DRV_H
#define GUEST_VIRTIO_DRV_H

#include <stdint.h>

#include "guest.h"

/* virtio-mmio registers (virtio 1.x, 4.2.2) */
#define VMMIO_MAGIC 0x000
#define VMMIO_VERSION 0x004
#define VMMIO_DEVICE_ID 0x008
#define VMMIO_DEV_FEATURES 0x010
#define VMMIO_DEV_FEATURES_SEL 0x014
#define VMMIO_DRV_FEATURES 0x020
#define VMMIO_DRV_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL 0x030
#define VMMIO_QUEUE_NUM_MAX 0x034
#define VMMIO_QUEUE_NUM 0x038
#define VMMIO_QUEUE_READY 0x044
#define VMMIO_QUEUE_NOTIFY 0x050
#define VMMIO_ISR 0x060
#define VMMIO_ISR_ACK 0x064
#define VMMIO_STATUS 0x070
#define VMMIO_QUEUE_DESC 0x080
#define VMMIO_QUEUE_AVAIL 0x090
#define VMMIO_QUEUE_USED 0x0a0
#define VMMIO_CONFIG 0x100

#define VSTAT_ACK 1
#define VSTAT_DRIVER 2
#define VSTAT_DRIVER_OK 4
#define VSTAT_FEATURES_OK 8
#define VSTAT_NEEDS_RESET 0x40
#define VSTAT_FAILED 0x80
#define VISR_USED 1
#define VISR_CONFIG 2

#define VF_INDIRECT_DESC (1ULL << 28)
#define VF_VERSION_1 (1ULL << 32)
#define VBLK_F_RO (1ULL << 5)
#define VBLK_F_FLUSH (1ULL << 9)

#define VDESC_NEXT 1
#define VDESC_WRITE 2
#define VDESC_INDIRECT 4

#define VIRTIO_ID_BLK 2
#define VBLK_T_IN 0
#define VBLK_T_OUT 1
#define VBLK_T_FLUSH 4
#define VBLK_T_GET_ID 8
#define VBLK_S_OK 0
#define VBLK_S_IOERR 1
#define VBLK_S_UNSUPP 2
#define VBLK_SECTOR 512

#define VQ_SIZE 128
#define VBLK_SLOTS (VQ_SIZE / 3)
#define VDEV_TIMEOUT_NS 5000000000LL

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags, idx;
	uint16_t ring[VQ_SIZE];
	uint16_t used_event;
};

struct vring_used {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[VQ_SIZE];
	uint16_t avail_event;
};

struct vblk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

/* One device's rings and request headers (static, page aligned). */
struct vdev_mem {
	struct vring_desc desc[VQ_SIZE];
	struct vring_avail avail;
	struct vring_used used __attribute__((aligned(4096)));
	struct vblk_hdr hdr[VBLK_SLOTS];
	volatile uint8_t status[VBLK_SLOTS];
} __attribute__((aligned(4096)));

struct vdev {
	uint64_t base;		/* MMIO window */
	uint64_t features;	/* negotiated */
	uint64_t offered;	/* by the device */
	struct vdev_mem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;	/* next avail idx the driver publishes */
	uint16_t last_used;	/* next used entry the driver reads */
};

uint32_t vdev_read(const struct vdev *d, uint64_t reg);
void vdev_write(const struct vdev *d, uint64_t reg, uint32_t v);
/* The @n-th device of the table with virtio device ID @id: its window, or 0. */
uint64_t vdev_find(uint32_t id, unsigned n);
/*
 * Reset the device at @base and bring it up with queue 0 in @mem: 0, or
 * -1 no virtio device, -2 features refused, -3 queue too small, -4 the
 * device refused the queue (NEEDS_RESET).
 */
int vdev_init(struct vdev *d, uint64_t base, uint64_t want, struct vdev_mem *mem);
void vdev_reset(struct vdev *d);
uint32_t vdev_status(const struct vdev *d);
/* Publish chain @head in the avail ring (no notify). */
void vdev_post(struct vdev *d, uint16_t head);
void vdev_kick(struct vdev *d);
/* Wait for one used entry: 0 and its id/len, or -1 timeout, -2 NEEDS_RESET. */
int vdev_wait_used(struct vdev *d, uint32_t *ret_id, uint32_t *ret_len);

struct vblk {
	struct vdev dev;
	uint64_t capacity;	/* sectors */
};

int vblk_init(struct vblk *b, uint64_t base, uint64_t want, struct vdev_mem *mem);
/* Post request @slot (not kicked). @len 0: a header+status chain (flush). */
void vblk_submit(struct vblk *b, unsigned slot, uint32_t type, uint64_t sector, void *buf,
		 uint32_t len);
/* Wait for @n requests; 0 if all answered OK, else the first bad status, or <0 (vdev_wait_used). */
int vblk_wait(struct vblk *b, unsigned n);
/* One request, synchronous: its status (VBLK_S_*) or <0. */
int vblk_rw(struct vblk *b, uint32_t type, uint64_t sector, void *buf, uint32_t len);

#endif
