// SPDX-License-Identifier: MIT
/*
 * bench-clone.c: `vmm bench clone` - clones of a guest whose memory is
 * populated, beside fork() of a host process holding the same populated
 * memory, measured in the same run.
 *
 * Cases 64MiB, 256MiB, 1GiB: live clones (the parent runs on) with KVM VMs
 * made on demand, as before the VM pool. Cases template-SIZE and live-SIZE
 * (64 MiB and 1 GiB; -nopool: without the pool):
 *   - template: the parent is paused before the request and stays paused
 *     (fuzzing, serverless); live: it runs and the clone pauses it;
 *   - with the pool, clones take KVM VMs made ahead (vm_pool, of `vmm run`'s
 *     default size), full when each measurement starts; a burst larger than
 *     the pool makes the rest on demand.
 * Metrics:
 *   - clone_ms: the request to the child's vCPUs started (vm__start
 *     returned: its thread enters KVM_RUN);
 *   - parent_pause_ms: how long the capture held the parent (vCPU state
 *     saved, memory cloned);
 *   - idle_clone_host_kib: host memory an idle clone adds (it runs 20 ms):
 *     guest frames, the VMM's anonymous memory, page tables; beside a full
 *     copy;
 *   - clones_per_s: BURST clones from one capture, started; beside forks/s.
 * 4 GiB and 16 GiB are not offered: guest RAM tops out at 3 GiB (one
 * memory slot below the MMIO window). Medians of repeated runs.
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
#define POOL_WAIT_MS 10000

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
static int clone_n(struct vm *parent, struct vm_pool *pool, unsigned n, struct vm **kids,
		   double *ret_s, uint64_t *ret_pause_ns)
{
	struct vm_clone_config cc = {.serial_fd = -1, .vm_pool = pool};
	struct vm_capture *cap;
	double t0 = bench_now_s();
	unsigned made = 0;
	int err;

	vm_pool__hold(pool); /* as vmm run does: no VM made beside the clones */
	err = vm__capture(parent, n, 0, &cap, ret_pause_ns);
	if (err) {
		vm_pool__release(pool);
		return err;
	}
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
	vm_pool__release(pool);
	vm_capture__free(cap);
	while (err && made--)
		vm__destroy(kids[made]);
	return err;
}

struct clone_figures {
	double lat[16], pause[16], idle[16], rate[16];
};

/* Clones and their ends, destroyed; the pool full again (0 if it cannot be). */
static void settle(struct vm **kids, unsigned n, struct vm_pool *pool)
{
	for (unsigned i = 0; i < n; i++)
		vm__destroy(kids[i]);
	vm__reap_wait(); /* their fds closed: no close in the next measurement */
	if (pool && vm_pool__wait(pool, POOL_WAIT_MS))
		(void)0; /* a pool that cannot fill: the clones make their VMs, as measured */
}

/* One clone, then BURST clones, @reps times: live, or from a parent kept paused. */
static int measure(struct vm *parent, bool template, struct vm_pool *pool, unsigned reps,
		   struct clone_figures *f)
{
	int err = 0;

	settle(NULL, 0, pool);
	if (template)
		vm__pause(parent);
	for (unsigned r = 0; r < reps && !err; r++) {
		struct vm *kids[BURST];
		uint64_t pause_ns;
		double s, before = host_kib(parent);

		err = clone_n(parent, pool, 1, kids, &s, &pause_ns);
		if (err)
			break;
		f->lat[r] = s * 1e3;
		f->pause[r] = (double)pause_ns / 1e6;
		clock_sleep_ms(20);
		f->idle[r] = host_kib(parent) - before;
		settle(kids, 1, pool);
		err = clone_n(parent, pool, BURST, kids, &s, &pause_ns);
		if (err)
			break;
		f->rate[r] = BURST / s;
		settle(kids, BURST, pool);
	}
	if (template)
		vm__resume(parent);
	return err;
}

static void emit(struct bench_out *o, const char *c, struct clone_figures *f, unsigned reps,
		 const struct fork_figures *fk, uint64_t mem)
{
	bench_out__time(o, c, "clone_ms", bench_guest__median(f->lat, reps), "fork_ms", fk->fork_ms);
	bench_out__time(o, c, "parent_pause_ms", bench_guest__median(f->pause, reps), "fork_ms",
			fk->fork_ms);
	bench_out__time(o, c, "idle_clone_host_kib", bench_guest__median(f->idle, reps),
			"full_copy_kib", (double)(mem >> 10));
	bench_out__rate(o, c, "clones_per_s", bench_guest__median(f->rate, reps), "forks_per_s",
			fk->forks_per_s);
}

/* The modes a size is measured in: the rows before the pool, then the cases. */
enum { OLD_LIVE, TEMPLATE, TEMPLATE_NOPOOL, LIVE, LIVE_NOPOOL, NR_MODES };

static int bench_size(struct bench_out *o, uint64_t mem, unsigned reps, bool modes)
{
	static const char *const prefix[NR_MODES] = {"", "template-", "template-", "live-", "live-"};
	static const char *const suffix[NR_MODES] = {"", "", "-nopool", "", "-nopool"};
	struct vm_pool_config pc = {.size = VM_POOL_DEFAULT, .nr_cpus = 1};
	struct clone_figures f[NR_MODES];
	struct vm_pool *pool = NULL;
	struct fork_figures fk = {0};
	struct bench_guest g;
	unsigned nr = modes ? NR_MODES : 1;
	char sz[16], c[40];
	int err;

	snprintf(sz, sizeof(sz), mem >= (1ULL << 30) ? "%lluGiB" : "%lluMiB",
		 (unsigned long long)(mem >= (1ULL << 30) ? mem >> 30 : mem >> 20));
	err = bench_guest__boot_populated(mem, "hold", &g);
	if (err)
		return err;
	if (modes)
		err = vm_pool__create(&pc, &pool);
	for (unsigned m = 0; m < nr && !err; m++) {
		bool with_pool = m == TEMPLATE || m == LIVE;

		err = measure(g.vm, m == TEMPLATE || m == TEMPLATE_NOPOOL, with_pool ? pool : NULL,
			      reps, &f[m]);
	}
	vm_pool__destroy(pool);
	bench_guest__destroy(&g);
	vm__reap_wait();
	if (!err)
		err = fork_baseline(mem, reps, &fk);
	if (err)
		return err;
	for (unsigned m = 0; m < nr; m++) {
		snprintf(c, sizeof(c), "%s%s%s", prefix[m], sz, suffix[m]);
		emit(o, c, &f[m], reps, &fk, mem);
	}
	return 0;
}

int bench_clone__run(struct bench_out *o, bool quick)
{
	static const uint64_t sizes[] = {64ULL << 20, 256ULL << 20, 1ULL << 30};
	unsigned n = quick ? 2 : 3, reps = quick ? 3 : 7;
	int err = 0;

	bench_out__begin(o, "clone");
	for (unsigned i = 0; i < n && !err; i++)
		err = bench_size(o, sizes[i], reps, sizes[i] != (256ULL << 20));
	bench_out__end(o);
	bench_out__peer(o, "fork of a running VM (clone_ms)",
			"TinyKVM 0.273 ms measured on these machines, 0.146 ms published, "
			"flat in memory size; Xen VM fork 0.7 ms published");
	if (!err) {
		bench_out__note(o, "clone: template-/live- rows: with a pool of %d KVM VMs made "
				"ahead (vmm run's default), full at each measurement's start; -nopool "
				"and the plain size rows: VMs made on demand", VM_POOL_DEFAULT);
		bench_out__note(o, "clone: 4GiB and 16GiB not measured: guest RAM is at most "
				"3 GiB here");
	}
	return err;
}
