/* SPDX-License-Identifier: MIT */
/*
 * elf-load: load an ELF64 x86-64 static executable into guest memory at its
 * link addresses (p_vaddr; guest-physical = virtual, the page tables being
 * an identity map).
 *
 * Every field the file controls is checked before anything is copied:
 * header, class, byte order, machine, type, program header table bounds,
 * each PT_LOAD's file range, sizes and guest range (inside [@lo, @hi), no
 * overlap with another PT_LOAD), and the entry point (inside an executable
 * segment). A rejected image leaves guest memory untouched.
 */
#ifndef VMM_ELF_LOAD_H
#define VMM_ELF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 64

struct elf_error {
	char msg[160];
};

/*
 * Load @image (@size bytes) into @mem, the host view of guest-physical
 * [0, @lo-or-more); segments must lie in guest-physical [@lo, @hi).
 * Returns 0 with the entry point in @ret_entry, or -ENOEXEC (malformed or
 * not for this machine) / -ERANGE (a segment outside [@lo, @hi)) with a
 * message in @ret_err naming the problem.
 */
int elf__load(const void *image, size_t size, void *mem, uint64_t lo, uint64_t hi,
	      uint64_t *ret_entry, struct elf_error *ret_err);

#endif
