// SPDX-License-Identifier: MIT
/*
 * test-cli: the vmm binary's command line, suite vmm: exit statuses and
 * messages for good and bad input. The binary's path is argv[1].
 */
#include <elf.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli-util.h"

static const char *hello_elf; /* the built hello guest, to corrupt */

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

static bool have_kvm(void);

static void test_doctor(void **state)
{
	struct result r;

	run("doctor", &r);
	print_message("%s", r.out);
	assert_non_null(strstr(r.out, "userfaultfd"));
	assert_non_null(strstr(r.out, "io_uring"));
	assert_non_null(strstr(r.out, "vm.max_map_count"));
	if (!have_kvm()) {
		/* Without KVM the kvm check must fail, say so, and fail the command. */
		assert_int_equal(r.status, 1);
		assert_non_null(strstr(r.out, "FAIL  kvm"));
		assert_non_null(strstr(r.out, "1 required check failed"));
		skip();
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "doctor: all required checks passed"));
}

static void test_run_usage_errors(void **state)
{
	static const struct {
		const char *args, *msg;
	} cases[] = {
		{"run", "--guest (or --restore) is required"},
		{"run --guest", "option needs a value '--guest'"},
		{"run --guest hello --mem 0", "--mem: size is zero '0'"},
		{"run --guest hello --mem 64X", "--mem: not a size '64X'"},
		{"run --guest hello --mem 99999999999999999999", "--mem: not a size"},
		{"run --guest hello --mem 5M", "--mem: less than the 8M minimum '5M'"},
		{"run --guest hello --mem 4G", "--mem: more than the 3G maximum '4G'"},
		{"run --guest hello --mem 9M", "--mem: not a multiple of 2M '9M'"},
		{"run --guest hello --cpus 0", "--cpus: not a vCPU count from 1 to 64 '0'"},
		{"run --guest hello --vm-pool 65", "--vm-pool: not a number of VMs from 0 to 64 '65'"},
		{"run --guest hello --vm-pool -1", "--vm-pool: not a number of VMs from 0 to 64 '-1'"},
		{"run --guest hello --cpus 65", "--cpus: not a vCPU count"},
		{"run --guest hello --cpus two", "--cpus: not a vCPU count"},
		{"run --guest hello --cpus ' 2'", "--cpus: not a vCPU count"},
		{"run --guest hello --cpus +2", "--cpus: not a vCPU count"},
		{"run --guest hello --timeout -1", "--timeout: not a positive number"},
		{"run --guest hello --bogus", "unknown option '--bogus'"},
		{"run --guest hello extra", "unexpected argument (guest arguments go after --) 'extra'"},
		{"run --restore x.snap --guest hello", "--restore resumes a snapshot: no --guest"},
		{"run --restore x.snap --mem 64M", "no --mem or --cpus with it"},
		{"run --restore x.snap -- 1", "--restore resumes a snapshot: no guest arguments"},
		{"run --guest hello --api", "option needs a value '--api'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;

		run(cases[i].args, &r);
		if (r.status != 2 || !strstr(r.err, cases[i].msg) || lines(r.err) != 2)
			fail_msg("vmm %s: status %d, stderr: %s", cases[i].args, r.status, r.err);
		assert_non_null(strstr(r.err, "usage: vmm run"));
		assert_string_equal(r.out, "");
	}
}

static bool have_kvm(void)
{
	if (access("/dev/kvm", R_OK | W_OK) == 0)
		return true;
	fprintf(stderr, "test-cli: SKIPPING guest runs: /dev/kvm is absent\n");
	return false;
}

static void test_run_guests(void **state)
{
	static const struct {
		const char *args;
		int status;
		const char *out, *err;
	} cases[] = {
		{"run --guest hello", 0, "Hello from a ring-3 KVM guest: 64 MiB, 1 vCPU(s).", ""},
		{"run --guest hello --mem 32M --cpus 2 -- 42", 42, "32 MiB, 2 vCPU(s)", ""},
		{"run --guest hello -- 150", 100, "Hello", "guest exit status 150 is above 99"},
		{"run --guest crash -- pf", 101, "about to crash", "#PF page fault (vector 14"},
		{"run --guest crash -- ud", 101, "about to crash", "#UD invalid opcode"},
		{"run --guest crash -- triple", 102, "about to crash", "triple fault"},
		{"run --guest crash -- mmio", 103, "about to crash", "unassigned address 0xd0100000"},
		{"run --guest spin --timeout 0.2 -- 100000000000", 104, "spin:", "timed out"},
		{"run --guest memwrite --stats -- 4", 0, "checksum 0x", "stats: boot"},
		{"run --guest nope", 1, "", "no such built-in guest or file"},
		{"run --guest /etc/passwd", 1, "", "not an ELF file (bad magic)"},
		{"run --guest /bin/sh", 1, "", "dynamically linked (PT_INTERP)"},
		{"run --guest hello --serial /nonexistent/dir/x", 1, "", "--serial '/nonexistent"},
		{"run --guest hello --serial /dev/full", 1, "",
		 "console output to '/dev/full' was lost: No space left on device"},
		{"run --guest cloner --stats --vm-pool 2 -- 1 2", 0, "[clone 2] cloner: clone 2 ok",
		 "vm pool: "},
		{"run --guest cloner --stats --vm-pool 0 -- 1 2", 0, "[clone 2] cloner: clone 2 ok",
		 "vmm: clone 2 of VM 0"},
		{"run --guest cloner --clone-serial /nonexistent/dir/c -- 1 1", 13, "",
		 "--clone-serial '/nonexistent/dir/c.1': No such file or directory"},
	};

	if (!have_kvm())
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;

		run(cases[i].args, &r);
		if (r.status != cases[i].status || !strstr(r.out, cases[i].out) ||
		    (cases[i].err[0] ? !strstr(r.err, cases[i].err) : r.err[0] != 0))
			fail_msg("vmm %s: status %d (want %d)\nstdout: %s\nstderr: %s", cases[i].args,
				 r.status, cases[i].status, r.out, r.err);
	}
}

/*
 * Every stop is served exactly once whatever the other vCPUs do: 4 vCPUs
 * stop the VM at the same instant (all asking for a clone; or requests from
 * three while the fourth exits, crashes or makes an unhandled exit), many
 * times over. A lost request shows as a clone number missing or repeated, a
 * lost exit as the --timeout status; a VM whose vCPUs all park ends at once.
 */
static void test_run_racing_stops(void **state)
{
	static const struct {
		const char *args;
		int status;
		const char *out, *err;
		unsigned reps;
	} cases[] = {
		{"--cpus 4 -- clone", 0, "racer: 4 clones, each vCPU its own", "", 10},
		{"--cpus 4 -- exit", 7, "", "", 15},
		{"--cpus 4 -- exit 0", 7, "", "", 15},
		{"--cpus 4 -- crash", 101, "", "#UD invalid opcode", 5},
		{"--cpus 4 -- mmio", 103, "", "unassigned address 0xd0100000", 5},
		{"--cpus 4 -- park", 105, "", "every vCPU parked itself", 3},
		{"-- park", 105, "", "every vCPU parked itself", 1},
	};
	char args[256];

	if (!have_kvm())
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (unsigned rep = 0; rep < cases[i].reps; rep++) {
			struct result r;

			snprintf(args, sizeof(args), "run --guest racer --timeout 60 %s",
				 cases[i].args);
			run(args, &r);
			if (r.status != cases[i].status || !strstr(r.out, cases[i].out) ||
			    (cases[i].err[0] && !strstr(r.err, cases[i].err)))
				fail_msg("vmm %s (run %u): status %d (want %d)\nstdout: %s\n"
					 "stderr: %s", args, rep, r.status, cases[i].status, r.out,
					 r.err);
		}
	}
}

/* A FIFO where a file is expected is refused at once, before any VM exists. */
static void test_run_special_files(void **state)
{
	char fifo[64] = "/tmp/vmm-cli-fifo-XXXXXX", args[256];
	struct result r;

	assert_non_null(mkdtemp(fifo));
	strcat(fifo, "/f");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(args, sizeof(args), "run --guest %s", fifo);
	run(args, &r);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not a regular file"));
	snprintf(args, sizeof(args), "run --restore %s", fifo);
	run(args, &r);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not a regular file"));
	unlink(fifo);
	*strrchr(fifo, '/') = '\0';
	rmdir(fifo);
}

/*
 * --mem over the memory cgroup's limit is a usage error, not an OOM kill:
 * run vmm in a child cgroup limited to 32 MiB (v1 or v2, whichever this
 * host has; skipped, loudly, where a child cgroup cannot be made).
 */
static void test_run_mem_cgroup(void **state)
{
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "set -e; cg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup); "
		 "if [ -n \"$cg\" ]; then d=/sys/fs/cgroup/memory$cg/vmm-test-$$; "
		 "f=memory.limit_in_bytes; else cg=$(awk -F: '$1 == 0 {print $3}' /proc/self/cgroup); "
		 "d=/sys/fs/cgroup$cg/vmm-test-$$; f=memory.max; fi; "
		 "mkdir \"$d\" 2>/dev/null || exit 77; "
		 "echo 33554432 >\"$d/$f\" 2>/dev/null || { rmdir \"$d\"; exit 77; }; "
		 "set +e; sh -c \"echo \\$\\$ >'$d/cgroup.procs' || exit 77; exec %s run --guest hello "
		 "--mem 64M\" >/dev/null 2>/tmp/vmm-cgroup-err-$$; rc=$?; rmdir \"$d\"; "
		 "[ $rc = 77 ] && exit 77; [ $rc = 2 ] && grep -q \"memory cgroup allows '64M'\" "
		 "/tmp/vmm-cgroup-err-$$; rc=$?; rm -f /tmp/vmm-cgroup-err-$$; exit $rc",
		 vmm_bin);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		fprintf(stderr, "test-cli: SKIPPING the cgroup --mem case: no child memory cgroup "
			"can be made here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_run_serial_file(void **state)
{
	char path[] = "/tmp/vmm-serial-XXXXXX", args[256], buf[512];
	struct result r;
	int fd = mkstemp(path);

	if (!have_kvm())
		skip();
	assert_true(fd >= 0);
	snprintf(args, sizeof(args), "run --guest hello --serial %s", path);
	run(args, &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "Hello from a ring-3 KVM guest: 64 MiB, 1 vCPU(s).\n"
				 "hello: hypercalls ok\n");
	unlink(path);
	close(fd);
}

/* Copy the hello ELF, let @corrupt change it, run it; expect status 1 and @msg. */
static void run_corrupted(void (*corrupt)(uint8_t *img, size_t *len), const char *msg)
{
	static uint8_t img[65536];
	char path[] = "/tmp/vmm-elf-XXXXXX", args[256];
	struct result r;
	FILE *f = fopen(hello_elf, "rb");
	size_t len;
	int fd;

	assert_non_null(f);
	len = fread(img, 1, sizeof(img), f);
	fclose(f);
	assert_true(len > sizeof(Elf64_Ehdr));
	corrupt(img, &len);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, img, len) == (ssize_t)len);
	close(fd);
	snprintf(args, sizeof(args), "run --guest %s", path);
	run(args, &r);
	unlink(path);
	if (r.status != 1 || !strstr(r.err, msg) || lines(r.err) != 1)
		fail_msg("expected '%s', got status %d: %s", msg, r.status, r.err);
}

static Elf64_Phdr *phdr(uint8_t *img, unsigned i)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;

	return (Elf64_Phdr *)(img + eh->e_phoff) + i;
}

static void truncate_header(uint8_t *img, size_t *len) { *len = 40; }
static void truncate_segments(uint8_t *img, size_t *len) { *len = 0x1010; }
static void wrong_class(uint8_t *img, size_t *len) { img[EI_CLASS] = ELFCLASS32; }
static void wrong_machine(uint8_t *img, size_t *len) { ((Elf64_Ehdr *)img)->e_machine = EM_AARCH64; }
static void wrong_type(uint8_t *img, size_t *len) { ((Elf64_Ehdr *)img)->e_type = ET_DYN; }
static void phdrs_past_end(uint8_t *img, size_t *len) { ((Elf64_Ehdr *)img)->e_phoff = *len - 8; }
static void entry_outside(uint8_t *img, size_t *len) { ((Elf64_Ehdr *)img)->e_entry = 0x10; }

static void segment_out_of_range(uint8_t *img, size_t *len)
{
	phdr(img, 1)->p_vaddr = 0x7ff00000000ULL;
}

static void segment_below_reserved(uint8_t *img, size_t *len)
{
	phdr(img, 0)->p_vaddr = 0x1000;
}

static void segments_overlap(uint8_t *img, size_t *len)
{
	phdr(img, 2)->p_vaddr = phdr(img, 1)->p_vaddr + 0x10;
}

static void filesz_over_memsz(uint8_t *img, size_t *len)
{
	phdr(img, 1)->p_memsz = phdr(img, 1)->p_filesz - 1;
}

static void huge_memsz(uint8_t *img, size_t *len)
{
	phdr(img, 1)->p_memsz = ~0ULL - 0x1000;
}

static void test_run_bad_elf(void **state)
{
	if (!have_kvm())
		skip();
	run_corrupted(truncate_header, "truncated ELF header");
	run_corrupted(truncate_segments, "past the end of the file");
	run_corrupted(wrong_class, "not a 64-bit ELF");
	run_corrupted(wrong_machine, "not an x86-64 ELF");
	run_corrupted(wrong_type, "not a static executable");
	run_corrupted(phdrs_past_end, "program headers past the end of the file");
	run_corrupted(entry_outside, "entry point 0x10 is not in an executable segment");
	run_corrupted(segment_out_of_range, "segment 1: [0x7ff00000000");
	run_corrupted(segment_below_reserved, "outside guest memory");
	run_corrupted(segments_overlap, "segments 1 and 2 overlap");
	run_corrupted(filesz_over_memsz, "file size larger than memory size");
	run_corrupted(huge_memsz, "outside guest memory");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_doctor),
		cmocka_unit_test(test_run_usage_errors),
		cmocka_unit_test(test_run_guests),
		cmocka_unit_test(test_run_racing_stops),
		cmocka_unit_test(test_run_special_files),
		cmocka_unit_test(test_run_mem_cgroup),
		cmocka_unit_test(test_run_serial_file),
		cmocka_unit_test(test_run_bad_elf),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: test-cli PATH-TO-VMM PATH-TO-HELLO-ELF\n");
		return 2;
	}
	vmm_bin = argv[1];
	hello_elf = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
