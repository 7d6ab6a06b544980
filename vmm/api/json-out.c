// SPDX-License-Identifier: MIT
/*
 * json-out.c: the writer of compact JSON objects (struct json_out, json.h),
 * for control socket replies.
 *
 * Invariants: buf[0..len) is "{" followed by the members so far (len == 1:
 * none yet), or len == 0 before any use; cap >= len + 2 once buf exists, so finish can always
 * append "}" and a NUL. err is sticky: after a failed allocation nothing is
 * added and finish returns NULL.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void json_out__init(struct json_out *o)
{
	o->buf = NULL;
	o->len = o->cap = 0;
	o->err = 0;
	o->has_error = false;
	o->error[0] = '\0';
}

void json_out__free(struct json_out *o)
{
	if (!o)
		return;
	free(o->buf);
	json_out__init(o);
}

/* Room for @n more bytes plus the closing "}" and NUL. */
static bool reserve(struct json_out *o, size_t n)
{
	size_t cap;
	char *buf;

	if (o->err)
		return false;
	if (o->len + n + 2 <= o->cap)
		return true;
	cap = o->cap ? o->cap : 128;
	while (cap < o->len + n + 2) {
		if (cap > SIZE_MAX / 2)
			goto nomem;
		cap *= 2;
	}
	buf = realloc(o->buf, cap);
	if (!buf)
		goto nomem;
	o->buf = buf;
	o->cap = cap;
	return true;
nomem:
	o->err = -ENOMEM;
	return false;
}

static void put(struct json_out *o, const char *s, size_t n)
{
	if (!reserve(o, n))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_str(struct json_out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_escaped(struct json_out *o, const char *s)
{
	const char *run = s;
	char esc[8];

	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80) {
			/*
			 * Valid UTF-8 goes out as it is; anything else (a
			 * character cut in half by a truncated message, a
			 * client's stray byte echoed back) as U+FFFD, so every
			 * reply is valid UTF-8.
			 */
			size_t n = json__utf8_len((const unsigned char *)s, strnlen(s, 4));

			if (n) {
				s += n - 1;
				continue;
			}
			put(o, run, (size_t)(s - run));
			run = s + 1;
			put(o, "\\ufffd", 6);
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(o, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': put(o, "\\\"", 2); break;
		case '\\': put(o, "\\\\", 2); break;
		case '\b': put(o, "\\b", 2); break;
		case '\f': put(o, "\\f", 2); break;
		case '\n': put(o, "\\n", 2); break;
		case '\r': put(o, "\\r", 2); break;
		case '\t': put(o, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		}
	}
	put(o, run, (size_t)(s - run));
	put(o, "\"", 1);
}

/* "{" before the first member, "," before the others. */
static void put_sep(struct json_out *o)
{
	if (o->len != 1)
		put(o, o->len ? "," : "{", 1);
}

static void put_key(struct json_out *o, const char *key)
{
	put_sep(o);
	put_escaped(o, key);
	put(o, ":", 1);
}

void json_out__str(struct json_out *o, const char *key, const char *value)
{
	put_key(o, key);
	if (value)
		put_escaped(o, value);
	else
		put_str(o, "null");
}

void json_out__i64(struct json_out *o, const char *key, int64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, value);
	json_out__raw(o, key, num);
}

void json_out__u64(struct json_out *o, const char *key, uint64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	json_out__raw(o, key, num);
}

void json_out__double(struct json_out *o, const char *key, double value)
{
	char num[32] = "null";

	/* %g never writes "inf" or "nan" here, and all else it writes is JSON. */
	if (isfinite(value)) {
		snprintf(num, sizeof(num), "%.15g", value);
		if (strtod(num, NULL) != value)
			snprintf(num, sizeof(num), "%.17g", value);
	}
	json_out__raw(o, key, num);
}

void json_out__bool(struct json_out *o, const char *key, bool value)
{
	json_out__raw(o, key, value ? "true" : "false");
}

void json_out__null(struct json_out *o, const char *key)
{
	json_out__raw(o, key, "null");
}

void json_out__raw(struct json_out *o, const char *key, const char *json)
{
	if (!json) {
		o->err = -ENOMEM;
		return;
	}
	put_key(o, key);
	put_str(o, json);
}

void json_out__merge(struct json_out *o, const struct json_out *src)
{
	if (src->err) {
		o->err = src->err;
		return;
	}
	if (src->len <= 1)
		return;
	put_sep(o);
	put(o, src->buf + 1, src->len - 1);
}

const char *json_out__finish(struct json_out *o, size_t *ret_len)
{
	if (!o->len)
		put(o, "{", 1);
	if (!reserve(o, 0))
		return NULL;
	o->buf[o->len] = '}';
	o->buf[o->len + 1] = '\0';
	if (ret_len)
		*ret_len = o->len + 1;
	return o->buf;
}

int json_out__error(struct json_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	o->has_error = true;
	return -EINVAL;
}

const char *json_out__error_msg(const struct json_out *o)
{
	return o->has_error ? o->error : NULL;
}
