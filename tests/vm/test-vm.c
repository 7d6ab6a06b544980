// SPDX-License-Identifier: MIT
/*
 * test-vm: the built-in guests under real KVM (suite integration): output
 * and exit status, memory written by the guest read back through mm, crash
 * reports (bounded by a watchdog, never a hang), pause/resume, and the vCPU
 * state round trip: pause a running guest, save, restore into a fresh VM
 * over a clone of its memory, resume both; each must finish with the
 * checksum of an uninterrupted run.
 *
 * Without /dev/kvm the whole file exits 77 (skipped) and says so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "abi.h"
#include "builtin-guests.h"
#include "clock.h"
#include "memwrite.h"
#include "vm-state.h"
#include "vm.h"

/*
 * Under the nested lane (QEMU's TCG emulates the spin guest's floating
 * point in software) the work is a third and the watchdog six times longer.
 */
#define NESTED (getenv("NESTED_LANE") != NULL)
#define WATCHDOG_MS (NESTED ? 120000 : 20000)
#define SPIN_COUNT (NESTED ? "100000000" : "300000000")

struct guest {
	struct vm *vm;
	int serial;
	struct vm_stop stop;
	char out[8192];
};

static const struct builtin_guest *find_guest(const char *name)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, name))
			return g;
	fail_msg("no built-in guest %s", name);
	return NULL;
}

/* Create a VM (over @space if given) with @name loaded, not started. */
static void guest_create(struct guest *g, const char *name, const char *args, uint64_t mem,
			 unsigned cpus, struct mm_pool *pool, struct mm_space *space)
{
	const struct builtin_guest *img = find_guest(name);
	char msg[200] = "";

	memset(g, 0, sizeof(*g));
	g->serial = memfd_create("serial", MFD_CLOEXEC);
	assert_true(g->serial >= 0);
	struct vm_config cfg = {.mem_size = mem, .nr_cpus = cpus, .serial_fd = g->serial,
				.pool = pool, .space = space};

	assert_int_equal(vm__create(&cfg, &g->vm), 0);
	if (!space) {
		int err = vm__load_elf(g->vm, img->data, img->size, args, msg, sizeof(msg));

		if (err)
			fail_msg("load %s: %s (%d)", name, msg, err);
	}
}

static void guest_read_output(struct guest *g)
{
	ssize_t n = pread(g->serial, g->out, sizeof(g->out) - 1, 0);

	assert_true(n >= 0);
	g->out[n] = '\0';
}

/* Wait (bounded by the watchdog) and collect the output. */
static void guest_wait(struct guest *g)
{
	int err = vm__wait(g->vm, WATCHDOG_MS, &g->stop);

	if (err == -ETIMEDOUT)
		fail_msg("guest did not stop within %d ms (hang)", WATCHDOG_MS);
	assert_int_equal(err, 0);
	guest_read_output(g);
}

static void guest_destroy(struct guest *g)
{
	vm__destroy(g->vm);
	close(g->serial);
}

static void guest_run(struct guest *g, const char *name, const char *args, uint64_t mem,
		      unsigned cpus)
{
	guest_create(g, name, args, mem, cpus, NULL, NULL);
	assert_int_equal(vm__start(g->vm), 0);
	guest_wait(g);
}

/* Output is complete once the VM is destroyed (the UART flushes then). */
static void guest_end(struct guest *g)
{
	vm__destroy(g->vm);
	g->vm = NULL;
	guest_read_output(g);
	close(g->serial);
}

static void run_to_end(struct guest *g, const char *name, const char *args, uint64_t mem,
		       unsigned cpus)
{
	guest_run(g, name, args, mem, cpus);
	guest_end(g);
}

static void test_hello(void **state)
{
	struct guest g;

	run_to_end(&g, "hello", "", 64 << 20, 1);
	assert_int_equal(g.stop.reason, VM_STOP_EXIT);
	assert_int_equal(g.stop.status, 0);
	assert_string_equal(g.out, "Hello from a ring-3 KVM guest: 64 MiB, 1 vCPU(s).\n"
				   "hello: hypercalls ok\n");
}

static void test_hello_status_and_smp(void **state)
{
	struct guest g;

	run_to_end(&g, "hello", "42", 32 << 20, 4);
	assert_int_equal(g.stop.reason, VM_STOP_EXIT);
	assert_int_equal(g.stop.status, 42);
	assert_non_null(strstr(g.out, "32 MiB, 4 vCPU(s)"));
}

static void test_memwrite_readback(void **state)
{
	struct guest g;
	const uint64_t mib = 16, seed = 9, end = MEMWRITE_BASE + (mib << 20);
	uint64_t sum = 0, printed = 0;

	guest_run(&g, "memwrite", "16 9", 64 << 20, 1);
	assert_int_equal(g.stop.reason, VM_STOP_EXIT);
	assert_int_equal(g.stop.status, 0);
	const uint8_t *mem = mm_space_hva(vm__space(g.vm));

	for (uint64_t a = MEMWRITE_BASE; a < end; a += 8) {
		uint64_t w;

		memcpy(&w, mem + a, 8);
		if (w != memwrite_word(seed, a))
			fail_msg("word at 0x%llx: 0x%llx, expected 0x%llx", (unsigned long long)a,
				 (unsigned long long)w,
				 (unsigned long long)memwrite_word(seed, a));
		sum += w;
	}
	/* The page after the region was never written. */
	for (uint64_t a = end; a < end + 4096; a++)
		assert_int_equal(mem[a], 0);
	guest_end(&g);
	const char *p = strstr(g.out, "checksum 0x");

	assert_non_null(p);
	printed = strtoull(p + strlen("checksum "), NULL, 16);
	assert_true(printed == sum);
}

static void test_memwrite_too_big(void **state)
{
	struct guest g;

	run_to_end(&g, "memwrite", "100", 64 << 20, 1);
	assert_int_equal(g.stop.reason, VM_STOP_EXIT);
	assert_int_equal(g.stop.status, 3);
	assert_non_null(strstr(g.out, "does not fit"));
}

static void check_crash(const char *kind, enum vm_stop_reason reason, const char *what)
{
	struct guest g;

	run_to_end(&g, "crash", kind, 16 << 20, 1);
	assert_int_equal(g.stop.reason, reason);
	if (!strstr(g.stop.what, what))
		fail_msg("crash %s: '%s' lacks '%s'", kind, g.stop.what, what);
	/* After a triple fault AMD's KVM has reset the vCPU: no registers, and it says so. */
	if (reason == VM_STOP_TRIPLE_FAULT && !g.stop.have_regs)
		assert_non_null(strstr(g.stop.what, "registers at the fault are gone"));
	else
		assert_true(g.stop.have_regs);
	if (g.stop.have_regs)
		assert_true(g.stop.regs.rip >= 0x400000 && g.stop.regs.rip < 0x500000);
	assert_non_null(strstr(g.out, "about to crash"));
	assert_null(strstr(g.out, "still alive"));
	if (!strcmp(kind, "pf"))
		assert_true(g.stop.sregs.cr2 == 0x7ff000000000ULL);
}

static void test_crashes(void **state)
{
	check_crash("pf", VM_STOP_CRASH, "#PF page fault (vector 14");
	check_crash("ud", VM_STOP_CRASH, "#UD invalid opcode (vector 6");
	check_crash("triple", VM_STOP_TRIPLE_FAULT, "triple fault");
	check_crash("mmio", VM_STOP_UNHANDLED, "unassigned address 0xd0100000");
}

static void test_timeout_then_stop(void **state)
{
	struct guest g;
	struct vm_stop s;

	guest_create(&g, "spin", "100000000000", 16 << 20, 1, NULL, NULL);
	assert_int_equal(vm__start(g.vm), 0);
	assert_int_equal(vm__wait(g.vm, 200, &s), -ETIMEDOUT);
	vm__stop(g.vm);
	assert_int_equal(vm__wait(g.vm, WATCHDOG_MS, &s), 0);
	assert_int_equal(s.reason, VM_STOP_REQUESTED);
	guest_destroy(&g);
}

static char spin_reference[64];

/* The checksum line of an uninterrupted spin run. */
static const char *spin_checksum(void)
{
	struct guest g;

	if (spin_reference[0])
		return spin_reference;
	run_to_end(&g, "spin", SPIN_COUNT, 16 << 20, 1);
	assert_int_equal(g.stop.status, 0);
	const char *p = strstr(g.out, "checksum 0x");

	assert_non_null(p);
	snprintf(spin_reference, sizeof(spin_reference), "%.29s", p);
	return spin_reference;
}

static void test_pause_resume(void **state)
{
	const char *ref = spin_checksum();
	struct guest g;

	guest_create(&g, "spin", SPIN_COUNT, 16 << 20, 2, NULL, NULL);
	assert_int_equal(vm__start(g.vm), 0);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(vm__pause(g.vm), 0);
		assert_int_equal(vm__resume(g.vm), 0);
		clock_sleep_ms(5);
	}
	guest_wait(&g);
	guest_end(&g);
	assert_int_equal(g.stop.status, 0);
	assert_non_null(strstr(g.out, ref));
}

static void test_save_restore_roundtrip(void **state)
{
	const char *ref = spin_checksum();
	struct mm_pool *pool;
	struct mm_space *copy;
	struct vm_state *st;
	struct guest a, b;

	assert_int_equal(mm_pool_create(NULL, &pool), 0);
	guest_create(&a, "spin", SPIN_COUNT, 16 << 20, 1, pool, NULL);
	assert_int_equal(vm__start(a.vm), 0);
	clock_sleep_ms(150);
	assert_int_equal(vm__pause(a.vm), 0);
	guest_read_output(&a);
	/* Mid-computation: the header is out (once flushed), the checksum is not. */
	assert_null(strstr(a.out, "checksum"));
	assert_int_equal(vm__save_state(a.vm, &st), 0);
	assert_true(st->cpus[0].msrs->nmsrs > 0);
	assert_int_equal(mm_space_clone(vm__space(a.vm), 0, &copy), 0);

	guest_create(&b, "spin", NULL, 0, 1, pool, copy);
	assert_int_equal(vm__restore_state(b.vm, st), 0);
	assert_int_equal(vm__start(b.vm), 0);
	assert_int_equal(vm__resume(a.vm), 0);
	guest_wait(&b);
	guest_wait(&a);
	assert_int_equal(a.stop.status, 0);
	assert_int_equal(b.stop.status, 0);
	guest_end(&a);
	guest_end(&b);
	if (!strstr(a.out, ref) || !strstr(b.out, ref))
		fail_msg("reference %s; original VM: %s; restored VM: %s", ref, a.out, b.out);
	/* The restored VM printed only what came after the pause point. */
	assert_null(strstr(b.out, "iterations"));
	vm_state__free(st);
	assert_int_equal(mm_pool_destroy(pool), 0);
}

static void test_bad_config(void **state)
{
	struct vm *vm;
	struct vm_config cfg = {.mem_size = 3 << 20, .nr_cpus = 1, .serial_fd = -1};

	assert_int_equal(vm__create(&cfg, &vm), -EINVAL);
	cfg.mem_size = 4ULL << 30;
	assert_int_equal(vm__create(&cfg, &vm), -EINVAL);
	cfg.mem_size = 16 << 20;
	cfg.nr_cpus = 0;
	assert_int_equal(vm__create(&cfg, &vm), -EINVAL);
	cfg.nr_cpus = VM_MAX_CPUS + 1;
	assert_int_equal(vm__create(&cfg, &vm), -EINVAL);
}

static void test_load_rejects(void **state)
{
	const struct builtin_guest *img = find_guest("hello");
	struct vm_config cfg = {.mem_size = 4 << 20, .nr_cpus = 1, .serial_fd = -1};
	char msg[200], big[ABI_CMDLINE_MAX + 10];
	struct vm *vm;

	assert_int_equal(vm__create(&cfg, &vm), 0);
	/* The image links at 4 MiB: it does not fit in 4 MiB of memory. */
	assert_int_equal(vm__load_elf(vm, img->data, img->size, "", msg, sizeof(msg)), -ERANGE);
	assert_non_null(strstr(msg, "outside guest memory"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(vm__load_elf(vm, img->data, img->size, big, msg, sizeof(msg)), -E2BIG);
	assert_int_equal(vm__load_elf(vm, "junk", 4, "", msg, sizeof(msg)), -ENOEXEC);
	vm__destroy(vm);
}

/* Mappings of guest memory (memfd) and of KVM (vCPU run areas): ours. */
static unsigned count_our_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:") || strstr(line, "kvm");
	fclose(f);
	return n;
}

static unsigned count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static unsigned count_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/*
 * Runs and failures leave no fd, mapping or thread behind. The reaper's
 * threads (vm__destroy closes KVM fds there) are the process's, started by
 * the first destroy: counted in the baseline, and waited for at the end.
 */
static void test_no_leaks(void **state)
{
	unsigned fds, maps, tasks;
	struct mm_pool *pool;
	struct mm_space *space;
	struct vm *vm;
	struct guest g;

	run_to_end(&g, "hello", "", 16 << 20, 1);
	vm__reap_wait();
	fds = count_fds();
	maps = count_our_maps();
	tasks = count_tasks();
	for (int i = 0; i < 3; i++) {
		run_to_end(&g, "hello", "", 16 << 20, 2);
		assert_int_equal(g.stop.status, 0);
		run_to_end(&g, "crash", "pf", 16 << 20, 1);
		assert_int_equal(g.stop.reason, VM_STOP_CRASH);
	}
	assert_int_equal(mm_pool_create(NULL, &pool), 0);
	/* A space of a size KVM cannot use: rejected, and freed with the VM. */
	assert_int_equal(mm_space_create(pool, 3 << 20, &space), 0);
	struct vm_config cfg = {.nr_cpus = 1, .serial_fd = -1, .pool = pool, .space = space};

	assert_int_equal(vm__create(&cfg, &vm), -EINVAL);
	assert_int_equal(mm_space_create(pool, 16 << 20, &space), 0);
	cfg.space = space;
	cfg.nr_cpus = 0;
	assert_int_equal(vm__create(&cfg, &vm), -EINVAL);
	assert_int_equal(mm_pool_destroy(pool), 0); /* -EBUSY if a space leaked */
	vm__reap_wait();
	assert_int_equal(count_fds(), fds);
	assert_int_equal(count_our_maps(), maps);
	assert_int_equal(count_tasks(), tasks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_status_and_smp),
		cmocka_unit_test(test_memwrite_readback),
		cmocka_unit_test(test_memwrite_too_big),
		cmocka_unit_test(test_crashes),
		cmocka_unit_test(test_timeout_then_stop),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_save_restore_roundtrip),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_load_rejects),
		cmocka_unit_test(test_no_leaks),
	};

	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "test-vm: SKIPPED: /dev/kvm is absent or not usable (%s); "
				"these tests need real KVM\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
