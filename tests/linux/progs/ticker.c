/*
 * A static Linux program that works in steps and can be cloned between
 * them (test-linux-vm, through the control socket): N steps (argv[1]), each
 * a sum over a heap buffer it rewrites, then a line with its pid, the step
 * and the running sum, then a sleep (argv[2] ms). A clone continues from
 * the clone point with its own pid and the same sums; the last line is
 * "ticker: pid P done sum S".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned steps = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
	unsigned ms = argc > 2 ? (unsigned)atoi(argv[2]) : 50;
	size_t n = 1 << 18;
	uint32_t *buf = malloc(n * sizeof(*buf));
	uint64_t sum = 0;

	if (!buf)
		return 3;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint32_t)i;
	for (unsigned s = 1; s <= steps; s++) {
		struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

		for (size_t i = 0; i < n; i++) {
			buf[i] = buf[i] * 2654435761u + s;
			sum += buf[i] >> 7;
		}
		printf("ticker: pid %d step %u sum %llu\n", (int)getpid(), s, (unsigned long long)sum);
		fflush(stdout);
		nanosleep(&t, NULL);
	}
	printf("ticker: pid %d done sum %llu\n", (int)getpid(), (unsigned long long)sum);
	return 0;
}
