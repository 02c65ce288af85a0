/*
 * memo.h - results that cost a full read (digests, initrd scans),
 * computed once per file version and remembered.
 *
 * Keyed by source identity, so a file replaced on disk is computed
 * afresh and an unchanged one never again, across reloads.  Process-wide
 * and thread-safe; computing happens in the caller's thread (the reload
 * thread, never a request).  At most BS_MEMO_MAX results are kept, the
 * least recently used dropped first.
 */
#ifndef BOOTSHELF_MEMO_H
#define BOOTSHELF_MEMO_H

#include <bootshelf/detect.h>
#include <bootshelf/digest.h>
#include <bootshelf/initrd.h>
#include <bootshelf/source.h>

#define BS_MEMO_MAX 4096

/**
 * Digest of a whole source, remembered per (identity, algorithm).
 * @ret 0 with lower-case hex in @hex, or -errno with @err
 */
int bs_memo_digest(struct bs_source *src, enum bs_digest_alg alg,
		   char hex[BS_DIGEST_HEX_MAX], struct bs_error *err);

/**
 * Scan of the initrds @bi names in @iso, remembered per (ISO identity,
 * initrd list).  @ret as bs_initrd_scan_iso().
 */
int bs_memo_initrd(const struct bs_iso *iso, const struct bs_bootinfo *bi,
		   struct bs_initrd_info *out, struct bs_error *err);

/* Remember a scan made before (kept with the ISO's index on disk) as if
 * bs_memo_initrd() had just made it: rc and @out, or @err when rc < 0. */
void bs_memo_initrd_put(const struct bs_iso *iso,
			const struct bs_bootinfo *bi, int rc,
			const struct bs_initrd_info *out,
			const struct bs_error *err);

#endif
