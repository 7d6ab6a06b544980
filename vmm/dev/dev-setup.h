/* SPDX-License-Identifier: MIT */
/*
 * dev-setup: the glue between device models (devices/, which know nothing
 * of KVM) and a VM's MMIO bus (vm__add_device). Each helper creates a
 * device over the VM's guest memory and lists it in the guest's device
 * table; call it after vm__create and before vm__load_elf.
 */
#ifndef VMM_DEV_SETUP_H
#define VMM_DEV_SETUP_H

#include <stdint.h>
#include <stdio.h>

#include "dma-test.h"
#include "vm.h"

/*
 * The DMA test device (ABI_DEV_DMA_TEST) over @vm's memory; buffers must
 * lie in guest RAM above the VMM's reserved low memory. The caller owns the
 * device: dma_test__detach before the VM is destroyed (its pin would keep
 * the space alive), dma_test__destroy after. @ret_gpa may be NULL.
 */
int dev_setup__dma_test(struct vm *vm, struct dma_test **ret_dev, uint64_t *ret_gpa);
/* One line of the device's counters, for --stats. */
void dev_setup__print_dma_test(FILE *out, struct dma_test *dev);

#endif
