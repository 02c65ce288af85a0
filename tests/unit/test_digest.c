/* test_digest.c - SHA-256 and MD5 against the FIPS 180-4 / RFC 1321 test
 * vectors, fed whole, split at every offset and byte by byte; blobs. */
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

#include <bootshelf/digest.h>
#include <bootshelf/segment.h>

struct vec {
	enum bs_digest_alg alg;
	const char *msg;
	size_t repeat;		/* msg repeated this many times (0 = 1) */
	const char *hex;
	int line;
};

#define S BS_DIGEST_SHA256
#define M BS_DIGEST_MD5
static const struct vec vecs[] = {
	/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", SHS vectors) */
	{ S, "", 0, "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855", __LINE__ },
	{ S, "abc", 0, "ba7816bf8f01cfea414140de5dae2223"
		       "b00361a396177a9cb410ff61f20015ad", __LINE__ },
	{ S, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	  "248d6a61d20638b8e5c026930c3e6039"
	  "a33ce45964ff2167f6ecedd419db06c1", __LINE__ },
	{ S, "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
			   "f1809a48a497200e046d39ccc7112cd0", __LINE__ },
	/* RFC 1321 appendix A.5 */
	{ M, "", 0, "d41d8cd98f00b204e9800998ecf8427e", __LINE__ },
	{ M, "a", 0, "0cc175b9c0f1b6a831c399e269772661", __LINE__ },
	{ M, "abc", 0, "900150983cd24fb0d6963f7d28e17f72", __LINE__ },
	{ M, "message digest", 0, "f96b697d7cb7938d525a2f31aaf161d0",
	  __LINE__ },
	{ M, "abcdefghijklmnopqrstuvwxyz", 0,
	  "c3fcd3d76192e4007dfb496cca67e13b", __LINE__ },
	{ M, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	  0, "d174ab98d277d9f5a5611c2c9f419d9f", __LINE__ },
	{ M, "1234567890", 8, "57edf4a22be3c955ac49da2e2107b67a", __LINE__ },
	/* the SHA vectors' 448-bit message and a million 'a' under MD5
	 * (values as md5sum prints them) */
	{ M, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	  "8215ef0796a20bcaaae116d3876c664a", __LINE__ },
	{ M, "a", 1000000, "7707d6ae4e027c70eea2a935c2296f21", __LINE__ },
};

static uint8_t *expand(const struct vec *v, size_t *len)
{
	size_t n = strlen(v->msg), r = v->repeat ? v->repeat : 1;
	uint8_t *p = malloc(n * r + 1);

	assert_non_null(p);
	for (size_t i = 0; i < r; i++)
		memcpy(p + i * n, v->msg, n);
	*len = n * r;
	return p;
}

static void hex_of(enum bs_digest_alg alg, const uint8_t *p, size_t n,
		   size_t split, char *hex)
{
	struct bs_digest d;
	uint8_t bin[BS_DIGEST_MAX];

	bs_digest_init(&d, alg);
	if (split == 1) {
		for (size_t i = 0; i < n; i++)
			bs_digest_update(&d, p + i, 1);
	} else {
		size_t k = split < n ? split : n;
		bs_digest_update(&d, p, k);
		bs_digest_update(&d, p + k, n - k);
	}
	bs_digest_final(&d, bin);
	bs_digest_hex(bin, bs_digest_len(alg), hex);
}

static void vec_okx(const struct vec *v)
{
	char hex[BS_DIGEST_HEX_MAX];
	size_t n;
	uint8_t *p = expand(v, &n);

	hex_of(v->alg, p, n, n, hex);
	if (strcmp(hex, v->hex))
		fail_msg("vector at line %d: got %s", v->line, hex);
	/* byte by byte crosses every block boundary */
	hex_of(v->alg, p, n, 1, hex);
	if (strcmp(hex, v->hex))
		fail_msg("vector at line %d, bytewise: got %s", v->line, hex);
	/* every split point of the short ones (padding at 55/56/64) */
	for (size_t s = 0; n < 200 && s <= n; s++) {
		hex_of(v->alg, p, n, s, hex);
		if (strcmp(hex, v->hex))
			fail_msg("vector at line %d split %zu: got %s",
				 v->line, s, hex);
	}
	free(p);
}

static void vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		vec_okx(&vecs[i]);
}

/* Lengths around the padding boundary: 55 fits one block, 56 needs two.
 * Expected values from sha256sum/md5sum of that many 'a'. */
static void padding_boundaries(void **state)
{
	static const struct {
		size_t n;
		const char *sha, *md5;
	} t[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9a"
		      "e9b0a925a5258e241c9f1e910f734318",
		  "ef1772b6dff9a122358552954ad0df65" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f"
		      "590ce20f1bde7090ef7970686ec6738a",
		  "3b0c8ac703f828b04c6c197006d17218" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209"
		      "f439851db43d0ba5997337df154668eb",
		  "014842d480b571495a4a0363793f7367" },
	};
	uint8_t buf[64];
	char hex[BS_DIGEST_HEX_MAX];

	(void)state;
	memset(buf, 'a', sizeof(buf));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		hex_of(BS_DIGEST_SHA256, buf, t[i].n, t[i].n, hex);
		assert_string_equal(hex, t[i].sha);
		hex_of(BS_DIGEST_MD5, buf, t[i].n, t[i].n, hex);
		assert_string_equal(hex, t[i].md5);
	}
}

/* A million 'a' made of a file, inline bytes and more file; then the
 * file shrinks and the digest fails instead of hashing zeros. */
static void blob_digest(void **state)
{
	size_t n = 1000000;
	uint8_t *a = malloc(n);
	char path[] = "/tmp/bs-digest-XXXXXX", hex[BS_DIGEST_HEX_MAX];
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	struct bs_source *src;
	struct bs_error e;

	(void)state;
	assert_non_null(a);
	memset(a, 'a', n);
	src = temp_source(a, 600000, path);
	bs_blob_add_source(&b, src, 0, 600000);
	bs_blob_add_bytes(&b, a, 1);
	bs_blob_add_source(&b, src, 1, 399999);
	assert_int_equal(bs_blob_finish(&b, &blob), 0);
	assert_int_equal(blob->size, n);
	assert_int_equal(bs_digest_blob(blob, BS_DIGEST_SHA256, hex, &e), 0);
	assert_string_equal(hex, vecs[3].hex);
	assert_int_equal(bs_digest_blob(blob, BS_DIGEST_MD5, hex, &e), 0);
	assert_string_equal(hex, "7707d6ae4e027c70eea2a935c2296f21");
	assert_int_equal(truncate(path, 1000), 0);
	assert_int_equal(bs_digest_blob(blob, BS_DIGEST_SHA256, hex, &e),
			 -EIO);
	assert_string_equal(hex, "");
	assert_non_null(strstr(e.msg, "sha256"));
	assert_int_equal(bs_digest_blob(blob, (enum bs_digest_alg)7, hex, &e),
			 -EINVAL);
	unlink(path);
	bs_blob_unref(blob);
	bs_source_unref(src);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors),
		cmocka_unit_test(padding_boundaries),
		cmocka_unit_test(blob_digest),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
