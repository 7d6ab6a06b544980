/* SPDX-License-Identifier: MIT */
/*
 * x86-setup: the 64-bit machine state the VMM builds for its guests - identity
 * page tables, a GDT with ring-0 and ring-3 segments, a TSS - and the special
 * registers that enter long mode directly, at ring 0 or ring 3.
 *
 * Guest-physical layout of the structures (the low 64 KiB of guest memory
 * belong to the VMM):
 *   0x0500 GDT, 0x0600 TSS, 0x1000 PML4, 0x2000 PDPT, 0x3000-0x6fff page
 *   directories (2 MiB pages, 4 GiB), 0x7000-0x7fff ring-0 stack (top in
 *   the TSS), 0x9000 IDT, 0xa000 exception stubs.
 *
 * Exceptions: the IDT sends vectors 0-31 to ring-0 stubs that push an error
 * code (0 if the CPU gave none), the vector and rax, then write to
 * ABI_CRASH_MMIO and spin. The VMM reads the frame at the vCPU's rsp:
 *   rax, vector, error code, rip, cs, rflags, rsp, ss  (8 bytes each)
 * A fault while delivering (a broken IDT or stack) is a triple fault.
 */
#ifndef VMM_X86_SETUP_H
#define VMM_X86_SETUP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_SETUP_RESERVED 0x10000 /* guest bytes below this belong to the VMM */
#define X86_IDT_GPA 0x9000
#define X86_CRASH_FRAME_WORDS 8

/* Selectors */
#define X86_SEL_KCODE 0x08
#define X86_SEL_KDATA 0x10
#define X86_SEL_UDATA (0x18 | 3)
#define X86_SEL_UCODE (0x20 | 3)
#define X86_SEL_TSS 0x28

#define X86_RFLAGS_FIXED 0x2
#define X86_RFLAGS_IOPL3 0x3000

/*
 * Write page tables identity-mapping [0, 4 GiB) (2 MiB pages, user
 * accessible: addresses past memory are MMIO), the GDT, the TSS, the IDT and
 * its exception stubs into guest memory @mem. @mem_size must be a multiple
 * of 2 MiB, at least 2 MiB and at most 4 GiB. @crash_mmio is the address
 * the stubs write to.
 */
int x86_setup__tables(void *mem, uint64_t mem_size, uint64_t crash_mmio);

/*
 * Process guests (vmm/linux): map the low 2 MiB with 4 KiB pages (a page
 * table at 0x8000), supervisor-only but @user_page (read and execute for
 * ring 3; 0: none) and not present from X86_SETUP_RESERVED on, so a NULL
 * pointer faults and ring 3 cannot reach the VMM's structures. After
 * x86_setup__tables.
 */
void x86_setup__guard_low(void *mem, uint64_t user_page);
/* Bit n set: guest page n (below X86_SETUP_RESERVED) may hold page tables. */
uint64_t x86_setup__table_pages(void);

/*
 * The `syscall` instruction for a process guest: EFER.SCE in @sregs, and
 * the MSRs (STAR with this GDT's selectors, LSTAR = @entry, SFMASK) for
 * KVM_SET_MSRS into @ret_msrs (room for X86_SYSCALL_NR_MSRS entries).
 */
#define X86_SYSCALL_NR_MSRS 5
void x86_setup__syscall(struct kvm_sregs *sregs, uint64_t entry, struct kvm_msr_entry *ret_msrs);

/*
 * XSAVE state for process guests: CR4.OSXSAVE in @sregs and the XCR0 to
 * load (x87, SSE, and AVX / AVX-512 as KVM's supported CPUID allows), or
 * 0 (and CR4 untouched) when the CPU has no XSAVE.
 */
int x86_setup__xsave(int kvm_fd, struct kvm_sregs *sregs, uint64_t *ret_xcr0);

/* Long-mode special registers: CPL 3 (IOPL set in rflags by the caller) or 0. */
void x86_setup__sregs(struct kvm_sregs *sregs, bool user);

/* Give the vCPU the host's supported CPUID (long mode needs CPUID.LM). */
int x86_setup__cpuid(int kvm_fd, int vcpu_fd);

#endif
