// SPDX-License-Identifier: MIT
/*
 * test-dma-vm: the DMA test device in VMs under KVM (suites devices and
 * integration), driven by the dmatest guest and checked from the host
 * through each VM's mm space (page info, host mapping) and through the
 * device's iovecs.
 *
 * - Each dmatest mode passes in the guest: pin-write (aligned, unaligned,
 *   short-term, 8 MiB), guest-write, hostile (every bad value refused, the
 *   VM runs on to a clean exit).
 * - Invariant 4: a R/W longterm pin, then a clone - by the guest's HC_CLONE
 *   (group) and by vm__clone: device writes reach the parent only, the
 *   clone's writes never reach the device, the parent's do.
 * - Invariant 5: a R/O pin on a page shared with an earlier clone is
 *   unshared first (exactly one copy a page, host-driven; some unshare
 *   either way, guest-driven); the device sees the owner's later writes.
 * - Pin, clone, unpin, write: no copy; after a later clone went, a reuse.
 * - Reset of a fuzzing clone (MM_CLONE_RESETTABLE) while its device holds a
 *   pin: MM_RESET_REFUSE_PINNED refuses (-EBUSY); without it the page is
 *   restored in place and the device still addresses the guest's frame.
 *   The VMM's control-socket reset (group.c) passes MM_RESET_REFUSE_PINNED
 *   and reports the refusal; `vmm fuzz` resets with 0 (restore in place),
 *   its VMs having no device.
 *
 * Races and the CLI are in test-dma-race.c. Without /dev/kvm: exit 77.
 */
#include "dma-vm.h"

static void test_guest_modes(void **state)
{
	static const struct {
		const char *args, *line;
		uint64_t errors; /* the refusals the mode provokes */
	} modes[] = {
		{"pin-write", "pin-write ok (len 65536, gpa 0x1000000, longterm)", 0},
		{"pin-write 12295 5", "pin-write ok (len 12295, gpa 0x1000005, longterm)", 0},
		{"pin-write 12295 4091 short", "ok (len 12295, gpa 0x1000ffb, short-term)", 0},
		{"pin-write 8388608", "pin-write ok (len 8388608, gpa 0x1000000, longterm)", 0},
		{"guest-write", "dmatest: guest-write ok (len 65536)", 1},
		{"hostile", "dmatest: hostile ok (33 bad values refused)", 33},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int serial = console_fd();
		struct dma_test_stats st;
		struct dma_test *dev;
		struct vm *vm = boot_dev("dmatest", modes[i].args, serial, NULL, &dev);

		if (run_alone(vm))
			fail_msg("dmatest %s failed:\n%s", modes[i].args, console(serial));
		dma_test__stats(dev, &st);
		assert_int_equal(st.pins_held, 0);
		assert_int_equal(st.pins, st.unpins);
		assert_int_equal(st.errors, modes[i].errors);
		dma_test__detach(dev);
		vm__destroy(vm);
		dma_test__destroy(dev);
		assert_console_has(serial, modes[i].line);
		close(serial);
	}
}

/* A dmatest clone mode through a group: VM 0 and its clone 1, both ok. */
static struct group *run_clone_mode(const char *mode, const char *parent_line, int serial,
				    struct dma_test **ret_dev)
{
	int status = -1;
	struct group *g = run_group(boot_dev("dmatest", mode, serial, NULL, ret_dev), serial,
				    &status);

	if (status)
		fail_msg("dmatest %s: status %d:\n%s", mode, status, console(serial));
	assert_int_equal(group__nr_vms(g), 2);
	assert_console_has(serial, parent_line);
	assert_console_has(serial, "[clone 1] dmatest: clone 1 ok");
	return g;
}

static void end_group(struct group *g, struct dma_test *dev, int serial)
{
	dma_test__detach(dev);
	group__destroy(g);
	dma_test__destroy(dev);
	close(serial);
}

static void test_rw_pin_guest_clone(void **state)
{
	int serial = console_fd();
	struct dma_test *dev;
	struct group *g = run_clone_mode("clone-rw", "dmatest: clone-rw parent ok", serial, &dev);
	struct vm *vm0 = group__vm(g, 0), *vm1 = group__vm(g, 1);

	assert_int_equal(space_stats(vm0).clone_pinned_copies, GNPG);
	assert_pattern(vm_buf(vm0), GLEN, 200); /* the parent's last fill */
	assert_rw_isolation(vm0, vm1, dev, 101);
	end_group(g, dev, serial);
}

/* Boot pin-hold and wait until its pin is taken and its vCPU parked. */
static struct vm *boot_pinned(int serial, struct dma_test **ret_dev)
{
	struct vm *vm = boot_dev("dmatest", "pin-hold", serial, NULL, ret_dev);

	assert_int_equal(vm__start(vm), 0);
	wait_console(serial, "dmatest: pinned");
	while (!vm__vcpu_parked(vm, 0))
		sleep_us(500);
	return vm;
}

static void test_rw_pin_vm_clone(void **state)
{
	struct vm_clone_config cc = {.serial_fd = -1};
	int serial = console_fd();
	struct dma_test *dev;
	struct vm *vm = boot_pinned(serial, &dev), *child;
	struct mm_stats before = space_stats(vm);

	assert_int_equal(vm__clone(vm, &cc, &child, NULL), 0);
	assert_int_equal(space_stats(vm).clone_pinned_copies - before.clone_pinned_copies, GNPG);
	assert_rw_isolation(vm, child, dev, 1);
	vm__destroy(child);
	dma_test__detach(dev);
	vm__destroy(vm);
	dma_test__destroy(dev);
	close(serial);
}

static void test_ro_pin_guest_clone(void **state)
{
	int serial = console_fd();
	struct dma_test *dev;
	struct group *g = run_clone_mode("clone-ro", "dmatest: clone-ro parent ok", serial, &dev);
	struct vm *vm0 = group__vm(g, 0), *vm1 = group__vm(g, 1);
	struct mm_stats st = space_stats(vm0);

	/* A copy if the clone had not written the page yet, else a reuse. */
	assert_true(st.unshare_copies + st.unshare_reuses >= GNPG);
	assert_own_pages(vm0, vm1, 1);
	assert_pattern(vm_buf(vm0), GLEN, 6);
	assert_pattern(vm_buf(vm1), GLEN, 101);
	assert_device_sees(dev, vm_buf(vm0), GLEN);
	assert_int_equal(dma_test__write_now(dev, 1), -EPERM);
	end_group(g, dev, serial);
}

/* A running guest, paused: the host is its only writer from here on. */
static struct vm *boot_paused_spin(struct mm_pool *pool, struct dma_test **ret_dev)
{
	struct vm *vm = boot_dev("spin", "4000000000", -1, pool, ret_dev);

	assert_int_equal(vm__start(vm), 0);
	sleep_us(20000);
	vm__pause(vm);
	return vm;
}

static void test_ro_pin_vm_clone(void **state)
{
	struct vm_clone_config cc = {.serial_fd = -1};
	struct dma_test *dev;
	struct vm *vm = boot_paused_spin(NULL, &dev), *child;
	struct mm_stats a, b;

	guest_fill(vm__space(vm), GBUF, GNPG, 0x100);
	assert_int_equal(vm__clone(vm, &cc, &child, NULL), 0);
	a = space_stats(vm);
	assert_int_equal(dma_test__pin(dev, GBUF, GLEN, DMA_F_DEV_READS | DMA_F_LONGTERM), 0);
	b = space_stats(vm);
	assert_int_equal(b.unshare_copies - a.unshare_copies, GNPG);
	assert_int_equal(b.unshare_reuses - a.unshare_reuses, 0);
	assert_own_pages(vm, child, 1);
	guest_fill(vm__space(vm), GBUF, GNPG, 0x200);
	assert_device_sees(dev, vm_buf(vm), GLEN);
	guest_fill(vm__space(child), GBUF, GNPG, 0x300);
	assert_device_sees(dev, vm_buf(vm), GLEN);
	assert_tags_at(vm__space(vm), GBUF, GNPG, 0x200);
	vm__destroy(child);
	dma_test__detach(dev);
	vm__destroy(vm);
	dma_test__destroy(dev);
}

static void test_unpin_reuse_guest_clone(void **state)
{
	int serial = console_fd();
	struct dma_test *dev;
	struct group *g = run_clone_mode("clone-unpin", "dmatest: clone-unpin parent ok", serial,
					 &dev);
	struct vm *vm0 = group__vm(g, 0), *vm1 = group__vm(g, 1);

	assert_int_equal(space_stats(vm0).clone_pinned_copies, GNPG);
	assert_own_pages(vm0, vm1, 0);
	assert_pattern(vm_buf(vm0), GLEN, 3);
	assert_pattern(vm_buf(vm1), GLEN, 101);
	end_group(g, dev, serial);
}

static void test_unpin_reuse_vm_clone(void **state)
{
	struct vm_clone_config cc = {.serial_fd = -1};
	struct dma_test *dev;
	struct vm *vm = boot_paused_spin(NULL, &dev), *c1, *c2;
	struct mm_stats a, b;
	uint64_t pfn0;

	guest_fill(vm__space(vm), GBUF, GNPG, 0x100);
	assert_int_equal(dma_test__pin(dev, GBUF, GLEN, RW_LT), 0);
	pfn0 = page_info(vm__space(vm), GBUF).pfn;
	assert_int_equal(vm__clone(vm, &cc, &c1, NULL), 0);
	assert_int_equal(dma_test__unpin(dev), 0);
	a = space_stats(vm);
	guest_fill(vm__space(vm), GBUF, GNPG, 0x200);
	b = space_stats(vm);
	assert_int_equal(b.copies - a.copies + b.faults - a.faults, 0);
	assert_own_pages(vm, c1, 0);
	assert_int_equal(page_info(vm__space(vm), GBUF).pfn, pfn0);
	assert_tags_at(vm__space(c1), GBUF, GNPG, 0x100);
	/* A later clone shares it, then goes: the parent's write fault reuses. */
	assert_int_equal(vm__clone(vm, &cc, &c2, NULL), 0);
	vm__destroy(c2);
	a = space_stats(vm);
	guest_fill(vm__space(vm), GBUF, GNPG, 0x300);
	b = space_stats(vm);
	assert_int_equal(b.reuses - a.reuses, GNPG);
	assert_int_equal(b.copies - a.copies, 0);
	assert_int_equal(page_info(vm__space(vm), GBUF).pfn, pfn0);
	vm__destroy(c1);
	dma_test__detach(dev);
	vm__destroy(vm);
	dma_test__destroy(dev);
}

static void test_reset_pinned_fuzz_clone(void **state)
{
	struct vm_clone_config cc = {.serial_fd = -1, .mm_flags = MM_CLONE_RESETTABLE};
	struct dma_test_config dc = {.min_gpa = ABI_RESERVED};
	struct dma_test *dev, *cdev;
	struct vm *vm = boot_paused_spin(NULL, &dev), *child;
	struct vm_state *at_clone;
	uint64_t pfns[GNPG], restored = 0;
	struct mm_stats a, b;

	guest_fill(vm__space(vm), GBUF, GNPG, 0x100);
	assert_int_equal(vm__clone(vm, &cc, &child, NULL), 0);
	assert_int_equal(vm__save_state(child, &at_clone), 0);
	dc.space = vm__space(child);
	assert_int_equal(dma_test__create(&dc, &cdev), 0);
	assert_int_equal(dma_test__pin(cdev, GBUF, GLEN, RW_LT), 0);
	for (uint64_t i = 0; i < GNPG; i++)
		pfns[i] = page_info(vm__space(child), GBUF + i * PAGE).pfn;
	assert_int_equal(dma_test__write_now(cdev, 9), 0);
	/* The fuzzing run: the clone runs and dirties its own memory. */
	assert_int_equal(vm__start(child), 0);
	sleep_us(20000);
	vm__pause(child);

	assert_int_equal(mm_space_reset(vm__space(child), MM_RESET_REFUSE_PINNED, NULL), -EBUSY);
	assert_pattern(vm_buf(child), GLEN, 9);
	a = space_stats(child);
	assert_int_equal(mm_space_reset(vm__space(child), 0, &restored), 0);
	b = space_stats(child);
	assert_true(restored >= GNPG);
	assert_int_equal(b.reset_pinned_in_place - a.reset_pinned_in_place, GNPG);
	assert_tags_at(vm__space(child), GBUF, GNPG, 0x100);
	for (uint64_t i = 0; i < GNPG; i++) {
		struct mm_page_info pi = page_info(vm__space(child), GBUF + i * PAGE);

		assert_int_equal(pi.pfn, pfns[i]);
		assert_int_equal(pi.pincount, 1);
	}
	assert_device_sees(cdev, vm_buf(child), GLEN);
	assert_int_equal(dma_test__write_now(cdev, 10), 0);
	assert_pattern(vm_buf(child), GLEN, 10);
	assert_tags_at(vm__space(vm), GBUF, GNPG, 0x100);

	/* The next run starts from the clone point and the device stays on. */
	assert_int_equal(vm__restore_state(child, at_clone), 0);
	vm__resume(child);
	sleep_us(10000);
	vm__pause(child);
	guest_fill(vm__space(child), GBUF, GNPG, 0x200);
	assert_device_sees(cdev, vm_buf(child), GLEN);
	vm_state__free(at_clone);
	dma_test__destroy(cdev);
	vm__destroy(child);
	dma_test__detach(dev);
	vm__destroy(vm);
	dma_test__destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_modes),
		cmocka_unit_test(test_rw_pin_guest_clone),
		cmocka_unit_test(test_rw_pin_vm_clone),
		cmocka_unit_test(test_ro_pin_guest_clone),
		cmocka_unit_test(test_ro_pin_vm_clone),
		cmocka_unit_test(test_unpin_reuse_guest_clone),
		cmocka_unit_test(test_unpin_reuse_vm_clone),
		cmocka_unit_test(test_reset_pinned_fuzz_clone),
	};

	skip_without_kvm("test-dma-vm");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
