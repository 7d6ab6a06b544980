/* A NULL dereference: the VMM reports a crash with SIGSEGV. */
#include <stdio.h>

int main(int argc, char **argv)
{
	volatile int *p = (volatile int *)(long)(argc - 1);

	(void)argv;

	printf("about to dereference NULL\n");
	fflush(stdout);
	*p = 1;
	return 0;
}
