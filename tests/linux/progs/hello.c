/* A static Linux program: hello through printf (stdio, write/writev). */
#include <stdio.h>

int main(void)
{
	printf("hello from a static Linux program: %d + %d = %d\n", 2, 3, 2 + 3);
	return 0;
}
