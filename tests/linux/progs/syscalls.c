/*
 * An unknown system call (counted, -ENOSYS), threads refused, and hostile
 * pointers: each call gets -EFAULT and the program goes on. Exit 0 when all
 * hold, else the number of the failed check.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static long raw(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

int main(void)
{
	const long bad[] = {
		0x10,			/* the VMM's page tables, GDT */
		0xb000,			/* the syscall stub page */
		0x100000,		/* the guard below 2 MiB */
		1L << 40,		/* past RAM */
		-16L,			/* wraps */
	};

	if (raw(999, 0, 0, 0) != -ENOSYS || raw(1000, 0, 0, 0) != -ENOSYS)
		return 10;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (raw(SYS_write, 1, bad[i], 32) != -EFAULT)
			return 20 + (int)i;
		if (raw(SYS_read, 0, bad[i], 32) != -EFAULT)
			return 30 + (int)i;
		if (raw(SYS_clock_gettime, 0, bad[i], 0) != -EFAULT)
			return 40 + (int)i;
		if (raw(SYS_uname, bad[i], 0, 0) != -EFAULT)
			return 50 + (int)i;
		if (raw(SYS_openat, -100, bad[i], 0) != -EFAULT)
			return 60 + (int)i;
		if (raw(SYS_getrandom, bad[i], 16, 0) != -EFAULT)
			return 70 + (int)i;
	}
	if (raw(SYS_clone, 0x10000 /* CLONE_THREAD */, 0, 0) != -ENOSYS)
		return 80;
	printf("syscalls ok\n");
	return 0;
}
