/* SPDX-License-Identifier: MIT */
/*
 * dma-drv.h: the test guests' driver of the DMA test device, header-only.
 * Finds the device in the VMM's device table (abi.h: struct abi_devtab at
 * ABI_DEVTAB_GPA) and drives its registers (devices/dma-test-regs.h) with
 * 64-bit MMIO accesses. Functions return 0 or the device's DMA_ERR_* code.
 *
 * Invariant: only the VM the device was added to may touch it; a clone
 * made by HC_CLONE has no devices (an access stops it as unhandled MMIO),
 * so a clone's code path must not call these after the clone point.
 */
#ifndef GUEST_DMA_DRV_H
#define GUEST_DMA_DRV_H

#include "dma-test-regs.h"
#include "guest.h"

struct dma_dev {
	uint64_t base; /* the MMIO window */
};

static inline uint64_t dma_rd(const struct dma_dev *d, uint64_t reg)
{
	return *(volatile uint64_t *)(d->base + reg);
}

static inline void dma_wr(const struct dma_dev *d, uint64_t reg, uint64_t v)
{
	*(volatile uint64_t *)(d->base + reg) = v;
}

/* 0 and the window in @d, or -1 if the VMM lists no DMA test device. */
static inline int dma_find(struct dma_dev *d)
{
	const volatile struct abi_devtab *t = (const volatile struct abi_devtab *)ABI_DEVTAB_GPA;
	const volatile struct abi_dev *e = (const volatile struct abi_dev *)(t + 1);

	if (t->magic != ABI_DEVTAB_MAGIC)
		return -1;
	for (uint32_t i = 0; i < t->count && i < ABI_DEV_MAX; i++) {
		if (e[i].type != ABI_DEV_DMA_TEST)
			continue;
		d->base = e[i].base;
		return dma_rd(d, DMA_REG_MAGIC) == DMA_TEST_MAGIC ? 0 : -1;
	}
	return -1;
}

static inline uint64_t dma_cmd(const struct dma_dev *d, uint64_t cmd)
{
	dma_wr(d, DMA_REG_CMD, cmd);
	return dma_rd(d, DMA_REG_ERROR);
}

/* Wait for queued DMA to finish; its result. */
static inline uint64_t dma_wait(const struct dma_dev *d)
{
	while (dma_rd(d, DMA_REG_STATUS) & DMA_ST_BUSY)
		;
	return dma_rd(d, DMA_REG_ERROR);
}

static inline uint64_t dma_pin(const struct dma_dev *d, uint64_t gpa, uint64_t len,
			       uint64_t flags)
{
	dma_wr(d, DMA_REG_BUF_GPA, gpa);
	dma_wr(d, DMA_REG_BUF_LEN, len);
	dma_wr(d, DMA_REG_FLAGS, flags);
	return dma_cmd(d, DMA_CMD_PIN);
}

/* The device writes pattern @seq into the buffer (its own thread does). */
static inline uint64_t dma_write_pattern(const struct dma_dev *d, uint64_t seq)
{
	uint64_t err;

	dma_wr(d, DMA_REG_SEQ, seq);
	err = dma_cmd(d, DMA_CMD_WRITE_PATTERN);
	return err ? err : dma_wait(d);
}

/* The device checksums the buffer: what it sees of the guest's writes. */
static inline uint64_t dma_read_back(const struct dma_dev *d, uint64_t *ret_sum)
{
	uint64_t err = dma_cmd(d, DMA_CMD_READ_BACK);

	if (!err)
		err = dma_wait(d);
	*ret_sum = dma_rd(d, DMA_REG_CHECKSUM);
	return err;
}

/* Does [gpa, gpa+len) hold pattern @seq? */
static inline int dma_holds(uint64_t gpa, uint64_t len, uint64_t seq)
{
	const volatile uint8_t *p = (const volatile uint8_t *)gpa;

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != dma_pattern_byte(seq, i))
			return 0;
	return 1;
}

/* The guest's own writes: the same pattern, from the guest's CPU. */
static inline void dma_fill(uint64_t gpa, uint64_t len, uint64_t seq)
{
	volatile uint8_t *p = (volatile uint8_t *)gpa;

	for (uint64_t i = 0; i < len; i++)
		p[i] = dma_pattern_byte(seq, i);
}

static inline uint64_t dma_sum(uint64_t gpa, uint64_t len)
{
	return dma_checksum((const void *)gpa, len);
}

#endif
