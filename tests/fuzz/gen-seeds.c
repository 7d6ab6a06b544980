// SPDX-License-Identifier: MIT
/*
 * gen-seeds: writes the fuzz targets' seed corpora (fuzz.h), each file
 * under 64 KiB: `gen-seeds DIR` fills DIR/<target>/ (tests/fuzz/corpus in
 * the tree). Valid inputs through the project's own writers where there is
 * one (a real snapshot from snapfile__create/commit, its state section from
 * snapfile__encode_state), by hand where there is none (ELF images, queues,
 * JSON), plus inputs that past bugs needed.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapfile.h"

#define PAGE 4096u

static const char *root;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "gen-seeds: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	int fd;

	if (len >= 64 << 10)
		die("%s/%s: %zu bytes, seeds stay under 64 KiB", target, name, len);
	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd))
		die("%s: %s", path, strerror(errno));
}

static void seed_str(const char *target, const char *name, const char *s)
{
	seed(target, name, s, strlen(s));
}

/* JSON requests: each command, every value type, escapes, and what is refused. */
static void json_seeds(void)
{
	char big[600];
	size_t n;

	seed_str("fuzz-json", "stats", "{\"cmd\":\"stats\"}");
	seed_str("fuzz-json", "clone", "{\"cmd\":\"clone\",\"vm\":0,\"count\":64,\"resettable\":true}");
	seed_str("fuzz-json", "snapshot",
		 " { \"cmd\" : \"snapshot\" , \"path\" : \"/tmp/snap \\u00e9\\ud83d\\ude00\\u4e2d\","
		 "\"vm\":1}\r");
	seed_str("fuzz-json", "numbers",
		 "{\"a\":-0,\"b\":1.5e-3,\"c\":18446744073709551615,\"d\":-9223372036854775808,"
		 "\"e\":1E+400,\"f\":0.1,\"g\":null,\"h\":false,\"i\":9223372036854775808}");
	seed_str("fuzz-json", "escapes",
		 "{\"cmd\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\",\"\\u00e9\":\"\xc3\xa9"
		 "\xe4\xb8\xad\xf0\x9f\x98\x80\"}");
	seed_str("fuzz-json", "bad-duplicate", "{\"cmd\":\"quit\",\"cmd\":\"stats\"}");
	seed_str("fuzz-json", "bad-nested", "{\"cmd\":{\"a\":[1,2]}}");
	seed_str("fuzz-json", "bad-surrogate", "{\"cmd\":\"\\ud800x\"}");
	seed_str("fuzz-json", "bad-trailing", "{\"cmd\":\"quit\"} {}");
	/* An error message quoting it is truncated inside a 4-byte character (issue 12, 6). */
	n = (size_t)snprintf(big, sizeof(big), "{\"cmd\":\"");
	while (n < 8 + 270)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\xf0\x9f\x98\x80");
	snprintf(big + n, sizeof(big) - n, "\"}");
	seed_str("fuzz-json", "long-utf8-cmd", big);
}

/* What one control socket client sends (fuzz-api.c). */
static void api_seeds(void)
{
	static char buf[12000];
	size_t n;

	seed_str("fuzz-api", "requests",
		 "{\"cmd\":\"echo\",\"x\":1,\"s\":\"\\u00e9\",\"b\":true,\"z\":null}\n"
		 "\n\r\n{\"cmd\":\"fail\"}\r\n{\"cmd\":\"busy\"}\n{\"vm\":0}\n{\"cmd\":1}\n"
		 "{\"cmd\":\"ok\",\"ok\":1,\"error\":2}\n  {\"cmd\":\"stats\"}  \n{bad\n");
	/* An over-long line, answered once, then a request after it. */
	n = (size_t)snprintf(buf, sizeof(buf), "{\"cmd\":\"");
	memset(buf + n, 'a', 5000);
	n += 5000;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"}\n{\"cmd\":\"echo\"}\n");
	seed("fuzz-api", "long-line", buf, n);
	/* A failure quoting the command, truncated inside a 4-byte character (issue 12, 6). */
	n = (size_t)snprintf(buf, sizeof(buf), "{\"cmd\":\"f");
	while (n < 300)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\xf0\x9f\x98\x80");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"}\n");
	seed("fuzz-api", "fail-utf8", buf, n);
	seed_str("fuzz-api", "bad-unterminated", "{\"cmd\":\"echo\"}");
}

struct elf_image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[3];
	uint8_t text[64], data[32];
};

static void elf_header(struct elf_image *im, unsigned phnum, uint64_t entry)
{
	memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_ident[EI_VERSION] = EV_CURRENT;
	im->eh.e_type = ET_EXEC;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_version = EV_CURRENT;
	im->eh.e_entry = entry;
	im->eh.e_phoff = offsetof(struct elf_image, ph);
	im->eh.e_ehsize = sizeof(Elf64_Ehdr);
	im->eh.e_phentsize = sizeof(Elf64_Phdr);
	im->eh.e_phnum = (uint16_t)phnum;
}

static Elf64_Phdr load_seg(uint64_t off, uint64_t vaddr, uint64_t filesz, uint64_t memsz,
			   uint32_t flags)
{
	return (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = flags, .p_offset = off,
			    .p_vaddr = vaddr, .p_paddr = vaddr, .p_filesz = filesz,
			    .p_memsz = memsz, .p_align = PAGE};
}

/* ELF images for a 512 KiB guest loading at 64 KiB and up (fuzz-elf.c). */
static void elf_seeds(void)
{
	struct elf_image im;

	memset(&im, 0, sizeof(im));
	elf_header(&im, 1, 0x10000);
	im.ph[0] = load_seg(offsetof(struct elf_image, text), 0x10000, sizeof(im.text),
			    sizeof(im.text), PF_R | PF_X);
	memset(im.text, 0x90, sizeof(im.text));
	seed("fuzz-elf", "one-segment", &im, sizeof(im));

	/* Code, data with bss, and a PT_NOTE whose p_vaddr is nowhere (issue 12, 9). */
	elf_header(&im, 3, 0x20010);
	im.ph[0] = load_seg(offsetof(struct elf_image, text), 0x20000, sizeof(im.text), 0x1000,
			    PF_R | PF_X);
	im.ph[1] = load_seg(offsetof(struct elf_image, data), 0x40000, sizeof(im.data), 0x3000,
			    PF_R | PF_W);
	im.ph[2] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = 0, .p_vaddr = ~0ull - 7,
				.p_filesz = 8, .p_memsz = 8};
	memset(im.data, 0x5a, sizeof(im.data));
	seed("fuzz-elf", "code-data-note", &im, sizeof(im));

	/* Refused: the two PT_LOADs overlap. */
	im.ph[1].p_vaddr = 0x20800;
	seed("fuzz-elf", "bad-overlap", &im, sizeof(im));
}

static void fill(void *p, size_t n, unsigned salt)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(salt + i * 7 + (i >> 8));
}

/* A state as vm__save_state would give, with made-up register contents. */
static struct vm_state *make_state(unsigned nr_cpus)
{
	struct vm_state *st = calloc(1, sizeof(*st));

	if (!st || !(st->cpus = calloc(nr_cpus, sizeof(st->cpus[0]))))
		die("out of memory");
	st->nr_cpus = nr_cpus;
	st->has_irqchip = st->has_pit = true;
	fill(st->chips, sizeof(st->chips), 1);
	fill(&st->pit, sizeof(st->pit), 2);
	fill(&st->clock, sizeof(st->clock), 3);
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct vcpu_state *c = &st->cpus[i];
		unsigned nmsrs = 4 + i;

		fill(&c->regs, sizeof(c->regs), 10 * i + 4);
		fill(&c->sregs, sizeof(c->sregs), 10 * i + 5);
		c->has_xcrs = c->has_lapic = true;
		c->parked = i == 1;
		c->xsave_size = sizeof(struct kvm_xsave);
		c->xsave = calloc(1, c->xsave_size);
		c->msrs = calloc(1, sizeof(*c->msrs) + nmsrs * sizeof(struct kvm_msr_entry));
		if (!c->xsave || !c->msrs)
			die("out of memory");
		fill(c->xsave, 512, 10 * i + 6); /* the legacy area; the rest is zero, as usual */
		c->msrs->nmsrs = nmsrs;
		for (unsigned m = 0; m < nmsrs; m++)
			c->msrs->entries[m] = (struct kvm_msr_entry){.index = 0xc0000080 + m,
								     .data = 0x500 + m};
	}
	return st;
}

static void state_seeds(void)
{
	uint8_t buf[64 << 10];
	struct vm_state *st;
	size_t len, vm_rec;
	void *sec;

	for (unsigned nr = 1; nr <= 2; nr++) {
		st = make_state(nr);
		if (snapfile__encode_state(st, &sec, &len) || len + 1 > sizeof(buf))
			die("encode_state");
		buf[0] = (uint8_t)nr;
		memcpy(buf + 1, sec, len);
		seed("fuzz-snapstate", nr == 1 ? "one-vcpu" : "two-vcpus", buf, len + 1);
		if (nr == 2) {
			/* Records in another order: the vCPUs first, then the VM. */
			vm_rec = sizeof(struct snapfile_record) + sizeof(struct snapfile_vm_v1);
			memcpy(buf + 1, (uint8_t *)sec + vm_rec, len - vm_rec);
			memcpy(buf + 1 + len - vm_rec, sec, vm_rec);
			seed("fuzz-snapstate", "two-vcpus-vm-last", buf, len + 1);
		}
		free(sec);
		vm_state__free(st);
	}
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	struct stat s;
	uint8_t *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &s) || !(b = malloc((size_t)s.st_size)) ||
	    pread(fd, b, (size_t)s.st_size, 0) != s.st_size)
		die("%s: %s", path, strerror(errno));
	close(fd);
	*ret_len = (size_t)s.st_size;
	return b;
}

/*
 * A real 2 MiB snapshot with pages 0 and 1 written (the rest holes), in
 * fuzz-snapfile's input format: prefix, then the file with the zeros after
 * page 1 taken out as its gap.
 */
static void snapfile_seed(const char *name, unsigned nr_cpus, uint8_t flags)
{
	const uint64_t mem_size = 2u << 20;
	uint8_t page[2][PAGE], *file, *in;
	struct snapfile_writer *w;
	struct snapfile_header h;
	struct vm_state *st;
	char dir[] = "/tmp/gen-seeds-XXXXXX", path[64];
	uint32_t gap_at, gap_len;
	size_t len;

	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/snap", dir);
	fill(page[0], PAGE, 0x11);
	fill(page[1], PAGE, 0x22);
	st = make_state(nr_cpus);
	if (snapfile__create(path, mem_size, nr_cpus, &w) ||
	    snapfile__write_pages(w, 0, page, 2) || snapfile__commit(w, st))
		die("writing a snapshot failed");
	vm_state__free(st);
	file = read_file(path, &len);
	unlink(path);
	rmdir(dir);
	memcpy(&h, file, sizeof(h));
	gap_at = (uint32_t)(h.mem_off + 2 * PAGE);
	gap_len = (uint32_t)(h.mem_len - 2 * PAGE);
	for (size_t i = gap_at; i < gap_at + gap_len; i++)
		if (file[i])
			die("snapshot memory after page 1 is not zero");
	in = malloc(len);
	if (!in)
		die("out of memory");
	in[0] = flags;
	memcpy(in + 1, &gap_at, 4);
	memcpy(in + 5, &gap_len, 4);
	memcpy(in + 9, file, gap_at);
	memcpy(in + 9 + gap_at, file + gap_at + gap_len, len - gap_at - gap_len);
	seed("fuzz-snapfile", name, in, 9 + len - gap_len);
	free(in);
	free(file);
}

static void snapfile_seeds(void)
{
	snapfile_seed("one-vcpu", 1, 0);
	snapfile_seed("two-vcpus", 2, 0);
	snapfile_seed("two-vcpus-fix-crcs", 2, 0x3);
}

/* fuzz-virtq input: 16 bytes of configuration, then guest memory from 0. */
#define Q_DESC 0x1000u
#define Q_AVAIL 0x2000u
#define Q_USED 0x3000u
#define Q_ITAB 0x5000u
#define Q_DATA 0x6000u
#define Q_MEM (Q_DATA + 0x100)

struct queue_seed {
	uint8_t config[16];
	uint8_t mem[Q_MEM];
};

static void queue_config(struct queue_seed *s, uint16_t num, bool indirect)
{
	uint32_t gpas[3] = {Q_DESC, Q_AVAIL, Q_USED};

	memset(s, 0, sizeof(*s));
	s->config[0] = num & 0xff;
	s->config[1] = num >> 8;
	s->config[2] = indirect;
	memcpy(s->config + 4, gpas, sizeof(gpas));
}

static void set_desc(struct queue_seed *s, uint32_t table, unsigned i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	memcpy(s->mem + table + 16 * i, &d, sizeof(d));
}

static void offer(struct queue_seed *s, uint16_t num, uint16_t head)
{
	uint16_t idx;

	memcpy(&idx, s->mem + Q_AVAIL + 2, 2);
	memcpy(s->mem + Q_AVAIL + 4 + 2 * (idx % num), &head, 2);
	idx++;
	memcpy(s->mem + Q_AVAIL + 2, &idx, 2);
}

static void queue_seeds(void)
{
	static struct queue_seed s;

	/* Two direct chains: read, write, write; and a single write. */
	queue_config(&s, 16, false);
	set_desc(&s, Q_DESC, 5, Q_DATA, 16, VRING_DESC_F_NEXT, 9);
	set_desc(&s, Q_DESC, 9, Q_DATA + 0x10, 0x20, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(&s, Q_DESC, 2, Q_DATA + 0x30, 1, VRING_DESC_F_WRITE, 0);
	set_desc(&s, Q_DESC, 0, Q_DATA + 0x40, 0x40, VRING_DESC_F_WRITE, 0);
	offer(&s, 16, 5);
	offer(&s, 16, 0);
	seed("fuzz-virtq", "direct", &s, sizeof(s));

	/* An indirect chain of three, then a direct one. */
	queue_config(&s, 16, true);
	set_desc(&s, Q_ITAB, 0, Q_DATA, 16, VRING_DESC_F_NEXT, 2);
	set_desc(&s, Q_ITAB, 2, Q_DATA + 0x10, 0x10, VRING_DESC_F_NEXT, 1);
	set_desc(&s, Q_ITAB, 1, Q_DATA + 0x80, 0x80, VRING_DESC_F_WRITE, 0);
	set_desc(&s, Q_DESC, 3, Q_ITAB, 48, VRING_DESC_F_INDIRECT, 0);
	set_desc(&s, Q_DESC, 4, Q_DATA + 0x20, 8, 0, 0);
	offer(&s, 16, 3);
	offer(&s, 16, 4);
	seed("fuzz-virtq", "indirect", &s, sizeof(s));

	/* A 256-entry queue, one chain through every descriptor. */
	queue_config(&s, 256, false);
	for (unsigned i = 0; i < 256; i++)
		set_desc(&s, Q_DESC, i, Q_DATA + (i % 16) * 16, 16,
			 i + 1 < 256 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(&s, 256, 0);
	seed("fuzz-virtq", "whole-queue", &s, sizeof(s));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen-seeds DIR   (tests/fuzz/corpus)\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) && errno != EEXIST)
		die("%s: %s", root, strerror(errno));
	json_seeds();
	api_seeds();
	elf_seeds();
	state_seeds();
	snapfile_seeds();
	queue_seeds();
	return 0;
}
