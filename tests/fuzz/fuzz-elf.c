// SPDX-License-Identifier: MIT
/*
 * fuzz-elf: the ELF loader (vmm/vm/elf-load.c) on any bytes, loading into
 * a 512 KiB guest whose segments must lie in [64 KiB, 512 KiB) (the
 * reserved low memory of the boot ABI below that).
 *
 * Properties, beyond no memory error or UB (ASan sees a write past the
 * guest: it is a heap buffer of exactly that size):
 *  - a rejected image leaves guest memory untouched and has a message;
 *  - a loaded one has its entry point inside [lo, hi) and left the
 *    memory below lo untouched.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "abi.h"
#include "elf-load.h"
#include "fuzz.h"

#define MEM (512u << 10)
#define LO ABI_RESERVED
#define CANARY 0xa5

static uint8_t *mem;
static bool dirty = true; /* mem is not all CANARY */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	mem = malloc(MEM);
	if (!mem)
		abort();
	return 0;
}

/* [from, to) is all CANARY; memcmp a page at a time, byte loops are slow under ASan. */
static void check_untouched(size_t from, size_t to)
{
	static uint8_t canary[4096];

	if (!canary[0])
		memset(canary, CANARY, sizeof(canary));
	for (size_t off = from; off < to; off += sizeof(canary)) {
		size_t n = to - off < sizeof(canary) ? to - off : sizeof(canary);

		if (memcmp(mem + off, canary, n))
			for (size_t i = off; i < off + n; i++)
				FUZZ_CHECK(mem[i] == CANARY, "guest byte 0x%zx written", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_error e = {.msg = ""};
	uint64_t entry = 0;
	int err;

	if (dirty)
		memset(mem, CANARY, MEM);
	err = elf__load(data, size, mem, LO, MEM, &entry, &e);
	if (err) {
		FUZZ_CHECK(err == -ENOEXEC || err == -ERANGE, "error %d", err);
		FUZZ_CHECK(e.msg[0], "rejected without a message");
		FUZZ_CHECK(memchr(e.msg, 0, sizeof(e.msg)), "message not terminated");
		check_untouched(0, MEM);
		dirty = false;
		FUZZ_REJECT("%s", e.msg);
		return 0;
	}
	dirty = true;
	FUZZ_CHECK(entry >= LO && entry < MEM, "entry 0x%llx outside guest memory",
		   (unsigned long long)entry);
	check_untouched(0, LO);
	FUZZ_ACCEPT();
	return 0;
}
