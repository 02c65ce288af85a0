/* test_text.c - the generated-text buffer: its own formatting of the
 * common conversions must write exactly what snprintf writes, and the
 * rest must fall back to printf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bootshelf/bootgen.h>

enum arg { A_NONE, A_INT, A_UINT, A_LL, A_ULL, A_ZU, A_STR, A_CHAR,
	   A_WIDTH_STR, A_PREC_STR, A_DBL };

static const struct {
	const char *fmt;
	enum arg kind;
	long long i;
	const char *s;
} vec[] = {
	{ "", A_NONE, 0, NULL },
	{ "plain text\n", A_NONE, 0, NULL },
	{ "100%% sure", A_NONE, 0, NULL },
	{ "%d", A_INT, 0, NULL },
	{ "%d", A_INT, -1, NULL },
	{ "%d", A_INT, INT32_MIN, NULL },
	{ "%i|", A_INT, 2147483647, NULL },
	{ "[%5d]", A_INT, -42, NULL },
	{ "[%-5d]", A_INT, -42, NULL },
	{ "[%05d]", A_INT, -42, NULL },
	{ "[%-05d]", A_INT, 42, NULL },
	{ "%u", A_UINT, 4294967295ll, NULL },
	{ "%02x:%02X", A_UINT, 10, NULL },
	{ "%08X", A_UINT, 0xC000025Bll, NULL },
	{ "%x", A_UINT, 0, NULL },
	{ "%lld", A_LL, INT64_MIN, NULL },
	{ "%llu", A_ULL, -1, NULL },
	{ "gen %llu.", A_ULL, 12345678901ll, NULL },
	{ "%zu nodes", A_ZU, 70000, NULL },
	{ "%s", A_STR, 0, "" },
	{ "<%s>", A_STR, 0, "a string" },
	{ "[%10s]", A_STR, 0, "right" },
	{ "[%-10s]", A_STR, 0, "left" },
	{ "[%.3s]", A_STR, 0, "truncated" },
	{ "[%-*s]", A_WIDTH_STR, 8, "star" },
	{ "[%*s]", A_WIDTH_STR, -8, "neg" },
	{ "[%.*s]", A_PREC_STR, 2, "precision" },
	{ "[%.*s]", A_PREC_STR, -1, "negative" },
	{ "%c%c", A_CHAR, 'x', NULL },
	{ "[%3c]", A_CHAR, 'y', NULL },
	/* printf's own: floating point, precision of integers */
	{ "%.2f", A_DBL, 0, NULL },
	{ "[%.4d]", A_INT, 7, NULL },
	{ "%hhd", A_INT, 300, NULL },
	{ "%p", A_STR, 0, "p" },
};

static void add(struct bs_text *t, char *want, size_t wl, size_t i)
{
	const char *f = vec[i].fmt;

	switch (vec[i].kind) {
	case A_NONE:
		bs_text_add(t, f, 0);
		snprintf(want, wl, f, 0);
		break;
	case A_INT:
		bs_text_add(t, f, (int)vec[i].i, (int)vec[i].i);
		snprintf(want, wl, f, (int)vec[i].i, (int)vec[i].i);
		break;
	case A_UINT:
		bs_text_add(t, f, (unsigned)vec[i].i, (unsigned)vec[i].i);
		snprintf(want, wl, f, (unsigned)vec[i].i, (unsigned)vec[i].i);
		break;
	case A_LL:
		bs_text_add(t, f, vec[i].i);
		snprintf(want, wl, f, vec[i].i);
		break;
	case A_ULL:
		bs_text_add(t, f, (unsigned long long)vec[i].i);
		snprintf(want, wl, f, (unsigned long long)vec[i].i);
		break;
	case A_ZU:
		bs_text_add(t, f, (size_t)vec[i].i);
		snprintf(want, wl, f, (size_t)vec[i].i);
		break;
	case A_STR:
		bs_text_add(t, f, vec[i].s);
		snprintf(want, wl, f, vec[i].s);
		break;
	case A_CHAR:
		bs_text_add(t, f, (int)vec[i].i, (int)vec[i].i);
		snprintf(want, wl, f, (int)vec[i].i, (int)vec[i].i);
		break;
	case A_WIDTH_STR:
	case A_PREC_STR:
		bs_text_add(t, f, (int)vec[i].i, vec[i].s);
		snprintf(want, wl, f, (int)vec[i].i, vec[i].s);
		break;
	case A_DBL:
		bs_text_add(t, f, 3.14159);
		snprintf(want, wl, f, 3.14159);
		break;
	}
}

static void formats_like_printf(void **state)
{
	char want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct bs_text t = { 0 };

		add(&t, want, sizeof(want), i);
		assert_false(t.failed);
		assert_non_null(t.buf);
		assert_string_equal(t.buf, want);
		assert_int_equal(t.len, strlen(want));
		bs_text_free(&t);
	}
}

/* Everything appended in one buffer, across growth from 0 to 64 KiB. */
static void appends_and_grows(void **state)
{
	struct bs_text t = { 0 };
	char *want = calloc(1, 1 << 17), one[256];
	size_t wl = 0;

	(void)state;
	for (int round = 0; round < 400; round++) {
		for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
			add(&t, one, sizeof(one), i);
			memcpy(want + wl, one, strlen(one) + 1);
			wl += strlen(one);
		}
		if (wl > 60000)
			break;
	}
	assert_false(t.failed);
	assert_int_equal(t.len, wl);
	assert_memory_equal(t.buf, want, wl + 1);
	bs_text_free(&t);
	free(want);
}

/* Past the cap: failed, and later additions do nothing. */
static void cap_fails(void **state)
{
	struct bs_text t = { .max = 2048 };
	char big[1500];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bs_text_add(&t, "%s", big);
	assert_false(t.failed);
	bs_text_add(&t, "%s", big);
	assert_true(t.failed);
	bs_text_add(&t, "more");
	assert_true(t.failed);
	bs_text_free(&t);
	/* the printf path honours the cap too */
	t = (struct bs_text){ .max = 1024 };
	bs_text_add(&t, "%2000.1f", 1.0);
	assert_true(t.failed);
	bs_text_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(formats_like_printf),
		cmocka_unit_test(appends_and_grows),
		cmocka_unit_test(cap_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
