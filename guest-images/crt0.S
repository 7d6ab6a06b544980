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
	.section .note.GNU-stack, "", @progbits
