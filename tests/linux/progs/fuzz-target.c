/*
 * A libFuzzer harness for vmm-fuzz-driver.c (a static Linux program under
 * vmm fuzz/afl): "VMM!" compared byte by byte writes through NULL
 * (SIGSEGV), "ABRT" calls abort() (SIGABRT), "HANG" spins; every input
 * also goes through malloc (the heap grows: brk), which a reset must undo
 * together with memory: a run that finds a counter or the break moved by
 * an earlier run aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls; /* memory: a reset sets it back to 0 */
static void *brk_at_init; /* the break at the snapshot point */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	brk_at_init = sbrk(0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy;

	/* A run that sees the previous run's memory or heap: the reset is broken. */
	if (++calls != 1 || sbrk(0) != brk_at_init)
		abort();
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
		if (copy[0] == 'V' && copy[1] == 'M' && copy[2] == 'M' && copy[3] == '!')
			*(volatile int *)0 = 1;
	}
	free(copy);
	return 0;
}
