/* SPDX-License-Identifier: MIT */
/*
 * boot: a Linux kernel booted on a VM through the x86 64-bit boot
 * protocol - the bzImage and initrd in guest memory, boot_params with the
 * e820 map and the command line, ACPI tables for the CPUs, interrupt
 * controllers, power-off and the virtio-mmio devices, vCPU 0 in long mode
 * at the kernel's 64-bit entry, the others waiting for INIT/SIPI, each
 * with its own APIC id in CPUID (and the TSC deadline timer where KVM has
 * it); the PC platform's ports (vm__set_pc_platform).
 *
 * vmm/boot sits above vmm/vm (vm.h) and mm; it knows no device model:
 * virtio-mmio windows and their interrupts come from the caller.
 */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "vm.h"

struct boot_linux {
	const void *kernel;	/* the bzImage */
	size_t kernel_size;
	const void *initrd;	/* NULL: none */
	size_t initrd_size;
	const char *cmdline;	/* NUL-terminated */
	unsigned nr_virtio;	/* virtio-mmio devices to announce in the DSDT */
	struct acpi_virtio virtio[ACPI_MAX_VIRTIO];
};

/*
 * Every check boot__load_linux makes before it touches a VM, for a VM of
 * @mem_size bytes: the image, that kernel, initrd and command line fit.
 * 0, or -ENOEXEC/-ERANGE/-E2BIG with @msg saying what is wrong.
 */
int boot__check_linux(const struct boot_linux *cfg, uint64_t mem_size, char *msg, size_t msg_len);

/*
 * Load @cfg into @vm (created, not started; its memory zero) and set up its
 * vCPUs and platform so that vm__start boots it. @msg says what failed.
 */
int boot__load_linux(struct vm *vm, const struct boot_linux *cfg, char *msg, size_t msg_len);

#endif
