// SPDX-License-Identifier: MIT
/*
 * test-linux-vm: static Linux programs under `vmm run` (suite integration):
 * each program built with musl-gcc and gcc runs in a KVM VM; output, exit
 * status, crash signals, --file grants, --env, --stats' unknown calls.
 * Without /dev/kvm the whole file exits 77 (skipped) and says so.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cli-util.h"
#include "progs-path.h"

static const char *const compilers[] = {"gcc", "musl"};

/* Run `vmm run --guest PROG OPTS -- ARGS` for program @name of each compiler. */
static bool run_prog(const char *cc, const char *name, const char *opts, const char *args,
		     struct result *r)
{
	char prog[64], cmd[2048];
	const char *path;

	snprintf(prog, sizeof(prog), "%s-%s", cc, name);
	path = progs__path(prog);
	if (!path)
		return false; /* not built: musl-gcc missing */
	snprintf(cmd, sizeof(cmd), "run --guest %s --timeout 60 %s -- %s", path, opts, args);
	run(cmd, r);
	return true;
}

#define EXPECT(r, st, out_has, err_has)                                                       \
	do {                                                                                  \
		if ((r).status != (st) || !strstr((r).out, out_has) || !strstr((r).err, err_has)) \
			fail_msg("status %d (want %d)\nstdout: %s\nstderr: %s", (r).status, (st), \
				 (r).out, (r).err);                                          \
	} while (0)

static void test_hello(void **state)
{
	struct result r;

	(void)state;
	for (unsigned i = 0; i < 2; i++)
		if (run_prog(compilers[i], "hello", "", "", &r))
			EXPECT(r, 0, "hello from a static Linux program: 2 + 3 = 5\n", "");
}

static void test_pie(void **state)
{
	char cmd[1024];
	struct result r;

	(void)state;
	snprintf(cmd, sizeof(cmd), "run --guest %s", progs__path("gcc-pie-hello"));
	run(cmd, &r);
	EXPECT(r, 0, "hello from a static Linux program", "");
}

static void test_args(void **state)
{
	struct result r;

	(void)state;
	for (unsigned i = 0; i < 2; i++)
		if (run_prog(compilers[i], "args", "--env VMM_TEST=yes=1 --env OTHER=x",
			     "one 'two words'", &r))
			EXPECT(r, 0, "args ok: argc 3, env 2, pagesz 4096", "");
}

static void test_malloc_tls(void **state)
{
	struct result r;

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		if (run_prog(compilers[i], "malloc", "--mem 256M --stats", "", &r))
			EXPECT(r, 0, "malloc ok", "stats: linux: system calls");
		if (run_prog(compilers[i], "tls", "", "", &r))
			EXPECT(r, 0, "tls ok: 52", "");
	}
}

static void test_files(void **state)
{
	char path[] = "/tmp/vmm-linux-grant-XXXXXX", opts[256];
	int fd = mkstemp(path);
	struct result r;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret line\n", 12), 12);
	close(fd);
	snprintf(opts, sizeof(opts), "--file %s:/in/data.txt", path);
	for (unsigned i = 0; i < 2; i++)
		if (run_prog(compilers[i], "files", opts, "/in/data.txt /etc/passwd", &r))
			EXPECT(r, 0, "granted: secret line\nungranted: No such file or directory\n"
			       "files ok", "");
	/* Without the grant the program cannot see it. */
	if (run_prog("gcc", "files", "", "/in/data.txt /etc/passwd", &r))
		EXPECT(r, 11, "", "");
	/* A grant that cannot be opened is a usage error. */
	if (run_prog("gcc", "files", "--file /nonexistent/x", "a b", &r))
		EXPECT(r, 1, "", "--file /nonexistent/x");
	unlink(path);
}

static void test_crashes(void **state)
{
	struct result r;

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		if (run_prog(compilers[i], "abort", "", "", &r))
			EXPECT(r, 101, "about to abort", "killed by SIGABRT");
		if (run_prog(compilers[i], "segv", "", "", &r))
			EXPECT(r, 101, "about to dereference NULL", "killed by SIGSEGV");
	}
}

static void test_syscalls(void **state)
{
	struct result r;

	(void)state;
	for (unsigned i = 0; i < 2; i++)
		if (run_prog(compilers[i], "syscalls", "--stats", "", &r)) {
			EXPECT(r, 0, "syscalls ok", "999 (?) x1");
			EXPECT(r, 0, "", "1000 (?) x1");
			EXPECT(r, 0, "", "CLONE_THREAD");
		}
}

static void test_usage(void **state)
{
	char cmd[1024];
	struct result r;

	(void)state;
	snprintf(cmd, sizeof(cmd), "run --guest %s --cpus 2", progs__path("gcc-hello"));
	run(cmd, &r);
	EXPECT(r, 2, "", "one vCPU");
	/* The boot-ABI hello is unchanged. */
	run("run --guest hello", &r);
	EXPECT(r, 0, "hello: hypercalls ok", "");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_pie),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_malloc_tls),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_crashes),
		cmocka_unit_test(test_syscalls),
		cmocka_unit_test(test_usage),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test-linux-vm PATH-TO-VMM NAME=PATH...\n");
		return 1;
	}
	vmm_bin = argv[1];
	progs__init(argc, argv, 2);
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "test-linux-vm: SKIPPED: /dev/kvm is absent or not usable (%s); "
				"these tests run static Linux programs under KVM\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
