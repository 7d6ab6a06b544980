// SPDX-License-Identifier: MIT
/*
 * fuzz-snapfile: opening a snapshot file and loading its memory
 * (snapfile__open, snapfile__load_memory, vmm/snapshot/snapfile.c) with
 * any file contents, through a memfd opened by its /proc/self/fd path.
 *
 * Input: a 9-byte prefix, then the file. A snapshot's memory region is
 * mostly holes, so the prefix may insert a run of zeros (a hole in the
 * memfd, as in a real sparse file) and keeps the seeds small:
 *   byte 0     flags: FIX_CRCS recomputes the header, CRC table and state
 *              CRCs before opening (so mutations get past them),
 *              FIX_PAGE_CRCS the table's entries first (the pages' real
 *              CRCs)
 *   bytes 1-4  gap_at (u32 LE): where in the file bytes the zeros go
 *   bytes 5-8  gap_len (u32 LE, at most 8 MiB): how many
 *
 * Properties, beyond no memory error, UB or leak: a rejected file has a
 * message naming it; an accepted one has sizes within the caps, and its
 * memory loads into a guest of mem_size bytes (ASan: nothing past it) or
 * is refused with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "snapfile.h"

#define PREFIX 9
#define FIX_CRCS 0x1
#define FIX_PAGE_CRCS 0x2
#define MAX_GAP (8u << 20)
#define PAGE SNAPFILE_PAGE_SIZE

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fd = memfd_create("fuzz-snapfile", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void pwrite_all(const void *buf, size_t len, off_t off)
{
	FUZZ_CHECK(pwrite(fd, buf, len, off) == (ssize_t)len, "memfd write: %s", strerror(errno));
}

/* CRC32 of [off, off + len) of the memfd. */
static uint32_t crc_of(uint64_t off, uint64_t len)
{
	uint8_t buf[65536];
	uint32_t crc = 0;

	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);

		FUZZ_CHECK(pread(fd, buf, n, (off_t)off) == (ssize_t)n, "memfd read");
		crc = snapfile__crc32(crc, buf, n);
		off += n;
		len -= n;
	}
	return crc;
}

static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* The CRC table's entries for the memory region: data pages' CRCs, holes' zero CRC. */
static void fix_page_crcs(const struct snapfile_header *h, uint64_t size)
{
	uint64_t npages = h->mem_size / PAGE;
	static const uint8_t zero[PAGE];
	uint32_t zero_crc = snapfile__crc32(0, zero, PAGE);
	uint32_t *crcs;

	if (h->mem_size % PAGE || h->crc_len != npages * 4 || h->mem_len != h->mem_size ||
	    !inside(h->crc_off, h->crc_len, size) || !inside(h->mem_off, h->mem_len, size))
		return;
	crcs = malloc(h->crc_len ? h->crc_len : 1);
	FUZZ_CHECK(crcs, "out of memory");
	for (uint64_t g = 0; g < npages; g++)
		crcs[g] = zero_crc;
	for (uint64_t g = 0; g < npages;) {
		off_t data = lseek(fd, (off_t)(h->mem_off + g * PAGE), SEEK_DATA), hole;

		if (data < 0 || (uint64_t)data >= h->mem_off + h->mem_len)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		g = ((uint64_t)data - h->mem_off) / PAGE;
		for (; g < npages && h->mem_off + g * PAGE < (uint64_t)hole; g++)
			crcs[g] = crc_of(h->mem_off + g * PAGE, PAGE);
	}
	pwrite_all(crcs, h->crc_len, (off_t)h->crc_off);
	free(crcs);
}

static void fix_crcs(uint8_t flags, uint64_t size)
{
	struct snapfile_header h;

	if (size < sizeof(h))
		return;
	FUZZ_CHECK(pread(fd, &h, sizeof(h), 0) == sizeof(h), "memfd read");
	if (flags & FIX_PAGE_CRCS)
		fix_page_crcs(&h, size);
	if (inside(h.crc_off, h.crc_len, size) && h.crc_len <= (4u << 20))
		h.crc_table_crc = crc_of(h.crc_off, h.crc_len);
	if (inside(h.state_off, h.state_len, size) && h.state_len <= SNAPFILE_MAX_STATE)
		h.state_crc = crc_of(h.state_off, h.state_len);
	h.header_crc = 0;
	h.header_crc = snapfile__crc32(0, &h, sizeof(h));
	pwrite_all(&h, sizeof(h), 0);
}

/* The file: data[0, gap_at), gap_len zero bytes (a hole), data[gap_at, size). */
static uint64_t make_file(const uint8_t *data, size_t size, uint32_t gap_at, uint32_t gap_len)
{
	uint64_t total = (uint64_t)size + gap_len;

	FUZZ_CHECK(!ftruncate(fd, 0) && !ftruncate(fd, (off_t)total), "memfd truncate");
	if (gap_at)
		pwrite_all(data, gap_at, 0);
	if (size > gap_at)
		pwrite_all(data + gap_at, size - gap_at, (off_t)gap_at + gap_len);
	return total;
}

static void load(struct snapfile *sf)
{
	uint64_t mem_size = snapfile__mem_size(sf);
	char msg[512] = "";
	void *mem;
	int err;

	FUZZ_CHECK(mem_size && mem_size <= SNAPFILE_MAX_MEM && !(mem_size % SNAPFILE_MEM_ALIGN),
		   "mem_size %llu", (unsigned long long)mem_size);
	FUZZ_CHECK(snapfile__nr_cpus(sf) >= 1 && snapfile__nr_cpus(sf) <= SNAPFILE_MAX_CPUS,
		   "%u vCPUs", snapfile__nr_cpus(sf));
	FUZZ_CHECK(snapfile__state(sf)->nr_cpus == snapfile__nr_cpus(sf), "state's vCPUs");
	/* Exactly mem_size bytes and then a guard page: a write past it faults. */
	mem = mmap(NULL, mem_size + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	FUZZ_CHECK(mem != MAP_FAILED, "mmap of %llu bytes", (unsigned long long)mem_size);
	FUZZ_CHECK(!mprotect((uint8_t *)mem + mem_size, PAGE, PROT_NONE), "mprotect");
	err = snapfile__load_memory(sf, mem, msg, sizeof(msg));
	if (err) {
		FUZZ_CHECK(strstr(msg, path), "load failed (%d) with message \"%s\"", err, msg);
		FUZZ_REJECT("%s", msg);
	} else {
		FUZZ_ACCEPT();
	}
	munmap(mem, mem_size + PAGE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t gap_at, gap_len;
	struct snapfile *sf;
	char msg[512] = "";
	uint64_t total;
	uint8_t flags;
	int err;

	if (size < PREFIX) {
		FUZZ_REJECT("no %d-byte prefix", PREFIX);
		return 0;
	}
	flags = data[0];
	gap_at = le32(data + 1);
	gap_len = le32(data + 5);
	data += PREFIX;
	size -= PREFIX;
	if (gap_at > size)
		gap_at = (uint32_t)size;
	if (gap_len > MAX_GAP)
		gap_len %= MAX_GAP + 1;
	total = make_file(data, size, gap_at, gap_len);
	if (flags & (FIX_CRCS | FIX_PAGE_CRCS))
		fix_crcs(flags, total);
	err = snapfile__open(path, &sf, msg, sizeof(msg));
	if (err) {
		FUZZ_CHECK(strstr(msg, path), "rejected (%d) with message \"%s\"", err, msg);
		FUZZ_REJECT("%s", msg);
		return 0;
	}
	load(sf);
	snapfile__close(sf);
	return 0;
}
