/* SPDX-License-Identifier: MIT */
/*
 * cli-util: run the vmm binary from a test and collect its exit status,
 * stdout and stderr (cmocka tests of the command line).
 */
#ifndef TESTS_CLI_UTIL_H
#define TESTS_CLI_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static const char *vmm_bin; /* set by main from argv[1] */

struct result {
	int status;
	char out[8192];
	char err[8192];
};

static inline void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run `vmm ARGS` (a shell command line) and collect its status and output. */
static inline void run(const char *args, struct result *r)
{
	char cmd[4096];
	char out[] = "/tmp/vmm-cli-out-XXXXXX", err[] = "/tmp/vmm-cli-err-XXXXXX";
	int fo = mkstemp(out), fe = mkstemp(err);

	assert_true(fo >= 0 && fe >= 0);
	snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s </dev/null", vmm_bin, args, out, err);
	int st = system(cmd);

	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	unlink(out);
	unlink(err);
	close(fo);
	close(fe);
}

static inline unsigned lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#endif
