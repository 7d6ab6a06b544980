/* SPDX-License-Identifier: MIT */
/*
 * progs-path: where meson built the Linux test programs, from the tests'
 * NAME=PATH arguments (musl-hello, gcc-hello, gcc-pie-hello, ...).
 */
#ifndef TESTS_LINUX_PROGS_PATH_H
#define TESTS_LINUX_PROGS_PATH_H

#include <stddef.h>

/* Remember the NAME=PATH arguments in argv[first..argc). */
void progs__init(int argc, char **argv, int first);
/* The path of program @name, or NULL if it was not built (musl-gcc missing). */
const char *progs__path(const char *name);
/* Read program @name whole; NULL if not built. Free with free(). */
void *progs__read(const char *name, size_t *ret_size);

#endif
