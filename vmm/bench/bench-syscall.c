// SPDX-License-Identifier: MIT
/*
 * bench-syscall.c: `vmm bench syscall` - what a static Linux program pays
 * for running in a VM, beside the same program run natively on the host in
 * the same run (DESIGN.md "Benchmarks"). The program is the built-in guest
 * sysbench (guest-images/linux/sysbench.c), one ELF for both sides: it
 * times its own loop with CLOCK_MONOTONIC and prints the figure, so VM
 * creation and process start-up stay out of it.
 *   - getpid: a call the VMM answers without the host (the exit round trip);
 *   - write: 64 bytes to fd 2, which the VMM writes to the host's /dev/null;
 *   - clock: clock_gettime (in the VM an exit; on the host the vDSO);
 *   - compute: a compression-like kernel over 8 MiB (goal: >= 0.95x native).
 * Every system call of a Linux program is served by the VMM (an MMIO exit,
 * vmm/linux/linux-vm.h): none is answered inside the guest yet, so the
 * guest-answered row of issue 14 has nothing to measure. Medians of
 * repeated runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-guest.h"
#include "bench-median.h"
#include "bench-syscall.h"
#include "linux-vm.h"
#include "vm.h"

#define SYSBENCH_MEM (64ULL << 20)
#define MAX_REPS 5

struct mode {
	const char *name;
	unsigned long n, n_quick; /* rounds */
	const char *metric, *baseline;
	double scale;		  /* ns per round -> the metric's unit */
};

static const struct mode modes[] = {
	{"getpid", 20000, 2000, "syscall_ns", "host_syscall_ns", 1},
	{"write", 20000, 2000, "syscall_ns", "host_syscall_ns", 1},
	{"clock", 20000, 2000, "call_ns", "host_vdso_ns", 1},
	{"compute", 10, 2, "run_ms", "host_run_ms", 1e-6},
};

/* Read the program's "sysbench MODE N NS CHECK" line from @fd into ns per round. */
static int read_result(int fd, const struct mode *m, unsigned long n, double *ret_ns)
{
	char buf[256], name[32];
	unsigned long long rn, ns, check;
	size_t len = 0;
	ssize_t r;

	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	if (sscanf(buf, "sysbench %31s %llu %llu %llu", name, &rn, &ns, &check) != 4 ||
	    strcmp(name, m->name) || rn != n)
		return -EPROTO;
	*ret_ns = (double)ns / (double)n;
	return 0;
}

/* The image in a memfd, for fexecve: made once a benchmark run. */
static int image_memfd(const struct builtin_guest *img)
{
	int mfd = memfd_create("sysbench", MFD_CLOEXEC);

	if (mfd < 0)
		return -errno;
	if (write(mfd, img->data, img->size) != (ssize_t)img->size) {
		close(mfd);
		return -EIO;
	}
	return mfd;
}

/* The image natively: fexecve of @mfd (image_memfd), stdout a pipe, stderr /dev/null. */
static int run_native(int mfd, const struct mode *m, unsigned long n, double *ret_ns)
{
	char arg[32];
	int out[2], null, status, err;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%lu", n);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0 || pipe2(out, O_CLOEXEC)) {
		err = -errno;
		if (null >= 0)
			close(null);
		return err;
	}
	pid = fork();
	if (pid == 0) {
		char *const argv[] = {(char *)"sysbench", (char *)m->name, arg, NULL};
		char *const envp[] = {NULL};

		dup2(out[1], 1);
		dup2(null, 2);
		fexecve(mfd, argv, envp);
		_exit(127);
	}
	err = pid < 0 ? -errno : 0;
	close(out[1]);
	close(null);
	if (!err)
		err = read_result(out[0], m, n, ret_ns);
	close(out[0]);
	if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			WEXITSTATUS(status) != 0) && !err)
		err = -EIO;
	return err;
}

/* The image in a VM: console a pipe, the guest's fd 2 the host's /dev/null. */
static int run_vm(const struct builtin_guest *img, const struct mode *m, unsigned long n,
		  double *ret_ns)
{
	char arg[32];
	char *const argv[] = {(char *)"sysbench", (char *)m->name, arg, NULL};
	struct linux_vm_config lc = {.image = img->data, .size = img->size, .argc = 3,
				     .argv = argv};
	struct vm_config cfg = {.mem_size = SYSBENCH_MEM, .nr_cpus = 1};
	struct linux_vm *lv = NULL;
	struct vm_stop stop;
	struct vm *vm = NULL;
	char msg[256];
	int out[2], err;

	snprintf(arg, sizeof(arg), "%lu", n);
	if (pipe2(out, O_CLOEXEC))
		return -errno;
	lc.stderr_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (lc.stderr_fd < 0) {
		err = -errno;
		goto out;
	}
	cfg.serial_fd = out[1];
	err = vm__create(&cfg, &vm);
	if (!err)
		err = linux_vm__load(vm, &lc, &lv, msg, sizeof(msg));
	if (!err)
		err = vm__start(vm);
	if (!err)
		err = vm__wait(vm, 300000, &stop);
	if (!err && (stop.reason != VM_STOP_EXIT || stop.status != 0))
		err = -EIO;
	vm__destroy(vm);
	linux_vm__destroy(lv);
	close(out[1]);
	out[1] = -1;
	if (!err)
		err = read_result(out[0], m, n, ret_ns);
out:
	if (lc.stderr_fd >= 0)
		close(lc.stderr_fd);
	close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	return err;
}

int bench_syscall__run(struct bench_out *o, bool quick)
{
	const struct builtin_guest *img = bench_guest__image("sysbench");
	unsigned reps = quick ? 1 : MAX_REPS;
	int err = 0, mfd;

	if (!img)
		return -ENOENT;
	mfd = image_memfd(img);
	if (mfd < 0)
		return mfd;
	bench_out__begin(o, "syscall");
	for (unsigned i = 0; !err && i < sizeof(modes) / sizeof(modes[0]); i++) {
		const struct mode *m = &modes[i];
		unsigned long n = quick ? m->n_quick : m->n;
		double vm_ns[MAX_REPS], host_ns[MAX_REPS];

		for (unsigned r = 0; !err && r < reps; r++) {
			err = run_vm(img, m, n, &vm_ns[r]);
			if (!err)
				err = run_native(mfd, m, n, &host_ns[r]);
		}
		if (err)
			bench_out__note(o, "syscall: %s: %s", m->name, strerror(-err));
		else
			bench_out__time(o, m->name, m->metric, bench_median(vm_ns, reps) * m->scale,
					m->baseline, bench_median(host_ns, reps) * m->scale);
	}
	close(mfd);
	if (err)
		return err;
	bench_out__end(o);
	bench_out__note(o, "syscall: every call is an exit to the VMM (none is answered in the "
			   "guest); compute's goal: speedup >= 0.95 (native speed)");
	return 0;
}
