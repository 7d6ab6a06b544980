// SPDX-License-Identifier: MIT
/*
 * dmatest MODE [LEN [OFF]] [short]: drives the DMA test device (dma-drv.h)
 * over a buffer of LEN bytes (default 64 KiB) at DMATEST_BUF + OFF.
 *   pin-write     pin R/W (longterm, or per DMA with `short`): device patterns
 *                 11, 22, 33 arrive; the device's read-back sees guest writes
 *   guest-write   pin R/O: the device's checksum follows the guest's writes;
 *                 a device write is refused (DMA_ERR_PERM)
 *   hostile       every bad value and access, each refused as expected
 *   clone-rw      pin R/W, pattern 1, HC_CLONE: the device writes pattern 2
 *                 for the parent and sees its writes; each clone writes its
 *                 own data, no device write reaches it (pin kept at exit)
 *   clone-ro      write, HC_CLONE, then the parent pins R/O (a page shared
 *                 with the clone): the device sees the parent's later writes,
 *                 never the clone's (pin kept at exit)
 *   clone-unpin   pin R/W, HC_CLONE, the parent unpins and writes
 *   clone-storm N pin R/W, device writes on a 200 us timer, N clones: each
 *                 holds device pattern words and is never written after
 *   pin-hold      pin R/W, pattern 1, print, park (the host clones)
 *   timer-spin    pin R/W, timer on, then write a scratch area forever
 * Prints one "dmatest: ..." line. Exit: 0 ok; 3 usage; 4 no device;
 * 20 a device write did not arrive; 21 the device's read-back differs from
 * the guest's data; 22 a command failed; 23 a bad value was accepted;
 * 24 another VM's data showed through; 25 HC_CLONE failed.
 */
#include "dma-drv.h"
#include "guest.h"

#define DMATEST_BUF 0x1000000UL /* 16 MiB, above the image */
#define DMATEST_LEN 0x10000UL
#define SCRATCH (DMATEST_BUF + (8UL << 20))
#define RW_LT (DMA_F_DEV_WRITES | DMA_F_DEV_READS | DMA_F_LONGTERM)

static struct dma_dev dev;
static uint64_t buf, len;

static int fail(int status, const char *what, uint64_t v)
{
	printf_uart("dmatest: FAIL: %s (0x%lx)\n", what, v);
	return status;
}

static void linger(uint64_t ms)
{
	int64_t end = hcall(HC_TIME_NS, 0, 0, 0) + (int64_t)ms * 1000000;

	while (hcall(HC_TIME_NS, 0, 0, 0) < end)
		;
}

/* The device's read-back must equal the guest's own checksum. */
static int check_read_back(const char *what)
{
	uint64_t sum, err = dma_read_back(&dev, &sum);

	if (err)
		return fail(22, "READ_BACK", err);
	if (sum != dma_sum(buf, len))
		return fail(21, what, sum);
	return 0;
}

static int write_and_check(uint64_t seq)
{
	uint64_t err = dma_write_pattern(&dev, seq);

	if (err)
		return fail(22, "WRITE_PATTERN", err);
	if (!dma_holds(buf, len, seq))
		return fail(20, "the device's pattern did not arrive", seq);
	if (dma_rd(&dev, DMA_REG_LAST_SEQ) != seq)
		return fail(22, "LAST_SEQ", dma_rd(&dev, DMA_REG_LAST_SEQ));
	return check_read_back("read-back of the device's own pattern");
}

static int mode_pin_write(int is_short)
{
	uint64_t err = dma_pin(&dev, buf, len, is_short ? RW_LT & ~DMA_F_LONGTERM : RW_LT);
	int st;

	if (err)
		return fail(22, "PIN", err);
	for (uint64_t seq = 11; seq <= 33; seq += 11) {
		st = write_and_check(seq);
		if (st)
			return st;
	}
	dma_fill(buf, len, 0x600d);
	st = check_read_back("the device does not see the guest's writes");
	if (st)
		return st;
	err = dma_cmd(&dev, DMA_CMD_UNPIN);
	if (err || dma_rd(&dev, DMA_REG_PINS_HELD))
		return fail(22, "UNPIN", err);
	printf_uart("dmatest: pin-write ok (len %lu, gpa 0x%lx, %s)\n", len, buf,
		    is_short ? "short-term" : "longterm");
	return 0;
}

static int mode_guest_write(void)
{
	uint64_t err = dma_pin(&dev, buf, len, DMA_F_DEV_READS | DMA_F_LONGTERM);
	int st;

	if (err)
		return fail(22, "PIN", err);
	dma_fill(buf, len, 0x1234);
	st = check_read_back("the device does not see the guest's writes");
	if (st)
		return st;
	((volatile uint8_t *)buf)[len / 2] ^= 0x5a;
	st = check_read_back("the device missed a one-byte change");
	if (st)
		return st;
	err = dma_cmd(&dev, DMA_CMD_WRITE_PATTERN);
	if (err != DMA_ERR_PERM)
		return fail(23, "a device write through a read-only pin", err);
	if (dma_cmd(&dev, DMA_CMD_UNPIN))
		return fail(22, "UNPIN", dma_rd(&dev, DMA_REG_ERROR));
	printf_uart("dmatest: guest-write ok (len %lu)\n", len);
	return 0;
}

/* HC_CLONE: -1 failed, 0 in the parent, the clone's number in a clone. */
static int64_t clone_vm(void)
{
	int64_t r = hcall(HC_CLONE, 0, 0, 0);

	if (r < 0)
		return -1;
	return (r & (int64_t)HC_CLONE_CHILD) ? (r & 0xffff) : 0;
}

/* In clone @n: the buffer is its own from the clone point on. */
static int as_clone(int64_t n, int64_t expect_seq)
{
	if (expect_seq >= 0 && !dma_holds(buf, len, (uint64_t)expect_seq))
		return fail(24, "the clone's buffer differs from the clone point", (uint64_t)n);
	dma_fill(buf, len, 100 + (uint64_t)n);
	linger(20);
	if (!dma_holds(buf, len, 100 + (uint64_t)n))
		return fail(24, "a device write or the parent's reached the clone", (uint64_t)n);
	printf_uart("dmatest: clone %ld ok\n", n);
	return 0;
}

static int mode_clone_rw(void)
{
	int64_t n;
	int st;

	if (dma_pin(&dev, buf, len, RW_LT))
		return fail(22, "PIN", dma_rd(&dev, DMA_REG_ERROR));
	st = write_and_check(1);
	if (st)
		return st;
	n = clone_vm();
	if (n < 0)
		return fail(25, "HC_CLONE", 0);
	if (n)
		return as_clone(n, 1);
	st = write_and_check(2);
	if (st)
		return st;
	linger(20);
	if (!dma_holds(buf, len, 2))
		return fail(24, "a clone's writes reached the parent", 0);
	dma_fill(buf, len, 200); /* not the device's pattern: a copy would show */
	st = check_read_back("the device does not see the parent's writes");
	if (!st)
		printf_uart("dmatest: clone-rw parent ok\n");
	return st;
}

static int mode_clone_ro(void)
{
	int64_t n;
	int st;

	dma_fill(buf, len, 5);
	n = clone_vm();
	if (n < 0)
		return fail(25, "HC_CLONE", 0);
	if (n)
		return as_clone(n, 5);
	if (dma_pin(&dev, buf, len, DMA_F_DEV_READS | DMA_F_LONGTERM))
		return fail(22, "PIN", dma_rd(&dev, DMA_REG_ERROR));
	dma_fill(buf, len, 6);
	st = check_read_back("the device does not see the owner's writes after a R/O pin");
	if (st)
		return st;
	linger(20);
	st = check_read_back("the device sees a clone's writes");
	if (!st)
		printf_uart("dmatest: clone-ro parent ok\n");
	return st;
}

static int mode_clone_unpin(void)
{
	int64_t n;
	int st;

	if (dma_pin(&dev, buf, len, RW_LT))
		return fail(22, "PIN", dma_rd(&dev, DMA_REG_ERROR));
	st = write_and_check(1);
	if (st)
		return st;
	n = clone_vm();
	if (n < 0)
		return fail(25, "HC_CLONE", 0);
	if (n)
		return as_clone(n, 1);
	if (dma_cmd(&dev, DMA_CMD_UNPIN))
		return fail(22, "UNPIN", dma_rd(&dev, DMA_REG_ERROR));
	dma_fill(buf, len, 3);
	linger(20);
	if (!dma_holds(buf, len, 3))
		return fail(24, "a clone's writes reached the parent", 0);
	printf_uart("dmatest: clone-unpin parent ok\n");
	return 0;
}

/* Every bad value and access a guest can make, each refused as expected. */
static uint64_t rejected;

static int expect(uint64_t err, uint64_t want, const char *what)
{
	if (err != want)
		return fail(23, what, err);
	if (want)
		rejected++;
	return 0;
}

static int hostile_pins(uint64_t mem)
{
	const struct {
		uint64_t gpa, len, flags, want;
		const char *what;
	} bad[] = {
		{DMATEST_BUF, 0, RW_LT, DMA_ERR_LEN, "zero length"},
		{DMATEST_BUF, dma_rd(&dev, DMA_REG_MAX_LEN) + 1, RW_LT, DMA_ERR_LEN, "over the cap"},
		{DMATEST_BUF, ~0ULL, RW_LT, DMA_ERR_LEN, "huge length"},
		{mem - 4096, 8192, RW_LT, DMA_ERR_RANGE, "past the end of RAM"},
		{mem, 4096, RW_LT, DMA_ERR_RANGE, "outside RAM"},
		{ABI_MMIO_BASE, 4096, RW_LT, DMA_ERR_RANGE, "the MMIO window"},
		{dev.base, 4096, RW_LT, DMA_ERR_RANGE, "the device's own window"},
		{~0ULL - 4095, 8192, RW_LT, DMA_ERR_RANGE, "an address range that wraps"},
		{0x1000, 4096, RW_LT, DMA_ERR_RANGE, "the VMM's page tables"},
		{DMATEST_BUF, 4096, 0, DMA_ERR_FLAGS, "no direction"},
		{DMATEST_BUF, 4096, DMA_F_LONGTERM, DMA_ERR_FLAGS, "longterm, no direction"},
		{DMATEST_BUF, 4096, RW_LT | 0x100, DMA_ERR_FLAGS, "an unknown flag"},
	};
	int st = 0;

	for (unsigned i = 0; !st && i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = expect(dma_pin(&dev, bad[i].gpa, bad[i].len, bad[i].flags), bad[i].want,
			    bad[i].what);
		if (!st && (dma_rd(&dev, DMA_REG_PINS_HELD) || dma_rd(&dev, DMA_REG_STATUS) & 1))
			st = fail(23, "a refused PIN left a buffer set", i);
	}
	return st;
}

static int hostile_cmds(void)
{
	static const uint64_t garbage[] = {0, 8, 0xdeadbeef, ~0ULL};
	int st = expect(dma_cmd(&dev, DMA_CMD_UNPIN), DMA_ERR_NOBUF, "UNPIN without a pin");

	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_WRITE_PATTERN), DMA_ERR_NOBUF, "DMA, no buffer");
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_READ_BACK), DMA_ERR_NOBUF, "read, no buffer");
	for (unsigned i = 0; !st && i < 4; i++)
		st = expect(dma_cmd(&dev, garbage[i]), DMA_ERR_CMD, "a garbage command");
	dma_wr(&dev, DMA_REG_TIMER_US, 0);
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_TIMER_START), DMA_ERR_TIMER, "timer period 0");
	dma_wr(&dev, DMA_REG_TIMER_US, ~0ULL);
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_TIMER_START), DMA_ERR_TIMER, "huge period");
	st = st ? st : expect(dma_pin(&dev, buf, 4096, RW_LT), 0, "a good PIN");
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_PIN), DMA_ERR_BUSY, "PIN twice");
	if (!st && (dma_rd(&dev, DMA_REG_PINS_HELD) != 1 || dma_rd(&dev, DMA_REG_PINNED_BYTES) != 4096))
		st = fail(23, "PIN twice changed the pin", dma_rd(&dev, DMA_REG_PINS_HELD));
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_UNPIN), 0, "UNPIN");
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_UNPIN), DMA_ERR_NOBUF, "UNPIN twice");
	st = st ? st : expect(dma_pin(&dev, buf, 4096, DMA_F_DEV_READS), 0, "a R/O PIN");
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_WRITE_PATTERN), DMA_ERR_PERM, "write, R/O");
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_UNPIN), 0, "UNPIN");
	st = st ? st : expect(dma_pin(&dev, buf, 4096, DMA_F_DEV_WRITES), 0, "a W/O PIN");
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_READ_BACK), DMA_ERR_PERM, "read, W/O");
	return st ? st : expect(dma_cmd(&dev, DMA_CMD_UNPIN), 0, "UNPIN");
}

static int hostile_access(void)
{
	int st;

	mmio_write8(dev.base + DMA_REG_CMD, DMA_CMD_PIN);
	st = expect(dma_rd(&dev, DMA_REG_ERROR), DMA_ERR_ACCESS, "a 1-byte CMD write");
	*(volatile uint16_t *)(dev.base + DMA_REG_BUF_LEN) = 1;
	st = st ? st : expect(dma_rd(&dev, DMA_REG_ERROR), DMA_ERR_ACCESS, "a 2-byte write");
	*(volatile uint64_t *)(dev.base + DMA_REG_CMD + 4) = DMA_CMD_PIN;
	st = st ? st : expect(dma_rd(&dev, DMA_REG_ERROR), DMA_ERR_ACCESS, "an unaligned write");
	static const uint64_t ro[] = {DMA_REG_MAGIC, DMA_REG_STATUS, DMA_REG_CNT_PINS, 0x800, 0xff8};
	for (unsigned i = 0; !st && i < sizeof(ro) / sizeof(ro[0]); i++) {
		dma_wr(&dev, ro[i], ~0ULL);
		st = expect(dma_rd(&dev, DMA_REG_ERROR), DMA_ERR_ACCESS, "a read-only register");
	}
	if (!st && (dma_rd(&dev, 0x800) || dma_rd(&dev, 0xff8) ||
		    dma_rd(&dev, DMA_REG_MAGIC) != DMA_TEST_MAGIC || dma_rd(&dev, DMA_REG_PINS_HELD)))
		st = fail(23, "a refused write changed the device", 0);
	dma_wr(&dev, DMA_REG_BUF_GPA, ~0ULL);
	*(volatile uint32_t *)(dev.base + DMA_REG_BUF_GPA) = 0x1234;
	if (!st && dma_rd(&dev, DMA_REG_BUF_GPA) != 0x1234)
		st = fail(23, "a 4-byte write is not zero-extended", dma_rd(&dev, DMA_REG_BUF_GPA));
	return st;
}

static int mode_hostile(uint64_t mem)
{
	uint64_t errors = dma_rd(&dev, DMA_REG_CNT_ERRORS);
	int st = hostile_pins(mem);

	st = st ? st : hostile_cmds();
	st = st ? st : hostile_access();
	if (st)
		return st;
	if (dma_rd(&dev, DMA_REG_CNT_ERRORS) - errors != rejected)
		return fail(23, "CNT_ERRORS does not count every refusal",
			    dma_rd(&dev, DMA_REG_CNT_ERRORS));
	/* The device still works, and RESET puts it back as new. */
	st = expect(dma_pin(&dev, buf, len, RW_LT), 0, "PIN after the abuse");
	st = st ? st : write_and_check(77);
	dma_cmd(&dev, DMA_CMD_RESET);
	if (!st && (dma_rd(&dev, DMA_REG_STATUS) || dma_rd(&dev, DMA_REG_PINS_HELD)))
		return fail(22, "RESET left state behind", dma_rd(&dev, DMA_REG_STATUS));
	if (!st)
		printf_uart("dmatest: hostile ok (%lu bad values refused)\n", rejected);
	return st;
}

/* Each byte of word @k is of a pattern in [lo, s + 64]: a copy raced the DMA. */
static int torn_word(uint64_t k, uint64_t w, uint64_t lo, uint64_t s)
{
	for (unsigned j = 0; j < 8; j++) {
		int any = 0;

		for (uint64_t c = lo; c <= s + 64 && !any; c++)
			any = (uint8_t)(w >> (8 * j)) == (uint8_t)(dma_pattern_word(c, k) >> (8 * j));
		if (!any)
			return 0;
	}
	return 1;
}

/* Does word @k hold device pattern @s, or else any of [lo, lo + 1M)? */
static int find_seq(uint64_t k, uint64_t w, uint64_t lo, uint64_t *s)
{
	if (w == dma_pattern_word(*s, k))
		return 1;
	for (uint64_t c = lo; c < lo + 1000000; c++) {
		if (w == dma_pattern_word(c, k)) {
			*s = c;
			return 1;
		}
	}
	return torn_word(k, w, lo, *s);
}

/* A storm clone: device pattern words of seq >= lo, then never written again. */
static int storm_clone(int64_t n, uint64_t lo)
{
	const volatile uint64_t *w = (const volatile uint64_t *)buf;
	uint64_t s = lo, sum;

	for (uint64_t k = 0; k < len / 8; k++)
		if (!find_seq(k, w[k], lo, &s))
			return fail(24, "a storm clone's buffer holds no device pattern", k);
	sum = dma_sum(buf, len);
	linger(20);
	if (dma_sum(buf, len) != sum)
		return fail(24, "the device wrote a clone's buffer", (uint64_t)n);
	printf_uart("dmatest: storm clone %ld ok\n", n);
	return 0;
}

static int start_timer(void)
{
	int st = expect(dma_pin(&dev, buf, len, RW_LT), 0, "PIN");

	st = st ? st : write_and_check(1);
	dma_wr(&dev, DMA_REG_TIMER_US, 200);
	return st ? st : expect(dma_cmd(&dev, DMA_CMD_TIMER_START), 0, "TIMER_START");
}

static int mode_clone_storm(uint64_t count)
{
	int st = start_timer();

	for (uint64_t i = 0; !st && i < count; i++) {
		uint64_t lo = dma_rd(&dev, DMA_REG_SEQ) - 1;
		int64_t n = clone_vm();

		if (n < 0)
			return fail(25, "HC_CLONE", i);
		if (n)
			return storm_clone(n, lo);
		linger(2);
	}
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_TIMER_STOP), 0, "TIMER_STOP");
	if (!st && dma_rd(&dev, DMA_REG_CNT_TICKS) == 0)
		st = fail(22, "the timer never ticked", 0);
	st = st ? st : write_and_check(1000000000);
	st = st ? st : expect(dma_cmd(&dev, DMA_CMD_UNPIN), 0, "UNPIN");
	if (!st)
		printf_uart("dmatest: clone-storm parent ok (%lu clones, %lu device writes)\n",
			    count, dma_rd(&dev, DMA_REG_CNT_WRITES));
	return st;
}

static int mode_pin_hold(void)
{
	int st = expect(dma_pin(&dev, buf, len, RW_LT), 0, "PIN");

	st = st ? st : write_and_check(1);
	if (st)
		return st;
	printf_uart("dmatest: pinned %lu bytes at 0x%lx\n", len, buf);
	for (;;)
		hcall(HC_PARK, 0, 0, 0);
}

static int mode_timer_spin(void)
{
	int st = start_timer();

	if (st)
		return st;
	printf_uart("dmatest: timer running\n");
	for (uint64_t i = 0;; i++)
		for (uint64_t pg = 0; pg < 64; pg++)
			*(volatile uint64_t *)(SCRATCH + pg * 4096) = i;
}

static int usage(void)
{
	puts_uart("dmatest: usage: dmatest pin-write|guest-write|hostile|clone-rw|clone-ro|"
		  "clone-unpin|clone-storm N|pin-hold|timer-spin [LEN [OFF]] [short]\n");
	return 3;
}

/* The words after MODE: numbers (LEN, OFF, or N for clone-storm) and `short`. */
static const char *parse_rest(const char *p, uint64_t nums[2], unsigned *nnum, int *is_short)
{
	for (p = skip_spaces(p); *p; p = skip_spaces(p)) {
		if (str_eq_word(p, "short")) {
			*is_short = 1;
			p += 5;
		} else if (*p >= '0' && *p <= '9' && *nnum < 2) {
			nums[(*nnum)++] = parse_u64(p, &p);
		} else {
			return NULL;
		}
	}
	return p;
}

int guest_main(const struct guest_boot *boot)
{
	const char *p = skip_spaces(boot->cmdline), *rest = p;
	uint64_t nums[2] = {0}, n_storm = 0;
	unsigned nnum = 0;
	int is_short = 0;

	while (*rest && *rest != ' ')
		rest++;
	if (str_eq_word(p, "clone-storm") && (n_storm = parse_u64(rest, &rest)) == 0)
		return usage();
	if (!parse_rest(rest, nums, &nnum, &is_short))
		return usage();
	len = nnum > 0 ? nums[0] : DMATEST_LEN;
	buf = DMATEST_BUF + (nnum > 1 ? nums[1] : 0);
	if (!len || buf + len > boot->mem_size - boot->ncpus * ABI_STACK_SIZE || buf + len > SCRATCH)
		return usage();
	if (dma_find(&dev))
		return fail(4, "no DMA test device in the device table (vmm run --dma-test)", 0);
	if (str_eq_word(p, "hostile"))
		return mode_hostile(boot->mem_size);
	if (str_eq_word(p, "pin-write"))
		return mode_pin_write(is_short);
	if (str_eq_word(p, "guest-write"))
		return mode_guest_write();
	if (str_eq_word(p, "clone-rw"))
		return mode_clone_rw();
	if (str_eq_word(p, "clone-ro"))
		return mode_clone_ro();
	if (str_eq_word(p, "clone-unpin"))
		return mode_clone_unpin();
	if (str_eq_word(p, "clone-storm"))
		return mode_clone_storm(n_storm);
	if (str_eq_word(p, "pin-hold"))
		return mode_pin_hold();
	if (str_eq_word(p, "timer-spin"))
		return mode_timer_spin();
	return usage();
}
