/* SPDX-License-Identifier: MIT */
/*
 * cmd-opts: what the vmm commands parse alike: --mem, --cpus, --timeout
 * SECONDS, the guest's arguments and the guest image. Usage errors go through cmd_usage_error_in
 * (exit status 2); an image that cannot be loaded is reported and gives
 * EXIT_FAILED.
 */
#ifndef VMM_CMD_OPTS_H
#define VMM_CMD_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "cmd.h"

struct cmd_ctx {
	const char *name;	/* "vmm run" */
	const char *usage;	/* its usage line */
};

struct image {
	const void *data;
	size_t size;
	void *owned;
};

/* 0, or the exit status of the usage error already reported. */
int cmd_parse_mem(const struct cmd_ctx *cmd, const char *arg, uint64_t *ret);
int cmd_parse_cpus(const struct cmd_ctx *cmd, const char *arg, unsigned *ret);
/* --timeout SECONDS: a positive number up to 1e6. */
int cmd_parse_seconds(const struct cmd_ctx *cmd, const char *arg, double *ret);
/* The guest's arguments (after --) joined with single spaces into @out. */
int cmd_join_args(const struct cmd_ctx *cmd, int argc, char **argv, char *out, size_t len);
/* A built-in guest by name, else an ELF file read whole: 0 or EXIT_FAILED. */
int cmd_load_image(const struct cmd_ctx *cmd, const char *name, struct image *img);
void cmd_image_free(struct image *img);

#endif
