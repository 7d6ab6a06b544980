// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "size.h"

int size__parse(const char *s, uint64_t *ret_bytes)
{
	static const char units[] = "KMGT";
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*p) {
		const char *u = strchr(units, toupper((unsigned char)*p));

		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (!strcasecmp(p, "iB") || !strcasecmp(p, "B"))
			p += strlen(p);
		if (*p)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret_bytes = v << shift;
	return 0;
}
