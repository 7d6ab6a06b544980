/* SPDX-License-Identifier: MIT */
/*
 * dma-test internals shared by dma-test.c (DMA engine, device thread,
 * commands, host API) and dma-test-mmio.c (the register file). Not for
 * users of the device. Everything here is under dev->lock unless a field
 * says otherwise; the invariants are stated in dma-test.c.
 */
#ifndef DEVICES_DMA_TEST_INTERNAL_H
#define DEVICES_DMA_TEST_INTERNAL_H

#include <pthread.h>

#include "dma-test.h"

#define PEND_WRITE 0x1
#define PEND_READ 0x2
#define DEFAULT_TIMER_US 1000

struct dma_test {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* work queued, timer changed, quit */
	pthread_t thread;
	struct mm_space *space;
	uint64_t min_gpa, max_len, mem_size;
	/* Registers the guest writes. */
	uint64_t buf_gpa, buf_len, flags, seq, timer_us, last_cmd;
	/* Registers the device sets. */
	uint64_t error, err_no, last_seq, checksum;
	/* The buffer PIN accepted. */
	bool bound;
	uint64_t b_gpa, b_len, b_flags;
	struct mm_pin *pin;
	unsigned pending;
	bool timer_on, quit, detached;
	uint64_t next_tick_ns;
	struct dma_test_stats st;
};

/* Commands (dev->lock held): DMA_ERR_* (0: done). */
uint64_t dma_cmd__pin(struct dma_test *dev, uint64_t gpa, uint64_t len, uint64_t flags);
uint64_t dma_cmd__unpin(struct dma_test *dev);
void dma_cmd__reset(struct dma_test *dev);
uint64_t dma_cmd__queue(struct dma_test *dev, unsigned what); /* PEND_WRITE or PEND_READ */
uint64_t dma_cmd__timer(struct dma_test *dev, bool on, uint64_t period_us);

#endif
