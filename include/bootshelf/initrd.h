/*
 * initrd.h - look inside an initrd the way the Linux kernel unpacks it.
 *
 * The initrd is walked as init/initramfs.c walks it: NUL bytes are
 * skipped, a '0' at a 4-byte aligned offset starts an uncompressed newc
 * archive, anything else must be the magic of ONE compressed member
 * (gzip, xz, lzma and zstd are decompressed here as a stream, bzip2, lzo
 * and lz4 are recognised but not followed).  Entry names are matched
 * against markers of the initramfs generators and live-boot systems
 * (dracut dmsquash-live and livenet, nfs, aoe.ko, casper, live-boot,
 * KIWI, archiso) so that inspect and status can warn when a delivery mode
 * cannot work with the initrd an ISO ships.
 *
 * Left out: no file is ever written, data of members is skipped (read
 * only for 070702 checksums and modules.builtin), hard links are not
 * tracked, and what the kernel has built in is only known when the initrd
 * carries a modules.builtin list.  Memory is bounded: two 256 KiB buffers
 * plus the decoder's state, never the whole archive.
 */
#ifndef BOOTSHELF_INITRD_H
#define BOOTSHELF_INITRD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bootshelf/catalog.h>
#include <bootshelf/detect.h>
#include <bootshelf/err.h>
#include <bootshelf/isoindex.h>
#include <bootshelf/segment.h>

/* Compression of a member, as the kernel's decompress_method() names it. */
enum bs_initrd_fmt {
	BS_IRDF_NEWC = 0,	/* uncompressed newc archive */
	BS_IRDF_GZIP,
	BS_IRDF_BZIP2,		/* recognised, not followed */
	BS_IRDF_LZMA,
	BS_IRDF_XZ,
	BS_IRDF_LZO,		/* recognised, not followed */
	BS_IRDF_LZ4,		/* recognised, not followed */
	BS_IRDF_ZSTD,
	BS_IRDF_COUNT
};

/* What the entry names show (bit numbers of bs_initrd_info.features). */
enum bs_initrd_feature {
	BS_IRD_DRACUT = 0,	/* lib/dracut/ */
	BS_IRD_DMSQUASH,	/* sbin/dmsquash-live-root: root=live:... */
	BS_IRD_LIVENET,		/* sbin/livenetroot: root=live:http://... */
	BS_IRD_NFS,		/* NFS client: nfsroot, mount.nfs, nfsmount */
	BS_IRD_AOE,		/* aoe.ko* (or aoe built in) */
	BS_IRD_CASPER,		/* scripts/casper */
	BS_IRD_LIVEBOOT,	/* lib/live/boot/, scripts/live */
	BS_IRD_KIWI,		/* kiwi-live dracut module */
	BS_IRD_INITRAMFS_TOOLS,	/* scripts/functions, conf/initramfs.conf */
	BS_IRD_MKINITCPIO,	/* init_functions (Arch) */
	BS_IRD_ARCHISO,		/* hooks/archiso */
	BS_IRD_ARCHISO_HTTP,	/* hooks/archiso_pxe_http */
	BS_IRD_ARCHISO_NFS,	/* hooks/archiso_pxe_nfs */
	BS_IRD_MICROCODE,	/* kernel/x86/microcode/ (early cpio) */
	BS_IRD_FEATURE_COUNT
};

/* Kernel modules that delivery modes need (bits of kmod_*). */
enum bs_initrd_kmod {
	BS_KMOD_LOOP = 0,
	BS_KMOD_ISOFS,
	BS_KMOD_SQUASHFS,
	BS_KMOD_OVERLAY,
	BS_KMOD_NFS,
	BS_KMOD_AOE,
	BS_KMOD_COUNT
};

/* Where the kernel would get a module from, as far as the initrd says. */
enum bs_kmod_state {
	BS_KMOD_UNKNOWN = 0,	/* no .ko and no modules.builtin to ask */
	BS_KMOD_FILE,		/* a .ko (any compression) is in the initrd */
	BS_KMOD_BUILTIN,	/* listed in the initrd's modules.builtin */
	BS_KMOD_ABSENT,		/* neither, and modules.builtin was read */
};

#define BS_INITRD_MAX_MEMBERS 16

/* One archive or compressed member of the initrd. */
struct bs_initrd_member {
	enum bs_initrd_fmt fmt;
	uint64_t off;		/* offset in the initrd */
	uint64_t len;		/* bytes of the initrd it takes */
	uint64_t out;		/* bytes of cpio it holds (= len for newc) */
	uint64_t entries;	/* named entries in it */
};

/* Result of a scan.  Plain data, caller-owned. */
struct bs_initrd_info {
	uint32_t features;	/* 1u << enum bs_initrd_feature */
	uint32_t kmod_files;	/* 1u << enum bs_initrd_kmod: .ko present */
	uint32_t kmod_builtin;	/* 1u << enum bs_initrd_kmod: built in */
	int have_modules;	/* some lib/modules/ entry exists */
	int have_builtin_list;	/* a modules.builtin was read */
	uint32_t formats;	/* 1u << enum bs_initrd_fmt of members */
	struct bs_initrd_member member[BS_INITRD_MAX_MEMBERS];
	size_t nmember;		/* members seen (only MAX described) */
	uint64_t entries;	/* named entries in all members */
	uint64_t skipped;	/* entries the kernel skips (name too long) */
	uint64_t out_bytes;	/* decompressed bytes in total */
	uint64_t size;		/* size of the initrd */
	/*
	 * What the kernel would log after "Initramfs unpacking failed: "
	 * ("junk at the end of compressed archive", "broken padding", ...),
	 * "" if it unpacks cleanly.  Unpacking stops there: later members,
	 * including an appended ISO archive, are never seen.
	 */
	char kernel_error[96];
	uint64_t error_off;	/* initrd offset of the member or byte */
	/* The initrd ends inside an uncompressed entry (truncated). */
	int unterminated;
	/* Why the scan could not follow the kernel to the end, or "". */
	char incomplete[160];
};

/* Where the initrd's bytes come from. */
struct bs_initrd_reader {
	/* Read up to @len bytes at @off; bytes read, 0 at end, <0 errno. */
	ssize_t (*read)(void *ctx, void *buf, size_t len, uint64_t off);
	void *ctx;		/* borrowed */
	uint64_t size;
	/* Limits; 0 picks the default (2 GiB, 4 million entries). */
	uint64_t max_out;	/* decompressed bytes in total */
	uint64_t max_entries;
	/* Bytes read, and decompressed, at a time (at least 8); 0 picks
	 * 256 KiB.  Tests and fuzzers use tiny ones to cross every buffer
	 * boundary. */
	size_t window;
};

/**
 * Walk an initrd like the kernel's unpack_to_rootfs and record features.
 * @v r     reader (borrowed)
 * @v out   filled in, also on failure (as far as the scan got)
 * @v err   message on failure, may be NULL
 * @ret 0 when the walk ended where the kernel's would (a kernel error or
 *      an unsupported compression is reported in @out, not here);
 *      -EIO read error, -ENOMEM, -EFBIG a limit was hit, -EINVAL bad
 *      reader.
 */
int bs_initrd_scan(const struct bs_initrd_reader *r,
		   struct bs_initrd_info *out, struct bs_error *err);

/* The same over a blob (bs_blob_read), default limits. */
int bs_initrd_scan_blob(const struct bs_blob *b, struct bs_initrd_info *out,
			struct bs_error *err);

/**
 * Scan the initrds a detected ISO boots with, joined as boot loaders hand
 * them to the kernel (each padded to 4 bytes, like boot/NAME/initrd).
 * @v iso   indexed ISO (borrowed)
 * @v bi    bs_detect() result for it
 * @ret as bs_initrd_scan(); -ENOENT when @bi names no initrd that the
 *      ISO has
 */
int bs_initrd_scan_iso(const struct bs_iso *iso, const struct bs_bootinfo *bi,
		       struct bs_initrd_info *out, struct bs_error *err);

/* "dracut", "livenet", ...; "?" when out of range.  Static strings. */
const char *bs_initrd_feature_name(enum bs_initrd_feature f);
const char *bs_initrd_fmt_name(enum bs_initrd_fmt f);
const char *bs_initrd_kmod_name(enum bs_initrd_kmod m);

static inline int bs_initrd_has(const struct bs_initrd_info *i,
				enum bs_initrd_feature f)
{
	return (i->features >> f) & 1;
}

enum bs_kmod_state bs_initrd_kmod(const struct bs_initrd_info *i,
				  enum bs_initrd_kmod m);

enum bs_initrd_verdict {
	BS_IRD_YES = 0,		/* everything the mode needs was found */
	BS_IRD_MAYBE,		/* depends on what the kernel has built in */
	BS_IRD_NO,		/* the mode cannot work with this initrd */
};

/**
 * Can @mode work for an ISO of family @fam with this initrd?
 * @v why   gets one sentence for MAYBE and NO ("dracut initrd without
 *          livenet: root=live:http:// cannot work"), "" for YES
 * @ret verdict.  SANBOOT and AUTO (kernel + initrd as shipped) are YES
 *      unless the kernel reports an unpacking error.
 */
enum bs_initrd_verdict bs_initrd_supports(const struct bs_initrd_info *i,
					  enum bs_family fam,
					  enum bs_delivery mode,
					  char *why, size_t whylen);

/**
 * One line for inspect and status, e.g. "newc+zstd, 2 members, 1508
 * entries: dracut, dmsquash-live, livenet; modules isofs loop squashfs"
 * followed by "; kernel: broken padding at 1234", "; truncated" or
 * "; incomplete: ..." when those apply.
 * @ret length of the full line, as snprintf (truncated to @len)
 */
int bs_initrd_describe(const struct bs_initrd_info *i, char *buf,
		       size_t len);

/* "ok", "may fail", "cannot work". */
const char *bs_initrd_verdict_name(enum bs_initrd_verdict v);

#endif
