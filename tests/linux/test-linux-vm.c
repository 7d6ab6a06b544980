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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/*
 * A live clone of a running program through the control socket: each clone
 * goes on from the clone point with its own pid (getpid) and reaches the
 * same sums; snapshots of Linux programs are refused with a reason.
 */
static void test_live_clone(void **state)
{
	char dir[] = "/tmp/vmm-linux-clone-XXXXXX", sock[300], path[300], cmd[2048];
	char out[16384], c1[8192], c2[8192];
	const char *prog = progs__path("gcc-ticker");
	const char *done, *step;
	struct result r;
	unsigned at = 0;
	pid_t pid;
	int st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(cmd, sizeof(cmd), "exec %s run --guest %s --api %s --clone-serial %s/clone "
			 "--timeout 120 -- 40 50 >%s/run.out 2>%s/run.err </dev/null", vmm_bin, prog,
			 sock, dir, dir, dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/run.out", dir);
	/* Clone once the program is a few steps in. */
	for (unsigned t = 0; t < 60000; t += 10) {
		slurp(path, out, sizeof(out));
		if (strstr(out, "step 4 "))
			break;
		usleep(10000);
	}
	assert_non_null(strstr(out, "ticker: pid 1 step 4 "));
	snprintf(cmd, sizeof(cmd), "ctl %s clone:count=2", sock);
	run(cmd, &r);
	if (r.status || !strstr(r.out, "\"ids\":[1,2]"))
		fail_msg("clone: %d\n%s%s", r.status, r.out, r.err);
	snprintf(cmd, sizeof(cmd), "ctl %s snapshot:path=%s/x.snap", sock, dir);
	run(cmd, &r);
	if (r.status != 1 || !strstr(r.out, "snapshots of Linux programs are not supported"))
		fail_msg("snapshot of a Linux program: %d\n%s%s", r.status, r.out, r.err);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	slurp(path, out, sizeof(out));
	snprintf(path, sizeof(path), "%s/run.err", dir);
	slurp(path, r.err, sizeof(r.err));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("vmm run: status 0x%x\n%s%s", st, out, r.err);
	done = strstr(out, "ticker: pid 1 done sum ");
	assert_non_null(done);
	snprintf(path, sizeof(path), "%s/clone.1", dir);
	slurp(path, c1, sizeof(c1));
	snprintf(path, sizeof(path), "%s/clone.2", dir);
	slurp(path, c2, sizeof(c2));
	/* The clones: their own pids, not from the start, the parent's final sum. */
	/*
	 * The clones: their own pids, not from the start, the parent's final
	 * sum. A clone made between the formatting of a line and its write
	 * prints that line first, with the parent's pid: as a fork prints what
	 * its stdio buffer held.
	 */
	int pids[2];

	for (int k = 0; k < 2; k++) {
		char *c = k ? c2 : c1, want[64];
		int cpid;

		if (!strncmp(c, "ticker: pid 1 step ", 19) && strchr(c, '\n'))
			c = strchr(c, '\n') + 1;
		if (sscanf(c, "ticker: pid %d step %u", &cpid, &at) != 2 || cpid <= 1 || at <= 4)
			fail_msg("a clone's first line: \"%.80s\" (parent: %.200s)", c, out);
		if (strstr(c, "ticker: pid 1 "))
			fail_msg("a clone printed the parent's pid after its own:\n%s", c);
		snprintf(want, sizeof(want), "ticker: pid %d done sum %s", cpid, done + 23);
		want[strcspn(want, "\n")] = 0;
		if (!strstr(c, want))
			fail_msg("clone output lacks \"%s\":\n%s", want, c);
		step = strstr(c, "step 40 ");
		assert_non_null(step);
		pids[k] = cpid;
	}
	assert_int_not_equal(pids[0], pids[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * `vmm fuzz` on a libFuzzer harness built as a static Linux program
 * (guest-images/linux/vmm-fuzz-driver.c): 60 inputs, each run growing the
 * heap, mapping memory and having the VMM write a page (the harness aborts
 * if a run sees an earlier one's traces); exactly the two planted crashes
 * are found, each with its signal. A program with more vCPUs is refused.
 */
static void test_fuzz(void **state)
{
	char dir[] = "/tmp/vmm-linux-fuzz-XXXXXX", path[300], cmd[2048];
	const char *prog = progs__path("gcc-fuzz-target");
	struct result r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/in", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	for (int i = 0; i < 60; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/in/%02d", dir, i);
		f = fopen(path, "we");
		assert_non_null(f);
		fprintf(f, "%s", i == 20 ? "VMM!" : i == 40 ? "ABRT" : i % 2 ? "VMx" : "input");
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "fuzz --guest %s --inputs %s/in --crashes %s/crashes", prog,
		 dir, dir);
	run(cmd, &r);
	if (r.status != 3 || !strstr(r.out, "crashes 2;") || !strstr(r.out, "%, in resets ") ||
	    !strstr(r.err, "crash: 20: guest crash on vCPU 0: killed by SIGSEGV") ||
	    !strstr(r.err, "crash: 40: guest killed by SIGABRT"))
		fail_msg("vmm fuzz: status %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
	snprintf(path, sizeof(path), "%s/crashes/20", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(cmd, sizeof(cmd), "fuzz --guest %s --inputs %s/in --cpus 2", prog, dir);
	run(cmd, &r);
	EXPECT(r, 2, "", "one vCPU");
	/* Guest arguments past the loader's 64: refused with the reason, nothing runs. */
	int len = snprintf(cmd, sizeof(cmd), "fuzz --guest %s --inputs %s/in --", prog, dir);
	for (int i = 0; i < 65; i++)
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " a");
	run(cmd, &r);
	EXPECT(r, 1, "", "more than 64 guest arguments");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
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
		cmocka_unit_test(test_live_clone),
		cmocka_unit_test(test_fuzz),
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
