// SPDX-License-Identifier: MIT
/* cmd-target.c: Linux programs as vmm fuzz / vmm afl targets (cmd-target.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"
#include "cmd-target.h"
#include "cmd.h"
#include "linux-vm.h"

static int load_linux(struct vm *vm, void *arg, char *msg, size_t len)
{
	const struct cmd_target *t = arg;
	char args[ABI_CMDLINE_MAX], *argv[CMD_TARGET_MAX_ARGS + 2], *save = NULL;
	struct linux_vm_config lc = {.image = t->img->data, .size = t->img->size, .stderr_fd = -1,
				     .vm_owns = true};
	struct linux_vm *lv;
	int argc = 0;

	snprintf(args, sizeof(args), "%s", t->cmdline ? t->cmdline : "");
	argv[argc++] = (char *)t->name;
	for (char *a = strtok_r(args, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
		if (argc > CMD_TARGET_MAX_ARGS) {
			snprintf(msg, len, "more than %d guest arguments", CMD_TARGET_MAX_ARGS);
			return -E2BIG;
		}
		argv[argc++] = a;
	}
	argv[argc] = NULL;
	lc.argc = argc;
	lc.argv = argv;
	return linux_vm__load(vm, &lc, &lv, msg, len);
}

int cmd_target__setup(const struct cmd_ctx *cmd, struct cmd_target *t, struct fuzz_config *cfg)
{
	if (linux_elf__detect(t->img->data, t->img->size) != LINUX_ELF_LINUX)
		return 0; /* boot ABI; a dynamic Linux program is named by the loader */
	if (cfg->nr_cpus != 1)
		return cmd_usage_error_in(cmd->name, cmd->usage,
					  "a Linux program runs on one vCPU: no --cpus", NULL);
	cfg->load = load_linux;
	cfg->load_arg = t;
	return 0;
}
