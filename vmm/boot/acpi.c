// SPDX-License-Identifier: MIT
/*
 * acpi.c: the ACPI tables of a Linux guest (acpi.h).
 *
 * Invariants: every table lies inside the caller's buffer and carries a
 * checksum that makes its bytes sum to 0 (the RSDP: its first 20 bytes and
 * all 36); each table's header says its exact length; addresses in the
 * tables are guest-physical (@gpa + offset).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "vm.h"

#define HDR_LEN 36
#define RSDP_LEN 36
#define FADT_LEN 276
#define FACS_LEN 64
#define LAPIC_BASE 0xfee00000u
#define IOAPIC_BASE 0xfec00000u
#define AML_MAX 4096

/* FADT flags: WBINVD, C1 on all processors, power and sleep buttons absent, reset register. */
#define FADT_FLAGS ((1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10))
/* IA-PC boot architecture flags: no VGA, no CMOS RTC (no legacy devices, no 8042). */
#define FADT_BOOT_ARCH ((1u << 2) | (1u << 5))

struct out {
	uint8_t *buf;
	size_t len, off;
	uint64_t gpa;
};

static void put(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

/* @len bytes at the next @align boundary, zeroed; NULL if they do not fit. */
static uint8_t *take(struct out *o, size_t len, size_t align, uint64_t *ret_gpa)
{
	size_t off = (o->off + align - 1) & ~(align - 1);

	if (off > o->len || len > o->len - off)
		return NULL;
	o->off = off + len;
	memset(o->buf + off, 0, len);
	*ret_gpa = o->gpa + off;
	return o->buf + off;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put(t + 4, len, 4);
	t[8] = rev;
	memcpy(t + 10, "VMMCOW", 6);
	memcpy(t + 16, "VMMCOWVM", 8);
	put(t + 24, 1, 4);
	memcpy(t + 28, "VMMC", 4);
	put(t + 32, 1, 4);
}

static void finish(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = checksum(t, len);
}

/* Generic address structure: system I/O @port, @bytes wide. */
static void gas_io(uint8_t *g, uint16_t port, unsigned bytes)
{
	g[0] = 1; /* system I/O */
	g[1] = (uint8_t)(bytes * 8);
	g[2] = 0;
	g[3] = (uint8_t)(bytes == 4 ? 3 : bytes == 2 ? 2 : 1);
	put(g + 4, port, 8);
}

static void fadt_fill(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
	header(t, "FACP", FADT_LEN, 6);
	put(t + 36, facs, 4);
	put(t + 40, dsdt, 4);
	put(t + 46, VM_PC_SCI_IRQ, 2);
	/* smi_cmd 0: no transition, the machine is in ACPI mode from the start */
	put(t + 56, VM_PC_PM1_EVT_PORT, 4);
	put(t + 64, VM_PC_PM1_CNT_PORT, 4);
	t[88] = 4; /* PM1 event block length */
	t[89] = 2; /* PM1 control block length */
	put(t + 96, 101, 2); /* C2 latency > 100: no C2 */
	put(t + 98, 1001, 2); /* C3 latency > 1000: no C3 */
	put(t + 109, FADT_BOOT_ARCH, 2);
	put(t + 112, FADT_FLAGS, 4);
	gas_io(t + 116, VM_PC_RESET_PORT, 1);
	t[128] = VM_PC_RESET_VALUE;
	put(t + 132, facs, 8);
	put(t + 140, dsdt, 8);
	gas_io(t + 148, VM_PC_PM1_EVT_PORT, 4);
	gas_io(t + 172, VM_PC_PM1_CNT_PORT, 2);
	finish(t, FADT_LEN);
}

static size_t madt_len(unsigned nr_cpus)
{
	return HDR_LEN + 8 + nr_cpus * 8 + 12 + 10 + 6;
}

static void madt_fill(uint8_t *t, unsigned nr_cpus)
{
	uint8_t *e = t + HDR_LEN + 8;
	size_t len = madt_len(nr_cpus);

	header(t, "APIC", (uint32_t)len, 5);
	put(t + 36, LAPIC_BASE, 4);
	put(t + 40, 1, 4); /* PCAT_COMPAT: the 8259s are there (masked by Linux) */
	for (unsigned i = 0; i < nr_cpus; i++, e += 8) {
		e[0] = 0; /* processor local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id: KVM's is the vCPU number */
		put(e + 4, 1, 4);  /* enabled */
	}
	e[0] = 1; /* I/O APIC */
	e[1] = 12;
	e[2] = 0;
	put(e + 4, IOAPIC_BASE, 4);
	put(e + 8, 0, 4); /* GSI base */
	e += 12;
	e[0] = 2; /* interrupt source override: the SCI, level, active high */
	e[1] = 10;
	e[2] = 0;
	e[3] = VM_PC_SCI_IRQ;
	put(e + 4, VM_PC_SCI_IRQ, 4);
	put(e + 8, 0x000d, 2);
	e += 10;
	e[0] = 4; /* local APIC NMI: every processor's LINT1 */
	e[1] = 6;
	e[2] = 0xff;
	put(e + 3, 0, 2);
	e[5] = 1;
	finish(t, len);
}

/* ---------------------------------------------------------------- AML */

struct aml {
	uint8_t b[AML_MAX];
	size_t n;
	bool overflow;
};

static void emit(struct aml *a, const void *p, size_t len)
{
	if (a->overflow || len > sizeof(a->b) - a->n) {
		a->overflow = true;
		return;
	}
	memcpy(a->b + a->n, p, len);
	a->n += len;
}

static void emit1(struct aml *a, uint8_t v)
{
	emit(a, &v, 1);
}

static void emit_int(struct aml *a, uint32_t v)
{
	uint8_t b[5];

	if (v <= 1) {
		emit1(a, (uint8_t)v); /* ZeroOp, OneOp */
	} else if (v <= 0xff) {
		b[0] = 0x0a;
		b[1] = (uint8_t)v;
		emit(a, b, 2);
	} else {
		b[0] = 0x0c;
		put(b + 1, v, 4);
		emit(a, b, 5);
	}
}

/* PkgLength of @len bytes of content: the encoding counts its own bytes. */
static void emit_pkglen(struct aml *a, size_t len)
{
	uint8_t b[4];

	if (len + 1 < 0x40) {
		emit1(a, (uint8_t)(len + 1));
		return;
	}
	for (unsigned n = 1; n <= 3; n++) {
		size_t total = len + 1 + n;

		if (total < (1ULL << (4 + 8 * n))) {
			b[0] = (uint8_t)((n << 6) | (total & 0xf));
			for (unsigned i = 1; i <= n; i++)
				b[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			emit(a, b, n + 1);
			return;
		}
	}
	a->overflow = true;
}

/* @op (1 or 2 bytes), PkgLength, then @inner. */
static void emit_pkg(struct aml *a, const uint8_t *op, size_t op_len, const struct aml *inner)
{
	emit(a, op, op_len);
	emit_pkglen(a, inner->n);
	emit(a, inner->b, inner->n);
	a->overflow |= inner->overflow;
}

static void emit_name(struct aml *a, const char seg[4])
{
	emit1(a, 0x08); /* NameOp */
	emit(a, seg, 4);
}

/* Device(Vnnn) { _HID "LNRO0005", _UID n, _CRS { Memory32Fixed, Interrupt } } */
static void virtio_device(struct aml *a, unsigned n, const struct acpi_virtio *v)
{
	static const uint8_t device_op[] = {0x5b, 0x82}, buffer_op[] = {0x11};
	struct aml dev = {.n = 0}, res = {.n = 0};
	uint8_t crs[12 + 9 + 2] = {0x86, 0x09, 0x00, 0x01};
	char seg[5] = {'V', (char)('0' + n / 100 % 10), (char)('0' + n / 10 % 10),
		       (char)('0' + n % 10), 0};

	emit(&dev, seg, 4);
	emit_name(&dev, "_HID");
	emit1(&dev, 0x0d); /* string */
	emit(&dev, "LNRO0005", 9);
	emit_name(&dev, "_UID");
	emit_int(&dev, n);
	put(crs + 4, v->base, 4);
	put(crs + 8, v->size, 4);
	crs[12] = 0x89; /* extended interrupt */
	put(crs + 13, 6, 2);
	crs[15] = 0x01 | 0x02; /* consumer, edge, active high, exclusive */
	crs[16] = 1;
	put(crs + 17, v->irq, 4);
	crs[21] = 0x79; /* end tag */
	crs[22] = 0;
	emit_int(&res, sizeof(crs));
	emit(&res, crs, sizeof(crs));
	emit_name(&dev, "_CRS");
	emit_pkg(&dev, buffer_op, 1, &res);
	emit_pkg(a, device_op, 2, &dev);
}

static void dsdt_aml(struct aml *a, const struct acpi_config *cfg)
{
	static const uint8_t scope_op[] = {0x10}, package_op[] = {0x12};
	struct aml sb = {.n = 0}, s5 = {.n = 0};

	/* Name(_S5, Package(4) {VM_PC_S5_TYPE, 0, 0, 0}): SLP_TYPa, SLP_TYPb, reserved. */
	emit1(&s5, 4);
	emit_int(&s5, VM_PC_S5_TYPE);
	emit_int(&s5, 0);
	emit_int(&s5, 0);
	emit_int(&s5, 0);
	emit_name(a, "_S5_");
	emit_pkg(a, package_op, 1, &s5);
	if (!cfg->nr_virtio)
		return;
	emit(&sb, "\\_SB_", 5);
	for (unsigned i = 0; i < cfg->nr_virtio; i++)
		virtio_device(&sb, i, &cfg->virtio[i]);
	emit_pkg(a, scope_op, 1, &sb);
}

/* ---------------------------------------------------------------- tables */

int acpi__build(void *buf, uint64_t gpa, size_t len, const struct acpi_config *cfg)
{
	struct out o = {.buf = buf, .len = len, .gpa = gpa};
	uint64_t rsdp_gpa = 0, xsdt_gpa = 0, fadt_gpa = 0, facs_gpa = 0, madt_gpa = 0, dsdt_gpa = 0;
	uint8_t *rsdp, *xsdt, *fadt, *facs, *madt, *dsdt;
	struct aml *aml;
	int err = 0;

	if (!cfg->nr_cpus || cfg->nr_cpus > 255 || cfg->nr_virtio > ACPI_MAX_VIRTIO)
		return -EINVAL;
	aml = calloc(1, sizeof(*aml));
	if (!aml)
		return -ENOMEM;
	dsdt_aml(aml, cfg);
	rsdp = take(&o, RSDP_LEN, 16, &rsdp_gpa);
	xsdt = take(&o, HDR_LEN + 2 * 8, 16, &xsdt_gpa);
	fadt = take(&o, FADT_LEN, 16, &fadt_gpa);
	facs = take(&o, FACS_LEN, 64, &facs_gpa);
	madt = take(&o, madt_len(cfg->nr_cpus), 16, &madt_gpa);
	dsdt = take(&o, HDR_LEN + aml->n, 16, &dsdt_gpa);
	if (aml->overflow || !rsdp || !xsdt || !fadt || !facs || !madt || !dsdt) {
		err = -ENOSPC;
		goto out;
	}
	header(dsdt, "DSDT", (uint32_t)(HDR_LEN + aml->n), 2);
	memcpy(dsdt + HDR_LEN, aml->b, aml->n);
	finish(dsdt, HDR_LEN + aml->n);
	memcpy(facs, "FACS", 4);
	put(facs + 4, FACS_LEN, 4);
	facs[32] = 2; /* version */
	fadt_fill(fadt, facs_gpa, dsdt_gpa);
	madt_fill(madt, cfg->nr_cpus);
	header(xsdt, "XSDT", HDR_LEN + 2 * 8, 1);
	put(xsdt + HDR_LEN, fadt_gpa, 8);
	put(xsdt + HDR_LEN + 8, madt_gpa, 8);
	finish(xsdt, HDR_LEN + 2 * 8);
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "VMMCOW", 6);
	rsdp[15] = 2; /* revision: ACPI 2.0+, the XSDT */
	put(rsdp + 20, RSDP_LEN, 4);
	put(rsdp + 24, xsdt_gpa, 8);
	rsdp[8] = checksum(rsdp, 20);
	rsdp[32] = checksum(rsdp, RSDP_LEN);
out:
	free(aml);
	return err;
}
