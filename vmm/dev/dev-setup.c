// SPDX-License-Identifier: MIT
/*
 * dev-setup.c: devices onto a VM's MMIO bus (dev-setup.h).
 *
 * vmm/dev owns the wiring of devices/ models onto a VM's bus: the DMA test
 * device (this file) and virtio-blk (dev-blk.c). It may call vmm/vm and
 * devices. Public: dev-setup.h, dev-blk.h.
 *
 * Invariant: a device is listed on the bus only once it exists, and it
 * outlives the bus (the caller destroys it after the VM); a failure leaves
 * neither a device nor a bus entry behind.
 */
#include "abi.h"
#include "dev-setup.h"

static const struct vm_device_ops dma_test_ops = {
	.mmio = dma_test__mmio,
};

int dev_setup__dma_test(struct vm *vm, struct dma_test **ret_dev, uint64_t *ret_gpa)
{
	struct dma_test_config cfg = {.space = vm__space(vm), .min_gpa = ABI_RESERVED};
	struct dma_test *dev;
	int err;

	err = dma_test__create(&cfg, &dev);
	if (err)
		return err;
	err = vm__add_device(vm, ABI_DEV_DMA_TEST, 0, &dma_test_ops, dev, ret_gpa);
	if (err) {
		dma_test__destroy(dev);
		return err;
	}
	*ret_dev = dev;
	return 0;
}

void dev_setup__print_dma_test(FILE *out, struct dma_test *dev)
{
	struct dma_test_stats s;

	dma_test__stats(dev, &s);
	fprintf(out, "stats: dma-test: writes %llu, reads %llu, pins %llu, unpins %llu, "
		"pins held %llu (%llu bytes), timer ticks %llu, errors %llu\n",
		(unsigned long long)s.writes, (unsigned long long)s.reads,
		(unsigned long long)s.pins, (unsigned long long)s.unpins,
		(unsigned long long)s.pins_held, (unsigned long long)s.pinned_bytes,
		(unsigned long long)s.ticks, (unsigned long long)s.errors);
}
