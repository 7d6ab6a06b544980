/* SPDX-License-Identifier: MIT */
/*
 * abi.h: the boot and device ABI between the VMM and its freestanding test
 * guests (see README.md in this folder). Shared by both sides; plain
 * constants only.
 *
 * Guest-physical map:
 *   [0, 64 KiB)            the VMM's: page tables, GDT, TSS, IDT, exception
 *                          stubs, ring-0 stack, command line
 *   [64 KiB, mem)          guest RAM (ELF segments, then free memory); the
 *                          top ABI_STACK_SIZE * ncpus bytes hold the stacks
 *   [ABI_MMIO_BASE, +16K)  devices, one 4 KiB page each
 * Guest RAM is at most ABI_MEM_MAX so it never reaches the devices.
 */
#ifndef GUEST_ABI_H
#define GUEST_ABI_H

#define ABI_RESERVED 0x10000ULL	     /* guest RAM below this is the VMM's */
#define ABI_CMDLINE_GPA 0xf000ULL    /* NUL-terminated guest arguments */
#define ABI_CMDLINE_MAX 4096
#define ABI_STACK_SIZE 0x10000ULL    /* per vCPU, at the top of RAM */
#define ABI_MEM_MAX (3ULL << 30)

#define ABI_MMIO_BASE 0xd0000000ULL
#define ABI_UART_MMIO (ABI_MMIO_BASE + 0x0000) /* 16550 registers, byte-wide */
#define ABI_EXIT_MMIO (ABI_MMIO_BASE + 0x1000) /* write: exit status 0-99 */
#define ABI_HCALL_MMIO (ABI_MMIO_BASE + 0x2000) /* write: hypercall number */
#define ABI_CRASH_MMIO (ABI_MMIO_BASE + 0x3000) /* the VMM's exception stubs */
#define ABI_SYSCALL_MMIO (ABI_MMIO_BASE + 0x4000) /* Linux programs: the syscall stub (vmm/linux) */
#define ABI_MMIO_SIZE 0x5000ULL

/*
 * More devices (virtio-mmio, the DMA test device): one 4 KiB MMIO window
 * each, from ABI_DEV_MMIO_BASE on, listed for the guest in a table the VMM
 * writes at ABI_DEVTAB_GPA before boot: struct abi_devtab (magic, count)
 * followed by count struct abi_dev entries, in the order they were added.
 */
#define ABI_DEV_MMIO_BASE (ABI_MMIO_BASE + 0x10000)
#define ABI_DEV_WINDOW 0x1000ULL
#define ABI_DEV_MAX 16
#define ABI_DEVTAB_GPA 0xe000ULL
#define ABI_DEVTAB_MAGIC 0x56454456u /* "VDEV" */
#define ABI_DEV_VIRTIO 1	/* virtio-mmio transport, virtio 1.x */
#define ABI_DEV_DMA_TEST 2	/* the DMA test device */

#ifndef __ASSEMBLER__
#include <stdint.h>

struct abi_devtab {
	uint32_t magic;		/* ABI_DEVTAB_MAGIC */
	uint32_t count;		/* entries that follow, at most ABI_DEV_MAX */
};

struct abi_fuzz_cov {
	uint32_t magic;		/* ABI_FUZZ_COV_MAGIC */
	uint32_t size;		/* bytes, at most ABI_FUZZ_COV_MAX */
	uint64_t gpa;		/* the map, inside guest RAM */
};

struct abi_dev {
	uint32_t type;		/* ABI_DEV_* */
	uint32_t subtype;	/* virtio: the device ID (2 = block); else 0 */
	uint64_t base;		/* guest-physical MMIO window */
	uint64_t size;
};
#endif

/* The same devices as port I/O, for hosts that let ring 3 do port I/O. */
#define ABI_UART_PORT 0x3f8
#define ABI_EXIT_PORT 0xf4

/*
 * Hypercalls: the guest puts arguments in rdi, rsi, rdx and writes the
 * number (64-bit store) to ABI_HCALL_MMIO; the result (0 or a negative
 * errno, or a value) is in rax when the store completes.
 */
#define HC_NOP 0	 /* returns 0: the exit round trip */
#define HC_PARK 1	 /* this vCPU stops until the VM ends */
#define HC_WRITE 2	 /* console write (gpa, len): bytes written or -errno */
#define HC_TIME_NS 3	 /* host CLOCK_MONOTONIC in ns */
/*
 * Requests the VMM's controller serves; the VM pauses meanwhile.
 * HC_FUZZ_READY (gpa, max_len[, cov]): the snapshot point of a fuzzing run;
 *   returns the length of the input the VMM wrote at gpa (-ENOSYS outside
 *   `vmm fuzz` and `vmm afl`). cov (rdx): 0, or the gpa of a struct
 *   abi_fuzz_cov naming the guest's coverage map, which `vmm afl` copies
 *   into afl-fuzz's map after each run (zero it before the call: the map
 *   at the snapshot point is every run's starting map).
 * HC_FUZZ_DONE (result): this input is done; `vmm fuzz` resets the guest.
 * HC_CLONE: clone this VM; returns the clone's number n >= 1 in the parent,
 *   HC_CLONE_CHILD | n in the clone, or -errno.
 * HC_SNAPSHOT: save a live snapshot (to `vmm run --snapshot-to FILE`);
 *   returns 0 or -errno (in the restored VM too, 0).
 */
#define HC_FUZZ_READY 4
#define HC_FUZZ_DONE 5
#define HC_CLONE 6
#define HC_SNAPSHOT 7
#define HC_CLONE_CHILD (1ULL << 62)
#define HC_MAX_WRITE 65536

/*
 * A fuzzing target's coverage map (HC_FUZZ_READY's third argument): @size
 * bytes at @gpa, AFL's edge-counter layout (one byte per edge, hit counts
 * wrapping at 256), from 1 byte to ABI_FUZZ_COV_MAX.
 */
#define ABI_FUZZ_COV_MAGIC 0x564f4346u /* "FCOV" */
#define ABI_FUZZ_COV_MAX (8U << 20)    /* AFL's FS_OPT_MAX_MAPSIZE */

#define ABI_EXIT_STATUS_MAX 99

#endif
