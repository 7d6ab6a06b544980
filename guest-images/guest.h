/* SPDX-License-Identifier: MIT */
/*
 * guest.h: the freestanding library of the test guests - console output
 * through the 16550 UART, exit, hypercalls, a few string helpers. Each
 * guest defines guest_main(); cpu 0 runs it, other vCPUs run the guest's
 * guest_ap_main() if it has one, and park.
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

struct guest_boot {
	uint64_t mem_size;
	const char *cmdline;
	uint64_t cpu, ncpus;
};

/* Each guest provides this; its return value is the exit status. */
int guest_main(const struct guest_boot *boot);

static inline int64_t hcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	int64_t ret;

	__asm__ volatile("movq %1, (%2)"
			 : "=a"(ret)
			 : "r"(nr), "r"(ABI_HCALL_MMIO), "D"(a0), "S"(a1), "d"(a2)
			 : "memory");
	return ret;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)addr = v;
}

static inline uint8_t mmio_read8(uint64_t addr)
{
	return *(volatile uint8_t *)addr;
}

__attribute__((noreturn)) void guest_exit(int status);
void putchar_uart(char c);
void puts_uart(const char *s);
void printf_uart(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse an unsigned decimal or 0x hex number; *end past it. */
uint64_t parse_u64(const char *s, const char **end);
const char *skip_spaces(const char *s);
int str_eq_word(const char *s, const char *word); /* s starts with word + space/NUL */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif
