/*
 * initrd_scan.c - walk an initrd as the kernel's unpack_to_rootfs() does
 * and record what its entry names show.
 *
 * The outer loop is the kernel's: NULs are skipped, a '0' at a 4-aligned
 * offset (counted from the start of the initrd) starts a plain newc
 * archive, any other byte must start one compressed member, which is
 * decompressed as a stream and whose output must end on an entry
 * boundary.  Plain members are walked without reading the data of their
 * entries (an appended multi-GiB ISO costs one header read).  The first
 * error the kernel would log ends the walk, as it ends the kernel's.
 *
 * Left out: the kernel's "compression method X not configured" cannot be
 * known here (it depends on the kernel's config); bzip2, lzo and lz4
 * members end the scan as "incomplete" instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bootshelf/initrd.h>

#include "initrd_i.h"

#define DEFAULT_WINDOW (256u << 10)
#define DEFAULT_MAX_OUT (2ULL << 30)
#define DEFAULT_MAX_ENTRIES 4000000ULL

enum { LIM_NONE, LIM_ENTRIES, LIM_OUT };

struct scan {
	const struct bs_initrd_reader *r;
	struct bs_initrd_info *info;
	struct bs_error *err;
	uint8_t *in, *out;		/* owned, bufsz each */
	size_t bufsz;
	uint64_t in_off;		/* window: in[0..in_len) at in_off */
	size_t in_len;
	struct ird_cpio *cpio;		/* owned */
	struct bs_initrd_member *cur;	/* NULL past the table */
	uint64_t max_out, max_entries;
	int limit;			/* LIM_*: a limit was hit, stop */
	/* modules.builtin being read, one line at a time */
	char line[256];
	size_t linelen;
	int line_long;
};

static const char *const feature_names[BS_IRD_FEATURE_COUNT] = {
	[BS_IRD_DRACUT] = "dracut", [BS_IRD_DMSQUASH] = "dmsquash-live",
	[BS_IRD_LIVENET] = "livenet", [BS_IRD_NFS] = "nfs",
	[BS_IRD_AOE] = "aoe", [BS_IRD_CASPER] = "casper",
	[BS_IRD_LIVEBOOT] = "live-boot", [BS_IRD_KIWI] = "kiwi-live",
	[BS_IRD_INITRAMFS_TOOLS] = "initramfs-tools",
	[BS_IRD_MKINITCPIO] = "mkinitcpio", [BS_IRD_ARCHISO] = "archiso",
	[BS_IRD_ARCHISO_HTTP] = "archiso_pxe_http",
	[BS_IRD_ARCHISO_NFS] = "archiso_pxe_nfs",
	[BS_IRD_MICROCODE] = "microcode",
};

static const char *const fmt_names[BS_IRDF_COUNT] = {
	[BS_IRDF_NEWC] = "newc", [BS_IRDF_GZIP] = "gzip",
	[BS_IRDF_BZIP2] = "bzip2", [BS_IRDF_LZMA] = "lzma",
	[BS_IRDF_XZ] = "xz", [BS_IRDF_LZO] = "lzo", [BS_IRDF_LZ4] = "lz4",
	[BS_IRDF_ZSTD] = "zstd",
};

/* Module base names; the file is NAME.ko with an optional suffix. */
static const char *const kmod_names[BS_KMOD_COUNT] = {
	[BS_KMOD_LOOP] = "loop", [BS_KMOD_ISOFS] = "isofs",
	[BS_KMOD_SQUASHFS] = "squashfs", [BS_KMOD_OVERLAY] = "overlay",
	[BS_KMOD_NFS] = "nfs", [BS_KMOD_AOE] = "aoe",
};

const char *bs_initrd_feature_name(enum bs_initrd_feature f)
{
	return (unsigned)f < BS_IRD_FEATURE_COUNT ? feature_names[f] : "?";
}

const char *bs_initrd_fmt_name(enum bs_initrd_fmt f)
{
	return (unsigned)f < BS_IRDF_COUNT ? fmt_names[f] : "?";
}

const char *bs_initrd_kmod_name(enum bs_initrd_kmod m)
{
	return (unsigned)m < BS_KMOD_COUNT ? kmod_names[m] : "?";
}

enum bs_kmod_state bs_initrd_kmod(const struct bs_initrd_info *i,
				  enum bs_initrd_kmod m)
{
	if ((i->kmod_files >> m) & 1)
		return BS_KMOD_FILE;
	if ((i->kmod_builtin >> m) & 1)
		return BS_KMOD_BUILTIN;
	return i->have_builtin_list ? BS_KMOD_ABSENT : BS_KMOD_UNKNOWN;
}

/* ---- names -> features ------------------------------------------------ */

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "isofs.ko", "isofs.ko.xz", ".zst", ".gz" -> index, or -1. */
static int kmod_of(const char *base, size_t len)
{
	const char *ko = NULL;

	for (const char *p = base; (p = strstr(p, ".ko")) &&
	     (size_t)(p - base) < len; p++)
		ko = p;
	if (!ko)
		return -1;
	const char *suf = ko + 3;
	size_t slen = len - (size_t)(suf - base);
	if (!(slen == 0 || (slen == 3 && !memcmp(suf, ".xz", 3)) ||
	      (slen == 4 && !memcmp(suf, ".zst", 4)) ||
	      (slen == 3 && !memcmp(suf, ".gz", 3))))
		return -1;
	for (int m = 0; m < BS_KMOD_COUNT; m++)
		if (strlen(kmod_names[m]) == (size_t)(ko - base) &&
		    !memcmp(base, kmod_names[m], (size_t)(ko - base)))
			return m;
	return -1;
}

/*
 * Features by name.  Names are compared without a leading "./" or "/"
 * and without "usr/", so merged-/usr initrds (lib -> usr/lib) match the
 * same patterns.  Dracut hooks live in lib/dracut/hooks/ or, in newer
 * dracut, var/lib/dracut/hooks/: they are matched by base name.
 */
static void match_name(struct bs_initrd_info *info, const char *n)
{
	const char *base = strrchr(n, '/');
	uint32_t f = 0;
	int m;

	base = base ? base + 1 : n;
	if (!strcmp(n, "lib/dracut") || starts(n, "lib/dracut/") ||
	    starts(n, "var/lib/dracut/"))
		f |= 1u << BS_IRD_DRACUT;
	if (!strcmp(n, "sbin/dmsquash-live-root") ||
	    !strcmp(n, "sbin/dmsquash-live-root.sh") ||
	    strstr(base, "parse-dmsquash-live"))
		f |= 1u << BS_IRD_DMSQUASH;
	if (!strcmp(n, "sbin/livenetroot") ||
	    !strcmp(n, "sbin/livenetroot.sh") || strstr(base, "parse-livenet"))
		f |= 1u << BS_IRD_LIVENET;
	if (!strcmp(n, "sbin/nfsroot") || !strcmp(n, "sbin/nfsroot.sh") ||
	    strstr(base, "parse-nfsroot") || !strcmp(base, "mount.nfs") ||
	    !strcmp(base, "mount.nfs4") || !strcmp(base, "nfsmount") ||
	    !strcmp(n, "scripts/nfs"))
		f |= 1u << BS_IRD_NFS;
	if (!strcmp(n, "scripts/casper") || starts(n, "scripts/casper-"))
		f |= 1u << BS_IRD_CASPER;
	if (!strcmp(n, "lib/live/boot") || starts(n, "lib/live/boot/") ||
	    !strcmp(n, "scripts/live"))
		f |= 1u << BS_IRD_LIVEBOOT;
	if (starts(base, "kiwi-live") || strstr(base, "parse-kiwi-live"))
		f |= 1u << BS_IRD_KIWI;
	if (!strcmp(n, "scripts/functions") ||
	    !strcmp(n, "conf/initramfs.conf"))
		f |= 1u << BS_IRD_INITRAMFS_TOOLS;
	if (!strcmp(n, "init_functions"))
		f |= 1u << BS_IRD_MKINITCPIO;
	if (!strcmp(n, "hooks/archiso"))
		f |= 1u << BS_IRD_ARCHISO;
	if (!strcmp(n, "hooks/archiso_pxe_http"))
		f |= 1u << BS_IRD_ARCHISO_HTTP;
	if (!strcmp(n, "hooks/archiso_pxe_nfs"))
		f |= 1u << BS_IRD_ARCHISO_NFS;
	if (starts(n, "kernel/x86/microcode/"))
		f |= 1u << BS_IRD_MICROCODE;
	if (starts(n, "lib/modules/"))
		info->have_modules = 1;
	m = kmod_of(base, strlen(base));
	if (m >= 0)
		info->kmod_files |= 1u << m;
	info->features |= f;
}

static int on_entry(void *ctx, const char *name, uint32_t mode)
{
	struct scan *s = ctx;
	const char *n = name;

	if (++s->info->entries > s->max_entries) {
		s->limit = LIM_ENTRIES;
		return 0;
	}
	if (s->cur)
		s->cur->entries++;
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	while (*n == '/')
		n++;
	if (starts(n, "usr/"))
		n += 4;
	match_name(s->info, n);
	/* modules.builtin says what the kernel has without a .ko */
	if (S_ISREG(mode) && starts(n, "lib/modules/")) {
		const char *b = strrchr(n, '/');
		if (b && !strcmp(b + 1, "modules.builtin")) {
			s->info->have_builtin_list = 1;
			s->linelen = 0;
			s->line_long = 0;
			return 1;
		}
	}
	return 0;
}

static void builtin_line(struct scan *s)
{
	const char *base;
	int m;

	if (!s->line_long && s->linelen) {
		s->line[s->linelen] = '\0';
		base = strrchr(s->line, '/');
		base = base ? base + 1 : s->line;
		m = kmod_of(base, strlen(base));
		if (m >= 0)
			s->info->kmod_builtin |= 1u << m;
	}
	s->linelen = 0;
	s->line_long = 0;
}

static void on_data(void *ctx, const uint8_t *p, size_t n)
{
	struct scan *s = ctx;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			builtin_line(s);
		} else if (s->linelen < sizeof(s->line) - 1) {
			s->line[s->linelen++] = (char)p[i];
		} else {
			s->line_long = 1;
		}
	}
}

static void on_data_end(void *ctx)
{
	builtin_line(ctx);
}

static const struct ird_cpio_ops scan_ops = {
	on_entry, on_data, on_data_end
};

/* ---- input ---------------------------------------------------------- */

/*
 * Make the window cover @off (and @min bytes if the initrd has them).
 * *p / *avail: bytes from @off to the end of the window (0 at the end).
 */
static int window(struct scan *s, uint64_t off, size_t min,
		  const uint8_t **p, size_t *avail)
{
	uint64_t size = s->r->size;

	if (off >= size) {
		*avail = 0;
		*p = s->in;
		return 0;
	}
	if (off < s->in_off || off + min > s->in_off + s->in_len ||
	    off >= s->in_off + s->in_len) {
		uint64_t want = size - off < s->bufsz ? size - off :
								s->bufsz;
		size_t got = 0;

		s->in_off = off;
		s->in_len = 0;
		while (got < want) {
			ssize_t n = s->r->read(s->r->ctx, s->in + got,
					       (size_t)(want - got),
					       off + got);
			if (n < 0)
				return bs_error_set(s->err, (int)n,
						    "initrd: read at %" PRIu64
						    " failed", off + got);
			if (n == 0)
				return bs_error_set(s->err, -EIO, "initrd: "
						    "short read at %" PRIu64,
						    off + got);
			got += (size_t)n;
		}
		s->in_len = got;
	}
	*p = s->in + (off - s->in_off);
	*avail = (size_t)(s->in_off + s->in_len - off);
	return 0;
}

static void member_begin(struct scan *s, enum bs_initrd_fmt fmt,
			 uint64_t off)
{
	struct bs_initrd_info *i = s->info;

	i->formats |= 1u << fmt;
	s->cur = NULL;
	if (i->nmember < BS_INITRD_MAX_MEMBERS) {
		s->cur = &i->member[i->nmember];
		s->cur->fmt = fmt;
		s->cur->off = off;
	}
	i->nmember++;
}

static void kernel_error(struct scan *s, const char *msg, uint64_t off)
{
	snprintf(s->info->kernel_error, sizeof(s->info->kernel_error), "%s",
		 msg);
	s->info->error_off = off;
}

static int limit_hit(struct scan *s, uint64_t off)
{
	snprintf(s->info->incomplete, sizeof(s->info->incomplete),
		 "stopped at offset %" PRIu64 ": more than %" PRIu64
		 " %s", off, s->limit == LIM_ENTRIES ? s->max_entries :
		 s->max_out, s->limit == LIM_ENTRIES ? "entries" :
		 "decompressed bytes");
	return bs_error_set(s->err, -EFBIG, "initrd: %s",
			    s->info->incomplete);
}

/* A plain newc archive at *off (4-aligned, starts with '0'). */
static int plain_member(struct scan *s, uint64_t *off)
{
	struct ird_cpio *c = s->cpio;
	uint64_t start = *off, size = s->r->size;
	const uint8_t *p;
	size_t avail, used;
	int rc;

	member_begin(s, BS_IRDF_NEWC, start);
	c->this_header = start;
	c->state = IRD_START;
	for (;;) {
		uint64_t skip = ird_cpio_skippable(c);

		if (skip) {
			/* data of an entry: jump over it unread */
			if (skip > size - *off)
				skip = size - *off;
			ird_cpio_skip(c, skip);
			*off += skip;
			if (*off == size)
				break;
		}
		rc = window(s, *off, 1, &p, &avail);
		if (rc < 0)
			return rc;
		if (!avail)
			break;
		used = ird_cpio_feed(c, p, avail);
		*off += used;
		if (c->msg) {
			kernel_error(s, c->msg, *off);
			break;
		}
		if (s->limit)
			return limit_hit(s, *off);
		/* After an entry: the kernel's outer loop restarts the
		 * machine on an aligned '0' (same archive for us). */
		if (used < avail) {
			if (p[used] != '0')
				break;
			c->state = IRD_START;
		}
	}
	if (*off == size && c->state != IRD_RESET && c->state != IRD_START &&
	    !c->msg)
		s->info->unterminated = 1;
	if (s->cur) {
		s->cur->len = *off - start;
		s->cur->out = *off - start;
	}
	return 0;
}

/* The kernel's flush_buffer(): one chunk of decompressed cpio.  Stops
 * on a kernel error (c->msg) or a limit (s->limit). */
static void flush(struct scan *s, const uint8_t *buf, size_t len)
{
	struct ird_cpio *c = s->cpio;

	if (len > s->max_out - s->info->out_bytes) {
		s->limit = LIM_OUT;
		return;
	}
	s->info->out_bytes += len;
	if (s->cur)
		s->cur->out += len;
	while (len) {
		size_t w = ird_cpio_feed(c, buf, len);

		if (c->msg || s->limit)
			return;
		buf += w;
		len -= w;
		if (!len)
			break;
		if (*buf == '0')
			c->state = IRD_START;
		else if (*buf == '\0')
			c->state = IRD_RESET;
		else {
			c->msg = "junk within compressed archive";
			return;
		}
	}
}

/*
 * The kernel's XZ decoder verifies only CRC32 (or no check); a stream
 * with another check (xz's default is CRC64) fails with "Input was encoded
 * with settings that are not supported", which is why initramfs tools run
 * xz --check=crc32.  liblzma would accept it, so look at the stream flags.
 * @ret 1 if the kernel refuses the member
 */
static int xz_check_refused(struct scan *s, uint64_t off, int *check)
{
	static const uint8_t magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	const uint8_t *p;
	size_t avail;

	if (window(s, off, 8, &p, &avail) < 0 || avail < 8 ||
	    memcmp(p, magic, 6) || p[6] != 0)
		return 0;	/* liblzma reports what is wrong */
	*check = p[7] & 0x0f;
	return *check != 0 && *check != 1;
}

static int compressed_member(struct scan *s, enum bs_initrd_fmt fmt,
			     uint64_t *off)
{
	struct ird_cpio *c = s->cpio;
	struct ird_decomp *d;
	uint64_t start = *off, pos = *off;
	int rc, end = 0, stuck = 0, check;

	member_begin(s, fmt, start);
	if (fmt == BS_IRDF_XZ && xz_check_refused(s, start, &check)) {
		char m[96];

		snprintf(m, sizeof(m), "decompressor failed (xz check type "
			 "%d: the kernel verifies only CRC32 or none)", check);
		kernel_error(s, m, start);
		return 0;
	}
	rc = ird_decomp_new(fmt, &d);
	if (rc < 0)
		return bs_error_set(s->err, rc, "initrd: out of memory");
	/* The machine keeps its state (Start, or Reset after a member). */
	c->this_header = 0;
	while (!end) {
		const uint8_t *p;
		size_t avail, used, got;

		rc = window(s, pos, 1, &p, &avail);
		if (rc < 0)
			goto out;
		rc = ird_decomp_step(d, p, avail, &used, s->out, s->bufsz,
				     &got);
		pos += used;
		if (rc == 1)
			end = 1;
		else if (rc == -ENOMEM) {
			rc = bs_error_set(s->err, rc, "initrd: out of memory");
			goto out;
		} else if (rc == -E2BIG) {
			snprintf(s->info->incomplete,
				 sizeof(s->info->incomplete), "%s member at "
				 "offset %" PRIu64 ": %s", fmt_names[fmt],
				 start, ird_decomp_why(d));
			rc = 0;
			goto out;
		} else if (rc < 0) {
			char m[96];

			snprintf(m, sizeof(m), "decompressor failed (%s)",
				 ird_decomp_why(d));
			kernel_error(s, m, start);
			rc = 0;
			goto out;
		}
		if (got) {
			flush(s, s->out, got);
			if (s->limit) {
				rc = limit_hit(s, pos);
				goto out;
			}
			if (c->msg) {
				kernel_error(s, c->msg, start);
				rc = 0;
				goto out;
			}
		}
		if (!end && !avail && !got) {
			kernel_error(s, "decompressor failed (input ends "
				     "inside the compressed member)", start);
			rc = 0;
			goto out;
		}
		/* Decoders progress whenever they have input and room;
		 * do not trust that with a loop that could spin. */
		stuck = used || got ? 0 : stuck + 1;
		if (stuck > 4) {
			kernel_error(s, "decompressor failed (no progress)",
				     start);
			rc = 0;
			goto out;
		}
	}
	if (c->state != IRD_RESET)
		kernel_error(s, "junk at the end of compressed archive",
			     start);
	rc = 0;
out:
	if (s->cur)
		s->cur->len = pos - start;
	*off = pos;
	ird_decomp_free(d);
	return rc;
}

/* decompress_method(): two magic bytes, as the kernel compares them. */
static int magic(const uint8_t *p, size_t avail, enum bs_initrd_fmt *fmt)
{
	static const struct {
		uint8_t m[2];
		enum bs_initrd_fmt fmt;
	} tab[] = {
		{ { 0x1f, 0x8b }, BS_IRDF_GZIP },
		{ { 0x1f, 0x9e }, BS_IRDF_GZIP },
		{ { 0x42, 0x5a }, BS_IRDF_BZIP2 },
		{ { 0x5d, 0x00 }, BS_IRDF_LZMA },
		{ { 0xfd, 0x37 }, BS_IRDF_XZ },
		{ { 0x89, 0x4c }, BS_IRDF_LZO },
		{ { 0x02, 0x21 }, BS_IRDF_LZ4 },
		{ { 0x28, 0xb5 }, BS_IRDF_ZSTD },
	};

	if (avail < 2)
		return 0;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (p[0] == tab[i].m[0] && p[1] == tab[i].m[1]) {
			*fmt = tab[i].fmt;
			return 1;
		}
	}
	return 0;
}

static void finish(struct bs_initrd_info *i)
{
	enum bs_kmod_state aoe = bs_initrd_kmod(i, BS_KMOD_AOE);

	if (aoe == BS_KMOD_FILE || aoe == BS_KMOD_BUILTIN)
		i->features |= 1u << BS_IRD_AOE;
}

int bs_initrd_scan(const struct bs_initrd_reader *r,
		   struct bs_initrd_info *out, struct bs_error *err)
{
	struct scan s = { 0 };
	uint64_t off = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!r || !r->read)
		return bs_error_set(err, -EINVAL, "initrd: no reader");
	out->size = r->size;
	s.r = r;
	s.info = out;
	s.err = err;
	s.max_out = r->max_out ? r->max_out : DEFAULT_MAX_OUT;
	s.max_entries = r->max_entries ? r->max_entries : DEFAULT_MAX_ENTRIES;
	/* at least 8: magics and the xz stream flags are read whole */
	s.bufsz = r->window ? (r->window < 8 ? 8 : r->window) :
			      DEFAULT_WINDOW;
	s.in = malloc(s.bufsz);
	s.out = malloc(s.bufsz);
	s.cpio = calloc(1, sizeof(*s.cpio));
	if (!s.in || !s.out || !s.cpio) {
		rc = bs_error_set(err, -ENOMEM, "initrd: out of memory");
		goto out;
	}
	s.cpio->ops = &scan_ops;
	s.cpio->ctx = &s;
	s.cpio->state = IRD_START;
	s.cpio->next_state = IRD_START;
	while (off < r->size && !out->kernel_error[0] && !out->incomplete[0]) {
		const uint8_t *p;
		size_t avail;
		enum bs_initrd_fmt fmt;

		rc = window(&s, off, 2, &p, &avail);
		if (rc < 0)
			goto out;
		if (p[0] == '0' && !(off & 3)) {
			rc = plain_member(&s, &off);
		} else if (p[0] == '\0') {
			size_t n = 0;

			while (n < avail && p[n] == '\0')
				n++;
			off += n;
			continue;
		} else if (!magic(p, avail, &fmt)) {
			kernel_error(&s, "invalid magic at start of "
				     "compressed archive", off);
			break;
		} else if (fmt == BS_IRDF_BZIP2 || fmt == BS_IRDF_LZO ||
			   fmt == BS_IRDF_LZ4) {
			member_begin(&s, fmt, off);
			snprintf(out->incomplete, sizeof(out->incomplete),
				 "%s member at offset %" PRIu64 " not "
				 "followed (the kernel unpacks it only if "
				 "built with it)", fmt_names[fmt], off);
			break;
		} else {
			rc = compressed_member(&s, fmt, &off);
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	if (s.cpio)
		out->skipped = s.cpio->skipped;
	finish(out);
	free(s.cpio);
	free(s.out);
	free(s.in);
	return rc;
}

static ssize_t blob_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	return bs_blob_read(ctx, buf, len, off);
}

int bs_initrd_scan_blob(const struct bs_blob *b, struct bs_initrd_info *out,
			struct bs_error *err)
{
	struct bs_initrd_reader r = {
		.read = blob_read, .ctx = (void *)b, .size = b->size,
	};
	return bs_initrd_scan(&r, out, err);
}
