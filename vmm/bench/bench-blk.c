// SPDX-License-Identifier: MIT
/*
 * bench-blk.c: `vmm bench blk` - the blktest guest's disk workload
 * (guest-images/blktest.c "bench": 4 KiB random reads 32 at a time, 1 MiB
 * sequential reads and writes 4 at a time, timed by the guest with
 * HC_TIME_NS) on a virtio-blk disk, three ways in the same run:
 *   - io_uring, O_DIRECT straight into the pinned guest pages (zero copy);
 *   - the same with guest RAM registered as io_uring fixed buffers;
 *   - the baseline: pread/pwrite through a host bounce buffer, one request
 *     at a time, memcpy into/out of the pinned pages (same descriptor, so
 *     O_DIRECT too when the file system has it).
 * Each row is a rate (speedup = ours / baseline), the median of repeated
 * runs taken in alternating order, but the latency rows (4k-randread-qd1:
 * the same random reads one at a time, a time per request, speedup =
 * baseline / ours). The image is a temporary file on the
 * local disk (/var/tmp, else /tmp; $VMM_BENCH_DIR first if set), filled
 * with data so reads hit allocated blocks; where O_DIRECT is refused the
 * disk runs buffered, and a note says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench-blk.h"
#include "bench-median.h"
#include "builtin-guests.h"
#include "dev-blk.h"
#include "vm.h"

#define BENCH_MEM (32ULL << 20)
#define MAX_REPS 9

enum { CFG_URING, CFG_FIXED, CFG_BOUNCE, NR_CFGS };

struct figures {
	double iops, read_mibps, write_mibps;
};

static int fill_image(int fd, uint64_t size)
{
	uint64_t chunk = 1 << 20, *w = malloc(chunk), x = 0x9e3779b97f4a7c15ULL;
	int err = w ? 0 : -ENOMEM;

	for (uint64_t off = 0; !err && off < size; off += chunk) {
		for (uint64_t i = 0; i < chunk / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w[i] = x;
		}
		if (pwrite(fd, w, chunk, (off_t)off) != (ssize_t)chunk)
			err = -EIO;
	}
	free(w);
	return err ? err : fsync(fd) ? -errno : 0;
}

static bool direct_ok(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A filled image of @size in the first directory with O_DIRECT (else the first that works). */
static int make_image(struct bench_out *o, uint64_t size, char *path, size_t len)
{
	const char *dirs[] = {getenv("VMM_BENCH_DIR"), "/var/tmp", "/tmp"};
	char fallback[4096] = "";
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int fd;

		if (!dirs[i])
			continue;
		snprintf(path, len, "%s/vmm-bench-blk-XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		err = fill_image(fd, size);
		close(fd);
		if (!err && direct_ok(path)) {
			if (fallback[0])
				unlink(fallback);
			return 0;
		}
		if (!err && !fallback[0])
			snprintf(fallback, sizeof(fallback), "%s", path);
		else
			unlink(path);
	}
	if (!fallback[0])
		return err;
	snprintf(path, len, "%s", fallback);
	bench_out__note(o, "bench blk: no O_DIRECT where the image could go (%s): both backends "
			"run buffered, through the page cache", path);
	return 0;
}

static const struct builtin_guest *blktest_image(void)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, "blktest"))
			return g;
	return NULL;
}

static int parse_figures(int con, struct figures *f)
{
	char out[2048];
	uint64_t ops, rbytes, wbytes;
	int64_t tr, ts, tw;
	ssize_t n = pread(con, out, sizeof(out) - 1, 0);
	const char *line;

	out[n > 0 ? n : 0] = '\0';
	line = strstr(out, "blkbench: randread");
	if (!line || sscanf(line, "blkbench: randread ops %" SCNu64 " ns %" SCNd64 " seqread bytes %"
			    SCNu64 " ns %" SCNd64 " seqwrite bytes %" SCNu64 " ns %" SCNd64,
			    &ops, &tr, &rbytes, &ts, &wbytes, &tw) != 6 || tr <= 0 || ts <= 0 || tw <= 0)
		return -EIO;
	f->iops = (double)ops / ((double)tr * 1e-9);
	f->read_mibps = (double)rbytes / 1048576.0 / ((double)ts * 1e-9);
	f->write_mibps = (double)wbytes / 1048576.0 / ((double)tw * 1e-9);
	return 0;
}

/* One blktest bench run on a disk over @path configured as @cfg. */
static int run_once(const char *path, int cfg, const char *args, struct figures *f)
{
	struct virtio_blk_opts o = {.path = path, .fixed_buffers = cfg == CFG_FIXED,
				    .backend = cfg == CFG_BOUNCE ? VIRTIO_BLK_BOUNCE : VIRTIO_BLK_URING};
	const struct builtin_guest *img = blktest_image();
	int con = memfd_create("blkbench", MFD_CLOEXEC);
	struct vm_config vc = {.mem_size = BENCH_MEM, .nr_cpus = 1, .serial_fd = con};
	struct virtio_blk *blk = NULL;
	struct vm_stop stop;
	struct vm *vm = NULL;
	char msg[4400];
	int err = img && con >= 0 ? 0 : -ENOENT;

	if (!err)
		err = vm__create(&vc, &vm);
	if (!err) {
		err = dev_blk__attach(vm, &o, &blk, msg, sizeof(msg));
		if (err)
			fprintf(stderr, "vmm bench blk: the disk %s\n", msg);
	}
	if (!err)
		err = vm__load_elf(vm, img->data, img->size, args, NULL, 0);
	if (!err)
		err = vm__start(vm);
	if (!err)
		err = vm__wait(vm, 600000, &stop);
	if (!err && (stop.reason != VM_STOP_EXIT || stop.status))
		err = -EIO;
	if (vm)
		vm__pause(vm);
	virtio_blk__destroy(blk);
	vm__destroy(vm);
	if (!err)
		err = parse_figures(con, f);
	if (con >= 0)
		close(con);
	return err;
}

static double median_of(const struct figures *v, unsigned n, size_t field)
{
	double x[MAX_REPS];

	for (unsigned i = 0; i < n; i++)
		x[i] = *(const double *)((const char *)&v[i] + field);
	return bench_median(x, n);
}

static void rows(struct bench_out *o, struct figures f[NR_CFGS][MAX_REPS],
		 struct figures l[NR_CFGS][MAX_REPS], unsigned reps)
{
	static const struct {
		const char *name;
		int cfg;
	} cases[] = {{"", CFG_URING}, {"-fixed", CFG_FIXED}};
	char c[64];

	for (size_t i = 0; i < 2; i++) {
		const struct figures *v = f[cases[i].cfg], *b = f[CFG_BOUNCE];
		const struct figures *lv = l[cases[i].cfg], *lb = l[CFG_BOUNCE];

		snprintf(c, sizeof(c), "4k-randread%s", cases[i].name);
		bench_out__rate(o, c, "iops", median_of(v, reps, offsetof(struct figures, iops)),
				"bounce_pread_iops", median_of(b, reps, offsetof(struct figures, iops)));
		snprintf(c, sizeof(c), "4k-randread-qd1%s", cases[i].name);
		bench_out__time(o, c, "latency_us",
				1e6 / median_of(lv, reps, offsetof(struct figures, iops)),
				"bounce_pread_latency_us",
				1e6 / median_of(lb, reps, offsetof(struct figures, iops)));
		snprintf(c, sizeof(c), "1m-seqread%s", cases[i].name);
		bench_out__rate(o, c, "mib_per_s",
				median_of(v, reps, offsetof(struct figures, read_mibps)),
				"bounce_pread_mib_per_s",
				median_of(b, reps, offsetof(struct figures, read_mibps)));
		snprintf(c, sizeof(c), "1m-seqwrite%s", cases[i].name);
		bench_out__rate(o, c, "mib_per_s",
				median_of(v, reps, offsetof(struct figures, write_mibps)),
				"bounce_pwrite_mib_per_s",
				median_of(b, reps, offsetof(struct figures, write_mibps)));
	}
}

int bench_blk__run(struct bench_out *o, bool quick)
{
	unsigned reps = quick ? 3 : 5;
	uint64_t size = (quick ? 64ULL : 256ULL) << 20;
	const char *args = quick ? "bench 2000 32 32" : "bench 20000 256 32";
	const char *qd1 = quick ? "bench 500 1 1" : "bench 4000 1 1";
	static struct figures f[NR_CFGS][MAX_REPS], l[NR_CFGS][MAX_REPS];
	char path[4096];
	int err;

	err = make_image(o, size, path, sizeof(path));
	if (err)
		return err;
	bench_out__begin(o, "blk");
	for (unsigned r = 0; r < reps && !err; r++)
		for (int k = 0; k < NR_CFGS && !err; k++) {
			int cfg = r % 2 ? NR_CFGS - 1 - k : k; /* alternate the order */

			err = run_once(path, cfg, args, &f[cfg][r]);
			if (!err) /* one request at a time: latency */
				err = run_once(path, cfg, qd1, &l[cfg][r]);
		}
	if (!err)
		rows(o, f, l, reps);
	bench_out__end(o);
	unlink(path);
	return err;
}
