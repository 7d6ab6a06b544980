// SPDX-License-Identifier: MIT
/*
 * test-json: vmm/api/json.h, suite vmm - the strict reader (every value type,
 * escapes, each rejection with its message, number limits) and the writer
 * (exact output, escaping that reads back through the reader).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

#define SENTINEL ((struct json_obj *)0x1)

static struct json_obj *parse_ok(const char *text)
{
	struct json_obj *obj = NULL;
	char msg[JSON_MSG_MAX];
	int err = json__parse_object(text, strlen(text), &obj, msg, sizeof(msg));

	if (err)
		fail_msg("%s: %d %s", text, err, msg);
	assert_non_null(obj);
	return obj;
}

/* @text (of @len bytes) fails with @err and exactly @want as message. */
static void parse_bad_len(const char *text, size_t len, int want_err, const char *want)
{
	struct json_obj *obj = SENTINEL;
	char msg[JSON_MSG_MAX];
	int err = json__parse_object(text, len, &obj, msg, sizeof(msg));

	if (err != want_err || strcmp(msg, want))
		fail_msg("%s: got %d '%s', want %d '%s'", text, err, msg, want_err, want);
	assert_ptr_equal(obj, SENTINEL);
}

static void parse_bad(const char *text, const char *want)
{
	parse_bad_len(text, strlen(text), -EINVAL, want);
}

static void test_every_type(void **state)
{
	struct json_obj *obj = parse_ok(" \t{ \"cmd\" : \"stats\",\"n\":-12,\"f\":1.5e3 ,"
					"\"t\":true,\"no\":false,\"nil\":null,\"e\":\"\"}\r\n ");
	int64_t i = 0;
	double d = 0;
	bool b = false;

	assert_int_equal(json__nr_keys(obj), 7);
	assert_string_equal(json__key(obj, 0), "cmd");
	assert_string_equal(json__key(obj, 6), "e");
	assert_null(json__key(obj, 7));
	assert_string_equal(json__get_str(obj, "cmd"), "stats");
	assert_string_equal(json__get_str(obj, "e"), "");
	assert_int_equal(json__get_i64(obj, "n", &i), 0);
	assert_int_equal(i, -12);
	assert_int_equal(json__get_double(obj, "f", &d), 0);
	assert_true(d == 1500.0);
	assert_int_equal(json__get_bool(obj, "t", &b), 0);
	assert_true(b);
	assert_int_equal(json__get_bool(obj, "no", &b), 0);
	assert_false(b);
	assert_true(json__has(obj, "nil"));
	assert_false(json__has(obj, "missing"));
	assert_int_equal(json__type(obj, "nil"), JSON_NULL);
	assert_int_equal(json__type(obj, "n"), JSON_NUMBER);
	assert_int_equal(json__type(obj, "cmd"), JSON_STRING);
	assert_int_equal(json__type(obj, "t"), JSON_BOOL);
	assert_int_equal(json__type(obj, "missing"), JSON_ABSENT);
	/* Wrong types and absent keys; the outputs stay untouched. */
	assert_null(json__get_str(obj, "n"));
	assert_null(json__get_str(obj, "missing"));
	i = 77;
	assert_int_equal(json__get_i64(obj, "cmd", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "nil", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "missing", &i), -ENOENT);
	assert_int_equal(i, 77);
	assert_int_equal(json__get_bool(obj, "n", &b), -EINVAL);
	assert_int_equal(json__get_bool(obj, "missing", &b), -ENOENT);
	assert_int_equal(json__get_double(obj, "t", &d), -EINVAL);
	json__free(obj);
	json__free(NULL);

	obj = parse_ok("{}");
	assert_int_equal(json__nr_keys(obj), 0);
	json__free(obj);
	obj = parse_ok(" { } ");
	json__free(obj);
}

static void test_escapes(void **state)
{
	struct json_obj *obj =
		parse_ok("{\"s\":\"q\\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f\",\"e\":\"\\u00e9\\u20AC\","
			 "\"sp\":\"\\ud83d\\ude00\\uD83D\\uDE00\",\"raw\":\"\xc3\xa9\xe2\x82\xac"
			 "\xf0\x9f\x98\x80\",\"k\\u0041\":1,\"del\":\"\x7f\"}");

	assert_string_equal(json__get_str(obj, "s"), "q\"b\\s/n\nr\rt\tb\bf\f");
	assert_string_equal(json__get_str(obj, "e"), "\xc3\xa9\xe2\x82\xac");
	assert_string_equal(json__get_str(obj, "sp"), "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
	assert_string_equal(json__get_str(obj, "raw"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_true(json__has(obj, "kA"));
	assert_string_equal(json__get_str(obj, "del"), "\x7f");
	json__free(obj);
	/* The largest code point and a \u escape that is a whole line's worth. */
	obj = parse_ok("{\"max\":\"\\udbff\\udfff\",\"one\":\"\\u0001\"}");
	assert_string_equal(json__get_str(obj, "max"), "\xf4\x8f\xbf\xbf");
	assert_string_equal(json__get_str(obj, "one"), "\x01");
	json__free(obj);
}

static void test_syntax_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"", "at byte 0: expected '{' (a request is one JSON object)"},
		{"   ", "at byte 3: expected '{' (a request is one JSON object)"},
		{"[1]", "at byte 0: expected '{' (a request is one JSON object)"},
		{"\"cmd\"", "at byte 0: expected '{' (a request is one JSON object)"},
		{"{", "at byte 1: expected a string key"},
		{"{\"a\" 1}", "at byte 5: expected ':' after key"},
		{"{\"a\"", "at byte 4: expected ':' after key"},
		{"{\"a\":1 \"b\":2}", "at byte 7: expected ',' or '}' after value"},
		{"{\"a\":1", "at byte 6: expected ',' or '}' after value"},
		{"{\"a\":1,}", "at byte 7: expected a string key"},
		{"{a:1}", "at byte 1: expected a string key"},
		{"{'a':1}", "at byte 1: expected a string key"},
		{"{\"a\":}", "at byte 5: value expected"},
		{"{\"a\":", "at byte 5: value expected, found end of input"},
		{"{\"a\":tru}", "at byte 5: value expected"},
		{"{\"a\":True}", "at byte 5: value expected"},
		{"{\"a\":nulls}", "at byte 9: expected ',' or '}' after value"},
		{"{\"x\":{}}", "nested objects are not supported (key \"x\")"},
		{"{\"cmd\":\"a\",\"x\":[1]}", "nested arrays are not supported (key \"x\")"},
		{"{\"cmd\":\"a\",\"cmd\":\"b\"}", "duplicate key \"cmd\""},
		{"{\"a\":1} x", "at byte 8: trailing characters after the object"},
		{"{\"a\":1}{}", "at byte 7: trailing characters after the object"},
		{"{\"a\":\"b", "at byte 7: unterminated string"},
		{"{\"a\":\"b\\", "at byte 7: invalid escape in string"},
		{"{\"a\":\"\x01\"}", "at byte 6: control character 0x01 in string"},
		{"{\"a\":\"\n\"}", "at byte 6: control character 0x0a in string"},
		{"{\"a\":\"\\x\"}", "at byte 6: invalid escape in string"},
		{"{\"a\":\"\\u12\"}", "at byte 6: invalid \\u escape (4 hex digits expected)"},
		{"{\"a\":\"\\u12g4\"}", "at byte 6: invalid \\u escape (4 hex digits expected)"},
		{"{\"a\":\"x\\u0000\"}", "at byte 7: \\u0000 is not allowed in strings"},
		{"{\"a\":\"\\ud800\"}", "at byte 6: unpaired surrogate \\ud800"},
		{"{\"a\":\"\\udc00\\ud800\"}", "at byte 6: unpaired surrogate \\udc00"},
		{"{\"a\":\"\\ud800\\u0041\"}", "at byte 6: unpaired surrogate \\ud800"},
		{"{\"a\":\"\\ud800\\ud800\"}", "at byte 6: unpaired surrogate \\ud800"},
		{"{\"a\":\"\xff\"}", "at byte 6: invalid UTF-8 in string"},
		{"{\"a\":\"\xc0\x80\"}", "at byte 6: invalid UTF-8 in string"}, /* overlong */
		{"{\"a\":\"\xe0\x80\xaf\"}", "at byte 6: invalid UTF-8 in string"},
		{"{\"a\":\"\xed\xa0\x80\"}", "at byte 6: invalid UTF-8 in string"}, /* surrogate */
		{"{\"a\":\"\xf4\x90\x80\x80\"}", "at byte 6: invalid UTF-8 in string"},
		{"{\"a\":\"\xe2\x82\"}", "at byte 6: invalid UTF-8 in string"},
		{"{\"a\":\"\x80\"}", "at byte 6: invalid UTF-8 in string"},
		{"{\"\xe9\":1}", "at byte 2: invalid UTF-8 in string"},
		{"\xef\xbb\xbf{}", "at byte 0: expected '{' (a request is one JSON object)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].text, cases[i].msg);
	/* A NUL byte anywhere, even inside a string. */
	parse_bad_len("{\"a\":\"b\0\"}", 10, -EINVAL, "at byte 7: NUL byte");
	parse_bad_len("{}\0", 3, -EINVAL, "at byte 2: NUL byte");
}

static void test_numbers(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"{\"n\":01}", "at byte 6: invalid number (leading zero)"},
		{"{\"n\":-01}", "at byte 7: invalid number (leading zero)"},
		{"{\"n\":00}", "at byte 6: invalid number (leading zero)"},
		{"{\"n\":-}", "at byte 6: invalid number (digit expected)"},
		{"{\"n\":-a}", "at byte 6: invalid number (digit expected)"},
		{"{\"n\":1.}", "at byte 7: invalid number (digit expected after '.')"},
		{"{\"n\":1.e5}", "at byte 7: invalid number (digit expected after '.')"},
		{"{\"n\":1e}", "at byte 7: invalid number (digit expected in exponent)"},
		{"{\"n\":1e+}", "at byte 8: invalid number (digit expected in exponent)"},
		{"{\"n\":.5}", "at byte 5: value expected"},
		{"{\"n\":+1}", "at byte 5: value expected"},
		{"{\"n\":0x10}", "at byte 6: expected ',' or '}' after value"},
		{"{\"n\":1.5.2}", "at byte 8: expected ',' or '}' after value"},
		{"{\"n\":NaN}", "at byte 5: value expected"},
		{"{\"n\":Infinity}", "at byte 5: value expected"},
	};
	struct json_obj *obj;
	int64_t i = 0;
	uint64_t u = 0;
	double d = 0;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		parse_bad(bad[k].text, bad[k].msg);

	obj = parse_ok("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
		       "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
		       "\"umax\":18446744073709551615,\"uover\":18446744073709551616,"
		       "\"neg\":-1,\"mz\":-0,\"z\":0,\"frac\":1.5,\"exp\":1e2,\"big\":1e99,"
		       "\"huge\":1e999,\"tiny\":1E-400,\"str\":\"3\",\"f0\":1.0,\"e\":-2.5E+3}");
	assert_int_equal(json__get_i64(obj, "max", &i), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(json__get_i64(obj, "min", &i), 0);
	assert_true(i == INT64_MIN);
	i = 5;
	assert_int_equal(json__get_i64(obj, "over", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "under", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "frac", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "exp", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "big", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "str", &i), -EINVAL);
	assert_int_equal(json__get_i64(obj, "f0", &i), -EINVAL);
	assert_int_equal(i, 5);
	assert_int_equal(json__get_i64(obj, "mz", &i), 0);
	assert_int_equal(i, 0);

	assert_int_equal(json__get_u64(obj, "over", &u), 0);
	assert_true(u == (uint64_t)INT64_MAX + 1);
	assert_int_equal(json__get_u64(obj, "umax", &u), 0);
	assert_true(u == UINT64_MAX);
	u = 9;
	assert_int_equal(json__get_u64(obj, "uover", &u), -EINVAL);
	assert_int_equal(json__get_u64(obj, "neg", &u), -EINVAL);
	assert_int_equal(json__get_u64(obj, "mz", &u), -EINVAL);
	assert_int_equal(json__get_u64(obj, "frac", &u), -EINVAL);
	assert_int_equal(json__get_u64(obj, "nope", &u), -ENOENT);
	assert_true(u == 9);
	assert_int_equal(json__get_u64(obj, "z", &u), 0);
	assert_true(u == 0);

	assert_int_equal(json__get_double(obj, "frac", &d), 0);
	assert_true(d == 1.5);
	assert_int_equal(json__get_double(obj, "big", &d), 0);
	assert_true(d == 1e99);
	assert_int_equal(json__get_double(obj, "e", &d), 0);
	assert_true(d == -2500.0);
	assert_int_equal(json__get_double(obj, "max", &d), 0);
	assert_true(d == 9223372036854775807.0);
	assert_int_equal(json__get_double(obj, "tiny", &d), 0);
	assert_true(d == 0.0);
	d = 7;
	assert_int_equal(json__get_double(obj, "huge", &d), -EINVAL);
	assert_int_equal(json__get_double(obj, "str", &d), -EINVAL);
	assert_int_equal(json__get_double(obj, "nope", &d), -ENOENT);
	assert_true(d == 7);
	json__free(obj);
}

static void test_limits(void **state)
{
	char text[JSON_MAX_LINE + 64], msg[JSON_MSG_MAX], small[12];
	struct json_obj *obj = SENTINEL;
	size_t n = 0;

	/* Exactly JSON_MAX_LINE bytes parse; one more is -E2BIG. */
	n = (size_t)snprintf(text, sizeof(text), "{\"cmd\":\"");
	memset(text + n, 'x', JSON_MAX_LINE - n - 2);
	memcpy(text + JSON_MAX_LINE - 2, "\"}", 3);
	obj = parse_ok(text);
	assert_int_equal(strlen(json__get_str(obj, "cmd")), JSON_MAX_LINE - 10);
	json__free(obj);
	memcpy(text + JSON_MAX_LINE - 2, "x\"}", 4);
	parse_bad_len(text, strlen(text), -E2BIG, "text longer than 4096 bytes");

	/* 32 keys parse, 33 are -E2BIG. */
	n = (size_t)snprintf(text, sizeof(text), "{");
	for (int i = 0; i < JSON_MAX_KEYS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"k%d\":%d", i ? "," : "", i,
				      i);
	snprintf(text + n, sizeof(text) - n, "}");
	obj = parse_ok(text);
	assert_int_equal(json__nr_keys(obj), JSON_MAX_KEYS);
	assert_string_equal(json__key(obj, 31), "k31");
	json__free(obj);
	snprintf(text + n, sizeof(text) - n, ",\"k32\":32}");
	parse_bad_len(text, strlen(text), -E2BIG, "more than 32 keys");

	/* A long key is cut short in messages; a short buffer truncates; NULL is fine. */
	n = (size_t)snprintf(text, sizeof(text), "{\"%0100d\":[]}", 0);
	obj = SENTINEL;
	assert_int_equal(json__parse_object(text, n, &obj, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "(key \"0000000000"));
	assert_int_equal(strlen(msg), strlen("nested arrays are not supported (key \"\")") + 64);
	assert_int_equal(json__parse_object("{", 1, &obj, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "at byte 1: ");
	assert_int_equal(json__parse_object("{", 1, &obj, NULL, 0), -EINVAL);
	assert_ptr_equal(obj, SENTINEL);
}

static const char *finish(struct json_out *o)
{
	const char *s = json_out__finish(o, NULL);

	assert_non_null(s);
	return s;
}

static void test_writer(void **state)
{
	static const char merged[] =
		"{\"ok\":true,\"stats\":{\"faults\":3,\"mode\":\"cow\"},\"empty\":{}}";
	struct json_out o, inner;
	size_t len = 0;

	json_out__init(&o);
	assert_string_equal(finish(&o), "{}");
	json_out__str(&o, "cmd", "stats");
	json_out__i64(&o, "min", INT64_MIN);
	json_out__u64(&o, "umax", UINT64_MAX);
	json_out__bool(&o, "t", true);
	json_out__bool(&o, "f", false);
	json_out__null(&o, "n");
	json_out__str(&o, "s", NULL);
	assert_string_equal(json_out__finish(&o, &len),
			    "{\"cmd\":\"stats\",\"min\":-9223372036854775808,"
			    "\"umax\":18446744073709551615,\"t\":true,\"f\":false,\"n\":null,"
			    "\"s\":null}");
	assert_int_equal(len, strlen(o.buf));
	/* Finish does not end the object: more members may follow. */
	json_out__i64(&o, "more", 1);
	assert_non_null(strstr(finish(&o), ",\"s\":null,\"more\":1}"));
	json_out__free(&o);
	json_out__free(&o);
	json_out__free(NULL);

	json_out__init(&o);
	json_out__double(&o, "a", 0.1);
	json_out__double(&o, "b", 1.0 / 3);
	json_out__double(&o, "c", 1e300);
	json_out__double(&o, "d", -0.0);
	json_out__double(&o, "e", 2.5);
	json_out__double(&o, "nan", NAN);
	json_out__double(&o, "inf", -INFINITY);
	json_out__double(&o, "int", 42);
	assert_string_equal(finish(&o), "{\"a\":0.1,\"b\":0.33333333333333331,\"c\":1e+300,"
					"\"d\":-0,\"e\":2.5,\"nan\":null,\"inf\":null,\"int\":42}");
	json_out__free(&o);

	/* A nested object through raw, and merge, as the API server uses it. */
	json_out__init(&o);
	json_out__init(&inner);
	json_out__u64(&inner, "faults", 3);
	json_out__str(&inner, "mode", "cow");
	json_out__raw(&o, "stats", json_out__finish(&inner, NULL));
	json_out__raw(&o, "empty", "{}");
	assert_string_equal(finish(&o), "{\"stats\":{\"faults\":3,\"mode\":\"cow\"},\"empty\":{}}");
	json_out__free(&inner);
	json_out__bool(&inner, "ok", true);
	json_out__merge(&inner, &o);
	assert_string_equal(finish(&inner), merged);
	json_out__free(&o);
	json_out__merge(&inner, &o);	/* nothing to add */
	assert_string_equal(finish(&inner), merged);
	json_out__free(&inner);

	/* A failed finish handed to raw poisons the outer object. */
	json_out__init(&o);
	json_out__raw(&o, "x", NULL);
	assert_null(json_out__finish(&o, &len));
	json_out__free(&o);

	/* The error message for a failing handler. */
	json_out__init(&o);
	assert_null(json_out__error_msg(&o));
	assert_int_equal(json_out__error(&o, "unknown command \"%s\"", "frob"), -EINVAL);
	assert_string_equal(json_out__error_msg(&o), "unknown command \"frob\"");
	assert_string_equal(finish(&o), "{}");
	json_out__free(&o);
	assert_null(json_out__error_msg(&o));
}

/* Whatever string goes in comes back out of the reader unchanged. */
static void test_escape_round_trip(void **state)
{
	char all[128 + 16], key[] = "k\"\\\n\x01";
	struct json_out o;
	struct json_obj *obj;
	const char *text;
	size_t len, n = 0;
	double d;

	for (int c = 1; c < 128; c++)
		all[n++] = (char)c;
	memcpy(all + n, "\xc3\xa9\xf0\x9f\x98\x80", 7);
	json_out__init(&o);
	json_out__str(&o, "all", all);
	json_out__str(&o, key, "v");
	json_out__double(&o, "third", 1.0 / 3);
	json_out__double(&o, "big", 123456789.123456789e200);
	text = json_out__finish(&o, &len);
	assert_non_null(text);
	/* Control characters never appear raw in the output. */
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)text[i] >= 0x20);
	assert_non_null(strstr(text, "\\u0001\\u0002"));
	assert_non_null(strstr(text, "\\b\\t\\n\\u000b\\f\\r"));
	assert_non_null(strstr(text, "!\\\"#"));
	obj = parse_ok(text);
	assert_string_equal(json__get_str(obj, "all"), all);
	assert_string_equal(json__get_str(obj, key), "v");
	assert_int_equal(json__get_double(obj, "third", &d), 0);
	assert_true(d == 1.0 / 3);
	assert_int_equal(json__get_double(obj, "big", &d), 0);
	assert_true(d == 123456789.123456789e200);
	json__free(obj);
	json_out__free(&o);

	/* A long string grows the buffer. */
	json_out__init(&o);
	{
		char *big = malloc(100000);

		assert_non_null(big);
		memset(big, 'a', 99999);
		big[99999] = '\0';
		json_out__str(&o, "big", big);
		text = json_out__finish(&o, &len);
		assert_int_equal(len, 99999 + 10);
		assert_int_equal(memcmp(text + 8, big, 99999), 0);
		free(big);
	}
	json_out__free(&o);
}

/*
 * Every reply is valid UTF-8: bytes that are not (a client's stray byte
 * echoed back, a character cut in half when a long message is truncated)
 * go out as U+FFFD, and the output parses back.
 */
static void test_writer_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xff" "b", "a\\ufffdb"},
		{"\xc3\xa9", "\xc3\xa9"},
		{"x\xc3", "x\\ufffd"},			/* cut after the lead byte */
		{"\xe2\x82", "\\ufffd\\ufffd"},		/* cut inside a 3-byte character */
		{"\xc0\x80", "\\ufffd\\ufffd"},		/* overlong */
		{"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"}, /* surrogate */
		{"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},
	};
	char msg[2000], want[64];
	struct json_out o;
	struct json_obj *obj;
	const char *text;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_out__init(&o);
		json_out__str(&o, "s", cases[i].in);
		text = json_out__finish(&o, NULL);
		snprintf(want, sizeof(want), "{\"s\":\"%s\"}", cases[i].out);
		assert_string_equal(text, want);
		obj = parse_ok(text);
		json__free(obj);
		json_out__free(&o);
	}
	/* An error message longer than its buffer, made of 2-byte characters: cut mid-character. */
	for (size_t off = 0; off < 2; off++) {
		size_t n = off;

		memset(msg, 'x', off);
		while (n + 2 < sizeof(msg) - 1) {
			memcpy(msg + n, "\xc3\xa9", 2);
			n += 2;
		}
		msg[n] = '\0';
		json_out__init(&o);
		json_out__error(&o, "unknown command \"%s\"", msg);
		json_out__str(&o, "error", json_out__error_msg(&o));
		text = json_out__finish(&o, NULL);
		obj = parse_ok(text);
		json__free(obj);
		json_out__free(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_writer_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
