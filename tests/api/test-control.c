// SPDX-License-Identifier: MIT
/*
 * test-control: the vmm binary driving live VMs (suite integration), argv[1]
 * is the binary:
 * - a control-socket session with `vmm ctl`: stats, clones (each clone's
 *   console in its own file), a live snapshot; malformed, unknown and
 *   failing requests get error replies while the VM keeps running; every
 *   VM, and the snapshot resumed with --restore, ends with the checksum of
 *   the uninterrupted run;
 * - a guest-requested snapshot (HC_SNAPSHOT) resumed with --restore
 *   finishes exactly like the live run;
 * - truncated, corrupted and wrong-version snapshot files are rejected with
 *   a message and nothing runs;
 * - `vmm fuzz` finds the planted crash, saves exactly that input, times out
 *   the hang, and reports nothing on a corpus without the crash.
 *
 * Without /dev/kvm the whole file exits 77 (skipped) and says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "cli-util.h"

static char dir[] = "/tmp/vmm-control-XXXXXX";

/* Under the nested lane (TCG) the spin guest's work is a fifth, its wait five times longer. */
#define NESTED (getenv("NESTED_LANE") != NULL)
#define SPIN (NESTED ? "180000000" : "900000000")

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The "checksum 0x..." part of @out, copied to @ret. */
static void checksum_of(const char *out, char *ret, size_t len)
{
	const char *p = strstr(out, "checksum 0x");

	if (!p)
		fail_msg("no checksum in: %s", out);
	snprintf(ret, len, "%.27s", p);
}

/* Start `vmm run ARGS` in the background, stdout/stderr to files in dir. */
static pid_t spawn_run(const char *args)
{
	char cmd[4096];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(cmd, sizeof(cmd), "exec %s run %s >%s/run.out 2>%s/run.err </dev/null",
			 vmm_bin, args, dir, dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid, unsigned timeout_ms)
{
	int st;

	for (unsigned t = 0; t < timeout_ms; t += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			assert_true(WIFEXITED(st));
			return WEXITSTATUS(st);
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fail_msg("vmm run did not exit within %u ms", timeout_ms);
	return -1;
}

/* Send @lines in one write; the first @n reply lines go to @reply, one after another. */
static void raw_requests(const char *sock, const char *lines, unsigned n, char *reply, size_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0;

	assert_true(strlen(sock) < sizeof(a.sun_path));
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, lines, strlen(lines)), (ssize_t)strlen(lines));
	while (n && got < len - 1) {
		ssize_t r = read(fd, reply + got, 1);

		if (r <= 0)
			break;
		n -= reply[got++] == '\n';
	}
	reply[got] = '\0';
	close(fd);
}

/* One raw request line; the reply line, without its newline, goes to @reply. */
static void raw_request(const char *sock, const char *line, char *reply, size_t len)
{
	raw_requests(sock, line, 1, reply, len);
	reply[strcspn(reply, "\n")] = '\0';
}

static void expect_error(const char *sock, const char *line, const char *msg)
{
	char reply[1024];

	/* @msg as it reads inside a JSON string: quotes escaped. */
	raw_request(sock, line, reply, sizeof(reply));
	if (strncmp(reply, "{\"ok\":false,\"error\":", 20) || !strstr(reply, msg))
		fail_msg("request %s: reply %s, expected an error with \"%s\"", line, reply, msg);
}

/* "quit" then "reset" of a resettable clone in one write: the reset is refused, vmm exits. */
static void test_quit_then_reset(void **state)
{
	char sock[300], args[1024], ctl[1024], reply[2048];
	struct result r;
	pid_t pid;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/quit.sock", dir);
	snprintf(args, sizeof(args), "--guest spin --api %s -- %s", sock, SPIN);
	pid = spawn_run(args);
	for (unsigned t = 0; access(sock, F_OK) && t < 5000; t += 10)
		sleep_ms(10);
	snprintf(ctl, sizeof(ctl), "ctl %s clone:resettable=true", sock);
	run(ctl, &r);
	if (r.status)
		fail_msg("vmm ctl: %d\n%s%s", r.status, r.out, r.err);
	raw_requests(sock, "{\"cmd\":\"quit\"}\n{\"cmd\":\"reset\",\"vm\":1}\n"
		     "{\"cmd\":\"resume\"}\n", 3, reply, sizeof(reply));
	if (!strstr(reply, "{\"ok\":true}\n{\"ok\":false,\"error\":\"reset: the VMM is quitting") ||
	    !strstr(reply, "\n{\"ok\":false,\"error\":\"resume: the VMM is quitting"))
		fail_msg("replies: %s", reply);
	assert_int_equal(wait_exit(pid, 30000), 0);
}

static void test_control_session(void **state)
{
	char sock[300], args[1024], snap[300], sum[64], path[300], ctl[1024], buf[8192];
	struct result r;
	pid_t pid;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(snap, sizeof(snap), "%s/live.snap", dir);
	snprintf(args, sizeof(args), "--guest spin --api %s --clone-serial %s/clone -- %s",
		 sock, dir, SPIN);
	pid = spawn_run(args);
	for (unsigned t = 0; access(sock, F_OK) && t < 5000; t += 10)
		sleep_ms(10);

	snprintf(ctl, sizeof(ctl), "ctl %s stats", sock);
	run(ctl, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "{\"ok\":true,\"vms\":1,\"running\":1"));

	/* Bad requests: an error each, and the VM keeps running. */
	expect_error(sock, "{bad json\n", "");
	expect_error(sock, "{\"cmd\":\"frobnicate\"}\n", "unknown command \\\"frobnicate\\\"");
	expect_error(sock, "{\"cmd\":\"clone\",\"count\":0}\n", "\\\"count\\\" must be from 1 to 64");
	expect_error(sock, "{\"cmd\":\"clone\",\"colour\":1}\n", "unknown key \\\"colour\\\"");
	expect_error(sock, "{\"cmd\":\"pause\",\"vm\":99}\n", "no VM 99");
	expect_error(sock, "{\"cmd\":\"reset\"}\n", "not a resettable clone");
	expect_error(sock, "{\"cmd\":\"snapshot\"}\n", "\\\"path\\\" (a file name) is required");
	expect_error(sock, "{\"cmd\":\"snapshot\",\"path\":\"/nonexistent-dir/x.snap\"}\n",
		     "cannot create the snapshot file");
	snprintf(ctl, sizeof(ctl), "ctl %s '{\"cmd\":\"bogus\"}'", sock);
	run(ctl, &r);
	assert_int_equal(r.status, 1);

	snprintf(ctl, sizeof(ctl), "ctl %s clone:count=2 snapshot:path=%s pause resume stats",
		 sock, snap);
	run(ctl, &r);
	if (r.status)
		fail_msg("vmm ctl: %d\n%s%s", r.status, r.out, r.err);
	assert_non_null(strstr(r.out, "\"ids\":[1,2]"));
	assert_non_null(strstr(r.out, "\"path\":\""));
	assert_non_null(strstr(r.out, "\"vms\":3,\"running\":3"));

	assert_int_equal(wait_exit(pid, NESTED ? 300000 : 60000), 0);
	snprintf(path, sizeof(path), "%s/run.out", dir);
	slurp(path, buf, sizeof(buf));
	checksum_of(buf, sum, sizeof(sum));
	for (int i = 1; i <= 2; i++) {
		snprintf(path, sizeof(path), "%s/clone.%d", dir, i);
		slurp(path, buf, sizeof(buf));
		if (!strstr(buf, sum))
			fail_msg("clone %d printed \"%s\", not \"%s\"", i, buf, sum);
	}
	/* The live snapshot, resumed, finishes the same computation. */
	snprintf(args, sizeof(args), "run --restore %s", snap);
	run(args, &r);
	assert_int_equal(r.status, 0);
	if (!strstr(r.out, sum))
		fail_msg("restored run printed \"%s\", not \"%s\"", r.out, sum);
}

/* A snapshot the guest asked for, while it goes on writing the same memory. */
static void make_snapper_snapshot(const char *snap, char *out, size_t len)
{
	char args[1024];
	struct result r;

	snprintf(args, sizeof(args), "run --guest snapper --snapshot-to %s -- 24", snap);
	run(args, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "snapper: snapshot returned 0, checksum"));
	snprintf(out, len, "%s", r.out);
}

/*
 * HC_SNAPSHOT that cannot be saved: the guest is told the real -errno and
 * vmm run reports it and fails; without --snapshot-to the guest gets -ENOSYS
 * and the run is fine (nothing was asked of the VMM).
 */
static void test_snapshot_errors(void **state)
{
	char args[1024];
	struct result r;

	(void)state;
	snprintf(args, sizeof(args), "run --guest snapper --snapshot-to %s/no/such/dir/x.snap "
		 "-- 24", dir);
	run(args, &r);
	if (r.status != 1 || !strstr(r.out, "snapper: snapshot returned -2,") ||
	    !strstr(r.err, "snapshot failed") || !strstr(r.err, "was not saved"))
		fail_msg("vmm %s: status %d\n%s%s", args, r.status, r.out, r.err);
	snprintf(args, sizeof(args), "run --guest snapper --snapshot-to /dev/full -- 24");
	run(args, &r);
	if (r.status != 1 || !strstr(r.out, "snapper: snapshot returned -17,") ||
	    !strstr(r.err, "not a regular file"))
		fail_msg("vmm %s: status %d\n%s%s", args, r.status, r.out, r.err);
	run("run --guest snapper -- 24", &r);
	if (r.status != 0 || !strstr(r.out, "snapper: snapshot returned -38,"))
		fail_msg("vmm run --guest snapper: status %d\n%s%s", r.status, r.out, r.err);
}

static void test_snapshot_round_trip(void **state)
{
	char snap[300], live[8192], args[1024];
	struct result r;

	(void)state;
	snprintf(snap, sizeof(snap), "%s/hc.snap", dir);
	make_snapper_snapshot(snap, live, sizeof(live));
	for (int i = 0; i < 2; i++) { /* a snapshot resumes as often as wanted */
		snprintf(args, sizeof(args), "run --restore %s", snap);
		run(args, &r);
		assert_int_equal(r.status, 0);
		assert_string_equal(r.out, live);
	}
}

static void corrupt(const char *from, const char *to, off_t off, long size, const void *bytes,
		    size_t n)
{
	char cmd[1024];
	int fd;

	snprintf(cmd, sizeof(cmd), "cp --sparse=always %s %s", from, to);
	assert_int_equal(system(cmd), 0);
	fd = open(to, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	if (size >= 0)
		assert_int_equal(ftruncate(fd, size), 0);
	if (bytes)
		assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

static void test_bad_snapshot_files(void **state)
{
	char snap[300], bad[300], live[8192], args[1024];
	uint64_t mem_off;
	uint32_t version = 2;
	uint8_t flip = 0x5a;
	struct stat st;
	int fd;

	(void)state;
	snprintf(snap, sizeof(snap), "%s/good.snap", dir);
	snprintf(bad, sizeof(bad), "%s/bad.snap", dir);
	make_snapper_snapshot(snap, live, sizeof(live));
	assert_int_equal(stat(snap, &st), 0);
	fd = open(snap, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pread(fd, &mem_off, 8, 56), 8); /* snapfile_header.mem_off */
	close(fd);

	const struct {
		off_t off;
		long size;
		const void *bytes;
		size_t n;
		const char *msg;
	} cases[] = {
		{0, 0, NULL, 0, "bad.snap"},
		{0, 1000, NULL, 0, "bad.snap"},
		{0, (long)st.st_size / 2, NULL, 0, "truncated"},
		{0, (long)st.st_size - 1, NULL, 0, "truncated"},
		{0, -1, "NOTASNAP", 8, "bad magic"},
		{8, -1, &version, 4, "version 2"},
		{(off_t)mem_off + (16 << 20) + 100, -1, &flip, 1, "fails its CRC"},
		{(off_t)st.st_size - 100, -1, &flip, 1, "CRC"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;

		corrupt(snap, bad, cases[i].off, cases[i].size, cases[i].bytes, cases[i].n);
		snprintf(args, sizeof(args), "run --restore %s", bad);
		run(args, &r);
		if (r.status != 1 || !strstr(r.err, cases[i].msg) || !strstr(r.err, "--restore"))
			fail_msg("case %zu: status %d, stderr %s (want \"%s\")", i, r.status, r.err,
				 cases[i].msg);
		assert_string_equal(r.out, ""); /* nothing ran */
	}
}

static void make_inputs(const char *in, bool with_crash)
{
	char path[600];

	mkdir(in, 0755);
	snprintf(path, sizeof(path), "%s/a-write", in);
	write_file(path, "W\x05\x02hello", 9);
	snprintf(path, sizeof(path), "%s/b-near-miss", in);
	write_file(path, "C\x04" "BUG?", 6);
	snprintf(path, sizeof(path), "%s/c-hang", in);
	write_file(path, "H\x00", 2);
	snprintf(path, sizeof(path), "%s/d-empty", in);
	write_file(path, "", 0);
	snprintf(path, sizeof(path), "%s/e-dirty", in);
	write_file(path, "D\x02\x40\x00", 4);
	if (with_crash) {
		snprintf(path, sizeof(path), "%s/f-crash", in);
		write_file(path, "W\x02\x01xC\x04" "BUG!", 10);
	}
}

static void test_fuzz_command(void **state)
{
	char in[300], crashes[300], args[1024], path[600], buf[64];
	struct result r;

	(void)state;
	snprintf(in, sizeof(in), "%s/inputs", dir);
	snprintf(crashes, sizeof(crashes), "%s/crashes", dir);
	make_inputs(in, true);
	snprintf(args, sizeof(args), "fuzz --guest fuzzme --inputs %s --crashes %s --timeout 2000",
		 in, crashes);
	run(args, &r);
	if (r.status != 3)
		fail_msg("vmm %s: status %d\n%s%s", args, r.status, r.out, r.err);
	assert_non_null(strstr(r.out, "fuzz: 6 inputs"));
	assert_non_null(strstr(r.out, "crashes 1; timeouts 1; exits 0"));
	assert_non_null(strstr(r.err, "crash: f-crash: guest crash on vCPU 0: #PF"));
	assert_null(strstr(r.err, "b-near-miss"));
	snprintf(path, sizeof(path), "%s/f-crash", crashes);
	slurp(path, buf, sizeof(buf));
	assert_memory_equal(buf, "W\x02\x01xC\x04" "BUG!", 10);
	snprintf(args, sizeof(args), "ls %s | wc -l | grep -qx 1", crashes);
	assert_int_equal(system(args), 0);

	snprintf(in, sizeof(in), "%s/inputs-clean", dir);
	make_inputs(in, false);
	/* A FIFO among the inputs is skipped with a message, never waited on. */
	snprintf(path, sizeof(path), "%s/z-fifo", in);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(args, sizeof(args), "fuzz --guest fuzzme --inputs %s --timeout 2000", in);
	run(args, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "crashes 0; timeouts 1"));
	assert_non_null(strstr(r.err, "z-fifo: not a regular file: skipped"));
	unlink(path);

	snprintf(args, sizeof(args), "fuzz --guest fuzzme --inputs %s/nonexistent", dir);
	run(args, &r);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "No such file or directory"));
	assert_string_equal(r.out, "");

	snprintf(args, sizeof(args), "fuzz --guest hello --inputs %s", in);
	run(args, &r);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "stopped before its snapshot point"));
}

static void test_fuzz_usage(void **state)
{
	static const struct {
		const char *args, *msg;
	} cases[] = {
		{"fuzz", "--guest is required"},
		{"fuzz --guest fuzzme", "--inputs is required"},
		{"fuzz --guest fuzzme --inputs x --timeout 0", "--timeout: not a number of"},
		{"fuzz --guest fuzzme --inputs x --mem 3M", "--mem: less than the 8M minimum"},
		{"fuzz --guest fuzzme --inputs x stray", "unexpected argument"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;

		run(cases[i].args, &r);
		if (r.status != 2 || !strstr(r.err, cases[i].msg) || !strstr(r.err, "usage: vmm fuzz"))
			fail_msg("vmm %s: status %d, stderr: %s", cases[i].args, r.status, r.err);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_session),
		cmocka_unit_test(test_quit_then_reset),
		cmocka_unit_test(test_snapshot_errors),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_bad_snapshot_files),
		cmocka_unit_test(test_fuzz_command),
		cmocka_unit_test(test_fuzz_usage),
	};
	char cmd[400];
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: test-control VMM-BINARY\n");
		return 1;
	}
	vmm_bin = argv[1];
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "test-control: SKIPPED: /dev/kvm is not usable here (%s); these "
			"tests need real KVM\n", strerror(errno));
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "test-control: could not remove %s\n", dir);
	return ret;
}
