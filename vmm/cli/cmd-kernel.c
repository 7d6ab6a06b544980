// SPDX-License-Identifier: MIT
/*
 * cmd-kernel.c: vmm run's Linux guests (cmd-kernel.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bzimage.h"
#include "clock.h"
#include "cmd-kernel.h"
#include "cmd.h"
#include "ring-probe.h"

#define MAX_FILE (2ULL << 30)

/* The whole regular file @path into a new buffer; a message on failure. */
static int read_file(const char *opt, const char *path, void **ret_buf, size_t *ret_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t off = 0;
	uint8_t *buf;

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE) {
		fprintf(stderr, "vmm run: %s '%s': %s\n", opt, path,
			fd < 0 ? strerror(errno) : !S_ISREG(st.st_mode) ? "not a regular file" :
			(uint64_t)st.st_size > MAX_FILE ? "larger than 2 GiB" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_FAILED;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	while (buf && off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (!buf || off != (size_t)st.st_size) {
		fprintf(stderr, "vmm run: %s '%s': %s\n", opt, path,
			buf ? "could not read it whole" : strerror(ENOMEM));
		free(buf);
		return EXIT_FAILED;
	}
	*ret_buf = buf;
	*ret_size = off;
	return 0;
}

int cmd_kernel__prepare(struct cmd_kernel *k, uint64_t mem)
{
	char msg[300];
	int status;

	status = read_file("--kernel", k->kernel, &k->kernel_buf, &k->cfg.kernel_size);
	if (!status && k->initrd)
		status = read_file("--initrd", k->initrd, &k->initrd_buf, &k->cfg.initrd_size);
	if (status)
		return status;
	k->cfg.kernel = k->kernel_buf;
	k->cfg.initrd = k->initrd_buf;
	k->cfg.cmdline = k->append ? k->append : CMD_KERNEL_DEFAULT_CMDLINE;
	if (boot__check_linux(&k->cfg, mem, msg, sizeof(msg))) {
		fprintf(stderr, "vmm run: --kernel '%s': %s\n", k->kernel, msg);
		return EXIT_FAILED;
	}
	return 0;
}

int cmd_kernel__check_host(void)
{
	struct ring_probe r;

	/* No KVM at all: creating the VM says so, as for every guest. */
	if (ring_probe__quick(&r) || r.ring0_native)
		return 0;
	fprintf(stderr, "vmm run: %s (ring 0 %.0f ns/iter, ring 3 %.2f: vmm doctor)\n",
		RING_PROBE_NO_LINUX, r.ring0_ns, r.ring3_ns);
	return EXIT_FAILED;
}

int cmd_kernel__load(struct cmd_kernel *k, struct vm *vm)
{
	uint64_t t0 = clock_now_ns();
	char msg[300] = "";
	int err = boot__load_linux(vm, &k->cfg, msg, sizeof(msg));

	k->load_ns = clock_now_ns() - t0;
	if (err)
		fprintf(stderr, "vmm run: --kernel '%s': %s\n", k->kernel,
			msg[0] ? msg : strerror(-err));
	return err;
}

void cmd_kernel__print_stats(FILE *out, const struct cmd_kernel *k)
{
	fprintf(out, "stats: linux: kernel %zu KiB, initrd %zu KiB, command line %zu bytes, "
		"loaded in %.3f ms\n", k->cfg.kernel_size >> 10, k->cfg.initrd_size >> 10,
		strlen(k->cfg.cmdline), (double)k->load_ns / 1e6);
}

void cmd_kernel__free(struct cmd_kernel *k)
{
	free(k->kernel_buf);
	free(k->initrd_buf);
	k->kernel_buf = k->initrd_buf = NULL;
}
