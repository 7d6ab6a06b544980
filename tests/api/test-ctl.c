// SPDX-License-Identifier: MIT
/*
 * test-ctl: `vmm ctl` (vmm/cli/cmd-ctl.c), suite vmm, against the test handler
 * of api-fixture and against a bare socket that records the exact lines:
 * shorthand conversion, replies on stdout, exit statuses 0/1/2 and their
 * messages, --timeout, --help. The vmm binary's path is argv[1].
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "api-fixture.h"

static const char *vmm_bin;

struct result {
	int status;
	char out[8192];
	char err[8192];
};

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void run_ctl(struct result *r, ...)
{
	char *argv[32] = {(char *)vmm_bin, "ctl"}, out[] = "/tmp/vmm-ctl-out-XXXXXX",
	     err[] = "/tmp/vmm-ctl-err-XXXXXX";
	int fo = mkostemp(out, O_CLOEXEC), fe = mkostemp(err, O_CLOEXEC), n = 2, st;
	posix_spawn_file_actions_t fa;
	va_list ap;
	pid_t pid;

	assert_true(fo >= 0 && fe >= 0);
	unlink(out);
	unlink(err);
	va_start(ap, r);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fo, 1);
	posix_spawn_file_actions_adddup2(&fa, fe, 2);
	assert_int_equal(posix_spawn(&pid, vmm_bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	slurp(fo, r->out, sizeof(r->out));
	slurp(fe, r->err, sizeof(r->err));
}

static void test_ctl(void **state)
{
	static const char *const want[] = {
		"{\"cmd\":\"pause\"}",
		"{\"cmd\":\"stats\",\"verbose\":1}",
		"{\"cmd\":\"echo\",\"x\":1}",
		"{\"cmd\":\"echo\",\"x\":-5,\"s\":\"hello world\",\"b\":true,\"f\":false,"
		"\"z\":\"007\",\"e\":\"\",\"big\":1e+20,\"d\":\"1.5\",\"n\":\"null\","
		"\"q\":\"a\\\"b\"}",
		"{\"cmd\":\"echo\",\"x\":9}",
	};
	struct fixture *f = *state;
	struct result r;

	run_ctl(&r, f->path, "pause", "stats:verbose=1", "{\"cmd\":\"echo\",\"x\":1}", NULL);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out, "{\"ok\":true}\n"
				   "{\"ok\":true,\"stats\":{\"faults\":3,\"verbose\":true}}\n"
				   "{\"ok\":true,\"cmd\":\"echo\",\"x\":1}\n");
	assert_int_equal(r.status, 0);
	run_ctl(&r, "--timeout", "5", f->path,
		"echo:x=-5,s=hello world,b=true,f=false,z=007,e=,big=99999999999999999999,"
		"d=1.5,n=null,q=a\"b", "{ \"cmd\" :\n\"echo\", \"x\": 9 }", NULL);
	assert_string_equal(r.out, "{\"ok\":true,\"cmd\":\"echo\",\"x\":-5}\n"
				   "{\"ok\":true,\"cmd\":\"echo\",\"x\":9}\n");
	assert_int_equal(r.status, 0);
	assert_seen(5, want);
}

/* A bare server in a thread: records request lines, replies to the first @replies. */
struct raw {
	int fd, nr, replies;
	char lines[8][256];
};

static void *raw_serve(void *arg)
{
	struct raw *raw = arg;
	int c = accept4(raw->fd, NULL, NULL, SOCK_CLOEXEC);
	struct conn *conn = calloc(1, sizeof(*conn));
	struct timeval tv = {.tv_sec = 10};
	char *line;

	conn->fd = c;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (c >= 0 && raw->nr < raw->replies && raw->nr < 8 && (line = conn_line(conn))) {
		snprintf(raw->lines[raw->nr++], sizeof(raw->lines[0]), "%s", line);
		send_bytes(c, "{\"ok\":true}\n", 12);
	}
	conn_close(conn);
	return NULL;
}

static void test_ctl_exact_lines(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	struct raw raw = {.replies = 4};
	struct result r;
	pthread_t t;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/raw.sock", f->dir);
	raw.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(raw.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(raw.fd, 1), 0);
	setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(pthread_create(&t, NULL, raw_serve, &raw), 0);
	run_ctl(&r, sa.sun_path, "pause", "stats:verbose=1", "{\"cmd\":\"echo\",\"x\":1}",
		"{ \"cmd\":\r\n\"echo\" }", NULL);
	pthread_join(t, NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(raw.nr, 4);
	assert_string_equal(raw.lines[0], "{\"cmd\":\"pause\"}");
	assert_string_equal(raw.lines[1], "{\"cmd\":\"stats\",\"verbose\":1}");
	assert_string_equal(raw.lines[2], "{\"cmd\":\"echo\",\"x\":1}");
	assert_string_equal(raw.lines[3], "{ \"cmd\":  \"echo\" }");

	/* The server goes away after one reply: exit 1 and a message. */
	raw = (struct raw){.fd = raw.fd, .replies = 1};
	assert_int_equal(pthread_create(&t, NULL, raw_serve, &raw), 0);
	run_ctl(&r, sa.sun_path, "pause", "pause", NULL);
	pthread_join(t, NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "{\"ok\":true}\n");
	assert_non_null(strstr(r.err, "closed the connection before replying"));
	close(raw.fd);
	unlink(sa.sun_path);
}

static void test_ctl_errors(void **state)
{
	static const struct {
		const char *arg, *msg;
	} bad[] = {
		{"pause:x",
		 "vmm ctl: bad request (NAME[:KEY=VALUE,...] or a JSON object) 'pause:x'\n"},
		{"pause:", "bad request (NAME"},
		{"a b", "bad request (NAME"},
		{":x=1", "bad request (NAME"},
		{"stats:=1", "bad request (NAME"},
		{"stats:a=1,,b=2", "bad request (NAME"},
		{"stats:a=1,", "bad request (NAME"},
		{"stats:a=1,a=2", "vmm ctl: bad request: duplicate key \"a\" 'stats:a=1,a=2'\n"},
		{"echo:cmd=x", "bad request: duplicate key \"cmd\""},
		{"{\"cmd\":1}", "vmm ctl: bad request: no \"cmd\" string '{\"cmd\":1}'\n"},
		{"{bad", "vmm ctl: bad request: at byte 1: expected a string key '{bad'\n"},
	};
	struct fixture *f = *state;
	char missing[96], want[160];
	struct result r;

	run_ctl(&r, f->path, "echo", "fail", "echo:x=2", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "{\"ok\":true,\"cmd\":\"echo\"}\n"
				   "{\"ok\":false,\"error\":\"it failed on purpose\"}\n"
				   "{\"ok\":true,\"cmd\":\"echo\",\"x\":2}\n");
	assert_string_equal(r.err, "");

	snprintf(missing, sizeof(missing), "%s/nope.sock", f->dir);
	run_ctl(&r, missing, "pause", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "vmm ctl: cannot connect to '%s': No such file or directory\n",
		 missing);
	assert_string_equal(r.err, want);
	assert_string_equal(r.out, "");

	run_ctl(&r, f->path, NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "vmm ctl: no request given\n"
				   "usage: vmm ctl [--timeout SECONDS] SOCKET REQUEST...\n");
	run_ctl(&r, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "vmm ctl: no control socket given\n"));
	run_ctl(&r, "--timeout", "0", f->path, "pause", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--timeout: not a positive number of seconds '0'"));
	run_ctl(&r, "--timeout", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "option needs a value '--timeout'"));
	run_ctl(&r, "--bogus", f->path, "pause", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown option '--bogus'"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* A good request first: nothing is sent when any is bad. */
		run_ctl(&r, f->path, "pause", bad[i].arg, NULL);
		if (r.status != 2 || !strstr(r.err, bad[i].msg) || !strstr(r.err, "usage: vmm ctl"))
			fail_msg("%s: status %d, stderr: %s", bad[i].arg, r.status, r.err);
		assert_string_equal(r.out, "");
	}
	assert_int_equal(nr_seen(), 3);	/* echo, fail, echo above */
}

static void test_ctl_timeout(void **state)
{
	struct fixture *f = *state;
	char want[160];
	struct result r;

	run_ctl(&r, "--timeout", "0.1", f->path, "sleep", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "vmm ctl: no reply from '%s' within 0.1 s\n", f->path);
	assert_string_equal(r.err, want);
}

static void test_ctl_too_many_clients(void **state)
{
	struct fixture *f = *state;
	struct conn *c[API_MAX_CLIENTS];
	struct result r;

	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		c[i] = conn_open(f->path);
		expect_echo(c[i], i);
	}
	run_ctl(&r, f->path, "pause", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "{\"ok\":false,\"error\":\"too many clients (16 at most)\"}\n");
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		conn_close(c[i]);
}

static void test_ctl_help(void **state)
{
	static const char *const words[] = {
		"usage: vmm ctl [--timeout SECONDS] SOCKET REQUEST...",
		"NAME[:KEY=VALUE[,KEY=VALUE...]]",
		"\n  pause[:vm=N], resume[:vm=N] ", "\n  clone[:vm=N,count=K,resettable=true]\n",
		"\n  snapshot:path=FILE[,vm=N] ", "\n  reset:vm=N ", "\n  stats[:vm=N] ",
		"\n  quit ",
		"--timeout SECONDS",
	};
	struct result r;

	run_ctl(&r, "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strstr(r.out, words[i]))
			fail_msg("'%s' not in: %s", words[i], r.out);
}

int main(int argc, char **argv)
{
#define T(t) cmocka_unit_test_setup_teardown(t, api_fixture_setup, api_fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_ctl),	    T(test_ctl_exact_lines),	  T(test_ctl_errors),
		T(test_ctl_timeout), T(test_ctl_too_many_clients), T(test_ctl_help),
	};
#undef T

	if (argc < 2) {
		fprintf(stderr, "usage: test-ctl VMM_BINARY\n");
		return 2;
	}
	vmm_bin = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
