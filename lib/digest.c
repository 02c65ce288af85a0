/*
 * digest.c - SHA-256 (FIPS 180-4 section 6.2) and MD5 (RFC 1321), one
 * 64-byte block at a time, plus a blob helper reading in large chunks.
 *
 * Plain portable C, no SHA-NI or assembler: a 4 GiB ISO hashes at a few
 * hundred MB/s, which is fine for a check done once per new ISO.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/digest.h>

#define CHUNK (1u << 20)

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;

	for (int t = 0; t < 16; t++)
		w[t] = (uint32_t)p[4 * t] << 24 |
		       (uint32_t)p[4 * t + 1] << 16 |
		       (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^
			      (w[t - 15] >> 3);
		uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^
			      (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha_k[t] + w[t];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

/* RFC 1321 3.4: per-round shifts and T[i] = floor(2^32 * |sin(i + 1)|) */
static const uint8_t md5_s[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf,
	0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af,
	0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e,
	0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6,
	0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
	0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97,
	0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d,
	0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3];

	for (int i = 0; i < 16; i++)
		x[i] = p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 |
		       (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int k;

		if (i < 16) {
			f = (b & c) | (~b & d);
			k = i;
		} else if (i < 32) {
			f = (b & d) | (c & ~d);
			k = (5 * i + 1) & 15;
		} else if (i < 48) {
			f = b ^ c ^ d;
			k = (3 * i + 5) & 15;
		} else {
			f = c ^ (b | ~d);
			k = (7 * i) & 15;
		}
		f = a + f + md5_t[i] + x[k];
		a = d;
		d = c;
		c = b;
		b = b + rol(f, md5_s[i]);
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
}

size_t bs_digest_len(enum bs_digest_alg alg)
{
	return alg == BS_DIGEST_SHA256 ? 32 : alg == BS_DIGEST_MD5 ? 16 : 0;
}

const char *bs_digest_name(enum bs_digest_alg alg)
{
	return alg == BS_DIGEST_SHA256 ? "sha256" :
	       alg == BS_DIGEST_MD5 ? "md5" : "?";
}

void bs_digest_init(struct bs_digest *d, enum bs_digest_alg alg)
{
	static const uint32_t sha_h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	static const uint32_t md5_h0[4] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
	};

	memset(d, 0, sizeof(*d));
	d->alg = alg;
	if (alg == BS_DIGEST_SHA256)
		memcpy(d->h, sha_h0, sizeof(sha_h0));
	else
		memcpy(d->h, md5_h0, sizeof(md5_h0));
}

static void block(struct bs_digest *d, const uint8_t *p)
{
	if (d->alg == BS_DIGEST_SHA256)
		sha256_block(d->h, p);
	else
		md5_block(d->h, p);
}

void bs_digest_update(struct bs_digest *d, const void *data, size_t n)
{
	const uint8_t *p = data;

	d->len += n;
	if (d->nbuf) {
		size_t k = 64 - d->nbuf < n ? 64 - d->nbuf : n;

		memcpy(d->buf + d->nbuf, p, k);
		d->nbuf += k;
		p += k;
		n -= k;
		if (d->nbuf < 64)
			return;
		block(d, d->buf);
		d->nbuf = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		block(d, p);
	memcpy(d->buf, p, n);
	d->nbuf = n;
}

void bs_digest_final(struct bs_digest *d, uint8_t *out)
{
	uint64_t bits = d->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (d->nbuf < 56 ? 56 : 120) - d->nbuf;

	/* Length: big-endian for SHA-256, little-endian for MD5. */
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = d->alg == BS_DIGEST_SHA256 ?
				  (uint8_t)(bits >> (56 - 8 * i)) :
				  (uint8_t)(bits >> (8 * i));
	bs_digest_update(d, pad, padlen + 8);
	if (d->alg == BS_DIGEST_SHA256) {
		for (int i = 0; i < 8; i++)
			for (int j = 0; j < 4; j++)
				out[4 * i + j] = (uint8_t)(d->h[i] >>
							   (24 - 8 * j));
	} else {
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++)
				out[4 * i + j] = (uint8_t)(d->h[i] >> (8 * j));
	}
}

void bs_digest_hex(const uint8_t *bin, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * n] = '\0';
}

int bs_digest_blob(const struct bs_blob *b, enum bs_digest_alg alg,
		   char hex_out[BS_DIGEST_HEX_MAX], struct bs_error *err)
{
	struct bs_digest d;
	uint8_t bin[BS_DIGEST_MAX], *buf;
	uint64_t off = 0;

	hex_out[0] = '\0';
	if (!bs_digest_len(alg))
		return bs_error_set(err, -EINVAL, "unknown digest %d",
				    (int)alg);
	buf = malloc(CHUNK);
	if (!buf)
		return bs_error_set(err, -ENOMEM, "out of memory");
	bs_digest_init(&d, alg);
	while (off < b->size) {
		size_t want = b->size - off < CHUNK ? (size_t)(b->size - off) :
						      CHUNK;
		ssize_t n = bs_blob_read(b, buf, want, off);

		if (n <= 0) {
			free(buf);
			return bs_error_set(err, n < 0 ? (int)n : -EIO,
					    "%s: read at %" PRIu64 " failed",
					    bs_digest_name(alg), off);
		}
		bs_digest_update(&d, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	bs_digest_final(&d, bin);
	bs_digest_hex(bin, bs_digest_len(alg), hex_out);
	return 0;
}
