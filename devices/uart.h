/* SPDX-License-Identifier: MIT */
/*
 * uart: a 16550-style UART, output only (what the test guests need): the
 * transmit register sends bytes to a file descriptor, line-buffered; the
 * line status always says "transmitter empty"; the receiver never has data.
 * The other registers hold what the guest writes so drivers that probe the
 * scratch or divisor registers see a real 16550 (FIFO bits in IIR once the
 * FIFO is enabled, modem-control loopback). The bus (port I/O or MMIO) is
 * the caller's business: the device sees register offsets 0-7.
 *
 * Interrupts: none unless uart__set_irq gives a line. Then the line is high
 * while the transmitter-empty interrupt is enabled (IER.THRI): the
 * transmitter is always empty, so it is always pending then, and IIR says
 * so. Linux's 8250 driver sends from its interrupt handler, reading IIR
 * until it says "no interrupt", and disables THRI when it has nothing left
 * to send, so a level that follows IER gives it an edge for each burst.
 */
#ifndef DEVICES_UART_H
#define DEVICES_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define UART_NR_REGS 8
#define UART_BUF 256

struct uart {
	pthread_mutex_t lock; /* several vCPUs may print */
	int out_fd;	      /* -1: output discarded */
	uint8_t regs[UART_NR_REGS];
	uint8_t dll, dlm;     /* divisor latch */
	uint8_t buf[UART_BUF];
	unsigned len;
	uint64_t tx_bytes;
	int write_err;	      /* first output error (-errno), output then discarded */
	char tag[32];	      /* written before each line; "" for none */
	bool line_start;      /* the next byte out starts a line */
	uint8_t fcr;	      /* the last FIFO control write */
	void (*irq)(void *ctx, bool level); /* NULL: no interrupt line */
	void *irq_ctx;
	bool irq_level;
};

void uart__init(struct uart *u, int out_fd);
void uart__write(struct uart *u, unsigned off, uint8_t val);
uint8_t uart__read(struct uart *u, unsigned off);
/*
 * Raise and lower an interrupt line through @irq (called with the UART's
 * lock held, on the thread that accessed it). Before the guest runs.
 */
void uart__set_irq(struct uart *u, void (*irq)(void *ctx, bool level), void *ctx);
/* Prefix each output line with @tag (truncated to 31 bytes), e.g. "[clone 1] ". */
void uart__set_tag(struct uart *u, const char *tag);
/* Write out buffered bytes; 0 or the first output error. */
int uart__flush(struct uart *u);
void uart__exit(struct uart *u); /* flushes */

#endif
