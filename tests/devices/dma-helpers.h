/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the DMA test device's tests: its registers as a guest's vCPU
 * sees them (dma_test__mmio from the test thread), its pattern, and what
 * it sees of guest memory (checksums through its pin's iovecs versus a
 * space's host mapping). Built on the mm tests' helpers (mm-test.h): host
 * threads are the guests, and a guest write that never completes fails the
 * test instead of hanging it.
 */
#ifndef TESTS_DMA_HELPERS_H
#define TESTS_DMA_HELPERS_H

#include "dma-test.h"
#include "mm-test.h"

#define WAIT_MS 10000

static inline uint64_t reg_rd(struct dma_test *dev, uint64_t reg)
{
	uint64_t v = 0;

	dma_test__mmio(dev, reg, (uint8_t *)&v, 8, false);
	return v;
}

static inline void reg_wr(struct dma_test *dev, uint64_t reg, uint64_t v)
{
	dma_test__mmio(dev, reg, (uint8_t *)&v, 8, true);
}

static inline void sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000L};

	nanosleep(&ts, NULL);
}

/* A command as a guest gives it; waits for queued DMA; the ERROR register. */
static inline uint64_t dma_do(struct dma_test *dev, uint64_t cmd)
{
	uint64_t t0 = now_ns();

	reg_wr(dev, DMA_REG_CMD, cmd);
	while (reg_rd(dev, DMA_REG_STATUS) & DMA_ST_BUSY) {
		if (now_ns() - t0 > WAIT_MS * 1000000ULL)
			fail_msg("the device stayed busy for %d ms after command %llu", WAIT_MS,
				 (unsigned long long)cmd);
		sleep_us(50);
	}
	return reg_rd(dev, DMA_REG_ERROR);
}

static inline uint64_t dma_pin_regs(struct dma_test *dev, uint64_t gpa, uint64_t len,
				    uint64_t flags)
{
	reg_wr(dev, DMA_REG_BUF_GPA, gpa);
	reg_wr(dev, DMA_REG_BUF_LEN, len);
	reg_wr(dev, DMA_REG_FLAGS, flags);
	return dma_do(dev, DMA_CMD_PIN);
}

/* Wait until device counter @reg reaches @min. */
static inline void wait_reg(struct dma_test *dev, uint64_t reg, uint64_t min)
{
	uint64_t t0 = now_ns();

	while (reg_rd(dev, reg) < min) {
		if (now_ns() - t0 > WAIT_MS * 1000000ULL)
			fail_msg("device register %#llx stayed at %llu, want >= %llu",
				 (unsigned long long)reg, (unsigned long long)reg_rd(dev, reg),
				 (unsigned long long)min);
		sleep_us(100);
	}
}

/* Byte offset of the first byte of @p that is not pattern @seq, or -1. */
static inline int64_t pattern_diff(const void *p, uint64_t len, uint64_t seq)
{
	const volatile uint8_t *b = p;

	for (uint64_t i = 0; i < len; i++)
		if (b[i] != dma_pattern_byte(seq, i))
			return (int64_t)i;
	return -1;
}

#define assert_pattern(p, len, seq)                                                        \
	do {                                                                               \
		int64_t __d = pattern_diff((p), (len), (seq));                             \
		if (__d >= 0)                                                              \
			fail_msg("%s: %s holds no pattern %llu at byte %lld", __func__, #p,  \
				 (unsigned long long)(seq), (long long)__d);               \
	} while (0)

static inline uint64_t mem_sum(const void *p, uint64_t len)
{
	return dma_checksum(p, len);
}

/* What the device's pin covers, byte for byte equal to @p? */
static inline bool iov_same(const struct iovec *iov, unsigned niov, const void *p, uint64_t len)
{
	uint64_t off = 0;

	for (unsigned i = 0; i < niov; i++) {
		if (off + iov[i].iov_len > len || memcmp(iov[i].iov_base, (const uint8_t *)p + off,
							 iov[i].iov_len))
			return false;
		off += iov[i].iov_len;
	}
	return off == len;
}

/* The device's checksum of its buffer, now. */
static inline uint64_t dev_sum(struct dma_test *dev)
{
	uint64_t sum = 0;

	assert_int_equal(dma_test__read_now(dev, &sum), 0);
	return sum;
}

/* The device's pin addresses exactly the bytes @p (a space's mapping) holds. */
#define assert_device_sees(dev, p, len)                                                    \
	do {                                                                               \
		unsigned __n;                                                              \
		const struct iovec *__iov = dma_test__pin_iov((dev), &__n);                \
		if (!__iov)                                                                \
			fail_msg("%s: the device holds no pin", __func__);                 \
		if (!iov_same(__iov, __n, (p), (len)))                                     \
			fail_msg("%s: the device's pin and %s differ", __func__, #p);      \
		assert_int_equal(dev_sum(dev), mem_sum((p), (len)));                       \
	} while (0)

/*
 * Each 8-byte word of @p (a buffer the device writes) holds the device's
 * pattern word of a sequence number in [lo, hi]; a word torn by a copy that
 * raced the DMA may mix two of them byte by byte.
 */
static inline int64_t words_from(const void *p, uint64_t len, uint64_t lo, uint64_t hi)
{
	const volatile uint8_t *b = p;
	uint64_t cur = lo; /* neighbours mostly share a sequence number: try it first */

	for (uint64_t k = 0; k < len / 8; k++) {
		uint64_t w;
		bool ok;

		memcpy(&w, (const void *)(b + 8 * k), 8);
		ok = w == dma_pattern_word(cur, k);
		for (uint64_t s = lo; s <= hi && !ok; s++)
			if ((ok = w == dma_pattern_word(s, k)))
				cur = s;
		for (unsigned j = 0; j < 8 && !ok; j++) {
			bool any = false;

			for (uint64_t s = lo; s <= hi && !any; s++)
				any = b[8 * k + j] == dma_pattern_byte(s, 8 * k + j);
			if (!any)
				break;
			ok = j == 7;
		}
		if (!ok)
			return (int64_t)k;
	}
	return -1;
}

#define assert_words_from(p, len, lo, hi)                                                  \
	do {                                                                               \
		int64_t __k = words_from((p), (len), (lo), (hi));                          \
		if (__k >= 0)                                                              \
			fail_msg("%s: word %lld of %s is no device pattern of seq %llu..%llu", \
				 __func__, (long long)__k, #p, (unsigned long long)(lo),   \
				 (unsigned long long)(hi));                                \
	} while (0)

/* The guest of @s reads each of @npages pages from @gpa as @tag (mm-test.h). */
static inline void assert_tags_at(struct mm_space *s, uint64_t gpa, uint64_t npages,
				  uint32_t tag)
{
	for (uint64_t i = 0; i < npages; i++)
		assert_guest_tag(s, gpa + i * PAGE, tag);
}

#endif
