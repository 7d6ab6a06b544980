/* SPDX-License-Identifier: MIT */
/*
 * dma-test: a DMA test device standing in for a passthrough NIC or GPU.
 * The guest hands it a buffer through MMIO registers (the register map is
 * in dma-test-regs.h); the device pins the buffer through mm (mm_pin, the
 * GUP analogue) and, from its own thread, writes sequence-numbered patterns
 * into the pinned pages and reads back what the guest wrote, on command and
 * on a timer. It reaches guest memory only through its pin's iovecs.
 *
 * Every value comes from the guest: a bad one sets ERROR and counts in
 * CNT_ERRORS, never more. The device does not log (the VMM does).
 *
 * Bus glue: dma_test__mmio has the signature of vm_device_ops.mmio
 * (vmm/vm/vm.h); vmm/dev/dev-setup.c puts the device on a VM's MMIO bus. The
 * host-side functions below let the VMM and tests drive the device and see
 * what it sees; they return 0 or a negative errno.
 *
 * Lifetime: create it over the VM's space before the guest runs; detach it
 * (stops the timer, drops queued work, unpins) before that space is
 * destroyed - a pinned space cannot be; destroy it once no vCPU can call
 * dma_test__mmio any more (the VM's vCPU threads are joined).
 *
 * Clones and resets: the VMM puts the device on VM 0 only (clones have no
 * devices); mm copies the pinned pages for every clone, so the device keeps
 * writing VM 0's own pages. A reset (mm_space_reset) of a space the device
 * pins either refuses, with MM_RESET_REFUSE_PINNED - what the control
 * socket's reset passes (vmm/group/group.c) - or restores the pinned pages in
 * place (what `vmm fuzz` does): never a silent unshare.
 */
#ifndef DEVICES_DMA_TEST_H
#define DEVICES_DMA_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dma-test-regs.h"
#include "mm.h"

struct dma_test_config {
	struct mm_space *space; /* the guest memory the device pins (not owned) */
	uint64_t min_gpa;	/* buffers start at or above this (the VMM's own
				   low memory is below); 0: anywhere */
	uint64_t max_len;	/* length cap; 0: DMA_TEST_DEFAULT_MAX_LEN */
};

struct dma_test_stats {
	uint64_t writes;       /* pattern writes done */
	uint64_t reads;	       /* read-backs done */
	uint64_t pins;	       /* pins taken through mm */
	uint64_t unpins;
	uint64_t pins_held;    /* now: 0 or 1 */
	uint64_t pinned_bytes; /* now */
	uint64_t errors;       /* guest commands and accesses rejected */
	uint64_t ticks;	       /* timer ticks */
};

struct dma_test;

__mm_must_check int dma_test__create(const struct dma_test_config *cfg,
				     struct dma_test **ret_dev);
/* Stops the device thread, unpins, frees. NULL: no-op. */
void dma_test__destroy(struct dma_test *dev);
/*
 * Stop DMA for good: timer off, queued work dropped, pin released. Later
 * commands fail with DMA_ERR_DETACHED (host calls: -ESHUTDOWN). Idempotent.
 */
void dma_test__detach(struct dma_test *dev);

/* The MMIO window (vm_device_ops.mmio): @len 1-8 bytes at @off. */
void dma_test__mmio(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

/*
 * Host-side commands, as the guest's PIN/UNPIN (not counted as guest
 * errors): -EINVAL bad length or flags, -ERANGE outside RAM, -EBUSY a
 * buffer is set, -ENOENT none is, -EPERM direction not pinned for,
 * -ESHUTDOWN detached, or mm_pin's error.
 */
__mm_must_check int dma_test__pin(struct dma_test *dev, uint64_t gpa, uint64_t len,
				  unsigned dma_flags);
__mm_must_check int dma_test__unpin(struct dma_test *dev);
/* Write pattern @seq into the buffer now, on the calling thread. */
__mm_must_check int dma_test__write_now(struct dma_test *dev, uint64_t seq);
/* Checksum (dma_checksum) the buffer now, on the calling thread. */
__mm_must_check int dma_test__read_now(struct dma_test *dev, uint64_t *ret_checksum);
/* Start (period in µs, DMA_TIMER_MIN_US..MAX_US) or stop the timer. */
__mm_must_check int dma_test__timer_start(struct dma_test *dev, uint64_t period_us);
void dma_test__timer_stop(struct dma_test *dev);
/*
 * The held pin's iovecs (NULL and 0 if no pin is held): what the device
 * DMAs through. For tests; valid until the pin is released.
 */
const struct iovec *dma_test__pin_iov(struct dma_test *dev, unsigned *ret_niov);
void dma_test__stats(struct dma_test *dev, struct dma_test_stats *ret_stats);

#endif
