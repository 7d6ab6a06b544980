/* SPDX-License-Identifier: MIT */
/*
 * acpi: the ACPI tables a Linux guest needs on this machine - RSDP, XSDT,
 * FADT (+FACS), MADT, DSDT - built into a buffer that is guest memory at a
 * given address. No KVM here: the ports and interrupts the tables name are
 * vm.h's VM_PC_* (vm__set_pc_platform serves them).
 *
 * What they say: one processor per vCPU (local APIC id = vCPU number), the
 * IOAPIC at 0xfec00000 with GSIs 0-23 (ISA IRQs identity-mapped, as KVM's
 * default routing has them; the SCI, IRQ 9, level), the PC/AT dual 8259;
 * ACPI mode from the start (no SMI command port), PM1a event and control
 * blocks, no PM timer, no GPEs, the reset register; no VGA, no 8042, no
 * CMOS RTC (kvmclock gives the time). The DSDT has \_S5 (power-off) and a
 * device per virtio-mmio window (_HID LNRO0005, what Linux's virtio_mmio
 * driver matches) with its memory and interrupt.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_VIRTIO 16

struct acpi_virtio {
	uint64_t base, size;	/* MMIO window */
	unsigned irq;		/* GSI (edge, active high) */
};

struct acpi_config {
	unsigned nr_cpus;	/* 1..255 */
	unsigned nr_virtio;	/* at most ACPI_MAX_VIRTIO */
	struct acpi_virtio virtio[ACPI_MAX_VIRTIO];
};

/*
 * Write the tables into @buf, which the guest sees at @gpa, @len bytes;
 * the RSDP comes first (at @gpa). -ENOSPC if they do not fit, -EINVAL for
 * a bad config.
 */
int acpi__build(void *buf, uint64_t gpa, size_t len, const struct acpi_config *cfg);

#endif
