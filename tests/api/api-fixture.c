// SPDX-License-Identifier: MIT
/*
 * api-fixture.c: the control socket fixture of test-api and test-ctl
 * (api-fixture.h). The handler runs on the server thread, the tests on
 * theirs: what the handler records is under seen.lock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "api-fixture.h"

static char big_pad[BIG_PAD + 1];

struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void record(const struct json_obj *req)
{
	struct json_out o;
	int64_t i;
	double d;
	bool b;

	json_out__init(&o);
	for (unsigned k = 0; k < json__nr_keys(req); k++) {
		const char *key = json__key(req, k);

		switch (json__type(req, key)) {
		case JSON_STRING: json_out__str(&o, key, json__get_str(req, key)); break;
		case JSON_BOOL:
			assert_int_equal(json__get_bool(req, key, &b), 0);
			json_out__bool(&o, key, b);
			break;
		case JSON_NUMBER:
			if (!json__get_i64(req, key, &i))
				json_out__i64(&o, key, i);
			else if (!json__get_double(req, key, &d))
				json_out__double(&o, key, d);
			break;
		default: json_out__null(&o, key);
		}
	}
	pthread_mutex_lock(&seen.lock);
	if (seen.n < 32)
		snprintf(seen.lines[seen.n++], sizeof(seen.lines[0]), "%s",
			 json_out__finish(&o, NULL));
	pthread_mutex_unlock(&seen.lock);
	json_out__free(&o);
}

int test_handler(void *arg, const struct json_obj *req, struct json_out *reply)
{
	const char *cmd = json__get_str(req, "cmd");
	struct json_out stats;
	int64_t x;

	if (!strcmp(cmd, "big")) {
		pthread_mutex_lock(&seen.lock);
		seen.big++;
		pthread_mutex_unlock(&seen.lock);
		json_out__str(reply, "pad", big_pad);
		return 0;
	}
	record(req);
	if (!strcmp(cmd, "echo")) {
		json_out__str(reply, "cmd", cmd);
		if (!json__get_i64(req, "x", &x))
			json_out__i64(reply, "x", x);
		return 0;
	}
	if (!strcmp(cmd, "pause"))
		return 0;
	if (!strcmp(cmd, "stats")) {
		json_out__init(&stats);
		json_out__u64(&stats, "faults", 3);
		json_out__bool(&stats, "verbose", json__has(req, "verbose"));
		json_out__raw(reply, "stats", json_out__finish(&stats, NULL));
		json_out__free(&stats);
		return 0;
	}
	if (!strcmp(cmd, "fail")) {
		json_out__str(reply, "dropped", "yes");
		return json_out__error(reply, "it failed on purpose");
	}
	if (!strcmp(cmd, "busy"))
		return -EBUSY;
	if (!strcmp(cmd, "sleep")) {
		usleep(300 * 1000);
		return 0;
	}
	return json_out__error(reply, "unknown command \"%s\"", cmd);
}

int api_fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/vmm-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	if (!big_pad[0])
		memset(big_pad, 'p', BIG_PAD);
	assert_int_equal(api__start(f->path, test_handler, NULL, &f->api), 0);
	pthread_mutex_lock(&seen.lock);
	seen.n = seen.big = 0;
	pthread_mutex_unlock(&seen.lock);
	*state = f;
	return 0;
}

int api_fixture_teardown(void **state)
{
	struct fixture *f = *state;

	api__stop(f->api);
	/* api__stop removed the socket: the directory is empty again. */
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

unsigned nr_seen(void)
{
	unsigned n;

	pthread_mutex_lock(&seen.lock);
	n = seen.n;
	pthread_mutex_unlock(&seen.lock);
	return n;
}

struct conn *conn_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	struct conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return c;
}

void conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

void send_bytes(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

void send_str(struct conn *c, const char *s)
{
	send_bytes(c->fd, s, strlen(s));
}

char *conn_line(struct conn *c)
{
	char *nl;

	memmove(c->buf, c->buf + c->skip, c->len - c->skip);
	c->len -= c->skip;
	c->skip = 0;
	while (!(nl = memchr(c->buf, '\n', c->len))) {
		ssize_t n;

		assert_true(c->len < sizeof(c->buf));
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0)
			fail_msg("recv: %s", strerror(errno));
		if (n == 0)
			return NULL;
		c->len += (size_t)n;
	}
	*nl = '\0';
	c->skip = (size_t)(nl - c->buf) + 1;
	return c->buf;
}

void expect(struct conn *c, const char *want)
{
	char *line = conn_line(c);

	assert_non_null(line);
	assert_string_equal(line, want);
}

void expect_echo(struct conn *c, int x)
{
	char req[64], want[64];

	snprintf(req, sizeof(req), "{\"cmd\":\"echo\",\"x\":%d}\n", x);
	snprintf(want, sizeof(want), "{\"ok\":true,\"cmd\":\"echo\",\"x\":%d}", x);
	send_str(c, req);
	expect(c, want);
}

void assert_seen(unsigned n, const char *const *want)
{
	pthread_mutex_lock(&seen.lock);
	assert_int_equal(seen.n, n);
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(seen.lines[i], want[i]);
	pthread_mutex_unlock(&seen.lock);
}
