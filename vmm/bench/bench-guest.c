// SPDX-License-Identifier: MIT
/* bench-guest.c: the populated guests the benchmarks run (bench-guest.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "bench-guest.h"
#include "bench-median.h"
#include "builtin-guests.h"
#include "memwrite.h"

const struct builtin_guest *bench_guest__image(const char *name)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

double bench_guest__median(double *v, unsigned n)
{
	return bench_median(v, n);
}

double bench_guest__pool_kib(struct vm *vm)
{
	struct mm_stats s;

	mm_pool_stats(vm__pool(vm), &s);
	return (double)s.host_bytes / 1024;
}

/* Wait for one console line (the guest's "memwrite: ..." when the fill is done). */
static int wait_line(int fd, int timeout_ms)
{
	char c;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	for (;;) {
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		if (read(fd, &c, 1) != 1)
			return -EIO;
		if (c == '\n')
			return 0;
	}
}

int bench_guest__boot_populated(uint64_t mem, const char *mode, struct bench_guest *ret_g)
{
	const struct builtin_guest *img = bench_guest__image("memwrite");
	uint64_t mib = (mem - MEMWRITE_BASE - ABI_STACK_SIZE) >> 20;
	struct vm_config cfg = {.mem_size = mem, .nr_cpus = 1};
	struct bench_guest g = {.console = {-1, -1}};
	char args[64];
	int err;

	if (!img || mem <= MEMWRITE_BASE + (2ULL << 20))
		return -EINVAL;
	if (pipe2(g.console, O_CLOEXEC))
		return -errno;
	cfg.serial_fd = g.console[1];
	snprintf(args, sizeof(args), "%llu 1 %s", (unsigned long long)mib, mode);
	err = vm__create(&cfg, &g.vm);
	if (!err)
		err = vm__load_elf(g.vm, img->data, img->size, args, NULL, 0);
	if (!err)
		err = vm__start(g.vm);
	if (!err)
		err = wait_line(g.console[0], 120000);
	if (err) {
		bench_guest__destroy(&g);
		return err;
	}
	*ret_g = g;
	return 0;
}

void bench_guest__destroy(struct bench_guest *g)
{
	vm__destroy(g->vm);
	g->vm = NULL;
	for (int i = 0; i < 2; i++)
		if (g->console[i] >= 0)
			close(g->console[i]);
	g->console[0] = g->console[1] = -1;
}
