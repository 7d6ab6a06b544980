/* SPDX-License-Identifier: MIT */
/*
 * bzimage: a Linux x86-64 kernel image (bzImage) read through the boot
 * protocol's setup header (Documentation/arch/x86/boot.rst), and where its
 * pieces go in guest memory. No KVM, no guest memory: every check a bad
 * input fails (truncated image, kernel or initrd that does not fit, a
 * command line longer than the kernel takes) runs before any VM exists.
 *
 * Guest-physical layout of a Linux guest (vmm/boot):
 *   0x00500  GDT (__BOOT_CS 0x10, __BOOT_DS 0x18)
 *   0x07000  boot_params (the "zero page")
 *   0x09000  page tables: identity map of [0, 4 GiB) with 2 MiB pages
 *   0x20000  the command line
 *   [0x9fc00, 0xa0000) and [0xe0000, 0x100000) reserved in the e820 map;
 *   0xe0000  ACPI tables, RSDP first
 *   load_addr (the kernel's preferred address, 16 MiB for Debian's): the
 *            protected-mode kernel, init_size bytes reserved for it
 *   the initrd: page-aligned at the top of RAM (below initrd_addr_max)
 */
#ifndef VMM_BZIMAGE_H
#define VMM_BZIMAGE_H

#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_GDT_GPA 0x500ULL
#define BOOT_PARAMS_GPA 0x7000ULL
#define BOOT_PT_GPA 0x9000ULL	 /* PML4; PDPT at +0x1000; 4 PDs after it */
#define BOOT_PT_END 0xf000ULL
#define BOOT_CMDLINE_GPA 0x20000ULL
#define BOOT_LOW_RAM_END 0x9fc00ULL
#define BOOT_ACPI_GPA 0xe0000ULL
#define BOOT_ACPI_END 0x100000ULL
#define BOOT_HIGH_RAM 0x100000ULL
#define BOOT_MIN_PROTOCOL 0x020c /* 2.12: xloadflags, the 64-bit entry */

struct bzimage {
	struct setup_header hdr; /* as in the image; fields past its end are 0 */
	const uint8_t *kernel;	 /* the protected-mode kernel, in the caller's buffer */
	size_t kernel_size;	 /* what the header says it is (syssize) */
	uint64_t load_addr;	 /* where it goes (pref_address) */
	uint64_t init_size;	 /* bytes it needs from load_addr while it boots */
	size_t cmdline_max;	 /* longest command line it takes, without the NUL */
};

struct bzimage_layout {
	uint64_t kernel_end;	/* load_addr + init_size */
	uint64_t initrd_gpa;	/* 0: no initrd */
	uint64_t initrd_size;
	size_t cmdline_len;
};

/*
 * Read the setup header of the @size bytes at @data. -ENOEXEC when it is
 * not a bzImage, is truncated or too old (no 64-bit entry); @msg says why.
 * @ret->kernel points into @data.
 */
int bzimage__parse(const void *data, size_t size, struct bzimage *ret, char *msg, size_t msg_len);

/*
 * Place the kernel, an initrd of @initrd_size bytes (0: none) and a command
 * line of @cmdline_len bytes in @mem_size bytes of guest RAM. -ERANGE when
 * the kernel or the initrd does not fit, -E2BIG when the command line is
 * too long; @msg says by how much.
 */
int bzimage__layout(const struct bzimage *bz, uint64_t mem_size, uint64_t initrd_size,
		    size_t cmdline_len, struct bzimage_layout *ret, char *msg, size_t msg_len);

#endif
