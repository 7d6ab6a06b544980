// SPDX-License-Identifier: MIT
/*
 * linux-elf.c: tell a static Linux executable from a boot-ABI guest, and
 * load one (ET_EXEC at its addresses, ET_DYN static-pie at LINUX_PIE_BASE).
 *
 * Invariant: every value the file controls is checked (overflow-safe)
 * before anything is written to guest memory; segments land inside
 * [LINUX_USER_LO, memory size - stack), never in the VMM's low 2 MiB.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "linux-internal.h"

#define MAX_PHDRS 64
#define BOOT_ABI_NOTE_OWNER "vmm-cow"
#define BOOT_ABI_NOTE_TYPE 1

static int fail(char *msg, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *msg, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Header and program header table readable: 0, else -ENOEXEC with a message. */
static int read_headers(const void *image, size_t size, Elf64_Ehdr *eh, Elf64_Phdr *ph,
			char *msg, size_t len)
{
	if (size < sizeof(*eh) || memcmp(image, ELFMAG, SELFMAG))
		return fail(msg, len, -ENOEXEC, "not an ELF file (bad magic or truncated)");
	memcpy(eh, image, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64)
		return fail(msg, len, -ENOEXEC, "not a little-endian x86-64 ELF64");
	if (eh->e_ident[EI_OSABI] != ELFOSABI_SYSV && eh->e_ident[EI_OSABI] != ELFOSABI_GNU)
		return fail(msg, len, -ENOEXEC, "not a Linux executable (OS/ABI %u)",
			    eh->e_ident[EI_OSABI]);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return fail(msg, len, -ENOEXEC, "not an executable (type %u)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > MAX_PHDRS)
		return fail(msg, len, -ENOEXEC, "bad program headers (size %u, count %u)",
			    eh->e_phentsize, eh->e_phnum);
	if (eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return fail(msg, len, -ENOEXEC, "program headers past the end of the file");
	memcpy(ph, (const uint8_t *)image + eh->e_phoff, eh->e_phnum * sizeof(*ph));
	return 0;
}

/* 1 if the PT_NOTE @n holds the boot-ABI note, 0 if not, -1 if it cannot be read. */
static int has_boot_note(const void *image, size_t size, const Elf64_Phdr *n)
{
	const uint8_t *p = (const uint8_t *)image + n->p_offset;
	uint64_t left = n->p_filesz;

	if (n->p_offset > size || n->p_filesz > size - n->p_offset)
		return -1;
	while (left >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t namesz, descsz, total;

		memcpy(&nh, p, sizeof(nh));
		namesz = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
		descsz = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
		total = sizeof(nh) + namesz + descsz;
		if (total > left)
			return -1;
		if (nh.n_type == BOOT_ABI_NOTE_TYPE && nh.n_namesz == sizeof(BOOT_ABI_NOTE_OWNER) &&
		    !memcmp(p + sizeof(nh), BOOT_ABI_NOTE_OWNER, sizeof(BOOT_ABI_NOTE_OWNER)))
			return 1;
		p += total;
		left -= total;
	}
	return 0;
}

enum linux_elf_kind linux_elf__detect(const void *image, size_t size)
{
	Elf64_Phdr ph[MAX_PHDRS];
	Elf64_Ehdr eh;
	bool interp = false;

	if (read_headers(image, size, &eh, ph, NULL, 0))
		return LINUX_ELF_BOOT_ABI; /* its loader says what is wrong */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP)
			interp = true;
		if (ph[i].p_type == PT_NOTE && has_boot_note(image, size, &ph[i]) != 0)
			return LINUX_ELF_BOOT_ABI; /* marked, or a note that cannot be read */
	}
	return interp ? LINUX_ELF_DYNAMIC : LINUX_ELF_LINUX;
}

static int check_load(const Elf64_Phdr *ph, unsigned i, size_t size, uint64_t bias,
		      uint64_t hi, char *msg, size_t len)
{
	uint64_t lo = LINUX_USER_LO;

	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return fail(msg, len, -ENOEXEC, "segment %u: file range past the end of the file", i);
	if (ph->p_filesz > ph->p_memsz)
		return fail(msg, len, -ENOEXEC, "segment %u: file size larger than memory size", i);
	if (ph->p_vaddr > UINT64_MAX - bias || ph->p_vaddr + bias < lo ||
	    ph->p_vaddr + bias > hi || ph->p_memsz > hi - (ph->p_vaddr + bias))
		return fail(msg, len, -ERANGE, "segment %u: [0x%llx, +0x%llx) outside the guest's "
			    "program area [0x%llx, 0x%llx)", i,
			    (unsigned long long)(ph->p_vaddr + bias),
			    (unsigned long long)ph->p_memsz, (unsigned long long)lo,
			    (unsigned long long)hi);
	return 0;
}

/* Load bias: 0 for ET_EXEC; ET_DYN's lowest segment goes to LINUX_PIE_BASE. */
static uint64_t load_bias(const Elf64_Ehdr *eh, const Elf64_Phdr *ph)
{
	uint64_t min = UINT64_MAX;

	if (eh->e_type != ET_DYN)
		return 0;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_memsz && ph[i].p_vaddr < min)
			min = ph[i].p_vaddr;
	min &= ~(PAGE - 1);
	return min < LINUX_PIE_BASE ? LINUX_PIE_BASE - min : 0;
}

/* Check every PT_LOAD; entry and end of the image into @info. */
static int check_segments(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, size_t size,
			  uint64_t bias, uint64_t hi, struct elf_info *info, char *msg, size_t len)
{
	bool entry_ok = false;
	unsigned nload = 0;
	int err;

	info->end = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP)
			return fail(msg, len, -ENOEXEC, "dynamically linked (PT_INTERP): build it "
				    "with -static");
		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		err = check_load(&ph[i], i, size, bias, hi, msg, len);
		if (err)
			return err;
		for (unsigned j = 0; j < i; j++)
			if (ph[j].p_type == PT_LOAD && ph[j].p_memsz &&
			    ph[i].p_vaddr < ph[j].p_vaddr + ph[j].p_memsz &&
			    ph[j].p_vaddr < ph[i].p_vaddr + ph[i].p_memsz)
				return fail(msg, len, -ENOEXEC, "segments %u and %u overlap", j, i);
		if ((ph[i].p_flags & PF_X) && eh->e_entry >= ph[i].p_vaddr &&
		    eh->e_entry - ph[i].p_vaddr < ph[i].p_memsz)
			entry_ok = true;
		if (ph[i].p_vaddr + bias + ph[i].p_memsz > info->end)
			info->end = ph[i].p_vaddr + bias + ph[i].p_memsz;
		nload++;
	}
	if (!nload)
		return fail(msg, len, -ENOEXEC, "no loadable segment");
	if (!entry_ok)
		return fail(msg, len, -ENOEXEC, "entry point 0x%llx is not in an executable "
			    "segment", (unsigned long long)eh->e_entry);
	info->entry = eh->e_entry + bias;
	return 0;
}

/* AT_PHDR: where the program headers are in memory (as the kernel computes it). */
static uint64_t phdr_address(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, uint64_t bias)
{
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			return ph[i].p_vaddr + bias;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset <= eh->e_phoff &&
		    eh->e_phoff - ph[i].p_offset < ph[i].p_filesz)
			return ph[i].p_vaddr + bias + (eh->e_phoff - ph[i].p_offset);
	return 0;
}

int elf__load_linux(struct linux_proc *p, const void *image, size_t size,
		    struct elf_info *ret_info, char *msg, size_t msg_len)
{
	Elf64_Phdr ph[MAX_PHDRS];
	struct elf_info info = {0};
	Elf64_Ehdr eh;
	uint64_t bias;
	int err;

	err = read_headers(image, size, &eh, ph, msg, msg_len);
	if (err)
		return err;
	bias = load_bias(&eh, ph);
	err = check_segments(&eh, ph, size, bias, p->stack_lo, &info, msg, msg_len);
	if (err)
		return err;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		uint64_t start, end;

		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		start = (ph[i].p_vaddr + bias) & ~(PAGE - 1);
		end = PAGE_UP(ph[i].p_vaddr + bias + ph[i].p_memsz);
		err = mem__add(p, start, end, (int)ph[i].p_flags, VMA_IMAGE);
		if (err)
			return fail(msg, msg_len, err, "segment %u: cannot be mapped", i);
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		uint8_t *dst;

		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		dst = p->mem + ph[i].p_vaddr + bias;
		memcpy(dst, (const uint8_t *)image + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}
	info.phdr_gva = phdr_address(&eh, ph, bias);
	info.phnum = eh.e_phnum;
	*ret_info = info;
	return 0;
}
