/* SPDX-License-Identifier: MIT */
/*
 * fuzz: run inputs against a guest from a snapshot point, resetting the
 * guest to that point after each one.
 *
 * The guest boots and names its input buffer with HC_FUZZ_READY (gpa,
 * max_len). That is the snapshot point: the VM is cloned there with
 * MM_CLONE_RESETTABLE and its vCPU and irqchip state kept. Each input is
 * written at gpa in the clone, the hypercall returns its length, and the
 * clone runs until HC_FUZZ_DONE, a crash, an exit, or the time budget (then
 * the VMM kicks the vCPUs). Then the clone is reset: mm puts back the pages
 * the run dirtied (cost proportional to them) and the vCPU state is
 * restored, so every input starts from exactly the snapshot. The VMs have
 * no in-kernel irqchip (nothing to restore there); after a run that ended
 * in HC_FUZZ_DONE only registers and XSAVE are written (fuzz.c says when
 * and why that is exact). The parent VM
 * stays paused at the snapshot point; its frames are the clone's origin.
 */
#ifndef VMM_FUZZ_H
#define VMM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

struct fuzz_config {
	uint64_t mem_size;
	unsigned nr_cpus;
	int serial_fd;		/* the guest's console; -1 discards it */
	const void *image;	/* the guest ELF */
	size_t image_size;
	const char *cmdline;
	int ready_timeout_ms;	/* to reach HC_FUZZ_READY; <= 0: 10 s */
	/*
	 * Optional: put the guest into the new VM instead of vm__load_elf of
	 * image/cmdline (a static Linux program: vmm/cli's loader, whose
	 * process the VM owns and its clone rewinds at every reset). 0, or
	 * -errno with @msg saying why.
	 */
	int (*load)(struct vm *vm, void *arg, char *msg, size_t len);
	void *load_arg;
};

enum fuzz_outcome {
	FUZZ_DONE,	/* HC_FUZZ_DONE */
	FUZZ_CRASH,	/* exception, triple fault or unhandled exit */
	FUZZ_TIMEOUT,	/* over the time budget */
	FUZZ_EXIT,	/* the guest exited instead of reporting done */
	FUZZ_CANCELLED,	/* the cancel fd became readable (fuzz__set_cancel_fd) */
};

struct fuzz_result {
	enum fuzz_outcome outcome;
	struct vm_stop stop;	/* FUZZ_CRASH, FUZZ_EXIT: why */
	uint64_t done_value;	/* FUZZ_DONE: the guest's argument */
	uint64_t dirtied;	/* pages the reset restored: every page the run
				   dirtied, and those earlier runs dirtied that
				   stay writable (fuzz.c: manual dirty log) */
	uint64_t run_ns;	/* input written to the VM paused again */
	uint64_t reset_ns;	/* memory reset + state restore */
	bool reset_full;	/* the reset restored every state (vm__restore_state),
				   not just what a run to HC_FUZZ_DONE can change
				   (vm__reset_state): after a crash, timeout, cancel
				   or exit, or a write below ABI_RESERVED */
};

struct fuzz;

/* Boot the guest to its snapshot point; on failure @ret_msg says why. */
int fuzz__create(const struct fuzz_config *cfg, struct fuzz **ret_fuzz, char *ret_msg,
		 size_t msg_len);
void fuzz__destroy(struct fuzz *f); /* NULL: no-op */

/*
 * Run one input (at most fuzz__input_max bytes, else -E2BIG) for at most
 * @timeout_ms (> 0), then reset to the snapshot point. 0 whatever the guest
 * did (see @ret_result); -errno if the VMM failed, and then the fuzz
 * instance cannot run further inputs.
 */
int fuzz__run(struct fuzz *f, const void *input, size_t len, int timeout_ms,
	      struct fuzz_result *ret_result);

/*
 * fuzz__run in two steps, for a caller that reads the guest's memory after
 * the run (its coverage map) before the reset: fuzz__exec runs the input
 * and leaves the clone paused where it stopped; fuzz__reset (required
 * before the next fuzz__exec) puts it back at the snapshot point and fills
 * in @r's reset fields. Same return values as fuzz__run.
 */
int fuzz__exec(struct fuzz *f, const void *input, size_t len, int timeout_ms,
	       struct fuzz_result *ret_result);
int fuzz__reset(struct fuzz *f, struct fuzz_result *r);

/*
 * Also end a run (FUZZ_CANCELLED) as soon as @fd is readable or hung up
 * (poll), e.g. a pidfd or an epoll fd; -1: never. The fd is not owned.
 */
void fuzz__set_cancel_fd(struct fuzz *f, int fd);

/*
 * The coverage map the guest named at its snapshot point (abi.h, struct
 * abi_fuzz_cov): a host pointer into the clone's memory, valid while the
 * instance lives (read it between fuzz__exec and fuzz__reset), and its
 * size; NULL and 0 if the guest named none.
 */
const uint8_t *fuzz__coverage(struct fuzz *f, uint32_t *ret_size);

uint64_t fuzz__input_max(const struct fuzz *f);
uint64_t fuzz__input_gpa(const struct fuzz *f);
struct vm *fuzz__vm(struct fuzz *f);	 /* the clone the inputs run in */
struct vm *fuzz__parent(struct fuzz *f); /* paused at the snapshot point */

#endif
