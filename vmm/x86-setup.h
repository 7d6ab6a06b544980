/* SPDX-License-Identifier: MIT */
/*
 * x86-setup: the 64-bit machine state the VMM builds for its guests - identity
 * page tables, a GDT with ring-0 and ring-3 segments, a TSS - and the special
 * registers that enter long mode directly, at ring 0 or ring 3.
 *
 * Guest-physical layout of the structures (the low 64 KiB of guest memory
 * belong to the VMM):
 *   0x1000 PML4, 0x2000 PDPT, 0x3000.. page directories (2 MiB pages),
 *   0x0500 GDT, 0x0600 TSS, 0x8000 ring-0 stack top (for the TSS).
 */
#ifndef VMM_X86_SETUP_H
#define VMM_X86_SETUP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_SETUP_RESERVED 0x10000 /* guest bytes below this belong to the VMM */

/* Selectors */
#define X86_SEL_KCODE 0x08
#define X86_SEL_KDATA 0x10
#define X86_SEL_UDATA (0x18 | 3)
#define X86_SEL_UCODE (0x20 | 3)
#define X86_SEL_TSS 0x28

#define X86_RFLAGS_FIXED 0x2
#define X86_RFLAGS_IOPL3 0x3000

/*
 * Write page tables identity-mapping [0, max(@mem_size, 4 GiB)) (2 MiB
 * pages, user accessible: addresses past memory are MMIO), the GDT and the
 * TSS into guest memory @mem. @mem_size must
 * be a multiple of 2 MiB, at least 2 MiB and at most 512 GiB.
 */
int x86_setup__tables(void *mem, uint64_t mem_size);

/* Long-mode special registers: CPL 3 (IOPL set in rflags by the caller) or 0. */
void x86_setup__sregs(struct kvm_sregs *sregs, bool user);

/* Give the vCPU the host's supported CPUID (long mode needs CPUID.LM). */
int x86_setup__cpuid(int kvm_fd, int vcpu_fd);

#endif
