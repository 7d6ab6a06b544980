// SPDX-License-Identifier: MIT
/*
 * cmd-run.c: `vmm run --guest NAME|PATH [--mem SIZE] [--cpus N]
 *                    [--serial FILE] [--timeout SECONDS] [--stats]
 *                    [-- GUEST ARGS...]`
 *
 * Parses and checks everything before any VM exists, boots the guest, waits
 * for it to stop and turns the stop into an exit status (cmd.h) and at most
 * one message on stderr (plus registers for a crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "builtin-guests.h"
#include "cmd.h"
#include "size.h"
#include "vm.h"

#define DEFAULT_MEM (64ULL << 20)
#define MIN_MEM (8ULL << 20)
#define MAX_IMAGE (256ULL << 20)

struct run_opts {
	const char *guest;
	uint64_t mem;
	unsigned cpus;
	const char *serial;
	double timeout_s;
	bool stats;
	char cmdline[ABI_CMDLINE_MAX];
};

struct image {
	const void *data;
	size_t size;
	void *owned;
};

static const char run_usage[] =
	"usage: vmm run --guest NAME|PATH [--mem SIZE] [--cpus N] [--serial FILE] "
	"[--timeout SECONDS] [--stats] [-- GUEST ARGS...]";

static int run_usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in("vmm run", run_usage, what, arg);
}

static void run_help(void)
{
	printf("%s\n\n"
	       "Boot a freestanding ring-3 guest (boot ABI: guest-images/README.md).\n\n"
	       "  --guest NAME|PATH  a built-in guest (", run_usage);
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		printf("%s%s", g->name, g[1].name ? ", " : "");
	printf(") or an ELF file\n"
	       "  --mem SIZE         guest memory, K/M/G suffixes (default 64M; 8M to 3G,\n"
	       "                     a multiple of 2M)\n"
	       "  --cpus N           vCPUs (default 1, at most %d)\n"
	       "  --serial FILE      console output to FILE instead of stdout\n"
	       "  --timeout SECONDS  stop the guest after this long (exit status %d)\n"
	       "  --stats            print run time, exits by kind and memory counters\n\n"
	       "Exit status: the guest's (0-99); %d the guest's status was above 99;\n"
	       "%d guest crash; %d triple fault; %d unhandled exit; %d timeout;\n"
	       "1 the VMM failed; 2 usage error.\n",
	       VM_MAX_CPUS, VMM_EXIT_TIMEOUT, VMM_EXIT_BAD_STATUS, VMM_EXIT_CRASH,
	       VMM_EXIT_TRIPLE_FAULT, VMM_EXIT_UNHANDLED, VMM_EXIT_TIMEOUT);
}

static int parse_mem(const char *arg, uint64_t *ret)
{
	uint64_t v;
	int err = size__parse(arg, &v);

	if (err)
		return run_usage_error("--mem: not a size", arg);
	if (v == 0)
		return run_usage_error("--mem: size is zero", arg);
	if (v < MIN_MEM)
		return run_usage_error("--mem: less than the 8M minimum", arg);
	if (v > ABI_MEM_MAX)
		return run_usage_error("--mem: more than the 3G maximum", arg);
	if (v % (2ULL << 20))
		return run_usage_error("--mem: not a multiple of 2M", arg);
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages > 0 && psz > 0 && v > (uint64_t)pages * (uint64_t)psz)
		return run_usage_error("--mem: more than this host's memory", arg);
	*ret = v;
	return 0;
}

static int parse_cpus(const char *arg, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v > VM_MAX_CPUS)
		return run_usage_error("--cpus: not a vCPU count from 1 to 64", arg);
	*ret = (unsigned)v;
	return 0;
}

static int parse_timeout(const char *arg, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0) || v > 1e6)
		return run_usage_error("--timeout: not a positive number of seconds", arg);
	*ret = v;
	return 0;
}

/* Join the guest's arguments with single spaces. */
static int join_args(int argc, char **argv, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (n + l + (i > 0) >= len)
			return run_usage_error("guest arguments too long (4095 bytes at most)", NULL);
		if (i > 0)
			out[n++] = ' ';
		memcpy(out + n, argv[i], l + 1);
		n += l;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{"guest", required_argument, NULL, 'g'}, {"mem", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'},	 {"serial", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'}, {"stats", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},	 {0, 0, 0, 0},
	};
	int opt, err = 0;

	*o = (struct run_opts){.mem = DEFAULT_MEM, .cpus = 1};
	opterr = 0;
	optind = 1;
	while (!err && (opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': o->guest = optarg; break;
		case 'm': err = parse_mem(optarg, &o->mem); break;
		case 'c': err = parse_cpus(optarg, &o->cpus); break;
		case 's': o->serial = optarg; break;
		case 't': err = parse_timeout(optarg, &o->timeout_s); break;
		case 'S': o->stats = true; break;
		case 'h': run_help(); return -1;
		case ':': return run_usage_error("option needs a value", argv[optind - 1]);
		default: return run_usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (err)
		return err;
	if (!o->guest)
		return run_usage_error("--guest is required", NULL);
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return run_usage_error("unexpected argument (guest arguments go after --)",
				       argv[optind]);
	return join_args(argc - optind, argv + optind, o->cmdline, sizeof(o->cmdline));
}

/* A built-in guest by name, else an ELF file read whole. 0 or EXIT_FAILED. */
static int load_image(const char *name, struct image *img)
{
	struct stat st;
	int fd;

	*img = (struct image){0};
	for (const struct builtin_guest *g = builtin_guests; g->name; g++) {
		if (!strcmp(g->name, name)) {
			img->data = g->data;
			img->size = g->size;
			return 0;
		}
	}
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmm run: guest '%s': %s (built-in guests:", name,
			errno == ENOENT ? "no such built-in guest or file" : strerror(errno));
		for (const struct builtin_guest *g = builtin_guests; g->name; g++)
			fprintf(stderr, " %s", g->name);
		fprintf(stderr, ")\n");
		return EXIT_FAILED;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_IMAGE) {
		fprintf(stderr, "vmm run: guest '%s': not a regular file of at most 256 MiB\n", name);
		close(fd);
		return EXIT_FAILED;
	}
	img->owned = malloc((size_t)st.st_size + 1);
	size_t got = 0;

	while (img->owned && got < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)img->owned + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!img->owned || got != (size_t)st.st_size) {
		fprintf(stderr, "vmm run: guest '%s': could not read it\n", name);
		free(img->owned);
		img->owned = NULL;
		return EXIT_FAILED;
	}
	img->data = img->owned;
	img->size = got;
	return 0;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static void print_stats(struct vm *vm, double boot_ms)
{
	struct vm_stats s;
	struct mm_stats m;

	vm__stats(vm, &s);
	mm_pool_stats(vm__pool(vm), &m);
	fprintf(stderr, "stats: boot %.3f ms (VM created, guest loaded); run %.3f ms; exits: mmio %llu, pio %llu, hypercall %llu, "
		"interrupted %llu, other %llu; serial %llu bytes\n", boot_ms, (double)s.run_ns / 1e6,
		(unsigned long long)s.exits[VM_EXITS_MMIO], (unsigned long long)s.exits[VM_EXITS_PIO],
		(unsigned long long)s.exits[VM_EXITS_HCALL], (unsigned long long)s.exits[VM_EXITS_INTR],
		(unsigned long long)s.exits[VM_EXITS_OTHER], (unsigned long long)s.serial_bytes);
	fprintf(stderr, "stats: mm: faults %llu, reuses %llu, copies %llu, clones %llu, resets %llu, "
		"pins %llu, frames in use %llu, host memory %llu KiB, VMAs %llu\n",
		(unsigned long long)m.faults, (unsigned long long)m.reuses,
		(unsigned long long)m.copies, (unsigned long long)m.clones,
		(unsigned long long)m.resets, (unsigned long long)m.pins,
		(unsigned long long)m.frames_in_use, (unsigned long long)(m.host_bytes >> 10),
		(unsigned long long)m.vmas);
}

static int stop_status(const struct vm_stop *s)
{
	switch (s->reason) {
	case VM_STOP_EXIT:
		if (s->status >= 0 && s->status <= ABI_EXIT_STATUS_MAX)
			return s->status;
		fprintf(stderr, "vmm: guest exit status %u is above %d\n", (unsigned)s->status,
			ABI_EXIT_STATUS_MAX);
		return VMM_EXIT_BAD_STATUS;
	case VM_STOP_CRASH:
		vm__print_stop(stderr, s);
		return VMM_EXIT_CRASH;
	case VM_STOP_TRIPLE_FAULT:
		vm__print_stop(stderr, s);
		return VMM_EXIT_TRIPLE_FAULT;
	case VM_STOP_UNHANDLED:
		vm__print_stop(stderr, s);
		return VMM_EXIT_UNHANDLED;
	default:
		vm__print_stop(stderr, s);
		return EXIT_FAILED;
	}
}

static int boot(const struct run_opts *o, const struct image *img, int serial_fd)
{
	struct vm_config cfg = {.mem_size = o->mem, .nr_cpus = o->cpus, .serial_fd = serial_fd};
	struct vm_stop stop;
	struct vm *vm;
	char msg[200] = "";
	double t0 = now_ms(), boot_ms;
	int err, status;

	err = vm__create(&cfg, &vm);
	if (err) {
		fprintf(stderr, "vmm run: creating the VM: %s\n", strerror(-err));
		return EXIT_FAILED;
	}
	err = vm__load_elf(vm, img->data, img->size, o->cmdline, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "vmm run: guest '%s': %s\n", o->guest, msg[0] ? msg : strerror(-err));
		vm__destroy(vm);
		return EXIT_FAILED;
	}
	boot_ms = now_ms() - t0;
	err = vm__start(vm);
	if (!err)
		err = vm__wait(vm, o->timeout_s > 0 ? (int)(o->timeout_s * 1000) : -1, &stop);
	if (err == -ETIMEDOUT) {
		vm__stop(vm);
		fprintf(stderr, "vmm: guest timed out after %g s\n", o->timeout_s);
		status = VMM_EXIT_TIMEOUT;
	} else if (err) {
		fprintf(stderr, "vmm run: starting the VM: %s\n", strerror(-err));
		status = EXIT_FAILED;
	} else {
		status = stop_status(&stop);
	}
	if (o->stats)
		print_stats(vm, boot_ms);
	vm__destroy(vm);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct image img;
	int serial_fd = STDOUT_FILENO, status;

	status = parse_opts(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	status = load_image(o.guest, &img);
	if (status)
		return status;
	if (o.serial) {
		serial_fd = open(o.serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (serial_fd < 0) {
			fprintf(stderr, "vmm run: --serial '%s': %s\n", o.serial, strerror(errno));
			free(img.owned);
			return EXIT_FAILED;
		}
	}
	fflush(stdout);
	status = boot(&o, &img, serial_fd);
	if (o.serial)
		close(serial_fd);
	free(img.owned);
	return status;
}
