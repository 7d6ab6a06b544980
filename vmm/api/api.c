// SPDX-License-Identifier: MIT
/*
 * api.c: the control socket server (the protocol is in api.h).
 *
 * vmm/api owns the control protocol: this server and the JSON reader and
 * writer (json.c, json-out.c). It knows no VM and calls nothing in vmm:
 * the request handler comes from vmm/group, the client is `vmm ctl`
 * (vmm/cli). Public: api.h, json.h.
 *
 * One thread polls an eventfd (api__stop's wake-up), the listening socket
 * and up to API_MAX_CLIENTS clients; all sockets are non-blocking, so no
 * client can stall it. Per client:
 *  - in[0..in_len) holds received bytes not yet handled, room for one
 *    request line of JSON_MAX_LINE bytes and its "\r\n"; a full buffer
 *    without a newline is an over-long request, answered at once, and the
 *    rest of it is skipped up to its newline (discard).
 *  - out[out_off..out_len) is reply text not yet sent. Requests are handled
 *    only while less than API_OUT_HIGH bytes wait, and a reply is at most
 *    API_REPLY_MAX bytes, so out stays below their sum (backpressure: the
 *    client's own sends block instead).
 *  - a client is closed when its socket fails (a send after it hung up
 *    does), when it shut down its side (eof) and every complete request
 *    is answered and sent, or when a reply cannot be queued (no memory).
 * Only the server thread touches clients after api__start() returns, until
 * api__stop() has joined it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"

#define API_IN_MAX (JSON_MAX_LINE + 2)	/* a request line and its "\r\n" */
#define STR_(x) #x
#define STR(x) STR_(x)

struct client {
	int fd;
	bool eof;		/* the client will send no more */
	bool discard;		/* skipping an over-long line up to its newline */
	bool dead;		/* close it */
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	char in[API_IN_MAX];
};

struct api {
	int listen_fd, wake_fd;
	pthread_t thread;
	api_handler_fn fn;
	void *arg;
	char *path;
	dev_t dev;		/* the socket we bound, to unlink only that */
	ino_t ino;
	struct client *clients[API_MAX_CLIENTS];
};

static const char too_many[] = "{\"ok\":false,\"error\":\"too many clients (16 at most)\"}\n";
static const char no_memory[] = "{\"ok\":false,\"error\":\"out of memory\"}";

static void client_free(struct client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->out);
	free(c);
}

/* Append @len bytes and a newline to the client's output. */
static void queue_line(struct client *c, const char *text, size_t len)
{
	size_t need;

	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	need = c->out_len + len + 1;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *out;

		while (cap < need)
			cap *= 2;
		out = realloc(c->out, cap);
		if (!out) {
			c->dead = true;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
}

/* {"ok":true,fields...} or {"ok":false,"error":...}, "ok" first. */
static void queue_reply(struct client *c, int ret, const struct json_out *fields)
{
	struct json_out line;
	const char *text, *msg = json_out__error_msg(fields);
	char buf[128];
	size_t len;

	json_out__init(&line);
	if (ret >= 0 && fields->err) {
		ret = fields->err;
		msg = NULL;
	}
	json_out__bool(&line, "ok", ret >= 0);
	if (ret >= 0) {
		json_out__merge(&line, fields);
	} else {
		if (!msg)
			msg = strerror_r(-ret, buf, sizeof(buf));
		json_out__str(&line, "error", msg);
	}
	text = json_out__finish(&line, &len);
	if (text && len > API_REPLY_MAX) {
		json_out__free(&line);
		json_out__bool(&line, "ok", false);
		json_out__str(&line, "error", "reply too large");
		text = json_out__finish(&line, &len);
	}
	if (!text) {
		text = no_memory;
		len = sizeof(no_memory) - 1;
	}
	queue_line(c, text, len);
	json_out__free(&line);
}

static void handle_request(struct api *api, struct client *c, const char *text, size_t len)
{
	char msg[JSON_MSG_MAX];
	struct json_obj *req = NULL;
	struct json_out fields;
	int ret;

	json_out__init(&fields);
	ret = json__parse_object(text, len, &req, msg, sizeof(msg));
	if (!ret && !json__get_str(req, "cmd"))
		ret = json_out__error(&fields, "invalid request: no \"cmd\" string");
	else if (!ret)
		ret = api->fn(api->arg, req, &fields);
	else if (ret != -ENOMEM)
		json_out__error(&fields, "invalid request: %s", msg);
	queue_reply(c, ret, &fields);
	json_out__free(&fields);
	json__free(req);
}

static void queue_error(struct client *c, const char *msg)
{
	struct json_out fields;

	json_out__init(&fields);
	queue_reply(c, json_out__error(&fields, "%s", msg), &fields);
	json_out__free(&fields);
}

static void consume(struct client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Answer the complete lines in the input buffer while output is not backed up. */
static void handle_lines(struct api *api, struct client *c)
{
	static const char too_long[] = "request longer than " STR(JSON_MAX_LINE) " bytes";

	while (!c->dead && c->out_len - c->out_off < API_OUT_HIGH) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t len;

		if (c->discard) {
			if (!nl) {
				c->in_len = 0;
				return;
			}
			c->discard = false;
			consume(c, (size_t)(nl - c->in) + 1);
			continue;
		}
		if (!nl) {
			if (c->in_len < sizeof(c->in))
				return;
			/* A full buffer and no newline: answer now, skip the rest. */
			queue_error(c, too_long);
			c->in_len = 0;
			c->discard = true;
			return;
		}
		len = (size_t)(nl - c->in);
		if (len && c->in[len - 1] == '\r')
			len--;
		if (len > JSON_MAX_LINE)
			queue_error(c, too_long);
		else if (len)
			handle_request(api, c, c->in, len);
		consume(c, (size_t)(nl - c->in) + 1);
	}
}

/* Receive what fits in the input buffer; eof at the end of the stream. */
static int client_read(struct client *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	return 0;
}

/* Send what the socket takes now. */
static int client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* One poll result for a client; false when it is to be closed. */
static bool client_event(struct api *api, struct client *c, short revents)
{
	bool backed_up;

	if (revents & (POLLERR | POLLNVAL))
		return false;
	if ((revents & (POLLIN | POLLHUP)) && !c->eof && c->in_len < sizeof(c->in) &&
	    c->out_len - c->out_off < API_OUT_HIGH && client_read(c))
		return false;
	for (;;) {
		handle_lines(api, c);
		if (c->dead)
			return false;
		backed_up = c->out_len - c->out_off >= API_OUT_HIGH;
		if (client_flush(c))
			return false;
		/* Below the mark again: buffered requests may go on. */
		if (!backed_up || c->out_len - c->out_off >= API_OUT_HIGH)
			break;
	}
	/* Done once it sent its last request and has every reply; a partial line is dropped. */
	return !(c->eof && !c->out_len);
}

static short client_events(const struct client *c)
{
	short ev = 0;

	if (!c->eof && c->in_len < sizeof(c->in) && c->out_len - c->out_off < API_OUT_HIGH)
		ev |= POLLIN;
	if (c->out_len > c->out_off)
		ev |= POLLOUT;
	return ev;
}

static void accept_client(struct api *api)
{
	struct client *c;
	unsigned i;
	int fd = accept4(api->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (i = 0; i < API_MAX_CLIENTS && api->clients[i]; i++)
		;
	c = i < API_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		if (send(fd, too_many, sizeof(too_many) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* Closed anyway. */
		}
		close(fd);
		return;
	}
	c->fd = fd;
	api->clients[i] = c;
}

static void *serve(void *arg)
{
	struct api *api = arg;
	struct pollfd pfd[2 + API_MAX_CLIENTS];

	for (;;) {
		pfd[0] = (struct pollfd){.fd = api->wake_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = api->listen_fd, .events = POLLIN};
		for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
			struct client *c = api->clients[i];

			pfd[2 + i] = (struct pollfd){.fd = c ? c->fd : -1,
						     .events = c ? client_events(c) : 0};
		}
		if (poll(pfd, 2 + API_MAX_CLIENTS, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;	/* cannot happen with valid fds; api__stop still works */
		}
		if (pfd[0].revents)
			break;
		for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
			if (!api->clients[i] || !pfd[2 + i].revents)
				continue;
			if (!client_event(api, api->clients[i], pfd[2 + i].revents)) {
				client_free(api->clients[i]);
				api->clients[i] = NULL;
			}
		}
		if (pfd[1].revents & POLLIN)
			accept_client(api);
	}
	return NULL;
}

/*
 * Bind @fd to @sa's path. Something already there: a socket nobody accepts
 * on (connect gets ECONNREFUSED) is stale and replaced; a live socket or
 * anything else is -EEXIST and left alone.
 */
static int bind_path(int fd, const struct sockaddr_un *sa)
{
	struct stat st;
	int probe, ret, err;

	if (!bind(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	if (lstat(sa->sun_path, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return -errno;
	ret = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
	err = errno;
	close(probe);
	if (!ret || err == EAGAIN || err == EINPROGRESS)
		return -EEXIST;	/* a live server (EAGAIN: its backlog is full) */
	if (err != ECONNREFUSED)
		return -err;
	if (unlink(sa->sun_path) && errno != ENOENT)
		return -errno;
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		return errno == EADDRINUSE ? -EEXIST : -errno;
	return 0;
}

/* The listening socket, bound and mode 0600 before anyone can connect. */
static int listen_on(struct api *api, const struct sockaddr_un *sa)
{
	struct stat st;
	int err;

	api->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (api->listen_fd < 0)
		return -errno;
	err = bind_path(api->listen_fd, sa);
	if (err)
		return err;
	if (chmod(sa->sun_path, 0600) || stat(sa->sun_path, &st) ||
	    listen(api->listen_fd, API_MAX_CLIENTS)) {
		err = -errno;
		unlink(sa->sun_path);
		return err;
	}
	api->dev = st.st_dev;
	api->ino = st.st_ino;
	return 0;
}

/* Start the thread with every signal blocked, so signals go to other threads. */
static int start_thread(struct api *api)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&api->thread, NULL, serve, api);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void unlink_ours(const struct api *api)
{
	struct stat st;

	if (!stat(api->path, &st) && st.st_dev == api->dev && st.st_ino == api->ino)
		unlink(api->path);
}

int api__start(const char *path, api_handler_fn fn, void *arg, struct api **ret_api)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct api *api;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->fn = fn;
	api->arg = arg;
	api->listen_fd = api->wake_fd = -1;
	api->path = strdup(path);
	if (!api->path) {
		err = -ENOMEM;
		goto err_free;
	}
	err = listen_on(api, &sa);
	if (err)
		goto err_close;
	api->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (api->wake_fd < 0) {
		err = -errno;
		goto err_unlink;
	}
	err = start_thread(api);
	if (err)
		goto err_unlink;
	*ret_api = api;
	return 0;

err_unlink:
	unlink_ours(api);
err_close:
	if (api->listen_fd >= 0)
		close(api->listen_fd);
	if (api->wake_fd >= 0)
		close(api->wake_fd);
err_free:
	free(api->path);
	free(api);
	return err;
}

void api__stop(struct api *api)
{
	uint64_t one = 1;

	if (!api)
		return;
	/* Adding 1 to an eventfd cannot fail (it would take 2^64 - 2 more). */
	while (write(api->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(api->thread, NULL);
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		client_free(api->clients[i]);
	close(api->listen_fd);
	close(api->wake_fd);
	unlink_ours(api);
	free(api->path);
	free(api);
}
