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
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "builtin-guests.h"
#include "cmd.h"
#include "cmd-kernel.h"
#include "cmd-opts.h"
#include "dev-blk.h"
#include "dev-setup.h"
#include "api.h"
#include "group.h"
#include "linux-vm.h"
#include "snapshot.h"
#include "vm.h"

#define DEFAULT_MEM (64ULL << 20)
#define MAX_ENV 256

struct run_opts {
	const char *guest;
	uint64_t mem;
	unsigned cpus;
	const char *serial;
	double timeout_s;
	bool stats, dma_test;
	const char *api, *clone_serial, *snapshot_to, *restore;
	unsigned vm_pool;
	bool mem_set, cpus_set;
	bool disk_set;
	struct virtio_blk_opts disk;
	char disk_path[4096];
	char cmdline[ABI_CMDLINE_MAX];
	/* Linux programs: argv after --, --env, --file. */
	int gargc;
	char **gargv;
	char *env[MAX_ENV + 1];
	unsigned nr_env;
	const char *grants[LINUX_MAX_FILES];
	unsigned nr_grants;
	struct cmd_kernel linux_boot; /* --kernel, --initrd, --append */
};

static const char run_usage[] =
	"usage: vmm run --guest NAME|PATH|--restore FILE|--kernel BZIMAGE [--initrd FILE] "
	"[--append CMDLINE] [--mem SIZE] [--cpus N] [--serial FILE] "
	"[--clone-serial PREFIX] [--vm-pool N] [--api SOCKET] [--snapshot-to FILE] [--timeout SECONDS] [--stats] "
	"[--dma-test] [--disk FILE[,ro][,fixed-buffers]] [--env K=V]... [--file HOST[:GUEST]]... "
	"[-- GUEST ARGS...]";

static const struct cmd_ctx run_cmd = {"vmm run", run_usage};

static int run_usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in(run_cmd.name, run_cmd.usage, what, arg);
}

static void run_help(void)
{
	printf("%s\n\n"
	       "Boot a freestanding ring-3 guest (boot ABI: guest-images/README.md), or run\n"
	       "a static x86-64 Linux program (README.md, \"Linux programs\").\n\n"
	       "  --guest NAME|PATH  a built-in guest (", run_usage);
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		printf("%s%s", g->name, g[1].name ? ", " : "");
	printf(") or an ELF file\n"
	       "  --mem SIZE         guest memory, K/M/G suffixes (default 64M; 8M to 3G,\n"
	       "                     a multiple of 2M)\n"
	       "  --cpus N           vCPUs (default 1, at most %d)\n"
	       "  --serial FILE      console output to FILE instead of stdout\n"
	       "  --restore FILE     resume a snapshot file instead of booting a guest\n"
	       "  --kernel BZIMAGE   boot a Linux kernel (64-bit boot protocol, ACPI; default\n"
	       "                     --mem 256M); power-off ends the run with status 0,\n"
	       "                     a reboot with %d\n"
	       "  --initrd FILE      its initramfs\n"
	       "  --append CMDLINE   its command line (default \"" CMD_KERNEL_DEFAULT_CMDLINE "\")\n"
	       "  --clone-serial PREFIX  clone N's console to PREFIX.N (default: the\n"
	       "                     console, each line tagged \"[clone N] \")\n"
	       "  --vm-pool N        keep N KVM VMs made ahead for clones (default %d, at\n"
	       "                     most %d; 0: none): a clone takes one instead of\n"
	       "                     creating its VM; a background thread makes them from\n"
	       "                     the run's first clone on\n"
	       "  --api SOCKET       serve control requests on a Unix socket (vmm ctl)\n"
	       "  --snapshot-to FILE where a guest's snapshot request (HC_SNAPSHOT) saves\n"
	       "  --timeout SECONDS  stop the guest after this long (exit status %d)\n"
	       "  --dma-test         add the DMA test device (the dmatest guest drives it)\n"
	       "  --disk FILE[,ro][,fixed-buffers]  a virtio-blk disk (virtio-mmio) on the raw\n"
	       "                     image FILE, io_uring with O_DIRECT into the guest's pages;\n"
	       "                     ro: read-only; fixed-buffers: guest RAM registered as\n"
	       "                     io_uring fixed buffers (all of it stays pinned)\n"
	       "  --env K=V          Linux programs: an environment variable (repeatable)\n"
	       "  --file HOST[:GUEST]  Linux programs: grant the host file HOST read-only,\n"
	       "                     as GUEST (default: HOST; relative paths are from /)\n"
	       "  --stats            print run time, exits by kind, memory counters and\n"
	       "                     each clone's and snapshot's timings\n\n"
	       "Exit status: the guest's (0-99; if 0, the first failing clone's); %d the guest's status was above 99;\n"
	       "%d guest crash; %d triple fault; %d unhandled exit; %d timeout;\n"
	       "%d every vCPU parked (HC_PARK), so none can run again;\n"
	       "1 the VMM failed; 2 usage error.\n",
	       VM_MAX_CPUS, VMM_EXIT_REBOOT, VM_POOL_DEFAULT, VM_POOL_MAX, VMM_EXIT_TIMEOUT, VMM_EXIT_BAD_STATUS, VMM_EXIT_CRASH,
	       VMM_EXIT_TRIPLE_FAULT, VMM_EXIT_UNHANDLED, VMM_EXIT_TIMEOUT, VMM_EXIT_PARKED);
}

static int parse_vm_pool(const char *arg, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || arg[0] < '0' || arg[0] > '9' || *end || v > VM_POOL_MAX) {
		char what[80];

		snprintf(what, sizeof(what), "--vm-pool: not a number of VMs from 0 to %d",
			 VM_POOL_MAX);
		return run_usage_error(what, arg);
	}
	*ret = (unsigned)v;
	return 0;
}

static int parse_disk(const char *arg, struct run_opts *o)
{
	char msg[4400], what[4500];

	if (o->disk_set)
		return run_usage_error("--disk: one disk at most", arg);
	if (dev_blk__parse(arg, &o->disk, o->disk_path, sizeof(o->disk_path), msg, sizeof(msg))) {
		snprintf(what, sizeof(what), "--disk: %s", msg);
		return run_usage_error(what, NULL);
	}
	o->disk_set = true;
	return 0;
}

/* --kernel's options: what goes with it and what does not. */
static int check_kernel_opts(struct run_opts *o, int argc)
{
	const struct cmd_kernel *k = &o->linux_boot;

	if (!k->kernel && (k->initrd || k->append))
		return run_usage_error("--initrd and --append go with --kernel", NULL);
	if (!k->kernel)
		return 0;
	if (o->guest || o->restore)
		return run_usage_error("--kernel boots Linux: no --guest or --restore with it", NULL);
	if (o->nr_env || o->nr_grants || o->dma_test)
		return run_usage_error("--env, --file and --dma-test are not for Linux kernels "
				       "(the command line is --append)", NULL);
	if (o->disk_set)
		return run_usage_error("--disk is not for Linux kernels yet (the virtio-mmio "
				       "transport raises no interrupt)", NULL);
	if (optind < argc)
		return run_usage_error("--kernel takes its command line from --append, not after --",
				       NULL);
	if (!o->mem_set)
		o->mem = CMD_KERNEL_DEFAULT_MEM;
	o->guest = o->linux_boot.kernel; /* for messages */
	return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{"guest", required_argument, NULL, 'g'}, {"mem", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'},	 {"serial", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'}, {"stats", no_argument, NULL, 'S'},
		{"api", required_argument, NULL, 'a'},	 {"clone-serial", required_argument, NULL, 'L'},
		{"snapshot-to", required_argument, NULL, 'T'}, {"restore", required_argument, NULL, 'R'},
		{"dma-test", no_argument, NULL, 'D'}, {"help", no_argument, NULL, 'h'},
		{"disk", required_argument, NULL, 'k'},	 {"env", required_argument, NULL, 'e'},
		{"file", required_argument, NULL, 'f'},	 {"kernel", required_argument, NULL, 'K'},
		{"initrd", required_argument, NULL, 'I'}, {"append", required_argument, NULL, 'A'},
		{"vm-pool", required_argument, NULL, 'P'},
		{0, 0, 0, 0},
	};
	int opt, err = 0;

	*o = (struct run_opts){.mem = DEFAULT_MEM, .cpus = 1, .vm_pool = VM_POOL_DEFAULT};
	opterr = 0;
	optind = 1;
	while (!err && (opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': o->guest = optarg; break;
		case 'm': err = cmd_parse_mem(&run_cmd, optarg, &o->mem); o->mem_set = true; break;
		case 'c': err = cmd_parse_cpus(&run_cmd, optarg, &o->cpus); o->cpus_set = true; break;
		case 's': o->serial = optarg; break;
		case 't': err = cmd_parse_seconds(&run_cmd, optarg, &o->timeout_s); break;
		case 'S': o->stats = true; break;
		case 'D': o->dma_test = true; break;
		case 'k': err = parse_disk(optarg, o); break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return run_usage_error("--env takes K=V", optarg);
			if (o->nr_env >= MAX_ENV)
				return run_usage_error("--env: too many variables", optarg);
			o->env[o->nr_env++] = optarg;
			break;
		case 'f':
			if (o->nr_grants >= LINUX_MAX_FILES)
				return run_usage_error("--file: too many files", optarg);
			o->grants[o->nr_grants++] = optarg;
			break;
		case 'a': o->api = optarg; break;
		case 'L': o->clone_serial = optarg; break;
		case 'P': err = parse_vm_pool(optarg, &o->vm_pool); break;
		case 'T': o->snapshot_to = optarg; break;
		case 'R': o->restore = optarg; break;
		case 'K': o->linux_boot.kernel = optarg; break;
		case 'I': o->linux_boot.initrd = optarg; break;
		case 'A': o->linux_boot.append = optarg; break;
		case 'h': run_help(); return -1;
		case ':': return run_usage_error("option needs a value", argv[optind - 1]);
		default: return run_usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (err)
		return err;
	err = check_kernel_opts(o, argc);
	if (err)
		return err;
	if (o->restore && o->guest)
		return run_usage_error("--restore resumes a snapshot: no --guest with it", NULL);
	if (o->restore && o->disk_set)
		return run_usage_error("--disk needs a booted guest: not with --restore", NULL);
	if (o->restore && (o->mem_set || o->cpus_set))
		return run_usage_error("--restore takes memory size and vCPUs from the snapshot: "
				       "no --mem or --cpus with it", NULL);
	if (o->restore && o->dma_test)
		return run_usage_error("--dma-test adds a device to a new guest: not with --restore",
				       NULL);
	if (!o->guest && !o->restore)
		return run_usage_error("--guest (or --restore) is required", NULL);
	if (o->restore && optind < argc)
		return run_usage_error("--restore resumes a snapshot: no guest arguments",
				       argv[optind]);
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return run_usage_error("unexpected argument (guest arguments go after --)",
				       argv[optind]);
	o->gargc = argc - optind;
	o->gargv = argv + optind;
	return cmd_join_args(&run_cmd, argc - optind, argv + optind, o->cmdline,
			     sizeof(o->cmdline));
}

/*
 * What the image is (linux-vm.h): a Linux program gets one vCPU and no
 * boot-ABI devices; --env and --file are for Linux programs only.
 */
static int check_kind(const struct run_opts *o, const struct image *img, bool *ret_linux)
{
	enum linux_elf_kind kind = img->data ? linux_elf__detect(img->data, img->size) :
				   LINUX_ELF_BOOT_ABI;

	if (kind == LINUX_ELF_DYNAMIC) {
		fprintf(stderr, "vmm run: guest '%s': dynamically linked (PT_INTERP): build it "
			"with -static\n", o->guest);
		return EXIT_FAILED;
	}
	*ret_linux = kind == LINUX_ELF_LINUX;
	if (!*ret_linux && (o->nr_env || o->nr_grants))
		return run_usage_error("--env and --file are for Linux programs; this guest "
				       "follows the boot ABI", o->guest);
	if (*ret_linux && o->cpus != 1)
		return run_usage_error("a Linux program runs on one vCPU (threads are not "
				       "supported): no --cpus", NULL);
	if (*ret_linux && (o->dma_test || o->disk_set))
		return run_usage_error("--dma-test and --disk are for boot-ABI guests, not Linux "
				       "programs", o->guest);
	if (*ret_linux && o->mem < (8ULL << 20))
		return run_usage_error("a Linux program needs --mem 8M or more", NULL);
	return 0;
}

/* A Linux program into the new VM @vm: argv[0] is the --guest path. */
static int load_linux(const struct run_opts *o, const struct image *img, struct vm *vm,
		      struct linux_vm **ret_lv, char *msg, size_t msg_len)
{
	struct linux_file *files = calloc(LINUX_MAX_FILES, sizeof(*files));
	char **argv = calloc((size_t)o->gargc + 2, sizeof(*argv));
	struct linux_vm_config lc = {.image = img->data, .size = img->size, .files = files,
				     .envp = o->env, .stderr_fd = STDERR_FILENO};
	int err = 0;

	if (!files || !argv) {
		free(files);
		free(argv);
		snprintf(msg, msg_len, "out of memory");
		return -ENOMEM;
	}
	argv[0] = (char *)o->guest;
	memcpy(argv + 1, o->gargv, (size_t)o->gargc * sizeof(*argv));
	lc.argc = o->gargc + 1;
	lc.argv = argv;
	for (unsigned i = 0; i < o->nr_grants && !err; i++) {
		char why[300];

		err = linux_vm__grant(o->grants[i], &files[i], why, sizeof(why));
		if (err)
			snprintf(msg, msg_len, "--file %.100s: %.180s", o->grants[i], why);
		else
			lc.nr_files++;
	}
	if (err) {
		for (unsigned i = 0; i < lc.nr_files; i++)
			close(files[i].host_fd);
	} else {
		err = linux_vm__load(vm, &lc, ret_lv, msg, msg_len);
	}
	free(files);
	free(argv);
	return err;
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

/* The first VM: booted from the guest image, or restored from a snapshot. */
static int create_vm(const struct run_opts *o, const struct image *img, int serial_fd,
		     struct vm **ret_vm, struct dma_test **ret_dma, struct virtio_blk **ret_blk,
		     bool is_linux, struct linux_vm **ret_lv)
{
	struct vm_config cfg = {.mem_size = o->mem, .nr_cpus = o->cpus, .serial_fd = serial_fd};
	char msg[300] = "";
	int err;

	if (o->restore) {
		err = vm__restore_file(o->restore, &cfg, ret_vm, msg, sizeof(msg));
		if (err)
			fprintf(stderr, "vmm run: --restore %s\n", msg);
		return err;
	}
	err = vm__create(&cfg, ret_vm);
	if (err) {
		fprintf(stderr, "vmm run: creating the VM: %s\n", strerror(-err));
		return err;
	}
	err = o->dma_test ? dev_setup__dma_test(*ret_vm, ret_dma, NULL) : 0;
	if (err) {
		fprintf(stderr, "vmm run: --dma-test: %s\n", strerror(-err));
		vm__destroy(*ret_vm);
		return err;
	}
	err = o->disk_set ? dev_blk__attach(*ret_vm, &o->disk, ret_blk, msg, sizeof(msg)) : 0;
	if (err) {
		fprintf(stderr, "vmm run: --disk %s\n", msg);
		vm__destroy(*ret_vm);
		dma_test__destroy(*ret_dma);
		return err;
	}
	if (o->linux_boot.kernel) {
		err = cmd_kernel__load((struct cmd_kernel *)&o->linux_boot, *ret_vm);
		if (err) {
			virtio_blk__destroy(*ret_blk);
			vm__destroy(*ret_vm);
			return err;
		}
		return 0;
	}
	if (is_linux)
		err = load_linux(o, img, *ret_vm, ret_lv, msg, sizeof(msg));
	else
		err = vm__load_elf(*ret_vm, img->data, img->size, o->cmdline, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "vmm run: guest '%s': %s\n", o->guest, msg[0] ? msg : strerror(-err));
		virtio_blk__destroy(*ret_blk); /* unpins: before the VM's memory goes */
		vm__destroy(*ret_vm);
		dma_test__destroy(*ret_dma);
	}
	return err;
}

/* Console output that could not be written (--serial /dev/full) fails the run, loudly. */
static int check_console(const struct run_opts *o, struct vm *vm, int status)
{
	struct vm_stats s;

	vm__stats(vm, &s);
	if (!s.serial_err)
		return status;
	fprintf(stderr, "vmm run: the guest's console output to %s%s%s was lost: %s\n",
		o->serial ? "'" : "", o->serial ? o->serial : "stdout", o->serial ? "'" : "",
		strerror(-s.serial_err));
	return status ? status : EXIT_FAILED;
}

static void print_pool_stats(struct vm_pool *pool)
{
	struct vm_pool_stats s;

	if (!pool)
		return;
	vm_pool__stats(pool, &s);
	fprintf(stderr, "vm pool: %llu VMs made ahead, %llu clones took one, %llu found none "
		"ready, %llu creations failed%s%s\n", (unsigned long long)s.made,
		(unsigned long long)s.taken, (unsigned long long)s.empty,
		(unsigned long long)s.failed, s.last_err ? ": " : "",
		s.last_err ? strerror(-s.last_err) : "");
}

static int boot(const struct run_opts *o, const struct image *img, int serial_fd,
		bool is_linux)
{
	struct linux_vm *lv = NULL;
	struct group_config gc = {.serial_fd = serial_fd, .clone_serial = o->clone_serial,
				  .snapshot_to = o->snapshot_to, .verbose = o->stats,
				  .vm_pool = o->vm_pool};
	struct api *api = NULL;
	struct group *g;
	struct vm *vm;
	struct dma_test *dma = NULL;
	struct virtio_blk *blk = NULL;
	double t0 = now_ms(), boot_ms;
	int err, status = EXIT_FAILED;

	if (create_vm(o, img, serial_fd, &vm, &dma, &blk, is_linux, &lv))
		return EXIT_FAILED;
	boot_ms = now_ms() - t0;
	err = group__create(&gc, vm, &g);
	if (err) {
		fprintf(stderr, "vmm run: %s\n", strerror(-err));
		virtio_blk__destroy(blk);
		vm__destroy(vm);
		dma_test__destroy(dma);
		linux_vm__destroy(lv);
		return EXIT_FAILED;
	}
	if (o->api) {
		err = api__start(o->api, group__handle_request, g, &api);
		if (err) {
			fprintf(stderr, "vmm run: --api '%s': %s\n", o->api, err == -EEXIST ?
				"something else is there (a live socket or another file)" :
				strerror(-err));
			dma_test__detach(dma);
			virtio_blk__destroy(blk);
			group__destroy(g);
			dma_test__destroy(dma);
			linux_vm__destroy(lv);
			return EXIT_FAILED;
		}
	}
	err = group__run(g, o->timeout_s > 0 ? (int)(o->timeout_s * 1000) : -1, &status);
	api__stop(api);
	if (err) {
		fprintf(stderr, "vmm run: starting the VM: %s\n", strerror(-err));
		status = EXIT_FAILED;
	} else if (status == VMM_EXIT_TIMEOUT) {
		fprintf(stderr, "vmm: guest timed out after %g s\n", o->timeout_s);
	}
	status = check_console(o, vm, status);
	if (o->stats)
		print_stats(vm, boot_ms);
	if (o->stats)
		print_pool_stats(group__vm_pool(g));
	if (o->stats && dma)
		dev_setup__print_dma_test(stderr, dma);
	if (o->stats && blk)
		dev_blk__print_stats(stderr, blk);
	if (o->stats && lv)
		linux_vm__print_stats(stderr, lv);
	if (o->stats && o->linux_boot.kernel)
		cmd_kernel__print_stats(stderr, &o->linux_boot);
	virtio_blk__destroy(blk); /* every VM has stopped; its pins must go before the memory */
	dma_test__detach(dma); /* unpins: a pinned space cannot be destroyed */
	group__destroy(g);
	dma_test__destroy(dma); /* after the vCPUs that call it are gone */
	linux_vm__destroy(lv);	/* likewise */
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct image img;
	int serial_fd = STDOUT_FILENO, status;
	bool is_linux = false;

	status = parse_opts(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	img = (struct image){0};
	if (o.linux_boot.kernel) {
		status = cmd_kernel__prepare(&o.linux_boot, o.mem);
		if (!status)
			status = cmd_kernel__check_host();
		if (status) {
			cmd_kernel__free(&o.linux_boot);
			return status;
		}
	}
	status = o.guest && !o.linux_boot.kernel ? cmd_load_image(&run_cmd, o.guest, &img) : 0;
	if (status)
		return status;
	status = o.linux_boot.kernel ? 0 : check_kind(&o, &img, &is_linux);
	if (status) {
		cmd_image_free(&img);
		return status;
	}
	if (o.serial) {
		serial_fd = open(o.serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (serial_fd < 0) {
			fprintf(stderr, "vmm run: --serial '%s': %s\n", o.serial, strerror(errno));
			cmd_image_free(&img);
			cmd_kernel__free(&o.linux_boot);
			return EXIT_FAILED;
		}
	}
	fflush(stdout);
	status = boot(&o, &img, serial_fd, is_linux);
	if (o.serial)
		close(serial_fd);
	cmd_image_free(&img);
	cmd_kernel__free(&o.linux_boot);
	return status;
}
