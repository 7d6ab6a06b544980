// SPDX-License-Identifier: MIT
/*
 * lib.c: the test guests' freestanding library (see guest.h). Console
 * output goes byte by byte through the UART's transmit register: one MMIO
 * exit a byte, which is what a real driver of the device does.
 */
#include <stdarg.h>

#include "guest.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

__attribute__((noreturn)) void guest_exit(int status)
{
	*(volatile uint32_t *)ABI_EXIT_MMIO = (uint32_t)status;
	for (;;)
		hcall(HC_PARK, 0, 0, 0);
}

void putchar_uart(char c)
{
	while (!(mmio_read8(ABI_UART_MMIO + UART_LSR) & UART_LSR_THRE))
		;
	mmio_write8(ABI_UART_MMIO + UART_THR, (uint8_t)c);
}

void puts_uart(const char *s)
{
	while (*s)
		putchar_uart(*s++);
}

static void put_num(uint64_t v, unsigned base, int width)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n < width)
		buf[n++] = '0';
	while (n)
		putchar_uart(buf[--n]);
}

/* %s %c %d %u %x %lu %lx %ld %llx and %016lx-style widths; nothing else. */
void printf_uart(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		int width = 0, longs = 0;

		if (*fmt != '%') {
			putchar_uart(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			puts_uart(va_arg(ap, const char *));
			break;
		case 'c':
			putchar_uart((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);

			if (v < 0) {
				putchar_uart('-');
				v = -v;
			}
			put_num((uint64_t)v, 10, width);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);

			put_num(v, *fmt == 'x' ? 16 : 10, width);
			break;
		}
		case '%':
			putchar_uart('%');
			break;
		default:
			putchar_uart('?');
			break;
		}
		if (!*fmt)
			break;
	}
	va_end(ap);
}

const char *skip_spaces(const char *s)
{
	while (*s == ' ')
		s++;
	return s;
}

uint64_t parse_u64(const char *s, const char **end)
{
	uint64_t v = 0;

	s = skip_spaces(s);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		for (;; s++) {
			unsigned d;

			if (*s >= '0' && *s <= '9')
				d = *s - '0';
			else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
				d = (*s | 0x20) - 'a' + 10;
			else
				break;
			v = v * 16 + d;
		}
	} else {
		for (; *s >= '0' && *s <= '9'; s++)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (end)
		*end = s;
	return v;
}

int str_eq_word(const char *s, const char *word)
{
	s = skip_spaces(s);
	while (*word)
		if (*s++ != *word++)
			return 0;
	return *s == 0 || *s == ' ';
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

void guest_start(uint64_t mem_size, const char *cmdline, uint64_t cpu, uint64_t ncpus);

/* A guest that defines it runs it on vCPUs 1..n-1; they park when it returns. */
extern void guest_ap_main(const struct guest_boot *boot) __attribute__((weak));

void guest_start(uint64_t mem_size, const char *cmdline, uint64_t cpu, uint64_t ncpus)
{
	struct guest_boot boot = {mem_size, cmdline, cpu, ncpus};

	if (cpu != 0) {
		if (guest_ap_main)
			guest_ap_main(&boot);
		for (;;)
			hcall(HC_PARK, 0, 0, 0);
	}
	guest_exit(guest_main(&boot));
}
