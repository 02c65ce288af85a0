/* test_segment.c - blobs: building, reading across segments, extents,
 * short sources; newc headers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit_util.h"

#include <bootshelf/cpio.h>
#include <bootshelf/segment.h>

/* A source over a temporary file that is already unlinked. */
static struct bs_source *temp_src(const uint8_t *data, size_t len)
{
	char path[] = "/tmp/bs-unit-XXXXXX";
	struct bs_source *s = temp_source(data, len, path);

	unlink(path);
	return s;
}

static void blob_read_spans_segments(void **state)
{
	uint8_t data[100], out[200], want[200];
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	struct bs_source *src;

	(void)state;
	for (int i = 0; i < 100; i++)
		data[i] = (uint8_t)(i + 1);
	src = temp_src(data, sizeof(data));
	/* want = data[10..40) "hdr" 5 zeros data[50..100) */
	bs_blob_add_source(&b, src, 10, 30);
	bs_blob_add_bytes(&b, "hdr", 3);
	bs_blob_add_zero(&b, 5);
	bs_blob_add_source(&b, src, 50, 50);
	assert_int_equal(bs_blob_finish(&b, &blob), 0);
	assert_int_equal(blob->size, 88);
	memcpy(want, data + 10, 30);
	memcpy(want + 30, "hdr", 3);
	memset(want + 33, 0, 5);
	memcpy(want + 38, data + 50, 50);
	/* every offset and length, so every boundary is crossed */
	for (size_t off = 0; off <= 88; off++) {
		for (size_t len = 0; len <= 90; len += 7) {
			ssize_t n = bs_blob_read(blob, out, len, off);
			size_t exp = off >= 88 ? 0 :
				     (len < 88 - off ? len : 88 - off);
			assert_int_equal(n, (ssize_t)exp);
			assert_memory_equal(out, want + off, exp);
		}
	}
	bs_blob_unref(blob);
	bs_source_unref(src);
}

static void adjacent_source_ranges_merge(void **state)
{
	uint8_t data[64] = { 0 };
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	struct bs_source *src = temp_src(data, sizeof(data));

	(void)state;
	bs_blob_add_source(&b, src, 0, 16);
	bs_blob_add_source(&b, src, 16, 16);
	bs_blob_add_zero(&b, 1);
	bs_blob_add_zero(&b, 2);
	bs_blob_add_source(&b, src, 0, 0);	/* empty: ignored */
	assert_int_equal(bs_blob_finish(&b, &blob), 0);
	assert_int_equal(blob->nseg, 2);
	assert_int_equal(blob->size, 35);
	bs_blob_unref(blob);
	bs_source_unref(src);
}

static void extents_describe_ranges(void **state)
{
	uint8_t data[32] = { 0 };
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	struct bs_extent ex[2];
	struct bs_source *src = temp_src(data, sizeof(data));
	size_t covered, n;

	(void)state;
	bs_blob_add_bytes(&b, "abcd", 4);
	bs_blob_add_source(&b, src, 8, 20);
	bs_blob_add_zero(&b, 10);
	assert_int_equal(bs_blob_finish(&b, &blob), 0);
	n = bs_blob_extents(blob, 2, 100, ex, 2, &covered);
	assert_int_equal(n, 2);
	assert_int_equal(covered, 22);	/* clipped at max extents */
	assert_int_equal(ex[0].kind, BS_SEG_BYTES);
	assert_memory_equal(ex[0].bytes, "cd", 2);
	assert_int_equal(ex[1].kind, BS_SEG_SOURCE);
	assert_int_equal(ex[1].fd, src->fd);
	assert_int_equal(ex[1].off, 8);
	assert_int_equal(ex[1].len, 20);
	n = bs_blob_extents(blob, 30, 100, ex, 2, &covered);
	assert_int_equal(n, 1);
	assert_int_equal(covered, 4);
	assert_int_equal(bs_blob_extents(blob, 34, 1, ex, 2, &covered), 0);
	bs_blob_unref(blob);
	bs_source_unref(src);
}

static void shrunk_source_is_eio_not_zeros(void **state)
{
	uint8_t data[16] = { 1 };
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	struct bs_source *src = temp_src(data, sizeof(data));
	uint8_t out[64];

	(void)state;
	/* a segment longer than the file: as if the ISO was truncated */
	bs_blob_add_source(&b, src, 0, 32);
	assert_int_equal(bs_blob_finish(&b, &blob), 0);
	assert_int_equal(bs_blob_read(blob, out, 32, 0), -EIO);
	assert_int_equal(bs_blob_read(blob, out, 8, 0), 8);
	bs_blob_unref(blob);
	bs_source_unref(src);
}

static void cpio_header_layout(void **state)
{
	uint8_t h[256];
	size_t n;

	(void)state;
	/* 110 + "a.iso\0" = 116, already aligned (the manual's example) */
	n = bs_cpio_header(h, "a.iso", 0100644, 5, 1, 0);
	assert_int_equal(n, 116);
	assert_memory_equal(h, "070701", 6);
	assert_memory_equal(h + 6 + 6 * 8, "00000005", 8);	/* filesize */
	assert_memory_equal(h + 6 + 11 * 8, "00000006", 8);	/* namesize */
	assert_memory_equal(h + 110, "a.iso\0", 6);
	assert_int_equal(bs_cpio_pad(5), 3);
	assert_int_equal(bs_cpio_pad(8), 0);
	/* "TRAILER!!!" 110+11 = 121 -> 124 */
	assert_int_equal(bs_cpio_header(h, "TRAILER!!!", 0, 0, 0, 0), 124);
	assert_int_equal(bs_cpio_header_len("TRAILER!!!"), 124);
	/* newc cannot describe 4 GiB */
	assert_int_equal(bs_cpio_header(h, "big", 0100644, 1ULL << 32, 1, 0),
			 0);
	assert_int_not_equal(bs_cpio_header(h, "max", 0100644,
					    0xffffffffULL, 1, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blob_read_spans_segments),
		cmocka_unit_test(adjacent_source_ranges_merge),
		cmocka_unit_test(extents_describe_ranges),
		cmocka_unit_test(shrunk_source_is_eio_not_zeros),
		cmocka_unit_test(cpio_header_layout),
	};
	return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
