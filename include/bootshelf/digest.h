/*
 * digest.h - SHA-256 (FIPS 180-4) and MD5 (RFC 1321), streaming.
 *
 * Used to verify catalog sha256= values against an ISO and to serve the
 * .md5 files KIWI PXE clients fetch beside their images.  Written from
 * the specifications so that no crypto library is linked for two hashes;
 * nothing here is meant for signatures or secrets (MD5 is broken for
 * that), only for detecting a wrong or damaged file.
 */
#ifndef BOOTSHELF_DIGEST_H
#define BOOTSHELF_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <bootshelf/err.h>
#include <bootshelf/segment.h>

enum bs_digest_alg { BS_DIGEST_SHA256 = 0, BS_DIGEST_MD5 };

#define BS_DIGEST_MAX 32		/* bytes of the longest digest */
#define BS_DIGEST_HEX_MAX 65		/* 64 hex digits + NUL */

/* Streaming state.  Plain data: zero-initialise through _init. */
struct bs_digest {
	enum bs_digest_alg alg;
	uint32_t h[8];			/* SHA-256: 8 words, MD5: 4 */
	uint64_t len;			/* bytes fed so far */
	uint8_t buf[64];		/* partial block */
	size_t nbuf;
};

/* Digest length in bytes (32 or 16), 0 for an unknown algorithm. */
size_t bs_digest_len(enum bs_digest_alg alg);
/* "sha256" or "md5". */
const char *bs_digest_name(enum bs_digest_alg alg);

void bs_digest_init(struct bs_digest *d, enum bs_digest_alg alg);
void bs_digest_update(struct bs_digest *d, const void *p, size_t n);
/* Write bs_digest_len() bytes to @out.  @d must be re-inited to reuse. */
void bs_digest_final(struct bs_digest *d, uint8_t *out);

/* Lower-case hex of @n bytes into @hex (2n+1 bytes). */
void bs_digest_hex(const uint8_t *bin, size_t n, char *hex);

/**
 * Digest a whole blob, reading it in 1 MiB chunks.
 * @v hex_out  lower-case hex digest, NUL-terminated
 * @ret 0, -EIO (read failed, message in @err), -ENOMEM, -EINVAL
 */
int bs_digest_blob(const struct bs_blob *b, enum bs_digest_alg alg,
		   char hex_out[BS_DIGEST_HEX_MAX], struct bs_error *err);

#endif
