/*
 * malloc-heavy: small blocks (brk), large blocks (mmap), realloc growing
 * through both, free and reuse; every block keeps its pattern.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2000

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

int main(void)
{
	static unsigned char *blk[N];
	static size_t len[N];
	unsigned long sum = 0;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < N; i++) {
			len[i] = (i % 97 == 0) ? (size_t)(256 << 10) + (size_t)i : (size_t)(16 + (i * 37) % 3000);
			blk[i] = malloc(len[i]);
			if (!blk[i])
				return 10;
			fill(blk[i], len[i], (unsigned)(i + round));
		}
		for (int i = 0; i < N; i += 2) {
			size_t nl = len[i] * 3 + 1000000 * (i % 500 == 0);
			unsigned char *q = realloc(blk[i], nl);

			if (!q || !check(q, len[i], (unsigned)(i + round)))
				return 11;
			blk[i] = q;
			fill(q, nl, (unsigned)(i + round));
			len[i] = nl;
		}
		for (int i = 0; i < N; i++) {
			if (!check(blk[i], len[i], (unsigned)(i + round)))
				return 12;
			sum += len[i];
			free(blk[i]);
		}
	}
	unsigned char *z = calloc(1, 4 << 20);

	for (size_t i = 0; z && i < (4u << 20); i += 4096)
		if (z[i])
			return 13;
	free(z);
	printf("malloc ok: %lu bytes\n", sum);
	return 0;
}
