// SPDX-License-Identifier: MIT
/*
 * test-virtio-blk: virtio-blk through real guests (blktest) under KVM
 * (suite devices). Every case runs on each backend: io_uring zero copy,
 * io_uring with guest RAM as fixed buffers, and the bounce-buffer baseline.
 *
 * - Reads return the image's pattern; writes land in the image (checked
 *   from the host, neighbours untouched) and read back; flush works.
 * - A read-only disk offers VIRTIO_BLK_F_RO, answers writes IOERR and
 *   leaves the image as it was.
 * - Out-of-range sectors, lengths that are not whole sectors or too big,
 *   and unknown types are answered IOERR/UNSUPP and the disk goes on; a
 *   chain with no status byte comes back unanswered (and counted), a header
 *   split over two descriptors is served.
 * - GET_ID answers; buffers O_DIRECT cannot take are bounced, and counted;
 *   40 requests of the largest size in one notify (bounced or not) are all
 *   served, in several batches (bounded host memory).
 * - Hostile rings and chains (blktest-hostile.c) each make the device
 *   NEEDS_RESET and count an error, while a second VM reading its own
 *   disk at the same time is not disturbed, and nothing stays pinned.
 * - Bad images and --disk options are refused with the step that failed.
 *
 * Without /dev/kvm the whole file exits 77 (skipped) and says so.
 */
#include <pthread.h>

#include "blk-vm.h"

#define IMG_SIZE (8ULL << 20)
#define SEED 7

static const struct virtio_blk_opts backends[] = {
	{.backend = VIRTIO_BLK_URING},
	{.backend = VIRTIO_BLK_URING, .fixed_buffers = true},
	{.backend = VIRTIO_BLK_BOUNCE},
};
static const char *const backend_names[] = {"io_uring", "io_uring+fixed", "bounce"};

struct run {
	int status;
	struct virtio_blk_stats st;
	char out[16384];
	struct mm_stats pool;
};

/* blktest @args on a disk over @path with @o's backend; its status, counters, console. */
static void run_blktest(const char *path, const struct virtio_blk_opts *o, bool ro,
			const char *args, struct run *r)
{
	struct virtio_blk_opts opts = *o;
	int con = blk_console_fd();
	struct virtio_blk *blk;
	struct vm *vm;

	opts.path = path;
	opts.read_only = ro;
	vm = blk_boot(args, &opts, con, &blk);
	r->status = blk_run(vm);
	virtio_blk__stats(blk, &r->st);
	vm__pause(vm);
	virtio_blk__destroy(blk);
	mm_pool_stats(vm__pool(vm), &r->pool);
	vm__destroy(vm);
	snprintf(r->out, sizeof(r->out), "%s", blk_console(con));
	close(con);
	if (r->pool.pinned_pages)
		fail_msg("%s: %llu pages still pinned after the disk went", args,
			 (unsigned long long)r->pool.pinned_pages);
}

static void expect_ok(struct run *r, const char *args, const char *line)
{
	if (r->status || !strstr(r->out, line))
		fail_msg("blktest %s: status %d, console:\n%s", args, r->status, r->out);
	assert_int_equal(r->st.transport.errors, 0);
	assert_int_equal(r->st.host_errors, 0);
}

static void each_backend(void (*fn)(const struct virtio_blk_opts *o, const char *name))
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		fn(&backends[i], backend_names[i]);
}

static void read_case(const struct virtio_blk_opts *o, const char *name)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX";
	struct run r;

	blk_make_image(path, IMG_SIZE, SEED);
	run_blktest(path, o, false, "read 0 16384 7", &r);
	expect_ok(&r, name, "blktest: read ok: 16384 sectors");
	assert_int_equal(r.st.bytes_read, IMG_SIZE);
	assert_int_equal(r.st.ioerr, 0);
	if (o->backend == VIRTIO_BLK_BOUNCE) {
		assert_int_equal(r.st.zero_copy, 0);
		assert_int_equal(r.st.bounced, r.st.reqs_in);
	} else {
		assert_int_equal(r.st.zero_copy, r.st.reqs_in);
		assert_int_equal(r.st.fixed, o->fixed_buffers ? r.st.reqs_in : 0);
	}
	/* Another pattern: the guest must notice. */
	run_blktest(path, o, false, "read 0 64 8", &r);
	assert_int_equal(r.status, 10);
	unlink(path);
}

static void test_read(void **state)
{
	(void)state;
	each_backend(read_case);
}

static void write_case(const struct virtio_blk_opts *o, const char *name)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX";
	struct run r;

	blk_make_image(path, IMG_SIZE, SEED);
	run_blktest(path, o, false, "write 101 3000 9", &r);
	expect_ok(&r, name, "blktest: write ok: 3000 sectors from 101");
	assert_int_equal(r.st.bytes_written, 3000 * 512);
	assert_int_equal(r.st.reqs_flush, 1);
	assert_true(blk_image_holds(path, 101 * 512, 3000 * 512, 9));
	assert_true(blk_image_holds(path, 0, 101 * 512, SEED));
	assert_true(blk_image_holds(path, 3101 * 512, IMG_SIZE - 3101 * 512, SEED));
	unlink(path);
}

static void test_write(void **state)
{
	(void)state;
	each_backend(write_case);
}

static void ro_case(const struct virtio_blk_opts *o, const char *name)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX";
	struct run r;

	if (o->fixed_buffers)
		return; /* nothing a read-only disk does differently there */
	blk_make_image(path, IMG_SIZE, SEED);
	run_blktest(path, o, true, "ro 64 7", &r);
	expect_ok(&r, name, "blktest: ro ok");
	assert_int_equal(r.st.ioerr, 1);
	assert_int_equal(r.st.bytes_written, 0);
	assert_true(blk_image_holds(path, 0, IMG_SIZE, SEED));
	unlink(path);
}

static void test_read_only(void **state)
{
	(void)state;
	each_backend(ro_case);
}

static void range_case(const struct virtio_blk_opts *o, const char *name)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX";
	struct run r;

	blk_make_image(path, IMG_SIZE, SEED);
	run_blktest(path, o, false, "range 7", &r);
	expect_ok(&r, name, "blktest: range ok: capacity 16384 sectors");
	assert_int_equal(r.st.ioerr, 7);
	assert_int_equal(r.st.reqs_unsupp, 1);
	assert_int_equal(r.st.bad_chains, 1);
	assert_true(blk_image_holds(path, 0, IMG_SIZE, SEED)); /* the refused write */
	run_blktest(path, o, false, "getid", &r);
	expect_ok(&r, name, "blktest: getid ok: vmm-blk-");
	assert_int_equal(r.st.reqs_get_id, 1);
	run_blktest(path, o, false, "unaligned 24 7", &r);
	expect_ok(&r, name, "blktest: unaligned ok");
	if (o->backend == VIRTIO_BLK_URING)
		assert_int_equal(r.st.bounced, 3); /* 8, 256, 4000 bytes into a page */
	run_blktest(path, o, false, "batch 40 0 7", &r);
	expect_ok(&r, name, "blktest: batch ok: 40 reads");
	assert_int_equal(r.st.bytes_read, 160ULL << 20);
	assert_int_equal(r.st.transport.notifies, 1);
	assert_true(r.st.batches >= 5); /* 32 MiB of data a batch at most */
	run_blktest(path, o, false, "batch 40 8 7", &r);
	expect_ok(&r, name, "blktest: batch ok: 40 reads");
	if (o->backend == VIRTIO_BLK_URING)
		assert_int_equal(r.st.bounced, 40);
	unlink(path);
}

static void test_range_id_unaligned(void **state)
{
	(void)state;
	each_backend(range_case);
}

struct bystander {
	const char *path;
	struct run r;
};

static void *bystander_thread(void *arg)
{
	struct bystander *b = arg;

	/* cmocka asserts longjmp to the main thread: only collect results here. */
	struct virtio_blk_opts o = {.path = b->path};
	const struct builtin_guest *img = blk_guest();
	struct vm_config cfg = {.mem_size = BLK_VM_MEM, .nr_cpus = 1, .serial_fd = -1};
	struct virtio_blk *blk = NULL;
	struct vm_stop stop = {0};
	struct vm *vm;
	char msg[300];

	b->r.status = -1;
	if (vm__create(&cfg, &vm))
		return NULL;
	if (!dev_blk__attach(vm, &o, &blk, msg, sizeof(msg)) &&
	    !vm__load_elf(vm, img->data, img->size, "read 0 16384 7", msg, sizeof(msg)) &&
	    !vm__start(vm) && !vm__wait(vm, BLK_WATCHDOG_MS, &stop) &&
	    stop.reason == VM_STOP_EXIT)
		b->r.status = stop.status;
	vm__pause(vm);
	if (blk)
		virtio_blk__stats(blk, &b->r.st);
	virtio_blk__destroy(blk);
	vm__destroy(vm);
	return NULL;
}

static void test_hostile(void **state)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX", path2[] = "/var/tmp/vmm-blk-XXXXXX";
	struct bystander b = {.path = path2};
	pthread_t t;
	struct run r;

	(void)state;
	blk_make_image(path, IMG_SIZE, SEED);
	blk_make_image(path2, IMG_SIZE, SEED);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		assert_int_equal(pthread_create(&t, NULL, bystander_thread, &b), 0);
		run_blktest(path, &backends[i], false, "hostile 7", &r);
		pthread_join(t, NULL);
		if (r.status || !strstr(r.out, "blktest: hostile ok: 20 cases"))
			fail_msg("hostile (%s): status %d, console:\n%s", backend_names[i], r.status,
				 r.out);
		assert_int_equal(r.st.transport.errors, 20);
		assert_true(r.st.transport.resets >= 40);
		assert_int_equal(r.st.bytes_written, 0);
		assert_int_equal(b.r.status, 0); /* the other VM read its disk undisturbed */
		assert_int_equal(b.r.st.transport.errors, 0);
		assert_int_equal(b.r.st.bytes_read, IMG_SIZE);
	}
	assert_true(blk_image_holds(path, 0, IMG_SIZE, SEED));
	unlink(path);
	unlink(path2);
}

static void test_bad_images(void **state)
{
	char path[] = "/var/tmp/vmm-blk-XXXXXX", arg[4200], buf[4200], msg[4400];
	struct virtio_blk_opts o = {.path = "/nonexistent/disk.img"}, p;
	struct mm_pool *pool;
	struct mm_space *space;
	struct virtio_blk *b;
	const char *step = NULL;
	int fd;

	(void)state;
	assert_int_equal(mm_pool_create(NULL, &pool), 0);
	assert_int_equal(mm_space_create(pool, 4 << 20, &space), 0);
	assert_int_equal(virtio_blk__create(space, &o, &b, &step), -ENOENT);
	assert_string_equal(step, "opening the image");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "tiny", 4), 4);
	close(fd);
	o.path = path;
	assert_int_equal(virtio_blk__create(space, &o, &b, &step), -EINVAL);
	assert_non_null(strstr(step, "smaller than one 512-byte sector"));
	o.path = "/dev/null";
	assert_int_equal(virtio_blk__create(space, &o, &b, &step), -EINVAL);
	assert_non_null(strstr(step, "neither a regular file nor a block device"));
	assert_int_equal(dev_blk__parse(path, &p, buf, sizeof(buf), msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "smaller than one 512-byte sector"));
	assert_int_equal(truncate(path, 4096), 0);
	assert_int_equal(dev_blk__parse(path, &p, buf, sizeof(buf), msg, sizeof(msg)), 0);
	assert_false(p.read_only || p.fixed_buffers);
	snprintf(arg, sizeof(arg), "%s,ro,fixed-buffers", path);
	assert_int_equal(dev_blk__parse(arg, &p, buf, sizeof(buf), msg, sizeof(msg)), 0);
	assert_true(p.read_only && p.fixed_buffers);
	assert_string_equal(p.path, path);
	assert_int_equal(dev_blk__parse(",ro", &p, buf, sizeof(buf), msg, sizeof(msg)), -EINVAL);
	snprintf(arg, sizeof(arg), "%s,rw", path);
	assert_int_equal(dev_blk__parse(arg, &p, buf, sizeof(buf), msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "unknown disk option"));
	/* Locked by one disk: a second read-write one is refused. */
	o = (struct virtio_blk_opts){.path = path};
	assert_int_equal(virtio_blk__create(space, &o, &b, &step), 0);
	struct virtio_blk *b2;

	assert_int_equal(virtio_blk__create(space, &o, &b2, &step), -EBUSY);
	virtio_blk__destroy(b);
	unlink(path);
	assert_int_equal(mm_space_destroy(space), 0);
	assert_int_equal(mm_pool_destroy(pool), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_range_id_unaligned),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bad_images),
	};

	blk_skip_without_kvm("test-virtio-blk");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
