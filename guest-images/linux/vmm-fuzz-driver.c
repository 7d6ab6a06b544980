// SPDX-License-Identifier: MIT
/*
 * vmm-fuzz-driver.c: runs a libFuzzer harness (LLVMFuzzerTestOneInput) as a
 * static Linux program under `vmm fuzz` and `vmm afl`. Link it with the
 * harness, compiled with coverage:
 *
 *   gcc -static -O1 -fsanitize-coverage=trace-pc harness.c \
 *       guest-images/linux/vmm-fuzz-driver.c -o target
 *   vmm fuzz --guest ./target --inputs DIR
 *   afl-fuzz -i IN -o OUT -- vmm afl --guest ./target
 *
 * The driver itself is not instrumented (no_sanitize_coverage). Its edge
 * map follows guest-images/guest-cov.c (AFL's classic edges over a hash of
 * each block's address; a static program loads at fixed addresses, so ids
 * are the same in every run). LLVMFuzzerInitialize runs before the
 * snapshot point, once. Outside vmm it reads one input from stdin and runs
 * it, so the same binary replays a crash natively.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm-fuzz.h"

#define NOCOV __attribute__((no_sanitize_coverage))
#define COV_LOG2 16
#define INPUT_MAX (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static uint8_t cov_map[1 << COV_LOG2] __attribute__((aligned(4096)));
static uint64_t cov_prev;
static struct vmm_fuzz_cov cov = {.magic = VMM_COV_MAGIC, .size = sizeof(cov_map)};
static uint8_t input[INPUT_MAX] __attribute__((aligned(4096)));

NOCOV void __sanitizer_cov_trace_pc(void)
{
	uint64_t pc = (uint64_t)__builtin_return_address(0);
	uint64_t cur = (pc * 0x9e3779b97f4a7c15ULL) >> (64 - COV_LOG2);
	uint64_t edge = cur ^ cov_prev;

	cov_map[edge ? edge : 1]++; /* index 0: AFL's "runtime present" byte */
	cov_prev = cur >> 1;
}

NOCOV int main(int argc, char **argv)
{
	long len;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	memset(cov_map, 0, sizeof(cov_map));
	cov_prev = 0;
	cov.gpa = (uint64_t)(uintptr_t)cov_map;
	len = vmm_fuzz_ready(input, sizeof(input), &cov);
	if (len < 0) {
		/* Not under vmm fuzz/afl: one input from stdin. */
		size_t n = 0;
		ssize_t r;

		while (n < sizeof(input) && (r = read(0, input + n, sizeof(input) - n)) > 0)
			n += (size_t)r;
		len = (long)n;
	}
	LLVMFuzzerTestOneInput(input, (size_t)len);
	vmm_fuzz_done(len);
	return 0;
}
