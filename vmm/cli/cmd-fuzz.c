// SPDX-License-Identifier: MIT
/*
 * cmd-fuzz.c: `vmm fuzz --guest NAME|PATH --inputs DIR [--timeout MS]
 *                      [--crashes DIR] [--mem SIZE] [--cpus N]
 *                      [--serial FILE] [-- GUEST ARGS...]`
 *
 * Boots the guest to its snapshot point, runs every regular file of DIR (in
 * name order) as one input from that point, copies each input that crashed
 * the guest into the crashes directory, and prints a summary. Exit status:
 * 0 no crash, 3 crashes found, 1 the VMM failed, 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi.h"
#include "clock.h"
#include "cmd-opts.h"
#include "cmd-target.h"
#include "fuzz.h"

#define EXIT_CRASHES 3
#define DEFAULT_TIMEOUT_MS 1000
#define INPUT_CAP (1ULL << 20)

static const char fuzz_usage[] =
	"usage: vmm fuzz --guest NAME|PATH --inputs DIR [--timeout MS] [--crashes DIR] "
	"[--mem SIZE] [--cpus N] [--serial FILE] [-- GUEST ARGS...]";
static const struct cmd_ctx fuzz_cmd = {"vmm fuzz", fuzz_usage};

struct fuzz_opts {
	const char *guest, *inputs, *crashes, *serial;
	uint64_t mem;
	unsigned cpus;
	int timeout_ms;
	char cmdline[ABI_CMDLINE_MAX];
};

struct totals {
	unsigned execs, crashes, timeouts, exits, skipped;
	uint64_t dirtied, reset_ns;
};

static int usage_error(const char *what, const char *arg)
{
	return cmd_usage_error_in(fuzz_cmd.name, fuzz_cmd.usage, what, arg);
}

static void fuzz_help(void)
{
	printf("%s\n\n"
	       "Run every file of DIR as one input of a fuzzing target guest, each from the\n"
	       "snapshot point the guest marks with HC_FUZZ_READY (guest-images/README.md),\n"
	       "resetting memory and vCPU state to that point after each input.\n\n"
	       "  --guest NAME|PATH  the target (built-in: fuzzme)\n"
	       "  --inputs DIR       the inputs, one per regular file, run in name order\n"
	       "  --timeout MS       time budget per input (default %d ms)\n"
	       "  --crashes DIR      copy each input that crashed the guest here\n"
	       "  --mem SIZE         guest memory (default 64M)\n"
	       "  --cpus N           vCPUs (default 1)\n"
	       "  --serial FILE      the guest's console (default: discarded)\n\n"
	       "Exit status: 0 no crash; %d crashes found; 1 the VMM failed; 2 usage error.\n",
	       fuzz_usage, DEFAULT_TIMEOUT_MS, EXIT_CRASHES);
}

static int parse_ms(const char *arg, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0 || v > 3600 * 1000)
		return usage_error("--timeout: not a number of milliseconds from 1 to 3600000",
				   arg);
	*ret = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct fuzz_opts *o)
{
	static const struct option longopts[] = {
		{"guest", required_argument, NULL, 'g'}, {"inputs", required_argument, NULL, 'i'},
		{"timeout", required_argument, NULL, 't'}, {"crashes", required_argument, NULL, 'C'},
		{"mem", required_argument, NULL, 'm'},	 {"cpus", required_argument, NULL, 'c'},
		{"serial", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	int opt, err = 0;

	*o = (struct fuzz_opts){.mem = 64ULL << 20, .cpus = 1, .timeout_ms = DEFAULT_TIMEOUT_MS};
	opterr = 0;
	optind = 1;
	while (!err && (opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': o->guest = optarg; break;
		case 'i': o->inputs = optarg; break;
		case 't': err = parse_ms(optarg, &o->timeout_ms); break;
		case 'C': o->crashes = optarg; break;
		case 'm': err = cmd_parse_mem(&fuzz_cmd, optarg, &o->mem); break;
		case 'c': err = cmd_parse_cpus(&fuzz_cmd, optarg, &o->cpus); break;
		case 's': o->serial = optarg; break;
		case 'h': fuzz_help(); return -1;
		case ':': return usage_error("option needs a value", argv[optind - 1]);
		default: return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (err)
		return err;
	if (!o->guest)
		return usage_error("--guest is required", NULL);
	if (!o->inputs)
		return usage_error("--inputs is required", NULL);
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return usage_error("unexpected argument (guest arguments go after --)",
				   argv[optind]);
	return cmd_join_args(&fuzz_cmd, argc - optind, argv + optind, o->cmdline,
			     sizeof(o->cmdline));
}

/* Read @path whole if it is a regular file of at most @max bytes: 0, 1 skipped, -errno. */
static int read_input(const char *path, uint64_t max, void *buf, size_t *ret_len)
{
	struct stat st;
	size_t got = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (!S_ISDIR(st.st_mode))
			fprintf(stderr, "vmm fuzz: %s: not a regular file: skipped\n", path);
		close(fd);
		return 1;
	}
	if ((uint64_t)st.st_size > max) {
		fprintf(stderr, "vmm fuzz: %s: %lld bytes, over the guest's %llu-byte input "
			"buffer: skipped\n", path, (long long)st.st_size, (unsigned long long)max);
		close(fd);
		return 1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	close(fd);
	*ret_len = got;
	return 0;
}

static int save_crash(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static void account(const struct fuzz_opts *o, const char *name, const void *data, size_t len,
		    const struct fuzz_result *r, struct totals *t)
{
	t->execs++;
	t->dirtied += r->dirtied;
	t->reset_ns += r->reset_ns;
	switch (r->outcome) {
	case FUZZ_DONE:
	case FUZZ_CANCELLED: /* no cancel fd here */
		break;
	case FUZZ_TIMEOUT:
		t->timeouts++;
		fprintf(stderr, "vmm fuzz: timeout: %s (over %d ms)\n", name, o->timeout_ms);
		break;
	case FUZZ_EXIT:
		t->exits++;
		fprintf(stderr, "vmm fuzz: %s: %s\n", name, r->stop.what);
		break;
	case FUZZ_CRASH:
		t->crashes++;
		fprintf(stderr, "vmm fuzz: crash: %s: %s\n", name, r->stop.what);
		if (o->crashes) {
			int err = save_crash(o->crashes, name, data, len);

			if (err)
				fprintf(stderr, "vmm fuzz: saving %s/%s: %s\n", o->crashes, name,
					strerror(-err));
		}
		break;
	}
}

static int run_inputs(const struct fuzz_opts *o, struct fuzz *f, struct totals *t)
{
	struct dirent **ents;
	uint64_t max = fuzz__input_max(f) < INPUT_CAP ? fuzz__input_max(f) : INPUT_CAP;
	void *buf = malloc(max ? max : 1);
	int n = scandir(o->inputs, &ents, NULL, alphasort), err = 0;

	if (n < 0) {
		fprintf(stderr, "vmm fuzz: --inputs '%s': %s\n", o->inputs, strerror(errno));
		free(buf);
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct fuzz_result r;
		size_t len = 0;
		int rd;

		snprintf(path, sizeof(path), "%s/%s", o->inputs, ents[i]->d_name);
		rd = err || !buf ? 1 : read_input(path, max, buf, &len);
		if (rd < 0)
			fprintf(stderr, "vmm fuzz: %s: %s: skipped\n", path, strerror(-rd));
		if (rd) {
			t->skipped += ents[i]->d_name[0] != '.';
			free(ents[i]);
			continue;
		}
		err = fuzz__run(f, buf, len, o->timeout_ms, &r);
		if (err)
			fprintf(stderr, "vmm fuzz: running %s: %s\n", path, strerror(-err));
		else
			account(o, ents[i]->d_name, buf, len, &r, t);
		free(ents[i]);
	}
	free(ents);
	free(buf);
	return buf ? err : -ENOMEM;
}

static void print_summary(const struct totals *t, double secs)
{
	double mean_reset_us = t->execs ? (double)t->reset_ns / t->execs / 1e3 : 0;

	printf("fuzz: %u inputs in %.3f s: %.0f execs/s; resets %u (mean %.1f us, %.0f resets/s); "
	       "crashes %u; timeouts %u; exits %u; skipped %u; mean dirtied pages %.1f\n",
	       t->execs, secs, secs > 0 ? t->execs / secs : 0, t->execs, mean_reset_us,
	       mean_reset_us > 0 ? 1e6 / mean_reset_us : 0, t->crashes, t->timeouts, t->exits,
	       t->skipped, t->execs ? (double)t->dirtied / t->execs : 0);
}

int cmd_fuzz(int argc, char **argv)
{
	struct fuzz_opts o;
	struct totals t = {0};
	struct image img;
	struct fuzz *f;
	char msg[256];
	int status, serial_fd = -1, err;
	double t0;

	status = parse_opts(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	struct stat st;

	if (stat(o.inputs, &st) || !S_ISDIR(st.st_mode)) {
		bool missing = access(o.inputs, F_OK) != 0;

		fprintf(stderr, "vmm fuzz: --inputs '%s': %s\n", o.inputs,
			missing ? strerror(errno) : "not a directory");
		return EXIT_FAILED;
	}
	if (o.crashes && mkdir(o.crashes, 0755) && errno != EEXIST) {
		fprintf(stderr, "vmm fuzz: --crashes '%s': %s\n", o.crashes, strerror(errno));
		return EXIT_FAILED;
	}
	status = cmd_load_image(&fuzz_cmd, o.guest, &img);
	if (status)
		return status;
	if (o.serial) {
		serial_fd = open(o.serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (serial_fd < 0) {
			fprintf(stderr, "vmm fuzz: --serial '%s': %s\n", o.serial, strerror(errno));
			cmd_image_free(&img);
			return EXIT_FAILED;
		}
	}
	struct fuzz_config cfg = {.mem_size = o.mem, .nr_cpus = o.cpus, .serial_fd = serial_fd,
				  .image = img.data, .image_size = img.size,
				  .cmdline = o.cmdline};
	struct cmd_target target = {.img = &img, .name = o.guest, .cmdline = o.cmdline};

	status = cmd_target__setup(&fuzz_cmd, &target, &cfg);
	if (status) {
		if (serial_fd >= 0)
			close(serial_fd);
		cmd_image_free(&img);
		return status;
	}
	err = fuzz__create(&cfg, &f, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "vmm fuzz: guest '%s': %s\n", o.guest, msg);
		status = EXIT_FAILED;
	} else {
		t0 = clock_now_s();
		err = run_inputs(&o, f, &t);
		print_summary(&t, clock_now_s() - t0);
		status = err ? EXIT_FAILED : t.crashes ? EXIT_CRASHES : 0;
		fuzz__destroy(f);
	}
	if (serial_fd >= 0)
		close(serial_fd);
	cmd_image_free(&img);
	return status;
}
