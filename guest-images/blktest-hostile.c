// SPDX-License-Identifier: MIT
/*
 * blktest-hostile.c: `blktest hostile SEED` - malformed virtqueues, one
 * after another. Each case starts from a freshly reset device, does one
 * bad thing and notifies; the device must then report DEVICE_NEEDS_RESET
 * in its status and the config-change bit in its interrupt status. After
 * each case the device is reset and must read the disk correctly again,
 * through a direct and an indirect chain.
 */
#include "blk-pattern.h"
#include "blktest.h"

#define BUF ((uint64_t)BLK_BUF_BASE)

static struct vring_desc itable[300] __attribute__((aligned(16)));
static struct vring_desc itable2[4] __attribute__((aligned(16)));

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	*d = (struct vring_desc){addr, len, flags, next};
}

static void hdr_in(void)
{
	vmem.hdr[0] = (struct vblk_hdr){.type = VBLK_T_IN, .sector = 0};
	vmem.status[0] = 0xff;
}

/* header, one data descriptor (device-writable), status; posted and notified. */
static void post3(uint64_t addr, uint32_t len)
{
	hdr_in();
	set_desc(&vmem.desc[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, 1);
	set_desc(&vmem.desc[1], addr, len, VDESC_NEXT | VDESC_WRITE, 2);
	set_desc(&vmem.desc[2], (uint64_t)&vmem.status[0], 1, VDESC_WRITE, 0);
	vdev_post(&blk.dev, 0);
	vdev_kick(&blk.dev);
}

/* A good indirect table reading sector 0..7 into BUF (in @t). */
static void good_table(struct vring_desc *t)
{
	hdr_in();
	set_desc(&t[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, 1);
	set_desc(&t[1], BUF, 4096, VDESC_NEXT | VDESC_WRITE, 2);
	set_desc(&t[2], (uint64_t)&vmem.status[0], 1, VDESC_WRITE, 0);
}

static void post_indirect(uint64_t table, uint32_t len, uint16_t flags)
{
	set_desc(&vmem.desc[0], table, len, VDESC_INDIRECT | flags, 1);
	vdev_post(&blk.dev, 0);
	vdev_kick(&blk.dev);
}

static void c_outside(void) { post3(mem_size, 512); }
static void c_mmio(void) { post3(blk.dev.base, 512); }
static void c_zero(void) { post3(BUF, 0); }
static void c_huge(void) { post3(BUF, 0xfffff000u); }
static void c_wrap(void) { post3(0xfffffffffffff000ULL, 0x2000); }

static void c_loop(void)
{
	hdr_in();
	set_desc(&vmem.desc[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, 1);
	set_desc(&vmem.desc[1], BUF, 512, VDESC_NEXT | VDESC_WRITE, 0);
	vdev_post(&blk.dev, 0);
	vdev_kick(&blk.dev);
}

static void c_next_range(void)
{
	hdr_in();
	set_desc(&vmem.desc[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, VQ_SIZE + 5);
	vdev_post(&blk.dev, 0);
	vdev_kick(&blk.dev);
}

static void c_head_range(void)
{
	vdev_post(&blk.dev, VQ_SIZE + 1);
	vdev_kick(&blk.dev);
}

/* Every entry a good chain: only the jump itself is wrong. */
static void c_avail_jump(void)
{
	hdr_in();
	set_desc(&vmem.desc[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, 1);
	set_desc(&vmem.desc[1], BUF, 512, VDESC_NEXT | VDESC_WRITE, 2);
	set_desc(&vmem.desc[2], (uint64_t)&vmem.status[0], 1, VDESC_WRITE, 0);
	for (unsigned i = 0; i < VQ_SIZE; i++)
		blk.dev.avail->ring[i] = 0;
	__atomic_store_n(&blk.dev.avail->idx, (uint16_t)(VQ_SIZE + 1), __ATOMIC_RELEASE);
	vdev_kick(&blk.dev);
}

static void c_order(void)
{
	hdr_in();
	set_desc(&vmem.desc[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, 1);
	set_desc(&vmem.desc[1], (uint64_t)&vmem.status[0], 1, VDESC_NEXT | VDESC_WRITE, 2);
	set_desc(&vmem.desc[2], BUF, 512, 0, 0); /* readable after writable */
	vdev_post(&blk.dev, 0);
	vdev_kick(&blk.dev);
}

static void c_ind_unnegotiated(void)
{
	good_table(itable);
	post_indirect((uint64_t)itable, 48, 0);
}

static void c_ind_len(void)
{
	good_table(itable);
	post_indirect((uint64_t)itable, 24, 0);
}

static void c_ind_next(void)
{
	good_table(itable);
	post_indirect((uint64_t)itable, 48, VDESC_NEXT);
}

static void c_ind_nested(void)
{
	good_table(itable2);
	set_desc(&itable[0], (uint64_t)itable2, 48, VDESC_INDIRECT, 0);
	post_indirect((uint64_t)itable, 16, 0);
}

static void c_ind_big(void)
{
	good_table(itable);
	post_indirect((uint64_t)itable, 16 * 257, 0);
}

static void c_ind_outside(void)
{
	post_indirect(mem_size - 16, 48, 0);
}

static void c_ind_loop(void)
{
	hdr_in();
	set_desc(&itable[0], (uint64_t)&vmem.hdr[0], 16, VDESC_NEXT, 1);
	set_desc(&itable[1], BUF, 512, VDESC_NEXT | VDESC_WRITE, 0);
	post_indirect((uint64_t)itable, 32, 0);
}

/* Queue setup with chosen ring addresses and size, up to QueueReady. */
static void raw_queue(uint64_t desc, uint64_t avail, uint64_t used, uint32_t num)
{
	struct vdev *d = &blk.dev;

	vdev_reset(d);
	vdev_write(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER);
	vdev_write(d, VMMIO_DRV_FEATURES_SEL, 1);
	vdev_write(d, VMMIO_DRV_FEATURES, 1); /* VERSION_1 */
	vdev_write(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	vdev_write(d, VMMIO_QUEUE_SEL, 0);
	vdev_write(d, VMMIO_QUEUE_NUM, num);
	vdev_write(d, VMMIO_QUEUE_DESC, (uint32_t)desc);
	vdev_write(d, VMMIO_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
	vdev_write(d, VMMIO_QUEUE_AVAIL, (uint32_t)avail);
	vdev_write(d, VMMIO_QUEUE_AVAIL + 4, (uint32_t)(avail >> 32));
	vdev_write(d, VMMIO_QUEUE_USED, (uint32_t)used);
	vdev_write(d, VMMIO_QUEUE_USED + 4, (uint32_t)(used >> 32));
	vdev_write(d, VMMIO_QUEUE_READY, 1);
}

static void c_ring_outside(void)
{
	raw_queue(mem_size, (uint64_t)&vmem.avail, (uint64_t)&vmem.used, VQ_SIZE);
}

static void c_ring_misaligned(void)
{
	raw_queue((uint64_t)vmem.desc + 8, (uint64_t)&vmem.avail, (uint64_t)&vmem.used, VQ_SIZE);
}

static void c_queue_size(void)
{
	raw_queue((uint64_t)vmem.desc, (uint64_t)&vmem.avail, (uint64_t)&vmem.used, 100);
}

struct hostile_case {
	const char *name;
	uint64_t want;		/* features to negotiate first */
	void (*run)(void);
};

static const struct hostile_case cases[] = {
	{"address outside RAM", 0, c_outside},
	{"address in the MMIO window", 0, c_mmio},
	{"zero length", 0, c_zero},
	{"huge length", 0, c_huge},
	{"address wraps", 0, c_wrap},
	{"looping chain", 0, c_loop},
	{"next out of range", 0, c_next_range},
	{"head out of range", 0, c_head_range},
	{"avail idx jump", 0, c_avail_jump},
	{"readable after writable", 0, c_order},
	{"indirect not negotiated", 0, c_ind_unnegotiated},
	{"indirect table length", VF_INDIRECT_DESC, c_ind_len},
	{"indirect with next", VF_INDIRECT_DESC, c_ind_next},
	{"nested indirect", VF_INDIRECT_DESC, c_ind_nested},
	{"indirect table too big", VF_INDIRECT_DESC, c_ind_big},
	{"indirect table outside RAM", VF_INDIRECT_DESC, c_ind_outside},
	{"indirect loop", VF_INDIRECT_DESC, c_ind_loop},
	{"ring outside RAM", 0, c_ring_outside},
	{"ring misaligned", 0, c_ring_misaligned},
	{"queue size not a power of 2", 0, c_queue_size},
};

/* Reset, bring up, read sectors 0..7 directly and through an indirect table. */
static int recover(uint64_t seed)
{
	uint32_t id, len;

	if (disk_init(VF_INDIRECT_DESC))
		return 15;
	memset((void *)BUF, 0, 4096);
	if (vblk_rw(&blk, VBLK_T_IN, 0, (void *)BUF, 4096) || !holds((void *)BUF, seed, 0, 4096))
		return 15;
	memset((void *)BUF, 0, 4096);
	good_table(itable);
	post_indirect((uint64_t)itable, 48, 0);
	if (vdev_wait_used(&blk.dev, &id, &len) || vmem.status[0] != VBLK_S_OK || len != 4097 ||
	    !holds((void *)BUF, seed, 0, 4096))
		return 15;
	return 0;
}

int mode_hostile(uint64_t seed)
{
	unsigned n = sizeof(cases) / sizeof(cases[0]);

	for (unsigned i = 0; i < n; i++) {
		uint32_t st, isr;

		if (disk_init(cases[i].want))
			return 15;
		cases[i].run();
		st = vdev_status(&blk.dev);
		isr = vdev_read(&blk.dev, VMMIO_ISR);
		if (!(st & VSTAT_NEEDS_RESET) || !(isr & VISR_CONFIG)) {
			printf_uart("blktest: hostile %s: not detected (status 0x%x, isr 0x%x)\n",
				    cases[i].name, st, isr);
			return 14;
		}
		if (recover(seed)) {
			printf_uart("blktest: hostile %s: the device did not recover\n", cases[i].name);
			return 15;
		}
		printf_uart("blktest: hostile %s: needs reset, recovered\n", cases[i].name);
	}
	printf_uart("blktest: hostile ok: %u cases\n", n);
	return 0;
}
