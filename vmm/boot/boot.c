// SPDX-License-Identifier: MIT
/*
 * boot.c: a Linux kernel onto a VM (boot.h).
 *
 * vmm/boot owns the Linux boot protocol (bzimage.c), the ACPI tables
 * (acpi.c) and this glue. It may call vmm/vm and mm, nothing above.
 * Public: boot.h, bzimage.h, acpi.h.
 *
 * Invariants: boot__load_linux makes every check of boot__check_linux
 * before it writes guest memory; it writes only inside guest RAM, at the
 * layout bzimage.h describes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot.h"
#include "bzimage.h"
#include "mm.h"

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)
#define MIB2 (2ULL << 20)
#define GIB (1ULL << 30)
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x400
#define APIC_MODE_EXTINT 0x700
#define E820_RAM 1
#define E820_RESERVED 2

static int check(const struct boot_linux *cfg, uint64_t mem_size, struct bzimage *bz,
		 struct bzimage_layout *l, char *msg, size_t len)
{
	int err = bzimage__parse(cfg->kernel, cfg->kernel_size, bz, msg, len);

	if (err)
		return err;
	return bzimage__layout(bz, mem_size, cfg->initrd ? cfg->initrd_size : 0,
			       strlen(cfg->cmdline), l, msg, len);
}

int boot__check_linux(const struct boot_linux *cfg, uint64_t mem_size, char *msg, size_t msg_len)
{
	struct bzimage bz;
	struct bzimage_layout l;

	return check(cfg, mem_size, &bz, &l, msg, msg_len);
}

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, sizeof(v));
}

static void add_e820(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

static void write_boot_params(uint8_t *mem, uint64_t mem_size, const struct bzimage *bz,
			      const struct bzimage_layout *l)
{
	struct boot_params *bp = (struct boot_params *)(mem + BOOT_PARAMS_GPA);

	memset(bp, 0, sizeof(*bp));
	bp->hdr = bz->hdr;
	bp->hdr.type_of_loader = 0xff; /* undefined loader */
	bp->hdr.vid_mode = 0xffff;     /* "normal" */
	bp->hdr.loadflags &= (uint8_t)~(KEEP_SEGMENTS | QUIET_FLAG);
	bp->hdr.code32_start = (uint32_t)bz->load_addr;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_GPA;
	bp->hdr.ramdisk_image = (uint32_t)l->initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)l->initrd_size;
	bp->acpi_rsdp_addr = BOOT_ACPI_GPA;
	add_e820(bp, 0, BOOT_LOW_RAM_END, E820_RAM);
	add_e820(bp, BOOT_LOW_RAM_END, 0xa0000 - BOOT_LOW_RAM_END, E820_RESERVED);
	add_e820(bp, BOOT_ACPI_GPA, BOOT_ACPI_END - BOOT_ACPI_GPA, E820_RESERVED);
	add_e820(bp, BOOT_HIGH_RAM, mem_size - BOOT_HIGH_RAM, E820_RAM);
}

/* The boot GDT (__BOOT_CS, __BOOT_DS) and an identity map of the low 4 GiB. */
static void write_tables(uint8_t *mem)
{
	uint64_t pdpt = BOOT_PT_GPA + 0x1000, pd = BOOT_PT_GPA + 0x2000;

	put64(mem, BOOT_GDT_GPA + BOOT_CS, 0x00af9b000000ffffULL); /* 64-bit code */
	put64(mem, BOOT_GDT_GPA + BOOT_DS, 0x00cf93000000ffffULL); /* data */
	put64(mem, BOOT_PT_GPA, pdpt | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++)
		put64(mem, pdpt + i * 8, (pd + i * 0x1000) | PTE_P | PTE_RW);
	for (uint64_t a = 0; a < 4 * GIB; a += MIB2)
		put64(mem, pd + (a / MIB2) * 8, a | PTE_P | PTE_RW | PTE_PS);
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, bool code)
{
	*s = (struct kvm_segment){.base = 0, .limit = 0xffffffff, .selector = sel,
				  .type = code ? 0xb : 0x3, .present = 1, .s = 1, .g = 1,
				  .l = code, .db = !code};
}

/* vCPU 0 at the kernel's 64-bit entry, rsi = boot_params. */
static int setup_bsp(int fd, const struct bzimage *bz)
{
	struct kvm_regs regs = {.rip = bz->load_addr + 0x200, .rsi = BOOT_PARAMS_GPA,
				.rflags = 0x2, .rsp = BOOT_PARAMS_GPA};
	struct kvm_sregs sregs;

	if (ioctl(fd, KVM_GET_SREGS, &sregs))
		return -errno;
	flat_seg(&sregs.cs, BOOT_CS, true);
	flat_seg(&sregs.ds, BOOT_DS, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){.limit = 0x67, .type = 0xb, .present = 1};
	sregs.ldt = (struct kvm_segment){.type = 0x2, .present = 1, .unusable = 1};
	sregs.gdt.base = BOOT_GDT_GPA;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80000011ULL | (1ULL << 5); /* PG, ET, PE, NE */
	sregs.cr3 = BOOT_PT_GPA;
	sregs.cr4 = 1ULL << 5; /* PAE */
	sregs.efer = (1ULL << 8) | (1ULL << 10); /* LME, LMA */
	if (ioctl(fd, KVM_SET_SREGS, &sregs) || ioctl(fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

/* KVM_GET_SUPPORTED_CPUID, grown until it fits; NULL with errno set. */
static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	errno = E2BIG;
	return NULL;
}

/*
 * What Linux reads of its CPU's identity: the APIC id in leaves 1, 0xb,
 * 0x1f and 0x8000001e (KVM reports 0 in all; each vCPU's LAPIC id is its
 * number); the hypervisor bit, without which Linux never looks at KVM's
 * leaves (0x40000000: kvmclock, PV EOI, ...) and calibrates the TSC
 * against a PIT; the TSC deadline timer, which KVM emulates but leaves to
 * userspace to announce.
 */
static void patch_cpuid(struct kvm_cpuid2 *c, unsigned id, bool tsc_deadline)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) {
			e->ebx = (e->ebx & 0x00ffffff) | (id << 24);
			e->ecx |= 1u << 31; /* hypervisor */
			if (tsc_deadline)
				e->ecx |= 1u << 24;
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = id;
		} else if (e->function == 0x8000001e) {
			e->eax = id;
		}
	}
}

/* The LAPIC as a PC BIOS leaves it: LINT0 ExtINT (the 8259), LINT1 NMI. */
static int setup_lapic(int fd)
{
	struct kvm_lapic_state s;
	uint32_t lvt0 = APIC_MODE_EXTINT, lvt1 = APIC_MODE_NMI;

	if (ioctl(fd, KVM_GET_LAPIC, &s))
		return -errno;
	memcpy(s.regs + APIC_LVT0, &lvt0, 4);
	memcpy(s.regs + APIC_LVT1, &lvt1, 4);
	return ioctl(fd, KVM_SET_LAPIC, &s) ? -errno : 0;
}

static int setup_vcpus(struct vm *vm, const struct bzimage *bz, const char **step)
{
	int kvm = vm__kvm_fd(vm), err = 0;
	bool tsc_deadline = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	struct kvm_cpuid2 *base = supported_cpuid(kvm), *c;
	size_t bytes;

	*step = "reading the supported CPUID";
	if (!base)
		return errno ? -errno : -ENOMEM;
	bytes = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	c = malloc(bytes);
	for (unsigned i = 0; c && !err && i < vm__nr_cpus(vm); i++) {
		int fd = vm__vcpu_fd(vm, i);

		memcpy(c, base, bytes);
		patch_cpuid(c, i, tsc_deadline);
		*step = "setting a vCPU's CPUID";
		err = ioctl(fd, KVM_SET_CPUID2, c) ? -errno : 0;
		if (!err) {
			*step = "setting up a vCPU's local APIC";
			err = setup_lapic(fd);
		}
	}
	if (!c)
		err = -ENOMEM;
	if (!err) {
		*step = "setting up vCPU 0's registers";
		err = setup_bsp(vm__vcpu_fd(vm, 0), bz);
	}
	free(c);
	free(base);
	return err;
}

int boot__load_linux(struct vm *vm, const struct boot_linux *cfg, char *msg, size_t msg_len)
{
	struct mm_space *space = vm__space(vm);
	uint8_t *mem = mm_space_hva(space);
	uint64_t mem_size = mm_space_size(space);
	struct acpi_config acfg = {.nr_cpus = vm__nr_cpus(vm), .nr_virtio = cfg->nr_virtio};
	const char *step = "";
	struct bzimage bz;
	struct bzimage_layout l;
	int err;

	err = check(cfg, mem_size, &bz, &l, msg, msg_len);
	if (err)
		return err;
	if (!vm__has_irqchip(vm)) {
		snprintf(msg, msg_len, "KVM has no in-kernel irqchip here: Linux needs one");
		return -ENODEV;
	}
	if (cfg->nr_virtio > ACPI_MAX_VIRTIO)
		return -EINVAL;
	memcpy(acfg.virtio, cfg->virtio, cfg->nr_virtio * sizeof(cfg->virtio[0]));
	memcpy(mem + bz.load_addr, bz.kernel, bz.kernel_size);
	if (l.initrd_size)
		memcpy(mem + l.initrd_gpa, cfg->initrd, l.initrd_size);
	memcpy(mem + BOOT_CMDLINE_GPA, cfg->cmdline, l.cmdline_len + 1);
	write_boot_params(mem, mem_size, &bz, &l);
	write_tables(mem);
	err = acpi__build(mem + BOOT_ACPI_GPA, BOOT_ACPI_GPA, BOOT_ACPI_END - BOOT_ACPI_GPA, &acfg);
	step = "building the ACPI tables";
	if (!err)
		err = setup_vcpus(vm, &bz, &step);
	if (!err) {
		step = "setting up the PC platform's ports";
		err = vm__set_pc_platform(vm);
	}
	if (err)
		snprintf(msg, msg_len, "%s: %s", step, strerror(-err));
	return err;
}
