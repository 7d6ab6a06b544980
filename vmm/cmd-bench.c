// SPDX-License-Identifier: MIT
/* cmd-bench.c: `vmm bench vm [--json] [--quick]`. */
#include <stdbool.h>
#include <string.h>

#include "bench-vm.h"
#include "cmd.h"

static const char bench_usage[] = "usage: vmm bench vm [--json] [--quick]";

static int bench_usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in("vmm bench", bench_usage, what, arg);
}

int cmd_bench(int argc, char **argv)
{
	struct bench_out out = {.f = stdout};
	bool quick = false;
	int err;

	if (argc < 2)
		return bench_usage_error("which benchmark? (vm)", NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("%s\n\n  vm       VM creation, ring-3 loop speed, exit round trips\n"
		       "  --json   one JSON document (DESIGN.md \"Benchmarks\")\n"
		       "  --quick  fewer and shorter runs\n", bench_usage);
		return 0;
	}
	if (strcmp(argv[1], "vm"))
		return bench_usage_error("unknown benchmark", argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			out.json = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else
			return bench_usage_error("unknown option", argv[i]);
	}
	err = bench_vm__run(&out, quick);
	if (err) {
		fprintf(stderr, "vmm bench vm: a benchmark guest failed: %s\n", strerror(-err));
		return EXIT_FAILED;
	}
	return 0;
}
