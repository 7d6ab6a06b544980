// SPDX-License-Identifier: MIT
/*
 * bench MODE [N]: what `vmm bench vm` times.
 *   exit     exit at once (VM creation to first guest instructions)
 *   loop N   N iterations of bench_loop at ring 3
 *   nop N    N HC_NOP hypercalls (the exit round trip)
 *   uart N   N bytes to the UART's transmit register (a plain MMIO exit)
 */
#include "bench-loop.h"
#include "guest.h"

int guest_main(const struct guest_boot *boot)
{
	const char *a = boot->cmdline, *p;
	uint64_t n;

	if (str_eq_word(a, "exit"))
		return 0;
	n = parse_u64(skip_spaces(a) + 4, &p);
	if (str_eq_word(a, "loop"))
		return bench_loop(n, 88172645463325252ULL) == 1; /* use the result */
	if (str_eq_word(a, "nop")) {
		for (uint64_t i = 0; i < n; i++)
			hcall(HC_NOP, 0, 0, 0);
		return 0;
	}
	if (str_eq_word(a, "uart")) {
		for (uint64_t i = 0; i < n; i++)
			mmio_write8(ABI_UART_MMIO, 'x');
		return 0;
	}
	return 2;
}
