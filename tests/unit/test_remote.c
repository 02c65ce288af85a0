/*
 * test_remote.c - the pure parts of remote sources: the block cache (LRU
 * order, size cap, short blocks, replacement), S3 request inputs (URL
 * and SigV4 provider string; libcurl does the signing itself),
 * credentials files, and identities from ETag/Last-Modified.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bootshelf/remote.h>


static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static void blockcache_lru_and_cap(void **state)
{
	struct bs_blockcache *c = bs_blockcache_new(64, 4 * 64);
	struct bs_blockcache_stats st;
	uint8_t blk[64], out[64], want[64];

	(void)state;
	assert_non_null(c);
	for (uint64_t i = 0; i < 4; i++) {
		fill(blk, 64, (uint8_t)i);
		assert_int_equal(bs_blockcache_put(c, 1, i, blk, 64), 0);
	}
	/* touch 0 so 1 is the least recently used */
	assert_int_equal(bs_blockcache_read(c, 1, 0, out, 0, 64), 1);
	fill(blk, 64, 9);
	assert_int_equal(bs_blockcache_put(c, 1, 4, blk, 64), 0);
	assert_int_equal(bs_blockcache_has(c, 1, 1), 0);
	assert_int_equal(bs_blockcache_has(c, 1, 0), 1);
	assert_int_equal(bs_blockcache_has(c, 1, 2), 1);
	assert_int_equal(bs_blockcache_has(c, 1, 4), 1);
	bs_blockcache_get_stats(c, &st);
	assert_int_equal(st.bytes, 4 * 64);
	assert_int_equal(st.blocks, 4);
	assert_int_equal(st.evictions, 1);
	/* partial read from the middle */
	fill(want, 64, 2);
	assert_int_equal(bs_blockcache_read(c, 1, 2, out, 10, 20), 1);
	assert_memory_equal(out, want + 10, 20);
	/* same index under another key is another block */
	assert_int_equal(bs_blockcache_read(c, 2, 2, out, 0, 1), 0);
	/* shrinking the cap evicts from the cold end */
	bs_blockcache_set_cap(c, 2 * 64);
	assert_int_equal(bs_blockcache_cap(c), 2 * 64);
	bs_blockcache_get_stats(c, &st);
	assert_int_equal(st.blocks, 2);
	assert_int_equal(st.cap, 2 * 64);
	assert_int_equal(bs_blockcache_has(c, 1, 4), 1);
	assert_int_equal(bs_blockcache_has(c, 1, 2), 1);
	bs_blockcache_free(c);
}

static void blockcache_short_and_replace(void **state)
{
	struct bs_blockcache *c = bs_blockcache_new(64, 64);
	struct bs_blockcache_stats st;
	uint8_t blk[64], out[64];

	(void)state;
	fill(blk, 64, 1);
	/* the last block of an object may be short; reads past it miss */
	assert_int_equal(bs_blockcache_put(c, 5, 0, blk, 10), 0);
	assert_int_equal(bs_blockcache_read(c, 5, 0, out, 0, 10), 1);
	assert_int_equal(bs_blockcache_read(c, 5, 0, out, 5, 6), 0);
	assert_int_equal(bs_blockcache_put(c, 5, 0, blk, 65), -EINVAL);
	/* replacing keeps the byte count right */
	assert_int_equal(bs_blockcache_put(c, 5, 0, blk, 20), 0);
	bs_blockcache_get_stats(c, &st);
	assert_int_equal(st.bytes, 20);
	assert_int_equal(st.blocks, 1);
	/* a cap of one block always keeps the newest */
	assert_int_equal(bs_blockcache_put(c, 5, 1, blk, 64), 0);
	bs_blockcache_get_stats(c, &st);
	assert_int_equal(st.blocks, 1);
	assert_int_equal(bs_blockcache_has(c, 5, 1), 1);
	/* a slot filled in place is handed over without a copy */
	struct bs_block *sl = bs_blockcache_slot_new(c);
	assert_non_null(sl);
	fill(blk, 64, 4);
	assert_int_equal(bs_blockcache_slot_write(c, sl, 0, blk, 20), 0);
	assert_int_equal(bs_blockcache_slot_write(c, sl, 20, blk + 20, 10),
			 0);
	assert_int_equal(bs_blockcache_slot_write(c, sl, 60, blk, 5),
			 -EINVAL);
	assert_int_equal(bs_blockcache_slot_read(c, sl, 5, out, 20), 0);
	assert_memory_equal(out, blk + 5, 20);
	assert_int_equal(bs_blockcache_put_slot(c, 6, 0, sl, 30), 0);
	assert_int_equal(bs_blockcache_read(c, 6, 0, out, 0, 30), 1);
	assert_memory_equal(out, blk, 30);
	bs_blockcache_slot_free(c, bs_blockcache_slot_new(c));
	bs_blockcache_free(c);
}

/* Many blocks through a small cache: the cap holds at every step. */
static void blockcache_cap_holds(void **state)
{
	struct bs_blockcache *c = bs_blockcache_new(100, 1000);
	struct bs_blockcache_stats st;
	uint8_t blk[100];

	(void)state;
	fill(blk, 100, 3);
	for (uint64_t i = 0; i < 500; i++) {
		assert_int_equal(bs_blockcache_put(c, i % 7, i, blk,
						   (size_t)(1 + i % 100)), 0);
		bs_blockcache_get_stats(c, &st);
		assert_true(st.bytes <= 1000);
	}
	bs_blockcache_free(c);
}

/* Slots filled in place, cached or freed in any order and taken again:
 * no two live slots share bytes, cached bytes stay intact while slots
 * are reused and punched out. */
static void blockcache_slots_recycled(void **state)
{
	struct bs_blockcache *c = bs_blockcache_new(4096, 8 * 4096);
	struct bs_block *sl[200];
	uint8_t want[4096], out[4096];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 200; i++) {
			sl[i] = bs_blockcache_slot_new(c);
			assert_non_null(sl[i]);
			fill(want, 4096, (uint8_t)(i + round));
			assert_int_equal(bs_blockcache_slot_write(c, sl[i], 0,
								  want, 4096),
					 0);
		}
		for (int i = 0; i < 200; i++) {
			fill(want, 4096, (uint8_t)(i + round));
			assert_int_equal(bs_blockcache_slot_read(c, sl[i], 0,
								 out, 4096),
					 0);
			assert_memory_equal(out, want, 4096);
		}
		/* the odd ones to the cache (most evicted at once), the
		 * even ones back unused */
		for (int i = 0; i < 200; i++) {
			if (i % 2)
				assert_int_equal(bs_blockcache_put_slot(c, 9,
						 (uint64_t)i, sl[i], 4096), 0);
			else
				bs_blockcache_slot_free(c, sl[i]);
		}
		for (int i = 199; i > 199 - 16; i -= 2) {
			fill(want, 4096, (uint8_t)(i + round));
			assert_int_equal(bs_blockcache_read(c, 9, (uint64_t)i,
							    out, 0, 4096), 1);
			assert_memory_equal(out, want, 4096);
		}
	}
	/* at least one block, whatever is asked */
	bs_blockcache_set_cap(c, 1);
	assert_int_equal(bs_blockcache_cap(c), 4096);
	bs_blockcache_free(c);
}

/* A pinned block keeps its bytes while it is evicted, replaced and its
 * slot would be reused; once unpinned the slot goes back. */
static void blockcache_pin_survives_eviction(void **state)
{
	struct bs_blockcache *c = bs_blockcache_new(4096, 2 * 4096);
	struct bs_blockcache_stats st;
	struct bs_piece p, q;
	uint8_t blk[4096], want[4096], out[4096];

	(void)state;
	fill(want, 4096, 1);
	assert_int_equal(bs_blockcache_put(c, 1, 0, want, 4096), 0);
	assert_int_equal(bs_blockcache_pin(c, 1, 0, 100, 200, &p), 1);
	assert_int_equal(bs_blockcache_pin(c, 1, 7, 0, 1, &q), 0);
	assert_true(p.fd >= 0);
	assert_int_equal(p.len, 200);
	/* replaced, then many blocks through the small cache */
	fill(blk, 4096, 2);
	assert_int_equal(bs_blockcache_put(c, 1, 0, blk, 4096), 0);
	for (uint64_t i = 1; i < 20; i++) {
		fill(blk, 4096, (uint8_t)(50 + i));
		assert_int_equal(bs_blockcache_put(c, 1, i, blk, 4096), 0);
	}
	assert_int_equal(pread(p.fd, out, p.len, (off_t)p.off), 200);
	assert_memory_equal(out, want + 100, 200);
	bs_blockcache_get_stats(c, &st);
	assert_true(st.bytes <= 2 * 4096);
	bs_blockcache_unpin(c, p.pin);
	/* a pin taken on a slot being filled outlives the slot's freeing */
	struct bs_block *sl = bs_blockcache_slot_new(c);
	assert_int_equal(bs_blockcache_slot_write(c, sl, 0, want, 4096), 0);
	bs_blockcache_pin_slot(c, sl, 10, 20, &q);
	bs_blockcache_slot_free(c, sl);
	for (uint64_t i = 30; i < 40; i++)
		assert_int_equal(bs_blockcache_put(c, 1, i, blk, 4096), 0);
	assert_int_equal(pread(q.fd, out, q.len, (off_t)q.off), 20);
	assert_memory_equal(out, want + 10, 20);
	bs_blockcache_unpin(c, q.pin);
	bs_blockcache_free(c);
}

struct s3vec {
	const char *in, *region, *endpoint;
	int rc;
	const char *url, *sig;
};

static const struct s3vec s3vecs[] = {
	{ "s3://bkt/a/b.iso", NULL, NULL, 0,
	  "https://s3.us-east-1.amazonaws.com/bkt/a/b.iso",
	  "aws:amz:us-east-1:s3" },
	{ "s3://bkt/x.iso", "eu-west-3", "http://127.0.0.1:9000/", 0,
	  "http://127.0.0.1:9000/bkt/x.iso", "aws:amz:eu-west-3:s3" },
	/* SigV4 canonical URI: space, '+', '%' and UTF-8 encoded; '/'
	 * and unreserved characters kept */
	{ "s3://my.bucket-1/d i r/a+b%c~_-.iso", "us-west-2", "", 0,
	  "https://s3.us-west-2.amazonaws.com/my.bucket-1/"
	  "d%20i%20r/a%2Bb%25c~_-.iso", "aws:amz:us-west-2:s3" },
	{ "s3://bkt/\xc3\xa9.iso", NULL, "https://minio:9000", 0,
	  "https://minio:9000/bkt/%C3%A9.iso", "aws:amz:us-east-1:s3" },
	{ "s3://bkt/", NULL, NULL, -EINVAL, NULL, NULL },
	{ "s3:///key", NULL, NULL, -EINVAL, NULL, NULL },
	{ "s3://bk/key", NULL, NULL, -EINVAL, NULL, NULL },
	{ "s3://Bucket/key", NULL, NULL, -EINVAL, NULL, NULL },
	{ "http://bkt/key", NULL, NULL, -EINVAL, NULL, NULL },
	{ "s3://bkt/key", "us east", NULL, -EINVAL, NULL, NULL },
	{ "s3://bkt/key", NULL, "ftp://x", -EINVAL, NULL, NULL },
};

static void s3_prepare_vectors(void **state)
{
	char url[512], sig[64];

	(void)state;
	for (size_t i = 0; i < sizeof(s3vecs) / sizeof(s3vecs[0]); i++) {
		const struct s3vec *v = &s3vecs[i];
		int rc = bs_s3_prepare(v->in, v->region, v->endpoint, url,
				       sizeof(url), sig, sizeof(sig));
		if (rc != v->rc)
			print_error("vector %zu: rc %d\n", i, rc);
		assert_int_equal(rc, v->rc);
		if (rc)
			continue;
		if (strcmp(url, v->url))
			print_error("vector %zu: %s\n", i, url);
		assert_string_equal(url, v->url);
		assert_string_equal(sig, v->sig);
	}
	/* too small an output buffer is refused, not truncated */
	assert_int_equal(bs_s3_prepare("s3://bkt/key", NULL, NULL, url, 20,
				       sig, sizeof(sig)), -ENAMETOOLONG);
}

static void s3_credentials(void **state)
{
	char k[64], s[64];

	(void)state;
	assert_int_equal(bs_s3_parse_credentials(
		"# bootshelf\n[default]\naccess_key = AKID\n"
		"secret_key=se cret \n", k, sizeof(k), s, sizeof(s)), 0);
	assert_string_equal(k, "AKID");
	assert_string_equal(s, "se cret");
	assert_int_equal(bs_s3_parse_credentials(
		"aws_access_key_id=A\r\naws_secret_access_key=B\r\n", k,
		sizeof(k), s, sizeof(s)), 0);
	assert_string_equal(k, "A");
	assert_string_equal(s, "B");
	assert_int_equal(bs_s3_parse_credentials("access_key = A\n", k,
						 sizeof(k), s, sizeof(s)),
			 -EINVAL);
	assert_int_equal(bs_s3_parse_credentials("access_key=\nsecret_key=x",
						 k, sizeof(k), s, sizeof(s)),
			 -EINVAL);
}

static void remote_identity(void **state)
{
	struct bs_source_id a, b;
	const char *lm = "Mon, 23 Nov 2026 15:07:00 GMT";

	(void)state;
	assert_int_equal(bs_remote_id("\"abc\"", lm, 100, &a), 0);
	assert_int_equal(a.dev, 0);
	assert_int_equal(a.size, 100);
	assert_int_equal(a.mtime_ns, 1795446420LL * 1000000000LL);
	/* deterministic */
	assert_int_equal(bs_remote_id("\"abc\"", lm, 100, &b), 0);
	assert_true(bs_source_id_equal(&a, &b));
	/* another ETag or size is another version */
	assert_int_equal(bs_remote_id("\"abd\"", lm, 100, &b), 0);
	assert_false(bs_source_id_equal(&a, &b));
	assert_int_equal(bs_remote_id("\"abc\"", lm, 101, &b), 0);
	assert_false(bs_source_id_equal(&a, &b));
	/* a weak ETag is not an identity: Last-Modified is used */
	assert_int_equal(bs_remote_id("W/\"x\"", lm, 100, &a), 0);
	assert_int_equal(bs_remote_id("W/\"y\"", lm, 100, &b), 0);
	assert_true(bs_source_id_equal(&a, &b));
	assert_int_equal(bs_remote_id("W/\"x\"", NULL, 100, &a), -EINVAL);
	assert_int_equal(bs_remote_id(NULL, NULL, 100, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blockcache_lru_and_cap),
		cmocka_unit_test(blockcache_short_and_replace),
		cmocka_unit_test(blockcache_cap_holds),
		cmocka_unit_test(blockcache_slots_recycled),
		cmocka_unit_test(blockcache_pin_survives_eviction),
		cmocka_unit_test(s3_prepare_vectors),
		cmocka_unit_test(s3_credentials),
		cmocka_unit_test(remote_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
