// SPDX-License-Identifier: MIT
/*
 * test-blk-clone: virtio-blk with guest RAM registered as io_uring fixed
 * buffers, across a VM clone (suite integration).
 *
 * The blktest guest reads from its disk, then asks for a clone (HC_CLONE);
 * this test serves the request the way `vmm run`'s group does; the clone
 * gets its own disk device from the capture (virtio_blk__clone: same
 * image, the parent's transport state, its own io_uring and fixed buffers
 * over the clone's memory). Parent and clone then read different sectors into the
 * same guest-physical buffer, three times, each checking it sees only its
 * own data; the host checks each VM's buffer too.
 *
 * While the buffers are registered the host kernel holds long-term pins
 * on the parent's frames, so mm must never replace them: every page of the
 * parent keeps its pfn from boot to the end, stays pinned, and the clone
 * got copies (clone_pinned_copies), not the parent's frames. A second
 * clone with no disk (so nothing unshares its pages for it) is made at the
 * same point and kept, never run: the parent's CPU writes after the clone
 * (blktest clears its buffer before each read) must still reuse its own
 * pinned frames, or its disk reads would land in a frame it no longer maps.
 *
 * Without /dev/kvm the whole file exits 77 (skipped) and says so.
 */
#include "abi.h"
#include "blk-vm.h"
#include "group.h"

#define IMG_SIZE (8ULL << 20)
#define SEED 7
#define SECTOR_P 0
#define SECTOR_C 8192
#define BUF_BYTES (128 * 512)
#define NPAGES (BLK_VM_MEM / MM_PAGE_SIZE)

static void page_pfns(struct mm_space *s, uint64_t *pfns, bool want_pinned)
{
	for (uint64_t i = 0; i < NPAGES; i++) {
		struct mm_page_info pi;

		assert_int_equal(mm_space_page_info(s, i * MM_PAGE_SIZE, &pi), 0);
		if (want_pinned && (!pi.present || !pi.pincount || !pi.exclusive))
			fail_msg("page 0x%llx not pinned and exclusive under the fixed buffers",
				 (unsigned long long)i);
		pfns[i] = pi.pfn;
	}
}

static bool buf_holds(struct vm *vm, uint64_t sector)
{
	const uint8_t *mem = mm_space_hva(vm__space(vm));

	for (uint64_t i = 0; i < BUF_BYTES; i += 8)
		if (*(const uint64_t *)(mem + BLK_BUF_BASE + i) !=
		    blk_pattern_word(SEED, sector * 512 + i))
			return false;
	return true;
}

/* Serve the parent's HC_CLONE: the clone and its disk, not started. */
static struct vm *serve_clone(struct vm *parent, struct virtio_blk *pblk, int con,
			      struct virtio_blk **ret_cblk, struct vm **ret_idle)
{
	struct vm_clone_config cc = {.serial_fd = con, .tag = "[clone 1] "};
	struct vm_clone_config idle = {.serial_fd = -1, .no_devices = true};
	struct vm_stop stop;
	struct vm *child;

	if (vm__wait(parent, BLK_WATCHDOG_MS, &stop))
		fail_msg("no clone request from blktest");
	if (stop.reason != VM_STOP_REQUEST || stop.req.nr != HC_CLONE)
		fail_msg("blktest stopped without asking for a clone: %s", stop.what);
	vm__pause(parent);
	assert_int_equal(vm__clone(parent, &cc, &child, NULL), 0);
	assert_int_equal(vm__clone(parent, &idle, ret_idle, NULL), 0);
	/* The clone got its own copy of the disk, made while the parent was paused. */
	*ret_cblk = vm__device(child, 0);
	assert_non_null(*ret_cblk);
	assert_ptr_not_equal(*ret_cblk, pblk);
	assert_null(vm__device(*ret_idle, 0));
	assert_int_equal(vm__set_hcall_result(child, stop.cpu, (int64_t)(HC_CLONE_CHILD | 1)), 0);
	assert_int_equal(vm__set_hcall_result(parent, stop.cpu, 1), 0);
	return child;
}

static int wait_exit(struct vm *vm)
{
	struct vm_stop stop;

	if (vm__wait(vm, BLK_WATCHDOG_MS, &stop))
		fail_msg("blktest did not finish");
	if (stop.reason != VM_STOP_EXIT)
		fail_msg("blktest stopped: %s", stop.what);
	return stop.status;
}

static void test_fixed_buffers_across_clone(void **state)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX";
	struct virtio_blk_opts o = {.fixed_buffers = true};
	static uint64_t before[NPAGES], after[NPAGES], child_pfns[NPAGES];
	struct virtio_blk *pblk, *cblk;
	struct virtio_blk_stats ps, cs;
	struct mm_stats ms;
	struct vm *parent, *child, *idle;
	int con = blk_console_fd();
	char args[80];
	const char *out;

	(void)state;
	blk_make_image(path, IMG_SIZE, SEED);
	o.path = path;
	snprintf(args, sizeof(args), "clone %d %d %d", SECTOR_P, SECTOR_C, SEED);
	parent = blk_boot(args, &o, con, &pblk);
	page_pfns(vm__space(parent), before, true);
	assert_int_equal(vm__start(parent), 0);
	child = serve_clone(parent, pblk, con, &cblk, &idle);
	vm__rearm(parent);
	vm__resume(parent);
	assert_int_equal(vm__start(child), 0);
	assert_int_equal(wait_exit(parent), 0);
	assert_int_equal(wait_exit(child), 0);
	vm__pause(parent);
	vm__pause(child);

	/* Each VM's buffer holds its own sectors (one guest address, two disks' reads). */
	assert_true(buf_holds(parent, SECTOR_P));
	assert_true(buf_holds(child, SECTOR_C));
	/* The owner's frames were never replaced; the clone has its own, pinned too. */
	page_pfns(vm__space(parent), after, true);
	assert_memory_equal(before, after, sizeof(before));
	page_pfns(vm__space(child), child_pfns, true);
	for (uint64_t i = 0; i < NPAGES; i++)
		if (child_pfns[i] == before[i])
			fail_msg("the clone maps the parent's pinned frame at page %llu",
				 (unsigned long long)i);
	mm_pool_stats(vm__pool(parent), &ms);
	assert_true(ms.clone_pinned_copies >= 2 * NPAGES);
	virtio_blk__stats(pblk, &ps);
	virtio_blk__stats(cblk, &cs);
	assert_true(ps.fixed >= 4 && cs.fixed >= 3); /* every read went through fixed buffers */
	assert_int_equal(ps.ioerr + cs.ioerr + ps.transport.errors + cs.transport.errors, 0);

	virtio_blk__destroy(pblk); /* the clone's copy is the clone's: vm__destroy releases it */
	vm__destroy(idle);
	vm__destroy(child);
	vm__destroy(parent);
	out = blk_console(con);
	if (!strstr(out, "blktest: parent 0 ok sector 0") ||
	    !strstr(out, "[clone 1] blktest: clone 1 ok sector 8192"))
		fail_msg("console:\n%s", out);
	close(con);
	unlink(path);
}

/* The same through `vmm run`'s VM group: its clone gets the disk from the capture. */
static void test_group_clone_keeps_disk(void **state)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX", args[80];
	struct virtio_blk_opts o = {.fixed_buffers = false};
	int con = blk_console_fd(), status = -1;
	struct group_config gc = {.serial_fd = con};
	struct virtio_blk *pblk;
	struct group *g;
	const char *out;

	(void)state;
	blk_make_image(path, IMG_SIZE, SEED);
	o.path = path;
	snprintf(args, sizeof(args), "clone %d %d %d", SECTOR_P, SECTOR_C, SEED);
	assert_int_equal(group__create(&gc, blk_boot(args, &o, con, &pblk), &g), 0);
	assert_int_equal(group__run(g, BLK_WATCHDOG_MS, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(group__nr_vms(g), 2);
	assert_true(buf_holds(group__vm(g, 0), SECTOR_P));
	assert_true(buf_holds(group__vm(g, 1), SECTOR_C));
	assert_non_null(vm__device(group__vm(g, 1), 0));
	virtio_blk__destroy(pblk); /* the parent's is the caller's */
	group__destroy(g);
	out = blk_console(con);
	if (!strstr(out, "blktest: parent 0 ok sector 0") ||
	    !strstr(out, "[clone 1] blktest: clone 1 ok sector 8192"))
		fail_msg("console:\n%s", out);
	close(con);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_buffers_across_clone),
		cmocka_unit_test(test_group_clone_keeps_disk),
	};

	blk_skip_without_kvm("test-blk-clone");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
