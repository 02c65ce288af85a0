/*
 * fuzz_indexcache.c - libFuzzer entry point for the on-disk index cache
 * reader: any bytes go to bs_idx_deserialize() (no path or identity to
 * match); an accepted index (with its initrd inspection, if any) is
 * serialized again and must read back.
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

#include "isocache_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct bs_source_ops ops = { 0 };
	struct bs_bootinfo bi, bi2;
	struct bs_idx_scan scan;
	struct bs_iso *iso = NULL, *again = NULL;
	struct bs_source *src;
	struct bs_source_id id = { 0 };
	uint8_t *buf;
	size_t len;

	if (bs_idx_deserialize(data, size, NULL, NULL, &iso, &bi, &scan) < 0)
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
