/* test_log.c - bs_log_clean and bs_error helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <bootshelf/err.h>
#include <bootshelf/log.h>

static void clean_escapes(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(bs_log_clean(out, sizeof(out), "a\nb\\", 4),
			    "a\\x0ab\\x5c");
	assert_string_equal(bs_log_clean(out, sizeof(out), "\xff", 1), "\\xff");
	/* truncation never splits an escape and always terminates */
	assert_string_equal(bs_log_clean(out, 4, "\x01\x02", 2), "");
	assert_string_equal(bs_log_clean(out, 4, "abcdef", 6), "abc");
}

static void error_set_prefix(void **state)
{
	struct bs_error e;

	(void)state;
	bs_error_clear(&e);
	assert_int_equal(bs_error_set(&e, -EIO, "read %d", 5), -EIO);
	bs_error_prefix(&e, "x.iso");
	assert_string_equal(e.msg, "x.iso: read 5");
	assert_int_equal(bs_error_set(NULL, -ENOENT, "nothing"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_escapes),
		cmocka_unit_test(error_set_prefix),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
