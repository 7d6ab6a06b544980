// SPDX-License-Identifier: MIT
/*
 * test-dma-test: the DMA test device on its own (suite devices), over an
 * mm space with host threads as the guest; no KVM needed.
 *
 * - The register map reads as documented, for every access size.
 * - PIN + WRITE_PATTERN/READ_BACK move the right bytes through the pin's
 *   iovecs for aligned, unaligned, one-byte and cap-sized buffers, longterm
 *   and short-term (a short-term pin is held only during its DMA).
 * - Every bad value a guest can write is refused with its error code, is
 *   counted, and leaves nothing pinned; a random register fuzz keeps the
 *   device's invariants (run it under ASan/UBSan too).
 * - mm refusing the pin (injected copy failure) reaches ERROR/ERRNO.
 * - The timer writes and reads until stopped; RESET, detach and destroy
 *   release the pin, so the space and the pool are destroyed cleanly.
 */
#include <unistd.h>

#include "dma-helpers.h"

#define MEM (32ULL << 20)
#define BUF (8ULL << 20)
#define MIN_GPA 0x10000ULL
#define RW_LT (DMA_F_DEV_WRITES | DMA_F_DEV_READS | DMA_F_LONGTERM)

struct fix {
	struct mm_pool *pool;
	struct mm_space *space;
	struct dma_test *dev;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct dma_test_config cfg = {.min_gpa = MIN_GPA};

	assert_non_null(f);
	*state = f;
	test_pool_create(NULL, &f->pool);
	assert_int_equal(mm_space_create(f->pool, MEM, &f->space), 0);
	cfg.space = f->space;
	assert_int_equal(dma_test__create(&cfg, &f->dev), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	dma_test__destroy(f->dev);
	assert_int_equal(mm_space_destroy(f->space), 0);
	assert_pool_empty(f->pool);
	assert_int_equal(mm_pool_destroy(f->pool), 0);
	free(f);
	return 0;
}

static uint8_t *hva(struct fix *f, uint64_t gpa)
{
	return gpa_ptr(f->space, gpa);
}

static uint64_t pool_pinned(struct fix *f)
{
	struct mm_stats st;

	mm_pool_stats(f->pool, &st);
	return st.pinned_pages;
}

static void test_registers(void **state)
{
	struct fix *f = *state;
	uint8_t b[8] = {0};

	assert_int_equal(reg_rd(f->dev, DMA_REG_MAGIC), DMA_TEST_MAGIC);
	assert_int_equal(reg_rd(f->dev, DMA_REG_VERSION), DMA_TEST_VERSION);
	assert_int_equal(reg_rd(f->dev, DMA_REG_MAX_LEN), DMA_TEST_DEFAULT_MAX_LEN);
	assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_TIMER_US), 1000);
	for (unsigned len = 1; len <= 8; len++) {
		memset(b, 0xee, sizeof(b));
		dma_test__mmio(f->dev, DMA_REG_MAGIC + 1, b, len, false);
		for (unsigned i = 0; i < len; i++)
			assert_int_equal(b[i], i + 1 < 8 ? (DMA_TEST_MAGIC >> ((i + 1) * 8)) & 0xff
							 : 0);
	}
	for (uint64_t off = DMA_REG_END; off < 0x1000; off += 8)
		assert_int_equal(reg_rd(f->dev, off), 0);
	reg_wr(f->dev, DMA_REG_SEQ, 0x1122334455667788ULL);
	assert_int_equal(reg_rd(f->dev, DMA_REG_SEQ), 0x1122334455667788ULL);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CNT_ERRORS), 0);
}

struct xfer {
	uint64_t gpa, len, flags;
};

static void one_transfer(struct fix *f, const struct xfer *x, uint64_t seq)
{
	struct dma_test_stats st;
	unsigned niov;

	assert_int_equal(dma_pin_regs(f->dev, x->gpa, x->len, x->flags), 0);
	assert_true(reg_rd(f->dev, DMA_REG_STATUS) & DMA_ST_BOUND);
	reg_wr(f->dev, DMA_REG_SEQ, seq);
	assert_int_equal(dma_do(f->dev, DMA_CMD_WRITE_PATTERN), 0);
	assert_pattern(hva(f, x->gpa), x->len, seq);
	assert_int_equal(reg_rd(f->dev, DMA_REG_LAST_SEQ), seq);
	assert_int_equal(reg_rd(f->dev, DMA_REG_SEQ), seq + 1);
	/* The bytes around the buffer are untouched. */
	assert_int_equal(hva(f, x->gpa)[-1], 0);
	assert_int_equal(hva(f, x->gpa)[x->len], 0);
	guest_fill(f->space, x->gpa & ~(PAGE - 1), 1, 0x77);
	assert_int_equal(dma_do(f->dev, DMA_CMD_READ_BACK), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CHECKSUM), mem_sum(hva(f, x->gpa), x->len));
	if (x->flags & DMA_F_LONGTERM) {
		assert_device_sees(f->dev, hva(f, x->gpa), x->len);
		assert_int_equal(pool_pinned(f), (x->gpa + x->len - 1) / PAGE - x->gpa / PAGE + 1);
	} else {
		assert_null(dma_test__pin_iov(f->dev, &niov));
		assert_int_equal(pool_pinned(f), 0);
	}
	dma_test__stats(f->dev, &st);
	assert_int_equal(st.pins_held, !!(x->flags & DMA_F_LONGTERM));
	assert_int_equal(dma_do(f->dev, DMA_CMD_UNPIN), 0);
	assert_int_equal(pool_pinned(f), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS), 0);
	/* The next case checks the bytes around its buffer. */
	memset(hva(f, x->gpa & ~(PAGE - 1)), 0, (x->gpa + x->len + PAGE - 1) / PAGE * PAGE -
	       (x->gpa & ~(PAGE - 1)));
}

static void test_transfers(void **state)
{
	static const struct xfer xs[] = {
		{BUF, PAGE, RW_LT},
		{BUF + 5, 3 * PAGE + 7, RW_LT},
		{BUF + PAGE - 1, 1, RW_LT},
		{BUF + PAGE - 3, 6, RW_LT},
		{BUF, DMA_TEST_DEFAULT_MAX_LEN, RW_LT},
		{BUF + 5, 3 * PAGE + 7, DMA_F_DEV_WRITES | DMA_F_DEV_READS},
		{MEM - 2 * PAGE, 2 * PAGE - 1, RW_LT},
	};
	struct fix *f = *state;
	struct dma_test_stats st;

	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		one_transfer(f, &xs[i], 100 + i);
	dma_test__stats(f->dev, &st);
	assert_int_equal(st.writes, 7);
	assert_int_equal(st.reads, 7 + 6); /* + assert_device_sees of the longterm cases */
	assert_int_equal(st.pins, 6 + 2); /* the short-term case pins per DMA */
	assert_int_equal(st.unpins, st.pins);
	assert_int_equal(st.errors, 0);
}

struct bad {
	uint64_t gpa, len, flags, want;
	const char *what;
};

static void test_hostile_values(void **state)
{
	const struct bad bad[] = {
		{BUF, 0, RW_LT, DMA_ERR_LEN, "zero length"},
		{BUF, DMA_TEST_DEFAULT_MAX_LEN + 1, RW_LT, DMA_ERR_LEN, "over the cap"},
		{BUF, ~0ULL, RW_LT, DMA_ERR_LEN, "huge"},
		{MEM - PAGE, 2 * PAGE, RW_LT, DMA_ERR_RANGE, "past RAM"},
		{MEM, 1, RW_LT, DMA_ERR_RANGE, "at the end of RAM"},
		{0xd0000000ULL, PAGE, RW_LT, DMA_ERR_RANGE, "MMIO"},
		{~0ULL - 10, 100, RW_LT, DMA_ERR_RANGE, "wraps"},
		{MIN_GPA - 1, 2, RW_LT, DMA_ERR_RANGE, "below min_gpa"},
		{BUF, PAGE, 0, DMA_ERR_FLAGS, "no direction"},
		{BUF, PAGE, DMA_F_LONGTERM, DMA_ERR_FLAGS, "longterm only"},
		{BUF, PAGE, RW_LT | 8, DMA_ERR_FLAGS, "unknown flag"},
		{BUF, PAGE, ~0ULL, DMA_ERR_FLAGS, "all flags"},
	};
	struct fix *f = *state;
	uint64_t n = 0;
	uint8_t b[8] = {DMA_CMD_PIN};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++, n++) {
		if (dma_pin_regs(f->dev, bad[i].gpa, bad[i].len, bad[i].flags) != bad[i].want)
			fail_msg("%s: ERROR %llu, want %llu", bad[i].what,
				 (unsigned long long)reg_rd(f->dev, DMA_REG_ERROR),
				 (unsigned long long)bad[i].want);
		assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS), DMA_ST_ERROR);
		assert_int_equal(pool_pinned(f), 0);
	}
	assert_int_equal(dma_do(f->dev, DMA_CMD_UNPIN), DMA_ERR_NOBUF);
	assert_int_equal(dma_do(f->dev, DMA_CMD_WRITE_PATTERN), DMA_ERR_NOBUF);
	assert_int_equal(dma_do(f->dev, DMA_CMD_READ_BACK), DMA_ERR_NOBUF);
	assert_int_equal(dma_do(f->dev, 0), DMA_ERR_CMD);
	assert_int_equal(dma_do(f->dev, ~0ULL), DMA_ERR_CMD);
	n += 5;
	/* Odd sizes are refused as accesses; 4 and 8 bytes reach PIN, which refuses. */
	for (unsigned len = 1; len <= 8; len++, n++) {
		dma_test__mmio(f->dev, DMA_REG_CMD, b, len, true);
		assert_int_equal(reg_rd(f->dev, DMA_REG_ERROR), len == 4 || len == 8 ?
				 DMA_ERR_FLAGS : DMA_ERR_ACCESS);
		assert_int_equal(reg_rd(f->dev, DMA_REG_PINS_HELD), 0);
	}
	dma_test__mmio(f->dev, DMA_REG_CMD + 4, b, 4, true);
	reg_wr(f->dev, DMA_REG_STATUS, 0);
	reg_wr(f->dev, DMA_REG_CNT_ERRORS, 0);
	reg_wr(f->dev, 0xff8, 1);
	n += 4;
	assert_int_equal(reg_rd(f->dev, DMA_REG_ERROR), DMA_ERR_ACCESS);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CNT_ERRORS), n);
	/* A good pin still works; twice is refused and leaves it alone. */
	assert_int_equal(dma_pin_regs(f->dev, BUF, PAGE, RW_LT), 0);
	assert_int_equal(dma_do(f->dev, DMA_CMD_PIN), DMA_ERR_BUSY);
	assert_int_equal(reg_rd(f->dev, DMA_REG_PINS_HELD), 1);
	assert_int_equal(pool_pinned(f), 1);
	assert_int_equal(dma_do(f->dev, DMA_CMD_RESET), 0);
	assert_int_equal(pool_pinned(f), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CNT_ERRORS), n + 1);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A value a fuzzer would write: small, near a boundary, or random. */
static uint64_t fuzz_value(uint64_t *rng)
{
	static const uint64_t edge[] = {0, 1, PAGE - 1, PAGE, BUF, MEM - 1, MEM, MIN_GPA,
					DMA_TEST_DEFAULT_MAX_LEN, ~0ULL, 0xd0000000ULL, 7};
	uint64_t r = xorshift(rng);

	switch (r % 4) {
	case 0: return edge[(r >> 8) % (sizeof(edge) / sizeof(edge[0]))];
	case 1: return (r >> 8) % 10;
	case 2: return BUF + ((r >> 8) % (4 * PAGE));
	default: return xorshift(rng);
	}
}

static void test_register_fuzz(void **state)
{
	struct fix *f = *state;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 20000; i++) {
		uint64_t r = xorshift(&rng), v = fuzz_value(&rng);
		uint64_t off = r % 4 ? (r >> 8) % (DMA_REG_END / 8) * 8 : (r >> 8) % 0x1000;
		unsigned len = 1 + (unsigned)((r >> 20) % 8);

		if (r % 3 == 0) {
			reg_wr(f->dev, DMA_REG_BUF_LEN, v % (64 * PAGE));
			v = (r >> 32) % 8;
			off = DMA_REG_CMD;
			len = 8;
		}
		dma_test__mmio(f->dev, off, (uint8_t *)&v, len, (r >> 40) % 4 != 0);
		struct dma_test_stats st;

		dma_test__stats(f->dev, &st);
		assert_true(st.pins_held <= 1);
		assert_true(st.pins_held ? st.pinned_bytes && st.pinned_bytes <=
			    DMA_TEST_DEFAULT_MAX_LEN : !st.pinned_bytes);
		assert_int_equal(st.pins - st.unpins, st.pins_held);
	}
	dma_do(f->dev, DMA_CMD_RESET);
	assert_int_equal(pool_pinned(f), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_MAGIC), DMA_TEST_MAGIC);
}

static void test_host_api(void **state)
{
	struct fix *f = *state;
	struct mm_space *child;
	uint64_t sum;

	assert_int_equal(dma_test__pin(f->dev, BUF, 0, RW_LT), -EINVAL);
	assert_int_equal(dma_test__pin(f->dev, BUF, PAGE, 0), -EINVAL);
	assert_int_equal(dma_test__pin(f->dev, MEM, PAGE, RW_LT), -ERANGE);
	assert_int_equal(dma_test__unpin(f->dev), -ENOENT);
	assert_int_equal(dma_test__write_now(f->dev, 1), -ENOENT);
	assert_int_equal(dma_test__pin(f->dev, BUF, PAGE, DMA_F_DEV_READS | DMA_F_LONGTERM), 0);
	assert_int_equal(dma_test__pin(f->dev, BUF, PAGE, RW_LT), -EBUSY);
	assert_int_equal(dma_test__write_now(f->dev, 1), -EPERM);
	assert_int_equal(dma_test__read_now(f->dev, &sum), 0);
	assert_int_equal(dma_test__unpin(f->dev), 0);
	assert_int_equal(dma_test__pin(f->dev, BUF, PAGE, DMA_F_DEV_WRITES), 0);
	assert_int_equal(dma_test__read_now(f->dev, &sum), -EPERM);
	assert_int_equal(dma_test__unpin(f->dev), 0);
	assert_int_equal(dma_test__timer_start(f->dev, 1), -EINVAL);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CNT_ERRORS), 0); /* host calls are not the guest's */

	/* mm refuses: a page shared with a clone cannot be unshared (no memory). */
	guest_fill(f->space, BUF, 1, 0x51);
	assert_int_equal(mm_space_clone(f->space, 0, &child), 0);
	mm_pool_inject_copy_failure(f->pool, 1, -ENOMEM);
	assert_int_equal(dma_pin_regs(f->dev, BUF, PAGE, RW_LT), DMA_ERR_PIN);
	assert_int_equal(reg_rd(f->dev, DMA_REG_ERRNO), ENOMEM);
	assert_int_equal(reg_rd(f->dev, DMA_REG_PINS_HELD), 0);
	mm_pool_inject_copy_failure(f->pool, 1, -ENOSPC);
	assert_int_equal(dma_test__pin(f->dev, BUF, PAGE, RW_LT), -ENOSPC);
	/* Short-term: the pin of each DMA fails the same way, asynchronously. */
	assert_int_equal(dma_pin_regs(f->dev, BUF, PAGE, DMA_F_DEV_WRITES), 0);
	mm_pool_inject_copy_failure(f->pool, 1, -ENOMEM);
	assert_int_equal(dma_do(f->dev, DMA_CMD_WRITE_PATTERN), DMA_ERR_PIN);
	assert_int_equal(dma_do(f->dev, DMA_CMD_WRITE_PATTERN), 0);
	assert_int_equal(dma_do(f->dev, DMA_CMD_UNPIN), 0);
	assert_int_equal(mm_space_destroy(child), 0);
}

static void test_timer(void **state)
{
	struct fix *f = *state;
	uint64_t ticks, t0;

	assert_int_equal(dma_pin_regs(f->dev, BUF, 3 * PAGE, RW_LT), 0);
	reg_wr(f->dev, DMA_REG_TIMER_US, 100);
	assert_int_equal(dma_do(f->dev, DMA_CMD_TIMER_START), 0);
	assert_true(reg_rd(f->dev, DMA_REG_STATUS) & DMA_ST_TIMER);
	wait_reg(f->dev, DMA_REG_CNT_TICKS, 20);
	assert_int_equal(dma_do(f->dev, DMA_CMD_TIMER_STOP), 0);
	ticks = reg_rd(f->dev, DMA_REG_CNT_TICKS);
	assert_true(reg_rd(f->dev, DMA_REG_CNT_WRITES) >= 20);
	assert_true(reg_rd(f->dev, DMA_REG_CNT_READS) >= 20);
	assert_int_equal(reg_rd(f->dev, DMA_REG_SEQ), reg_rd(f->dev, DMA_REG_LAST_SEQ) + 1);
	assert_pattern(hva(f, BUF), 3 * PAGE, reg_rd(f->dev, DMA_REG_LAST_SEQ));
	t0 = now_ns();
	sleep_us(20000);
	assert_true(now_ns() - t0 >= 20000000);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CNT_TICKS), ticks);
	/* Without a buffer the timer ticks and moves nothing. */
	assert_int_equal(dma_do(f->dev, DMA_CMD_UNPIN), 0);
	assert_int_equal(dma_test__timer_start(f->dev, 100), 0);
	wait_reg(f->dev, DMA_REG_CNT_TICKS, ticks + 5);
	dma_test__timer_stop(f->dev);
	assert_int_equal(reg_rd(f->dev, DMA_REG_CNT_ERRORS), 0);
}

/* Queued work, then UNPIN at once, many times: never a DMA after the unpin. */
static void test_unpin_races_queue(void **state)
{
	struct fix *f = *state;

	for (int i = 0; i < 500; i++) {
		assert_int_equal(dma_pin_regs(f->dev, BUF, 4 * PAGE, i % 2 ? RW_LT :
					      DMA_F_DEV_WRITES | DMA_F_DEV_READS), 0);
		reg_wr(f->dev, DMA_REG_CMD, DMA_CMD_WRITE_PATTERN);
		reg_wr(f->dev, DMA_REG_CMD, DMA_CMD_READ_BACK);
		assert_int_equal(dma_do(f->dev, DMA_CMD_UNPIN), 0);
		assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS) & (DMA_ST_BUSY | DMA_ST_PINNED), 0);
		assert_int_equal(pool_pinned(f), 0);
	}
}

static void test_reset_detach_destroy(void **state)
{
	struct fix *f = *state;
	struct dma_test_config cfg = {.space = f->space};
	struct dma_test *dev2;
	uint64_t sum;

	assert_int_equal(dma_pin_regs(f->dev, BUF, PAGE, RW_LT), 0);
	reg_wr(f->dev, DMA_REG_SEQ, 5);
	assert_int_equal(dma_do(f->dev, DMA_CMD_WRITE_PATTERN), 0);
	assert_int_equal(dma_do(f->dev, DMA_CMD_TIMER_START), 0);
	assert_int_equal(dma_do(f->dev, DMA_CMD_RESET), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_SEQ), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_BUF_GPA), 0);
	assert_true(reg_rd(f->dev, DMA_REG_CNT_WRITES) >= 1); /* counters stay */
	assert_int_equal(pool_pinned(f), 0);

	assert_int_equal(dma_pin_regs(f->dev, BUF, PAGE, RW_LT), 0);
	assert_int_equal(dma_do(f->dev, DMA_CMD_TIMER_START), 0);
	dma_test__detach(f->dev);
	dma_test__detach(f->dev);
	assert_int_equal(pool_pinned(f), 0);
	assert_int_equal(reg_rd(f->dev, DMA_REG_STATUS), 0);
	assert_int_equal(dma_pin_regs(f->dev, BUF, PAGE, RW_LT), DMA_ERR_DETACHED);
	assert_int_equal(dma_do(f->dev, DMA_CMD_TIMER_START), DMA_ERR_DETACHED);
	assert_int_equal(dma_test__pin(f->dev, BUF, PAGE, RW_LT), -ESHUTDOWN);
	assert_int_equal(dma_test__read_now(f->dev, &sum), -ESHUTDOWN);

	/* Destroyed while pinned with the timer running: the pin goes with it. */
	assert_int_equal(dma_test__create(&cfg, &dev2), 0);
	assert_int_equal(dma_test__pin(dev2, BUF, 2 * PAGE, RW_LT), 0);
	assert_int_equal(mm_space_destroy(f->space), -EBUSY);
	assert_int_equal(dma_test__timer_start(dev2, 50), 0);
	wait_reg(dev2, DMA_REG_CNT_TICKS, 3);
	dma_test__destroy(dev2);
	assert_int_equal(pool_pinned(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_fuzz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpin_races_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_detach_destroy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
