// SPDX-License-Identifier: MIT
/*
 * test-cli: the vmm binary's command line, suite vmm: exit statuses and
 * messages for good and bad input. The binary's path is argv[1].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static const char *vmm_bin;

struct result {
	int status;
	char out[8192];
	char err[8192];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void run(const char *args, struct result *r)
{
	char cmd[1024];
	char out[] = "/tmp/vmm-cli-out-XXXXXX", err[] = "/tmp/vmm-cli-err-XXXXXX";
	int fo = mkstemp(out), fe = mkstemp(err);

	assert_true(fo >= 0 && fe >= 0);
	snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s </dev/null", vmm_bin, args, out, err);
	int st = system(cmd);

	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	unlink(out);
	unlink(err);
	close(fo);
	close(fe);
}

static unsigned lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_version_help(void **state)
{
	struct result r;

	run("--version", &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "vmm "));
	run("--help", &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "doctor"));
	assert_string_equal(r.err, "");
	run("help", &r);
	assert_int_equal(r.status, 0);
}

static void test_usage_errors(void **state)
{
	static const struct {
		const char *args, *msg;
	} cases[] = {
		{"", "no command given"},
		{"frobnicate", "unknown command 'frobnicate'"},
		{"--frobnicate", "unknown option '--frobnicate'"},
		{"doctor --frobnicate", "unexpected argument '--frobnicate'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;

		run(cases[i].args, &r);
		assert_int_equal(r.status, 2);
		assert_string_equal(r.out, "");
		assert_non_null(strstr(r.err, cases[i].msg));
		/* One line of error, one of usage. */
		assert_int_equal(lines(r.err), 2);
		assert_non_null(strstr(r.err, "usage: vmm"));
	}
}

static void test_doctor(void **state)
{
	struct result r;

	run("doctor", &r);
	print_message("%s", r.out);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "doctor: all required checks passed"));
	assert_non_null(strstr(r.out, "userfaultfd"));
	assert_non_null(strstr(r.out, "io_uring"));
	assert_non_null(strstr(r.out, "vm.max_map_count"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_doctor),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test-cli PATH-TO-VMM\n");
		return 2;
	}
	vmm_bin = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
