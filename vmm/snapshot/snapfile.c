// SPDX-License-Identifier: MIT
/*
 * snapfile.c: writing and reading snapshot files (layout in snapfile.h; the
 * state section's records are in snapfile-state.c).
 *
 * Writer invariants: the bit of gfn in w->claimed is set exactly once, by
 * the write_page call that then owns w->crcs[gfn] and that page's range of
 * the file; nothing else touches them until commit, which the caller runs
 * after every write_page has returned (that return is what orders the
 * plain stores to w->crcs before commit's loads). The header is written
 * last and the file gets its final name only after fsync, so a file at the
 * final path is complete or absent.
 *
 * Reader invariants: no offset or length read from the file is used before
 * it has been checked against the caps, the layout and the real file size;
 * snapfile__open returns only a file whose header, CRC table and state
 * section passed their CRCs and whose state parsed.
 *
 * CRC32 is implemented here (slice-by-8, IEEE 802.3 polynomial, the values
 * of zlib's crc32()) because zlib is not a dependency of this project and
 * one function is not worth adding it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapfile.h"

#define PAGE SNAPFILE_PAGE_SIZE
#define LOAD_CHUNK (2u << 20) /* bytes per pread when loading memory */

/* CRC32 */

static uint32_t crc_tab[8][256];
static uint32_t zero_page_crc;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	for (; len && ((uintptr_t)p & 7); len--)
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= crc;
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^
		      crc_tab[2][(hi >> 8) & 0xff] ^ crc_tab[1][(hi >> 16) & 0xff] ^
		      crc_tab[0][hi >> 24];
	}
	while (len--)
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void crc_init(void)
{
	static const uint8_t zeros[256];

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] =
				(crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
	for (unsigned i = 0; i < PAGE / sizeof(zeros); i++)
		zero_page_crc = crc32_update(zero_page_crc, zeros, sizeof(zeros));
}

uint32_t snapfile__crc32(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return crc32_update(crc, buf, len);
}

static uint32_t crc_of_zero_page(void)
{
	pthread_once(&crc_once, crc_init);
	return zero_page_crc;
}

/* Helpers */

static __attribute__((format(printf, 4, 5))) int fail(char *msg, size_t msg_len, int err,
						      const char *fmt, ...)
{
	va_list ap;

	if (msg && msg_len) {
		va_start(ap, fmt);
		vsnprintf(msg, msg_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* -EIO if the file ends first (it shrank after its size was checked). */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static bool is_zero_page(const uint8_t *p)
{
	return !p[0] && !memcmp(p, p + 1, PAGE - 1);
}

static bool mem_size_ok(uint64_t mem_size)
{
	return mem_size && !(mem_size % SNAPFILE_MEM_ALIGN) && mem_size <= SNAPFILE_MAX_MEM;
}

static uint32_t header_crc(const struct snapfile_header *h)
{
	struct snapfile_header c = *h;

	c.header_crc = 0;
	return snapfile__crc32(0, &c, sizeof(c));
}

/* Writer */

struct snapfile_writer {
	int fd; /* of the temporary file; -1 before it exists */
	char *path, *tmp_path;
	struct snapfile_header hdr; /* layout from create; CRCs and state filled at commit */
	uint64_t npages;
	uint32_t *crcs;	   /* per page; see the writer invariants */
	uint64_t *claimed; /* bitmap of gfns written, atomic */
	uint64_t *data;	   /* bitmap of gfns whose non-zero contents are in the file, atomic */
	bool reserved;	   /* header, table and memory allocated on disk at create */
	uint64_t bytes;	   /* guest memory saved, atomic */
	int err;	   /* first write_page I/O error, atomic */
};

static void layout_init(struct snapfile_header *h, uint64_t mem_size, unsigned nr_cpus)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SNAPFILE_MAGIC, sizeof(h->magic));
	h->version = SNAPFILE_VERSION;
	h->header_size = sizeof(*h);
	h->mem_size = mem_size;
	h->nr_cpus = nr_cpus;
	h->page_size = PAGE;
	h->crc_off = SNAPFILE_HEADER_BLOCK;
	h->crc_len = mem_size / PAGE * sizeof(uint32_t);
	h->mem_off = (h->crc_off + h->crc_len + PAGE - 1) / PAGE * PAGE;
	h->mem_len = mem_size;
	h->state_off = h->mem_off + h->mem_len;
}

static void writer_free(struct snapfile_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w->tmp_path);
	free(w->crcs);
	free(w->claimed);
	free(w->data);
	free(w);
}

static void mark_data(struct snapfile_writer *w, uint64_t gfn, uint64_t n)
{
	for (uint64_t g = gfn; g < gfn + n; g++)
		__atomic_fetch_or(&w->data[g / 64], 1ull << (g % 64), __ATOMIC_RELAXED);
}

/*
 * Allocate the disk space of everything but the state section now, so that a
 * full disk fails the snapshot at its start, where the guest can still be
 * told, and not halfway through a live save. A filesystem without
 * fallocate saves as before (an error then shows at the end).
 */
static int reserve_space(struct snapfile_writer *w)
{
	if (!fallocate(w->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)w->hdr.state_off)) {
		w->reserved = true;
		return 0;
	}
	return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : -errno;
}

/* Give back the reserved space of the pages that hold zeros: holes, as without it. */
static int release_zero_pages(struct snapfile_writer *w)
{
	uint64_t run = 0;

	if (!w->reserved)
		return 0;
	for (uint64_t g = 0; g <= w->npages; g++) {
		bool zero = g < w->npages && !(w->data[g / 64] & (1ull << (g % 64)));

		if (zero) {
			run++;
			continue;
		}
		if (run && fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     (off_t)(w->hdr.mem_off + (g - run) * PAGE), (off_t)(run * PAGE)))
			return -errno;
		run = 0;
	}
	return 0;
}

/*
 * A snapshot replaces only a regular file: never a device node, FIFO,
 * socket or directory, and not a symlink either (what it points at is not
 * ours to replace; the rename would replace the link itself). -EEXIST.
 */
static int check_target(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	return S_ISREG(st.st_mode) ? 0 : -EEXIST;
}

int snapfile__create(const char *path, uint64_t mem_size, unsigned nr_cpus,
		     struct snapfile_writer **ret_w)
{
	struct snapfile_writer *w;
	uint32_t zero_crc = crc_of_zero_page();
	int err;

	if (!path || !*path || !mem_size_ok(mem_size) || !nr_cpus)
		return -EINVAL;
	if (nr_cpus > SNAPFILE_MAX_CPUS)
		return -E2BIG;
	err = check_target(path);
	if (err)
		return err;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	layout_init(&w->hdr, mem_size, nr_cpus);
	w->npages = mem_size / PAGE;
	w->crcs = malloc(w->npages * sizeof(w->crcs[0]));
	w->claimed = calloc((w->npages + 63) / 64, sizeof(w->claimed[0]));
	w->data = calloc((w->npages + 63) / 64, sizeof(w->data[0]));
	w->path = strdup(path);
	if (asprintf(&w->tmp_path, "%s.tmp-XXXXXX", path) < 0)
		w->tmp_path = NULL;
	if (!w->crcs || !w->claimed || !w->data || !w->path || !w->tmp_path) {
		err = -ENOMEM;
		goto out_free;
	}
	for (uint64_t g = 0; g < w->npages; g++)
		w->crcs[g] = zero_crc;
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		err = -errno;
		goto out_free;
	}
	/* Sized to the end of memory now: every page never written is a hole. */
	if (ftruncate(w->fd, (off_t)w->hdr.state_off)) {
		err = -errno;
		goto out_unlink;
	}
	err = reserve_space(w);
	if (err)
		goto out_unlink;
	*ret_w = w;
	return 0;
out_unlink:
	unlink(w->tmp_path);
out_free:
	writer_free(w);
	return err;
}

int snapfile__write_page(struct snapfile_writer *w, uint64_t gfn, const void *data)
{
	uint64_t bit = 1ull << (gfn % 64);
	int err, none = 0;

	if (gfn >= w->npages)
		return -ERANGE;
	/* The one caller that sets the bit owns the page (writer invariants). */
	if (__atomic_fetch_or(&w->claimed[gfn / 64], bit, __ATOMIC_RELAXED) & bit)
		return -EEXIST;
	if (data && !is_zero_page(data)) {
		w->crcs[gfn] = crc32_update(0, data, PAGE);
		err = pwrite_all(w->fd, data, PAGE, w->hdr.mem_off + gfn * PAGE);
		if (!err)
			mark_data(w, gfn, 1);
		if (err) {
			__atomic_compare_exchange_n(&w->err, &none, err, false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
			return err;
		}
	}
	__atomic_fetch_add(&w->bytes, PAGE, __ATOMIC_RELAXED);
	return 0;
}

int snapfile__write_pages(struct snapfile_writer *w, uint64_t gfn, const void *data, uint64_t n)
{
	const uint8_t *p = data;
	uint64_t run = 0; /* non-zero pages pending before page i */
	int err = 0, none = 0;

	if (gfn >= w->npages || n > w->npages - gfn)
		return -ERANGE;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t g = gfn + i, bit = 1ull << (g % 64);

		if (__atomic_fetch_or(&w->claimed[g / 64], bit, __ATOMIC_RELAXED) & bit) {
			/* Give back what this call claimed: nothing of the range is written. */
			while (i--) {
				g = gfn + i;
				__atomic_fetch_and(&w->claimed[g / 64], ~(1ull << (g % 64)),
						   __ATOMIC_RELAXED);
			}
			return -EEXIST;
		}
	}
	/* Runs of non-zero pages go out in one pwrite each; zero pages stay holes. */
	for (uint64_t i = 0; i <= n && !err; i++) {
		bool zero = i == n || is_zero_page(p + i * PAGE);

		if (!zero) {
			w->crcs[gfn + i] = crc32_update(0, p + i * PAGE, PAGE);
			run++;
			continue;
		}
		if (run)
			err = pwrite_all(w->fd, p + (i - run) * PAGE, run * PAGE,
					 w->hdr.mem_off + (gfn + i - run) * PAGE);
		if (run && !err)
			mark_data(w, gfn + i - run, run);
		run = 0;
	}
	if (err) {
		__atomic_compare_exchange_n(&w->err, &none, err, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		return err;
	}
	__atomic_fetch_add(&w->bytes, n * PAGE, __ATOMIC_RELAXED);
	return 0;
}

uint64_t snapfile_writer__bytes(const struct snapfile_writer *w)
{
	return __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
}

/* State, CRC table, then the header that makes the file valid. */
static int write_tail(struct snapfile_writer *w, const void *state, size_t state_len)
{
	static_assert(sizeof(struct snapfile_header) <= SNAPFILE_HEADER_BLOCK, "header block");
	uint8_t block[SNAPFILE_HEADER_BLOCK] = {0};
	struct snapfile_header *h = &w->hdr;
	int err;

	h->state_len = state_len;
	h->state_crc = snapfile__crc32(0, state, state_len);
	h->crc_table_crc = snapfile__crc32(0, w->crcs, h->crc_len);
	h->header_crc = header_crc(h);
	memcpy(block, h, sizeof(*h));
	err = pwrite_all(w->fd, state, state_len, h->state_off);
	if (!err)
		err = pwrite_all(w->fd, w->crcs, h->crc_len, h->crc_off);
	if (!err)
		err = pwrite_all(w->fd, block, sizeof(block), 0);
	return err;
}

/* fsync the directory holding @path, so the rename survives a crash. */
static int sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, err = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		err = -errno;
	else if (fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return err;
}

int snapfile__commit(struct snapfile_writer *w, const struct vm_state *state)
{
	void *buf = NULL;
	size_t len = 0;
	int err;

	if (!w)
		return -EINVAL;
	err = state && state->nr_cpus == w->hdr.nr_cpus ? 0 : -EINVAL;
	if (!err)
		err = __atomic_load_n(&w->err, __ATOMIC_RELAXED);
	if (!err)
		err = snapfile__encode_state(state, &buf, &len);
	if (!err)
		err = write_tail(w, buf, len);
	free(buf);
	if (!err)
		err = release_zero_pages(w);
	if (!err && fsync(w->fd))
		err = -errno;
	if (!err)
		err = check_target(w->path); /* again: something may have appeared there */
	if (!err && rename(w->tmp_path, w->path))
		err = -errno;
	if (err) {
		snapfile__abort(w);
		return err;
	}
	/* The file is in place; a failure here only says it may not survive a crash. */
	err = sync_dir_of(w->path);
	writer_free(w);
	return err;
}

void snapfile__abort(struct snapfile_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		unlink(w->tmp_path);
	writer_free(w);
}

/* Reader */

struct snapfile {
	int fd;
	char *path;
	struct snapfile_header hdr; /* validated */
	uint32_t *crcs;		    /* the page CRC table, CRC checked */
	struct vm_state *state;
};

/* Magic, version and the header's own CRC: whether the rest can be read at all. */
static int check_header_id(const struct snapfile *sf, uint64_t size, char *msg, size_t len)
{
	const struct snapfile_header *h = &sf->hdr;
	const char *p = sf->path;

	if (size == 0)
		return fail(msg, len, -EINVAL, "%s: empty file, not a vmm snapshot", p);
	if (size < sizeof(h->magic) || memcmp(h->magic, SNAPFILE_MAGIC, sizeof(h->magic)))
		return fail(msg, len, -EINVAL, "%s: not a vmm snapshot (bad magic)", p);
	if (size < SNAPFILE_HEADER_BLOCK)
		return fail(msg, len, -EINVAL,
			    "%s: truncated: %ju bytes, shorter than the %u-byte header", p,
			    (uintmax_t)size, SNAPFILE_HEADER_BLOCK);
	if (h->version != SNAPFILE_VERSION)
		return fail(msg, len, -ENOTSUP,
			    "%s: version %u not supported (this vmm reads version %u)", p,
			    h->version, SNAPFILE_VERSION);
	if (h->header_size != sizeof(*h))
		return fail(msg, len, -EINVAL, "%s: header size %u, version %u has %zu", p,
			    h->header_size, SNAPFILE_VERSION, sizeof(*h));
	if (header_crc(h) != h->header_crc)
		return fail(msg, len, -EIO, "%s: header CRC mismatch", p);
	if (h->flags)
		return fail(msg, len, -ENOTSUP, "%s: unknown header flags 0x%x", p, h->flags);
	if (h->page_size != PAGE)
		return fail(msg, len, -ENOTSUP, "%s: page size %u not supported (this vmm uses %u)",
			    p, h->page_size, PAGE);
	return 0;
}

/* Sizes against the caps. */
static int check_header_sizes(const struct snapfile *sf, char *msg, size_t len)
{
	const struct snapfile_header *h = &sf->hdr;
	const char *p = sf->path;

	if (!h->nr_cpus)
		return fail(msg, len, -EINVAL, "%s: header: no vCPUs", p);
	if (h->nr_cpus > SNAPFILE_MAX_CPUS)
		return fail(msg, len, -E2BIG, "%s: header: %u vCPUs over the cap of %u", p,
			    h->nr_cpus, SNAPFILE_MAX_CPUS);
	if (h->mem_size > SNAPFILE_MAX_MEM)
		return fail(msg, len, -E2BIG, "%s: header: mem_size %ju over the %llu GiB cap", p,
			    (uintmax_t)h->mem_size, SNAPFILE_MAX_MEM >> 30);
	if (!mem_size_ok(h->mem_size))
		return fail(msg, len, -EINVAL,
			    "%s: header: mem_size %ju is not a non-zero multiple of 2 MiB", p,
			    (uintmax_t)h->mem_size);
	if (h->state_len > SNAPFILE_MAX_STATE)
		return fail(msg, len, -E2BIG,
			    "%s: header: state section of %ju bytes over the %u MiB cap", p,
			    (uintmax_t)h->state_len, SNAPFILE_MAX_STATE >> 20);
	return 0;
}

/* Regions in order header, CRC table, memory, state, and inside the file. */
static int check_header_layout(const struct snapfile *sf, uint64_t size, char *msg, size_t len)
{
	const struct snapfile_header *h = &sf->hdr;
	uint64_t npages = h->mem_size / PAGE, crc_end, mem_end, end;
	const char *p = sf->path;

	if (h->mem_len != h->mem_size)
		return fail(msg, len, -EINVAL,
			    "%s: header: mem_size %ju but the memory region is %ju bytes", p,
			    (uintmax_t)h->mem_size, (uintmax_t)h->mem_len);
	if (h->crc_len != npages * sizeof(uint32_t))
		return fail(msg, len, -EINVAL, "%s: header: CRC table of %ju bytes for %ju pages",
			    p, (uintmax_t)h->crc_len, (uintmax_t)npages);
	if (h->crc_off < SNAPFILE_HEADER_BLOCK ||
	    __builtin_add_overflow(h->crc_off, h->crc_len, &crc_end) || h->mem_off < crc_end ||
	    h->mem_off % PAGE || __builtin_add_overflow(h->mem_off, h->mem_len, &mem_end) ||
	    h->state_off < mem_end || __builtin_add_overflow(h->state_off, h->state_len, &end))
		return fail(
			msg, len, -EINVAL,
			"%s: header: bad region layout (table 0x%jx, memory 0x%jx, state 0x%jx)", p,
			(uintmax_t)h->crc_off, (uintmax_t)h->mem_off, (uintmax_t)h->state_off);
	if (size < end)
		return fail(msg, len, -EINVAL, "%s: truncated: %ju bytes, header says at least %ju",
			    p, (uintmax_t)size, (uintmax_t)end);
	if (size > end)
		return fail(msg, len, -EINVAL, "%s: %ju bytes after the state section, which ends "
			    "the file", p, (uintmax_t)(size - end));
	return 0;
}

/* The bytes [from, to) of the file are zero: padding no CRC covers. */
static int check_zero(struct snapfile *sf, uint64_t from, uint64_t to, const char *what,
		      char *msg, size_t len)
{
	static const uint8_t zeros[4096];
	uint8_t buf[4096];

	while (from < to) {
		size_t n = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		int err = pread_all(sf->fd, buf, n, from);

		if (err)
			return fail(msg, len, err, "%s: reading the %s: %s", sf->path, what,
				    strerror(-err));
		if (memcmp(buf, zeros, n))
			return fail(msg, len, -EINVAL, "%s: the %s (bytes 0x%jx-0x%jx) is not zero",
				    sf->path, what, (uintmax_t)from, (uintmax_t)(from + n - 1));
		from += n;
	}
	return 0;
}

/* Every byte no CRC covers is padding, and zero: a flip there is corruption too. */
static int check_padding(struct snapfile *sf, char *msg, size_t len)
{
	const struct snapfile_header *h = &sf->hdr;
	int err;

	err = check_zero(sf, h->header_size, h->crc_off, "padding after the header", msg, len);
	if (!err)
		err = check_zero(sf, h->crc_off + h->crc_len, h->mem_off,
				 "padding after the CRC table", msg, len);
	if (!err)
		err = check_zero(sf, h->mem_off + h->mem_len, h->state_off,
				 "padding after memory", msg, len);
	return err;
}

static int read_header(struct snapfile *sf, char *msg, size_t len)
{
	struct stat st;
	size_t n;
	int err;

	if (fstat(sf->fd, &st)) {
		err = -errno;
		return fail(msg, len, err, "%s: %s", sf->path, strerror(-err));
	}
	if (!S_ISREG(st.st_mode))
		return fail(msg, len, -EINVAL, "%s: not a regular file", sf->path);
	n = (uint64_t)st.st_size < sizeof(sf->hdr) ? (size_t)st.st_size : sizeof(sf->hdr);
	err = pread_all(sf->fd, &sf->hdr, n, 0);
	if (err)
		return fail(msg, len, err, "%s: reading the header: %s", sf->path, strerror(-err));
	err = check_header_id(sf, (uint64_t)st.st_size, msg, len);
	if (!err)
		err = check_header_sizes(sf, msg, len);
	if (!err)
		err = check_header_layout(sf, (uint64_t)st.st_size, msg, len);
	if (!err)
		err = check_padding(sf, msg, len);
	return err;
}

/* Read a region into a new buffer and check it against @crc. */
static int read_region(struct snapfile *sf, uint64_t off, uint64_t size, uint32_t crc,
		       const char *what, void **ret_buf, char *msg, size_t len)
{
	void *buf = malloc(size ? size : 1);
	int err;

	if (!buf)
		return fail(msg, len, -ENOMEM, "%s: %s: out of memory", sf->path, what);
	err = pread_all(sf->fd, buf, size, off);
	if (err)
		fail(msg, len, err, "%s: reading the %s: %s", sf->path, what, strerror(-err));
	else if (snapfile__crc32(0, buf, size) != crc)
		err = fail(msg, len, -EIO, "%s: %s CRC mismatch", sf->path, what);
	if (err) {
		free(buf);
		return err;
	}
	*ret_buf = buf;
	return 0;
}

static int read_state(struct snapfile *sf, char *msg, size_t len)
{
	const struct snapfile_header *h = &sf->hdr;
	char why[256] = "";
	void *buf;
	int err;

	err = read_region(sf, h->state_off, h->state_len, h->state_crc, "state section", &buf, msg,
			  len);
	if (err)
		return err;
	err = snapfile__decode_state(buf, h->state_len, h->nr_cpus, &sf->state, why, sizeof(why));
	free(buf);
	if (err)
		return fail(msg, len, err, "%s: %s", sf->path, why);
	return 0;
}

int snapfile__open(const char *path, struct snapfile **ret_sf, char *ret_msg, size_t msg_len)
{
	struct snapfile *sf;
	void *crcs = NULL;
	int err;

	if (!path)
		return fail(ret_msg, msg_len, -EINVAL, "no snapshot file given");
	sf = calloc(1, sizeof(*sf));
	if (!sf || !(sf->path = strdup(path))) {
		free(sf);
		return fail(ret_msg, msg_len, -ENOMEM, "%s: out of memory", path);
	}
	sf->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
	if (sf->fd < 0) {
		err = -errno;
		fail(ret_msg, msg_len, err, "%s: %s", path, strerror(-err));
		goto out;
	}
	err = read_header(sf, ret_msg, msg_len);
	if (!err)
		err = read_region(sf, sf->hdr.crc_off, sf->hdr.crc_len, sf->hdr.crc_table_crc,
				  "page CRC table", &crcs, ret_msg, msg_len);
	sf->crcs = crcs;
	if (!err)
		err = read_state(sf, ret_msg, msg_len);
	if (err)
		goto out;
	*ret_sf = sf;
	return 0;
out:
	snapfile__close(sf);
	return err;
}

uint64_t snapfile__mem_size(const struct snapfile *sf)
{
	return sf->hdr.mem_size;
}

unsigned snapfile__nr_cpus(const struct snapfile *sf)
{
	return sf->hdr.nr_cpus;
}

const struct vm_state *snapfile__state(const struct snapfile *sf)
{
	return sf->state;
}

static int page_crc_fail(const struct snapfile *sf, uint64_t gfn, char *msg, size_t len)
{
	return fail(msg, len, -EIO, "%s: page at guest address 0x%jx fails its CRC", sf->path,
		    (uintmax_t)(gfn * PAGE));
}

/* Pages [first, end) are holes: they read zero, so their CRCs must say so. */
static int check_holes(const struct snapfile *sf, uint64_t first, uint64_t end, char *msg,
		       size_t len)
{
	uint32_t zero_crc = crc_of_zero_page();

	for (uint64_t g = first; g < end; g++)
		if (sf->crcs[g] != zero_crc)
			return page_crc_fail(sf, g, msg, len);
	return 0;
}

/* Pages [first, end) hold data: read them straight into @dst, chunk by chunk. */
static int load_extent(const struct snapfile *sf, uint8_t *dst, uint64_t first, uint64_t end,
		       char *msg, size_t len)
{
	const uint64_t chunk_pages = LOAD_CHUNK / PAGE;

	for (uint64_t g = first; g < end; g += chunk_pages) {
		uint64_t n = end - g < chunk_pages ? end - g : chunk_pages;
		int err = pread_all(sf->fd, dst + g * PAGE, n * PAGE, sf->hdr.mem_off + g * PAGE);

		if (err)
			return fail(msg, len, err, "%s: reading guest memory at 0x%jx: %s",
				    sf->path, (uintmax_t)(g * PAGE), strerror(-err));
		for (uint64_t i = g; i < g + n; i++)
			if (crc32_update(0, dst + i * PAGE, PAGE) != sf->crcs[i])
				return page_crc_fail(sf, i, msg, len);
	}
	return 0;
}

/*
 * The page holding the next data (SEEK_DATA) or hole (SEEK_HOLE) at or after
 * page @gfn; npages if there is none before the end of memory.
 */
static int seek_page(const struct snapfile *sf, uint64_t gfn, int whence, uint64_t *ret_gfn,
		     char *msg, size_t len)
{
	uint64_t npages = sf->hdr.mem_size / PAGE, rel;
	off_t off = lseek(sf->fd, (off_t)(sf->hdr.mem_off + gfn * PAGE), whence);
	int err;

	if (off < 0 && errno == ENXIO) {
		*ret_gfn = npages;
		return 0;
	}
	if (off < 0) {
		err = -errno;
		return fail(msg, len, err, "%s: looking for data in guest memory: %s", sf->path,
			    strerror(-err));
	}
	rel = (uint64_t)off - sf->hdr.mem_off;
	/* Rounded so that a file block smaller than a page still loads the whole page. */
	rel = whence == SEEK_DATA ? rel / PAGE : (rel + PAGE - 1) / PAGE;
	*ret_gfn = rel < npages ? rel : npages;
	return 0;
}

int snapfile__load_memory(struct snapfile *sf, void *dst, char *ret_msg, size_t msg_len)
{
	uint64_t npages = sf->hdr.mem_size / PAGE, g = 0, data = 0, hole = 0;
	int err = 0;

	while (!err && g < npages) {
		err = seek_page(sf, g, SEEK_DATA, &data, ret_msg, msg_len);
		if (!err)
			err = check_holes(sf, g, data, ret_msg, msg_len);
		if (err || data == npages)
			break;
		err = seek_page(sf, data, SEEK_HOLE, &hole, ret_msg, msg_len);
		if (err)
			break;
		/* Page @data holds data even if a sub-page hole starts it: always progress. */
		if (hole <= data)
			hole = data + 1;
		err = load_extent(sf, dst, data, hole, ret_msg, msg_len);
		g = hole;
	}
	return err;
}

void snapfile__close(struct snapfile *sf)
{
	if (!sf)
		return;
	if (sf->fd >= 0)
		close(sf->fd);
	free(sf->crcs);
	vm_state__free(sf->state);
	free(sf->path);
	free(sf);
}
