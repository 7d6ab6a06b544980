// SPDX-License-Identifier: MIT
/*
 * fuzz-json: the control socket's JSON reader (vmm/api/json.c) on any
 * bytes, and the writer (json-out.c) on whatever the reader accepts.
 *
 * Properties, beyond no memory error or UB:
 *  - a rejected input has a message;
 *  - an accepted object's keys and string values are NUL-free valid UTF-8
 *    (json.h's promise), its getters agree with json__type;
 *  - written back with json_out and read again, it is the same object
 *    (keys in order, types, strings, integers), so every reply the writer
 *    builds from request text is valid JSON;
 *  - an error message quoting request text (json_out__error truncates it
 *    by bytes) still makes a valid reply.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

static void check_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t l = p[i] < 0x80 ? 1 : json__utf8_len(p + i, n - i);

		FUZZ_CHECK(l, "accepted string \"%s\" is not UTF-8 at byte %zu", s, i);
		i += l;
	}
}

/* Add @key's value from @obj to @o; its type as written. */
static enum json_type write_member(const struct json_obj *obj, const char *key, struct json_out *o)
{
	enum json_type t = json__type(obj, key);
	const char *s = json__get_str(obj, key);
	int64_t i;
	uint64_t u;
	double d;
	bool b;

	FUZZ_CHECK(json__has(obj, key), "key \"%s\" listed but not found", key);
	FUZZ_CHECK((t == JSON_STRING) == (s != NULL), "\"%s\": type %d, string %p", key, t,
		   (const void *)s);
	switch (t) {
	case JSON_STRING:
		check_utf8(s);
		json_out__str(o, key, s);
		return t;
	case JSON_BOOL:
		FUZZ_CHECK(!json__get_bool(obj, key, &b), "\"%s\": a bool without a value", key);
		json_out__bool(o, key, b);
		return t;
	case JSON_NUMBER:
		if (!json__get_i64(obj, key, &i)) {
			json_out__i64(o, key, i);
		} else if (!json__get_u64(obj, key, &u)) {
			json_out__u64(o, key, u);
		} else if (!json__get_double(obj, key, &d)) {
			json_out__double(o, key, d);
		} else {
			json_out__null(o, key); /* e.g. 1e999: not finite */
			return JSON_NULL;
		}
		return t;
	case JSON_NULL:
		FUZZ_CHECK(json__get_bool(obj, key, &b) == -EINVAL, "\"%s\": null as bool", key);
		json_out__null(o, key);
		return t;
	default:
		FUZZ_CHECK(0, "\"%s\": type %d", key, t);
	}
	return t;
}

static void check_same(const struct json_obj *a, const struct json_obj *b,
		       const enum json_type *written)
{
	unsigned n = json__nr_keys(a);

	FUZZ_CHECK(json__nr_keys(b) == n, "%u keys written, %u read back", n, json__nr_keys(b));
	for (unsigned k = 0; k < n; k++) {
		const char *key = json__key(a, k);
		int64_t x, y;

		FUZZ_CHECK(!strcmp(key, json__key(b, k)), "key %u: \"%s\" read back as \"%s\"", k,
			   key, json__key(b, k));
		FUZZ_CHECK(json__type(b, key) == written[k], "\"%s\": type %d read back as %d", key,
			   written[k], json__type(b, key));
		if (written[k] == JSON_STRING)
			FUZZ_CHECK(!strcmp(json__get_str(a, key), json__get_str(b, key)),
				   "\"%s\": string changed", key);
		if (!json__get_i64(a, key, &x))
			FUZZ_CHECK(!json__get_i64(b, key, &y) && x == y, "\"%s\": integer changed",
				   key);
	}
}

/* A handler's error quoting request text, as api.c replies it, parses. */
static void check_error_reply(const char *quoted)
{
	struct json_out o;
	struct json_obj *back;
	const char *text;
	size_t len;

	json_out__init(&o);
	json_out__error(&o, "unknown command \"%s\"", quoted);
	json_out__bool(&o, "ok", false);
	json_out__str(&o, "error", json_out__error_msg(&o));
	text = json_out__finish(&o, &len);
	FUZZ_CHECK(text, "json_out failed");
	FUZZ_CHECK(!json__parse_object(text, len, &back, NULL, 0), "error reply %s is not JSON",
		   text);
	check_utf8(json__get_str(back, "error"));
	json__free(back);
	json_out__free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum json_type written[JSON_MAX_KEYS];
	struct json_obj *obj, *back;
	char msg[JSON_MSG_MAX];
	struct json_out o;
	const char *text;
	unsigned n;
	size_t len;
	int err;

	msg[0] = '\0';
	err = json__parse_object((const char *)data, size, &obj, msg, sizeof(msg));
	if (err) {
		FUZZ_CHECK(err == -EINVAL || err == -E2BIG || err == -ENOMEM, "error %d", err);
		FUZZ_CHECK(msg[0], "rejected without a message");
		FUZZ_REJECT("%s", msg);
		return 0;
	}
	n = json__nr_keys(obj);
	FUZZ_CHECK(n <= JSON_MAX_KEYS, "%u keys", n);
	json_out__init(&o);
	for (unsigned k = 0; k < n; k++) {
		check_utf8(json__key(obj, k));
		written[k] = write_member(obj, json__key(obj, k), &o);
	}
	text = json_out__finish(&o, &len);
	FUZZ_CHECK(text, "json_out failed");
	/* Numbers may grow when written (1e9), so a long one may not fit a request. */
	if (len <= JSON_MAX_LINE) {
		err = json__parse_object(text, len, &back, msg, sizeof(msg));
		FUZZ_CHECK(!err, "written back as %s, which does not parse: %s", text, msg);
		check_same(obj, back, written);
		json__free(back);
	}
	if (json__get_str(obj, "cmd"))
		check_error_reply(json__get_str(obj, "cmd"));
	json_out__free(&o);
	json__free(obj);
	FUZZ_ACCEPT();
	return 0;
}
