// SPDX-License-Identifier: MIT
/* test-size: size__parse, suite vmm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "size.h"

static void test_valid(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} cases[] = {
		{"0", 0},	  {"4096", 4096},	     {"4K", 4096},
		{"4k", 4096},	  {"64M", 64ULL << 20},	     {"64MiB", 64ULL << 20},
		{"1G", 1ULL << 30}, {"1gb", 1ULL << 30},	     {"2T", 2ULL << 40},
		{"16777215T", 16777215ULL << 40}, {"18446744073709551615", UINT64_MAX},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 1;

		assert_int_equal(size__parse(cases[i].s, &v), 0);
		assert_true(v == cases[i].v);
	}
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {"", "M", "-1", " 1", "1 ", "1X", "1MM", "1.5G", "0x10",
					  "1Mi", "1KiBs"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;

		assert_int_equal(size__parse(bad[i], &v), -EINVAL);
		assert_true(v == 7); /* untouched on failure */
	}
	assert_int_equal(size__parse(NULL, NULL), -EINVAL);
}

static void test_overflow(void **state)
{
	uint64_t v = 7;

	assert_int_equal(size__parse("18446744073709551616", &v), -ERANGE);
	assert_int_equal(size__parse("16777216T", &v), -ERANGE);
	assert_int_equal(size__parse("99999999999999999999999G", &v), -ERANGE);
	assert_true(v == 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
