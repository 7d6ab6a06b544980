// SPDX-License-Identifier: MIT
/*
 * cmd-afl.c: `vmm afl --guest NAME|PATH [--mem SIZE] [--cpus N]
 *                     [--serial FILE] [--ready-timeout MS] [--stats FILE]
 *                     [--timeout MS] [--map FILE] [-- GUEST ARGS...]`
 *
 * Under afl-fuzz (its fork-server pipe on fd 198): boot the guest to its
 * snapshot point and serve afl-fuzz's runs from there (vmm/afl). Without
 * it: run one test case from stdin and say what it did (--map writes the
 * coverage map the run left). Exit status: 0 served / done; under
 * afl-fuzz 1 if the VMM failed; alone the guest's exit status, 101 a crash,
 * 104 --timeout; 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "afl-fsrv.h"
#include "afl.h"
#include "cmd-opts.h"
#include "cmd-target.h"
#include "linux.h"

/*
 * afl-fuzz (check_binary) refuses a program that does not carry this
 * string ("No instrumentation detected"): it is how AFL++ tells an
 * instrumented target, and `vmm afl` fills afl-fuzz's map the way
 * instrumentation does. PERSIST_SIG and DEFER_SIG are deliberately absent:
 * afl-fuzz must not take vmm for a persistent or deferred target.
 */
__attribute__((used)) static const char afl_shm_marker[] = AFL_SHM_ENV_VAR;

static const char afl_usage[] =
	"usage: vmm afl --guest NAME|PATH [--mem SIZE] [--cpus N] [--serial FILE] "
	"[--ready-timeout MS] [--stats FILE] [--timeout MS] [--map FILE] [-- GUEST ARGS...]";
static const struct cmd_ctx afl_cmd = {"vmm afl", afl_usage};

struct afl_opts {
	const char *guest, *serial, *stats, *map;
	uint64_t mem;
	unsigned cpus;
	int ready_ms, timeout_ms;
	char cmdline[ABI_CMDLINE_MAX];
};

static int usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in(afl_cmd.name, afl_cmd.usage, what, arg);
}

static void afl_help(void)
{
	printf("%s\n\n"
	       "A fork server for AFL++: afl-fuzz -i IN -o OUT -- vmm afl --guest T [-- @@]\n"
	       "boots the guest to its snapshot point (HC_FUZZ_READY) and resets it there for\n"
	       "every run afl-fuzz asks for; the guest's coverage map goes to afl-fuzz's map.\n"
	       "Without afl-fuzz it runs one test case read from stdin.\n\n"
	       "  --guest NAME|PATH   the target (built-in: aflme, fuzzme)\n"
	       "  --mem SIZE          guest memory (default 64M)\n"
	       "  --cpus N            vCPUs (default 1)\n"
	       "  --serial FILE       the guest's console (default: discarded)\n"
	       "  --ready-timeout MS  to reach the snapshot point (default 10000)\n"
	       "  --stats FILE        keep a summary line there (rewritten every second)\n"
	       "  --timeout MS        without afl-fuzz: the run's budget (default 1000)\n"
	       "  --map FILE          without afl-fuzz: write the run's coverage map\n\n"
	       "Exit status: 0 ok; 1 the VMM failed; without afl-fuzz the guest's exit\n"
	       "status, %d a crash, %d a timeout; 2 usage error.\n",
	       afl_usage, VMM_EXIT_CRASH, VMM_EXIT_TIMEOUT);
}

static int parse_ms(const char *opt, const char *arg, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0 || v > 3600 * 1000) {
		char what[80];

		snprintf(what, sizeof(what), "%s: not a number of milliseconds from 1 to 3600000",
			 opt);
		return usage_error(what, arg);
	}
	*ret = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct afl_opts *o)
{
	static const struct option longopts[] = {
		{"guest", required_argument, NULL, 'g'}, {"mem", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'}, {"serial", required_argument, NULL, 's'},
		{"ready-timeout", required_argument, NULL, 'r'},
		{"stats", required_argument, NULL, 'S'}, {"timeout", required_argument, NULL, 't'},
		{"map", required_argument, NULL, 'M'}, {"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	int opt, err = 0;

	*o = (struct afl_opts){.mem = 64ULL << 20, .cpus = 1};
	opterr = 0;
	optind = 1;
	while (!err && (opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': o->guest = optarg; break;
		case 'm': err = cmd_parse_mem(&afl_cmd, optarg, &o->mem); break;
		case 'c': err = cmd_parse_cpus(&afl_cmd, optarg, &o->cpus); break;
		case 's': o->serial = optarg; break;
		case 'r': err = parse_ms("--ready-timeout", optarg, &o->ready_ms); break;
		case 'S': o->stats = optarg; break;
		case 't': err = parse_ms("--timeout", optarg, &o->timeout_ms); break;
		case 'M': o->map = optarg; break;
		case 'h': afl_help(); return -1;
		case ':': return usage_error("option needs a value", argv[optind - 1]);
		default: return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (err)
		return err;
	if (!o->guest)
		return usage_error("--guest is required", NULL);
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return usage_error("unexpected argument (guest arguments go after --)",
				   argv[optind]);
	return cmd_join_args(&afl_cmd, argc - optind, argv + optind, o->cmdline,
			     sizeof(o->cmdline));
}

/*
 * An AFL++ tool that runs us without its fork server (afl-showmap on one
 * file) tells a crash by the signal the target died of, as it would an
 * instrumented program's.
 */
static __attribute__((noreturn)) void die_by(int sig)
{
	fflush(NULL);
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(VMM_EXIT_CRASH);
}

static int one_shot(const struct afl_config *cfg)
{
	struct fuzz_result r;
	char msg[256];
	int err = afl__run_once(cfg, STDIN_FILENO, &r, msg, sizeof(msg));

	if (err) {
		fprintf(stderr, "vmm afl: %s\n", msg);
		return EXIT_FAILED;
	}
	switch (r.outcome) {
	case FUZZ_DONE:
		printf("vmm afl: done (HC_FUZZ_DONE %llu)\n", (unsigned long long)r.done_value);
		return 0;
	case FUZZ_EXIT:
		printf("vmm afl: %s\n", r.stop.what);
		return r.stop.reason == VM_STOP_EXIT ? r.stop.status : EXIT_FAILED;
	case FUZZ_CRASH:
		fprintf(stderr, "vmm afl: crash (afl-fuzz sees signal %d): ",
			afl__wait_status(&r));
		vm__print_stop(stderr, &r.stop);
		if (getenv(AFL_SHM_ENV_VAR))
			die_by(afl__wait_status(&r));
		return VMM_EXIT_CRASH;
	default:
		fprintf(stderr, "vmm afl: timeout (over %d ms)\n",
			cfg->timeout_ms > 0 ? cfg->timeout_ms : 1000);
		return VMM_EXIT_TIMEOUT;
	}
}

static int serve(const struct afl_config *cfg)
{
	char msg[256];
	int err = afl__serve(cfg, NULL, msg, sizeof(msg));

	if (err)
		fprintf(stderr, "vmm afl: %s\n", msg);
	return err ? EXIT_FAILED : 0;
}

int cmd_afl(int argc, char **argv)
{
	struct afl_opts o;
	struct image img;
	int status, serial_fd = -1;

	status = parse_opts(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	status = cmd_load_image(&afl_cmd, o.guest, &img);
	if (status)
		return status;
	if (o.serial) {
		serial_fd = open(o.serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (serial_fd < 0) {
			fprintf(stderr, "vmm afl: --serial '%s': %s\n", o.serial, strerror(errno));
			cmd_image_free(&img);
			return EXIT_FAILED;
		}
	}
	struct afl_config cfg = {
		.fuzz = {.mem_size = o.mem, .nr_cpus = o.cpus, .serial_fd = serial_fd,
			 .image = img.data, .image_size = img.size, .cmdline = o.cmdline,
			 .ready_timeout_ms = o.ready_ms},
		.map_out = o.map, .timeout_ms = o.timeout_ms, .stats_path = o.stats,
	};
	struct cmd_target target = {.img = &img, .name = o.guest, .cmdline = o.cmdline};

	status = cmd_target__setup(&afl_cmd, &target, &cfg.fuzz);
	if (status) {
		if (serial_fd >= 0)
			close(serial_fd);
		cmd_image_free(&img);
		return status;
	}

	if (fcntl(AFL_FORKSRV_FD, F_GETFD) >= 0 && fcntl(AFL_FORKSRV_FD + 1, F_GETFD) >= 0)
		status = serve(&cfg);
	else
		status = one_shot(&cfg);
	if (serial_fd >= 0)
		close(serial_fd);
	cmd_image_free(&img);
	return status;
}
