// SPDX-License-Identifier: MIT
/*
 * uart.c: 16550-style UART, output side (see uart.h).
 *
 * Invariants: u->len < UART_BUF between calls (a full buffer is flushed);
 * all state is under u->lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "uart.h"

#define REG_THR 0
#define REG_IER 1
#define REG_IIR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define LCR_DLAB 0x80
#define IER_THRI 0x02
#define FCR_FIFO 0x01
#define IIR_THRI 0x02
#define IIR_FIFO 0xc0
#define MCR_LOOP 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NO_INT 0x01

void uart__init(struct uart *u, int out_fd)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->line_start = true;
}

/*
 * Every UART's output goes through one lock: several VMs (a guest and its
 * clones) often share one output file, and write() calls from threads of
 * one process on a shared regular file can land at the same offset (seen
 * with memfds: lines overwritten), so lines would be lost.
 */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_all(struct uart *u, const void *data, size_t len)
{
	size_t off = 0;

	pthread_mutex_lock(&out_lock);
	while (off < len && u->out_fd >= 0 && !u->write_err) {
		ssize_t n = write(u->out_fd, (const char *)data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			u->write_err = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	pthread_mutex_unlock(&out_lock);
}

static int flush_locked(struct uart *u)
{
	if (!u->len)
		return u->write_err;
	if (u->tag[0] && u->line_start) {
		/* One write per line, so tagged lines of several VMs do not interleave. */
		char line[sizeof(u->tag) + UART_BUF];
		size_t tl = strlen(u->tag);

		memcpy(line, u->tag, tl);
		memcpy(line + tl, u->buf, u->len);
		write_all(u, line, tl + u->len);
	} else {
		write_all(u, u->buf, u->len);
	}
	u->line_start = u->buf[u->len - 1] == '\n';
	u->len = 0;
	return u->write_err;
}

void uart__set_irq(struct uart *u, void (*irq)(void *ctx, bool level), void *ctx)
{
	pthread_mutex_lock(&u->lock);
	u->irq = irq;
	u->irq_ctx = ctx;
	u->irq_level = false;
	pthread_mutex_unlock(&u->lock);
}

/* Under u->lock: the line follows IER.THRI (the transmitter is always empty). */
static void update_irq_locked(struct uart *u)
{
	bool level = u->regs[REG_IER] & IER_THRI;

	if (u->irq && level != u->irq_level) {
		u->irq_level = level;
		u->irq(u->irq_ctx, level);
	}
}

/* Modem status in loopback mode: the outputs of MCR fed back (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD). */
static uint8_t loopback_msr(uint8_t mcr)
{
	return (uint8_t)(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x04) << 4) |
			 ((mcr & 0x08) << 4));
}

void uart__set_tag(struct uart *u, const char *tag)
{
	pthread_mutex_lock(&u->lock);
	snprintf(u->tag, sizeof(u->tag), "%s", tag);
	pthread_mutex_unlock(&u->lock);
}

int uart__flush(struct uart *u)
{
	int err;

	pthread_mutex_lock(&u->lock);
	err = flush_locked(u);
	pthread_mutex_unlock(&u->lock);
	return err;
}

void uart__write(struct uart *u, unsigned off, uint8_t val)
{
	if (off >= UART_NR_REGS)
		return;
	pthread_mutex_lock(&u->lock);
	if (off <= REG_IER && (u->regs[REG_LCR] & LCR_DLAB)) {
		if (off == 0)
			u->dll = val;
		else
			u->dlm = val;
	} else if (off == REG_THR) {
		u->buf[u->len++] = val;
		u->tx_bytes++;
		if (val == '\n' || u->len == UART_BUF)
			flush_locked(u);
	} else if (off == REG_IIR) {
		u->fcr = val; /* FCR on write */
	} else if (off != REG_LSR) {
		u->regs[off] = val; /* IER, LCR, MCR, MSR, SCR hold what was written */
	}
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
}

uint8_t uart__read(struct uart *u, unsigned off)
{
	uint8_t val = 0;

	if (off >= UART_NR_REGS)
		return 0xff;
	pthread_mutex_lock(&u->lock);
	if (off <= REG_IER && (u->regs[REG_LCR] & LCR_DLAB))
		val = off == 0 ? u->dll : u->dlm;
	else if (off == REG_THR)
		val = 0; /* nothing received */
	else if (off == REG_IIR)
		val = (u->regs[REG_IER] & IER_THRI ? IIR_THRI : IIR_NO_INT) |
		      (u->fcr & FCR_FIFO ? IIR_FIFO : 0);
	else if (off == REG_LSR)
		val = LSR_THRE | LSR_TEMT;
	else if (off == REG_MSR && (u->regs[REG_MCR] & MCR_LOOP))
		val = loopback_msr(u->regs[REG_MCR]);
	else
		val = u->regs[off];
	pthread_mutex_unlock(&u->lock);
	return val;
}

void uart__exit(struct uart *u)
{
	uart__flush(u);
	pthread_mutex_destroy(&u->lock);
}
