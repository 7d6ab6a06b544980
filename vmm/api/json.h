/* SPDX-License-Identifier: MIT */
/*
 * json: the little JSON the control socket speaks (api.h); the reader
 * is json.c, the writer json-out.c.
 *
 * Reader: one flat JSON object per request line, values strings, numbers,
 * true, false or null. It is strict (RFC 8259): no nested objects or
 * arrays, no duplicate keys, no trailing bytes, no NUL bytes, strings valid
 * UTF-8 without raw control characters, \u0000 and unpaired surrogates
 * rejected, at most JSON_MAX_LINE bytes and JSON_MAX_KEYS keys. A parsed
 * object owns one allocation; its strings are NUL-terminated UTF-8 and live
 * as long as the object.
 *
 * Writer: struct json_out builds one compact object, "{...}" without a
 * newline, key by key, in call order. It never fails midway: the first
 * allocation failure is remembered and json_out__finish() returns NULL.
 * Strings are escaped (", \ and control characters); bytes >= 0x80 are
 * copied as they are, so callers pass UTF-8.
 *
 * Neither side is thread-safe per object; distinct objects are independent.
 */
#ifndef VMM_JSON_H
#define VMM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_LINE 4096	/* bytes in one request, without the newline */
#define JSON_MAX_KEYS 32
#define JSON_MSG_MAX 160	/* room a parse error message needs */
#define JSON_OUT_ERROR_MAX 256	/* json_out__error() keeps this much */

enum json_type {
	JSON_ABSENT = 0,	/* json__type(): no such key */
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
};

struct json_obj;

/*
 * Parse @len bytes at @text (no NUL needed) as one object. 0 and
 * *ret_obj; -EINVAL (syntax, or something not supported), -E2BIG (more than
 * JSON_MAX_LINE bytes or JSON_MAX_KEYS keys) or -ENOMEM. On failure a
 * message such as "at byte 12: expected ':' after key" goes to @ret_msg
 * (if not NULL; truncated to @msg_len) and *ret_obj is untouched.
 */
int json__parse_object(const char *text, size_t len, struct json_obj **ret_obj, char *ret_msg,
		       size_t msg_len) __attribute__((warn_unused_result));
void json__free(struct json_obj *obj);
/*
 * The length (2-4) of the valid multi-byte UTF-8 character at @s, of which
 * @avail bytes are readable (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF); 0 if it is not one.
 */
size_t json__utf8_len(const unsigned char *s, size_t avail);

/* Keys in document order, i < json__nr_keys(). */
unsigned json__nr_keys(const struct json_obj *obj);
const char *json__key(const struct json_obj *obj, unsigned i);

enum json_type json__type(const struct json_obj *obj, const char *key);
bool json__has(const struct json_obj *obj, const char *key);
/* The string value of @key; NULL if absent or not a string. */
const char *json__get_str(const struct json_obj *obj, const char *key);
/*
 * The getters below return 0, -ENOENT when @key is absent, -EINVAL when its
 * value has another type or does not fit; *ret is untouched on failure.
 * Integers are written without fraction or exponent: 1.0, 1e2 and "3" are
 * -EINVAL for json__get_i64/u64, and json__get_u64 refuses a minus sign.
 * json__get_double takes any number that is finite as a double.
 */
int json__get_i64(const struct json_obj *obj, const char *key, int64_t *ret);
int json__get_u64(const struct json_obj *obj, const char *key, uint64_t *ret);
int json__get_bool(const struct json_obj *obj, const char *key, bool *ret);
int json__get_double(const struct json_obj *obj, const char *key, double *ret);

struct json_out {
	char *buf;	/* "{" and the members so far; NULL until first use */
	size_t len, cap;
	int err;	/* 0 or -ENOMEM, sticky */
	bool has_error;
	char error[JSON_OUT_ERROR_MAX];	/* json_out__error()'s message */
};

void json_out__init(struct json_out *o);
/* Free the buffer; @o is then as after json_out__init(). NULL is fine. */
void json_out__free(struct json_out *o);

/* Add one member. A NULL string value is written as null. */
void json_out__str(struct json_out *o, const char *key, const char *value);
void json_out__i64(struct json_out *o, const char *key, int64_t value);
void json_out__u64(struct json_out *o, const char *key, uint64_t value);
/* Shortest of %.15g/%.17g that reads back equal; NaN and infinities: null. */
void json_out__double(struct json_out *o, const char *key, double value);
void json_out__bool(struct json_out *o, const char *key, bool value);
void json_out__null(struct json_out *o, const char *key);
/*
 * @json is a complete JSON value copied as is, e.g. an object from another
 * json_out's json_out__finish(); NULL (a failed finish) makes @o fail.
 */
void json_out__raw(struct json_out *o, const char *key, const char *json);
/* Append every member of @src (not its error message) to @o. */
void json_out__merge(struct json_out *o, const struct json_out *src);

/*
 * "{...}", NUL-terminated, owned by @o and valid until its next change; its
 * length in *ret_len if not NULL. More members may be added afterwards.
 * NULL if an allocation failed.
 */
const char *json_out__finish(struct json_out *o, size_t *ret_len);

/*
 * Record an error message for a failing request handler (api.h); the
 * last one wins. Returns -EINVAL, so a handler can write
 * `return json_out__error(reply, "unknown command \"%s\"", cmd);`.
 */
int json_out__error(struct json_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The recorded message, or NULL. */
const char *json_out__error_msg(const struct json_out *o);

#endif
