// SPDX-License-Identifier: MIT
/*
 * elf-load.c: ELF64 loader with bounds checks (see elf-load.h).
 *
 * Invariant: nothing is written to guest memory until every header and
 * segment has been validated; arithmetic on file values is overflow-checked.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "elf-load.h"

static int fail(struct elf_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct elf_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err;
}

static int check_header(const Elf64_Ehdr *eh, size_t size, struct elf_error *e)
{
	if (size < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return fail(e, -ENOEXEC, "not an ELF file (bad magic)");
	if (size < sizeof(*eh))
		return fail(e, -ENOEXEC, "truncated ELF header (%zu bytes)", size);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(e, -ENOEXEC, "not a 64-bit ELF (class %u)", eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(e, -ENOEXEC, "not little-endian (data %u)", eh->e_ident[EI_DATA]);
	if (eh->e_machine != EM_X86_64)
		return fail(e, -ENOEXEC, "not an x86-64 ELF (machine %u)", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return fail(e, -ENOEXEC, "not a static executable (type %u; PIE and "
				      "shared objects are not loaded)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(e, -ENOEXEC, "bad program header size %u", eh->e_phentsize);
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_SEGMENTS)
		return fail(e, -ENOEXEC, "bad program header count %u", eh->e_phnum);
	if (eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return fail(e, -ENOEXEC, "program headers past the end of the file");
	return 0;
}

static int check_segment(const Elf64_Phdr *ph, unsigned i, size_t size, uint64_t lo,
			 uint64_t hi, struct elf_error *e)
{
	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return fail(e, -ENOEXEC, "segment %u: file range 0x%llx+0x%llx past the end "
				      "of the file (%zu bytes)", i,
			    (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz,
			    size);
	if (ph->p_filesz > ph->p_memsz)
		return fail(e, -ENOEXEC, "segment %u: file size larger than memory size", i);
	if (ph->p_vaddr < lo || ph->p_vaddr > hi || ph->p_memsz > hi - ph->p_vaddr)
		return fail(e, -ERANGE, "segment %u: [0x%llx, 0x%llx) outside guest memory "
				     "[0x%llx, 0x%llx)", i, (unsigned long long)ph->p_vaddr,
			    (unsigned long long)ph->p_vaddr + ph->p_memsz,
			    (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

int elf__load(const void *image, size_t size, void *mem, uint64_t lo, uint64_t hi,
	      uint64_t *ret_entry, struct elf_error *ret_err)
{
	const uint8_t *img = image;
	const Elf64_Ehdr *eh = image;
	Elf64_Phdr ph[ELF_MAX_SEGMENTS];
	bool entry_ok = false;
	unsigned nload = 0;
	int err;

	err = check_header(eh, size, ret_err);
	if (err)
		return err;
	/* Copied out: the file need not keep program headers aligned. */
	memcpy(ph, img + eh->e_phoff, eh->e_phnum * sizeof(ph[0]));
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		err = check_segment(&ph[i], i, size, lo, hi, ret_err);
		if (err)
			return err;
		for (unsigned j = 0; j < i; j++) {
			if (ph[j].p_type != PT_LOAD || ph[j].p_memsz == 0)
				continue;
			if (ph[i].p_vaddr < ph[j].p_vaddr + ph[j].p_memsz &&
			    ph[j].p_vaddr < ph[i].p_vaddr + ph[i].p_memsz)
				return fail(ret_err, -ENOEXEC, "segments %u and %u overlap", j, i);
		}
		if ((ph[i].p_flags & PF_X) && eh->e_entry >= ph[i].p_vaddr &&
		    eh->e_entry < ph[i].p_vaddr + ph[i].p_memsz)
			entry_ok = true;
		nload++;
	}
	if (!nload)
		return fail(ret_err, -ENOEXEC, "no loadable segment");
	if (!entry_ok)
		return fail(ret_err, -ENOEXEC, "entry point 0x%llx is not in an executable segment",
			    (unsigned long long)eh->e_entry);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		uint8_t *dst;

		/* Only checked segments: another's p_vaddr may point anywhere. */
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		dst = (uint8_t *)mem + ph[i].p_vaddr;
		memcpy(dst, img + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}
	*ret_entry = eh->e_entry;
	return 0;
}
