// SPDX-License-Identifier: MIT
/*
 * dma-test-mmio.c: the DMA test device's register file (the map is in
 * dma-test-regs.h): what a guest's MMIO access does.
 *
 * Invariants (dev->lock held throughout an access):
 * - A read never changes the device; a read of an unknown offset is 0.
 * - A write is 4 or 8 bytes at a register's offset to a RW register or
 *   CMD; anything else sets ERROR = DMA_ERR_ACCESS, counts as an error and
 *   changes nothing else.
 * - Each CMD write leaves its result in ERROR (0: accepted) and counts a
 *   refusal; RW registers are only latched: PIN checks them.
 */
#include <string.h>

#include "dma-test-internal.h"

static uint64_t do_cmd(struct dma_test *dev, uint64_t cmd)
{
	switch (cmd) {
	case DMA_CMD_PIN:
		return dma_cmd__pin(dev, dev->buf_gpa, dev->buf_len, dev->flags);
	case DMA_CMD_UNPIN:
		return dma_cmd__unpin(dev);
	case DMA_CMD_WRITE_PATTERN:
		return dma_cmd__queue(dev, PEND_WRITE);
	case DMA_CMD_READ_BACK:
		return dma_cmd__queue(dev, PEND_READ);
	case DMA_CMD_RESET:
		dma_cmd__reset(dev);
		return DMA_ERR_NONE;
	case DMA_CMD_TIMER_START:
		return dma_cmd__timer(dev, true, dev->timer_us);
	case DMA_CMD_TIMER_STOP:
		return dma_cmd__timer(dev, false, 0);
	default:
		return DMA_ERR_CMD;
	}
}

/* Registers (dev->lock held) --------------------------------------------- */

static uint64_t status(const struct dma_test *dev)
{
	return (dev->bound ? DMA_ST_BOUND : 0) | (dev->pin ? DMA_ST_PINNED : 0) |
	       (dev->pending ? DMA_ST_BUSY : 0) | (dev->timer_on ? DMA_ST_TIMER : 0) |
	       (dev->error ? DMA_ST_ERROR : 0);
}

static uint64_t reg_read(const struct dma_test *dev, uint64_t reg)
{
	switch (reg) {
	case DMA_REG_MAGIC: return DMA_TEST_MAGIC;
	case DMA_REG_VERSION: return DMA_TEST_VERSION;
	case DMA_REG_BUF_GPA: return dev->buf_gpa;
	case DMA_REG_BUF_LEN: return dev->buf_len;
	case DMA_REG_FLAGS: return dev->flags;
	case DMA_REG_SEQ: return dev->seq;
	case DMA_REG_CMD: return dev->last_cmd;
	case DMA_REG_STATUS: return status(dev);
	case DMA_REG_ERROR: return dev->error;
	case DMA_REG_ERRNO: return dev->err_no;
	case DMA_REG_TIMER_US: return dev->timer_us;
	case DMA_REG_LAST_SEQ: return dev->last_seq;
	case DMA_REG_CHECKSUM: return dev->checksum;
	case DMA_REG_MAX_LEN: return dev->max_len;
	case DMA_REG_CNT_WRITES: return dev->st.writes;
	case DMA_REG_CNT_READS: return dev->st.reads;
	case DMA_REG_CNT_PINS: return dev->st.pins;
	case DMA_REG_CNT_UNPINS: return dev->st.unpins;
	case DMA_REG_PINS_HELD: return dev->st.pins_held;
	case DMA_REG_PINNED_BYTES: return dev->st.pinned_bytes;
	case DMA_REG_CNT_ERRORS: return dev->st.errors;
	case DMA_REG_CNT_TICKS: return dev->st.ticks;
	default: return 0;
	}
}

/* A guest write to a register: DMA_ERR_* (0: done). */
static uint64_t reg_write(struct dma_test *dev, uint64_t reg, uint64_t val)
{
	switch (reg) {
	case DMA_REG_BUF_GPA: dev->buf_gpa = val; return DMA_ERR_NONE;
	case DMA_REG_BUF_LEN: dev->buf_len = val; return DMA_ERR_NONE;
	case DMA_REG_FLAGS: dev->flags = val; return DMA_ERR_NONE;
	case DMA_REG_SEQ: dev->seq = val; return DMA_ERR_NONE;
	case DMA_REG_TIMER_US: dev->timer_us = val; return DMA_ERR_NONE;
	case DMA_REG_CMD:
		dev->last_cmd = val;
		dev->err_no = 0;
		dev->error = do_cmd(dev, val);
		if (dev->error)
			dev->st.errors++;
		return DMA_ERR_NONE; /* the command's result is in ERROR already */
	default:
		return DMA_ERR_ACCESS;
	}
}

void dma_test__mmio(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct dma_test *dev = opaque;
	uint64_t v = 0, code;

	if (!len || len > 8)
		return; /* the bus never does this; nothing sane to answer */
	pthread_mutex_lock(&dev->lock);
	if (!is_write) {
		v = reg_read(dev, off & ~7ULL) >> ((off & 7) * 8);
		memcpy(data, &v, len);
	} else if ((len != 4 && len != 8) || (off & 7)) {
		dev->error = DMA_ERR_ACCESS;
		dev->st.errors++;
	} else {
		memcpy(&v, data, len);
		code = reg_write(dev, off, v);
		if (code) {
			dev->error = code;
			dev->st.errors++;
		}
	}
	pthread_mutex_unlock(&dev->lock);
}
