// SPDX-License-Identifier: MIT
/*
 * dma-test.c: the DMA test device (dma-test.h): its DMA engine, its thread,
 * the commands and the host-side API. The register file is dma-test-mmio.c.
 *
 * Invariants (dev->lock held):
 * - bound <=> a buffer was accepted by PIN and not released since; its
 *   range was checked against guest RAM, the length cap and min_gpa then.
 * - pin != NULL => bound. A longterm buffer holds its pin from PIN to
 *   UNPIN/RESET/detach; a short-term one holds a pin only for the duration
 *   of one DMA, taken and released under the lock.
 * - Guest memory is touched only through the iovecs of a pin held at that
 *   moment, and only under the lock, so UNPIN never races a DMA.
 * - pending != 0 => bound; the device thread clears it.
 * - detached => no pin, no pending work, no timer, and it stays so.
 *
 * Lock order: dev->lock, then mm's pool lock (inside mm_pin/mm_unpin); mm
 * never calls back into a device. The DMA itself goes through mm's direct
 * map, never through the guest's write-protected mapping, so the device
 * thread never waits for a fault while it holds the lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dma-test-internal.h"

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* DMA ----------------------------------------------------------------- */

/* Pin [gpa, gpa + len) into dev->pin and count it; DMA_ERR_PIN (errno kept) if mm refuses. */
static uint64_t take_pin(struct dma_test *dev, uint64_t gpa, uint64_t len, unsigned flags)
{
	int err = mm_pin(dev->space, gpa, len, flags, &dev->pin);

	if (err) {
		dev->err_no = (uint64_t)-err;
		return DMA_ERR_PIN;
	}
	dev->st.pins++;
	dev->st.pins_held++;
	dev->st.pinned_bytes = len;
	return DMA_ERR_NONE;
}

/* Take the pin a DMA needs: the longterm one, or a short-term one now. */
static uint64_t dma_get(struct dma_test *dev, bool write, const struct iovec **ret_iov,
			unsigned *ret_niov)
{
	if (!dev->bound)
		return DMA_ERR_NOBUF;
	if (!(dev->b_flags & (write ? DMA_F_DEV_WRITES : DMA_F_DEV_READS)))
		return DMA_ERR_PERM;
	if (!dev->pin) {
		uint64_t code = take_pin(dev, dev->b_gpa, dev->b_len, write ? MM_PIN_WRITE : 0);

		if (code)
			return code;
	}
	*ret_iov = mm_pin_iov(dev->pin, ret_niov);
	return DMA_ERR_NONE;
}

static void pin_release(struct dma_test *dev)
{
	if (!dev->pin)
		return;
	mm_unpin(dev->pin);
	dev->pin = NULL;
	dev->st.unpins++;
	dev->st.pins_held--;
	dev->st.pinned_bytes = 0;
}

/* After a DMA: a short-term pin goes at once. */
static void dma_put(struct dma_test *dev)
{
	if (!(dev->b_flags & DMA_F_LONGTERM))
		pin_release(dev);
}

/* Whole 8-byte words where they fit in one iovec, bytes elsewhere. */
static void pattern_fill(const struct iovec *iov, unsigned niov, uint64_t seq)
{
	uint64_t off = 0;

	for (unsigned i = 0; i < niov; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len, j = 0;

		while (j < n) {
			if (off % 8 == 0 && n - j >= 8) {
				uint64_t w = dma_pattern_word(seq, off / 8);

				memcpy(p + j, &w, 8);
				j += 8;
				off += 8;
			} else {
				p[j++] = dma_pattern_byte(seq, off++);
			}
		}
	}
}

static uint64_t dma_write(struct dma_test *dev, uint64_t seq)
{
	const struct iovec *iov;
	unsigned niov;
	uint64_t code = dma_get(dev, true, &iov, &niov);

	if (code)
		return code;
	pattern_fill(iov, niov, seq);
	dma_put(dev);
	dev->last_seq = seq;
	dev->st.writes++;
	return DMA_ERR_NONE;
}

static uint64_t dma_read(struct dma_test *dev, uint64_t *ret_sum)
{
	const struct iovec *iov;
	unsigned niov;
	struct dma_sum sum;
	uint64_t code = dma_get(dev, false, &iov, &niov);

	if (code)
		return code;
	dma_sum_init(&sum);
	for (unsigned i = 0; i < niov; i++)
		dma_sum_update(&sum, iov[i].iov_base, iov[i].iov_len);
	dma_put(dev);
	dev->checksum = dma_sum_final(&sum);
	dev->st.reads++;
	*ret_sum = dev->checksum;
	return DMA_ERR_NONE;
}

/* The device thread ------------------------------------------------------ */

/* A failure the device finds on its own (a short-term pin refused). */
static void async_result(struct dma_test *dev, uint64_t code)
{
	if (!code)
		return;
	dev->error = code;
	dev->st.errors++;
}

/* Write pattern SEQ; SEQ moves on once it is written. */
static void write_next(struct dma_test *dev)
{
	uint64_t code = dma_write(dev, dev->seq);

	if (!code)
		dev->seq++;
	async_result(dev, code);
}

static void run_pending(struct dma_test *dev)
{
	uint64_t sum;

	if (dev->pending & PEND_WRITE) {
		dev->pending &= ~PEND_WRITE;
		write_next(dev);
	}
	if (dev->pending & PEND_READ) {
		dev->pending &= ~PEND_READ;
		async_result(dev, dma_read(dev, &sum));
	}
}

static void tick(struct dma_test *dev)
{
	uint64_t sum;

	dev->st.ticks++;
	if (dev->bound && (dev->b_flags & DMA_F_DEV_WRITES))
		write_next(dev);
	if (dev->bound && (dev->b_flags & DMA_F_DEV_READS))
		async_result(dev, dma_read(dev, &sum));
}

static void wait_until(struct dma_test *dev, uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
			      .tv_nsec = (long)(ns % 1000000000ULL)};

	pthread_cond_timedwait(&dev->cond, &dev->lock, &ts);
}

static void *dma_thread(void *arg)
{
	struct dma_test *dev = arg;

	pthread_mutex_lock(&dev->lock);
	while (!dev->quit) {
		uint64_t now = now_ns();

		if (dev->pending) {
			run_pending(dev);
		} else if (dev->timer_on && now >= dev->next_tick_ns) {
			tick(dev);
			/*
			 * Late ticks are dropped, counted from the end of this one: a
			 * tick that outlasts the period (a slow host, a sanitizer)
			 * must still leave the lock free a whole period for the
			 * registers, or the guest's vCPU starves on it.
			 */
			now = now_ns();
			dev->next_tick_ns += dev->timer_us * 1000;
			if (dev->next_tick_ns < now)
				dev->next_tick_ns = now + dev->timer_us * 1000;
		} else if (dev->timer_on) {
			wait_until(dev, dev->next_tick_ns);
		} else {
			pthread_cond_wait(&dev->cond, &dev->lock);
		}
	}
	pthread_mutex_unlock(&dev->lock);
	return NULL;
}

/* Commands (dev->lock held) ---------------------------------------------- */

static uint64_t check_buffer(struct dma_test *dev, uint64_t gpa, uint64_t len, uint64_t flags)
{
	if (dev->detached)
		return DMA_ERR_DETACHED;
	if (dev->bound)
		return DMA_ERR_BUSY;
	if ((flags & ~(uint64_t)DMA_F_ALL) || !(flags & (DMA_F_DEV_WRITES | DMA_F_DEV_READS)))
		return DMA_ERR_FLAGS;
	if (!len || len > dev->max_len)
		return DMA_ERR_LEN;
	if (gpa < dev->min_gpa || gpa + len < gpa || gpa + len > dev->mem_size)
		return DMA_ERR_RANGE;
	return DMA_ERR_NONE;
}

uint64_t dma_cmd__pin(struct dma_test *dev, uint64_t gpa, uint64_t len, uint64_t flags)
{
	uint64_t code = check_buffer(dev, gpa, len, flags);

	if (code)
		return code;
	if (flags & DMA_F_LONGTERM) {
		code = take_pin(dev, gpa, len,
				((flags & DMA_F_DEV_WRITES) ? MM_PIN_WRITE : 0) | MM_PIN_LONGTERM);
		if (code)
			return code;
	}
	dev->bound = true;
	dev->b_gpa = gpa;
	dev->b_len = len;
	dev->b_flags = flags;
	return DMA_ERR_NONE;
}

uint64_t dma_cmd__unpin(struct dma_test *dev)
{
	if (dev->detached)
		return DMA_ERR_DETACHED;
	if (!dev->bound)
		return DMA_ERR_NOBUF;
	dev->pending = 0; /* queued work on this buffer is dropped */
	pin_release(dev);
	dev->bound = false;
	return DMA_ERR_NONE;
}

void dma_cmd__reset(struct dma_test *dev)
{
	dev->timer_on = false;
	dev->pending = 0;
	pin_release(dev);
	dev->bound = false;
	dev->buf_gpa = dev->buf_len = dev->flags = dev->seq = 0;
	dev->timer_us = DEFAULT_TIMER_US;
	dev->error = dev->err_no = dev->last_seq = dev->checksum = 0;
}

uint64_t dma_cmd__queue(struct dma_test *dev, unsigned what)
{
	if (dev->detached)
		return DMA_ERR_DETACHED;
	if (!dev->bound)
		return DMA_ERR_NOBUF;
	if (!(dev->b_flags & (what == PEND_WRITE ? DMA_F_DEV_WRITES : DMA_F_DEV_READS)))
		return DMA_ERR_PERM;
	if (dev->pending & what)
		return DMA_ERR_BUSY;
	dev->pending |= what;
	pthread_cond_signal(&dev->cond);
	return DMA_ERR_NONE;
}

uint64_t dma_cmd__timer(struct dma_test *dev, bool on, uint64_t period_us)
{
	if (on && dev->detached)
		return DMA_ERR_DETACHED;
	if (on && (period_us < DMA_TIMER_MIN_US || period_us > DMA_TIMER_MAX_US))
		return DMA_ERR_TIMER;
	if (on && !dev->timer_on)
		dev->next_tick_ns = now_ns() + period_us * 1000;
	dev->timer_on = on;
	dev->timer_us = on ? period_us : dev->timer_us;
	pthread_cond_signal(&dev->cond);
	return DMA_ERR_NONE;
}

/* Host side ---------------------------------------------------------------- */

static int code_errno(const struct dma_test *dev, uint64_t code)
{
	switch (code) {
	case DMA_ERR_NONE: return 0;
	case DMA_ERR_RANGE: return -ERANGE;
	case DMA_ERR_BUSY: return -EBUSY;
	case DMA_ERR_NOBUF: return -ENOENT;
	case DMA_ERR_PERM: return -EPERM;
	case DMA_ERR_DETACHED: return -ESHUTDOWN;
	case DMA_ERR_PIN: return -(int)dev->err_no;
	default: return -EINVAL;
	}
}

int dma_test__create(const struct dma_test_config *cfg, struct dma_test **ret_dev)
{
	struct dma_test *dev;
	pthread_condattr_t ca;
	int err;

	if (!cfg->space)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->space = cfg->space;
	dev->min_gpa = cfg->min_gpa;
	dev->max_len = cfg->max_len ? cfg->max_len : DMA_TEST_DEFAULT_MAX_LEN;
	dev->mem_size = mm_space_size(cfg->space);
	dev->timer_us = DEFAULT_TIMER_US;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dev->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = -pthread_create(&dev->thread, NULL, dma_thread, dev);
	if (err) {
		pthread_cond_destroy(&dev->cond);
		pthread_mutex_destroy(&dev->lock);
		free(dev);
		return err;
	}
	*ret_dev = dev;
	return 0;
}

void dma_test__detach(struct dma_test *dev)
{
	if (!dev)
		return;
	pthread_mutex_lock(&dev->lock);
	dev->timer_on = false;
	dev->pending = 0;
	pin_release(dev);
	dev->bound = false;
	dev->detached = true;
	pthread_mutex_unlock(&dev->lock);
}

void dma_test__destroy(struct dma_test *dev)
{
	if (!dev)
		return;
	dma_test__detach(dev);
	pthread_mutex_lock(&dev->lock);
	dev->quit = true;
	pthread_cond_signal(&dev->cond);
	pthread_mutex_unlock(&dev->lock);
	pthread_join(dev->thread, NULL);
	pthread_cond_destroy(&dev->cond);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

int dma_test__pin(struct dma_test *dev, uint64_t gpa, uint64_t len, unsigned dma_flags)
{
	int err;

	pthread_mutex_lock(&dev->lock);
	err = code_errno(dev, dma_cmd__pin(dev, gpa, len, dma_flags));
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int dma_test__unpin(struct dma_test *dev)
{
	int err;

	pthread_mutex_lock(&dev->lock);
	err = code_errno(dev, dma_cmd__unpin(dev));
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int dma_test__write_now(struct dma_test *dev, uint64_t seq)
{
	int err;

	pthread_mutex_lock(&dev->lock);
	err = code_errno(dev, dev->detached ? DMA_ERR_DETACHED : dma_write(dev, seq));
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int dma_test__read_now(struct dma_test *dev, uint64_t *ret_checksum)
{
	uint64_t sum = 0;
	int err;

	pthread_mutex_lock(&dev->lock);
	err = code_errno(dev, dev->detached ? DMA_ERR_DETACHED : dma_read(dev, &sum));
	pthread_mutex_unlock(&dev->lock);
	if (!err)
		*ret_checksum = sum;
	return err;
}

int dma_test__timer_start(struct dma_test *dev, uint64_t period_us)
{
	int err;

	pthread_mutex_lock(&dev->lock);
	err = code_errno(dev, dma_cmd__timer(dev, true, period_us));
	pthread_mutex_unlock(&dev->lock);
	return err;
}

void dma_test__timer_stop(struct dma_test *dev)
{
	pthread_mutex_lock(&dev->lock);
	(void)dma_cmd__timer(dev, false, 0);
	pthread_mutex_unlock(&dev->lock);
}

const struct iovec *dma_test__pin_iov(struct dma_test *dev, unsigned *ret_niov)
{
	const struct iovec *iov = NULL;

	*ret_niov = 0;
	pthread_mutex_lock(&dev->lock);
	if (dev->pin)
		iov = mm_pin_iov(dev->pin, ret_niov);
	pthread_mutex_unlock(&dev->lock);
	return iov;
}

void dma_test__stats(struct dma_test *dev, struct dma_test_stats *ret_stats)
{
	pthread_mutex_lock(&dev->lock);
	*ret_stats = dev->st;
	pthread_mutex_unlock(&dev->lock);
}
