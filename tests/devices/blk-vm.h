/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the virtio-blk KVM tests: pattern images on the local disk
 * (blk-pattern.h), the blktest guest booted with a disk, its console, and
 * running it to its exit.
 */
#ifndef TESTS_BLK_VM_H
#define TESTS_BLK_VM_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk-pattern.h"
#include "builtin-guests.h"
#include "dev-blk.h"
#include "vm.h"

#define BLK_VM_MEM (32ULL << 20)
#define BLK_WATCHDOG_MS 60000

static inline void blk_skip_without_kvm(const char *name)
{
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "%s: SKIPPED: /dev/kvm is not usable here (%s); these tests need "
			"real KVM\n", name, strerror(errno));
		exit(77);
	}
}

/* Images made so far: removed at exit, also when a failed assertion skipped the unlink. */
static char blk_images[32][64];
static unsigned blk_nr_images;

static inline void blk_remove_images(void)
{
	for (unsigned i = 0; i < blk_nr_images; i++)
		unlink(blk_images[i]);
}

/* A @size-byte image at @path (a mkstemp template on the local disk) full of @seed. */
static inline void blk_make_image(char *path, uint64_t size, uint64_t seed)
{
	int fd = mkstemp(path);
	uint64_t chunk = 1 << 20, *w = malloc(chunk);

	if (!blk_nr_images)
		atexit(blk_remove_images);
	if (fd >= 0 && blk_nr_images < 32)
		snprintf(blk_images[blk_nr_images++], sizeof(blk_images[0]), "%s", path);

	assert_true(fd >= 0);
	assert_non_null(w);
	for (uint64_t off = 0; off < size; off += chunk) {
		uint64_t n = size - off < chunk ? size - off : chunk;

		for (uint64_t i = 0; i < n / 8; i++)
			w[i] = blk_pattern_word(seed, off + i * 8);
		assert_int_equal(pwrite(fd, w, n, (off_t)off), (ssize_t)n);
	}
	assert_int_equal(fsync(fd), 0);
	free(w);
	close(fd);
}

/* Whether image bytes [off, off + len) hold @seed's pattern. */
static inline bool blk_image_holds(const char *path, uint64_t off, uint64_t len, uint64_t seed)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t *w = malloc(len);
	bool ok = fd >= 0 && w && pread(fd, w, len, (off_t)off) == (ssize_t)len;

	for (uint64_t i = 0; ok && i < len / 8; i++)
		ok = w[i] == blk_pattern_word(seed, off + i * 8);
	free(w);
	if (fd >= 0)
		close(fd);
	return ok;
}

static inline const struct builtin_guest *blk_guest(void)
{
	for (const struct builtin_guest *g = builtin_guests; g->name; g++)
		if (!strcmp(g->name, "blktest"))
			return g;
	fail_msg("no built-in guest blktest");
	return NULL;
}

/* blktest with @args and a disk per @o; *ret_blk gets the device (NULL @o: no disk). */
static inline struct vm *blk_boot(const char *args, const struct virtio_blk_opts *o,
				  int serial_fd, struct virtio_blk **ret_blk)
{
	const struct builtin_guest *img = blk_guest();
	struct vm_config cfg = {.mem_size = BLK_VM_MEM, .nr_cpus = 1, .serial_fd = serial_fd};
	char msg[300] = "";
	struct vm *vm;

	assert_int_equal(vm__create(&cfg, &vm), 0);
	*ret_blk = NULL;
	if (o && dev_blk__attach(vm, o, ret_blk, msg, sizeof(msg)))
		fail_msg("attaching the disk: %s", msg);
	if (vm__load_elf(vm, img->data, img->size, args, msg, sizeof(msg)))
		fail_msg("load blktest: %s", msg);
	return vm;
}

static inline int blk_console_fd(void)
{
	int fd = memfd_create("console", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static inline const char *blk_console(int fd)
{
	static char out[16384];
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);

	out[n > 0 ? n : 0] = '\0';
	return out;
}

/* Start @vm and wait for its end: the guest's exit status (fails on anything else). */
static inline int blk_run(struct vm *vm)
{
	struct vm_stop stop;

	assert_int_equal(vm__start(vm), 0);
	if (vm__wait(vm, BLK_WATCHDOG_MS, &stop))
		fail_msg("blktest did not finish in %d ms", BLK_WATCHDOG_MS);
	if (stop.reason != VM_STOP_EXIT)
		fail_msg("blktest stopped: %s", stop.what);
	return stop.status;
}

#endif
