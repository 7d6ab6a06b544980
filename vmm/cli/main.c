// SPDX-License-Identifier: MIT
/*
 * main.c: the `vmm` command line. Thin: it parses, dispatches and reports;
 * the work lives in the vmm folders below.
 *
 * vmm/cli owns the commands (cmd-*.c), their option parsing (cmd-opts.c,
 * size.c) and the host checks (doctor.c). It is the top: it may call every
 * vmm folder, mm and devices; nothing calls it.
 *
 * Exit statuses: cmd.h.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "doctor.h"

static const char vmm_usage_line[] = "usage: vmm [--help] [--version] <command> [<args>]";

static void usage(FILE *out)
{
	fprintf(out, "%s\n\n"
		     "A KVM virtual machine monitor with copy-on-write guest memory.\n\n"
		     "Commands:\n"
		     "  run        boot a guest: vmm run --guest NAME|PATH [options] [-- ARGS]\n"
		     "             (vmm run --help for the options)\n"
		     "  fuzz       run inputs against a guest from its snapshot point:\n"
		     "             vmm fuzz --guest NAME|PATH --inputs DIR [options]\n"
		     "  afl        a fork server for AFL++'s afl-fuzz over a guest reset per run:\n"
		     "             afl-fuzz -i IN -o OUT -- vmm afl --guest NAME|PATH [-- @@]\n"
		     "  ctl        send requests to a running VMM: vmm ctl SOCKET REQUEST...\n"
		     "  bench      benchmarks: vmm bench vm|clone|reset|snapshot|blk|syscall [--json] [--quick]\n"
		     "  doctor     check what this host offers the VMM (KVM, userfaultfd,\n"
		     "             io_uring, mapping limits, native or emulated ring 0)\n"
		     "  help       show this help\n\n"
		     "Options:\n"
		     "  -h, --help     show this help\n"
		     "  -V, --version  show the version\n",
		vmm_usage_line);
}

static int cmd_usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in("vmm", vmm_usage_line, what, arg);
}

static int cmd_doctor(int argc, char **argv)
{
	struct doctor_check checks[DOCTOR_MAX_CHECKS];
	unsigned n;

	if (argc > 1)
		return cmd_usage_error("doctor: unexpected argument", argv[1]);
	n = doctor__run_checks(checks);
	return doctor__report(stdout, checks, n) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd)
		return cmd_usage_error("no command given", NULL);
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("vmm %s\n", VMM_VERSION);
		return 0;
	}
	if (cmd[0] == '-')
		return cmd_usage_error("unknown option", cmd);
	if (!strcmp(cmd, "doctor"))
		return cmd_doctor(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "bench"))
		return cmd_bench(argc - 1, argv + 1);
	if (!strcmp(cmd, "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(cmd, "afl"))
		return cmd_afl(argc - 1, argv + 1);
	if (!strcmp(cmd, "fuzz"))
		return cmd_fuzz(argc - 1, argv + 1);
	return cmd_usage_error("unknown command", cmd);
}
