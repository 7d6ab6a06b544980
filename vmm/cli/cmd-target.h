/* SPDX-License-Identifier: MIT */
/*
 * cmd-target: the guest `vmm fuzz` and `vmm afl` run - a boot-ABI ELF
 * (fuzz.c loads it with vm__load_elf) or a static Linux program, loaded
 * through vmm/linux (linux_vm__load, the VM owning the process) with the
 * guest arguments split at spaces as its argv[1...].
 */
#ifndef VMM_CMD_TARGET_H
#define VMM_CMD_TARGET_H

#include "cmd-opts.h"
#include "fuzz.h"

#define CMD_TARGET_MAX_ARGS 64

struct cmd_target {
	const struct image *img;
	const char *name;	/* --guest, argv[0] */
	const char *cmdline;	/* the guest arguments, joined */
};

/*
 * Point @cfg at @t (which must outlive the fuzz instance) when @img is a
 * Linux program: 0; EXIT_USAGE with a message when it cannot be fuzzed
 * with these options (more than one vCPU; --mem is 8 MiB at least for
 * every guest already). A boot-ABI guest
 * leaves @cfg alone.
 */
int cmd_target__setup(const struct cmd_ctx *cmd, struct cmd_target *t, struct fuzz_config *cfg);

#endif
