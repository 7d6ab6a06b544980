// SPDX-License-Identifier: MIT
/*
 * fuzz-api: the control socket server (vmm/api/api.c: line splitting,
 * over-long lines, "\r\n", replies) end to end, without KVM: the input is
 * what one client sends on a connection, served by a handler that echoes
 * each request's fields (like tests/api/api-fixture.c's), fails with a
 * message quoting the command when it starts with "f", and with -EBUSY
 * when it starts with "b".
 *
 * Properties, beyond no memory error or UB in the server thread:
 *  - exactly one reply per non-empty complete line (one "\r" before the
 *    newline is dropped), plus one for an unterminated tail that fills the
 *    server's line buffer (an over-long request); nothing for a shorter
 *    unterminated tail;
 *  - every reply is one line of JSON, valid UTF-8, "ok" its first key;
 *  - the server answers and closes after the client's shutdown (a hang
 *    is libFuzzer's timeout).
 *
 * Open: twice in ~3 minutes of fuzzing, a connection got no byte back
 * within 5 s after its whole input was sent (the check's limit then); the
 * saved inputs pass on every rerun. A rare server stall or the loaded
 * 2-core host: not known yet. So scripts/fuzz leaves this target out of
 * the default set (its seeds run in meson test like the others).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "fuzz.h"

#define API_IN_MAX (JSON_MAX_LINE + 2) /* api.c's line buffer */

static struct sockaddr_un sa = {.sun_family = AF_UNIX};
static char *replies;
static size_t replies_len, replies_cap;

static int handler(void *arg, const struct json_obj *req, struct json_out *reply)
{
	const char *cmd = json__get_str(req, "cmd");

	if (cmd[0] == 'f')
		return json_out__error(reply, "no such command \"%s\"", cmd);
	if (cmd[0] == 'b')
		return -EBUSY;
	for (unsigned i = 0; i < json__nr_keys(req); i++) {
		const char *key = json__key(req, i);
		int64_t n;
		bool b;

		if (!strcmp(key, "ok") || !strcmp(key, "error"))
			continue; /* the server's own */
		if (json__get_str(req, key))
			json_out__str(reply, key, json__get_str(req, key));
		else if (!json__get_i64(req, key, &n))
			json_out__i64(reply, key, n);
		else if (!json__get_bool(req, key, &b))
			json_out__bool(reply, key, b);
		else
			json_out__null(reply, key);
	}
	return 0;
}

static char dir[] = "/tmp/fuzz-api-XXXXXX";

static void remove_socket(void)
{
	unlink(sa.sun_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct api *api;

	/* The server runs until the process exits (a crash leaves the directory). */
	if (!mkdtemp(dir))
		abort();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir);
	if (api__start(sa.sun_path, handler, NULL, &api))
		abort();
	atexit(remove_socket);
	return 0;
}

/* The replies the protocol promises for @data. */
static unsigned expected_replies(const uint8_t *data, size_t size)
{
	unsigned n = 0;
	size_t start = 0;

	for (size_t i = 0; i < size; i++) {
		if (data[i] != '\n')
			continue;
		if (i - start > 1 || (i - start == 1 && data[start] != '\r'))
			n++;
		start = i + 1;
	}
	return n + (size - start >= API_IN_MAX);
}

static void got(const char *buf, size_t n)
{
	if (replies_len + n > replies_cap) {
		replies_cap = (replies_len + n) * 2;
		replies = realloc(replies, replies_cap);
		FUZZ_CHECK(replies, "out of memory");
	}
	memcpy(replies + replies_len, buf, n);
	replies_len += n;
}

/* Send @data, shut down, read every reply until the server closes. */
static void converse(int fd, const uint8_t *data, size_t size)
{
	size_t sent = 0;
	bool shut = false;
	char buf[65536];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
		ssize_t n;

		/* libFuzzer's -timeout (10 s in scripts/fuzz) reports a hang first. */
		FUZZ_CHECK(poll(&p, 1, 30000) == 1,
			   "the server did not answer within 30 s (%zu of %zu bytes sent%s, %zu "
			   "reply bytes read)", sent, size, shut ? ", shut down" : "", replies_len);
		if (p.revents & POLLIN) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			FUZZ_CHECK(n >= 0 || errno == EAGAIN, "recv: %s", strerror(errno));
			if (n == 0)
				return;
			if (n > 0)
				got(buf, (size_t)n);
		}
		if (!shut && (p.revents & POLLOUT)) {
			n = send(fd, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			FUZZ_CHECK(n >= 0 || errno == EAGAIN, "send: %s", strerror(errno));
			sent += n > 0 ? (size_t)n : 0;
		}
		if (!shut && sent == size) {
			FUZZ_CHECK(!shutdown(fd, SHUT_WR), "shutdown: %s", strerror(errno));
			shut = true;
		}
	}
}

static void check_reply(const char *line, size_t len)
{
	struct json_obj *obj;
	char msg[JSON_MSG_MAX];

	FUZZ_CHECK(len > 6 && !memcmp(line, "{\"ok\":", 6), "reply %.*s", (int)len, line);
	if (len > JSON_MAX_LINE)
		return; /* an echo of a long request: the reader would refuse its length */
	FUZZ_CHECK(!json__parse_object(line, len, &obj, msg, sizeof(msg)),
		   "reply %.*s is not JSON: %s", (int)len, line, msg);
	FUZZ_CHECK(!strcmp(json__key(obj, 0), "ok"), "reply's first key");
	json__free(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned want = expected_replies(data, size), n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	FUZZ_CHECK(fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)), "connect: %s",
		   strerror(errno));
	replies_len = 0;
	converse(fd, data, size);
	close(fd);
	for (size_t start = 0; start < replies_len; n++) {
		const char *nl = memchr(replies + start, '\n', replies_len - start);

		FUZZ_CHECK(nl, "a reply without its newline");
		check_reply(replies + start, (size_t)(nl - (replies + start)));
		start = (size_t)(nl - replies) + 1;
	}
	FUZZ_CHECK(n == want, "%u replies to %u requests", n, want);
	if (want)
		FUZZ_ACCEPT();
	else
		FUZZ_REJECT("no complete request");
	return 0;
}
