// SPDX-License-Identifier: MIT
/*
 * crash KIND: crash on purpose, for the VMM's crash reports.
 *   pf      write to an unmapped address (page fault)
 *   ud      an illegal instruction (ud2)
 *   triple  clear the IDT, then fault: the exception cannot be delivered
 *   mmio    write to a guest-physical address no device claims
 */
#include "guest.h"

#define IDT_GPA 0x9000

int guest_main(const struct guest_boot *boot)
{
	const char *kind = boot->cmdline;

	puts_uart("crash: about to crash\n");
	if (str_eq_word(kind, "pf"))
		*(volatile uint64_t *)0x7ff000000000ULL = 1;
	else if (str_eq_word(kind, "ud"))
		__asm__ volatile("ud2");
	else if (str_eq_word(kind, "triple")) {
		memset((void *)IDT_GPA, 0, 4096); /* the page tables let ring 3 write it */
		__asm__ volatile("ud2");
	} else if (str_eq_word(kind, "mmio"))
		*(volatile uint32_t *)(ABI_MMIO_BASE + 0x100000) = 1;
	else {
		puts_uart("crash: usage: crash pf|ud|triple|mmio\n");
		return 2;
	}
	puts_uart("crash: still alive\n");
	return 1;
}
