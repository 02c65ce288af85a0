/*
 * isocache_i.h - the on-disk ISO index cache (isocache_disk.c): one file
 * per ISO path or URL holding its index (the bs_iso tree with extents)
 * and detected boot information, zstd-compressed, with a version header
 * and a checksum.  A file that does not match exactly (format version,
 * checksum, path/URL, source identity, sanity of every field) is a miss
 * and gets rebuilt; it is never trusted.  Not installed.
 */
#ifndef BOOTSHELF_ISOCACHE_I_H
#define BOOTSHELF_ISOCACHE_I_H

#include <stddef.h>
#include <stdint.h>

#include <bootshelf/detect.h>
#include <bootshelf/initrd.h>
#include <bootshelf/isoindex.h>
#include <bootshelf/source.h>

#define BS_IDX_MAGIC	"bsidx\r\n\032"	/* 8 bytes */
#define BS_IDX_VERSION	2		/* 2: the initrd inspection */
#define BS_IDX_HDR	32		/* magic, version, lengths, crc */
#define BS_IDX_MAX_RAW	(512u << 20)	/* decompressed payload bound */

/* The inspection of the detected initrds (bs_memo_initrd() of the
 * index's boot information), kept with the index so that a restart does
 * not read the initrds again. */
struct bs_idx_scan {
	int have;			/* the rest is set */
	int rc;				/* bs_memo_initrd()'s answer */
	struct bs_initrd_info ird;	/* when rc == 0 */
	struct bs_error err;		/* when rc < 0 */
};

/**
 * Serialize an index.  Pure (no I/O).
 * @v key   the ISO's path or URL
 * @v iso   index; its src->id is recorded as the identity
 * @v bi    detected boot information
 * @v scan  initrd inspection, or NULL (none)
 * @v out   malloc'ed file image (caller frees), @len its size
 * @ret 0, -ENOMEM, -EINVAL (zstd failure)
 */
int bs_idx_serialize(const char *key, const struct bs_iso *iso,
		     const struct bs_bootinfo *bi,
		     const struct bs_idx_scan *scan, uint8_t **out,
		     size_t *len);

/**
 * Rebuild an index from a file image.  Pure (no I/O).
 * @v key   expected path/URL, or NULL to accept any (fuzzing)
 * @v src   the source the index is of: its id must equal the recorded
 *          one (a reference is taken); NULL to accept any
 * @v out   new index with one reference
 * @v bi    boot information
 * @v scan  the initrd inspection (have 0 if none), or NULL
 * @ret 0, -EINVAL (corrupt, other format version, mismatch), -ENOMEM
 */
int bs_idx_deserialize(const uint8_t *buf, size_t len, const char *key,
		       struct bs_source *src, struct bs_iso **out,
		       struct bs_bootinfo *bi, struct bs_idx_scan *scan);

/* The cache file name of @key in @dir ("DIR/idx-<hash>"). */
void bs_idx_path(const char *dir, const char *key, char *buf, size_t len);

/**
 * Load from @dir.  @ret 0 (hit), -ENOENT (no file or no match: rebuild),
 * -ENOMEM.  A corrupt file is reported at debug level only.
 */
int bs_idx_load(const char *dir, const char *key, struct bs_source *src,
		struct bs_iso **out, struct bs_bootinfo *bi,
		struct bs_idx_scan *scan);
/**
 * Store in @dir (created 0700 if missing), atomically by rename.
 * @ret 0 or -errno (the caller logs the first failure and carries on).
 */
int bs_idx_store(const char *dir, const char *key, const struct bs_iso *iso,
		 const struct bs_bootinfo *bi, const struct bs_idx_scan *scan);

#endif
