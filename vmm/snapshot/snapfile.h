/* SPDX-License-Identifier: MIT */
/*
 * snapfile: the on-disk snapshot file, guest memory and vm_state in one file.
 *
 * Layout (version 1; every integer little-endian, offsets in bytes):
 *
 *   0          header block, 4 KiB: struct snapfile_header, then zeros.
 *   crc_off    page CRC table (written at 4096): one u32 CRC32 per guest
 *              page, gfn order; a page never written, or written as zeros,
 *              has the CRC of a zero page. crc_len = mem_size / 4096 * 4
 *              (3 MiB for the largest guest).
 *   mem_off    memory region (written at the first 4 KiB boundary after the
 *              table), mem_len = mem_size bytes: page gfn at
 *              mem_off + gfn * 4096. Zero pages are holes (the file is
 *              sparse), so a mostly empty guest costs little disk.
 *   state_off  state section (written at mem_off + mem_size), state_len
 *              bytes: a sequence of records { u32 type, u32 version,
 *              u32 length, length bytes of payload }, no padding between
 *              them: one SNAPFILE_REC_VM record and one SNAPFILE_REC_VCPU
 *              record per vCPU, in any order. The file ends with it.
 *
 * A reader takes the offsets from the header, not from the rules above, but
 * requires this order, no overlap, mem_off 4 KiB-aligned, and a file at
 * least as long as the last region.
 *
 * Why this order: a live snapshot writes memory pages while the guest runs,
 * so the memory region must sit at an offset fixed when the file is created,
 * and the CRC table's size is known then too; the state's size (XSAVE size,
 * MSR count) is only known at commit, so the state goes last. The header is
 * written last of all, then the file is fsync'ed and renamed into place: a
 * file at the final path is always complete.
 *
 * The header carries the CRC32 of itself (computed with header_crc = 0;
 * checked after magic and version, so another version may change the
 * header), of the CRC table and of the state section; each page is checked against its
 * table entry when memory is loaded. Loading rejects, with a one-line
 * message naming the file and the problem, anything it does not understand:
 * another magic or version, unknown flags, unknown record types or versions,
 * sizes over the caps below, regions out of order or past the end of the
 * file. The vCPU/VM payloads are the KVM UAPI structs as raw bytes (x86
 * layout), which is why the format is defined for little-endian hosts only.
 *
 * Error codes: -EINVAL malformed or truncated file, -ENOTSUP another version
 * or an unknown record type/version/flag, -E2BIG a size over a cap, -EIO a
 * CRC mismatch (or a read error), others from the system calls (-ENOENT...).
 */
#ifndef VMM_SNAPFILE_H
#define VMM_SNAPFILE_H

#include <assert.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "vm-state.h"

#define __snapfile_must_check __attribute__((warn_unused_result))

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the format is little-endian, as is x86");

#define SNAPFILE_MAGIC "VMMSNAP" /* 8 bytes with its NUL */
#define SNAPFILE_VERSION 1
#define SNAPFILE_PAGE_SIZE 4096u
#define SNAPFILE_HEADER_BLOCK 4096u

/* Caps, checked when writing and when loading. */
#define SNAPFILE_MEM_ALIGN (2ull << 20) /* mem_size is a multiple of 2 MiB */
#define SNAPFILE_MAX_MEM (3ull << 30)
#define SNAPFILE_MAX_CPUS 64
#define SNAPFILE_MAX_XSAVE (1u << 20)
#define SNAPFILE_MAX_MSRS 1024
#define SNAPFILE_MAX_STATE (16u << 20)

struct snapfile_header {
	char magic[8];	      /* SNAPFILE_MAGIC */
	uint32_t version;     /* SNAPFILE_VERSION */
	uint32_t header_size; /* sizeof(struct snapfile_header) */
	uint32_t header_crc;  /* CRC32 of header_size bytes, this field 0 */
	uint32_t flags;	      /* none defined: non-zero is rejected */
	uint64_t mem_size;    /* guest memory, bytes */
	uint32_t nr_cpus;
	uint32_t page_size; /* SNAPFILE_PAGE_SIZE */
	uint64_t crc_off, crc_len;
	uint64_t mem_off, mem_len;
	uint64_t state_off, state_len;
	uint32_t crc_table_crc; /* CRC32 of the page CRC table */
	uint32_t state_crc;	/* CRC32 of the state section */
};
static_assert(sizeof(struct snapfile_header) == 96, "on-disk layout");

struct snapfile_record {
	uint32_t type;	  /* SNAPFILE_REC_* */
	uint32_t version; /* of this record type's payload */
	uint32_t length;  /* payload bytes that follow */
};
static_assert(sizeof(struct snapfile_record) == 12, "on-disk layout");

enum { SNAPFILE_REC_VM = 1, SNAPFILE_REC_VCPU = 2 };

#define SNAPFILE_VM_IRQCHIP 0x1 /* struct vm_state.has_irqchip */
#define SNAPFILE_VM_PIT 0x2	/* struct vm_state.has_pit */

/* SNAPFILE_REC_VM, version 1: exactly this many bytes. */
struct snapfile_vm_v1 {
	uint32_t flags; /* SNAPFILE_VM_* */
	uint32_t pad;	/* written 0, ignored */
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};
static_assert(sizeof(struct snapfile_vm_v1) == 1728, "on-disk layout");

#define SNAPFILE_VCPU_XCRS 0x1	/* struct vcpu_state.has_xcrs */
#define SNAPFILE_VCPU_LAPIC 0x2 /* struct vcpu_state.has_lapic */
#define SNAPFILE_VCPU_PARKED 0x4 /* struct vcpu_state.parked (HC_PARK) */

/*
 * SNAPFILE_REC_VCPU, version 1: this struct, then xsave_size bytes of
 * struct kvm_xsave (sizeof(struct kvm_xsave) to SNAPFILE_MAX_XSAVE), then
 * nmsrs (at most SNAPFILE_MAX_MSRS) struct kvm_msr_entry.
 */
struct snapfile_vcpu_v1 {
	uint32_t index; /* vCPU number, < nr_cpus */
	uint32_t flags; /* SNAPFILE_VCPU_* */
	uint32_t xsave_size;
	uint32_t nmsrs;
	struct kvm_mp_state mp;
	uint32_t pad; /* written 0, ignored */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
};
static_assert(sizeof(struct snapfile_vcpu_v1) == 2088, "on-disk layout");

/* CRC32, IEEE 802.3 polynomial (zlib's crc32()); start with crc = 0. */
uint32_t snapfile__crc32(uint32_t crc, const void *buf, size_t len);

/* Writing. */

struct snapfile_writer;

/*
 * Start a snapshot of @mem_size bytes of guest memory (a multiple of 2 MiB,
 * at most 3 GiB) and @nr_cpus vCPUs (1..64): creates "@path.tmp-XXXXXX"
 * (mode 0600: it holds guest memory) next to @path; nothing appears at @path
 * until snapfile__commit.
 */
__snapfile_must_check int snapfile__create(const char *path, uint64_t mem_size, unsigned nr_cpus,
					   struct snapfile_writer **ret_w);
/*
 * Save page @gfn (4 KiB at @data; NULL means a zero page). Thread-safe and
 * lock-free: pages may come in any order from any threads, each at most once
 * (-EEXIST the second time, -ERANGE past mem_size). An all-zero page is left
 * a hole. @data must not change during the call. A failed write (-errno
 * from pwrite) also makes the commit fail, so a caller that cannot report
 * errors (a snapshot hook) may ignore them.
 */
int snapfile__write_page(struct snapfile_writer *w, uint64_t gfn, const void *data);
/*
 * Save @n consecutive pages from @gfn at @data at once (runs of non-zero
 * pages in one write each). The same rules as snapfile__write_page; on
 * -EEXIST no page of the range was written.
 */
int snapfile__write_pages(struct snapfile_writer *w, uint64_t gfn, const void *data, uint64_t n);
/* Guest memory saved so far, in bytes (zero pages included), for progress. */
uint64_t snapfile_writer__bytes(const struct snapfile_writer *w);
/*
 * Finish: pages never written read zero; writes the state, the CRC table and
 * the header, fsyncs, renames the file to the final path (atomically
 * replacing any file there) and fsyncs the directory. No write_page may run
 * concurrently or after. @w is freed whatever the result; on failure the
 * temporary file is removed and @path is untouched (except when only the
 * final directory fsync fails: the new file is then in place but may not
 * survive a crash). -EINVAL if @state's vCPU count differs from the one
 * given at create or an xsave_size is under sizeof(struct kvm_xsave),
 * -E2BIG over a cap, or the first error a write_page met.
 */
__snapfile_must_check int snapfile__commit(struct snapfile_writer *w, const struct vm_state *state);
/* Give up: removes the temporary file and frees @w. NULL: no-op. */
void snapfile__abort(struct snapfile_writer *w);

/* Reading. */

struct snapfile;

/*
 * Open and validate a snapshot: header, region sizes against the real file
 * size, the CRC table's and the state section's CRCs, every state record;
 * parses the state. Page contents are checked by snapfile__load_memory. On
 * failure @ret_msg (if not NULL) gets one line naming @path and what is wrong
 * where, e.g. "snap.vmm: vCPU 1 record: xsave size 99999999 over the 1 MiB
 * cap"; @ret_sf is untouched.
 */
__snapfile_must_check int snapfile__open(const char *path, struct snapfile **ret_sf, char *ret_msg,
					 size_t msg_len);
uint64_t snapfile__mem_size(const struct snapfile *sf);
unsigned snapfile__nr_cpus(const struct snapfile *sf);
/* The parsed state, owned by @sf (valid until snapfile__close). */
const struct vm_state *snapfile__state(const struct snapfile *sf);
/*
 * Read guest memory into @dst (mem_size bytes), which must be zero-filled
 * already (fresh anonymous or memfd memory): holes in the file are skipped,
 * not copied. Every page is checked against its CRC; a mismatch is -EIO and
 * "...: page at guest address 0x1234000 fails its CRC". @dst may have been
 * partly written on failure: throw it away.
 */
__snapfile_must_check int snapfile__load_memory(struct snapfile *sf, void *dst, char *ret_msg,
						size_t msg_len);
void snapfile__close(struct snapfile *sf); /* NULL: no-op */

/*
 * The state section on its own (snapfile-state.c). encode: @state to a
 * malloc'ed section; -EINVAL for a state it cannot describe, -E2BIG over a
 * cap. decode: a section to a state for vm_state__free, checking every
 * record against @nr_cpus and the caps; on failure a message (without the
 * file name) in @ret_msg.
 */
__snapfile_must_check int snapfile__encode_state(const struct vm_state *state, void **ret_buf,
						 size_t *ret_len);
__snapfile_must_check int snapfile__decode_state(const void *buf, size_t len, unsigned nr_cpus,
						 struct vm_state **ret_state, char *ret_msg,
						 size_t msg_len);

#endif
