// SPDX-License-Identifier: MIT
/*
 * x86-setup.c: page tables, GDT, TSS and long-mode sregs (see x86-setup.h).
 *
 * Invariants: every structure lies below X86_SETUP_RESERVED; the guest's
 * code may run at CPL 3, so every paging level sets the U/S bit.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "x86-setup.h"

#define PML4_GPA 0x1000
#define PDPT_GPA 0x2000
#define PD_GPA 0x3000
#define GDT_GPA 0x0500
#define TSS_GPA 0x0600
#define TSS_STACK_TOP 0x8000
#define TSS_SIZE 104
#define PD_END 0x7000
#define GUARD_PT_GPA 0x8000 /* the low 2 MiB in 4 KiB pages (process guests) */
#define STUB_GPA 0xa000
#define STUB_SIZE 16
#define NR_EXCEPTIONS 32
#define COMMON_GPA (STUB_GPA + NR_EXCEPTIONS * STUB_SIZE)

/* Vectors for which the CPU pushes an error code. */
#define ERRCODE_VECTORS ((1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | \
			 (1u << 14) | (1u << 17) | (1u << 21) | (1u << 29) | (1u << 30))

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_PS (1ULL << 7)
/*
 * Accessed and dirty set from the start: the CPU (or KVM's shadow MMU)
 * never writes them back into the tables, so running a guest does not
 * write the VMM's pages below X86_SETUP_RESERVED (a fuzz reset checks
 * that, and need not put a page-table page back after every run).
 */
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_OSXSAVE (1ULL << 18)
#define EFER_SCE (1ULL << 0)
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
/* TF, IF, DF, IOPL, NT, AC: cleared on entry, as Linux does. */
#define SYSCALL_RFLAGS_MASK 0x47700ULL
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define GIB (1ULL << 30)
#define MIB2 (2ULL << 20)

static void put64(void *mem, uint64_t gpa, uint64_t val)
{
	memcpy((uint8_t *)mem + gpa, &val, sizeof(val));
}

/* A flat 64-bit code or data descriptor. */
static uint64_t seg_desc(bool code, unsigned dpl)
{
	uint64_t d = 0xffffULL | (0xfULL << 48); /* limit, ignored in 64-bit mode */

	d |= 1ULL << 47;		 /* present */
	d |= 1ULL << 44;		 /* code/data (S) */
	d |= (uint64_t)(dpl & 3) << 45;
	d |= 1ULL << 55;		 /* granularity 4 KiB */
	if (code)
		d |= (0xaULL << 40) | (1ULL << 53); /* execute/read, L */
	else
		d |= (0x2ULL << 40) | (1ULL << 54); /* read/write, D/B */
	return d;
}

/*
 * Exception stubs (ring 0, each STUB_SIZE bytes):
 *   [6a 00]  push $0          (vectors without an error code)
 *   6a VV    push $vector
 *   e9 rel32 jmp common
 * common:
 *   50                    push %rax
 *   48 b8 imm64           movabs $crash_mmio, %rax
 *   89 00                 mov %eax, (%rax)
 *   eb fe                 jmp .
 */
static void write_idt(uint8_t *mem, uint64_t crash_mmio)
{
	static const uint8_t common_head[] = {0x50, 0x48, 0xb8};
	static const uint8_t common_tail[] = {0x89, 0x00, 0xeb, 0xfe};
	uint8_t *c = mem + COMMON_GPA;

	memcpy(c, common_head, sizeof(common_head));
	memcpy(c + sizeof(common_head), &crash_mmio, 8);
	memcpy(c + sizeof(common_head) + 8, common_tail, sizeof(common_tail));
	for (unsigned v = 0; v < NR_EXCEPTIONS; v++) {
		uint64_t gpa = STUB_GPA + v * STUB_SIZE;
		uint8_t *s = mem + gpa;
		unsigned n = 0;

		if (!(ERRCODE_VECTORS & (1u << v))) {
			s[n++] = 0x6a;
			s[n++] = 0;
		}
		s[n++] = 0x6a;
		s[n++] = (uint8_t)v;
		s[n++] = 0xe9;
		int32_t rel = (int32_t)(COMMON_GPA - (gpa + n + 4));

		memcpy(s + n, &rel, 4);
		/* 64-bit interrupt gate, DPL 0, present, kernel code selector. */
		uint64_t lo = (gpa & 0xffff) | (uint64_t)X86_SEL_KCODE << 16 | 0xeULL << 40 |
			      1ULL << 47 | ((gpa >> 16) & 0xffff) << 48;

		put64(mem, X86_IDT_GPA + v * 16, lo);
		put64(mem, X86_IDT_GPA + v * 16 + 8, gpa >> 32);
	}
}

int x86_setup__tables(void *mem, uint64_t mem_size, uint64_t crash_mmio)
{
	/* Map the low 4 GiB, where device MMIO lives. */
	uint64_t map_size = 4 * GIB;
	uint64_t npd = map_size / GIB;

	if (mem_size < MIB2 || mem_size % MIB2 || mem_size > map_size ||
	    PD_GPA + npd * 0x1000 > PD_END)
		return -EINVAL;
	memset(mem, 0, X86_SETUP_RESERVED);
	put64(mem, PML4_GPA, PDPT_GPA | PTE_TABLE);
	for (uint64_t i = 0; i < npd; i++)
		put64(mem, PDPT_GPA + i * 8, (PD_GPA + i * 0x1000) | PTE_TABLE);
	for (uint64_t a = 0; a < map_size; a += MIB2)
		put64(mem, PD_GPA + (a / MIB2) * 8, a | PTE_TABLE | PTE_PS | PTE_D);

	put64(mem, GDT_GPA + 0x08, seg_desc(true, 0));
	put64(mem, GDT_GPA + 0x10, seg_desc(false, 0));
	put64(mem, GDT_GPA + 0x18, seg_desc(false, 3));
	put64(mem, GDT_GPA + 0x20, seg_desc(true, 3));
	/* 64-bit TSS descriptor: two slots. */
	uint64_t tss = TSS_SIZE - 1;

	tss |= (uint64_t)(TSS_GPA & 0xffffff) << 16;
	tss |= 0x9ULL << 40 | 1ULL << 47; /* available 64-bit TSS, present */
	tss |= (uint64_t)((TSS_GPA >> 24) & 0xff) << 56;
	put64(mem, GDT_GPA + 0x28, tss);
	put64(mem, GDT_GPA + 0x30, 0);
	put64(mem, TSS_GPA + 4, TSS_STACK_TOP); /* rsp0 */
	/* I/O map base past the limit: no I/O bitmap, IOPL alone decides. */
	*((uint16_t *)((uint8_t *)mem + TSS_GPA + 102)) = TSS_SIZE;
	write_idt(mem, crash_mmio);
	return 0;
}

uint64_t x86_setup__table_pages(void)
{
	uint64_t mask = 0;

	for (uint64_t a = PML4_GPA; a < PD_END; a += 0x1000)
		mask |= 1ULL << (a >> 12);
	return mask | 1ULL << (GUARD_PT_GPA >> 12);
}

void x86_setup__guard_low(void *mem, uint64_t user_page)
{
	for (uint64_t a = 0; a < MIB2; a += 0x1000) {
		uint64_t pte = 0;

		if (a < X86_SETUP_RESERVED)
			pte = a | PTE_P | PTE_RW | PTE_A | PTE_D;
		if (user_page && a == (user_page & ~0xfffULL))
			pte = a | PTE_P | PTE_US | PTE_A | PTE_D; /* read-only for everyone */
		put64(mem, GUARD_PT_GPA + (a >> 12) * 8, pte);
	}
	put64(mem, PD_GPA, GUARD_PT_GPA | PTE_TABLE);
}

void x86_setup__syscall(struct kvm_sregs *sregs, uint64_t entry, struct kvm_msr_entry *msrs)
{
	/*
	 * sysret loads CS = STAR[63:48] + 16 and SS = STAR[63:48] + 8 (RPL 3):
	 * with 0x10 that is X86_SEL_UCODE and X86_SEL_UDATA.
	 */
	static_assert(X86_SEL_UCODE == ((0x10 + 16) | 3) && X86_SEL_UDATA == ((0x10 + 8) | 3),
		      "sysret selectors");
	sregs->efer |= EFER_SCE;
	msrs[0] = (struct kvm_msr_entry){.index = MSR_STAR,
					 .data = (0x10ULL << 48) | ((uint64_t)X86_SEL_KCODE << 32)};
	msrs[1] = (struct kvm_msr_entry){.index = MSR_LSTAR, .data = entry};
	msrs[2] = (struct kvm_msr_entry){.index = MSR_CSTAR, .data = entry};
	msrs[3] = (struct kvm_msr_entry){.index = MSR_SFMASK, .data = SYSCALL_RFLAGS_MASK};
	msrs[4] = (struct kvm_msr_entry){.index = MSR_FS_BASE, .data = 0};
}

/* KVM_GET_SUPPORTED_CPUID, grown until it fits; NULL with errno set. */
static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	errno = 0;
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));

		if (!cpuid)
			return NULL;
		cpuid->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			return cpuid;
		if (errno != E2BIG) {
			free(cpuid);
			return NULL;
		}
		free(cpuid);
	}
	errno = E2BIG;
	return NULL;
}

int x86_setup__xsave(int kvm_fd, struct kvm_sregs *sregs, uint64_t *ret_xcr0)
{
	struct kvm_cpuid2 *cpuid = supported_cpuid(kvm_fd);
	uint64_t xsave = 0, xcr0 = 0;

	if (!cpuid)
		return errno ? -errno : -ENOMEM;
	for (unsigned i = 0; i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1)
			xsave = e->ecx & (1u << 26);
		if (e->function == 0xd && e->index == 0)
			xcr0 = e->eax | ((uint64_t)e->edx << 32);
	}
	free(cpuid);
	if (!xsave || !(xcr0 & 3)) {
		*ret_xcr0 = 0;
		return 0;
	}
	/* x87 and SSE; AVX on top; AVX-512's three components only together, with AVX. */
	xcr0 &= 0x7 | 0xe0;
	if (!(xcr0 & 4) || (xcr0 & 0xe0) != 0xe0)
		xcr0 &= 0x7;
	sregs->cr4 |= CR4_OSXSAVE;
	*ret_xcr0 = xcr0;
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, bool code, unsigned dpl)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = code ? 0xb : 0x3, /* accessed */
		.present = 1,
		.dpl = dpl,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

void x86_setup__sregs(struct kvm_sregs *sregs, bool user)
{
	unsigned dpl = user ? 3 : 0;

	seg(&sregs->cs, user ? X86_SEL_UCODE : X86_SEL_KCODE, true, dpl);
	seg(&sregs->ds, user ? X86_SEL_UDATA : X86_SEL_KDATA, false, dpl);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr = (struct kvm_segment){
		.base = TSS_GPA, .limit = TSS_SIZE - 1, .selector = X86_SEL_TSS,
		.type = 0xb, /* busy 64-bit TSS */
		.present = 1,
	};
	sregs->ldt = (struct kvm_segment){.type = 0x2, .present = 1, .unusable = 1};
	sregs->gdt.base = GDT_GPA;
	sregs->gdt.limit = 0x37;
	sregs->idt.base = X86_IDT_GPA;
	sregs->idt.limit = NR_EXCEPTIONS * 16 - 1;
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs->cr3 = PML4_GPA;
	sregs->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs->efer = EFER_LME | EFER_LMA;
}

int x86_setup__cpuid(int kvm_fd, int vcpu_fd)
{
	struct kvm_cpuid2 *cpuid = supported_cpuid(kvm_fd);
	int err;

	if (!cpuid)
		return errno ? -errno : -ENOMEM;
	err = ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	return err;
}
