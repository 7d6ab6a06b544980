// SPDX-License-Identifier: MIT
/*
 * test-api: the control socket server (vmm/api/api.h), suite vmm, through raw
 * sockets: replies in order for pipelined and split requests, bad requests
 * answered with the connection kept, several clients, disconnects, a
 * client that never reads, the limit on clients, and the socket path's
 * life (live, stale, not a socket, removal). The client is test-ctl's.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "api-fixture.h"

static void test_pipelined(void **state)
{
	struct fixture *f = *state;
	struct conn *c = conn_open(f->path);

	send_str(c, "{\"cmd\":\"echo\",\"x\":1}\n{\"cmd\":\"echo\",\"x\":2}\r\n{\"cmd\":\"fail\"}\n"
		    "{\"cmd\":\"nope\"}\n{\"cmd\":\"busy\"}\n\n\r\n{\"cmd\":\"pause\"}\n"
		    "  {\"cmd\" : \"stats\"}  \n");
	expect(c, "{\"ok\":true,\"cmd\":\"echo\",\"x\":1}");
	expect(c, "{\"ok\":true,\"cmd\":\"echo\",\"x\":2}");
	expect(c, "{\"ok\":false,\"error\":\"it failed on purpose\"}");
	expect(c, "{\"ok\":false,\"error\":\"unknown command \\\"nope\\\"\"}");
	expect(c, "{\"ok\":false,\"error\":\"Device or resource busy\"}");
	expect(c, "{\"ok\":true}");
	expect(c, "{\"ok\":true,\"stats\":{\"faults\":3,\"verbose\":false}}");
	conn_close(c);
}

static void test_split_request(void **state)
{
	static const char *parts[] = {"{\"cmd\"", ":\"ec", "ho\",\"x\":", "3", "}", "\r", "\n"};
	static const char two[] = "{\"cmd\":\"echo\",\"x\":4}\n{\"cmd\":\"echo\",\"x\":5}\n";
	struct fixture *f = *state;
	struct conn *c = conn_open(f->path);

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		send_str(c, parts[i]);
		usleep(20 * 1000);
	}
	expect(c, "{\"ok\":true,\"cmd\":\"echo\",\"x\":3}");
	for (size_t i = 0; i < sizeof(two) - 1; i++)
		send_bytes(c->fd, two + i, 1);
	expect(c, "{\"ok\":true,\"cmd\":\"echo\",\"x\":4}");
	expect(c, "{\"ok\":true,\"cmd\":\"echo\",\"x\":5}");
	conn_close(c);
}

/* A request line of exactly @len bytes (at least 23). */
static char *echo_line(size_t len, const char *end)
{
	char *s = malloc(len + strlen(end) + 1);

	assert_non_null(s);
	memcpy(s, "{\"cmd\":\"echo\",\"pad\":\"", 21);
	memset(s + 21, 'p', len - 23);
	strcpy(s + len - 2, "\"}");
	strcat(s, end);
	return s;
}

static void test_bad_requests(void **state)
{
	static const char no_cmd[] =
		"{\"ok\":false,\"error\":\"invalid request: no \\\"cmd\\\" string\"}";
	static const char not_obj[] = "{\"ok\":false,\"error\":\"invalid request: at byte 0: "
				      "expected '{' (a request is one JSON object)\"}";
	static const char too_long[] =
		"{\"ok\":false,\"error\":\"request longer than 4096 bytes\"}";
	static const struct {
		const char *line, *reply;
	} cases[] = {
		{"{\"cmd\":1}", no_cmd},
		{"{}", no_cmd},
		{"{\"x\":\"echo\"}", no_cmd},
		{"{\"cmd\":null}", no_cmd},
		{"[\"echo\"]", not_obj},
		{"hello", not_obj},
		{"{\"cmd\":\"echo\"", "{\"ok\":false,\"error\":\"invalid request: at byte 13: "
				   "expected ',' or '}' after value\"}"},
		{"{\"cmd\":\"echo\",\"o\":{}}", "{\"ok\":false,\"error\":\"invalid request: nested "
					     "objects are not supported (key \\\"o\\\")\"}"},
		{"{\"cmd\":\"a\",\"cmd\":\"b\"}", "{\"ok\":false,\"error\":\"invalid request: "
					       "duplicate key \\\"cmd\\\"\"}"},
		{"{\"cmd\":\"\xff\"}", "{\"ok\":false,\"error\":\"invalid request: at byte 8: "
				     "invalid UTF-8 in string\"}"},
	};
	static const size_t long_lens[] = {4097, 4098, 5000, 10000, 100000};
	struct fixture *f = *state;
	struct conn *c = conn_open(f->path);
	char *line;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		send_str(c, cases[i].line);
		send_str(c, "\n");
		expect(c, cases[i].reply);
		expect_echo(c, (int)i);
	}
	for (size_t i = 0; i < sizeof(long_lens) / sizeof(long_lens[0]); i++) {
		line = echo_line(long_lens[i], "\n");
		send_str(c, line);
		free(line);
		expect(c, too_long);
		expect_echo(c, (int)i);
	}
	/* Over-long and over-long with "\r", then a request in the same write. */
	line = echo_line(4097, "\r\n{\"cmd\":\"echo\",\"x\":7}\n");
	send_str(c, line);
	free(line);
	expect(c, too_long);
	expect(c, "{\"ok\":true,\"cmd\":\"echo\",\"x\":7}");
	/* Exactly JSON_MAX_LINE bytes, "\r\n" included or not, is fine. */
	line = echo_line(JSON_MAX_LINE, "\r\n");
	send_str(c, line);
	free(line);
	expect(c, "{\"ok\":true,\"cmd\":\"echo\"}");
	line = echo_line(JSON_MAX_LINE, "\n");
	send_str(c, line);
	free(line);
	expect(c, "{\"ok\":true,\"cmd\":\"echo\"}");
	/* An over-long line sent slowly, the newline last. */
	line = echo_line(9000, "");
	send_bytes(c->fd, line, 3000);
	usleep(20 * 1000);
	send_bytes(c->fd, line + 3000, 6000);
	usleep(20 * 1000);
	send_str(c, "\n");
	free(line);
	expect(c, too_long);
	expect_echo(c, 8);
	conn_close(c);
}

static void test_two_clients(void **state)
{
	struct fixture *f = *state;
	struct conn *a = conn_open(f->path), *b = conn_open(f->path);

	send_str(a, "{\"cmd\":\"echo\",");
	expect_echo(b, 2);
	send_str(a, "\"x\":1}\n");
	expect(a, "{\"ok\":true,\"cmd\":\"echo\",\"x\":1}");
	expect_echo(b, 3);
	expect_echo(a, 4);
	conn_close(a);
	conn_close(b);
}

static void test_disconnects(void **state)
{
	struct fixture *f = *state;
	struct conn *a = conn_open(f->path), *b = conn_open(f->path);

	/* Gone mid-line: dropped, the partial request never runs. */
	send_str(a, "{\"cmd\":\"echo\",\"x\":66");
	conn_close(a);
	/* Gone without reading its replies: the server does not care. */
	send_str(b, "{\"cmd\":\"echo\",\"x\":1}\n{\"cmd\":\"echo\",\"x\":2}\n");
	conn_close(b);
	a = conn_open(f->path);
	expect_echo(a, 3);
	pthread_mutex_lock(&seen.lock);
	for (unsigned i = 0; i < seen.n; i++)
		assert_null(strstr(seen.lines[i], "66"));
	pthread_mutex_unlock(&seen.lock);
	conn_close(a);
}

static void test_max_clients(void **state)
{
	struct fixture *f = *state;
	struct conn *c[API_MAX_CLIENTS], *extra;

	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		c[i] = conn_open(f->path);
		expect_echo(c[i], i);
	}
	extra = conn_open(f->path);
	expect(extra, "{\"ok\":false,\"error\":\"too many clients (16 at most)\"}");
	assert_null(conn_line(extra));
	conn_close(extra);
	/* A slot freed is a slot to use. */
	conn_close(c[0]);
	c[0] = conn_open(f->path);
	expect_echo(c[0], 100);
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		expect_echo(c[i], i);
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		conn_close(c[i]);
}

/* A client that sends and never reads stalls only itself; it gets every reply later. */
static void test_slow_reader(void **state)
{
	static const char big[] = "{\"cmd\":\"big\"}\n";
	struct fixture *f = *state;
	struct conn *a = conn_open(f->path), *b = conn_open(f->path);
	unsigned sent = 0, stalls = 0, handled;
	char *line;

	assert_int_equal(fcntl(a->fd, F_SETFL, O_NONBLOCK), 0);
	while (stalls < 20 && sent < 100000) {
		ssize_t n = send(a->fd, big, sizeof(big) - 1, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			stalls++;
			usleep(10 * 1000);
			continue;
		}
		assert_int_equal(n, sizeof(big) - 1);
		sent++;
		stalls = 0;
	}
	expect_echo(b, 1);
	pthread_mutex_lock(&seen.lock);
	handled = seen.big;
	pthread_mutex_unlock(&seen.lock);
	print_message("sent %u requests, %u handled before the client read\n", sent, handled);
	assert_true(sent > 50);
	assert_true(handled < 50);
	assert_int_equal(fcntl(a->fd, F_SETFL, 0), 0);
	for (unsigned i = 0; i < sent; i++) {
		line = conn_line(a);
		assert_non_null(line);
		assert_int_equal(strncmp(line, "{\"ok\":true,\"pad\":\"ppp", 21), 0);
		assert_int_equal(strlen(line), BIG_PAD + 20);
	}
	expect_echo(a, 2);
	conn_close(a);
	conn_close(b);
}

static void test_socket_path(void **state)
{
	struct fixture *f = *state;
	struct api *sentinel = (struct api *)0x1, *api = sentinel;
	char path[96], longpath[200], buf[8] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	struct conn *c;
	ssize_t n;
	int fd;

	/* A live server holds the path. */
	assert_int_equal(api__start(f->path, test_handler, NULL, &api), -EEXIST);
	assert_ptr_equal(api, sentinel);
	c = conn_open(f->path);
	expect_echo(c, 1);
	conn_close(c);

	/* Not a socket: refused, left alone. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(api__start(path, test_handler, NULL, &api), -EEXIST);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "keep");
	close(fd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(api__start(path, test_handler, NULL, &api), -EEXIST);
	assert_int_equal(rmdir(path), 0);
	assert_ptr_equal(api, sentinel);

	/* A stale socket (its server gone without unlinking it) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
	assert_int_equal(api__start(path, test_handler, NULL, &api), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	c = conn_open(path);
	expect_echo(c, 2);
	/* Stopped with a client connected and mid-line: no leak, path gone. */
	send_str(c, "{\"cmd\":");
	api__stop(api);
	/* EOF, or a reset if the server had not read the partial line yet. */
	n = recv(c->fd, buf, sizeof(buf), 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	conn_close(c);
	assert_int_equal(access(path, F_OK), -1);

	/* Only its own socket is removed: a file put in its place stays. */
	assert_int_equal(api__start(path, test_handler, NULL, &api), 0);
	assert_int_equal(unlink(path), 0);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	api__stop(api);
	assert_int_equal(unlink(path), 0);

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "/tmp/", 5);
	api = sentinel;
	assert_int_equal(api__start(longpath, test_handler, NULL, &api), -ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s/no/such/dir.sock", f->dir);
	assert_int_equal(api__start(path, test_handler, NULL, &api), -ENOENT);
	assert_ptr_equal(api, sentinel);
	api__stop(NULL);
}

/* `vmm ctl ARGS...`: exit status and output. */
int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, api_fixture_setup, api_fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pipelined),   T(test_split_request), T(test_bad_requests),
		T(test_two_clients), T(test_disconnects),   T(test_max_clients),
		T(test_slow_reader), T(test_socket_path),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
