// SPDX-License-Identifier: MIT
/*
 * test-boot.c: vmm/boot without KVM - the bzImage header checks and the
 * layout on synthetic images, and the ACPI tables' checksums and lengths.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acpi.h"
#include "bzimage.h"

#define MIB (1ULL << 20)
#define SETUP_SECTS 4
#define KERNEL_BYTES (64 * 1024)

/* A bzImage header as Debian's 6.x has it, with a 64 KiB "kernel". */
static uint8_t *fake_image(size_t *ret_size)
{
	size_t size = (SETUP_SECTS + 1) * 512 + KERNEL_BYTES;
	uint8_t *p = calloc(1, size);
	struct setup_header h = {0};

	h.setup_sects = SETUP_SECTS;
	h.syssize = KERNEL_BYTES / 16;
	h.boot_flag = 0xaa55;
	h.jump = 0x6aeb; /* jmp over the header: byte at 0x201 is 0x6a */
	h.header = 0x53726448;
	h.version = 0x020f;
	h.loadflags = LOADED_HIGH;
	h.initrd_addr_max = 0x7fffffff;
	h.kernel_alignment = 2 * MIB;
	h.relocatable_kernel = 1;
	h.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h.cmdline_size = 2047;
	h.pref_address = 16 * MIB;
	h.init_size = 52 * MIB;
	memcpy(p + 0x1f1, &h, sizeof(h));
	*ret_size = size;
	return p;
}

static void parse_ok(void **state)
{
	size_t size;
	uint8_t *p = fake_image(&size);
	struct bzimage bz;
	char msg[200] = "";

	assert_int_equal(bzimage__parse(p, size, &bz, msg, sizeof(msg)), 0);
	assert_int_equal(bz.load_addr, 16 * MIB);
	assert_int_equal(bz.init_size, 52 * MIB);
	assert_int_equal(bz.cmdline_max, 2047);
	assert_ptr_equal(bz.kernel, p + (SETUP_SECTS + 1) * 512);
	assert_int_equal(bz.kernel_size, KERNEL_BYTES);
	free(p);
}

static void expect_bad(const uint8_t *p, size_t size, const char *what)
{
	struct bzimage bz;
	char msg[200] = "";

	assert_int_equal(bzimage__parse(p, size, &bz, msg, sizeof(msg)), -ENOEXEC);
	if (!strstr(msg, what))
		fail_msg("message '%s' lacks '%s'", msg, what);
}

static void parse_bad(void **state)
{
	size_t size;
	uint8_t *p = fake_image(&size);
	uint16_t v;

	for (size_t cut = 0; cut < size; cut += 509)
		expect_bad(p, cut, cut < 0x202 + 0x6a ? "bzImage" : "truncated");
	expect_bad(p, size - 1, "truncated bzImage");
	p[0x202] = 'X';
	expect_bad(p, size, "no boot protocol header");
	p[0x202] = 'H';
	v = 0x020b;
	memcpy(p + 0x206, &v, 2);
	expect_bad(p, size, "boot protocol 2.0b");
	v = 0x020f;
	memcpy(p + 0x206, &v, 2);
	p[0x236] = 0; /* xloadflags: no 64-bit entry */
	expect_bad(p, size, "XLF_KERNEL_64");
	p[0x236] = XLF_KERNEL_64;
	p[0x211] = 0; /* loadflags: a zImage */
	expect_bad(p, size, "zImage");
	free(p);
}

static void layout(void **state)
{
	size_t size;
	uint8_t *p = fake_image(&size);
	struct bzimage bz;
	struct bzimage_layout l;
	char msg[200] = "";

	assert_int_equal(bzimage__parse(p, size, &bz, msg, sizeof(msg)), 0);
	assert_int_equal(bzimage__layout(&bz, 256 * MIB, 1000000, 2047, &l, msg, sizeof(msg)), 0);
	assert_int_equal(l.kernel_end, 68 * MIB);
	assert_int_equal(l.initrd_gpa % 4096, 0);
	assert_true(l.initrd_gpa >= l.kernel_end && l.initrd_gpa + 1000000 <= 256 * MIB);
	assert_int_equal(bzimage__layout(&bz, 256 * MIB, 0, 2048, &l, msg, sizeof(msg)), -E2BIG);
	assert_non_null(strstr(msg, "2048 bytes"));
	assert_int_equal(bzimage__layout(&bz, 66 * MIB, 0, 10, &l, msg, sizeof(msg)), -ERANGE);
	assert_non_null(strstr(msg, "kernel too large"));
	/* Exactly the room left above the kernel fits; a page more does not. */
	assert_int_equal(bzimage__layout(&bz, 128 * MIB, 60 * MIB, 10, &l, msg, sizeof(msg)), 0);
	assert_int_equal(l.initrd_gpa, 68 * MIB);
	assert_int_equal(bzimage__layout(&bz, 128 * MIB, 60 * MIB + 1, 10, &l, msg, sizeof(msg)),
			 -ERANGE);
	assert_non_null(strstr(msg, "initrd does not fit"));
	free(p);
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void acpi_tables(void **state)
{
	enum { GPA = 0xe0000, LEN = 0x20000 };
	uint8_t *buf = calloc(1, LEN);
	struct acpi_config cfg = {.nr_cpus = 3, .nr_virtio = 2,
				  .virtio = {{0xd0010000, 0x1000, 5}, {0xd0011000, 0x1000, 6}}};
	uint64_t xsdt, t;
	uint32_t len;
	unsigned seen = 0;

	assert_int_equal(acpi__build(buf, GPA, LEN, &cfg), 0);
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum(buf, 20), 0);
	assert_int_equal(sum(buf, 36), 0);
	memcpy(&xsdt, buf + 24, 8);
	assert_memory_equal(buf + xsdt - GPA, "XSDT", 4);
	memcpy(&len, buf + xsdt - GPA + 4, 4);
	assert_int_equal(sum(buf + xsdt - GPA, len), 0);
	for (unsigned i = 0; i < (len - 36) / 8; i++) {
		uint32_t tlen;

		memcpy(&t, buf + xsdt - GPA + 36 + i * 8, 8);
		assert_true(t >= GPA && t < GPA + LEN);
		memcpy(&tlen, buf + t - GPA + 4, 4);
		assert_int_equal(sum(buf + t - GPA, tlen), 0);
		if (!memcmp(buf + t - GPA, "APIC", 4)) {
			assert_int_equal(tlen, 36 + 8 + 3 * 8 + 12 + 10 + 6);
			seen |= 1;
		}
		if (!memcmp(buf + t - GPA, "FACP", 4)) {
			uint32_t dsdt, dlen;

			memcpy(&dsdt, buf + t - GPA + 40, 4);
			assert_memory_equal(buf + dsdt - GPA, "DSDT", 4);
			memcpy(&dlen, buf + dsdt - GPA + 4, 4);
			assert_int_equal(sum(buf + dsdt - GPA, dlen), 0);
			assert_non_null(memmem(buf + dsdt - GPA, dlen, "_S5_", 4));
			assert_non_null(memmem(buf + dsdt - GPA, dlen, "LNRO0005", 8));
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	assert_int_equal(acpi__build(buf, GPA, 100, &cfg), -ENOSPC);
	cfg.nr_cpus = 0;
	assert_int_equal(acpi__build(buf, GPA, LEN, &cfg), -EINVAL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_ok),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(layout),
		cmocka_unit_test(acpi_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
