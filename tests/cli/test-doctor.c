// SPDX-License-Identifier: MIT
/*
 * test-doctor: the host probes behind `vmm doctor`, suite vmm. They run for
 * real: the ring probe boots a throwaway KVM guest. Without /dev/kvm the
 * KVM checks are skipped, loudly.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "doctor.h"
#include "mm.h"

static bool have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "SKIP: /dev/kvm is absent or unusable here: KVM checks not run\n");
		return false;
	}
	close(fd);
	return true;
}

static const struct doctor_check *find(const struct doctor_check *c, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return &c[i];
	fail_msg("no check named %s", name);
	return NULL;
}

static void test_checks_pass(void **state)
{
	struct doctor_check c[DOCTOR_MAX_CHECKS];
	unsigned n = doctor__run_checks(c);
	bool kvm = have_kvm();

	for (unsigned i = 0; i < n; i++) {
		print_message("%s: %d %s\n", c[i].name, c[i].verdict, c[i].detail);
		assert_true(c[i].detail[0] != '\0');
		if (c[i].required && (kvm || strcmp(c[i].name, "kvm")))
			assert_int_not_equal(c[i].verdict, DOCTOR_FAIL);
	}
	/* Kernels before 6.4 (Debian 12's 6.1): a warning, mm falls back. */
	const struct doctor_check *u = find(c, n, "userfaultfd");
	struct mm_uffd_caps caps;

	mm_probe_uffd(&caps);
	if (caps.wp_multi_vma_err) {
		assert_int_equal(u->verdict, DOCTOR_WARN);
		assert_non_null(strstr(u->detail, "fallback"));
	} else {
		assert_int_equal(u->verdict, DOCTOR_OK);
	}
	assert_int_equal(find(c, n, "io_uring")->verdict, DOCTOR_OK);
	find(c, n, "vm.max_map_count");
	if (!kvm) {
		assert_int_equal(find(c, n, "kvm")->verdict, DOCTOR_FAIL);
		skip();
	}
	assert_int_equal(find(c, n, "kvm")->verdict, DOCTOR_OK);
	assert_int_not_equal(find(c, n, "kvm-caps")->verdict, DOCTOR_FAIL);
	assert_non_null(strstr(find(c, n, "guest-rings")->detail, "ring 0"));
}

static void test_ring_probe(void **state)
{
	struct ring_probe r;

	if (!have_kvm())
		skip();
	assert_int_equal(ring_probe__run(&r), 0);
	print_message("ring3 %.3f ns/iter, ring0 %.3f ns/iter, ratio %.0f, port io %d\n",
		      r.ring3_ns, r.ring0_ns, r.ratio, r.ring3_port_io);
	assert_true(r.ring3_ns > 0 && r.ring0_ns > 0);
	/* A countdown iteration cannot take a microsecond natively. */
	assert_true(r.ring3_ns < 100);
	assert_true(r.ring0_native == (r.ratio < 20));
}

static void test_uffd_probe(void **state)
{
	struct mm_uffd_caps caps;

	mm_probe_uffd(&caps);
	assert_int_equal(caps.open_err, 0);
	assert_int_equal(caps.wp_shmem_err, 0);
	/* -ENOENT before 6.4: mm then write-protects one VMA per call. */
	assert_true(caps.wp_multi_vma_err == 0 || caps.wp_multi_vma_err == -ENOENT);
	assert_true(caps.wp_per_vma == (caps.wp_multi_vma_err != 0 || caps.fallback_forced));
	assert_true(caps.features != 0);
}

static void test_report(void **state)
{
	struct doctor_check c[2] = {
		{.name = "a", .required = true, .verdict = DOCTOR_OK, .detail = "fine"},
		{.name = "b", .required = true, .verdict = DOCTOR_FAIL, .detail = "broken"},
	};
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	assert_int_equal(doctor__report(f, c, 2), 1);
	fclose(f);
	assert_non_null(strstr(buf, "FAIL  b"));
	assert_non_null(strstr(buf, "1 required check failed"));
	c[1].required = false;
	f = fmemopen(buf, sizeof(buf), "w");
	assert_int_equal(doctor__report(f, c, 2), 0);
	fclose(f);
	assert_non_null(strstr(buf, "(optional)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks_pass),
		cmocka_unit_test(test_ring_probe),
		cmocka_unit_test(test_uffd_probe),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
