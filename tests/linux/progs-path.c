// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progs-path.h"

static int nargs;
static char **args;

void progs__init(int argc, char **argv, int first)
{
	nargs = argc - first;
	args = argv + first;
}

const char *progs__path(const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < nargs; i++)
		if (!strncmp(args[i], name, n) && args[i][n] == '=')
			return args[i] + n + 1;
	return NULL;
}

void *progs__read(const char *name, size_t *ret_size)
{
	const char *path = progs__path(name);
	FILE *f = path ? fopen(path, "rbe") : NULL;
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*ret_size = (size_t)len;
	return buf;
}
