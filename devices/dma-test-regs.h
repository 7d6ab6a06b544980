/* SPDX-License-Identifier: MIT */
/*
 * dma-test-regs.h: the register map of the DMA test device, shared by the
 * device (devices/dma-test.c), its ring-3 guest driver
 * (guest-images/dma-drv.h) and the host tests. Constants and two
 * freestanding inline functions only (no libc): the guests include it too.
 *
 * The device sits in one 4 KiB MMIO window (abi.h: ABI_DEV_DMA_TEST in the
 * device table). Every register is 64 bits wide, at an 8-byte aligned
 * offset, little-endian:
 *
 *   off    name          access  meaning
 *   0x000  MAGIC         RO      DMA_TEST_MAGIC ("DMATEST1")
 *   0x008  VERSION       RO      DMA_TEST_VERSION
 *   0x010  BUF_GPA       RW      guest-physical address of the buffer
 *   0x018  BUF_LEN       RW      its length in bytes (1 .. MAX_LEN)
 *   0x020  FLAGS         RW      DMA_F_*: direction and pin lifetime
 *   0x028  SEQ           RW      sequence number the next pattern write uses
 *   0x030  CMD           WO      DMA_CMD_*; reads as the last command
 *   0x038  STATUS        RO      DMA_ST_*
 *   0x040  ERROR         RO      DMA_ERR_* of the last command (0: accepted)
 *   0x048  ERRNO         RO      errno from the memory manager for DMA_ERR_PIN
 *   0x050  TIMER_US      RW      timer period, DMA_TIMER_MIN_US .. MAX_US
 *   0x058  LAST_SEQ      RO      sequence number of the last pattern written
 *   0x060  CHECKSUM      RO      dma_checksum of the buffer at the last read
 *   0x068  MAX_LEN       RO      the length cap (16 MiB unless configured)
 *   0x080  CNT_WRITES    RO      pattern writes done (DMA into the guest)
 *   0x088  CNT_READS     RO      read-backs done (DMA from the guest)
 *   0x090  CNT_PINS      RO      pins taken through the memory manager
 *   0x098  CNT_UNPINS    RO      pins released
 *   0x0a0  PINS_HELD     RO      pins held now (0 or 1)
 *   0x0a8  PINNED_BYTES  RO      bytes under the pin held now
 *   0x0b0  CNT_ERRORS    RO      commands and accesses rejected
 *   0x0b8  CNT_TICKS     RO      timer ticks
 *
 * Reads of 1-8 bytes anywhere return the register's bytes (unknown offsets
 * read 0). Writes must be 4 or 8 bytes at a register's offset (4 bytes:
 * zero-extended) to a RW register or CMD; anything else is rejected with
 * DMA_ERR_ACCESS and changes nothing.
 *
 * Commands. PIN latches BUF_GPA/BUF_LEN/FLAGS and, with DMA_F_LONGTERM,
 * pins the buffer at once (FOLL_LONGTERM: held until UNPIN/RESET); without
 * it the range is only checked and recorded, and each DMA pins it for its
 * own duration (a short-term pin, like O_DIRECT I/O). WRITE_PATTERN and
 * READ_BACK are asynchronous: the device's own thread does the DMA while
 * STATUS has DMA_ST_BUSY; poll it. The timer does both (as FLAGS allow)
 * every TIMER_US while a buffer is set. RESET stops the timer, drops queued
 * work, unpins and clears the RW registers (counters stay).
 *
 * The pattern: byte i of a buffer written with sequence number s is
 * byte (i % 8) of dma_pattern_word(s, i / 8), so a torn copy is visible per
 * 8-byte word. dma_checksum is FNV-1a over the buffer's 64-bit words.
 */
#ifndef DEVICES_DMA_TEST_REGS_H
#define DEVICES_DMA_TEST_REGS_H

#include <stdint.h>

#define DMA_TEST_MAGIC 0x3154534554414d44ULL /* "DMATEST1" */
#define DMA_TEST_VERSION 1
#define DMA_TEST_DEFAULT_MAX_LEN (16ULL << 20)

#define DMA_REG_MAGIC 0x000
#define DMA_REG_VERSION 0x008
#define DMA_REG_BUF_GPA 0x010
#define DMA_REG_BUF_LEN 0x018
#define DMA_REG_FLAGS 0x020
#define DMA_REG_SEQ 0x028
#define DMA_REG_CMD 0x030
#define DMA_REG_STATUS 0x038
#define DMA_REG_ERROR 0x040
#define DMA_REG_ERRNO 0x048
#define DMA_REG_TIMER_US 0x050
#define DMA_REG_LAST_SEQ 0x058
#define DMA_REG_CHECKSUM 0x060
#define DMA_REG_MAX_LEN 0x068
#define DMA_REG_CNT_WRITES 0x080
#define DMA_REG_CNT_READS 0x088
#define DMA_REG_CNT_PINS 0x090
#define DMA_REG_CNT_UNPINS 0x098
#define DMA_REG_PINS_HELD 0x0a0
#define DMA_REG_PINNED_BYTES 0x0a8
#define DMA_REG_CNT_ERRORS 0x0b0
#define DMA_REG_CNT_TICKS 0x0b8
#define DMA_REG_END 0x0c0

/* FLAGS */
#define DMA_F_DEV_WRITES 0x1 /* the device writes the buffer: a R/W pin */
#define DMA_F_DEV_READS 0x2  /* the device reads the buffer */
#define DMA_F_LONGTERM 0x4   /* pin at PIN, hold until UNPIN (else per DMA) */
#define DMA_F_ALL 0x7

/* CMD */
#define DMA_CMD_PIN 1
#define DMA_CMD_UNPIN 2
#define DMA_CMD_WRITE_PATTERN 3
#define DMA_CMD_READ_BACK 4
#define DMA_CMD_RESET 5
#define DMA_CMD_TIMER_START 6
#define DMA_CMD_TIMER_STOP 7

/* STATUS */
#define DMA_ST_BOUND 0x1   /* a buffer is set (PIN accepted) */
#define DMA_ST_PINNED 0x2  /* a pin is held now */
#define DMA_ST_BUSY 0x4	   /* a WRITE_PATTERN or READ_BACK is queued or running */
#define DMA_ST_TIMER 0x8   /* the timer runs */
#define DMA_ST_ERROR 0x10  /* ERROR != 0 */

/* ERROR */
#define DMA_ERR_NONE 0
#define DMA_ERR_CMD 1	   /* unknown command */
#define DMA_ERR_ACCESS 2   /* bad register access (size, offset, read-only) */
#define DMA_ERR_LEN 3	   /* BUF_LEN 0 or above MAX_LEN */
#define DMA_ERR_RANGE 4	   /* buffer not inside guest RAM (or wraps) */
#define DMA_ERR_FLAGS 5	   /* unknown FLAGS bits, or no direction */
#define DMA_ERR_BUSY 6	   /* a buffer is set already, or work is queued */
#define DMA_ERR_NOBUF 7	   /* no buffer set */
#define DMA_ERR_PERM 8	   /* the direction was not asked for at PIN */
#define DMA_ERR_PIN 9	   /* the memory manager refused the pin (ERRNO) */
#define DMA_ERR_TIMER 10   /* TIMER_US out of range */
#define DMA_ERR_DETACHED 11 /* the device was detached from its VM */

#define DMA_TIMER_MIN_US 50ULL
#define DMA_TIMER_MAX_US 10000000ULL

static inline uint64_t dma_pattern_word(uint64_t seq, uint64_t word)
{
	uint64_t z = seq * 0x9e3779b97f4a7c15ULL + word * 0xd1b54a32d192ed03ULL + 0x5eedULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint8_t dma_pattern_byte(uint64_t seq, uint64_t off)
{
	return (uint8_t)(dma_pattern_word(seq, off / 8) >> ((off % 8) * 8));
}

#define DMA_CHECKSUM_INIT 0xcbf29ce484222325ULL
#define DMA_CHECKSUM_PRIME 0x100000001b3ULL

/*
 * The checksum, fed in pieces (the device's iovecs split the buffer
 * anywhere): FNV-1a over the buffer's little-endian 64-bit words, word k
 * being bytes 8k..8k+7 of the buffer, the last one zero-padded.
 */
struct dma_sum {
	uint64_t h, acc; /* acc: the bytes of a word not complete yet */
	unsigned nacc;
};

static inline void dma_sum_init(struct dma_sum *s)
{
	s->h = DMA_CHECKSUM_INIT;
	s->acc = 0;
	s->nacc = 0;
}

static inline void dma_sum_byte(struct dma_sum *s, uint8_t b)
{
	s->acc |= (uint64_t)b << (8 * s->nacc);
	if (++s->nacc == 8) {
		s->h = (s->h ^ s->acc) * DMA_CHECKSUM_PRIME;
		s->acc = 0;
		s->nacc = 0;
	}
}

static inline void dma_sum_update(struct dma_sum *s, const void *p, uint64_t len)
{
	const uint8_t *b = (const uint8_t *)p;
	uint64_t i = 0, w;

	__asm__ volatile("" ::: "memory"); /* memory a device or a vCPU changed: read it */
	for (; i < len && s->nacc; i++)
		dma_sum_byte(s, b[i]);
	for (; i + 8 <= len; i += 8) {
		__builtin_memcpy(&w, b + i, 8);
		s->h = (s->h ^ w) * DMA_CHECKSUM_PRIME;
	}
	for (; i < len; i++)
		dma_sum_byte(s, b[i]);
}

static inline uint64_t dma_sum_final(const struct dma_sum *s)
{
	return s->nacc ? (s->h ^ s->acc) * DMA_CHECKSUM_PRIME : s->h;
}

/* The checksum of @len contiguous bytes at @p. */
static inline uint64_t dma_checksum(const void *p, uint64_t len)
{
	struct dma_sum s;

	dma_sum_init(&s);
	dma_sum_update(&s, p, len);
	return dma_sum_final(&s);
}

#endif
