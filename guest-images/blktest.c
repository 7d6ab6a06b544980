// SPDX-License-Identifier: MIT
/*
 * blktest MODE ARGS: the virtio-blk device from inside a guest, through
 * virtio-drv (ring 3, polled). The disk holds blk_pattern_word(SEED, off)
 * (blk-pattern.h) where the host test put it. Data buffers at
 * BLK_BUF_BASE (16 MiB); give the VM 32 MiB.
 *
 *   read SECTOR COUNT SEED    read and check COUNT sectors, print a checksum
 *   write SECTOR COUNT SEED   write the pattern, flush, read back, check
 *   ro SECTOR SEED            F_RO offered, a write answered IOERR, reads work
 *   range SEED                out-of-range, misaligned-length and unknown
 *                             requests answered IOERR/UNSUPP, a chain with
 *                             no status byte returned with length 0, a
 *                             header split over two descriptors served;
 *                             then reads work
 *   getid                     GET_ID answers "vmm-blk-..."
 *   unaligned SECTOR SEED     reads into buffers not aligned for O_DIRECT
 *   batch N OFF SEED          N reads of 4 MiB (the largest request) from
 *                             sector 0 into one buffer at BLK_BUF_BASE + OFF,
 *                             one notify: the device splits the batch
 *   hostile SEED              malformed rings and chains, one after another:
 *                             each must leave the device NEEDS_RESET with
 *                             the config interrupt bit, and a reset device
 *                             must read correctly again (blktest-hostile.c)
 *   bench RANDOPS SEQMIB QD   4 KiB random reads (QD at a time), 1 MiB
 *                             sequential reads and writes (4 at a time);
 *                             prints the counts and HC_TIME_NS times
 *   clone SECTOR_P SECTOR_C SEED  HC_CLONE, then parent and clone read
 *                             different sectors into the same address, each
 *                             checking it sees only its own data
 *
 * Exit: 0 ok; 3 usage; 4 no disk / init failed; 10 data differs; 11 a
 * request failed; 12 an expected error was not reported; 13 clone failed;
 * 14 a malformed queue went unnoticed; 15 the device did not recover.
 */
#include "blk-pattern.h"
#include "blktest.h"

struct vblk blk;
struct vdev_mem vmem;
uint64_t mem_size;

static uint8_t *const buf = (uint8_t *)BLK_BUF_BASE;

int disk_init(uint64_t want)
{
	int err = vblk_init(&blk, vdev_find(VIRTIO_ID_BLK, 0), want, &vmem);

	if (err)
		printf_uart("blktest: no usable virtio-blk device (%d)\n", err);
	return err;
}

void fill(void *p, uint64_t seed, uint64_t sector, uint64_t bytes)
{
	for (uint64_t i = 0; i < bytes; i += 8)
		*(volatile uint64_t *)((uint8_t *)p + i) =
			blk_pattern_word(seed, sector * VBLK_SECTOR + i);
}

/* 1 if @p holds the pattern of [sector, sector + bytes), else 0. */
int holds(const void *p, uint64_t seed, uint64_t sector, uint64_t bytes)
{
	for (uint64_t i = 0; i < bytes; i += 8)
		if (*(const volatile uint64_t *)((const uint8_t *)p + i) !=
		    blk_pattern_word(seed, sector * VBLK_SECTOR + i))
			return 0;
	return 1;
}

static uint64_t checksum(const void *p, uint64_t bytes)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < bytes; i += 8)
		h = (h ^ *(const volatile uint64_t *)((const uint8_t *)p + i)) * 0x100000001b3ULL;
	return h;
}

/* Read [sector, sector + count) in requests of at most 1 MiB and check it. */
static int read_check(uint64_t sector, uint64_t count, uint64_t seed, uint64_t *ret_sum)
{
	uint64_t sum = 0;

	for (uint64_t done = 0; done < count;) {
		uint64_t n = count - done < 2048 ? count - done : 2048;
		int st = vblk_rw(&blk, VBLK_T_IN, sector + done, buf, (uint32_t)(n * VBLK_SECTOR));

		if (st) {
			printf_uart("blktest: read of sector %lu failed: %d\n", sector + done, st);
			return 11;
		}
		if (!holds(buf, seed, sector + done, n * VBLK_SECTOR)) {
			printf_uart("blktest: sectors %lu+%lu differ from seed %lu\n", sector + done,
				    n, seed);
			return 10;
		}
		sum ^= checksum(buf, n * VBLK_SECTOR) + done;
		done += n;
	}
	if (ret_sum)
		*ret_sum = sum;
	return 0;
}

static int mode_read(uint64_t sector, uint64_t count, uint64_t seed)
{
	uint64_t sum;
	int err = read_check(sector, count, seed, &sum);

	if (!err)
		printf_uart("blktest: read ok: %lu sectors from %lu, checksum 0x%016lx\n", count,
			    sector, sum);
	return err;
}

static int mode_write(uint64_t sector, uint64_t count, uint64_t seed)
{
	for (uint64_t done = 0; done < count;) {
		uint64_t n = count - done < 2048 ? count - done : 2048;
		int st;

		fill(buf, seed, sector + done, n * VBLK_SECTOR);
		st = vblk_rw(&blk, VBLK_T_OUT, sector + done, buf, (uint32_t)(n * VBLK_SECTOR));
		if (st) {
			printf_uart("blktest: write of sector %lu failed: %d\n", sector + done, st);
			return 11;
		}
		done += n;
	}
	if (vblk_rw(&blk, VBLK_T_FLUSH, 0, 0, 0)) {
		puts_uart("blktest: flush failed\n");
		return 11;
	}
	memset(buf, 0, 2048 * VBLK_SECTOR);
	if (read_check(sector, count, seed, 0))
		return 10;
	printf_uart("blktest: write ok: %lu sectors from %lu, read back\n", count, sector);
	return 0;
}

static int mode_ro(uint64_t sector, uint64_t seed)
{
	int st;

	if (!(blk.dev.offered & VBLK_F_RO)) {
		puts_uart("blktest: ro: the device does not offer VIRTIO_BLK_F_RO\n");
		return 12;
	}
	fill(buf, seed + 1, sector, 4096);
	st = vblk_rw(&blk, VBLK_T_OUT, sector, buf, 4096);
	if (st != VBLK_S_IOERR) {
		printf_uart("blktest: ro: a write was answered %d, not IOERR\n", st);
		return 12;
	}
	if (read_check(sector, 8, seed, 0))
		return 10;
	puts_uart("blktest: ro ok: write refused, data intact\n");
	return 0;
}

static int expect(const char *what, int st, int want)
{
	if (st == want)
		return 0;
	printf_uart("blktest: range: %s answered %d, expected %d\n", what, st, want);
	return 12;
}

/* Hand-made chains of descriptors 0..3 (slot 0): the used length, or -1. */
static int64_t raw_chain(unsigned ndesc)
{
	uint32_t id, len;

	for (unsigned i = 0; i + 1 < ndesc; i++) {
		vmem.desc[i].flags |= VDESC_NEXT;
		vmem.desc[i].next = (uint16_t)(i + 1);
	}
	vdev_post(&blk.dev, 0);
	vdev_kick(&blk.dev);
	return vdev_wait_used(&blk.dev, &id, &len) || id ? -1 : (int64_t)len;
}

/* No status byte: returned unanswered. A header in two pieces: served. */
static int odd_chains(uint64_t seed)
{
	uint8_t *h = (uint8_t *)&vmem.hdr[0];

	vmem.hdr[0] = (struct vblk_hdr){.type = VBLK_T_OUT, .sector = 8};
	vmem.desc[0] = (struct vring_desc){(uint64_t)h, 16, 0, 0};
	vmem.desc[1] = (struct vring_desc){(uint64_t)buf, 512, 0, 0};
	if (raw_chain(2) != 0)
		return expect("a chain without a status byte", -1, 0);
	/* type here, sector in the next header: reading 16 bytes at once gets 0 */
	vmem.hdr[0] = (struct vblk_hdr){.type = VBLK_T_IN, .sector = 0};
	vmem.hdr[1] = (struct vblk_hdr){.type = 8, .sector = 0};
	vmem.status[0] = 0xff;
	vmem.desc[0] = (struct vring_desc){(uint64_t)h, 8, 0, 0};
	vmem.desc[1] = (struct vring_desc){(uint64_t)&vmem.hdr[1], 8, 0, 0};
	vmem.desc[2] = (struct vring_desc){(uint64_t)buf, 1024, VDESC_WRITE, 0};
	vmem.desc[3] = (struct vring_desc){(uint64_t)&vmem.status[0], 1, VDESC_WRITE, 0};
	memset(buf, 0, 1024);
	if (raw_chain(4) != 1025 || vmem.status[0] != VBLK_S_OK || !holds(buf, seed, 8, 1024))
		return expect("a split header", -1, 0);
	return 0;
}

static int mode_range(uint64_t seed)
{
	uint64_t cap = blk.capacity;
	int err = 0;

	err = err ?: expect("read at capacity", vblk_rw(&blk, VBLK_T_IN, cap, buf, 512), 1);
	err = err ?: expect("read across the end", vblk_rw(&blk, VBLK_T_IN, cap - 1, buf, 1024), 1);
	err = err ?: expect("write across the end", vblk_rw(&blk, VBLK_T_OUT, cap - 1, buf, 1024), 1);
	err = err ?: expect("read at 2^63", vblk_rw(&blk, VBLK_T_IN, 1ULL << 63, buf, 512), 1);
	err = err ?: expect("read at 2^64-1", vblk_rw(&blk, VBLK_T_IN, ~0ULL, buf, 512), 1);
	err = err ?: expect("read of 100 bytes", vblk_rw(&blk, VBLK_T_IN, 0, buf, 100), 1);
	err = err ?: expect("read of 8 MiB", vblk_rw(&blk, VBLK_T_IN, 0, buf, 8 << 20), 1);
	err = err ?: expect("unknown type 99", vblk_rw(&blk, 99, 0, buf, 512), 2);
	err = err ?: expect("last sector", vblk_rw(&blk, VBLK_T_IN, cap - 1, buf, 512), 0);
	if (err)
		return err;
	if (!holds(buf, seed, cap - 1, 512))
		return 10;
	err = odd_chains(seed);
	if (!err)
		err = read_check(0, 64, seed, 0);
	if (!err)
		printf_uart("blktest: range ok: capacity %lu sectors\n", cap);
	return err;
}

static int mode_getid(void)
{
	int st;

	memset(buf, 0, 64);
	st = vblk_rw(&blk, VBLK_T_GET_ID, 0, buf, 20);
	if (st || buf[0] != 'v' || buf[1] != 'm' || buf[2] != 'm' || buf[3] != '-') {
		printf_uart("blktest: getid: status %d\n", st);
		return 11;
	}
	buf[20] = 0;
	printf_uart("blktest: getid ok: %s\n", (const char *)buf);
	return 0;
}

/* Reads into buffers at offsets O_DIRECT cannot take straight (bounced by the device). */
static int mode_unaligned(uint64_t sector, uint64_t seed)
{
	static const unsigned offs[] = {8, 256, 4000};

	for (unsigned i = 0; i < 3; i++) {
		uint8_t *p = buf + 8192 + offs[i];
		int st = vblk_rw(&blk, VBLK_T_IN, sector, p, 8192);

		if (st)
			return 11;
		if (!holds(p, seed, sector, 8192))
			return 10;
	}
	puts_uart("blktest: unaligned ok\n");
	return 0;
}

static int mode_batch(uint64_t n, uint64_t off, uint64_t seed)
{
	const uint32_t len = 4 << 20;

	if (!n || n > VBLK_SLOTS || off > 4096)
		return 3;
	for (unsigned i = 0; i < n; i++)
		vblk_submit(&blk, i, VBLK_T_IN, 0, buf + off, len);
	vdev_kick(&blk.dev);
	if (vblk_wait(&blk, (unsigned)n))
		return 11;
	if (!holds(buf + off, seed, 0, len))
		return 10;
	printf_uart("blktest: batch ok: %lu reads of 4 MiB\n", n);
	return 0;
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* @n requests of @bytes (QD @qd at a time, slot i's buffer at i * @bytes); ns taken. */
static int64_t run_batch(uint32_t type, uint64_t n, unsigned qd, uint32_t bytes, int random,
			 uint64_t *sector)
{
	uint64_t span = blk.capacity - bytes / VBLK_SECTOR;
	int64_t t0 = hcall(HC_TIME_NS, 0, 0, 0);

	for (uint64_t done = 0; done < n; done += qd) {
		unsigned k = n - done < qd ? (unsigned)(n - done) : qd;

		for (unsigned i = 0; i < k; i++) {
			uint64_t s = random ? (rng() % span) & ~7ULL : *sector;

			if (!random)
				*sector = *sector + bytes / VBLK_SECTOR > span ? 0
									: *sector + bytes / VBLK_SECTOR;
			vblk_submit(&blk, i, type, s, buf + (uint64_t)i * bytes, bytes);
		}
		vdev_kick(&blk.dev);
		if (vblk_wait(&blk, k))
			return -1;
	}
	return hcall(HC_TIME_NS, 0, 0, 0) - t0;
}

static int mode_bench(uint64_t randops, uint64_t seqmib, uint64_t qd)
{
	uint64_t sector = 0;
	int64_t tr, ts, tw;

	if (!randops || !seqmib || !qd || qd > VBLK_SLOTS || blk.capacity < 4096)
		return 3;
	tr = run_batch(VBLK_T_IN, randops, (unsigned)qd, 4096, 1, &sector);
	ts = run_batch(VBLK_T_IN, seqmib, 4, 1 << 20, 0, &sector);
	sector = 0;
	tw = run_batch(VBLK_T_OUT, seqmib, 4, 1 << 20, 0, &sector);
	if (tr < 0 || ts < 0 || tw < 0) {
		puts_uart("blkbench: a request failed\n");
		return 11;
	}
	printf_uart("blkbench: randread ops %lu ns %ld seqread bytes %lu ns %ld seqwrite bytes %lu "
		    "ns %ld\n", randops, tr, seqmib << 20, ts, seqmib << 20, tw);
	return 0;
}

static void linger(void)
{
	int64_t end = hcall(HC_TIME_NS, 0, 0, 0) + 20 * 1000 * 1000;

	while (hcall(HC_TIME_NS, 0, 0, 0) < end)
		;
}

static int mode_clone(uint64_t sp, uint64_t sc, uint64_t seed)
{
	const uint64_t count = 128; /* 64 KiB */
	int64_t r;
	uint64_t mine, n = 0;
	const char *who = "parent";

	if (read_check(sp, count, seed, 0)) /* the device is in use at the clone point */
		return 11;
	r = hcall(HC_CLONE, 0, 0, 0);
	if (r < 0) {
		printf_uart("blktest: clone request failed: %ld\n", r);
		return 13;
	}
	mine = sp;
	if (r & (int64_t)HC_CLONE_CHILD) {
		mine = sc;
		who = "clone";
		n = (uint64_t)r & 0xffff;
	}
	for (int round = 0; round < 3; round++) {
		int err;

		memset(buf, 0, count * VBLK_SECTOR); /* a CPU write first: COW must not move the page */
		err = read_check(mine, count, seed, 0);

		if (err)
			return err;
		linger();
		if (!holds(buf, seed, mine, count * VBLK_SECTOR)) {
			printf_uart("blktest: %s %lu: the other VM's data showed through\n", who, n);
			return 10;
		}
	}
	printf_uart("blktest: %s %lu ok sector %lu\n", who, n, mine);
	return 0;
}

int guest_main(const struct guest_boot *boot)
{
	const char *p = skip_spaces(boot->cmdline);
	const char *q = p;
	uint64_t a, b, c;

	mem_size = boot->mem_size;
	while (*q && *q != ' ')
		q++;
	a = parse_u64(q, &q);
	b = parse_u64(q, &q);
	c = parse_u64(q, &q);
	if (mem_size < BLK_BUF_BASE + (8ULL << 20) + boot->ncpus * ABI_STACK_SIZE) {
		puts_uart("blktest: needs at least 32 MiB of memory\n");
		return 3;
	}
	if (disk_init(str_eq_word(p, "hostile") ? VF_INDIRECT_DESC : 0))
		return 4;
	if (str_eq_word(p, "read"))
		return mode_read(a, b, c);
	if (str_eq_word(p, "write"))
		return mode_write(a, b, c);
	if (str_eq_word(p, "ro"))
		return mode_ro(a, b);
	if (str_eq_word(p, "range"))
		return mode_range(a);
	if (str_eq_word(p, "getid"))
		return mode_getid();
	if (str_eq_word(p, "unaligned"))
		return mode_unaligned(a, b);
	if (str_eq_word(p, "batch"))
		return mode_batch(a, b, c);
	if (str_eq_word(p, "hostile"))
		return mode_hostile(a);
	if (str_eq_word(p, "bench"))
		return mode_bench(a, b, c);
	if (str_eq_word(p, "clone"))
		return mode_clone(a, b, c);
	puts_uart("blktest: usage: blktest read|write|ro|range|getid|unaligned|batch|hostile|bench|clone "
		  "ARGS (see blktest.c)\n");
	return 3;
}
