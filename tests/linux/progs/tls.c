/* __thread variables through FS base (arch_prctl(ARCH_SET_FS)). */
#include <stdio.h>

static __thread int counter = 42;
static __thread char buf[64];
static __thread long zero;

int main(void)
{
	for (int i = 0; i < 10; i++)
		counter++;
	buf[0] = 'x';
	if (counter != 52 || zero != 0 || buf[0] != 'x' || buf[1] != 0)
		return 10;
	printf("tls ok: %d %p\n", counter, (void *)&counter);
	return 0;
}
