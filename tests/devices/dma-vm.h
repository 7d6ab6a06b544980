/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the DMA test device's KVM tests: boot a built-in guest with
 * the device on its bus, run it (alone or as a group that serves HC_CLONE),
 * read its console, and check from the host what each VM and the device
 * see of the dmatest guest's buffer (DMATEST_BUF, 64 KiB by default).
 */
#ifndef TESTS_DMA_VM_H
#define TESTS_DMA_VM_H

#include <sys/mman.h>
#include <unistd.h>

#include "abi.h"
#include "builtin-guests.h"
#include "dev-setup.h"
#include "dma-helpers.h"
#include "group.h"
#include "vm-state.h"
#include "vm.h"

#define VM_MEM (32ULL << 20)
#define WATCHDOG_MS 30000
#define GBUF 0x1000000ULL /* dmatest.c's DMATEST_BUF */
#define GLEN 0x10000ULL
#define GNPG (GLEN / PAGE)
#define RW_LT (DMA_F_DEV_WRITES | DMA_F_DEV_READS | DMA_F_LONGTERM)

static inline void skip_without_kvm(const char *name)
{
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "%s: SKIPPED: /dev/kvm is not usable here (%s); these tests need "
			"real KVM\n", name, strerror(errno));
		exit(77);
	}
}

static inline const struct builtin_guest *guest_image(const char *name)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, name))
			return g;
	fail_msg("no built-in guest %s", name);
	return NULL;
}

/* @name with @args, the DMA test device on its bus (unless @ret_dev is NULL). */
static inline struct vm *boot_dev(const char *name, const char *args, int serial_fd,
				  struct mm_pool *pool, struct dma_test **ret_dev)
{
	const struct builtin_guest *img = guest_image(name);
	struct vm_config cfg = {.mem_size = VM_MEM, .nr_cpus = 1, .serial_fd = serial_fd,
				.pool = pool};
	char msg[200] = "";
	struct vm *vm;

	assert_int_equal(vm__create(&cfg, &vm), 0);
	if (ret_dev)
		assert_int_equal(dev_setup__dma_test(vm, ret_dev, NULL), 0);
	if (vm__load_elf(vm, img->data, img->size, args, msg, sizeof(msg)))
		fail_msg("load %s: %s", name, msg);
	return vm;
}

static inline int console_fd(void)
{
	int fd = memfd_create("console", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* The console so far (flushed by the VM's end or destruction). */
static inline const char *console(int fd)
{
	static char out[16384];
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);

	out[n > 0 ? n : 0] = '\0';
	return out;
}

#define assert_console_has(fd, line)                                                       \
	do {                                                                               \
		const char *__c = console(fd);                                             \
		if (!strstr(__c, (line)))                                                  \
			fail_msg("%s: no \"%s\" on the console:\n%s", __func__, (line), __c); \
	} while (0)

/* Run @vm's guest to its exit: its status. */
static inline int run_alone(struct vm *vm)
{
	struct vm_stop stop;

	assert_int_equal(vm__start(vm), 0);
	if (vm__wait(vm, WATCHDOG_MS, &stop))
		fail_msg("the guest did not stop within %d ms", WATCHDOG_MS);
	if (stop.reason != VM_STOP_EXIT)
		fail_msg("the guest did not exit: %s", stop.what);
	return stop.status;
}

/* Run @root as a group (HC_CLONE served) until every VM ended: the status. */
static inline struct group *run_group(struct vm *root, int serial, int *ret_status)
{
	struct group_config gc = {.serial_fd = serial};
	struct group *g;

	assert_int_equal(group__create(&gc, root, &g), 0);
	assert_int_equal(group__run(g, WATCHDOG_MS, ret_status), 0);
	return g;
}

static inline uint8_t *vm_buf(struct vm *vm)
{
	return gpa_ptr(vm__space(vm), GBUF);
}

static inline struct mm_stats space_stats(struct vm *vm)
{
	struct mm_stats st;

	mm_space_stats(vm__space(vm), &st);
	return st;
}

/* Every page of the buffer: pinned @pincount times, exclusive, and on a
 * frame the other VM's page is not on. */
static inline void assert_own_pages(struct vm *vm, struct vm *other, uint32_t pincount)
{
	for (uint64_t i = 0; i < GNPG; i++) {
		struct mm_page_info a = page_info(vm__space(vm), GBUF + i * PAGE);
		struct mm_page_info b = page_info(vm__space(other), GBUF + i * PAGE);

		if (!a.present || !a.exclusive || a.pincount != pincount || a.pfn == b.pfn ||
		    b.pincount)
			fail_msg("page %llu: present %d exclusive %d pincount %u pfn %llu; the "
				 "other VM's pfn %llu pincount %u", (unsigned long long)i,
				 a.present, a.exclusive, a.pincount, (unsigned long long)a.pfn,
				 (unsigned long long)b.pfn, b.pincount);
	}
}

/*
 * Invariant 4, from the host, for @parent whose device holds a R/W pin on
 * the buffer and its clone @child whose buffer holds pattern @child_seq:
 * device writes reach the parent only, the clone's writes never reach the
 * device, the parent's do.
 */
static inline void assert_rw_isolation(struct vm *parent, struct vm *child,
				       struct dma_test *dev, uint64_t child_seq)
{
	assert_own_pages(parent, child, 1);
	assert_device_sees(dev, vm_buf(parent), GLEN);
	assert_pattern(vm_buf(child), GLEN, child_seq);
	assert_int_equal(dma_test__write_now(dev, 4242), 0);
	assert_pattern(vm_buf(parent), GLEN, 4242);
	assert_pattern(vm_buf(child), GLEN, child_seq);
	guest_fill(vm__space(child), GBUF, GNPG, 0x555);
	assert_device_sees(dev, vm_buf(parent), GLEN);
	assert_pattern(vm_buf(parent), GLEN, 4242);
	guest_fill(vm__space(parent), GBUF, GNPG, 0x556);
	assert_device_sees(dev, vm_buf(parent), GLEN);
	assert_tags_at(vm__space(child), GBUF, GNPG, 0x555);
}

/* Wait until @vm's console shows @line. */
static inline void wait_console(int fd, const char *line)
{
	uint64_t t0 = now_ns();

	while (!strstr(console(fd), line)) {
		if (now_ns() - t0 > WATCHDOG_MS * 1000000ULL)
			fail_msg("no \"%s\" on the console after %d ms:\n%s", line, WATCHDOG_MS,
				 console(fd));
		sleep_us(1000);
	}
}

#endif
