// SPDX-License-Identifier: MIT
/*
 * bench-clone.c: `vmm bench clone` - live clones of a guest whose memory is
 * populated (64 MiB, 256 MiB, 1 GiB), beside fork() of a host process
 * holding the same populated memory, measured in the same run:
 *   - clone latency: the parent paused to the child's vCPUs started;
 *   - the parent's pause (vCPU state saved, memory cloned);
 *   - host memory an idle clone adds (it runs 20 ms): guest frames, the
 *     VMM's anonymous memory, page tables; beside a full copy;
 *   - clones per second (8 at once from one capture), beside forks/s.
 * 4 GiB is not offered: guest RAM tops out at 3 GiB (one memory slot below
 * the MMIO window). Medians of repeated runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-clone.h"
#include "bench-guest.h"
#include "clock.h"

#define BURST 8

struct fork_figures {
	double fork_ms, forks_per_s;
};

/*
 * Host memory in KiB this process holds beyond file mappings: guest frames
 * (the pool's memfd), its anonymous memory and its page tables.
 */
static double host_kib(struct vm *vm)
{
	char line[256];
	double kib = bench_guest__pool_kib(vm);
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long v;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lu kB", &v) == 1 || sscanf(line, "VmPTE: %lu kB", &v) == 1)
			kib += (double)v;
	if (f)
		fclose(f);
	return kib;
}

/* fork() of a process holding @bytes of populated anonymous memory. */
static int fork_baseline(uint64_t bytes, unsigned reps, struct fork_figures *ret)
{
	double v[16], b[16];
	char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return -errno;
	madvise(mem, bytes, MADV_NOHUGEPAGE); /* the guest's memory is 4 KiB pages too */
	memset(mem, 0x5a, bytes);
	for (unsigned r = 0; r < reps; r++) {
		pid_t pids[BURST];
		double t0 = bench_now_s();

		pids[0] = fork();
		if (pids[0] == 0)
			_exit(0);
		v[r] = (bench_now_s() - t0) * 1e3;
		waitpid(pids[0], NULL, 0);
		t0 = bench_now_s();
		for (unsigned i = 0; i < BURST; i++) {
			pids[i] = fork();
			if (pids[i] == 0)
				_exit(0);
		}
		b[r] = BURST / (bench_now_s() - t0);
		for (unsigned i = 0; i < BURST; i++)
			waitpid(pids[i], NULL, 0);
	}
	munmap(mem, bytes);
	ret->fork_ms = bench_guest__median(v, reps);
	ret->forks_per_s = bench_guest__median(b, reps);
	return 0;
}

/* Make @n clones of @parent from one capture and start them; seconds. */
static int clone_n(struct vm *parent, unsigned n, struct vm **kids, double *ret_s,
		   uint64_t *ret_pause_ns)
{
	struct vm_clone_config cc = {.serial_fd = -1};
	struct vm_capture *cap;
	double t0 = bench_now_s();
	unsigned made = 0;
	int err;

	err = vm__capture(parent, n, 0, &cap, ret_pause_ns);
	if (err)
		return err;
	for (; made < n; made++) {
		err = vm__capture_spawn(cap, made, &cc, &kids[made]);
		if (err)
			break;
		err = vm__start(kids[made]);
		if (err) {
			vm__destroy(kids[made]);
			break;
		}
	}
	*ret_s = bench_now_s() - t0;
	vm_capture__free(cap);
	while (err && made--)
		vm__destroy(kids[made]);
	return err;
}

static int bench_size(struct bench_out *o, uint64_t mem, unsigned reps)
{
	double lat[16], pause[16], idle[16], rate[16];
	struct fork_figures fk = {0};
	struct bench_guest g;
	char c[16];
	int err;

	snprintf(c, sizeof(c), mem >= (1ULL << 30) ? "%lluGiB" : "%lluMiB",
		 (unsigned long long)(mem >= (1ULL << 30) ? mem >> 30 : mem >> 20));
	err = bench_guest__boot_populated(mem, "hold", &g);
	if (err)
		return err;
	for (unsigned r = 0; r < reps && !err; r++) {
		struct vm *kids[BURST];
		uint64_t pause_ns;
		double s, before = host_kib(g.vm);

		err = clone_n(g.vm, 1, kids, &s, &pause_ns);
		if (err)
			break;
		lat[r] = s * 1e3;
		pause[r] = (double)pause_ns / 1e6;
		clock_sleep_ms(20);
		idle[r] = host_kib(g.vm) - before;
		vm__destroy(kids[0]);
		err = clone_n(g.vm, BURST, kids, &s, &pause_ns);
		if (err)
			break;
		rate[r] = BURST / s;
		for (unsigned i = 0; i < BURST; i++)
			vm__destroy(kids[i]);
	}
	bench_guest__destroy(&g);
	if (!err)
		err = fork_baseline(mem, reps, &fk);
	if (err)
		return err;
	bench_out__time(o, c, "clone_ms", bench_guest__median(lat, reps), "fork_ms", fk.fork_ms);
	bench_out__time(o, c, "parent_pause_ms", bench_guest__median(pause, reps), "fork_ms",
			fk.fork_ms);
	bench_out__time(o, c, "idle_clone_host_kib", bench_guest__median(idle, reps), "full_copy_kib",
			(double)(mem >> 10));
	bench_out__rate(o, c, "clones_per_s", bench_guest__median(rate, reps), "forks_per_s",
			fk.forks_per_s);
	return 0;
}

int bench_clone__run(struct bench_out *o, bool quick)
{
	static const uint64_t sizes[] = {64ULL << 20, 256ULL << 20, 1ULL << 30};
	unsigned n = quick ? 2 : 3, reps = quick ? 3 : 7;
	int err = 0;

	bench_out__begin(o, "clone");
	for (unsigned i = 0; i < n && !err; i++)
		err = bench_size(o, sizes[i], reps);
	bench_out__end(o);
	if (!err)
		bench_out__note(o, "clone: 4GiB not measured: guest RAM is at most 3 GiB here");
	return err;
}
