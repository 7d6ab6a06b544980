/*
 * sysbench: a static Linux program (gcc -static, glibc) that times one
 * kind of work from the inside and prints "sysbench MODE N NS" on stdout:
 * NS nanoseconds of CLOCK_MONOTONIC for N rounds.
 *
 *   getpid N     N getpid() calls: a system call the VMM answers alone
 *   write N      N 64-byte write(2, ...) calls: the VMM writes to a host fd
 *   clock N      N clock_gettime() calls (the host: the vDSO)
 *   compute N    N rounds of a compression-like kernel over 8 MiB of malloc'd
 *                memory (LZ-style match search with a hash table, then a
 *                checksum): CPU and memory, few system calls
 *
 * `vmm bench syscall` runs it inside a VM and natively on the host (the same
 * ELF, built into the vmm binary as guest "sysbench"), stderr on /dev/null.
 * `vmm run --guest sysbench -- compute 1` runs it by hand.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Text-like input: words from a small vocabulary, so matches exist. */
static void fill(uint8_t *buf, size_t len)
{
	static const char *const words[] = {"guest ", "memory ", "clone ", "frame ", "copy ",
					    "write ", "fault ", "page ", "the ", "of ",
					    "reset ", "snapshot "};
	uint64_t x = 0x9e3779b97f4a7c15u;
	size_t i = 0;

	while (i < len) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const char *w = words[x % 12];
		for (size_t k = 0; w[k] && i < len; k++)
			buf[i++] = (uint8_t)w[k];
	}
}

/* Greedy LZ77 parse with a 64 Ki-entry hash of 4-byte prefixes. */
static uint64_t compress_round(const uint8_t *buf, size_t len, uint32_t *table)
{
	uint64_t out = 0, sum = 0;

	memset(table, 0xff, (1u << 16) * sizeof(*table));
	for (size_t i = 0; i + 4 <= len;) {
		uint32_t v;

		memcpy(&v, buf + i, 4);
		uint32_t h = (v * 2654435761u) >> 16, cand = table[h];
		size_t m = 0;

		table[h] = (uint32_t)i;
		if (cand != UINT32_MAX)
			while (i + m < len && m < 255 && buf[cand + m] == buf[i + m])
				m++;
		if (m >= 4) {
			out += 3;
			sum = sum * 31 + (i - cand) + m;
			i += m;
		} else {
			out++;
			sum = sum * 31 + buf[i];
			i++;
		}
	}
	return out ^ sum;
}

int main(int argc, char **argv)
{
	static const char line[64] = "sysbench: 64 bytes for the host's /dev/null ..............\n";
	uint64_t n, t0, t1, check = 0;
	const char *mode;

	if (argc != 3) {
		fprintf(stderr, "usage: sysbench getpid|write|clock|compute N\n");
		return 2;
	}
	mode = argv[1];
	n = strtoull(argv[2], NULL, 10);
	if (!strcmp(mode, "getpid")) {
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			check += (uint64_t)syscall(SYS_getpid);
		t1 = now_ns();
	} else if (!strcmp(mode, "write")) {
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			check += (uint64_t)write(2, line, sizeof(line));
		t1 = now_ns();
		if (check != n * sizeof(line))
			return 3;
	} else if (!strcmp(mode, "clock")) {
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			check += now_ns() & 1;
		t1 = now_ns();
	} else if (!strcmp(mode, "compute")) {
		size_t len = 8u << 20;
		uint8_t *buf = malloc(len);
		uint32_t *table = malloc((1u << 16) * sizeof(*table));

		if (!buf || !table)
			return 4;
		t0 = now_ns();
		fill(buf, len);
		for (uint64_t i = 0; i < n; i++)
			check += compress_round(buf, len, table);
		t1 = now_ns();
		free(table);
		free(buf);
	} else {
		fprintf(stderr, "sysbench: unknown mode %s\n", mode);
		return 2;
	}
	printf("sysbench %s %llu %llu %llu\n", mode, (unsigned long long)n,
	       (unsigned long long)(t1 - t0), (unsigned long long)(check & 0xffff));
	return 0;
}
