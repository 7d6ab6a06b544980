// SPDX-License-Identifier: MIT
/*
 * linux-mem.c: a process's guest memory - checked guest pointers, and the
 * bookkeeping of brk, mmap, munmap, mremap, mprotect and madvise over
 * anonymous memory from mm.
 *
 * Invariants:
 * - p->vmas is sorted by start, its ranges page-aligned, non-empty and
 *   disjoint, all inside [LINUX_USER_LO, mem_size).
 * - Memory a call hands out reads zero: mmap discards its range through
 *   mm (mm_space_discard: frames back to the pool, pages read zero), and
 *   munmap, a shrinking brk and MADV_DONTNEED discard what they drop. So a
 *   clone of the VM shares every page the program touched copy-on-write,
 *   and freed memory goes back to the host.
 * - Protection is recorded, not enforced: the guest's page tables map RAM
 *   with 2 MiB user-writable pages (README.md, "Linux programs").
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "linux-internal.h"

#define GAP PAGE /* between the mapping area and the stack */

void *linux_mem__ptr(struct linux_proc *p, uint64_t gva, uint64_t len)
{
	if (!len)
		len = 1;
	if (gva < LINUX_USER_LO || gva >= p->mem_size || len > p->mem_size - gva)
		return NULL;
	/* Reads too: the caller may write, and a page too many only costs a copy. */
	for (uint64_t g = gva / PAGE; p->touched && g <= (gva + len - 1) / PAGE; g++)
		p->touched[g / 64] |= 1ULL << (g % 64);
	return p->mem + gva;
}

int mem__strncpy(struct linux_proc *p, uint64_t gva, char *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		const char *c = linux_mem__ptr(p, gva + i, 1);

		if (gva + i < gva || !c)
			return -EFAULT;
		out[i] = *c;
		if (!*c)
			return 0;
	}
	return -ENAMETOOLONG;
}

int mem__init(struct linux_proc *p)
{
	uint64_t stack = p->mem_size / 4 < LINUX_STACK_MAX ? p->mem_size / 4 : LINUX_STACK_MAX;

	stack &= ~(PAGE - 1);
	p->stack_lo = p->mem_size - stack;
	p->mmap_top = p->stack_lo - GAP;
	p->nr_vmas = 0;
	return mem__add(p, p->stack_lo, p->mem_size, PROT_READ | PROT_WRITE, VMA_STACK);
}

static void vma_remove_at(struct linux_proc *p, unsigned i)
{
	memmove(&p->vmas[i], &p->vmas[i + 1], (p->nr_vmas - i - 1) * sizeof(p->vmas[0]));
	p->nr_vmas--;
}

static int vma_insert_at(struct linux_proc *p, unsigned i, const struct vma *v)
{
	if (p->nr_vmas >= LINUX_MAX_VMAS)
		return -ENOMEM;
	memmove(&p->vmas[i + 1], &p->vmas[i], (p->nr_vmas - i) * sizeof(p->vmas[0]));
	p->vmas[i] = *v;
	p->nr_vmas++;
	return 0;
}

/* Merge vma @i with its neighbours of the same kind and protection. */
static void vma_merge(struct linux_proc *p, unsigned i)
{
	if (i + 1 < p->nr_vmas && p->vmas[i].end == p->vmas[i + 1].start &&
	    p->vmas[i].kind == p->vmas[i + 1].kind && p->vmas[i].prot == p->vmas[i + 1].prot) {
		p->vmas[i].end = p->vmas[i + 1].end;
		vma_remove_at(p, i + 1);
	}
	if (i > 0 && p->vmas[i - 1].end == p->vmas[i].start &&
	    p->vmas[i - 1].kind == p->vmas[i].kind && p->vmas[i - 1].prot == p->vmas[i].prot) {
		p->vmas[i - 1].end = p->vmas[i].end;
		vma_remove_at(p, i);
	}
}

/* First vma ending above @addr (nr_vmas if none). */
static unsigned vma_find(const struct linux_proc *p, uint64_t addr)
{
	unsigned i = 0;

	while (i < p->nr_vmas && p->vmas[i].end <= addr)
		i++;
	return i;
}

static bool range_free(const struct linux_proc *p, uint64_t start, uint64_t end)
{
	unsigned i = vma_find(p, start);

	return i == p->nr_vmas || p->vmas[i].start >= end;
}

int mem__add(struct linux_proc *p, uint64_t start, uint64_t end, int prot, enum vma_kind kind)
{
	struct vma v = {.start = start, .end = end, .prot = prot, .kind = kind};
	unsigned i = vma_find(p, start);

	if (start >= end || start < LINUX_USER_LO || end > p->mem_size)
		return -EINVAL;
	/* ELF segments may share a page: an image mapping absorbs the image's others. */
	while (kind == VMA_IMAGE && i < p->nr_vmas && p->vmas[i].start < v.end &&
	       p->vmas[i].kind == VMA_IMAGE) {
		v.start = p->vmas[i].start < v.start ? p->vmas[i].start : v.start;
		v.end = p->vmas[i].end > v.end ? p->vmas[i].end : v.end;
		v.prot |= p->vmas[i].prot;
		vma_remove_at(p, i);
	}
	if (i < p->nr_vmas && p->vmas[i].start < v.end)
		return -EEXIST;
	return vma_insert_at(p, i, &v);
}

/* Drop [start, end) from the mappings, splitting at the edges; discard if @discard. */
static int unmap_range(struct linux_proc *p, uint64_t start, uint64_t end, bool discard)
{
	unsigned i = vma_find(p, start);

	while (i < p->nr_vmas && p->vmas[i].start < end) {
		struct vma *v = &p->vmas[i];

		if (v->start < start && v->end > end) {
			struct vma tail = *v;

			tail.start = end;
			if (vma_insert_at(p, i + 1, &tail))
				return -ENOMEM;
			p->vmas[i].end = start;
			break;
		}
		if (v->start < start) {
			v->end = start;
			i++;
		} else if (v->end > end) {
			v->start = end;
			break;
		} else {
			vma_remove_at(p, i);
		}
	}
	if (discard && mm_space_discard(p->space, start, end - start))
		return -ENOMEM; /* pinned: cannot happen to a process's memory */
	return 0;
}

/* Highest free [addr, addr + len) in [low, p->mmap_top), or 0. */
static uint64_t find_gap(const struct linux_proc *p, uint64_t len, uint64_t low)
{
	uint64_t top = p->mmap_top;

	for (unsigned i = p->nr_vmas; i-- > 0;) {
		const struct vma *v = &p->vmas[i];

		if (v->start >= top)
			continue;
		if (v->end <= top && top - v->end >= len && top - len >= low)
			return top - len;
		top = v->start;
	}
	return top >= low && top - low >= len ? top - len : 0;
}

int64_t mem__brk(struct linux_proc *p, uint64_t addr)
{
	uint64_t old_end = PAGE_UP(p->brk), new_end = PAGE_UP(addr);

	if (addr < p->brk_start || addr > p->mmap_top)
		return (int64_t)p->brk;
	if (new_end > old_end) {
		if (!range_free(p, old_end, new_end))
			return (int64_t)p->brk;
		if (mm_space_discard(p->space, old_end, new_end - old_end) ||
		    mem__add(p, old_end, new_end, PROT_READ | PROT_WRITE, VMA_HEAP))
			return (int64_t)p->brk;
		vma_merge(p, vma_find(p, old_end));
	} else if (new_end < old_end && unmap_range(p, new_end, old_end, true)) {
		return (int64_t)p->brk;
	}
	p->brk = addr;
	return (int64_t)addr;
}

static int64_t map_anon(struct linux_proc *p, uint64_t addr, uint64_t len, int prot)
{
	int err = mm_space_discard(p->space, addr, len);

	if (!err)
		err = mem__add(p, addr, addr + len, prot, VMA_ANON);
	if (err)
		return err == -EEXIST ? -ENOMEM : err;
	vma_merge(p, vma_find(p, addr));
	return (int64_t)addr;
}

int64_t mem__mmap(struct linux_proc *p, uint64_t addr, uint64_t len, int prot, int flags,
		  int fd, uint64_t off)
{
	int type = flags & MAP_TYPE;
	uint64_t at;

	if (!len || len > p->mem_size || (addr & (PAGE - 1)) || (off & (PAGE - 1)))
		return -EINVAL;
	if (type != MAP_PRIVATE && type != MAP_SHARED)
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS))
		return fd < 0 ? -EBADF : -ENODEV; /* files are read with read/pread */
	len = PAGE_UP(len);
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (!linux_mem__ptr(p, addr, len))
			return (flags & MAP_FIXED) ? -ENOMEM : -EINVAL;
		if (!range_free(p, addr, addr + len)) {
			if (!(flags & MAP_FIXED))
				return -EEXIST;
			if (unmap_range(p, addr, addr + len, false))
				return -ENOMEM;
		}
		return map_anon(p, addr, len, prot);
	}
	/* A hint is taken when it is free, as Linux does. */
	if (addr && linux_mem__ptr(p, addr, len) && addr + len <= p->mmap_top &&
	    addr >= PAGE_UP(p->brk) && range_free(p, addr, addr + len))
		return map_anon(p, addr, len, prot);
	at = find_gap(p, len, PAGE_UP(p->brk));
	return at ? map_anon(p, at, len, prot) : -ENOMEM;
}

/* [addr, addr + len) page-aligned inside user memory: 0 or -EINVAL. */
static int check_range(struct linux_proc *p, uint64_t addr, uint64_t *len)
{
	if ((addr & (PAGE - 1)) || !*len)
		return -EINVAL;
	*len = PAGE_UP(*len);
	if (!*len || !linux_mem__ptr(p, addr, *len))
		return -EINVAL;
	return 0;
}

int64_t mem__munmap(struct linux_proc *p, uint64_t addr, uint64_t len)
{
	int err = check_range(p, addr, &len);

	if (err)
		return err;
	/* The ELF image and the stack stay (Linux would unmap them: nobody does). */
	for (unsigned i = vma_find(p, addr); i < p->nr_vmas && p->vmas[i].start < addr + len; i++)
		if (p->vmas[i].kind != VMA_ANON)
			return -EINVAL;
	return unmap_range(p, addr, addr + len, true);
}

/* Every page of [addr, addr + len) mapped: 0, else -ENOMEM (Linux's answer). */
static int range_mapped(const struct linux_proc *p, uint64_t addr, uint64_t len)
{
	uint64_t at = addr, end = addr + len;

	for (unsigned i = vma_find(p, addr); i < p->nr_vmas && at < end; i++) {
		if (p->vmas[i].start > at)
			return -ENOMEM;
		at = p->vmas[i].end;
	}
	return at >= end ? 0 : -ENOMEM;
}

int64_t mem__mprotect(struct linux_proc *p, uint64_t addr, uint64_t len, int prot)
{
	int err;

	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	if (!len)
		return (addr & (PAGE - 1)) ? -EINVAL : 0;
	err = check_range(p, addr, &len);
	if (err)
		return addr < LINUX_USER_LO || addr >= p->mem_size ? -ENOMEM : err;
	return range_mapped(p, addr, len);
}

int64_t mem__madvise(struct linux_proc *p, uint64_t addr, uint64_t len, int advice)
{
	int err;

	if (!len)
		return (addr & (PAGE - 1)) ? -EINVAL : 0;
	err = check_range(p, addr, &len);
	if (err)
		return err;
	err = range_mapped(p, addr, len);
	if (err)
		return err;
	if (advice == MADV_DONTNEED || advice == MADV_FREE) {
		for (unsigned i = vma_find(p, addr); i < p->nr_vmas && p->vmas[i].start < addr + len;
		     i++)
			if (p->vmas[i].kind == VMA_IMAGE)
				return -EINVAL; /* file-backed on Linux: would reload, not zero */
		return mm_space_discard(p->space, addr, len) ? -EAGAIN : 0;
	}
	return 0; /* hints */
}

int64_t mem__mremap(struct linux_proc *p, uint64_t old, uint64_t old_len, uint64_t new_len,
		    int flags, uint64_t new_addr)
{
	unsigned i;
	int64_t at;
	int err;

	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED))
		return -EINVAL;
	if (flags & MREMAP_FIXED)
		return -EINVAL; /* not supported: nothing static needs it */
	err = check_range(p, old, &old_len);
	if (err || !new_len)
		return -EINVAL;
	new_len = PAGE_UP(new_len);
	if (!new_len || new_len > p->mem_size)
		return -ENOMEM;
	i = vma_find(p, old);
	if (i == p->nr_vmas || p->vmas[i].kind != VMA_ANON || p->vmas[i].start > old ||
	    p->vmas[i].end < old + old_len)
		return -EFAULT; /* Linux: not one mapping */
	if (new_len <= old_len) {
		err = unmap_range(p, old + new_len, old + old_len, true);
		return err ? err : (int64_t)old;
	}
	if (p->vmas[i].end == old + old_len && old + new_len <= p->mmap_top &&
	    range_free(p, old + old_len, old + new_len)) {
		err = mm_space_discard(p->space, old + old_len, new_len - old_len);
		if (err)
			return -ENOMEM;
		err = mem__add(p, old + old_len, old + new_len, p->vmas[i].prot, VMA_ANON);
		if (err)
			return -ENOMEM;
		vma_merge(p, vma_find(p, old + old_len));
		return (int64_t)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	at = mem__mmap(p, 0, new_len, p->vmas[i].prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (at < 0)
		return at;
	memmove(p->mem + at, p->mem + old, old_len);
	err = unmap_range(p, old, old + old_len, true);
	return err ? err : at;
}
