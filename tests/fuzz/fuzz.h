/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h: what the fuzz targets (fuzz-*.c) share. Each target defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is
 * linked either with libFuzzer (meson -Dfuzz=true, scripts/fuzz) or with
 * fuzz-main.c, which feeds it the files of its seed corpus once each (the
 * regression tests of `meson test`).
 *
 * A target returns 0 for every input the parser rejects cleanly; a memory
 * error, undefined behaviour, a leak or a broken property (FUZZ_CHECK:
 * what the parser accepted must be what the code after it may rely on)
 * aborts.
 */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * What became of the last input: "" accepted, else why the parser refused
 * it. fuzz-main checks that a seed named bad-* is refused and every other
 * one accepted, so a seed that stops reaching the code behind the checks
 * fails its test.
 */
__attribute__((weak)) char fuzz_reject[512];

#define FUZZ_ACCEPT() (fuzz_reject[0] = '\0')
#define FUZZ_REJECT(...) snprintf(fuzz_reject, sizeof(fuzz_reject), __VA_ARGS__)

#define FUZZ_CHECK(cond, ...)                                                                    \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__,    \
				#cond);                                                          \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

#endif
