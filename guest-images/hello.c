// SPDX-License-Identifier: MIT
/*
 * hello [STATUS]: greet over the serial port, check the hypercall ABI, exit
 * with STATUS (default 0). A hypercall that misbehaves makes it exit 90-94.
 */
#include "guest.h"

#define EFAULT 14
#define ENOSYS 38

static const char line2[] = "hello: hypercalls ok\n";

int guest_main(const struct guest_boot *boot)
{
	const char *args = skip_spaces(boot->cmdline);

	printf_uart("Hello from a ring-3 KVM guest: %lu MiB, %lu vCPU(s).\n",
		    boot->mem_size >> 20, boot->ncpus);
	if (hcall(HC_NOP, 0, 0, 0) != 0)
		return 90;
	if (hcall(HC_TIME_NS, 0, 0, 0) <= 0)
		return 91;
	if (hcall(HC_WRITE, (uint64_t)line2, sizeof(line2) - 1, 0) != sizeof(line2) - 1)
		return 92;
	if (hcall(HC_WRITE, boot->mem_size - 4, 8, 0) != -EFAULT)
		return 93;
	if (hcall(12345, 0, 0, 0) != -ENOSYS)
		return 94;
	return *args ? (int)parse_u64(args, NULL) : 0;
}
