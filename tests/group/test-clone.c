// SPDX-License-Identifier: MIT
/*
 * test-clone: live clones and fuzzing resets under real KVM (suite
 * integration).
 *
 * - A clone of a running guest holds the parent's memory and registers of
 *   the clone point, and nothing the parent does after it.
 * - Clones made at the guest's request (cloner) write different patterns
 *   and never see each other's writes: checked inside each guest and from
 *   the host through each VM's mm space; clones of clones too.
 * - The fuzzing loop: every input starts from the snapshot point exactly
 *   (whole-memory checksum and every vCPU state - registers, special
 *   registers, XSAVE, XCRs, MSRs but the time counters, events, MP state,
 *   debug registers, LAPIC if any - equal to the snapshot's after each
 *   reset), whether the reset took the short way (vm__reset_state: inputs
 *   that change FPU/SSE state, selectors and memory and end in
 *   HC_FUZZ_DONE) or the full one (a crash, a hang, a write to the VMM's
 *   page below ABI_RESERVED); the planted crash is found, a near miss is
 *   not, a hang times out.
 * - A VM started from a thread that blocks every signal can still be paused
 *   (the control socket's thread is such a thread).
 * - The VM pool (vm_pool): a clone on a pooled KVM VM has the registers
 *   and memory of the clone point, and the state of a clone on a VM made on
 *   demand (every register, XSAVE, LAPIC, MSRs but time counters, IOAPIC
 *   routing); the pool refills
 *   after takes and after a failed creation; with every creation failing
 *   the clones are made on demand, the failure is said once, the parent
 *   runs on; clones from the pool pass cloner's in-guest checks, also in a
 *   chain 10 deep with a write at each level.
 *
 * Without /dev/kvm the whole file exits 77 (skipped) and says so.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include "fuzz.h"
#include "group.h"
#include "memwrite.h"
#include "vm-state.h"
#include "vm.h"

#define MEM (32ULL << 20)
#define WATCHDOG_MS 20000

static const struct builtin_guest *guest_image(const char *name)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, name))
			return g;
	fail_msg("no built-in guest %s", name);
	return NULL;
}

static struct vm *boot_cpus(const char *name, const char *args, int serial_fd, unsigned cpus)
{
	const struct builtin_guest *img = guest_image(name);
	struct vm_config cfg = {.mem_size = MEM, .nr_cpus = cpus, .serial_fd = serial_fd};
	char msg[200] = "";
	struct vm *vm;

	assert_int_equal(vm__create(&cfg, &vm), 0);
	if (vm__load_elf(vm, img->data, img->size, args, msg, sizeof(msg)))
		fail_msg("load %s: %s", name, msg);
	return vm;
}

static struct vm *boot(const char *name, const char *args, int serial_fd)
{
	return boot_cpus(name, args, serial_fd, 1);
}

/*
 * Guest memory is written by vCPUs (through KVM) and mm's fault thread
 * (through its direct map), ordered by a pause or stop TSan cannot see:
 * the readers below are not instrumented (a suppression per word would be
 * a report per word).
 */
#define GUEST_MEMORY_READER __attribute__((no_sanitize("thread")))

/* FNV-1a over all of guest memory, read through the host mapping. */
GUEST_MEMORY_READER static uint64_t mem_checksum(struct vm *vm)
{
	const uint64_t *p = mm_space_hva(vm__space(vm));
	uint64_t n = mm_space_size(vm__space(vm)) / 8, h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * MSRs that count time, not state: a reset lets them run on (vm-state.c).
 * The Hyper-V ones are there under stock KVM (the nested lane).
 */
static bool msr_counts_time(uint32_t index)
{
	return index == 0x10 ||	       /* IA32_TSC */
	       index == 0x40000010 || /* HV_X64_MSR_VP_RUNTIME */
	       index == 0x40000020;   /* HV_X64_MSR_TIME_REF_COUNT */
}

#define ASSERT_SAME(what, a, b, cpu)                                                  \
	do {                                                                          \
		if (memcmp(&(a), &(b), sizeof(a)))                                    \
			fail_msg("vCPU %u: %s differs from the snapshot's", cpu, what); \
	} while (0)

/* Everything vm__save_state holds about a vCPU, equal (time counters aside). */
static void assert_same_vcpu(const struct vcpu_state *a, const struct vcpu_state *b, unsigned cpu)
{
	ASSERT_SAME("regs", a->regs, b->regs, cpu);
	ASSERT_SAME("sregs", a->sregs, b->sregs, cpu);
	ASSERT_SAME("vcpu events", a->events, b->events, cpu);
	ASSERT_SAME("MP state", a->mp, b->mp, cpu);
	ASSERT_SAME("debug registers", a->debugregs, b->debugregs, cpu);
	assert_int_equal(a->xsave_size, b->xsave_size);
	if (memcmp(a->xsave, b->xsave, a->xsave_size))
		fail_msg("vCPU %u: XSAVE (FPU/SSE) differs from the snapshot's", cpu);
	assert_int_equal(a->has_xcrs, b->has_xcrs);
	if (a->has_xcrs)
		ASSERT_SAME("XCRs", a->xcrs, b->xcrs, cpu);
	assert_int_equal(a->has_lapic, b->has_lapic);
	if (a->has_lapic)
		ASSERT_SAME("LAPIC", a->lapic, b->lapic, cpu);
	assert_int_equal(a->parked, b->parked);
	assert_int_equal(a->msrs->nmsrs, b->msrs->nmsrs);
	for (unsigned i = 0; i < a->msrs->nmsrs; i++) {
		const struct kvm_msr_entry *x = &a->msrs->entries[i], *y = &b->msrs->entries[i];

		assert_int_equal(x->index, y->index);
		if (x->data != y->data && !msr_counts_time(x->index))
			fail_msg("vCPU %u: MSR 0x%x is 0x%llx, at the snapshot 0x%llx", cpu,
				 x->index, (unsigned long long)y->data,
				 (unsigned long long)x->data);
	}
}

static void assert_same_state(const struct vm_state *a, const struct vm_state *b)
{
	assert_int_equal(a->nr_cpus, b->nr_cpus);
	for (unsigned i = 0; i < a->nr_cpus; i++)
		assert_same_vcpu(&a->cpus[i], &b->cpus[i], i);
	assert_int_equal(a->has_irqchip, b->has_irqchip);
	if (a->has_irqchip)
		assert_memory_equal(a->chips, b->chips, sizeof(a->chips));
}

static void assert_same_regs(const struct vm_state *a, const struct vm_state *b)
{
	assert_int_equal(a->nr_cpus, b->nr_cpus);
	for (unsigned i = 0; i < a->nr_cpus; i++) {
		assert_memory_equal(&a->cpus[i].regs, &b->cpus[i].regs, sizeof(a->cpus[i].regs));
		assert_int_equal(a->cpus[i].sregs.cr3, b->cpus[i].sregs.cr3);
		assert_int_equal(a->cpus[i].sregs.cs.selector, b->cpus[i].sregs.cs.selector);
		assert_int_equal(a->cpus[i].sregs.efer, b->cpus[i].sregs.efer);
		assert_memory_equal(a->cpus[i].xsave, b->cpus[i].xsave, 512); /* FPU/SSE */
	}
}

/* The MSR @index in @m, or -1 if absent. */
static int64_t msr_value(const struct kvm_msrs *m, uint32_t index)
{
	for (uint32_t i = 0; i < m->nmsrs; i++)
		if (m->entries[i].index == index)
			return (int64_t)m->entries[i].data;
	return -1;
}

static void assert_same_segment(const struct kvm_segment *a, const struct kvm_segment *b)
{
	assert_int_equal(a->base, b->base);
	assert_int_equal(a->limit, b->limit);
	assert_int_equal(a->selector, b->selector);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->dpl, b->dpl);
	assert_int_equal(a->l, b->l);
}

/*
 * The registers of the clone point: general, special (control registers,
 * EFER, APIC base, descriptor tables, segments as the CPU uses them: KVM
 * may normalise attribute bits a segment's use does not depend on, so not
 * byte for byte), XSAVE, XCRs, debug registers, MP state.
 */
static void assert_same_cpus(const struct vm_state *a, const struct vm_state *b)
{
	assert_int_equal(a->nr_cpus, b->nr_cpus);
	for (unsigned i = 0; i < a->nr_cpus; i++) {
		const struct vcpu_state *x = &a->cpus[i], *y = &b->cpus[i];
		const struct kvm_sregs *sx = &x->sregs, *sy = &y->sregs;

		assert_memory_equal(&x->regs, &y->regs, sizeof(x->regs));
		assert_int_equal(sx->cr0, sy->cr0);
		assert_int_equal(sx->cr3, sy->cr3);
		assert_int_equal(sx->cr4, sy->cr4);
		assert_int_equal(sx->efer, sy->efer);
		assert_int_equal(sx->apic_base, sy->apic_base);
		assert_int_equal(sx->gdt.base, sy->gdt.base);
		assert_int_equal(sx->gdt.limit, sy->gdt.limit);
		assert_int_equal(sx->idt.base, sy->idt.base);
		assert_int_equal(sx->idt.limit, sy->idt.limit);
		assert_same_segment(&sx->cs, &sy->cs);
		assert_same_segment(&sx->ss, &sy->ss);
		assert_same_segment(&sx->ds, &sy->ds);
		assert_same_segment(&sx->fs, &sy->fs);
		assert_same_segment(&sx->gs, &sy->gs);
		assert_same_segment(&sx->tr, &sy->tr);
		assert_int_equal(x->xsave_size, y->xsave_size);
		assert_memory_equal(x->xsave, y->xsave, x->xsave_size);
		assert_int_equal(x->has_xcrs, y->has_xcrs);
		assert_memory_equal(&x->xcrs, &y->xcrs, sizeof(x->xcrs));
		assert_memory_equal(&x->debugregs, &y->debugregs, sizeof(x->debugregs));
		assert_memory_equal(&x->mp, &y->mp, sizeof(x->mp));
		assert_int_equal(x->events.exception.injected, y->events.exception.injected);
		assert_int_equal(x->events.interrupt.injected, y->events.interrupt.injected);
		assert_int_equal(x->events.nmi.injected, y->events.nmi.injected);
	}
}

#define LAPIC_TMCCT 0x390 /* the timer's current count: computed when read */
#define IOAPIC_RTE_LIVE ((1ULL << 12) | (1ULL << 14)) /* delivery status, remote IRR */

/*
 * Two clones of one capture, one on a pooled KVM VM and one on a VM made
 * on demand, hold the same state: the registers (assert_same_cpus, and the
 * special registers byte for byte), every MSR KVM lists but the time
 * counters (msr_counts_time), the LAPIC's registers and the IOAPIC's
 * routing. (Not the PIT and kvmclock, which count time; nor the PICs' and
 * IOAPIC's live interrupt bits, which the PIT may set.)
 */
static void assert_same_clone_state(const struct vm_state *a, const struct vm_state *b)
{
	assert_same_cpus(a, b);
	for (unsigned i = 0; i < a->nr_cpus; i++) {
		const struct vcpu_state *x = &a->cpus[i], *y = &b->cpus[i];
		struct kvm_lapic_state lx = x->lapic, ly = y->lapic;

		/* Both restored from one state: byte for byte here. */
		assert_memory_equal(&x->sregs, &y->sregs, sizeof(x->sregs));
		assert_int_equal(x->has_lapic, y->has_lapic);
		memset(lx.regs + LAPIC_TMCCT, 0, 4);
		memset(ly.regs + LAPIC_TMCCT, 0, 4);
		assert_memory_equal(&lx, &ly, sizeof(lx));
		assert_int_equal(x->msrs->nmsrs, y->msrs->nmsrs);
		for (uint32_t m = 0; m < x->msrs->nmsrs; m++) {
			uint32_t index = x->msrs->entries[m].index;

			if (msr_counts_time(index))
				continue;
			if (msr_value(y->msrs, index) != (int64_t)x->msrs->entries[m].data)
				fail_msg("vCPU %u: MSR 0x%x differs: 0x%llx vs 0x%llx", i, index,
					 (unsigned long long)x->msrs->entries[m].data,
					 (unsigned long long)msr_value(y->msrs, index));
		}
	}
	assert_int_equal(a->has_irqchip, b->has_irqchip);
	if (!a->has_irqchip)
		return;
	for (unsigned p = 0; p < KVM_IOAPIC_NUM_PINS; p++)
		assert_int_equal(a->chips[2].chip.ioapic.redirtbl[p].bits & ~IOAPIC_RTE_LIVE,
				 b->chips[2].chip.ioapic.redirtbl[p].bits & ~IOAPIC_RTE_LIVE);
}

/* Clone point: the child has the parent's memory and registers, not later writes. */
static void test_clone_point(void **state)
{
	struct vm_clone_config cc = {.serial_fd = -1};
	struct vm_state *at_clone, *child_state;
	struct vm_capture *cap;
	struct vm *parent = boot("spin", "4000000000", -1), *child;
	uint64_t sum;

	(void)state;
	assert_int_equal(vm__start(parent), 0);
	clock_sleep_ms(30);
	vm__pause(parent);
	sum = mem_checksum(parent);
	assert_int_equal(vm__save_state(parent, &at_clone), 0);
	/* Paused by us: the capture must leave it paused. */
	assert_int_equal(vm__capture(parent, 1, 0, &cap, NULL), 0);
	assert_int_equal(vm__capture_spawn(cap, 0, &cc, &child), 0);
	vm_capture__free(cap);
	assert_int_equal(mem_checksum(child), sum);
	assert_int_equal(vm__save_state(child, &child_state), 0);
	assert_same_regs(at_clone, child_state);
	vm_state__free(child_state);

	/*
	 * The parent runs on: its spin loop rewrites memory and registers (on a
	 * slow host, such as the nested lane's TCG, it may take a few slices).
	 */
	for (int i = 0; i < 200 && mem_checksum(parent) == sum; i++) {
		vm__resume(parent);
		clock_sleep_ms(50);
		vm__pause(parent);
	}
	assert_int_not_equal(mem_checksum(parent), sum);
	assert_int_equal(mem_checksum(child), sum);
	assert_int_equal(vm__save_state(child, &child_state), 0);
	assert_same_regs(at_clone, child_state);

	/* And the child runs on from the clone point (slices, as the parent's above). */
	assert_int_equal(vm__start(child), 0);
	clock_sleep_ms(30);
	vm__pause(child);
	for (int i = 0; i < 200 && mem_checksum(child) == sum; i++) {
		vm__resume(child);
		clock_sleep_ms(50);
		vm__pause(child);
	}
	assert_int_not_equal(mem_checksum(child), sum);
	vm_state__free(child_state);
	vm_state__free(at_clone);
	vm__destroy(child);
	vm__destroy(parent);
}

/* The first word of cloner's region in @vm that differs from @seed's pattern, or 0. */
GUEST_MEMORY_READER static uint64_t pattern_mismatch(struct vm *vm, uint64_t seed, uint64_t mib)
{
	const uint8_t *mem = mm_space_hva(vm__space(vm));

	for (uint64_t a = MEMWRITE_BASE; a < MEMWRITE_BASE + (mib << 20); a += 8)
		if (*(const uint64_t *)(mem + a) != memwrite_word(seed, a))
			return a;
	return 0;
}

/* cloner's pattern checks, from the host, for each VM of the group. */
static void assert_pattern(struct vm *vm, uint64_t seed, uint64_t mib)
{
	uint64_t a = pattern_mismatch(vm, seed, mib);

	if (a)
		fail_msg("seed %llu: word at 0x%llx differs", (unsigned long long)seed,
			 (unsigned long long)a);
}

/* Read what @fd (a memfd) holds into @buf (NUL-terminated). */
static void read_all(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
}

/*
 * cloner with @args in a group whose pool keeps @pool_size VMs (0: none),
 * the first @fail_next of them failing; the pool's counters at the end in
 * @ret_st, what the VMM said on stderr in @ret_err (may be NULL).
 */
static void run_cloner_pool(const char *args, unsigned nr_vms, unsigned pool_size,
			    unsigned fail_next, struct vm_pool_stats *ret_st, char *ret_err,
			    size_t err_len)
{
	int serial = memfd_create("serial", MFD_CLOEXEC);
	int errfd = memfd_create("stderr", MFD_CLOEXEC), saved = -1;
	struct group_config gc = {.serial_fd = serial, .vm_pool = pool_size,
				  .vm_pool_fail_next = fail_next};
	uint64_t mib = strtoull(args, NULL, 10); /* cloner's MIB */
	struct group *g;
	char out[8192] = "", line[64];
	int status = -1;
	ssize_t n;

	assert_true(serial >= 0 && errfd >= 0);
	assert_int_equal(group__create(&gc, boot("cloner", args, serial), &g), 0);
	if (pool_size && !fail_next) /* full before the first clone: it takes one */
		assert_int_equal(vm_pool__wait(group__vm_pool(g), WATCHDOG_MS), 0);
	if (ret_err) {
		fflush(stderr);
		saved = dup(2);
		assert_true(saved >= 0);
		assert_int_equal(dup2(errfd, 2), 2);
	}
	assert_int_equal(group__run(g, WATCHDOG_MS, &status), 0);
	if (ret_err) {
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		read_all(errfd, ret_err, err_len);
	}
	close(errfd);
	if (status)
		fail_msg("status %d%s%s", status, ret_err ? ", stderr:\n" : "", ret_err ? ret_err : "");
	if (ret_st)
		vm_pool__stats(group__vm_pool(g), ret_st);
	assert_int_equal(group__nr_vms(g), nr_vms);
	/* Every VM has ended: nothing left to clone, nor a VM that is not there. */
	assert_int_equal(group__clone(g, 0, 1, 0, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(group__clone(g, nr_vms, 1, 0, NULL, NULL), -ENOENT);
	assert_pattern(group__vm(g, 0), 2, mib);
	for (unsigned i = 1; i < nr_vms; i++)
		assert_pattern(group__vm(g, i), 100 + i, mib);
	group__destroy(g); /* flushes the consoles */
	read_all(serial, out, sizeof(out));
	n = (ssize_t)strlen(out);
	assert_true(n > 0);
	assert_non_null(strstr(out, "cloner: parent 0 ok seed 2"));
	for (unsigned i = 1; i < nr_vms; i++) {
		snprintf(line, sizeof(line), "[clone %u] cloner: clone %u ok seed %u", i, i, 100 + i);
		if (!strstr(out, line))
			fail_msg("missing \"%s\" in:\n%s", line, out);
	}
	close(serial);
}

static void run_cloner(const char *args, unsigned nr_vms)
{
	run_cloner_pool(args, nr_vms, 0, 0, NULL, NULL, 0);
}

static void test_clones_isolated(void **state)
{
	(void)state;
	run_cloner("4 4", 5);
}

static void test_clones_of_clones(void **state)
{
	(void)state;
	run_cloner("4 2 nested", 4); /* clone 1 makes clone 3 */
}

struct fuzz_case {
	const char *name;
	const char *data;
	size_t len;
	enum fuzz_outcome outcome;
	uint64_t min_dirtied;
	bool full;		/* the reset must restore every state */
};

static void test_fuzz_resets_exactly(void **state)
{
	static const struct fuzz_case cases[] = {
		{"write", "W\x05\x02hello", 9, FUZZ_DONE, 1, false},
		{"dirty 300", "D\x02\x2c\x01", 4, FUZZ_DONE, 300, false},
		{"fpu", "F\x01\x5a", 3, FUZZ_DONE, 0, false},
		{"selectors", "S\x00", 2, FUZZ_DONE, 0, false},
		{"fpu, selectors, memory", "F\x01\xa5" "S\x00" "W\x03\x07xy", 10, FUZZ_DONE, 1, false},
		{"near miss", "C\x04" "BUG?", 6, FUZZ_DONE, 0, false},
		{"crash", "F\x01\x11" "W\x02\x01x" "C\x04" "BUG!", 13, FUZZ_CRASH, 0, true},
		{"hang", "S\x00" "D\x02\x05\x00H\x00", 8, FUZZ_TIMEOUT, 0, true},
		{"VMM page", "F\x01\x22" "L\x01\x07", 6, FUZZ_DONE, 1, true},
		{"empty", "", 0, FUZZ_DONE, 0, false},
		{"dirty again", "D\x02\x2c\x01", 4, FUZZ_DONE, 300, false},
	};
	const struct builtin_guest *img = guest_image("fuzzme");
	struct fuzz_config cfg = {.mem_size = MEM, .nr_cpus = 2, .serial_fd = -1,
				  .image = img->data, .image_size = img->size, .cmdline = ""};
	struct vm_state *snap, *now;
	struct fuzz *f;
	char msg[256];
	uint64_t sum;

	(void)state;
	if (fuzz__create(&cfg, &f, msg, sizeof(msg)))
		fail_msg("fuzz__create: %s", msg);
	/* The parent stays paused at the snapshot point: that is the reference. */
	sum = mem_checksum(fuzz__parent(f));
	assert_int_equal(vm__save_state(fuzz__vm(f), &snap), 0);
	assert_int_equal(mem_checksum(fuzz__vm(f)), sum);
	for (unsigned round = 0; round < 4; round++) { /* past a clear of the hot set (fuzz.c) */
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct fuzz_case *c = &cases[i];
			struct fuzz_result r;

			/* Budgets far from what the inputs need (sanitizer builds are slow). */
			int budget = c->outcome == FUZZ_TIMEOUT ? 200 : 10000;

			assert_int_equal(fuzz__run(f, c->data, c->len, budget, &r), 0);
			if (r.outcome != c->outcome)
				fail_msg("input %s: outcome %d, expected %d (%s)", c->name,
					 r.outcome, c->outcome, r.stop.what);
			if (r.dirtied < c->min_dirtied)
				fail_msg("input %s: %llu pages dirtied, expected >= %llu", c->name,
					 (unsigned long long)r.dirtied,
					 (unsigned long long)c->min_dirtied);
			if (c->outcome == FUZZ_CRASH)
				assert_non_null(strstr(r.stop.what, "#PF"));
			if (r.reset_full != c->full)
				fail_msg("input %s: %s reset, expected the %s one", c->name,
					 r.reset_full ? "a full" : "a short",
					 c->full ? "full" : "short");
			/* Back at the snapshot point, exactly. */
			assert_int_equal(mem_checksum(fuzz__vm(f)), sum);
			assert_int_equal(vm__save_state(fuzz__vm(f), &now), 0);
			assert_same_state(snap, now);
			vm_state__free(now);
		}
	}
	/*
	 * Registers, special registers and events the VMM itself changed after
	 * a run (a debugger would; this host's KVM also ignores the guest's
	 * null selectors above, so "selectors" cannot fail here): the short
	 * reset puts every one back.
	 */
	for (unsigned i = 0; i < 3; i++) {
		struct fuzz_result r;

		assert_int_equal(fuzz__exec(f, "F\x01\x42", 3, 10000, &r), 0);
		assert_int_equal(r.outcome, FUZZ_DONE);
		assert_int_equal(vm__save_state(fuzz__vm(f), &now), 0);
		now->cpus[0].regs.r15 ^= 0x5a5a + i;
		now->cpus[0].sregs.fs.base = 0x123000 + i;
		now->cpus[0].sregs.gs.base = 0x456000 + i;
		now->cpus[0].events.nmi.masked = 1;
		assert_int_equal(vm__restore_state(fuzz__vm(f), now), 0);
		vm_state__free(now);
		assert_int_equal(fuzz__reset(f, &r), 0);
		assert_false(r.reset_full);
		assert_int_equal(mem_checksum(fuzz__vm(f)), sum);
		assert_int_equal(vm__save_state(fuzz__vm(f), &now), 0);
		assert_same_state(snap, now);
		vm_state__free(now);
	}
	assert_int_equal(mem_checksum(fuzz__parent(f)), sum);
	vm_state__free(snap);
	fuzz__destroy(f);
}

/*
 * One capture, two clones: one on a pooled KVM VM, one on a VM made on
 * demand. Both hold the clone point's memory and exactly its state.
 */
static void test_pool_clone_point(void **state)
{
	struct vm_pool_config pc = {.size = 1, .nr_cpus = 2};
	struct vm_clone_config pooled = {.serial_fd = -1}, plain = {.serial_fd = -1};
	struct vm_state *at_clone, *a, *b;
	struct vm_pool_stats st;
	struct vm_capture *cap;
	struct vm_pool *pool;
	struct vm *parent, *kids[2];
	uint64_t sum;

	(void)state;
	assert_int_equal(vm_pool__create(&pc, &pool), 0);
	pooled.vm_pool = pool;
	parent = boot_cpus("spin", "4000000000", -1, 2);
	assert_int_equal(vm__start(parent), 0);
	clock_sleep_ms(30);
	vm__pause(parent);
	sum = mem_checksum(parent);
	assert_int_equal(vm__save_state(parent, &at_clone), 0);
	assert_int_equal(vm_pool__wait(pool, WATCHDOG_MS), 0);
	assert_int_equal(vm__capture(parent, 2, 0, &cap, NULL), 0);
	assert_int_equal(vm__capture_spawn(cap, 0, &pooled, &kids[0]), 0);
	assert_int_equal(vm__capture_spawn(cap, 1, &plain, &kids[1]), 0);
	vm_capture__free(cap);
	vm_pool__stats(pool, &st);
	assert_int_equal(st.taken, 1); /* kids[0] is on the pool's VM */
	assert_int_equal(mem_checksum(kids[0]), sum);
	assert_int_equal(mem_checksum(kids[1]), sum);
	assert_int_equal(vm__save_state(kids[0], &a), 0);
	assert_int_equal(vm__save_state(kids[1], &b), 0);
	assert_same_cpus(at_clone, a);
	assert_same_clone_state(a, b);
	vm_state__free(a);
	vm_state__free(b);

	/* Both run on from the clone point, apart. */
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(vm__start(kids[i]), 0);
	for (int i = 0; i < 200 && (mem_checksum(kids[0]) == sum || mem_checksum(kids[1]) == sum);
	     i++) {
		for (unsigned k = 0; k < 2; k++)
			vm__resume(kids[k]);
		clock_sleep_ms(30);
		for (unsigned k = 0; k < 2; k++)
			vm__pause(kids[k]);
	}
	assert_int_not_equal(mem_checksum(kids[0]), sum);
	assert_int_not_equal(mem_checksum(kids[1]), sum);
	assert_int_equal(mem_checksum(parent), sum);
	vm_state__free(at_clone);
	vm__destroy(kids[0]);
	vm__destroy(kids[1]);
	vm__destroy(parent);
	vm_pool__destroy(pool);
}

/* Clone @parent (paused) once through @pool. */
static void clone_once(struct vm *parent, struct vm_pool *pool)
{
	struct vm_clone_config cc = {.serial_fd = -1, .vm_pool = pool};
	struct vm *child;

	assert_int_equal(vm__clone(parent, &cc, &child, NULL), 0);
	vm__destroy(child);
}

/*
 * The pool refills what clones take, and after a failed creation: that
 * stops the refilling (no loop against a host refusing VMs) until the next
 * take, which finds it empty and makes its VM on demand.
 */
static void test_pool_refills(void **state)
{
	struct vm_pool_config pc = {.size = 2, .nr_cpus = 1, .fail_next = 1, .fail_err = -ENOMEM};
	struct vm *parent = boot("spin", "4000000000", -1);
	struct vm_pool_stats st;
	struct vm_pool *pool;

	(void)state;
	assert_int_equal(vm_pool__create(&pc, &pool), 0);
	assert_int_equal(vm_pool__wait(pool, WATCHDOG_MS), -ENOMEM);
	vm_pool__stats(pool, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.last_err, -ENOMEM);
	assert_int_equal(st.ready, 0);
	assert_int_equal(vm_pool__take_error(pool), -ENOMEM);
	assert_int_equal(vm_pool__take_error(pool), 0); /* said once */

	clone_once(parent, pool); /* empty: made on demand; the pool tries again */
	assert_int_equal(vm_pool__wait(pool, WATCHDOG_MS), 0);
	vm_pool__stats(pool, &st);
	assert_int_equal(st.empty, 1);
	assert_int_equal(st.taken, 0);
	assert_int_equal(st.made, 2);
	assert_int_equal(st.ready, 2);

	clone_once(parent, pool);
	clone_once(parent, pool);
	vm_pool__stats(pool, &st);
	assert_int_equal(st.taken, 2);
	assert_int_equal(vm_pool__wait(pool, WATCHDOG_MS), 0);
	vm_pool__stats(pool, &st);
	assert_int_equal(st.made, 4);
	assert_int_equal(st.ready, 2);
	assert_int_equal(st.failed, 1);

	/* A VM of another vCPU count does not use it. */
	struct vm *two = boot_cpus("spin", "4000000000", -1, 2);

	clone_once(two, pool);
	vm_pool__stats(pool, &st);
	assert_int_equal(st.taken, 2);
	assert_int_equal(st.empty, 2);
	vm__destroy(two);
	vm__destroy(parent);
	vm_pool__destroy(pool);
}

static void test_pool_clones_isolated(void **state)
{
	struct vm_pool_stats st;

	(void)state;
	run_cloner_pool("4 4", 5, 2, 0, &st, NULL, 0);
	assert_true(st.taken >= 1); /* the first clone found it full */
	assert_int_equal(st.taken + st.empty, 4);
	assert_int_equal(st.failed, 0);
}

/* Every VM the pool makes fails: clones are made on demand, the parent runs on. */
static void test_pool_failing(void **state)
{
	struct vm_pool_stats st;
	char err[4096];

	(void)state;
	run_cloner_pool("4 3", 4, 2, 1000, &st, err, sizeof(err));
	assert_int_equal(st.taken, 0);
	assert_int_equal(st.empty, 3);
	assert_true(st.failed >= 1);
	assert_int_equal(st.last_err, -EIO);
	if (!strstr(err, "vmm: VM pool: creating a KVM VM ahead of clones failed: "
		    "Input/output error"))
		fail_msg("no clear error on stderr:\n%s", err);
}

/* Ten levels of clones of clones, each writing its pattern before the next clone. */
static void test_clone_chain(void **state)
{
	(void)state;
	run_cloner("1 10 chain", 11);
}

static void test_clone_chain_pool(void **state)
{
	struct vm_pool_stats st;

	(void)state;
	run_cloner_pool("1 10 chain", 11, 2, 0, &st, NULL, 0);
	assert_int_equal(st.taken + st.empty, 10);
	assert_true(st.taken >= 1);
}

static void *start_blocked(void *arg)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	return (void *)(intptr_t)vm__start(arg);
}

static void *pause_watchdog(void *arg)
{
	clock_sleep_ms(WATCHDOG_MS);
	if (!__atomic_load_n((bool *)arg, __ATOMIC_SEQ_CST)) {
		fprintf(stderr, "vm__pause of a VM started with signals blocked hung\n");
		abort();
	}
	return NULL;
}

static void test_pause_from_blocked_thread(void **state)
{
	struct vm *vm = boot("spin", "4000000000", -1);
	pthread_t t, wd;
	/* Static: the detached watchdog reads it after this test has returned. */
	static bool done;
	void *ret;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, start_blocked, vm), 0);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(pthread_create(&wd, NULL, pause_watchdog, &done), 0);
	pthread_detach(wd);
	clock_sleep_ms(20);
	for (int i = 0; i < 20; i++) {
		vm__pause(vm);
		vm__resume(vm);
	}
	__atomic_store_n(&done, true, __ATOMIC_SEQ_CST);
	vm__destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clone_point),
		cmocka_unit_test(test_clones_isolated),
		cmocka_unit_test(test_clones_of_clones),
		cmocka_unit_test(test_fuzz_resets_exactly),
		cmocka_unit_test(test_pause_from_blocked_thread),
		cmocka_unit_test(test_pool_clone_point),
		cmocka_unit_test(test_pool_refills),
		cmocka_unit_test(test_pool_clones_isolated),
		cmocka_unit_test(test_pool_failing),
		cmocka_unit_test(test_clone_chain),
		cmocka_unit_test(test_clone_chain_pool),
	};

	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "test-clone: SKIPPED: /dev/kvm is not usable here (%s); these tests "
			"need real KVM\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
