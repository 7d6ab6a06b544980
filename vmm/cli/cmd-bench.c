// SPDX-License-Identifier: MIT
/* cmd-bench.c: `vmm bench NAME [--json] [--quick]`. */
#include <stdbool.h>
#include <string.h>

#include "bench-blk.h"
#include "bench-clone.h"
#include "bench-reset.h"
#include "bench-snapshot.h"
#include "bench-syscall.h"
#include "bench-vm.h"
#include "cmd.h"

static const char bench_usage[] =
	"usage: vmm bench vm|clone|reset|snapshot|blk|syscall [--json] [--quick]";

static const struct bench {
	const char *name, *what;
	int (*run)(struct bench_out *o, bool quick);
} benches[] = {
	{"vm", "VM creation, ring-3 loop speed, exit round trips", bench_vm__run},
	{"clone", "live clones of 64M-1G populated guests vs fork()", bench_clone__run},
	{"reset", "fuzzing resets vs KVM dirty log + memcpy", bench_reset__run},
	{"snapshot", "live snapshot save/restore, guest slowdown while saving",
	 bench_snapshot__run},
	{"blk", "virtio-blk: io_uring zero copy vs a pread/pwrite bounce buffer", bench_blk__run},
	{"syscall", "a static Linux program's system calls and compute, VM vs native",
	 bench_syscall__run},
	{NULL, NULL, NULL},
};

static int bench_usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in("vmm bench", bench_usage, what, arg);
}

static void bench_help(void)
{
	printf("%s\n\n", bench_usage);
	for (const struct bench *b = benches; b->name; b++)
		printf("  %-9s%s\n", b->name, b->what);
	printf("  --json   one JSON document (DESIGN.md \"Benchmarks\")\n"
	       "  --quick  fewer and shorter runs\n");
}

int cmd_bench(int argc, char **argv)
{
	struct bench_out out = {.f = stdout};
	const struct bench *b = benches;
	bool quick = false;
	int err;

	if (argc < 2)
		return bench_usage_error("which benchmark? (vm, clone, reset, snapshot, blk, syscall)", NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		bench_help();
		return 0;
	}
	while (b->name && strcmp(b->name, argv[1]))
		b++;
	if (!b->name)
		return bench_usage_error("unknown benchmark", argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			out.json = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else
			return bench_usage_error("unknown option", argv[i]);
	}
	err = b->run(&out, quick);
	if (err) {
		fprintf(stderr, "vmm bench %s: failed: %s\n", b->name, strerror(-err));
		return EXIT_FAILED;
	}
	return 0;
}
