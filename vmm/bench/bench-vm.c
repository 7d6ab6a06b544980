// SPDX-License-Identifier: MIT
/*
 * bench-vm.c: `vmm bench vm` - what running a guest costs here, each figure
 * beside a host baseline measured in the same run (DESIGN.md "Benchmarks"):
 *   - VM creation to the guest's first instructions (create, load, start,
 *     the guest's exit write seen), beside fork+exec+wait of /bin/true;
 *   - ring-3 loop speed, beside the same loop (bench-loop.h) on the host;
 *   - the exit round trip: a hypercall (MMIO write + register read/write)
 *     and a plain MMIO exit (UART byte), beside a host system call.
 * Per-iteration costs come from two runs of different lengths, so VM
 * creation and teardown cancel out. Medians of repeated runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-loop.h"
#include "bench-median.h"
#include "bench-vm.h"
#include "builtin-guests.h"
#include "vm.h"

#define BENCH_MEM (16ULL << 20)

/* Run the bench guest with @args; seconds from vm__create to the stop. */
static int run_guest(const char *args, double *ret_s)
{
	const struct builtin_guest *g = builtin_guests;
	struct vm_config cfg = {.mem_size = BENCH_MEM, .nr_cpus = 1, .serial_fd = -1};
	struct vm_stop stop;
	struct vm *vm;
	double t0;
	int err;

	while (g->name && strcmp(g->name, "bench"))
		g++;
	if (!g->name)
		return -ENOENT;
	t0 = bench_now_s();
	err = vm__create(&cfg, &vm);
	if (err)
		return err;
	err = vm__load_elf(vm, g->data, g->size, args, NULL, 0);
	if (!err)
		err = vm__start(vm);
	if (!err)
		err = vm__wait(vm, 120000, &stop);
	*ret_s = bench_now_s() - t0;
	if (!err && (stop.reason != VM_STOP_EXIT || stop.status != 0))
		err = -EIO;
	vm__destroy(vm);
	return err;
}

/* Seconds per unit of @mode: (t(n2) - t(n1)) / (n2 - n1), median of @reps. */
static int per_unit(const char *mode, uint64_t n1, uint64_t n2, unsigned reps, double *ret)
{
	double v[16];
	char a1[64], a2[64];
	int err = 0;

	snprintf(a1, sizeof(a1), "%s %llu", mode, (unsigned long long)n1);
	snprintf(a2, sizeof(a2), "%s %llu", mode, (unsigned long long)n2);
	for (unsigned i = 0; i < reps && !err; i++) {
		double t1, t2;

		err = run_guest(a1, &t1);
		if (!err)
			err = run_guest(a2, &t2);
		v[i] = (t2 - t1) / (double)(n2 - n1);
	}
	if (!err)
		*ret = bench_median(v, reps);
	return err;
}

static double spawn_true_s(unsigned reps)
{
	double v[16];

	for (unsigned i = 0; i < reps; i++) {
		double t0 = bench_now_s();
		pid_t pid = fork();

		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
		v[i] = bench_now_s() - t0;
	}
	return bench_median(v, reps);
}

static double host_loop_s(uint64_t n, unsigned reps)
{
	double v[16];
	volatile uint64_t sink;

	for (unsigned i = 0; i < reps; i++) {
		double t0 = bench_now_s();

		sink = bench_loop(n, 88172645463325252ULL);
		v[i] = (bench_now_s() - t0) / (double)n;
	}
	(void)sink;
	return bench_median(v, reps);
}

static double host_syscall_s(unsigned reps)
{
	const unsigned n = 200000;
	double v[16];

	for (unsigned i = 0; i < reps; i++) {
		double t0 = bench_now_s();

		for (unsigned j = 0; j < n; j++)
			syscall(SYS_getppid);
		v[i] = (bench_now_s() - t0) / n;
	}
	return bench_median(v, reps);
}

int bench_vm__run(struct bench_out *o, bool quick)
{
	unsigned reps = quick ? 3 : 9;
	uint64_t loop1 = 1000000, loop2 = quick ? 21000000 : 201000000;
	uint64_t nop1 = 100, nop2 = quick ? 2100 : 20100;
	double v[16], t;
	int err = 0;

	bench_out__begin(o, "vm");
	for (unsigned i = 0; i < reps && !err; i++)
		err = run_guest("exit", &v[i]);
	if (!err)
		bench_out__time(o, "first-exit", "create_to_first_exit_ms", bench_median(v, reps) * 1e3,
		     "fork_exec_true_ms", spawn_true_s(reps) * 1e3);
	if (!err)
		err = per_unit("loop", loop1, loop2, reps, &t);
	if (!err)
		bench_out__time(o, "ring3-loop", "ns_per_iter", t * 1e9, "host_ns_per_iter",
		     host_loop_s(loop2, reps) * 1e9);
	double sys = host_syscall_s(reps);

	if (!err)
		err = per_unit("nop", nop1, nop2, reps, &t);
	if (!err)
		bench_out__time(o, "hypercall", "exit_roundtrip_us", t * 1e6, "host_syscall_us", sys * 1e6);
	if (!err)
		err = per_unit("uart", nop1, nop2, reps, &t);
	if (!err)
		bench_out__time(o, "mmio-exit", "exit_roundtrip_us", t * 1e6, "host_syscall_us", sys * 1e6);
	bench_out__end(o);
	bench_out__peer(o, "VM creation (create_to_first_exit_ms)",
			"TinyKVM 0.335 ms measured on these machines; Firecracker VMM start "
			"8 CPU-ms published");
	return err;
}
