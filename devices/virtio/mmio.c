// SPDX-License-Identifier: MIT
/*
 * mmio.c: the virtio-mmio transport, version 2 (mmio.h).
 *
 * Invariants (t->lock held):
 * - A queue is ready only if FEATURES_OK was accepted and its configuration
 *   passed virtq__enable's checks; its configuration registers are then
 *   read-only until it is disabled or the device reset.
 * - broken implies DEVICE_NEEDS_RESET in status and the config bit in isr
 *   (until acked); a broken device serves no notify; only a reset (status
 *   0) clears it.
 * - Driver features are a subset of the offered ones whenever FEATURES_OK
 *   is set.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "virtio/mmio.h"

#define MMIO_MAGIC 0x74726976u	 /* "virt" */
#define MMIO_VERSION 2
#define MMIO_VENDOR 0x564d4d43u	 /* "CMMV": this VMM */

int virtio_mmio__init(struct virtio_mmio *t, struct mm_space *space,
		      const struct virtio_mmio_config *cfg)
{
	uint16_t qmax = cfg->queue_max;

	if (!cfg->ops || !cfg->ops->notify || !cfg->nr_queues ||
	    cfg->nr_queues > VIRTIO_MMIO_MAX_QUEUES || !qmax || qmax > VIRTQ_MAX_SIZE ||
	    (qmax & (qmax - 1)) || cfg->config_len > VIRTIO_MMIO_CONFIG_MAX)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->cfg = *cfg;
	t->cfg.features |= 1ULL << VIRTIO_F_VERSION_1;
	t->space = space;
	if (cfg->config_len)
		memcpy(t->config, cfg->config, cfg->config_len);
	t->cfg.config = t->config;
	return 0;
}

static void disable_queues(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		virtq__disable(&t->vqs[i]);
}

void virtio_mmio__exit(struct virtio_mmio *t)
{
	disable_queues(t);
	pthread_mutex_destroy(&t->lock);
}

int virtio_mmio__clone(struct virtio_mmio *t, const struct virtio_mmio *src,
		       struct mm_space *space, const struct virtio_mmio_config *cfg)
{
	int err = virtio_mmio__init(t, space, cfg);

	if (err)
		return err;
	t->dev_feat_sel = src->dev_feat_sel;
	t->drv_feat_sel = src->drv_feat_sel;
	t->queue_sel = src->queue_sel;
	t->driver_features = src->driver_features;
	t->status = src->status;
	t->isr = src->isr;
	t->config_gen = src->config_gen;
	t->broken = src->broken;
	t->last_err = src->last_err;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES && !err; i++)
		err = virtq__clone(&t->vqs[i], &src->vqs[i], space);
	if (err)
		virtio_mmio__exit(t);
	return err;
}

void virtio_mmio__set_broken_locked(struct virtio_mmio *t, unsigned qi, int err)
{
	t->stats.errors++;
	t->last_err = err;
	t->broken = true;
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->isr |= VIRTIO_MMIO_INT_CONFIG;
	if (t->cfg.on_error)
		t->cfg.on_error(t->cfg.error_arg, qi, err);
}

void virtio_mmio__signal_used_locked(struct virtio_mmio *t)
{
	t->isr |= VIRTIO_MMIO_INT_VRING;
}

bool virtio_mmio__has_feature_locked(const struct virtio_mmio *t, unsigned bit)
{
	return bit < 64 && (t->driver_features >> bit) & 1;
}

static void device_reset(struct virtio_mmio *t)
{
	disable_queues(t);
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
	t->driver_features = 0;
	t->status = t->isr = 0;
	t->broken = false;
	t->last_err = 0;
	t->stats.resets++;
	if (t->cfg.ops->reset)
		t->cfg.ops->reset(t->cfg.dev);
}

static bool features_acceptable(const struct virtio_mmio *t)
{
	return !(t->driver_features & ~t->cfg.features) &&
	       (t->driver_features >> VIRTIO_F_VERSION_1) & 1;
}

static void write_status(struct virtio_mmio *t, uint32_t val)
{
	uint32_t keep = t->status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FEATURES_OK);

	if (!val) {
		device_reset(t);
		return;
	}
	val &= 0xff & ~VIRTIO_CONFIG_S_NEEDS_RESET; /* the device's bit, not the driver's */
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) && !(keep & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !features_acceptable(t))
		val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	t->status = val | keep;
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->cfg.nr_queues ? &t->vqs[t->queue_sel] : NULL;
}

static void set_queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t val)
{
	struct virtq keep = *q;
	int err;

	if (!val) {
		virtq__disable(q);
		q->num = keep.num;
		q->desc_gpa = keep.desc_gpa;
		q->avail_gpa = keep.avail_gpa;
		q->used_gpa = keep.used_gpa;
		return;
	}
	if (q->ready)
		return;
	if (!(t->status & VIRTIO_CONFIG_S_FEATURES_OK) || t->broken) {
		t->stats.bad_accesses++;
		return;
	}
	err = virtq__enable(q, t->space, t->cfg.queue_max,
			    virtio_mmio__has_feature_locked(t, VIRTIO_RING_F_INDIRECT_DESC));
	if (err)
		virtio_mmio__set_broken_locked(t, t->queue_sel, err);
}

/* Set one 32-bit half of a 64-bit register pair. */
static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | (uint64_t)val << 32;
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void notify(struct virtio_mmio *t, uint32_t qi)
{
	if (qi >= t->cfg.nr_queues || !t->vqs[qi].ready || t->broken ||
	    !(t->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		t->stats.bad_accesses++;
		return;
	}
	t->stats.notifies++;
	t->cfg.ops->notify(t->cfg.dev, t, qi);
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	struct virtq *q = selected_queue(t);

	if (!q || (q->ready && off != VIRTIO_MMIO_QUEUE_READY)) {
		t->stats.bad_accesses++;
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM: q->num = val > 0xffff ? 0 : (uint16_t)val; break;
	case VIRTIO_MMIO_QUEUE_READY: set_queue_ready(t, q, val); break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: set_half(&q->desc_gpa, false, val); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_half(&q->desc_gpa, true, val); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: set_half(&q->avail_gpa, false, val); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: set_half(&q->avail_gpa, true, val); break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: set_half(&q->used_gpa, false, val); break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: set_half(&q->used_gpa, true, val); break;
	}
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_feat_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_feat_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->drv_feat_sel > 1 || (t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			t->stats.bad_accesses++;
			break;
		}
		set_half(&t->driver_features, t->drv_feat_sel == 1, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		write_queue_reg(t, off, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY: notify(t, val); break;
	case VIRTIO_MMIO_INTERRUPT_ACK: t->isr &= ~val; break;
	case VIRTIO_MMIO_STATUS: write_status(t, val); break;
	default: t->stats.bad_accesses++; break;
	}
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = selected_queue(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return t->cfg.device_id;
	case VIRTIO_MMIO_VENDOR_ID: return MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->dev_feat_sel > 1 ? 0 : (uint32_t)(t->cfg.features >> (32 * t->dev_feat_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? t->cfg.queue_max : 0;
	case VIRTIO_MMIO_QUEUE_NUM: return q ? q->num : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q && q->ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return q ? (uint32_t)q->desc_gpa : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return q ? (uint32_t)(q->desc_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return q ? (uint32_t)q->avail_gpa : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return q ? (uint32_t)(q->avail_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW: return q ? (uint32_t)q->used_gpa : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: return q ? (uint32_t)(q->used_gpa >> 32) : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return t->isr;
	case VIRTIO_MMIO_STATUS: return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_gen;
	}
	return 0;
}

/* Config space: reads of what the device offers, zeros past it; writes ignored. */
static void config_access(struct virtio_mmio *t, uint64_t off, uint8_t *data, unsigned len,
			  bool is_write)
{
	if (is_write) {
		t->stats.bad_accesses++;
		return;
	}
	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < t->cfg.config_len ? t->config[off + i] : 0;
}

void virtio_mmio__access(struct virtio_mmio *t, uint64_t off, uint8_t *data, unsigned len,
			 bool is_write)
{
	uint32_t val = 0;

	if (!len || len > 8)
		return;
	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		config_access(t, off - VIRTIO_MMIO_CONFIG, data, len, is_write);
	} else if (len != 4 || off % 4) {
		t->stats.bad_accesses++;
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&val, data, 4);
		write_reg(t, off, val);
	} else {
		val = read_reg(t, off);
		memcpy(data, &val, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio__stats(struct virtio_mmio *t, struct virtio_mmio_stats *ret)
{
	pthread_mutex_lock(&t->lock);
	*ret = t->stats;
	pthread_mutex_unlock(&t->lock);
}

uint32_t virtio_mmio__status(struct virtio_mmio *t)
{
	uint32_t s;

	pthread_mutex_lock(&t->lock);
	s = t->status;
	pthread_mutex_unlock(&t->lock);
	return s;
}
