// SPDX-License-Identifier: MIT
/* hello [STATUS]: greet over the serial port, exit with STATUS (default 0). */
#include "guest.h"

int guest_main(const struct guest_boot *boot)
{
	const char *args = skip_spaces(boot->cmdline);

	printf_uart("Hello from a ring-3 KVM guest: %lu MiB, %lu vCPU(s).\n",
		    boot->mem_size >> 20, boot->ncpus);
	return *args ? (int)parse_u64(args, NULL) : 0;
}
