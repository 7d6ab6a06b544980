// SPDX-License-Identifier: MIT
/*
 * cmd-opts.c: option parsing and guest-image loading shared by the vmm
 * commands that boot a guest (run, fuzz). Every error is reported once, in
 * the calling command's name (cmd_usage_error_in, which every command uses).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi.h"
#include "builtin-guests.h"
#include "cmd-opts.h"
#include "size.h"
#include "vm.h"

#define MIN_MEM (8ULL << 20)
#define MAX_IMAGE (256ULL << 20)

/* One line saying what was wrong, one line of usage. */
int cmd_usage_error_in(const char *cmd, const char *usage, const char *what, const char *arg)
{
	if (arg)
		fprintf(stderr, "%s: %s '%s'\n%s\n", cmd, what, arg, usage);
	else
		fprintf(stderr, "%s: %s\n%s\n", cmd, what, usage);
	return EXIT_USAGE;
}

static int usage_error(const struct cmd_ctx *cmd, const char *what, const char *arg)
{
	return cmd_usage_error_in(cmd->name, cmd->usage, what, arg);
}

/* A cgroup memory limit file's value: bytes, or UINT64_MAX for none ("max", absent). */
static uint64_t read_limit(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "re");
	unsigned long long v;

	if (!f)
		return UINT64_MAX;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu", &v) != 1)
		v = UINT64_MAX;
	fclose(f);
	return v;
}

/*
 * The tightest memory limit of this process's cgroup and its ancestors
 * (cgroup v2's memory.max, or v1's memory.limit_in_bytes): a guest over it
 * would meet the OOM killer instead of an error message.
 */
static uint64_t cgroup_mem_limit(void)
{
	char line[512], path[1024], *rel = NULL;
	const char *file = NULL, *root = NULL;
	uint64_t limit = UINT64_MAX;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return limit;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *q = p ? strchr(p + 1, ':') : NULL;

		if (!q)
			continue;
		q[strcspn(q, "\n")] = '\0';
		*q = '\0';
		if (!strcmp(p + 1, "") && !rel) {
			root = "/sys/fs/cgroup", file = "memory.max"; /* v2 */
			rel = strdup(q + 1);
		} else if (strstr(p + 1, "memory")) {
			root = "/sys/fs/cgroup/memory", file = "memory.limit_in_bytes"; /* v1 */
			free(rel);
			rel = strdup(q + 1);
			break;
		}
	}
	fclose(f);
	for (char *slash = rel; rel && slash;) {
		uint64_t v;

		snprintf(path, sizeof(path), "%s%s/%s", root, rel, file);
		v = read_limit(path);
		limit = v < limit ? v : limit;
		slash = strrchr(rel, '/');
		if (slash)
			*slash = '\0';
	}
	free(rel);
	return limit;
}

int cmd_parse_mem(const struct cmd_ctx *cmd, const char *arg, uint64_t *ret)
{
	uint64_t v;
	int err = size__parse(arg, &v);

	if (err)
		return usage_error(cmd, "--mem: not a size", arg);
	if (v == 0)
		return usage_error(cmd, "--mem: size is zero", arg);
	if (v < MIN_MEM)
		return usage_error(cmd, "--mem: less than the 8M minimum", arg);
	if (v > ABI_MEM_MAX)
		return usage_error(cmd, "--mem: more than the 3G maximum", arg);
	if (v % (2ULL << 20))
		return usage_error(cmd, "--mem: not a multiple of 2M", arg);
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages > 0 && psz > 0 && v > (uint64_t)pages * (uint64_t)psz)
		return usage_error(cmd, "--mem: more than this host's memory", arg);
	if (v > cgroup_mem_limit())
		return usage_error(cmd, "--mem: more than this process's memory cgroup allows", arg);
	*ret = v;
	return 0;
}

int cmd_parse_cpus(const struct cmd_ctx *cmd, const char *arg, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	/* Digits only: strtoul would take " 2", "+2" and "-1". */
	if (errno || arg[0] < '0' || arg[0] > '9' || *end || v == 0 || v > VM_MAX_CPUS)
		return usage_error(cmd, "--cpus: not a vCPU count from 1 to 64", arg);
	*ret = (unsigned)v;
	return 0;
}

/* A built-in guest by name, else an ELF file read whole. 0 or EXIT_FAILED. */
int cmd_load_image(const struct cmd_ctx *cmd, const char *name, struct image *img)
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
	fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
	if (fd < 0) {
		fprintf(stderr, "%s: guest '%s': %s (built-in guests:", cmd->name, name,
			errno == ENOENT ? "no such built-in guest or file" : strerror(errno));
		for (const struct builtin_guest *g = builtin_guests; g->name; g++)
			fprintf(stderr, " %s", g->name);
		fprintf(stderr, ")\n");
		return EXIT_FAILED;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_IMAGE) {
		fprintf(stderr, "%s: guest '%s': not a regular file of at most 256 MiB\n",
			cmd->name, name);
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
		fprintf(stderr, "%s: guest '%s': could not read it\n", cmd->name, name);
		free(img->owned);
		img->owned = NULL;
		return EXIT_FAILED;
	}
	img->data = img->owned;
	img->size = got;
	return 0;
}

int cmd_parse_seconds(const struct cmd_ctx *cmd, const char *arg, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0) || v > 1e6)
		return usage_error(cmd, "--timeout: not a positive number of seconds", arg);
	*ret = v;
	return 0;
}

int cmd_join_args(const struct cmd_ctx *cmd, int argc, char **argv, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (n + l + (i > 0) >= len)
			return usage_error(cmd, "guest arguments too long (4095 bytes at most)", NULL);
		if (i > 0)
			out[n++] = ' ';
		memcpy(out + n, argv[i], l + 1);
		n += l;
	}
	return 0;
}

void cmd_image_free(struct image *img)
{
	free(img->owned);
	img->owned = NULL;
}
