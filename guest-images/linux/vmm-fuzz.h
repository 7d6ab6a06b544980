/* SPDX-License-Identifier: MIT */
/*
 * vmm-fuzz.h: the VMM's fuzzing calls for static Linux programs (header
 * only; vmm/linux/linux.h, LINUX_SYS_VMM). A program under `vmm fuzz` or
 * `vmm afl` calls vmm_fuzz_ready() where each run should start: that is
 * the snapshot point, and every run returns from it with the next input
 * in @buf (its length, or -EINTR when not run by vmm fuzz/afl: no VMM
 * answered, so run normally). vmm_fuzz_done() ends a run; the VM is reset
 * to the snapshot point - memory, registers and the process's descriptors,
 * heap and mappings. @cov, when not NULL, names the edge map the VMM hands
 * to afl-fuzz after each run (guest-images/abi.h, struct abi_fuzz_cov).
 * vmm-fuzz-driver.c wraps a libFuzzer harness with them.
 */
#ifndef VMM_FUZZ_H
#define VMM_FUZZ_H

#include <stdint.h>

#define VMM_SYS_BASE 0x564d4d00L /* LINUX_SYS_VMM */
#define VMM_FUZZ_READY 4	 /* HC_FUZZ_READY */
#define VMM_FUZZ_DONE 5		 /* HC_FUZZ_DONE */
#define VMM_COV_MAGIC 0x564f4346u /* ABI_FUZZ_COV_MAGIC */

struct vmm_fuzz_cov {		 /* struct abi_fuzz_cov */
	uint32_t magic, size;
	uint64_t gpa;
};

static inline long vmm_fuzz_call(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(VMM_SYS_BASE + nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long vmm_fuzz_ready(void *buf, unsigned long max, struct vmm_fuzz_cov *cov)
{
	return vmm_fuzz_call(VMM_FUZZ_READY, (long)buf, (long)max, (long)cov);
}

static inline void vmm_fuzz_done(long result)
{
	vmm_fuzz_call(VMM_FUZZ_DONE, result, 0, 0);
}

#endif
