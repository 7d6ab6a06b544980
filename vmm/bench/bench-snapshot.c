// SPDX-License-Identifier: MIT
/*
 * bench-snapshot.c: `vmm bench snapshot` - live snapshots of a 256 MiB guest
 * that keeps rewriting its memory (memwrite churn), to a file in $TMPDIR
 * (default /var/tmp), beside the plain way measured in the same run:
 *   - save throughput (MiB of guest memory per second) and the pause the
 *     guest sees, beside a stop-the-world save (pause, write all memory
 *     sequentially, fsync, resume);
 *   - the guest's own speed (pages it rewrites per second) while the live
 *     snapshot is written, beside its speed without one (speedup < 1 is
 *     the slowdown);
 *   - restore throughput (file to a VM ready to run, every page CRC
 *     checked), beside reading the same file into memory;
 *   - case "256MiB-clone": the design not chosen, a COW clone of memory
 *     saved in the background (snapshot.h says why not), same figures.
 * Medians of repeated runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-guest.h"
#include "bench-snapshot.h"
#include "clock.h"
#include "memwrite.h"
#include "snapfile.h"
#include "snapshot.h"
#include "vm-state.h"

#define MEM (256ULL << 20)
#define MIB(x) ((double)(x) / 1048576.0)

static uint64_t counter(struct vm *vm)
{
	return __atomic_load_n((uint64_t *)((uint8_t *)mm_space_hva(vm__space(vm)) +
					    MEMWRITE_COUNTER), __ATOMIC_RELAXED);
}

/* The guest's rewrite rate over @ms, pages per second. */
static double idle_rate(struct vm *vm, unsigned ms)
{
	uint64_t c0 = counter(vm);
	double t0 = bench_now_s();

	clock_sleep_ms(ms);
	return (double)(counter(vm) - c0) / (bench_now_s() - t0);
}

struct live {
	double save_s, pause_s, rate;
};

static int live_snapshot(struct vm *vm, const char *path, struct live *ret)
{
	struct vm_snapshot_stats st;
	struct vm_snapshot *s;
	char msg[300];
	uint64_t c0;
	double t0;
	int err;

	vm__pause(vm);
	err = vm__snapshot_begin(vm, path, &s, msg, sizeof(msg));
	vm__resume(vm);
	if (err) {
		fprintf(stderr, "bench snapshot: %s\n", msg);
		return err;
	}
	c0 = counter(vm);
	t0 = bench_now_s();
	err = vm_snapshot__finish(s, &st, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "bench snapshot: %s\n", msg);
		return err;
	}
	ret->rate = (double)(counter(vm) - c0) / (bench_now_s() - t0);
	ret->save_s = (double)st.save_ns * 1e-9;
	ret->pause_s = (double)st.pause_ns * 1e-9;
	return 0;
}

/*
 * The alternative the VMM did not choose: clone the memory copy-on-write
 * while paused, let the guest run, save the clone in the background, drop
 * it. The guest's writes meanwhile copy pages (extra memory) instead of
 * waiting for the saver.
 */
static int clone_save(struct vm *vm, const char *path, struct live *ret)
{
	const uint64_t batch = 64;
	struct snapfile_writer *w;
	struct vm_state *state = NULL;
	struct mm_space *copy = NULL;
	double t0 = bench_now_s(), t1;
	uint64_t c0;
	int err;

	err = snapfile__create(path, MEM, vm__nr_cpus(vm), &w);
	if (err)
		return err;
	vm__pause(vm);
	err = vm__save_state(vm, &state);
	if (!err)
		err = mm_space_clone(vm__space(vm), 0, &copy);
	vm__resume(vm);
	t1 = bench_now_s();
	c0 = counter(vm);
	for (uint64_t g = 0; !err && g < MEM / MM_PAGE_SIZE; g += batch)
		err = snapfile__write_pages(w, g, (uint8_t *)mm_space_hva(copy) + g * MM_PAGE_SIZE,
					    batch);
	mm_space_destroy(copy);
	if (!err)
		err = snapfile__commit(w, state);
	else
		snapfile__abort(w);
	vm_state__free(state);
	ret->rate = (double)(counter(vm) - c0) / (bench_now_s() - t1);
	ret->save_s = bench_now_s() - t0;
	ret->pause_s = t1 - t0;
	return err;
}

/* Stop the world: pause, write all of memory, fsync, resume; seconds paused. */
static int stopped_save(struct vm *vm, const char *path, double *ret_s)
{
	const uint8_t *mem = mm_space_hva(vm__space(vm));
	double t0 = bench_now_s();
	uint64_t off = 0;
	int fd, err = 0;

	vm__pause(vm);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		err = -errno;
	while (!err && off < MEM) {
		ssize_t n = write(fd, mem + off, MEM - off > (8 << 20) ? (8 << 20) : MEM - off);

		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
		else
			off += (uint64_t)n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	vm__resume(vm);
	*ret_s = bench_now_s() - t0;
	unlink(path);
	return err;
}

static int restore(const char *path, double *ret_s)
{
	struct vm_config cfg = {.serial_fd = -1};
	char msg[300];
	struct vm *vm;
	double t0 = bench_now_s();
	int err = vm__restore_file(path, &cfg, &vm, msg, sizeof(msg));

	*ret_s = bench_now_s() - t0;
	if (err)
		fprintf(stderr, "bench snapshot: %s\n", msg);
	else
		vm__destroy(vm);
	return err;
}

static int read_file(const char *path, double *ret_s)
{
	size_t chunk = 8 << 20;
	char *buf = malloc(chunk);
	double t0 = bench_now_s();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while ((n = read(fd, buf, chunk)) > 0)
		;
	close(fd);
	free(buf);
	*ret_s = bench_now_s() - t0;
	return n < 0 ? -EIO : 0;
}

int bench_snapshot__run(struct bench_out *o, bool quick)
{
	unsigned reps = quick ? 3 : 7;
	double save[16], pause[16], during[16], idle[16], stop[16], rest[16], rd[16];
	double csave[16], cpause[16], cduring[16], cidle[16];
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char path[4096], plain[4096];
	struct bench_guest g;
	bool booted;
	int err;

	snprintf(path, sizeof(path), "%s/vmm-bench-%d.snap", dir, (int)getpid());
	snprintf(plain, sizeof(plain), "%s/vmm-bench-%d.raw", dir, (int)getpid());
	bench_out__begin(o, "snapshot");
	err = bench_guest__boot_populated(MEM, "churn", &g);
	booted = !err;
	for (unsigned r = 0; !err && r < reps; r++) {
		struct live l = {0};

		idle[r] = idle_rate(g.vm, 200);
		err = live_snapshot(g.vm, path, &l);
		if (!err)
			err = stopped_save(g.vm, plain, &stop[r]);
		if (!err)
			err = restore(path, &rest[r]);
		if (!err)
			err = read_file(path, &rd[r]);
		save[r] = l.save_s;
		pause[r] = l.pause_s;
		during[r] = l.rate;
	}
	if (booted)
		bench_guest__destroy(&g);
	/* On a guest of its own: a clone leaves the guest's pages shared, so
	 * every later write faults once - what the chosen design avoids. */
	if (!err)
		err = bench_guest__boot_populated(MEM, "churn", &g);
	booted = !err;
	for (unsigned r = 0; !err && r < reps; r++) {
		struct live c = {0};

		cidle[r] = idle_rate(g.vm, 200);
		err = clone_save(g.vm, plain, &c);
		csave[r] = c.save_s;
		cpause[r] = c.pause_s;
		cduring[r] = c.rate;
	}
	if (booted)
		bench_guest__destroy(&g);
	unlink(path);
	unlink(plain);
	if (!err) {
		double mib = MIB(MEM);

		bench_out__rate(o, "256MiB", "save_mib_per_s", mib / bench_guest__median(save, reps),
				"stopped_save_mib_per_s", mib / bench_guest__median(stop, reps));
		bench_out__time(o, "256MiB", "guest_pause_ms", bench_guest__median(pause, reps) * 1e3,
				"stopped_save_pause_ms", bench_guest__median(stop, reps) * 1e3);
		bench_out__rate(o, "256MiB", "guest_pages_per_s_during_save",
				bench_guest__median(during, reps), "guest_pages_per_s_no_snapshot",
				bench_guest__median(idle, reps));
		bench_out__rate(o, "256MiB-clone", "save_mib_per_s",
				mib / bench_guest__median(csave, reps), "stopped_save_mib_per_s",
				mib / bench_guest__median(stop, reps));
		bench_out__time(o, "256MiB-clone", "guest_pause_ms",
				bench_guest__median(cpause, reps) * 1e3, "stopped_save_pause_ms",
				bench_guest__median(stop, reps) * 1e3);
		bench_out__rate(o, "256MiB-clone", "guest_pages_per_s_during_save",
				bench_guest__median(cduring, reps), "guest_pages_per_s_no_snapshot",
				bench_guest__median(cidle, reps));
		bench_out__rate(o, "256MiB", "restore_mib_per_s",
				mib / bench_guest__median(rest, reps), "read_file_mib_per_s",
				mib / bench_guest__median(rd, reps));
	}
	bench_out__end(o);
	bench_out__peer(o, "live snapshot", "QEMU background-snapshot: over 99% of its write-"
			"protect faults served in under 1 ms, published; Firecracker restore < 8 ms "
			"published");
	return err;
}
