// SPDX-License-Identifier: MIT
/*
 * fuzz.c: the fuzzing loop's engine (see fuzz.h).
 *
 * vmm/fuzz owns the fuzzing loop over a resettable clone. It may call
 * vmm/vm and mm. Public: fuzz.h.
 *
 * Invariants:
 * - Between fuzz__run calls the clone is paused, its memory and vCPU state
 *   exactly the snapshot point's (reset at the end of every run), and its
 *   stop is cleared only right before it resumes. Between fuzz__exec and
 *   fuzz__reset it is paused where the run stopped (f->pending); no run
 *   starts until the reset is done.
 * - The input buffer [gpa, gpa + max) was checked to lie inside guest RAM
 *   when the guest named it; inputs are written through that range only.
 * - A failed reset or restore poisons the instance (f->broken): no input
 *   ever runs from a state that is not the snapshot.
 * - Every write to the clone's memory since the last reset is known at the
 *   reset: mm sees writes to pages still shared with the snapshot (they
 *   fault), KVM's dirty log sees the guest's writes to the clone's own
 *   frames (kept writable across resets: no fault per run), and the input
 *   range is added for the VMM's own writes.
 * - With manual dirty-log protection (f->manual), a page KVM lets the guest
 *   write without a fault is one whose bit is set: its bit stays set, and
 *   the page is restored at every reset, until the log is cleared (which
 *   write-protects it again). So the pages runs keep writing (the stack,
 *   the input, the target's data) cost a 4 KiB copy a reset, not a KVM
 *   write fault a run (~20 us on this project's PVM hosts). The log is
 *   cleared every HOT_CLEAR_EVERY resets, when the set passes HOT_MAX
 *   pages, and when it holds a page below ABI_RESERVED.
 * - The VMs have no in-kernel irqchip (vm_config.no_irqchip): a run can
 *   change no interrupt-controller or timer state, so a reset writes only
 *   registers, XSAVE and memory (vm__reset_state) after a run that ended
 *   in HC_FUZZ_DONE without writing the VMM's tables below ABI_RESERVED
 *   (the IDT, GDT, TSS, page tables and ring-0 stack: without them the
 *   guest cannot run its own code at CPL 0; page tables: without changing
 *   them, see wrote_vmm_tables). Any other run - a crash, a
 *   timeout, a cancel, an exit, such a write - gets the full restore.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "abi.h"
#include "clock.h"
#include "fuzz.h"
#include "vm-state.h"

#define HOT_CLEAR_EVERY 32 /* resets between two clears of the dirty log */
#define HOT_MAX 4096	   /* pages restored at a reset before the log is cleared */

struct fuzz {
	struct vm *parent, *vm;
	struct vm_state *snap;	/* the clone's state at the snapshot point */
	unsigned cpu;		/* the vCPU that called HC_FUZZ_READY */
	uint64_t gpa, max;
	uint64_t cov_gpa;	/* the guest's coverage map (abi_fuzz_cov), cov_size 0: none */
	uint32_t cov_size;
	int stop_efd;		/* the clone signals it when it stops */
	int cancel_fd;		/* fuzz__set_cancel_fd; -1: none */
	size_t pending_len;	/* fuzz__exec ran an input of this length: reset due */
	bool pending;
	bool pending_done;	/* and the run ended in HC_FUZZ_DONE */
	uint64_t *dirty;	/* KVM's dirty log of the clone, one bit a page */
	size_t dirty_words;
	bool manual;		/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is on */
	unsigned since_clear;	/* resets since the log was last cleared */
	int broken;		/* -errno once a reset failed */
};

static bool in_ram(const struct fuzz_config *cfg, uint64_t gpa, uint64_t len)
{
	return gpa >= ABI_RESERVED && gpa <= cfg->mem_size && len <= cfg->mem_size - gpa;
}

/* HC_FUZZ_READY's third argument: 0, or where struct abi_fuzz_cov is. */
static int read_cov_desc(struct fuzz *f, const struct fuzz_config *cfg, uint64_t desc_gpa,
			 char *msg, size_t len)
{
	struct abi_fuzz_cov d;

	if (!desc_gpa)
		return 0;
	if (!in_ram(cfg, desc_gpa, sizeof(d))) {
		snprintf(msg, len, "the guest's coverage descriptor (0x%llx) is outside its memory",
			 (unsigned long long)desc_gpa);
		return -EFAULT;
	}
	memcpy(&d, (const uint8_t *)mm_space_hva(vm__space(f->parent)) + desc_gpa, sizeof(d));
	if (d.magic != ABI_FUZZ_COV_MAGIC || !d.size || d.size > ABI_FUZZ_COV_MAX ||
	    !in_ram(cfg, d.gpa, d.size)) {
		snprintf(msg, len, "the guest named a bad coverage map (magic 0x%x, 0x%llx, %u "
			 "bytes; at most %u, inside its memory)", d.magic,
			 (unsigned long long)d.gpa, d.size, ABI_FUZZ_COV_MAX);
		return -EFAULT;
	}
	f->cov_gpa = d.gpa;
	f->cov_size = d.size;
	return 0;
}

/* Boot, run to HC_FUZZ_READY and check the buffer the guest named. */
static int boot_to_ready(struct fuzz *f, const struct fuzz_config *cfg, char *msg, size_t len)
{
	struct vm_config vc = {.mem_size = cfg->mem_size, .nr_cpus = cfg->nr_cpus,
			       .serial_fd = cfg->serial_fd, .no_irqchip = true};
	int tmo = cfg->ready_timeout_ms > 0 ? cfg->ready_timeout_ms : 10000;
	struct vm_stop stop;
	int err;

	err = vm__create(&vc, &f->parent);
	if (err) {
		snprintf(msg, len, "creating the VM: %s", strerror(-err));
		return err;
	}
	err = cfg->load ? cfg->load(f->parent, cfg->load_arg, msg, len)
			: vm__load_elf(f->parent, cfg->image, cfg->image_size, cfg->cmdline, msg, len);
	if (err) {
		if (!msg[0])
			snprintf(msg, len, "loading the guest: %s", strerror(-err));
		return err;
	}
	err = vm__start(f->parent);
	if (!err)
		err = vm__wait(f->parent, tmo, &stop);
	if (err == -ETIMEDOUT) {
		snprintf(msg, len, "the guest did not reach its snapshot point (HC_FUZZ_READY) "
			 "within %d ms", tmo);
		return err;
	}
	if (err) {
		snprintf(msg, len, "starting the VM: %s", strerror(-err));
		return err;
	}
	vm__pause(f->parent);
	if (stop.reason != VM_STOP_REQUEST || stop.req.nr != HC_FUZZ_READY) {
		snprintf(msg, len, "the guest stopped before its snapshot point: %s", stop.what);
		return -ENOEXEC;
	}
	f->cpu = stop.cpu;
	f->gpa = stop.req.args[0];
	f->max = stop.req.args[1];
	if (!f->max || f->gpa < ABI_RESERVED || f->gpa > cfg->mem_size ||
	    f->max > cfg->mem_size - f->gpa) {
		snprintf(msg, len, "the guest named an input buffer outside its memory "
			 "(0x%llx, %llu bytes)", (unsigned long long)f->gpa,
			 (unsigned long long)f->max);
		return -EFAULT;
	}
	return read_cov_desc(f, cfg, stop.req.args[2], msg, len);
}

int fuzz__create(const struct fuzz_config *cfg, struct fuzz **ret_fuzz, char *ret_msg,
		 size_t msg_len)
{
	struct vm_clone_config cc = {.serial_fd = cfg->serial_fd, .mm_flags = MM_CLONE_RESETTABLE};
	struct fuzz *f = calloc(1, sizeof(*f));
	int err;

	ret_msg[0] = '\0';
	if (!f)
		return -ENOMEM;
	f->cancel_fd = -1;
	f->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->stop_efd < 0) {
		err = -errno;
		free(f);
		return err;
	}
	err = boot_to_ready(f, cfg, ret_msg, msg_len);
	if (!err) {
		err = vm__clone(f->parent, &cc, &f->vm, NULL);
		if (err)
			snprintf(ret_msg, msg_len, "cloning the VM at its snapshot point: %s",
				 strerror(-err));
	}
	if (!err) {
		f->dirty_words = (cfg->mem_size / MM_PAGE_SIZE + 63) / 64;
		f->dirty = calloc(f->dirty_words, sizeof(uint64_t));
		f->manual = f->dirty && vm__set_dirty_log_manual(f->vm) == 0;
		err = f->dirty ? vm__set_dirty_logging(f->vm, true) : -ENOMEM;
		if (err)
			snprintf(ret_msg, msg_len, "turning on KVM's dirty log: %s", strerror(-err));
	}
	if (!err) {
		vm__set_notify_fd(f->vm, f->stop_efd);
		err = vm__save_state(f->vm, &f->snap);
		if (err)
			snprintf(ret_msg, msg_len, "saving the snapshot state: %s", strerror(-err));
	}
	if (!err) {
		/*
		 * Its threads start paused: every run begins with a resume. Wait
		 * until they are: a starting thread completes I/O (KVM_RUN) on its
		 * vCPU, which must not overlap the first reset or hypercall result.
		 */
		vm__pause(f->vm);
		err = vm__start(f->vm);
		if (err)
			snprintf(ret_msg, msg_len, "starting the clone: %s", strerror(-err));
		else
			vm__pause(f->vm);
	}
	if (err) {
		fuzz__destroy(f);
		return err;
	}
	*ret_fuzz = f;
	return 0;
}

void fuzz__destroy(struct fuzz *f)
{
	if (!f)
		return;
	vm__destroy(f->vm);
	vm__destroy(f->parent);
	vm_state__free(f->snap);
	if (f->stop_efd >= 0)
		close(f->stop_efd);
	free(f->dirty);
	free(f);
}

static void classify(const struct vm_stop *stop, struct fuzz_result *r)
{
	r->stop = *stop;
	switch (stop->reason) {
	case VM_STOP_REQUEST:
		r->outcome = stop->req.nr == HC_FUZZ_DONE ? FUZZ_DONE : FUZZ_EXIT;
		r->done_value = stop->req.args[0];
		break;
	case VM_STOP_EXIT:
		r->outcome = FUZZ_EXIT;
		break;
	default:
		r->outcome = FUZZ_CRASH;
		break;
	}
}

_Static_assert(ABI_RESERVED / MM_PAGE_SIZE <= 64, "the VMM's pages fit one bitmap word");

/*
 * Whether the run may have changed the VMM's own pages below ABI_RESERVED
 * (IDT, GDT, TSS, page tables, exception stubs, ring-0 stack). Their dirty
 * bits say so, but for the page tables: on AMD's nested paging the page
 * walker's accesses to guest page tables are writes at the nested level,
 * so KVM's dirty log marks them on every walk although nothing changes
 * (the VMM presets their accessed and dirty bits). A page-table page whose
 * contents equal the snapshot's (the parent's, paused there) is taken as
 * unchanged. (A guest that rewrote its tables and put them back within one
 * run would escape that; it takes code written for it.)
 */
static bool wrote_vmm_tables(struct fuzz *f)
{
	uint64_t low = f->dirty[0] & ((1ULL << (ABI_RESERVED / MM_PAGE_SIZE)) - 1);
	uint64_t tables = low & vm__page_table_pages();
	const uint8_t *now = mm_space_hva(vm__space(f->vm));
	const uint8_t *snap = mm_space_hva(vm__space(f->parent));

	if (low & ~tables)
		return true;
	for (; tables; tables &= tables - 1) {
		uint64_t off = (uint64_t)__builtin_ctzll(tables) * MM_PAGE_SIZE;

		if (memcmp(now + off, snap + off, MM_PAGE_SIZE))
			return true;
	}
	return false;
}

/* Put the clone back at the snapshot point; @len: the input's bytes. */
static int reset(struct fuzz *f, size_t len, bool done, struct fuzz_result *r)
{
	uint64_t t0 = clock_now_ns();
	bool low;
	int err;

	err = vm__get_dirty_log(f->vm, f->dirty);
	for (uint64_t g = f->gpa / MM_PAGE_SIZE; !err && g * MM_PAGE_SIZE < f->gpa + len; g++)
		f->dirty[g / 64] |= 1ULL << (g % 64);
	low = !err && wrote_vmm_tables(f);
	r->reset_full = !done || low;
	if (!err)
		err = mm_space_reset_tracked(vm__space(f->vm), f->dirty, 0, &r->dirtied);
	if (!err)
		err = r->reset_full ? vm__restore_state(f->vm, f->snap)
				    : vm__reset_state(f->vm, f->snap);
	/* A Linux program's descriptors, heap and mappings: memory does not hold them. */
	if (!err)
		err = vm__rewind_process(f->vm);
	/* A low page leaves the set at once: its bit alone makes resets full. */
	if (!err && f->manual &&
	    (low || r->dirtied > HOT_MAX || ++f->since_clear >= HOT_CLEAR_EVERY)) {
		err = vm__clear_dirty_log(f->vm, f->dirty);
		f->since_clear = 0;
	}
	r->reset_ns = clock_now_ns() - t0;
	if (err)
		f->broken = err;
	return err;
}

/*
 * vm__wait, but also woken by the cancel fd: then the VM is stopped and
 * *@cancelled set. The clone's stop eventfd wakes the poll; a stop is
 * checked before each sleep, so none is missed.
 */
static int wait_run(struct fuzz *f, int timeout_ms, struct vm_stop *stop, bool *cancelled)
{
	uint64_t deadline = clock_now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	if (f->cancel_fd < 0)
		return vm__wait(f->vm, timeout_ms, stop);
	for (;;) {
		struct pollfd p[2] = {{.fd = f->stop_efd, .events = POLLIN},
				      {.fd = f->cancel_fd, .events = POLLIN}};
		uint64_t now = clock_now_ns(), drain;

		if (!vm__wait(f->vm, 0, stop))
			return 0;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(p, 2, (int)((deadline - now + 999999) / 1000000)) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents && read(f->stop_efd, &drain, sizeof(drain)) < 0)
			(void)0; /* drained by an earlier wakeup */
		if (p[1].revents) {
			*cancelled = true;
			vm__stop(f->vm);
			return vm__wait(f->vm, -1, stop);
		}
	}
}

int fuzz__exec(struct fuzz *f, const void *input, size_t len, int timeout_ms,
	       struct fuzz_result *ret_result)
{
	struct fuzz_result r = {.outcome = FUZZ_TIMEOUT};
	struct vm_stop stop;
	bool cancelled = false;
	uint64_t t0;
	int err;

	if (f->broken)
		return f->broken;
	if (f->pending)
		return -EBUSY;
	if (len > f->max)
		return -E2BIG;
	if (timeout_ms <= 0)
		return -EINVAL;
	t0 = clock_now_ns();
	memcpy((uint8_t *)mm_space_hva(vm__space(f->vm)) + f->gpa, input, len);
	err = vm__set_hcall_result(f->vm, f->cpu, (int64_t)len);
	if (err) {
		f->broken = err;
		return err;
	}
	vm__rearm(f->vm);
	vm__resume(f->vm);
	err = wait_run(f, timeout_ms, &stop, &cancelled);
	vm__pause(f->vm); /* a timeout kicks the vCPUs out here */
	r.run_ns = clock_now_ns() - t0;
	f->pending = true;
	f->pending_len = len;
	if (!err)
		classify(&stop, &r);
	else if (err != -ETIMEDOUT)
		return f->broken = err;
	if (cancelled)
		r.outcome = FUZZ_CANCELLED;
	f->pending_done = r.outcome == FUZZ_DONE;
	*ret_result = r;
	return 0;
}

int fuzz__reset(struct fuzz *f, struct fuzz_result *r)
{
	int err;

	if (f->broken)
		return f->broken;
	if (!f->pending)
		return 0;
	err = reset(f, f->pending_len, f->pending_done, r);
	f->pending = false;
	return err;
}

int fuzz__run(struct fuzz *f, const void *input, size_t len, int timeout_ms,
	      struct fuzz_result *ret_result)
{
	struct fuzz_result r;
	int err = fuzz__exec(f, input, len, timeout_ms, &r);

	if (!err)
		err = fuzz__reset(f, &r);
	if (!err)
		*ret_result = r;
	return err;
}

void fuzz__set_cancel_fd(struct fuzz *f, int fd)
{
	f->cancel_fd = fd;
}

const uint8_t *fuzz__coverage(struct fuzz *f, uint32_t *ret_size)
{
	*ret_size = f->cov_size;
	if (!f->cov_size)
		return NULL;
	return (const uint8_t *)mm_space_hva(vm__space(f->vm)) + f->cov_gpa;
}

uint64_t fuzz__input_max(const struct fuzz *f)
{
	return f->max;
}

uint64_t fuzz__input_gpa(const struct fuzz *f)
{
	return f->gpa;
}

struct vm *fuzz__vm(struct fuzz *f)
{
	return f->vm;
}

struct vm *fuzz__parent(struct fuzz *f)
{
	return f->parent;
}
