// SPDX-License-Identifier: MIT
/*
 * test-snapfile: the snapshot file format (snapfile.h), suite vmm.
 *
 * One good snapshot is written per run (2 vCPUs, 8 MiB, pages from two
 * racing threads in random order); each rejection test copies it into
 * memory, breaks one thing, writes it back and checks the error code and
 * message. Everything lives in a fresh directory under /tmp.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "snapfile.h"

#define PG 4096u
#define MEM (8u << 20)
#define NPAGES (MEM / PG)

static char dir[64];
static char good[128];
static struct vm_state *good_state;
static unsigned seed;

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Patterns */

static void fill(void *p, size_t n, unsigned seed_byte)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed_byte + i * 7 + (i >> 8));
}

static struct vm_state *make_state(unsigned nr_cpus, unsigned salt)
{
	struct vm_state *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	st->nr_cpus = nr_cpus;
	st->cpus = calloc(nr_cpus, sizeof(st->cpus[0]));
	assert_non_null(st->cpus);
	st->has_irqchip = true;
	st->has_pit = salt & 1;
	fill(st->chips, sizeof(st->chips), salt + 1);
	fill(&st->pit, sizeof(st->pit), salt + 2);
	fill(&st->clock, sizeof(st->clock), salt + 3);
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct vcpu_state *c = &st->cpus[i];
		unsigned nmsrs = 10 + 3 * i, s = salt + 16 * (i + 1);

		fill(&c->regs, sizeof(c->regs), s + 1);
		fill(&c->sregs, sizeof(c->sregs), s + 2);
		fill(&c->xcrs, sizeof(c->xcrs), s + 3);
		fill(&c->lapic, sizeof(c->lapic), s + 4);
		fill(&c->events, sizeof(c->events), s + 5);
		fill(&c->mp, sizeof(c->mp), s + 6);
		fill(&c->debugregs, sizeof(c->debugregs), s + 7);
		c->has_xcrs = i % 2 == 0;
		c->has_lapic = i % 2 == 1;
		c->parked = i % 2 == 0;
		/* Allocated as vm-state.c does, so vm_state__free frees them. */
		c->xsave_size = sizeof(struct kvm_xsave) + 64 * i;
		c->xsave = calloc(1, c->xsave_size);
		c->msrs = calloc(1, sizeof(*c->msrs) + nmsrs * sizeof(struct kvm_msr_entry));
		assert_non_null(c->xsave);
		assert_non_null(c->msrs);
		fill(c->xsave, c->xsave_size, s + 8);
		c->msrs->nmsrs = nmsrs;
		fill(c->msrs->entries, nmsrs * sizeof(struct kvm_msr_entry), s + 9);
	}
	return st;
}

static void assert_state_equal(const struct vm_state *a, const struct vm_state *b)
{
	assert_int_equal(a->nr_cpus, b->nr_cpus);
	assert_int_equal(a->has_irqchip, b->has_irqchip);
	assert_int_equal(a->has_pit, b->has_pit);
	assert_memory_equal(a->chips, b->chips, sizeof(a->chips));
	assert_memory_equal(&a->pit, &b->pit, sizeof(a->pit));
	assert_memory_equal(&a->clock, &b->clock, sizeof(a->clock));
	for (unsigned i = 0; i < a->nr_cpus; i++) {
		const struct vcpu_state *x = &a->cpus[i], *y = &b->cpus[i];

		assert_memory_equal(&x->regs, &y->regs, sizeof(x->regs));
		assert_memory_equal(&x->sregs, &y->sregs, sizeof(x->sregs));
		assert_memory_equal(&x->xcrs, &y->xcrs, sizeof(x->xcrs));
		assert_memory_equal(&x->lapic, &y->lapic, sizeof(x->lapic));
		assert_memory_equal(&x->events, &y->events, sizeof(x->events));
		assert_memory_equal(&x->mp, &y->mp, sizeof(x->mp));
		assert_memory_equal(&x->debugregs, &y->debugregs, sizeof(x->debugregs));
		assert_int_equal(x->has_xcrs, y->has_xcrs);
		assert_int_equal(x->has_lapic, y->has_lapic);
		assert_int_equal(x->parked, y->parked);
		assert_int_equal(x->xsave_size, y->xsave_size);
		assert_memory_equal(x->xsave, y->xsave, x->xsave_size);
		assert_int_equal(x->msrs->nmsrs, y->msrs->nmsrs);
		assert_memory_equal(x->msrs->entries, y->msrs->entries,
				    x->msrs->nmsrs * sizeof(struct kvm_msr_entry));
	}
}

/*
 * Page gfn of the good snapshot: every 5th never written, every 3rd zero
 * (passed as NULL or as zero bytes), the rest a pattern naming the gfn.
 */
static bool page_written(uint64_t gfn)
{
	return gfn % 5 != 4;
}

static const void *page_data(uint64_t gfn, uint64_t *buf)
{
	memset(buf, 0, PG);
	if (gfn % 3 == 0)
		return gfn % 2 ? NULL : buf;
	for (unsigned i = 0; i < PG / 8; i++)
		buf[i] = gfn * 0x9e3779b97f4a7c15ull + i;
	return buf;
}

/* Writing from two threads */

struct racer {
	struct snapfile_writer *w;
	unsigned rng;
	unsigned ok, dup;
};

/* Each racer offers every page in its own random order; the first one wins. */
static void *race(void *arg)
{
	struct racer *r = arg;
	uint64_t *order = malloc(NPAGES * sizeof(*order)), buf[PG / 8];

	assert_non_null(order);
	for (uint64_t g = 0; g < NPAGES; g++)
		order[g] = g;
	for (uint64_t i = NPAGES - 1; i > 0; i--) {
		uint64_t j = (uint64_t)rand_r(&r->rng) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint64_t i = 0; i < NPAGES; i++) {
		uint64_t g = order[i];
		int err;

		if (!page_written(g))
			continue;
		err = snapfile__write_page(r->w, g, page_data(g, buf));
		if (err == 0)
			r->ok++;
		else if (err == -EEXIST)
			r->dup++;
		else
			fail_msg("write_page(%ju): %d", (uintmax_t)g, err);
	}
	free(order);
	return NULL;
}

static unsigned count_written(void)
{
	unsigned n = 0;

	for (uint64_t g = 0; g < NPAGES; g++)
		n += page_written(g);
	return n;
}

static void write_good(const char *path, const struct vm_state *st)
{
	struct racer r[2] = {{.rng = seed}, {.rng = seed * 31 + 7}};
	struct snapfile_writer *w = NULL;
	pthread_t t[2];

	assert_int_equal(snapfile__create(path, MEM, st->nr_cpus, &w), 0);
	for (int i = 0; i < 2; i++) {
		r[i].w = w;
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(r[0].ok + r[1].ok, count_written());
	assert_int_equal(r[0].dup + r[1].dup, count_written());
	assert_true(snapfile_writer__bytes(w) == (uint64_t)count_written() * PG);
	assert_int_equal(snapfile__commit(w, st), 0);
}

/* Files */

static uint8_t *load_file(const char *path, size_t *ret_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*ret_size = (size_t)st.st_size;
	return buf;
}

static void store_file(const char *path, const void *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
}

static unsigned count_dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static struct snapfile_header get_header(const uint8_t *file)
{
	struct snapfile_header h;

	memcpy(&h, file, sizeof(h));
	return h;
}

/* Store @h with a correct header CRC, so the check under test is another. */
static void put_header(uint8_t *file, struct snapfile_header h)
{
	h.header_crc = 0;
	h.header_crc = snapfile__crc32(0, &h, sizeof(h));
	memcpy(file, &h, sizeof(h));
}

/* After editing the state section: make its CRC (and the header's) right again. */
static void fix_state_crc(uint8_t *file)
{
	struct snapfile_header h = get_header(file);

	h.state_crc = snapfile__crc32(0, file + h.state_off, h.state_len);
	put_header(file, h);
}

/* The state record of @type (and vCPU @index for SNAPFILE_REC_VCPU). */
static struct snapfile_record *find_record(uint8_t *file, uint32_t type, uint32_t index)
{
	struct snapfile_header h = get_header(file);

	for (uint64_t off = 0; off < h.state_len;) {
		struct snapfile_record *r = (void *)(file + h.state_off + off);
		struct snapfile_vcpu_v1 v;

		if (r->type == type && type == SNAPFILE_REC_VM)
			return r;
		memcpy(&v, r + 1, sizeof(v));
		if (r->type == type && v.index == index)
			return r;
		off += sizeof(*r) + r->length;
	}
	fail_msg("no record of type %u", type);
	return NULL;
}

static void expect_open_fail(const char *path, int err, const char *substr)
{
	struct snapfile *sf = (void *)0x1;
	char msg[256] = "";

	assert_int_equal(snapfile__open(path, &sf, msg, sizeof(msg)), err);
	assert_ptr_equal(sf, (void *)0x1); /* untouched on failure */
	print_message("rejected (%d): %s\n", err, msg);
	if (!strstr(msg, substr))
		fail_msg("message \"%s\" lacks \"%s\"", msg, substr);
	assert_non_null(strstr(msg, path));
}

/* Store a mutated copy of the good file as "bad.vmm" and expect open to fail. */
static void expect_bad(uint8_t *file, size_t size, int err, const char *substr)
{
	char bad[128];

	path_in_dir(bad, sizeof(bad), "bad.vmm");
	store_file(bad, file, size);
	expect_open_fail(bad, err, substr);
	unlink(bad);
}

/* Tests */

static void test_crc32(void **state)
{
	static const char s[] = "123456789";
	uint8_t big[1000];

	assert_int_equal(snapfile__crc32(0, s, 9), 0xcbf43926);
	assert_int_equal(snapfile__crc32(0, s, 0), 0);
	fill(big, sizeof(big), 5);
	/* Incremental at odd splits equals one pass (alignment paths). */
	assert_int_equal(snapfile__crc32(snapfile__crc32(0, big, 13), big + 13, sizeof(big) - 13),
			 snapfile__crc32(0, big, sizeof(big)));
	assert_int_equal(snapfile__crc32(0, big + 3, 1), snapfile__crc32(0, big + 3, 1));
}

static void test_roundtrip(void **state)
{
	struct snapfile *sf = NULL;
	char msg[256] = "";
	uint64_t buf[PG / 8];
	uint8_t *mem;
	struct stat st;

	assert_int_equal(snapfile__open(good, &sf, msg, sizeof(msg)), 0);
	assert_true(snapfile__mem_size(sf) == MEM);
	assert_int_equal(snapfile__nr_cpus(sf), 2);
	assert_state_equal(snapfile__state(sf), good_state);
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(snapfile__load_memory(sf, mem, msg, sizeof(msg)), 0);
	for (uint64_t g = 0; g < NPAGES; g++) {
		memset(buf, 0, PG);
		if (page_written(g))
			page_data(g, buf); /* fills buf, also for a page passed as NULL */
		if (memcmp(mem + g * PG, buf, PG))
			fail_msg("page %ju differs", (uintmax_t)g);
	}
	munmap(mem, MEM);
	snapfile__close(sf);
	snapfile__close(NULL);
	/* Zero pages are holes; only the snapshot is left in the directory. */
	assert_int_equal(stat(good, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size * 3 / 4);
	assert_int_equal(count_dir_entries(), 1);
}

static void test_reject_open(void **state)
{
	char path[128];

	path_in_dir(path, sizeof(path), "missing.vmm");
	expect_open_fail(path, -ENOENT, "No such file");
	path_in_dir(path, sizeof(path), "empty.vmm");
	store_file(path, "", 0);
	expect_open_fail(path, -EINVAL, "empty file");
	unlink(path);
	expect_open_fail(dir, -EINVAL, "not a regular file");
}

static void test_reject_header(void **state)
{
	size_t size;
	uint8_t *file = load_file(good, &size);
	struct snapfile_header h = get_header(file), m;

	file[0] ^= 0x20;
	expect_bad(file, size, -EINVAL, "not a vmm snapshot (bad magic)");
	file[0] ^= 0x20;
	expect_bad(file, 5, -EINVAL, "bad magic");

	m = h;
	m.version = 7; /* checked before the header CRC */
	memcpy(file, &m, sizeof(m));
	expect_bad(file, size, -ENOTSUP, "version 7 not supported (this vmm reads version 1)");

	m = h;
	m.header_crc ^= 0x100;
	memcpy(file, &m, sizeof(m));
	expect_bad(file, size, -EIO, "header CRC mismatch");
	m = h;
	m.mem_size ^= 1 << 21; /* any bit of the header */
	memcpy(file, &m, sizeof(m));
	expect_bad(file, size, -EIO, "header CRC mismatch");

	m = h;
	m.mem_size = 2 * MEM;
	put_header(file, m);
	expect_bad(file, size, -EINVAL, "mem_size 16777216 but the memory region is 8388608 bytes");

	m = h;
	m.nr_cpus = 65;
	put_header(file, m);
	expect_bad(file, size, -E2BIG, "65 vCPUs over the cap of 64");

	m = h;
	m.flags = 4;
	put_header(file, m);
	expect_bad(file, size, -ENOTSUP, "unknown header flags 0x4");

	m = h;
	m.state_len = 17u << 20;
	put_header(file, m);
	expect_bad(file, size, -E2BIG, "over the 16 MiB cap");

	m = h;
	m.mem_off = h.crc_off; /* overlaps the CRC table */
	put_header(file, m);
	expect_bad(file, size, -EINVAL, "bad region layout");
	free(file);
}

/* Every byte no CRC covers is checked zero: a flip in any padding is rejected. */
static void test_reject_padding(void **state)
{
	size_t size;
	uint8_t *file = load_file(good, &size);
	struct snapfile_header h = get_header(file);
	const uint64_t flips[] = {h.header_size, 96, 2048, SNAPFILE_HEADER_BLOCK - 1,
				  h.crc_off + h.crc_len, h.mem_off - 1};
	uint8_t *longer;

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		/* (The table of a guest of 8 MiB ends on a page: no padding there.) */
		if (flips[i] < h.header_size || (flips[i] >= h.crc_off && flips[i] < h.crc_off +
		    h.crc_len) || flips[i] >= h.mem_off)
			continue;
		file[flips[i]] ^= 0x10;
		expect_bad(file, size, -EINVAL, "is not zero");
		file[flips[i]] ^= 0x10;
	}
	/* Bytes after the state section, even zeros. */
	longer = calloc(1, size + 1);
	assert_non_null(longer);
	memcpy(longer, file, size);
	expect_bad(longer, size + 1, -EINVAL, "1 bytes after the state section");
	free(longer);
	free(file);
}

static void test_reject_truncated(void **state)
{
	size_t size;
	uint8_t *file = load_file(good, &size);
	struct snapfile_header h = get_header(file);
	const uint64_t cuts[] = {h.crc_off + 100, h.mem_off + 12345, h.mem_off + MEM / 2,
				 h.state_off + 10, size - 1};
	char want[128];

	assert_true(size == h.state_off + h.state_len);
	expect_bad(file, 100, -EINVAL, "truncated: 100 bytes, shorter than the 4096-byte header");
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		snprintf(want, sizeof(want), "truncated: %ju bytes, header says at least %zu",
			 (uintmax_t)cuts[i], size);
		expect_bad(file, cuts[i], -EINVAL, want);
	}
	free(file);
}

static void test_reject_state(void **state)
{
	size_t size;
	uint8_t *file = load_file(good, &size);
	struct snapfile_header h = get_header(file);
	struct snapfile_record *r, saved;
	struct snapfile_vcpu_v1 v;

	file[h.state_off + h.state_len / 2] ^= 1;
	expect_bad(file, size, -EIO, "state section CRC mismatch");
	file[h.state_off + h.state_len / 2] ^= 1;

	file[h.crc_off + 8] ^= 1;
	expect_bad(file, size, -EIO, "page CRC table CRC mismatch");
	file[h.crc_off + 8] ^= 1;

	r = find_record(file, SNAPFILE_REC_VM, 0);
	saved = *r;
	r->length = (uint32_t)h.state_len; /* runs past the section */
	fix_state_crc(file);
	expect_bad(file, size, -EINVAL, "runs past the");
	*r = saved;
	r->type = 9;
	fix_state_crc(file);
	expect_bad(file, size, -ENOTSUP, "unknown type 9");
	*r = saved;
	r->version = 2;
	fix_state_crc(file);
	expect_bad(file, size, -ENOTSUP,
		   "VM record at offset 0: version 2, this vmm reads version 1");
	*r = saved;

	r = find_record(file, SNAPFILE_REC_VCPU, 1);
	memcpy(&v, r + 1, sizeof(v));
	v.xsave_size = 99999999;
	memcpy(r + 1, &v, sizeof(v));
	fix_state_crc(file);
	expect_bad(file, size, -E2BIG, "vCPU 1 record: xsave size 99999999 over the 1 MiB cap");
	v.xsave_size = 100;
	memcpy(r + 1, &v, sizeof(v));
	fix_state_crc(file);
	expect_bad(file, size, -EINVAL, "vCPU 1 record: xsave size 100 under");
	memcpy(&v, r + 1, sizeof(v));
	v.xsave_size = (uint32_t)good_state->cpus[1].xsave_size;
	v.nmsrs = 1025;
	memcpy(r + 1, &v, sizeof(v));
	fix_state_crc(file);
	expect_bad(file, size, -E2BIG, "vCPU 1 record: 1025 MSRs over the cap of 1024");
	v.nmsrs = good_state->cpus[1].msrs->nmsrs - 1; /* length no longer matches */
	memcpy(r + 1, &v, sizeof(v));
	fix_state_crc(file);
	expect_bad(file, size, -EINVAL, "its contents need");
	v.nmsrs = good_state->cpus[1].msrs->nmsrs;
	v.index = 0; /* vCPU 0 twice, vCPU 1 never */
	memcpy(r + 1, &v, sizeof(v));
	fix_state_crc(file);
	expect_bad(file, size, -EINVAL, "vCPU 0 record: a second one");
	free(file);
}

/* Load a mutated copy; @punch: make page @gfn a hole in it. */
static void expect_page_fail(uint8_t *file, size_t size, uint64_t gfn, bool punch)
{
	struct snapfile_header h = get_header(file);
	struct snapfile *sf = NULL;
	char bad[128], msg[256] = "", want[64];
	uint8_t *mem = calloc(1, MEM);
	int fd;

	path_in_dir(bad, sizeof(bad), "bad.vmm");
	store_file(bad, file, size);
	if (punch) {
		fd = open(bad, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					   (off_t)(h.mem_off + gfn * PG), PG),
				 0);
		close(fd);
	}
	assert_int_equal(snapfile__open(bad, &sf, msg, sizeof(msg)), 0);
	assert_int_equal(snapfile__load_memory(sf, mem, msg, sizeof(msg)), -EIO);
	snprintf(want, sizeof(want), "page at guest address 0x%jx fails its CRC",
		 (uintmax_t)(gfn * PG));
	print_message("load rejected (-EIO): %s\n", msg);
	if (!strstr(msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", msg, want);
	snapfile__close(sf);
	unlink(bad);
	free(mem);
}

static void test_reject_memory(void **state)
{
	size_t size;
	uint8_t *file = load_file(good, &size);
	struct snapfile_header h = get_header(file);

	/* gfn 1001: patterned data; gfn 1002: written as zeros; gfn 1004: never written. */
	assert_true(page_written(1001) && 1001 % 3);
	assert_true(page_written(1002) && 1002 % 3 == 0 && !page_written(1004));
	file[h.mem_off + 1001 * PG + 17] ^= 0x40;
	expect_page_fail(file, size, 1001, false);
	file[h.mem_off + 1001 * PG + 17] ^= 0x40;
	file[h.mem_off + 1002 * PG + 4095] = 1;
	expect_page_fail(file, size, 1002, false);
	file[h.mem_off + 1002 * PG + 4095] = 0;
	file[h.mem_off + 1004 * PG] = 1;
	expect_page_fail(file, size, 1004, false);
	file[h.mem_off + 1004 * PG] = 0;
	/* A data page that became a hole: the table says it was not zero. */
	expect_page_fail(file, size, 1001, true);
	free(file);
}

static void test_writer_errors(void **state)
{
	struct snapfile_writer *w = (void *)0x1;
	struct vm_state *st = make_state(3, 0);
	uint64_t page[PG / 8];
	char path[128];

	path_in_dir(path, sizeof(path), "w.vmm");
	assert_int_equal(snapfile__create(path, 0, 1, &w), -EINVAL);
	assert_int_equal(snapfile__create(path, 3u << 20, 1, &w), -EINVAL);
	assert_int_equal(snapfile__create(path, 4ull << 30, 1, &w), -EINVAL);
	assert_int_equal(snapfile__create(path, MEM, 0, &w), -EINVAL);
	assert_int_equal(snapfile__create(path, MEM, 65, &w), -E2BIG);
	assert_ptr_equal(w, (void *)0x1);

	assert_int_equal(snapfile__create(path, MEM, 2, &w), 0);
	fill(page, sizeof(page), 3);
	assert_int_equal(snapfile__write_page(w, 5, page), 0);
	assert_int_equal(snapfile__write_page(w, 5, page), -EEXIST);
	assert_int_equal(snapfile__write_page(w, 6, NULL), 0);
	assert_int_equal(snapfile__write_page(w, 6, page), -EEXIST);
	assert_int_equal(snapfile__write_page(w, NPAGES, page), -ERANGE);
	assert_int_equal(snapfile__write_page(w, UINT64_MAX, page), -ERANGE);
	assert_true(snapfile_writer__bytes(w) == 2 * PG);
	assert_int_equal(count_dir_entries(), 2); /* the good file and our temp file */
	snapfile__abort(w);
	snapfile__abort(NULL);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_dir_entries(), 1);

	/* A failed commit (3 vCPUs for a 2-vCPU file) leaves nothing either. */
	assert_int_equal(snapfile__create(path, MEM, 2, &w), 0);
	assert_int_equal(snapfile__write_page(w, 5, page), 0);
	assert_int_equal(snapfile__commit(w, st), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_dir_entries(), 1);
	vm_state__free(st);

	/* xsave over the cap is refused at commit rather than written. */
	st = make_state(1, 0);
	st->cpus[0].xsave_size = SNAPFILE_MAX_XSAVE + 1;
	assert_int_equal(snapfile__create(path, MEM, 1, &w), 0);
	assert_int_equal(snapfile__commit(w, st), -E2BIG);
	st->cpus[0].xsave_size = sizeof(struct kvm_xsave);
	vm_state__free(st);
	assert_int_equal(count_dir_entries(), 1);
}

/* A snapshot never replaces what is not a regular file; nothing is left behind. */
static void test_refuse_special_targets(void **state)
{
	struct snapfile_writer *w = NULL;
	char fifo[128], link[128], sub[128];
	struct stat st;

	path_in_dir(fifo, sizeof(fifo), "fifo");
	path_in_dir(link, sizeof(link), "link");
	path_in_dir(sub, sizeof(sub), "subdir");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink(good, link), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(snapfile__create(fifo, MEM, 1, &w), -EEXIST);
	assert_int_equal(snapfile__create(link, MEM, 1, &w), -EEXIST);
	assert_int_equal(snapfile__create(sub, MEM, 1, &w), -EEXIST);
	assert_int_equal(snapfile__create("/dev/full", MEM, 1, &w), -EEXIST);
	assert_int_equal(lstat("/dev/full", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* Reading a FIFO as a snapshot must not wait for a writer. */
	expect_open_fail(fifo, -EINVAL, "not a regular file");
	assert_int_equal(count_dir_entries(), 4); /* good, fifo, link, subdir: no temp file */
	unlink(fifo);
	unlink(link);
	rmdir(sub);
}

/* A disk too small for the memory fails at create (the guest can be told), not mid-save. */
static void test_disk_full_at_create(void **state)
{
	struct snapfile_writer *w = NULL;
	char mnt[128], path[160];

	path_in_dir(mnt, sizeof(mnt), "small-fs");
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m")) {
		fprintf(stderr, "SKIP: cannot mount a small tmpfs (%s): disk-full case not run\n",
			strerror(errno));
		rmdir(mnt);
		skip();
	}
	snprintf(path, sizeof(path), "%s/x.vmm", mnt);
	assert_int_equal(snapfile__create(path, MEM, 1, &w), -ENOSPC);
	assert_int_equal(umount(mnt), 0);
	assert_int_equal(rmdir(mnt), 0);
}

static void test_replace(void **state)
{
	struct vm_state *st = make_state(1, 100);
	struct snapfile *old = NULL, *sf = NULL;
	struct snapfile_writer *w = NULL;
	uint64_t page[PG / 8];
	char path[128], msg[256] = "";
	uint8_t *mem;

	path_in_dir(path, sizeof(path), "replace.vmm");
	write_good(path, good_state);
	assert_int_equal(snapfile__open(path, &old, msg, sizeof(msg)), 0);

	assert_int_equal(snapfile__create(path, 2u << 20, 1, &w), 0);
	fill(page, sizeof(page), 9);
	assert_int_equal(snapfile__write_page(w, 511, page), 0);
	/* Until the commit, the old file is what is at the path. */
	assert_int_equal(snapfile__open(path, &sf, msg, sizeof(msg)), 0);
	assert_int_equal(snapfile__nr_cpus(sf), 2);
	snapfile__close(sf);
	assert_int_equal(snapfile__commit(w, st), 0);

	assert_int_equal(snapfile__open(path, &sf, msg, sizeof(msg)), 0);
	assert_int_equal(snapfile__nr_cpus(sf), 1);
	assert_true(snapfile__mem_size(sf) == 2u << 20);
	assert_state_equal(snapfile__state(sf), st);
	mem = calloc(1, 2u << 20);
	assert_int_equal(snapfile__load_memory(sf, mem, msg, sizeof(msg)), 0);
	assert_memory_equal(mem + 511 * PG, page, PG);
	free(mem);
	snapfile__close(sf);
	/* The old file, still open, is intact: the new one replaced its name only. */
	assert_int_equal(snapfile__nr_cpus(old), 2);
	mem = calloc(1, MEM);
	assert_int_equal(snapfile__load_memory(old, mem, msg, sizeof(msg)), 0);
	free(mem);
	snapfile__close(old);
	unlink(path);
	vm_state__free(st);
	assert_int_equal(count_dir_entries(), 1);
}

/* The largest guest: 3 GiB, one page written at the very end. */
static void test_max_size(void **state)
{
	const uint64_t size = SNAPFILE_MAX_MEM, last = size / PG - 1;
	struct vm_state *st = make_state(1, 7);
	struct snapfile_writer *w = NULL;
	struct snapfile *sf = NULL;
	char path[128], msg[256] = "";
	uint64_t page[PG / 8];
	uint8_t *mem;

	path_in_dir(path, sizeof(path), "big.vmm");
	assert_int_equal(snapfile__create(path, size, 1, &w), 0);
	fill(page, sizeof(page), 11);
	assert_int_equal(snapfile__write_page(w, last, page), 0);
	assert_int_equal(snapfile__write_page(w, last + 1, page), -ERANGE);
	assert_int_equal(snapfile__commit(w, st), 0);
	assert_int_equal(snapfile__open(path, &sf, msg, sizeof(msg)), 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(snapfile__load_memory(sf, mem, msg, sizeof(msg)), 0);
	assert_memory_equal(mem + last * PG, page, PG);
	munmap(mem, size);
	snapfile__close(sf);
	unlink(path);
	vm_state__free(st);
}

/* Runs of pages: zero pages in a run stay holes; a claimed page rolls the run back. */
static void test_write_pages(void **state)
{
	struct vm_state *st = make_state(1, 9);
	struct snapfile_writer *w = NULL;
	struct snapfile *sf = NULL;
	char path[128], msg[256] = "";
	uint8_t *run = calloc(8, PG), *mem;

	(void)state;
	assert_non_null(run);
	for (unsigned i = 0; i < 8; i++)
		if (i != 2 && i != 5)
			fill(run + i * PG, PG, 20 + i);
	path_in_dir(path, sizeof(path), "runs.vmm");
	assert_int_equal(snapfile__create(path, MEM, 1, &w), 0);
	assert_int_equal(snapfile__write_page(w, 104, run + 4 * PG), 0);
	/* 100..107 overlaps 104: refused, and 100..103 stay free. */
	assert_int_equal(snapfile__write_pages(w, 100, run, 8), -EEXIST);
	assert_int_equal(snapfile__write_pages(w, 100, run, 4), 0);
	assert_int_equal(snapfile__write_pages(w, 105, run + 5 * PG, 3), 0);
	assert_int_equal(snapfile__write_pages(w, NPAGES - 2, run, 3), -ERANGE);
	assert_int_equal(snapfile_writer__bytes(w), 8 * PG);
	assert_int_equal(snapfile__commit(w, st), 0);
	assert_int_equal(snapfile__open(path, &sf, msg, sizeof(msg)), 0);
	mem = calloc(1, MEM);
	assert_non_null(mem);
	assert_int_equal(snapfile__load_memory(sf, mem, msg, sizeof(msg)), 0);
	assert_memory_equal(mem + 100 * PG, run, 8 * PG);
	snapfile__close(sf);
	free(mem);
	free(run);
	unlink(path);
	vm_state__free(st);
}

/* Load throughput of a guest whose every page holds data (printed, not asserted). */
static void test_load_speed(void **state)
{
	const uint64_t size = 128u << 20;
	struct vm_state *st = make_state(1, 3);
	struct snapfile_writer *w = NULL;
	struct snapfile *sf = NULL;
	char path[128], msg[256] = "";
	struct timespec t0, t1;
	uint8_t *src, *mem;
	double s;

	path_in_dir(path, sizeof(path), "speed.vmm");
	src = malloc(size);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_non_null(src);
	assert_true(mem != MAP_FAILED);
	fill(src, size, 1);
	assert_int_equal(snapfile__create(path, size, 1, &w), 0);
	for (uint64_t g = 0; g < size / PG; g++)
		assert_int_equal(snapfile__write_page(w, g, src + g * PG), 0);
	assert_int_equal(snapfile__commit(w, st), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(snapfile__open(path, &sf, msg, sizeof(msg)), 0);
	assert_int_equal(snapfile__load_memory(sf, mem, msg, sizeof(msg)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("load: 128 MiB in %.3f s, %.0f MiB/s (page cache warm)\n", s, 128 / s);
	assert_memory_equal(mem, src, size);
	snapfile__close(sf);
	munmap(mem, size);
	free(src);
	unlink(path);
	vm_state__free(st);
}

static int setup(void **state)
{
	const char *env = getenv("SNAPFILE_TEST_SEED");

	seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)getpid();
	print_message("seed %u (set SNAPFILE_TEST_SEED to repeat)\n", seed);
	snprintf(dir, sizeof(dir), "/tmp/test-snapfile-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	path_in_dir(good, sizeof(good), "good.vmm");
	good_state = make_state(2, 0);
	write_good(good, good_state);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	vm_state__free(good_state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_reject_open),
		cmocka_unit_test(test_reject_header),
		cmocka_unit_test(test_reject_padding),
cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_reject_state),
		cmocka_unit_test(test_reject_memory),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_refuse_special_targets),
		cmocka_unit_test(test_disk_full_at_create),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_write_pages),
		cmocka_unit_test(test_load_speed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
