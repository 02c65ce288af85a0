/* test_memo.c - remembered results: found again by identity, computed
 * again for another identity, the least recently used dropped past
 * BS_MEMO_MAX. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bootshelf/memo.h>

static unsigned reads;	/* pread calls of every fake source */

/* 64 bytes of the identity's ino, repeated. */
static ssize_t fake_pread(struct bs_source *s, void *buf, size_t len,
			  uint64_t off, uint64_t until)
{
	(void)until;
	reads++;
	if (off >= s->id.size)
		return 0;
	if (len > s->id.size - off)
		len = (size_t)(s->id.size - off);
	memset(buf, (int)(s->id.ino & 0xff), len);
	return (ssize_t)len;
}

static const struct bs_source_ops fake_ops = { .pread = fake_pread };

static struct bs_source *fake(uint64_t ino)
{
	struct bs_source_id id = { .dev = 9, .ino = ino, .size = 64 };
	struct bs_source *s;

	assert_int_equal(bs_source_new("fake", &id, &fake_ops, NULL, &s), 0);
	return s;
}

/* Digest of source @ino; how many reads it took. */
static unsigned digest(uint64_t ino, char hex[BS_DIGEST_HEX_MAX])
{
	struct bs_source *s = fake(ino);
	struct bs_error err = { 0 };
	unsigned before = reads;

	assert_int_equal(bs_memo_digest(s, BS_DIGEST_SHA256, hex, &err), 0);
	bs_source_unref(s);
	return reads - before;
}

static void remembered_per_identity(void **state)
{
	char a[BS_DIGEST_HEX_MAX], b[BS_DIGEST_HEX_MAX], c[BS_DIGEST_HEX_MAX];

	(void)state;
	assert_true(digest(1, a) > 0);
	assert_int_equal(digest(1, b), 0);	/* remembered */
	assert_string_equal(a, b);
	assert_true(digest(2, c) > 0);		/* another identity */
	assert_string_not_equal(a, c);
}

static void least_recently_used_dropped(void **state)
{
	char hex[BS_DIGEST_HEX_MAX];

	(void)state;
	for (uint64_t i = 100; i < 100 + BS_MEMO_MAX; i++)
		assert_true(digest(i, hex) > 0);
	/* all of them found again, oldest first (each becomes newest) */
	for (uint64_t i = 100; i < 100 + BS_MEMO_MAX; i++)
		assert_int_equal(digest(i, hex), 0);
	/* one more: the least recently used (100) goes, 101 stays */
	assert_true(digest(1u << 20, hex) > 0);
	assert_int_equal(digest(101, hex), 0);
	assert_true(digest(100, hex) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(remembered_per_identity),
		cmocka_unit_test(least_recently_used_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
