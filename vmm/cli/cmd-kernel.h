/* SPDX-License-Identifier: MIT */
/*
 * cmd-kernel: `vmm run --kernel bzImage [--initrd FILE] [--append CMDLINE]`,
 * the part of vmm run that boots Linux (vmm/boot). Files are read and
 * every check vmm/boot can make is made before any VM exists; on a host
 * whose ring 0 is emulated (PVM) the run is refused before that VM too.
 */
#ifndef VMM_CMD_KERNEL_H
#define VMM_CMD_KERNEL_H

#include <stdint.h>
#include <stdio.h>

#include "boot.h"

#define CMD_KERNEL_DEFAULT_MEM (256ULL << 20)
#define CMD_KERNEL_DEFAULT_CMDLINE "console=ttyS0"

struct cmd_kernel {
	const char *kernel, *initrd, *append; /* the options; append NULL: the default */
	struct boot_linux cfg;
	void *kernel_buf, *initrd_buf;
	uint64_t load_ns;
};

/*
 * Read the kernel and initrd and check they boot in @mem bytes: 0, or the
 * exit status after one message on stderr (1: a file or the image is bad).
 */
int cmd_kernel__prepare(struct cmd_kernel *k, uint64_t mem);
/* 0 if this host can boot Linux guests, else EXIT_FAILED after the message. */
int cmd_kernel__check_host(void);
/* boot__load_linux with the message on stderr; 0 or -errno. */
int cmd_kernel__load(struct cmd_kernel *k, struct vm *vm);
void cmd_kernel__print_stats(FILE *out, const struct cmd_kernel *k);
void cmd_kernel__free(struct cmd_kernel *k);

#endif
