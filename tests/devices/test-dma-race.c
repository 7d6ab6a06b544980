// SPDX-License-Identifier: MIT
/*
 * test-dma-race: the DMA test device racing clones under KVM, and its
 * command line (suites devices and integration; DESIGN.md invariant 7).
 *
 * - The device thread writes the guest's pinned buffer on a 100 µs timer
 *   while the running guest is cloned again and again (vm__clone), some
 *   clones started, and clones destroyed: each clone holds whole device
 *   patterns from around its clone point and the device never writes it
 *   afterwards. At the end every frame in the pool is the parent's, and
 *   with everything destroyed the pool is empty and destroys cleanly.
 * - The same from inside: dmatest clone-storm makes 8 clones by HC_CLONE
 *   with the timer running; every clone checks its buffer in the guest.
 * - `vmm run --dma-test`: the guest finds the device, --stats prints its
 *   counters; without the option the guest finds none; not with --restore.
 *
 * The vmm binary's path is argv[1]. Without /dev/kvm: exit 77.
 */
#include <sys/wait.h>

#include "dma-vm.h"

#define RING 3

static const char *vmm_path;

struct kid {
	struct vm *vm;
	uint64_t sum;
};

static void kid_end(struct kid *k)
{
	/* However long it lived, and whether it ran: no device write. */
	assert_int_equal(mem_sum(vm_buf(k->vm), GLEN), k->sum);
	vm__destroy(k->vm);
	k->vm = NULL;
}

static void kid_make(struct vm *vm, struct dma_test *dev, struct kid *k, bool start)
{
	struct vm_clone_config cc = {.serial_fd = -1};
	uint64_t lo = reg_rd(dev, DMA_REG_SEQ) - 1;

	assert_int_equal(vm__clone(vm, &cc, &k->vm, NULL), 0);
	assert_words_from(vm_buf(k->vm), GLEN, lo, reg_rd(dev, DMA_REG_SEQ));
	k->sum = mem_sum(vm_buf(k->vm), GLEN);
	if (start)
		assert_int_equal(vm__start(k->vm), 0); /* it writes its scratch area */
}

static void test_timer_vs_clones(void **state)
{
	struct kid kids[RING] = {{0}};
	int serial = console_fd();
	struct mm_stats ps, ss;
	struct mm_pool *pool;
	struct dma_test *dev;
	struct vm *vm;

	test_pool_create(NULL, &pool);
	vm = boot_dev("dmatest", "timer-spin", serial, pool, &dev);
	assert_int_equal(vm__start(vm), 0);
	wait_console(serial, "dmatest: timer running");
	for (unsigned i = 0; i < 60; i++) {
		struct kid *k = &kids[i % RING];

		if (k->vm)
			kid_end(k);
		kid_make(vm, dev, k, i % 2);
		sleep_us(i % 3 * 1000);
	}
	dma_test__timer_stop(dev);
	assert_true(reg_rd(dev, DMA_REG_CNT_WRITES) > 10);
	assert_int_equal(reg_rd(dev, DMA_REG_CNT_ERRORS), 0);
	for (unsigned i = 0; i < RING; i++)
		kid_end(&kids[i]);
	vm__pause(vm);
	mm_pool_stats(pool, &ps);
	mm_space_stats(vm__space(vm), &ss);
	assert_int_equal(ps.frames_in_use, ss.frames_in_use);
	assert_int_equal(ps.pinned_pages, GNPG);
	assert_device_sees(dev, vm_buf(vm), GLEN);
	dma_test__detach(dev);
	vm__destroy(vm);
	dma_test__destroy(dev);
	assert_pool_empty(pool);
	assert_int_equal(mm_pool_destroy(pool), 0);
	close(serial);
}

static void test_guest_clone_storm(void **state)
{
	int serial = console_fd(), status = -1;
	struct dma_test_stats st;
	struct dma_test *dev;
	struct group *g = run_group(boot_dev("dmatest", "clone-storm 8", serial, NULL, &dev),
				    serial, &status);
	char line[64];

	if (status)
		fail_msg("clone-storm: status %d:\n%s", status, console(serial));
	assert_int_equal(group__nr_vms(g), 9);
	assert_console_has(serial, "dmatest: clone-storm parent ok (8 clones");
	for (unsigned i = 1; i <= 8; i++) {
		snprintf(line, sizeof(line), "[clone %u] dmatest: storm clone %u ok", i, i);
		assert_console_has(serial, line);
	}
	dma_test__stats(dev, &st);
	assert_true(st.ticks > 0);
	assert_int_equal(st.pins_held, 0);
	dma_test__detach(dev);
	group__destroy(g);
	dma_test__destroy(dev);
	close(serial);
}

struct result {
	int status;
	char out[8192], err[8192];
};

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Run `vmm ARGS...` (NULL-terminated), stdout and stderr apart. */
static void run_vmm(struct result *r, ...)
{
	const char *argv[16] = {vmm_path};
	int out = memfd_create("out", 0), err = memfd_create("err", 0), ws;
	unsigned n = 1;
	va_list ap;
	pid_t pid;

	va_start(ap, r);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_true(out >= 0 && err >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execv(vmm_path, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static void test_cli(void **state)
{
	static struct result r;

	run_vmm(&r, "run", "--dma-test", "--stats", "--guest", "dmatest", "--", "pin-write", NULL);
	if (r.status)
		fail_msg("status %d:\n%s%s", r.status, r.out, r.err);
	assert_non_null(strstr(r.out, "dmatest: pin-write ok"));
	assert_non_null(strstr(r.err, "stats: dma-test: writes 3, reads 4, pins 1, unpins 1, "
			       "pins held 0 (0 bytes), timer ticks 0, errors 0\n"));
	run_vmm(&r, "run", "--dma-test", "--guest", "dmatest", "--", "clone-rw", NULL);
	if (r.status)
		fail_msg("clone-rw: status %d:\n%s%s", r.status, r.out, r.err);
	run_vmm(&r, "run", "--guest", "dmatest", "--", "pin-write", NULL);
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "no DMA test device"));
	run_vmm(&r, "run", "--restore", "/nonexistent", "--dma-test", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--dma-test"));
	run_vmm(&r, "run", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "--dma-test"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_vs_clones),
		cmocka_unit_test(test_guest_clone_storm),
		cmocka_unit_test(test_cli),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test-dma-race VMM-BINARY\n");
		return 2;
	}
	vmm_path = argv[1];
	skip_without_kvm("test-dma-race");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
