/*
 * A libFuzzer harness for vmm-fuzz-driver.c (a static Linux program under
 * vmm fuzz/afl): "VMM!" compared byte by byte writes to address 0x10
 * (SIGSEGV), "ABRT" calls abort() (SIGABRT), "HANG" spins. Every run also
 * grows the heap (brk) and maps 64 KiB without giving either back, which a
 * reset must undo with memory, and has the VMM write a page the program
 * never writes itself (uname): a run that finds its counter, the break,
 * the next mapping or that page changed by an earlier run aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static int calls;	  /* memory: a reset sets it back to 0 */
static long brk_at_init;  /* the kernel's break at the snapshot point */
static void *map_at_init; /* where a 64 KiB mapping goes at the snapshot point */
/* A page only the VMM writes (uname): its reset needs the VMM's writes tracked. */
static union {
	struct utsname u;
	char page[4096];
} vmm_written __attribute__((aligned(4096)));

static void *map64k(void)
{
	return mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	brk_at_init = syscall(SYS_brk, 0); /* the kernel's, not libc's cached one */
	map_at_init = map64k();
	munmap(map_at_init, 65536);
	return 0;
}

/* One byte at a time, as real parsers compare: coverage leads a fuzzer there. */
static __attribute__((noinline)) void check_magic(const char *in)
{
	volatile uintptr_t bad = 0x10; /* not a literal NULL, which GCC may drop as UB */

	if (in[0] == 'V')
		if (in[1] == 'M')
			if (in[2] == 'M')
				if (in[3] == '!')
					*(volatile int *)bad = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long brk = syscall(SYS_brk, 0);
	char *map = map64k();
	char *copy;

	if (++calls != 1 || brk != brk_at_init || map != map_at_init || vmm_written.u.sysname[0])
		abort(); /* this run sees an earlier run's memory or process state */
	uname(&vmm_written.u);
	syscall(SYS_brk, brk + 65536);
	map[0] = 1;
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	if (size >= 4) {
		if (!memcmp(copy, "HANG", 4))
			for (;;)
				__asm__ volatile("pause");
		if (!memcmp(copy, "ABRT", 4))
			abort();
		check_magic(copy);
	}
	free(copy);
	return 0;
}
