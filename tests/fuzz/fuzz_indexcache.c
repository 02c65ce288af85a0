/*
 * fuzz_indexcache.c - libFuzzer entry point for the on-disk index cache
 * reader: bytes go to bs_idx_deserialize() (no path or identity to
 * match); an accepted index (with its initrd inspection, if any) is
 * serialized again and must read back.  The first byte picks the mode:
 * odd wraps the rest as the file's payload (zstd frame, right lengths
 * and crc) so mutations reach the record parser behind the checksum;
 * even hands the rest over as a whole file (header checks).
 * Not built by the Makefile; by hand:
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Ilib
 *     -D_GNU_SOURCE tests/fuzz/fuzz_indexcache.c lib/isocache_disk.c
 *     lib/isoindex.c lib/iso9660_check.c lib/source.c lib/segment.c
 *     lib/log.c lib/err.c -lisofs -lzstd -lz -o fuzz_indexcache
 *   ./fuzz_indexcache
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "isocache_i.h"

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A well-formed cache file around @raw; NULL when out of memory. */
static uint8_t *wrap(const uint8_t *raw, size_t rawlen, size_t *len)
{
	size_t bound = ZSTD_compressBound(rawlen), clen;
	uint8_t *f = malloc(BS_IDX_HDR + bound);

	if (!f)
		return NULL;
	clen = ZSTD_compress(f + BS_IDX_HDR, bound, raw, rawlen, 1);
	if (ZSTD_isError(clen)) {
		free(f);
		return NULL;
	}
	memset(f, 0, BS_IDX_HDR);
	memcpy(f, BS_IDX_MAGIC, 8);
	f[8] = BS_IDX_VERSION;
	put_le(f + 12, crc32(0L, raw, (uInt)rawlen), 4);
	put_le(f + 16, rawlen, 8);
	put_le(f + 24, clen, 8);
	*len = BS_IDX_HDR + clen;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct bs_source_ops ops = { 0 };
	struct bs_bootinfo bi, bi2;
	struct bs_idx_scan scan;
	struct bs_iso *iso = NULL, *again = NULL;
	struct bs_source *src;
	struct bs_source_id id = { 0 };
	uint8_t *buf, *file = NULL;
	size_t len;
	int rc;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		if (!(file = wrap(data + 1, size - 1, &len)))
			return 0;
		rc = bs_idx_deserialize(file, len, NULL, NULL, &iso, &bi,
					&scan);
		free(file);
	} else {
		rc = bs_idx_deserialize(data + 1, size - 1, NULL, NULL, &iso,
					&bi, &scan);
	}
	if (rc < 0)
		return 0;
	/* serialize needs a source for the identity it records */
	id.size = iso->image_size;
	if (bs_source_new("fuzz", &id, &ops, NULL, &src) < 0) {
		bs_iso_unref(iso);
		return 0;
	}
	iso->src = src;
	if (bs_idx_serialize("fuzz", iso, &bi, &scan, &buf, &len) == 0) {
		if (bs_idx_deserialize(buf, len, "fuzz", src, &again,
				       &bi2, NULL) < 0)
			__builtin_trap();	/* writer, reader disagree */
		bs_iso_unref(again);
		free(buf);
	}
	bs_iso_unref(iso);
	return 0;
}
