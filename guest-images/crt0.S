/* SPDX-License-Identifier: MIT */
/*
 * crt0.S: guest entry. The VMM enters here at CPL 3 in 64-bit mode with
 * rdi = memory size, rsi = command line (gpa), rdx = vCPU index,
 * rcx = number of vCPUs, rsp = this vCPU's stack top.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	and $-16, %rsp
	xor %ebp, %ebp
	call guest_start
1:	jmp 1b

/*
 * The boot-ABI marker: an ELF note (owner "vmm-cow", type 1) that tells
 * `vmm run --guest PATH` this is a boot-ABI guest, not a static Linux
 * program (README.md, "Telling a boot-ABI guest from a Linux program").
 */
	.section .note.vmm-cow, "a", @note
	.balign 4
	.long 2f - 1f		/* namesz */
	.long 4f - 3f		/* descsz */
	.long 1			/* type: boot ABI */
1:	.asciz "vmm-cow"
2:	.balign 4
3:	.long 1			/* boot ABI version */
4:
	.section .note.GNU-stack, "", @progbits
