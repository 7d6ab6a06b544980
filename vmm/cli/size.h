/* SPDX-License-Identifier: MIT */
/* size: "64M", "1G", "4096" -> bytes, with overflow checks. */
#ifndef VMM_SIZE_H
#define VMM_SIZE_H

#include <stdint.h>

/*
 * Parse a size: decimal digits, then an optional K, M, G or T (binary
 * multiples; "KiB"/"MiB"/... and lower case accepted). -EINVAL for anything
 * else, -ERANGE when it does not fit in 64 bits. *ret_bytes is untouched on
 * failure.
 */
int size__parse(const char *s, uint64_t *ret_bytes);

#endif
