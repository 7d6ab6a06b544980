// SPDX-License-Identifier: MIT
/*
 * cmd-ctl.c: `vmm ctl [--timeout SECONDS] SOCKET REQUEST...`, the client of
 * the control socket (protocol: api.h).
 *
 * Every REQUEST is checked and turned into one line before connecting, so
 * a usage error sends nothing. Requests then go one at a time: send a
 * line, wait for its reply line, print it, go on (also after an error
 * reply, so `pause snapshot:path=F resume` resumes even if the snapshot
 * failed).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cmd.h"
#include "cmd-opts.h"
#include "json.h"

#define CTL_DEFAULT_TIMEOUT 30.0
#define CTL_REPLY_MAX (API_REPLY_MAX + 1024)

static const char ctl_usage[] = "usage: vmm ctl [--timeout SECONDS] SOCKET REQUEST...";

static const struct cmd_ctx ctl_cmd = {"vmm ctl", ctl_usage};

static int ctl_usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in(ctl_cmd.name, ctl_cmd.usage, what, arg);
}

static void ctl_help(void)
{
	printf("%s\n\n"
	       "Send each REQUEST, in turn, to the control socket SOCKET of a running VMM\n"
	       "and print each reply line (a JSON object; \"ok\" first) as it arrives.\n\n"
	       "A REQUEST is a JSON object with a \"cmd\" string, e.g. '{\"cmd\":\"stats\"}', or\n"
	       "the shorthand NAME[:KEY=VALUE[,KEY=VALUE...]] for\n"
	       "{\"cmd\":\"NAME\",\"KEY\":VALUE,...}: a VALUE that is an integer, true or false\n"
	       "is sent as one, any other as a string.\n\n"
	       "Commands (VMs are numbered: 0 the first, then its clones 1, 2, ...):\n"
	       "  stats[:vm=N]                    counters: the pool's, or VM N's\n"
	       "  pause[:vm=N], resume[:vm=N]     pause or resume VM N (default 0)\n"
	       "  clone[:vm=N,count=K,resettable=true]\n"
	       "                                  K (1-64) live clones of VM N from one pause\n"
	       "  reset:vm=N                      put resettable clone N back at its clone point\n"
	       "  snapshot:path=FILE[,vm=N]       live snapshot of VM N to FILE\n"
	       "                                  (vmm run --restore FILE resumes it)\n"
	       "  quit                            stop every VM; vmm run exits\n\n"
	       "Options:\n"
	       "  --timeout SECONDS  wait at most this long for each reply (default %g)\n"
	       "  -h, --help         show this help\n\n"
	       "Exit status: 0 every reply said \"ok\":true; 1 a reply was an error, or the\n"
	       "connection failed or closed early; 2 usage error.\n",
	       ctl_usage, CTL_DEFAULT_TIMEOUT);
}

/* A command name or key of the shorthand. */
static bool is_name(const char *s, size_t len)
{
	return len && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789_-.") >= len;
}

/* A JSON integer literal: -?(0|[1-9][0-9]*). */
static bool is_integer(const char *s)
{
	s += *s == '-';
	if (*s == '0')
		return !s[1];
	if (*s < '1' || *s > '9')
		return false;
	return strspn(s, "0123456789") == strlen(s);
}

/* One KEY=VALUE of the shorthand (a copy, so it can be cut at '='). */
static int add_param(struct json_out *o, char *param)
{
	char *eq = strchr(param, '=');
	const char *value;

	if (!eq || !is_name(param, (size_t)(eq - param)))
		return -EINVAL;
	*eq = '\0';
	value = eq + 1;
	if (is_integer(value) || !strcmp(value, "true") || !strcmp(value, "false"))
		json_out__raw(o, param, value);
	else
		json_out__str(o, param, value);
	return 0;
}

/* NAME[:KEY=VALUE[,KEY=VALUE...]] as JSON text in @o. */
static int shorthand(const char *arg, struct json_out *o)
{
	size_t name_len = strcspn(arg, ":");
	char *params, *p, *next;
	int err = 0;

	if (!is_name(arg, name_len))
		return -EINVAL;
	params = strndup(arg, name_len);
	if (!params)
		return -ENOMEM;
	json_out__str(o, "cmd", params);
	free(params);
	if (!arg[name_len])
		return 0;
	params = strdup(arg + name_len + 1);
	if (!params)
		return -ENOMEM;
	for (p = params; !err && p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		err = add_param(o, p);
	}
	free(params);
	return err;
}

/*
 * The line (with its "\n") to send for one REQUEST argument: 0, or the exit
 * status of the error reported.
 */
static int make_request(const char *arg, char **ret_line)
{
	char msg[JSON_MSG_MAX] = "", what[JSON_MSG_MAX + 16];
	struct json_out o;
	struct json_obj *obj;
	const char *text = arg;
	char *line = NULL;
	int err = 0;

	json_out__init(&o);
	if (arg[0] != '{') {
		err = shorthand(arg, &o);
		text = err ? NULL : json_out__finish(&o, NULL);
	}
	if (text)
		err = json__parse_object(text, strlen(text), &obj, msg, sizeof(msg));
	if (text && !err) {
		if (!json__get_str(obj, "cmd")) {
			snprintf(msg, sizeof(msg), "no \"cmd\" string");
			err = -EINVAL;
		}
		json__free(obj);
	}
	if (text && !err && !(line = malloc(strlen(text) + 2)))
		err = -ENOMEM;
	if (line)
		sprintf(line, "%s\n", text);
	json_out__free(&o);
	if (err == -EINVAL && !msg[0])
		return ctl_usage_error("bad request (NAME[:KEY=VALUE,...] or a JSON object)", arg);
	if (err == -EINVAL || err == -E2BIG) {
		snprintf(what, sizeof(what), "bad request: %s", msg);
		return ctl_usage_error(what, arg);
	}
	if (err || !line) {
		fprintf(stderr, "vmm ctl: out of memory\n");
		return EXIT_FAILED;
	}
	/* Newlines are whitespace in JSON (strings cannot hold any), but not in a line. */
	for (char *c = line; c[1]; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	*ret_line = line;
	return 0;
}

static int ctl_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	*ret_fd = fd;
	return 0;
}

static int send_line(int fd, const char *line)
{
	size_t len = strlen(line);

	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

struct reader {
	int fd;
	char *buf;
	size_t len, cap;
	int timeout_ms;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * The next line, without its "\n", in *ret_line (valid until the next
 * call), NUL-terminated. -ETIMEDOUT, -EPIPE (closed), -EMSGSIZE, -errno.
 */
static int read_line(struct reader *r, char **ret_line, size_t *ret_len)
{
	long long deadline = now_ms() + r->timeout_ms;
	char *nl;

	while (!(nl = r->len ? memchr(r->buf, '\n', r->len) : NULL)) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;

		if (r->len == r->cap) {
			char *buf = r->cap < CTL_REPLY_MAX ? realloc(r->buf, r->cap + 4096) : NULL;

			if (!buf)
				return r->cap < CTL_REPLY_MAX ? -ENOMEM : -EMSGSIZE;
			r->buf = buf;
			r->cap += 4096;
		}
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n < 0 && errno != EINTR)
			return errno == ECONNRESET ? -EPIPE : -errno;
		if (n == 0)
			return -EPIPE;
		r->len += n > 0 ? (size_t)n : 0;
	}
	*nl = '\0';
	*ret_len = (size_t)(nl - r->buf);
	*ret_line = r->buf;
	return 0;
}

/* Drop the line read_line() returned. */
static void reader_consume(struct reader *r, size_t len)
{
	memmove(r->buf, r->buf + len + 1, r->len - len - 1);
	r->len -= len + 1;
}

static void report(const char *path, int err, double timeout)
{
	if (err == -ETIMEDOUT)
		fprintf(stderr, "vmm ctl: no reply from '%s' within %g s\n", path, timeout);
	else if (err == -EPIPE)
		fprintf(stderr, "vmm ctl: '%s' closed the connection before replying\n", path);
	else if (err == -EMSGSIZE)
		fprintf(stderr, "vmm ctl: a reply from '%s' is too long\n", path);
	else
		fprintf(stderr, "vmm ctl: talking to '%s': %s\n", path, strerror(-err));
}

/* Send every line and print every reply: 0 all ok, else EXIT_FAILED. */
static int exchange(const char *path, int fd, char **lines, int n, double timeout)
{
	struct reader r = {.fd = fd, .timeout_ms = (int)(timeout * 1000)};
	int status = 0;

	for (int i = 0; i < n; i++) {
		int send_err = send_line(fd, lines[i]), err;
		char *reply = NULL;
		size_t len = 0, line_len;

		/* Read even after a failed send: the server may have said why. */
		err = read_line(&r, &reply, &len);
		if (err) {
			report(path, send_err ? send_err : err, timeout);
			status = EXIT_FAILED;
			break;
		}
		line_len = len;
		if (len && reply[len - 1] == '\r')
			reply[--len] = '\0';
		printf("%s\n", reply);
		fflush(stdout);
		if (strncmp(reply, "{\"ok\":true", 10) || (reply[10] != ',' && reply[10] != '}'))
			status = EXIT_FAILED;
		reader_consume(&r, line_len);
		if (send_err) {
			status = EXIT_FAILED;
			break;
		}
	}
	free(r.buf);
	return status;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	double timeout = CTL_DEFAULT_TIMEOUT;
	char **lines;
	int opt, n, fd = -1, err, status = 0;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (cmd_parse_seconds(&ctl_cmd, optarg, &timeout))
				return EXIT_USAGE;
			break;
		case 'h': ctl_help(); return 0;
		case ':': return ctl_usage_error("option needs a value", argv[optind - 1]);
		default: return ctl_usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_usage_error("no control socket given", NULL);
	if (optind + 1 >= argc)
		return ctl_usage_error("no request given", NULL);
	n = argc - optind - 1;
	lines = calloc((size_t)n, sizeof(*lines));
	if (!lines) {
		fprintf(stderr, "vmm ctl: out of memory\n");
		return EXIT_FAILED;
	}
	for (int i = 0; !status && i < n; i++)
		status = make_request(argv[optind + 1 + i], &lines[i]);
	if (!status) {
		err = ctl_connect(argv[optind], &fd);
		if (err) {
			fprintf(stderr, "vmm ctl: cannot connect to '%s': %s\n", argv[optind],
				strerror(-err));
			status = EXIT_FAILED;
		} else {
			status = exchange(argv[optind], fd, lines, n, timeout);
			close(fd);
		}
	}
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return status;
}
