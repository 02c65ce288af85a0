/*
 * initrd_decomp.c - streaming decompression of ONE initrd member: gzip
 * (zlib), xz and legacy lzma (liblzma), zstd (libzstd).
 *
 * Each decoder stops at the end of the first stream/frame, as the
 * kernel's decompressors do, so the caller learns exactly how many input
 * bytes the member took.  Memory is capped (IRD_DECOMP_MEMLIMIT for xz
 * and lzma, libzstd's default 128 MiB window limit for zstd) instead of
 * trusting the header's dictionary or window size; a member beyond the
 * cap is reported as not followed (-E2BIG), not as corrupt.  bzip2, lzo and
 * lz4 are not followed (-ENOTSUP): no library for them is linked.
 */
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "initrd_i.h"

struct ird_decomp {
	enum bs_initrd_fmt fmt;
	z_stream z;
	lzma_stream x;
	ZSTD_DCtx *zd;
	int live;		/* z or x initialised */
	char why[80];
};

int ird_decomp_new(enum bs_initrd_fmt fmt, struct ird_decomp **out)
{
	struct ird_decomp *d = calloc(1, sizeof(*d));
	lzma_stream init = LZMA_STREAM_INIT;
	int rc = -ENOMEM;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->fmt = fmt;
	d->x = init;
	switch (fmt) {
	case BS_IRDF_GZIP:
		/* 16 + MAX_WBITS: gzip wrapper only, like the kernel. */
		if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)
			goto err_free;
		break;
	case BS_IRDF_XZ:
		/* No LZMA_CONCATENATED: one stream, as the kernel's unxz. */
		if (lzma_stream_decoder(&d->x, IRD_DECOMP_MEMLIMIT, 0) !=
		    LZMA_OK)
			goto err_free;
		break;
	case BS_IRDF_LZMA:
		if (lzma_alone_decoder(&d->x, IRD_DECOMP_MEMLIMIT) != LZMA_OK)
			goto err_free;
		break;
	case BS_IRDF_ZSTD:
		d->zd = ZSTD_createDCtx();
		if (!d->zd)
			goto err_free;
		break;
	default:
		rc = -ENOTSUP;
		goto err_free;
	}
	d->live = 1;
	*out = d;
	return 0;

err_free:
	free(d);
	return rc;
}

static int step_gzip(struct ird_decomp *d, const uint8_t *in, size_t inlen,
		     size_t *used, uint8_t *out, size_t outcap,
		     size_t *produced)
{
	int zr;

	/* zlib counts in uInt; hand it at most 1 GiB at a time. */
	d->z.next_in = (Bytef *)in;
	d->z.avail_in = (uInt)(inlen < (1u << 30) ? inlen : (1u << 30));
	d->z.next_out = out;
	d->z.avail_out = (uInt)(outcap < (1u << 30) ? outcap : (1u << 30));
	zr = inflate(&d->z, Z_NO_FLUSH);
	*used = (size_t)(d->z.next_in - (Bytef *)in);
	*produced = (size_t)(d->z.next_out - out);
	if (zr == Z_STREAM_END)
		return 1;
	if (zr == Z_OK || zr == Z_BUF_ERROR)
		return 0;
	if (zr == Z_MEM_ERROR)
		return -ENOMEM;
	snprintf(d->why, sizeof(d->why), "gzip: %s",
		 d->z.msg ? d->z.msg : "corrupt data");
	return -EBADMSG;
}

static int step_lzma(struct ird_decomp *d, const uint8_t *in, size_t inlen,
		     size_t *used, uint8_t *out, size_t outcap,
		     size_t *produced)
{
	const char *fmt = d->fmt == BS_IRDF_XZ ? "xz" : "lzma";
	lzma_ret lr;

	d->x.next_in = in;
	d->x.avail_in = inlen;
	d->x.next_out = out;
	d->x.avail_out = outcap;
	lr = lzma_code(&d->x, LZMA_RUN);
	*used = inlen - d->x.avail_in;
	*produced = outcap - d->x.avail_out;
	switch (lr) {
	case LZMA_STREAM_END:
		return 1;
	case LZMA_OK:
	case LZMA_BUF_ERROR:
		return 0;
	case LZMA_MEM_ERROR:
		return -ENOMEM;
	case LZMA_MEMLIMIT_ERROR:
		snprintf(d->why, sizeof(d->why), "%s: needs more than %u MiB",
			 fmt, IRD_DECOMP_MEMLIMIT >> 20);
		return -E2BIG;
	case LZMA_FORMAT_ERROR:
		snprintf(d->why, sizeof(d->why), "%s: bad header", fmt);
		return -EBADMSG;
	case LZMA_OPTIONS_ERROR:
		snprintf(d->why, sizeof(d->why), "%s: unsupported options",
			 fmt);
		return -EBADMSG;
	default:
		snprintf(d->why, sizeof(d->why), "%s: corrupt data (%d)", fmt,
			 (int)lr);
		return -EBADMSG;
	}
}

static int step_zstd(struct ird_decomp *d, const uint8_t *in, size_t inlen,
		     size_t *used, uint8_t *out, size_t outcap,
		     size_t *produced)
{
	ZSTD_inBuffer ib = { in, inlen, 0 };
	ZSTD_outBuffer ob = { out, outcap, 0 };
	size_t zr = ZSTD_decompressStream(d->zd, &ob, &ib);

	*used = ib.pos;
	*produced = ob.pos;
	if (ZSTD_isError(zr)) {
		snprintf(d->why, sizeof(d->why), "zstd: %s",
			 ZSTD_getErrorName(zr));
		if (ZSTD_getErrorCode(zr) ==
		    ZSTD_error_frameParameter_windowTooLarge)
			return -E2BIG;
		return -EBADMSG;
	}
	/* 0: the frame is decoded and flushed; stop at its end. */
	return zr == 0 ? 1 : 0;
}

int ird_decomp_step(struct ird_decomp *d, const uint8_t *in, size_t inlen,
		    size_t *used, uint8_t *out, size_t outcap,
		    size_t *produced)
{
	*used = *produced = 0;
	switch (d->fmt) {
	case BS_IRDF_GZIP:
		return step_gzip(d, in, inlen, used, out, outcap, produced);
	case BS_IRDF_XZ:
	case BS_IRDF_LZMA:
		return step_lzma(d, in, inlen, used, out, outcap, produced);
	case BS_IRDF_ZSTD:
		return step_zstd(d, in, inlen, used, out, outcap, produced);
	default:
		return -ENOTSUP;
	}
}

const char *ird_decomp_why(const struct ird_decomp *d)
{
	return d->why[0] ? d->why : "corrupt data";
}

void ird_decomp_free(struct ird_decomp *d)
{
	if (!d)
		return;
	if (d->live && d->fmt == BS_IRDF_GZIP)
		inflateEnd(&d->z);
	if (d->live && (d->fmt == BS_IRDF_XZ || d->fmt == BS_IRDF_LZMA))
		lzma_end(&d->x);
	ZSTD_freeDCtx(d->zd);
	free(d);
}
