// SPDX-License-Identifier: MIT
/*
 * json.c: the strict reader of flat JSON objects, for the control socket
 * (json.h says what is accepted; the writer is json-out.c).
 *
 * Invariants: a struct json_obj and everything it points to is one
 * allocation; keys, decoded strings and number literals are copied into its
 * buf[], which has room for the whole input, even one that fails to parse:
 * a string's NUL takes the place of its two quotes, an escape is never
 * shorter than its UTF-8, and a number's NUL that of the ':' before it.
 * Keys are unique and nr <= JSON_MAX_KEYS.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct json_member {
	const char *key;
	const char *val;	/* JSON_STRING: decoded text; JSON_NUMBER: literal */
	enum json_type type;
	bool b;			/* JSON_BOOL */
};

struct json_obj {
	unsigned nr;
	struct json_member m[JSON_MAX_KEYS];
	char buf[];
};

struct parser {
	const unsigned char *s;
	size_t len, pos;
	char *out;		/* the next free byte of the object's buf[] */
	char *msg;
	size_t msg_len;
};

/* Record a message; "at byte N: " first if @at. Returns @err. */
__attribute__((format(printf, 4, 5)))
static int fail(struct parser *p, int err, bool at, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!p->msg || !p->msg_len)
		return err;
	if (at)
		n = snprintf(p->msg, p->msg_len, "at byte %zu: ", p->pos);
	if (n >= 0 && (size_t)n < p->msg_len) {
		va_start(ap, fmt);
		vsnprintf(p->msg + n, p->msg_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* How much of @key fits in a message: at most 64 bytes, whole characters. */
static int key_shown(const char *key)
{
	size_t n = strlen(key);

	if (n <= 64)
		return (int)n;
	n = 64;
	while (n && ((unsigned char)key[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int peek(const struct parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

static void put_utf8(struct parser *p, uint32_t cp)
{
	int n = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
	static const unsigned char lead[] = {0, 0xc0, 0xe0, 0xf0};

	*p->out++ = (char)(lead[n] | cp >> (6 * n));
	while (n--)
		*p->out++ = (char)(0x80 | (cp >> (6 * n) & 0x3f));
}

/* Four hex digits at pos; -1 if they are not. */
static long hex4(const struct parser *p, size_t pos)
{
	char hex[5] = {0};

	if (pos > p->len || p->len - pos < 4)
		return -1;
	memcpy(hex, p->s + pos, 4);
	if (strspn(hex, "0123456789abcdefABCDEF") != 4)
		return -1;
	return strtol(hex, NULL, 16);
}

/* \uXXXX at pos (its backslash); a high surrogate needs a low one next. */
static int parse_unicode(struct parser *p)
{
	long hi = hex4(p, p->pos + 2), lo;

	if (hi < 0)
		return fail(p, -EINVAL, true, "invalid \\u escape (4 hex digits expected)");
	if (hi == 0)
		return fail(p, -EINVAL, true, "\\u0000 is not allowed in strings");
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(p, -EINVAL, true, "unpaired surrogate \\u%04lx", hi);
	if (hi < 0xd800 || hi > 0xdbff) {
		put_utf8(p, (uint32_t)hi);
		p->pos += 6;
		return 0;
	}
	if (p->len - p->pos < 12 || p->s[p->pos + 6] != '\\' || p->s[p->pos + 7] != 'u' ||
	    (lo = hex4(p, p->pos + 8)) < 0xdc00 || lo > 0xdfff)
		return fail(p, -EINVAL, true, "unpaired surrogate \\u%04lx", hi);
	put_utf8(p, 0x10000 + (uint32_t)((hi - 0xd800) << 10 | (lo - 0xdc00)));
	p->pos += 12;
	return 0;
}

/* A backslash escape at pos; pos moves past it. */
static int parse_escape(struct parser *p)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	int c = p->pos + 1 < p->len ? p->s[p->pos + 1] : -1;
	const char *e;

	if (c == 'u')
		return parse_unicode(p);
	e = c > 0 ? strchr(from, c) : NULL;
	if (!e)
		return fail(p, -EINVAL, true, "invalid escape in string");
	*p->out++ = to[e - from];
	p->pos += 2;
	return 0;
}

size_t json__utf8_len(const unsigned char *s, size_t avail)
{
	unsigned c = avail ? s[0] : 0, n, lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail <= n)
		return 0;
	for (unsigned i = 1; i <= n; i++) {
		unsigned b = s[i];

		if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return n + 1;
}

/* One UTF-8 character of 2-4 bytes at pos. */
static int copy_utf8(struct parser *p)
{
	size_t n = json__utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);

	if (!n)
		return fail(p, -EINVAL, true, "invalid UTF-8 in string");
	memcpy(p->out, p->s + p->pos, n);
	p->out += n;
	p->pos += n;
	return 0;
}

/* A string at pos (its opening quote), decoded into the object's buf. */
static int parse_string(struct parser *p, const char **ret)
{
	const char *start = p->out;
	int err;

	p->pos++;
	for (;;) {
		int c = peek(p);

		if (c < 0)
			return fail(p, -EINVAL, true, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, -EINVAL, true, "control character 0x%02x in string", c);
		if (c == '\\' || c >= 0x80) {
			err = c == '\\' ? parse_escape(p) : copy_utf8(p);
			if (err)
				return err;
			continue;
		}
		*p->out++ = (char)c;
		p->pos++;
	}
	p->pos++;
	*p->out++ = '\0';
	*ret = start;
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct parser *p, const char **ret)
{
	size_t start = p->pos;

	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0') {
		p->pos++;
		if (is_digit(peek(p)))
			return fail(p, -EINVAL, true, "invalid number (leading zero)");
	} else if (is_digit(peek(p))) {
		while (is_digit(peek(p)))
			p->pos++;
	} else {
		return fail(p, -EINVAL, true, "invalid number (digit expected)");
	}
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p)))
			return fail(p, -EINVAL, true, "invalid number (digit expected after '.')");
		while (is_digit(peek(p)))
			p->pos++;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!is_digit(peek(p)))
			return fail(p, -EINVAL, true,
				    "invalid number (digit expected in exponent)");
		while (is_digit(peek(p)))
			p->pos++;
	}
	*ret = p->out;
	memcpy(p->out, p->s + start, p->pos - start);
	p->out += p->pos - start;
	*p->out++ = '\0';
	return 0;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return false;
	p->pos += n;
	return true;
}

static int parse_value(struct parser *p, struct json_member *m)
{
	int c = peek(p);

	if (c == '"') {
		m->type = JSON_STRING;
		return parse_string(p, &m->val);
	}
	if (c == '-' || is_digit(c)) {
		m->type = JSON_NUMBER;
		return parse_number(p, &m->val);
	}
	if (c == '{' || c == '[')
		return fail(p, -EINVAL, false, "nested %s are not supported (key \"%.*s\")",
			    c == '{' ? "objects" : "arrays", key_shown(m->key), m->key);
	m->type = JSON_BOOL;
	if (literal(p, "true"))
		m->b = true;
	else if (literal(p, "false"))
		m->b = false;
	else if (literal(p, "null"))
		m->type = JSON_NULL;
	else
		return fail(p, -EINVAL, true, c < 0 ? "value expected, found end of input"
						    : "value expected");
	return 0;
}

/* One "key": value pair at pos. */
static int parse_member(struct parser *p, struct json_obj *obj)
{
	struct json_member m = {0};
	int err;

	if (peek(p) != '"')
		return fail(p, -EINVAL, true, "expected a string key");
	err = parse_string(p, &m.key);
	if (err)
		return err;
	for (unsigned i = 0; i < obj->nr; i++)
		if (!strcmp(obj->m[i].key, m.key))
			return fail(p, -EINVAL, false, "duplicate key \"%.*s\"", key_shown(m.key),
				    m.key);
	if (obj->nr == JSON_MAX_KEYS)
		return fail(p, -E2BIG, false, "more than %d keys", JSON_MAX_KEYS);
	skip_ws(p);
	if (peek(p) != ':')
		return fail(p, -EINVAL, true, "expected ':' after key");
	p->pos++;
	skip_ws(p);
	err = parse_value(p, &m);
	if (err)
		return err;
	obj->m[obj->nr++] = m;
	return 0;
}

static int parse_object(struct parser *p, struct json_obj *obj)
{
	int err;

	skip_ws(p);
	if (peek(p) != '{')
		return fail(p, -EINVAL, true, "expected '{' (a request is one JSON object)");
	p->pos++;
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
	} else {
		for (;;) {
			err = parse_member(p, obj);
			if (err)
				return err;
			skip_ws(p);
			if (peek(p) == '}') {
				p->pos++;
				break;
			}
			if (peek(p) != ',')
				return fail(p, -EINVAL, true, "expected ',' or '}' after value");
			p->pos++;
			skip_ws(p);
		}
	}
	skip_ws(p);
	if (p->pos < p->len)
		return fail(p, -EINVAL, true, "trailing characters after the object");
	return 0;
}

int json__parse_object(const char *text, size_t len, struct json_obj **ret_obj, char *ret_msg,
		       size_t msg_len)
{
	struct parser p = {.s = (const unsigned char *)text, .len = len, .msg = ret_msg,
			   .msg_len = msg_len};
	const char *nul;
	struct json_obj *obj;
	int err;

	if (ret_msg && msg_len)
		ret_msg[0] = '\0';
	if (len > JSON_MAX_LINE)
		return fail(&p, -E2BIG, false, "text longer than %d bytes", JSON_MAX_LINE);
	nul = len ? memchr(text, '\0', len) : NULL;
	if (nul) {
		p.pos = (size_t)(nul - text);
		return fail(&p, -EINVAL, true, "NUL byte");
	}
	obj = malloc(sizeof(*obj) + len + 1);
	if (!obj)
		return fail(&p, -ENOMEM, false, "out of memory");
	obj->nr = 0;
	p.out = obj->buf;
	err = parse_object(&p, obj);
	if (err) {
		free(obj);
		return err;
	}
	*ret_obj = obj;
	return 0;
}

void json__free(struct json_obj *obj)
{
	free(obj);
}

unsigned json__nr_keys(const struct json_obj *obj)
{
	return obj->nr;
}

const char *json__key(const struct json_obj *obj, unsigned i)
{
	return i < obj->nr ? obj->m[i].key : NULL;
}

static const struct json_member *find(const struct json_obj *obj, const char *key)
{
	for (unsigned i = 0; i < obj->nr; i++)
		if (!strcmp(obj->m[i].key, key))
			return &obj->m[i];
	return NULL;
}

enum json_type json__type(const struct json_obj *obj, const char *key)
{
	const struct json_member *m = find(obj, key);

	return m ? m->type : JSON_ABSENT;
}

bool json__has(const struct json_obj *obj, const char *key)
{
	return find(obj, key) != NULL;
}

const char *json__get_str(const struct json_obj *obj, const char *key)
{
	const struct json_member *m = find(obj, key);

	return m && m->type == JSON_STRING ? m->val : NULL;
}

/* The member @key if it has @type: 0, -ENOENT or -EINVAL. */
static int get(const struct json_obj *obj, const char *key, enum json_type type,
	       const struct json_member **ret)
{
	const struct json_member *m = find(obj, key);

	if (!m)
		return -ENOENT;
	if (m->type != type)
		return -EINVAL;
	*ret = m;
	return 0;
}

/* The number at @key as a sign and a magnitude, if it is written as an integer. */
static int get_integer(const struct json_obj *obj, const char *key, bool *neg, uint64_t *mag)
{
	const struct json_member *m;
	const char *s;
	uint64_t v = 0;
	int err = get(obj, key, JSON_NUMBER, &m);

	if (err)
		return err;
	s = m->val;
	*neg = *s == '-';
	for (s += *neg; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*mag = v;
	return 0;
}

int json__get_i64(const struct json_obj *obj, const char *key, int64_t *ret)
{
	uint64_t mag;
	bool neg;
	int err = get_integer(obj, key, &neg, &mag);

	if (err)
		return err;
	if (mag > (uint64_t)INT64_MAX + neg)
		return -EINVAL;
	*ret = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

int json__get_u64(const struct json_obj *obj, const char *key, uint64_t *ret)
{
	uint64_t mag;
	bool neg;
	int err = get_integer(obj, key, &neg, &mag);

	if (err)
		return err;
	if (neg)
		return -EINVAL;
	*ret = mag;
	return 0;
}

int json__get_bool(const struct json_obj *obj, const char *key, bool *ret)
{
	const struct json_member *m;
	int err = get(obj, key, JSON_BOOL, &m);

	if (!err)
		*ret = m->b;
	return err;
}

int json__get_double(const struct json_obj *obj, const char *key, double *ret)
{
	const struct json_member *m;
	double v;
	int err = get(obj, key, JSON_NUMBER, &m);

	if (err)
		return err;
	v = strtod(m->val, NULL);
	if (!isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}
