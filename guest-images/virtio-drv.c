// SPDX-License-Identifier: MIT
/*
 * virtio-drv.c: the guests' polled virtio-mmio + virtio-blk driver
 * (virtio-drv.h).
 *
 * Ordering: descriptors and the avail entry are written before the avail
 * idx (a release store); the notify is an MMIO write, which exits to the
 * VMM, so the device sees everything before it. The used idx is read with
 * acquire order before the entries it covers.
 */
#include "virtio-drv.h"

uint32_t vdev_read(const struct vdev *d, uint64_t reg)
{
	return *(volatile uint32_t *)(d->base + reg);
}

void vdev_write(const struct vdev *d, uint64_t reg, uint32_t v)
{
	*(volatile uint32_t *)(d->base + reg) = v;
}

uint64_t vdev_find(uint32_t id, unsigned n)
{
	const volatile struct abi_devtab *t = (const volatile struct abi_devtab *)ABI_DEVTAB_GPA;
	const volatile struct abi_dev *e = (const volatile struct abi_dev *)(t + 1);

	if (t->magic != ABI_DEVTAB_MAGIC)
		return 0;
	for (uint32_t i = 0; i < t->count && i < ABI_DEV_MAX; i++)
		if (e[i].type == ABI_DEV_VIRTIO && e[i].subtype == id && n-- == 0)
			return e[i].base;
	return 0;
}

void vdev_reset(struct vdev *d)
{
	vdev_write(d, VMMIO_STATUS, 0);
}

uint32_t vdev_status(const struct vdev *d)
{
	return vdev_read(d, VMMIO_STATUS);
}

static void write_addr(struct vdev *d, uint64_t reg, const void *p)
{
	uint64_t a = (uint64_t)p;

	vdev_write(d, reg, (uint32_t)a);
	vdev_write(d, reg + 4, (uint32_t)(a >> 32));
}

static uint64_t read_features(struct vdev *d)
{
	uint64_t f;

	vdev_write(d, VMMIO_DEV_FEATURES_SEL, 1);
	f = (uint64_t)vdev_read(d, VMMIO_DEV_FEATURES) << 32;
	vdev_write(d, VMMIO_DEV_FEATURES_SEL, 0);
	return f | vdev_read(d, VMMIO_DEV_FEATURES);
}

int vdev_init(struct vdev *d, uint64_t base, uint64_t want, struct vdev_mem *mem)
{
	d->base = base;
	if (!base || vdev_read(d, VMMIO_MAGIC) != 0x74726976 || vdev_read(d, VMMIO_VERSION) != 2)
		return -1;
	vdev_reset(d);
	vdev_write(d, VMMIO_STATUS, VSTAT_ACK);
	vdev_write(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER);
	d->offered = read_features(d);
	d->features = (want | VF_VERSION_1) & d->offered;
	if (!(d->features & VF_VERSION_1))
		return -2;
	vdev_write(d, VMMIO_DRV_FEATURES_SEL, 0);
	vdev_write(d, VMMIO_DRV_FEATURES, (uint32_t)d->features);
	vdev_write(d, VMMIO_DRV_FEATURES_SEL, 1);
	vdev_write(d, VMMIO_DRV_FEATURES, (uint32_t)(d->features >> 32));
	vdev_write(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	if (!(vdev_status(d) & VSTAT_FEATURES_OK))
		return -2;
	vdev_write(d, VMMIO_QUEUE_SEL, 0);
	if (vdev_read(d, VMMIO_QUEUE_NUM_MAX) < VQ_SIZE)
		return -3;
	memset(mem, 0, sizeof(*mem));
	d->mem = mem;
	d->desc = mem->desc;
	d->avail = &mem->avail;
	d->used = &mem->used;
	d->avail_idx = d->last_used = 0;
	vdev_write(d, VMMIO_QUEUE_NUM, VQ_SIZE);
	write_addr(d, VMMIO_QUEUE_DESC, d->desc);
	write_addr(d, VMMIO_QUEUE_AVAIL, d->avail);
	write_addr(d, VMMIO_QUEUE_USED, d->used);
	vdev_write(d, VMMIO_QUEUE_READY, 1);
	if (vdev_status(d) & VSTAT_NEEDS_RESET)
		return -4;
	vdev_write(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
	return 0;
}

void vdev_post(struct vdev *d, uint16_t head)
{
	d->avail->ring[d->avail_idx % VQ_SIZE] = head;
	d->avail_idx++;
	__atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

void vdev_kick(struct vdev *d)
{
	vdev_write(d, VMMIO_QUEUE_NOTIFY, 0);
}

int vdev_wait_used(struct vdev *d, uint32_t *ret_id, uint32_t *ret_len)
{
	int64_t deadline = 0;

	while (__atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE) == d->last_used) {
		if (vdev_status(d) & VSTAT_NEEDS_RESET)
			return -2;
		if (!deadline)
			deadline = hcall(HC_TIME_NS, 0, 0, 0) + VDEV_TIMEOUT_NS;
		else if (hcall(HC_TIME_NS, 0, 0, 0) > deadline)
			return -1;
	}
	*ret_id = d->used->ring[d->last_used % VQ_SIZE].id;
	*ret_len = d->used->ring[d->last_used % VQ_SIZE].len;
	d->last_used++;
	vdev_write(d, VMMIO_ISR_ACK, VISR_USED);
	return 0;
}

int vblk_init(struct vblk *b, uint64_t base, uint64_t want, struct vdev_mem *mem)
{
	int err = vdev_init(&b->dev, base, want, mem);

	if (err)
		return err;
	b->capacity = (uint64_t)vdev_read(&b->dev, VMMIO_CONFIG) |
		      (uint64_t)vdev_read(&b->dev, VMMIO_CONFIG + 4) << 32;
	return 0;
}

void vblk_submit(struct vblk *b, unsigned slot, uint32_t type, uint64_t sector, void *buf,
		 uint32_t len)
{
	struct vdev *d = &b->dev;
	struct vring_desc *x = &d->desc[3 * slot];
	uint16_t head = (uint16_t)(3 * slot);

	d->mem->hdr[slot] = (struct vblk_hdr){.type = type, .sector = sector};
	d->mem->status[slot] = 0xff;
	x[0] = (struct vring_desc){(uint64_t)&d->mem->hdr[slot], sizeof(struct vblk_hdr),
				   VDESC_NEXT, (uint16_t)(head + 1)};
	if (len) {
		x[1] = (struct vring_desc){(uint64_t)buf, len,
					   VDESC_NEXT | (type == VBLK_T_OUT ? 0 : VDESC_WRITE),
					   (uint16_t)(head + 2)};
		x[2] = (struct vring_desc){(uint64_t)&d->mem->status[slot], 1, VDESC_WRITE, 0};
	} else {
		x[0].next = (uint16_t)(head + 2);
		x[2] = (struct vring_desc){(uint64_t)&d->mem->status[slot], 1, VDESC_WRITE, 0};
	}
	vdev_post(d, head);
}

int vblk_wait(struct vblk *b, unsigned n)
{
	int ret = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t id, len;
		int err = vdev_wait_used(&b->dev, &id, &len);

		if (err)
			return err;
		if (id % 3 || id / 3 >= VBLK_SLOTS)
			return -3;
		if (!ret && b->dev.mem->status[id / 3] != VBLK_S_OK)
			ret = b->dev.mem->status[id / 3];
	}
	return ret;
}

int vblk_rw(struct vblk *b, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	vblk_submit(b, 0, type, sector, buf, len);
	vdev_kick(&b->dev);
	return vblk_wait(b, 1);
}
