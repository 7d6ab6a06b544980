// SPDX-License-Identifier: MIT
/*
 * bzimage.c: the bzImage setup header and the guest layout (bzimage.h).
 *
 * Invariants: nothing past @size of the image is read; a layout that
 * returns 0 keeps the kernel's init_size bytes, the initrd, the command
 * line and the VMM's low structures apart and inside guest RAM.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bzimage.h"

#define HDR_OFFSET 0x1f1
#define HDR_MAGIC 0x53726448 /* "HdrS" */
#define BOOT_FLAG 0xaa55
#define ENTRY64_OFFSET 0x200
#define MIB (1ULL << 20)

__attribute__((format(printf, 4, 5)))
static int fail(char *msg, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return err;
}

int bzimage__parse(const void *data, size_t size, struct bzimage *ret, char *msg, size_t msg_len)
{
	const uint8_t *p = data;
	struct bzimage bz;
	size_t hdr_end, setup_size;

	memset(&bz, 0, sizeof(bz));

	if (size < HDR_OFFSET + 0x11 + 2 + 4)
		return fail(msg, msg_len, -ENOEXEC, "not a bzImage: %zu bytes, too short for the "
			    "boot protocol's setup header", size);
	/* The header ends at 0x202 + the byte at 0x201 (the jump's offset). */
	hdr_end = 0x202 + p[0x201];
	if (hdr_end > HDR_OFFSET + sizeof(bz.hdr))
		hdr_end = HDR_OFFSET + sizeof(bz.hdr);
	if (size < hdr_end)
		return fail(msg, msg_len, -ENOEXEC, "truncated bzImage: %zu bytes, its setup header "
			    "ends at %zu", size, hdr_end);
	memcpy(&bz.hdr, p + HDR_OFFSET, hdr_end - HDR_OFFSET);
	if (bz.hdr.boot_flag != BOOT_FLAG || bz.hdr.header != HDR_MAGIC)
		return fail(msg, msg_len, -ENOEXEC, "not a bzImage: no boot protocol header "
			    "(boot flag 0x%x, magic 0x%x; want 0xaa55, \"HdrS\")",
			    bz.hdr.boot_flag, bz.hdr.header);
	if (bz.hdr.version < BOOT_MIN_PROTOCOL || !(bz.hdr.xloadflags & XLF_KERNEL_64))
		return fail(msg, msg_len, -ENOEXEC, "boot protocol %x.%02x without a 64-bit entry "
			    "point: need 2.12 or later with XLF_KERNEL_64 (a 64-bit kernel)",
			    bz.hdr.version >> 8, bz.hdr.version & 0xff);
	if (!(bz.hdr.loadflags & LOADED_HIGH))
		return fail(msg, msg_len, -ENOEXEC, "a zImage (loaded low): only bzImage kernels "
			    "are supported");
	setup_size = (size_t)((bz.hdr.setup_sects ? bz.hdr.setup_sects : 4) + 1) * 512;
	bz.kernel_size = (size_t)bz.hdr.syssize * 16;
	if (!bz.kernel_size || setup_size > size || bz.kernel_size > size - setup_size)
		return fail(msg, msg_len, -ENOEXEC, "truncated bzImage: %zu bytes, its header says "
			    "%zu", size, setup_size + bz.kernel_size);
	bz.kernel = p + setup_size;
	bz.load_addr = bz.hdr.pref_address;
	if (bz.load_addr < BOOT_HIGH_RAM || bz.load_addr % (2 * MIB) || bz.load_addr >= (1ULL << 32))
		bz.load_addr = 16 * MIB; /* the kernel relocates itself (and KASLR moves it anyway) */
	bz.init_size = bz.hdr.init_size > bz.kernel_size ? bz.hdr.init_size : bz.kernel_size;
	bz.cmdline_max = bz.hdr.cmdline_size ? bz.hdr.cmdline_size : 255;
	*ret = bz;
	return 0;
}

int bzimage__layout(const struct bzimage *bz, uint64_t mem_size, uint64_t initrd_size,
		    size_t cmdline_len, struct bzimage_layout *ret, char *msg, size_t msg_len)
{
	struct bzimage_layout l = {.cmdline_len = cmdline_len, .initrd_size = initrd_size};
	uint64_t top;

	if (cmdline_len > bz->cmdline_max)
		return fail(msg, msg_len, -E2BIG, "kernel command line too long: %zu bytes, this "
			    "kernel takes at most %zu", cmdline_len, bz->cmdline_max);
	l.kernel_end = bz->load_addr + bz->init_size;
	if (l.kernel_end > mem_size)
		return fail(msg, msg_len, -ERANGE, "kernel too large for guest memory: it needs "
			    "%llu MiB (loaded at %llu MiB, init_size %llu MiB): raise --mem",
			    (unsigned long long)((l.kernel_end + MIB - 1) / MIB),
			    (unsigned long long)(bz->load_addr / MIB),
			    (unsigned long long)((bz->init_size + MIB - 1) / MIB));
	if (initrd_size) {
		top = mem_size;
		if ((uint64_t)bz->hdr.initrd_addr_max + 1 < top)
			top = (uint64_t)bz->hdr.initrd_addr_max + 1;
		if (initrd_size > top || ((top - initrd_size) & ~0xfffULL) < l.kernel_end)
			return fail(msg, msg_len, -ERANGE, "initrd does not fit: %llu KiB, and only "
				    "%llu KiB of guest memory is free above the kernel: raise --mem",
				    (unsigned long long)((initrd_size + 1023) >> 10),
				    (unsigned long long)(top > l.kernel_end ? (top - l.kernel_end) >> 10 : 0));
		l.initrd_gpa = (top - initrd_size) & ~0xfffULL;
	}
	*ret = l;
	return 0;
}
