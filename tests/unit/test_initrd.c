/* test_initrd.c - the initrd scanner against initrds built here: newc
 * written by hand, compressed with zlib, liblzma and libzstd, then
 * concatenated, padded, misaligned, truncated and corrupted the ways the
 * kernel's unpack_to_rootfs() has an answer for; the mode verdicts. */
#include <errno.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>

#include <bootshelf/cpio.h>
#include <bootshelf/initrd.h>

/* ---- building initrds ----------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void zeros(struct buf *b, size_t n)
{
	static const uint8_t z[4096];

	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		put(b, z, k);
		n -= k;
	}
}

static void pad4(struct buf *b)
{
	zeros(b, (4 - (b->n & 3)) & 3);
}

static void bfree(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* One entry with every field under control (absurd sizes included).
 * Alignment is measured from the start of @b, which each archive is. */
static void entry_raw(struct buf *b, const char *magic, unsigned mode,
		      unsigned filesize, unsigned namesize, const char *name,
		      const void *data, size_t datalen, unsigned csum)
{
	char h[111];

	snprintf(h, sizeof(h),
		 "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 magic, 1u, mode, 0u, 0u, 1u, 0u, filesize, 0u, 0u, 0u, 0u,
		 namesize, csum);
	put(b, h, 110);
	put(b, name, strlen(name) + 1);
	pad4(b);
	put(b, data, datalen);
	pad4(b);
}

static void entry(struct buf *b, const char *name, unsigned mode,
		  const char *data)
{
	size_t len = data ? strlen(data) : 0;

	entry_raw(b, "070701", mode, (unsigned)len,
		  (unsigned)strlen(name) + 1, name, data, len, 0);
}

static void file(struct buf *b, const char *name)
{
	entry(b, name, 0100644, "x");
}

static void dir(struct buf *b, const char *name)
{
	entry(b, name, 040755, NULL);
}

static void trailer(struct buf *b)
{
	entry(b, "TRAILER!!!", 0, NULL);
}

/* Archive of the given file names (directories end in '/'). */
static void archive(struct buf *b, const char *const *names)
{
	for (; *names; names++) {
		size_t n = strlen(*names);

		if ((*names)[n - 1] == '/') {
			char d[256];
			snprintf(d, sizeof(d), "%.*s", (int)n - 1, *names);
			dir(b, d);
		} else {
			file(b, *names);
		}
	}
	trailer(b);
}

enum comp { C_GZIP, C_XZ, C_LZMA, C_ZSTD };

static void compress_into(struct buf *out, enum comp c, const uint8_t *p,
			  size_t n)
{
	size_t cap = n + n / 2 + 4096, got = 0;
	uint8_t *o = malloc(cap);

	assert_non_null(o);
	switch (c) {
	case C_GZIP: {
		z_stream z = { 0 };
		assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8,
					      Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (Bytef *)p;
		z.avail_in = (uInt)n;
		z.next_out = o;
		z.avail_out = (uInt)cap;
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		got = z.total_out;
		deflateEnd(&z);
		break;
	}
	case C_XZ:
		/* CRC32, as the kernel's xz decoder wants */
		assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32,
							 NULL, p, n, o, &got,
							 cap), LZMA_OK);
		break;
	case C_LZMA: {
		lzma_stream s = LZMA_STREAM_INIT;
		lzma_options_lzma opt;
		assert_int_equal(lzma_lzma_preset(&opt, 6), 0);
		assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
		s.next_in = p;
		s.avail_in = n;
		s.next_out = o;
		s.avail_out = cap;
		assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
		got = s.total_out;
		lzma_end(&s);
		break;
	}
	case C_ZSTD:
		got = ZSTD_compress(o, cap, p, n, 19);
		assert_false(ZSTD_isError(got));
		break;
	}
	put(out, o, got);
	free(o);
}

/* ---- reading them ---------------------------------------------------- */

struct mem {
	const uint8_t *p;
	size_t n;
	size_t maxread;		/* short reads: at most this per call */
	uint64_t fail_at;	/* reads touching this offset fail */
	uint64_t bytes_read;
	/* A virtual region of zeros [vz_off, vz_off + vz_len) inserted at
	 * vz_off; p holds the bytes before and after it. */
	uint64_t vz_off, vz_len;
	size_t window;		/* the scanner's window; 0 = default */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;
	uint64_t size = m->n + m->vz_len;
	uint8_t *o = buf;

	if (m->fail_at && off <= m->fail_at && off + len > m->fail_at)
		return -EIO;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (m->maxread && len > m->maxread)
		len = m->maxread;
	for (size_t i = 0; i < len; i++) {
		uint64_t o2 = off + i;

		if (m->vz_len && o2 >= m->vz_off && o2 < m->vz_off + m->vz_len)
			o[i] = 0;
		else
			o[i] = m->p[o2 < m->vz_off || !m->vz_len ? o2 :
				    o2 - m->vz_len];
	}
	m->bytes_read += len;
	return (ssize_t)len;
}

static int scan_mem(struct mem *m, struct bs_initrd_info *info)
{
	struct bs_initrd_reader r = {
		.read = mem_read, .ctx = m, .size = m->n + m->vz_len,
		.window = m->window,
	};
	struct bs_error e = { 0 };

	return bs_initrd_scan(&r, info, &e);
}

static void scan_buf(const struct buf *b, struct bs_initrd_info *info)
{
	struct mem m = { .p = b->p, .n = b->n };

	assert_int_equal(scan_mem(&m, info), 0);
}

#define HAS(i, f) bs_initrd_has((i), BS_IRD_##f)

/* ---- tests ----------------------------------------------------------- */

static const char *const fedora[] = {
	"usr/", "usr/lib/", "usr/lib/dracut/", "usr/lib/dracut/hooks/",
	"usr/lib/dracut/hooks/cmdline/",
	"usr/lib/dracut/hooks/cmdline/30-parse-dmsquash-live.sh",
	"usr/lib/dracut/hooks/cmdline/29-parse-livenet.sh",
	"usr/sbin/", "usr/sbin/dmsquash-live-root", "usr/sbin/livenetroot",
	"usr/lib/modules/", "usr/lib/modules/6.9.0/",
	"usr/lib/modules/6.9.0/kernel/fs/isofs/isofs.ko.xz",
	"usr/lib/modules/6.9.0/kernel/fs/squashfs/squashfs.ko.zst",
	"usr/lib/modules/6.9.0/kernel/drivers/block/loop.ko", NULL
};

static void plain_dracut(void **state)
{
	struct buf b = { 0 };
	struct bs_initrd_info i;

	(void)state;
	archive(&b, fedora);
	scan_buf(&b, &i);
	assert_string_equal(i.kernel_error, "");
	assert_string_equal(i.incomplete, "");
	assert_true(HAS(&i, DRACUT) && HAS(&i, DMSQUASH) && HAS(&i, LIVENET));
	assert_false(HAS(&i, CASPER) || HAS(&i, NFS) || HAS(&i, AOE));
	assert_int_equal(i.formats, 1u << BS_IRDF_NEWC);
	assert_int_equal(i.nmember, 1);
	assert_int_equal(i.member[0].len, b.n);
	assert_int_equal(i.entries, 15);
	assert_int_equal(i.member[0].entries, 15);
	assert_true(i.have_modules);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_ISOFS), BS_KMOD_FILE);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_SQUASHFS), BS_KMOD_FILE);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_LOOP), BS_KMOD_FILE);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_AOE), BS_KMOD_UNKNOWN);
	assert_false(i.unterminated);
	bfree(&b);
}

/* Each compressor, each family's markers. */
static const struct {
	enum comp c;
	enum bs_initrd_fmt fmt;
	const char *const names[6];
	enum bs_initrd_feature want[3];
	size_t nwant;
	int line;
} comp_vecs[] = {
	{ C_GZIP, BS_IRDF_GZIP, { "scripts/", "scripts/casper",
	  "scripts/casper-bottom/", "scripts/functions", "bin/nfsmount" },
	  { BS_IRD_CASPER, BS_IRD_INITRAMFS_TOOLS, BS_IRD_NFS }, 3, __LINE__ },
	{ C_XZ, BS_IRDF_XZ, { "lib/", "lib/live/", "lib/live/boot/",
	  "lib/live/boot/9990-main.sh", "scripts/live" },
	  { BS_IRD_LIVEBOOT }, 1, __LINE__ },
	{ C_LZMA, BS_IRDF_LZMA, { "hooks/", "hooks/archiso",
	  "hooks/archiso_pxe_http", "init_functions" },
	  { BS_IRD_ARCHISO, BS_IRD_ARCHISO_HTTP, BS_IRD_MKINITCPIO }, 3,
	  __LINE__ },
	{ C_ZSTD, BS_IRDF_ZSTD, { "lib/", "lib/kiwi-live-lib.sh",
	  "lib/modules/5.14/kernel/drivers/block/aoe/aoe.ko.zst",
	  "lib/dracut/" },
	  { BS_IRD_KIWI, BS_IRD_AOE, BS_IRD_DRACUT }, 3, __LINE__ },
};

static void compressed_members(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(comp_vecs) / sizeof(*comp_vecs); v++) {
		struct buf a = { 0 }, b = { 0 };
		struct bs_initrd_info i;
		uint32_t want = 0;

		archive(&a, comp_vecs[v].names);
		compress_into(&b, comp_vecs[v].c, a.p, a.n);
		scan_buf(&b, &i);
		for (size_t k = 0; k < comp_vecs[v].nwant; k++)
			want |= 1u << comp_vecs[v].want[k];
		if (i.features != want || i.kernel_error[0] ||
		    i.formats != 1u << comp_vecs[v].fmt ||
		    i.member[0].out != a.n || i.member[0].len != b.n ||
		    i.out_bytes != a.n)
			fail_msg("vector at line %d: features %x want %x, "
				 "error '%s', formats %x, out %llu/%zu",
				 comp_vecs[v].line, i.features, want,
				 i.kernel_error, i.formats,
				 (unsigned long long)i.member[0].out, a.n);
		bfree(&a);
		bfree(&b);
	}
}

/*
 * Early microcode (plain), then the main initrd (compressed).  After a
 * plain archive the next member must be 4-aligned even when compressed
 * ("broken padding"); after a compressed member any amount of NUL padding
 * is fine.  Then an appended plain archive (the ISO): aligned it is
 * unpacked, off by 1-3 bytes the kernel says "invalid magic" and it is
 * missing.
 */
static void concatenations(void **state)
{
	static const char *const ucode[] = {
		"kernel/", "kernel/x86/", "kernel/x86/microcode/",
		"kernel/x86/microcode/GenuineIntel.bin", NULL
	};
	static const char *const appended[] = { "scripts/", "scripts/casper",
						NULL };

	(void)state;
	for (size_t padlen = 0; padlen <= 9; padlen++) {
		for (int c = C_GZIP; c <= C_ZSTD; c++) {
			struct buf a = { 0 }, main = { 0 }, b = { 0 };
			struct bs_initrd_info i;
			size_t end, ulen;

			archive(&b, ucode);
			ulen = b.n;
			zeros(&b, padlen);
			archive(&main, fedora);
			compress_into(&b, (enum comp)c, main.p, main.n);
			end = b.n;
			scan_buf(&b, &i);
			assert_true(HAS(&i, MICROCODE));
			if (padlen % 4) {
				assert_string_equal(i.kernel_error,
						    "broken padding");
				assert_int_equal(i.error_off, ulen + padlen);
				assert_false(HAS(&i, LIVENET));
				bfree(&main);
				bfree(&b);
				continue;
			}
			assert_string_equal(i.kernel_error, "");
			assert_true(HAS(&i, LIVENET));
			assert_int_equal(i.nmember, 2);
			assert_int_equal(i.member[0].len, ulen + padlen);
			assert_int_equal(i.member[1].off, ulen + padlen);
			assert_int_equal(i.member[1].len, end - ulen - padlen);
			assert_int_equal(i.entries, 4 + 15);

			/* compressed after compressed: no alignment */
			for (size_t extra = 0; extra < 6; extra++) {
				struct buf t = { 0 };
				put(&t, b.p, b.n);
				zeros(&t, extra);
				archive(&a, appended);
				compress_into(&t, (enum comp)c, a.p, a.n);
				bfree(&a);
				scan_buf(&t, &i);
				assert_string_equal(i.kernel_error, "");
				assert_true(HAS(&i, CASPER));
				assert_int_equal(i.nmember, 3);
				bfree(&t);
			}

			/* appended plain archive, aligned / misaligned */
			for (size_t extra = 0; extra < 8; extra++) {
				struct buf t = { 0 };
				put(&t, b.p, b.n);
				zeros(&t, ((4 - (t.n & 3)) & 3) + extra);
				archive(&a, appended);
				put(&t, a.p, a.n);
				bfree(&a);
				scan_buf(&t, &i);
				if (extra % 4 == 0) {
					assert_string_equal(i.kernel_error,
							    "");
					assert_true(HAS(&i, CASPER));
					assert_int_equal(i.nmember, 3);
				} else {
					assert_string_equal(i.kernel_error,
						"invalid magic at start of "
						"compressed archive");
					assert_false(HAS(&i, CASPER));
					assert_true(HAS(&i, LIVENET));
					assert_int_equal(i.error_off,
						end + ((4 - (end & 3)) & 3) +
						extra);
				}
				bfree(&t);
			}
			bfree(&main);
			bfree(&b);
		}
	}
}

/* Plain + plain: the second must be 4-aligned ("broken padding"). */
static void misaligned_plain(void **state)
{
	static const char *const one[] = { "a", NULL };
	static const char *const two[] = { "scripts/", "scripts/live", NULL };

	(void)state;
	for (size_t extra = 0; extra < 8; extra++) {
		struct buf b = { 0 }, a = { 0 };
		struct bs_initrd_info i;

		archive(&b, one);
		zeros(&b, extra);
		archive(&a, two);
		put(&b, a.p, a.n);
		scan_buf(&b, &i);
		if (extra % 4 == 0) {
			assert_string_equal(i.kernel_error, "");
			assert_true(HAS(&i, LIVEBOOT));
			/* one archive to the kernel's eyes: the machine
			 * restarts on the aligned '0' */
			assert_int_equal(i.nmember, 1);
		} else {
			assert_string_equal(i.kernel_error, "broken padding");
			assert_false(HAS(&i, LIVEBOOT));
		}
		bfree(&a);
		bfree(&b);
	}
}

/* Inside a decompressed stream the same rules hold, counted from the
 * start of the decompressed data. */
static void inside_compressed(void **state)
{
	static const char *const one[] = { "a", NULL };
	static const char *const two[] = { "scripts/", "scripts/live", NULL };
	static const struct {
		size_t pad;
		const char *junk;
		const char *err;
		int live;
	} t[] = {
		{ 0, NULL, "", 1 },
		{ 4, NULL, "", 1 },
		{ 2, NULL, "broken padding", 0 },
		{ 0, "JUNK", "junk within compressed archive", 0 },
		{ 0, "", "", 1 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(*t); k++) {
		struct buf a = { 0 }, b = { 0 }, c = { 0 };
		struct bs_initrd_info i;

		archive(&a, one);
		zeros(&a, t[k].pad);
		if (t[k].junk)
			put(&a, t[k].junk, strlen(t[k].junk));
		archive(&b, two);
		put(&a, b.p, b.n);
		compress_into(&c, C_ZSTD, a.p, a.n);
		scan_buf(&c, &i);
		assert_string_equal(i.kernel_error, t[k].err);
		assert_int_equal(HAS(&i, LIVEBOOT), t[k].live);
		bfree(&a);
		bfree(&b);
		bfree(&c);
	}
}

/* Compressed stream that ends inside an entry, or is cut short. */
static void truncations(void **state)
{
	static const char *const names[] = { "scripts/", "scripts/casper",
					     NULL };
	struct buf a = { 0 }, b = { 0 };
	struct bs_initrd_info i;

	(void)state;
	/* decompresses fine, but the cpio inside stops mid-entry */
	archive(&a, names);
	for (int c = C_GZIP; c <= C_ZSTD; c++) {
		b.n = 0;
		compress_into(&b, (enum comp)c, a.p, a.n - 3);
		scan_buf(&b, &i);
		assert_string_equal(i.kernel_error,
				    "junk at the end of compressed archive");
		assert_true(HAS(&i, CASPER));
	}
	/* compressed stream cut in half: decompressor failed */
	for (int c = C_GZIP; c <= C_ZSTD; c++) {
		b.n = 0;
		compress_into(&b, (enum comp)c, a.p, a.n);
		/* (one byte is too short for a magic: "invalid magic") */
		for (size_t cut = 2; cut < b.n; cut += (b.n / 7) + 1) {
			struct buf t = { 0 };

			put(&t, b.p, cut);
			scan_buf(&t, &i);
			assert_memory_equal(i.kernel_error,
					    "decompressor failed", 19);
			assert_int_equal(i.error_off, 0);
			bfree(&t);
		}
	}
	/* no TRAILER!!!, the last entry's data (longer than the read
	 * window, so it is skipped unread) ends the initrd: complete */
	{
		struct buf t = { 0 };
		size_t big = (1 << 20) + 5;
		uint8_t *data = calloc(1, big);

		assert_non_null(data);
		entry_raw(&t, "070701", 0100644, (unsigned)big, 15,
			  "scripts/casper", data, big, 0);
		free(data);
		scan_buf(&t, &i);
		assert_false(i.unterminated);
		assert_true(HAS(&i, CASPER));
		t.n--;			/* one byte of padding missing */
		scan_buf(&t, &i);
		assert_true(i.unterminated);
		bfree(&t);
	}
	/* a plain archive cut inside an entry: no kernel error, but an
	 * appended archive would be swallowed */
	for (size_t cut = 1; cut < a.n - 124; cut++) {
		struct buf t = { 0 };

		if (cut == bs_cpio_header_len("scripts"))
			continue;	/* between entries: not truncated */

		put(&t, a.p, cut);
		scan_buf(&t, &i);
		assert_string_equal(i.kernel_error, "");
		assert_true(i.unterminated);
		bfree(&t);
	}
	bfree(&a);
	bfree(&b);
}

/* Sizes a 32-bit field allows but the data does not back. */
static void absurd_sizes(void **state)
{
	static const struct {
		unsigned mode, filesize, namesize;
		const char *name;
		int unterminated, entries, skipped;
		const char *err;
	} t[] = {
		/* 4 GiB - 1 of data announced, 4 given */
		{ 0100644, 0xffffffffu, 7, "a/file", 1, 1, 0, "" },
		/* name length 4 GiB - 1: skipped, unnamed */
		{ 0100644, 0, 0xffffffffu, "a/file", 1, 0, 1, "" },
		/* name longer than PATH_MAX: skipped like the kernel */
		{ 0100644, 0, 5000, "a/file", 1, 0, 1, "" },
		/* empty name: skipped, and the kernel then expects the
		 * next header 2 bytes after this one's, inside the name */
		{ 0100644, 0, 0, "a/file", 0, 0, 1, "no cpio magic" },
		/* no NUL inside namesize */
		{ 0100644, 0, 3, "a/file", 0, 0, 0, "malformed archive" },
		/* symlink target longer than PATH_MAX: skipped */
		{ 0120777, 5000, 7, "a/link", 1, 0, 1, "" },
		/* a directory with data: skipped unnamed */
		{ 040755, 4, 7, "a/dir1", 0, 0, 1, "" },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(*t); k++) {
		struct buf b = { 0 }, c = { 0 };
		struct bs_initrd_info i;

		entry_raw(&b, "070701", t[k].mode, t[k].filesize,
			  t[k].namesize, t[k].name, "data", 4, 0);
		trailer(&b);
		scan_buf(&b, &i);
		if (strcmp(i.kernel_error, t[k].err) ||
		    i.unterminated != t[k].unterminated ||
		    i.entries != (uint64_t)t[k].entries ||
		    i.skipped != (uint64_t)t[k].skipped)
			fail_msg("case %zu: error '%s' unterminated %d "
				 "entries %llu", k, i.kernel_error,
				 i.unterminated,
				 (unsigned long long)i.entries);
		/* compressed: the stream ends mid-entry -> junk at end */
		compress_into(&c, C_GZIP, b.p, b.n);
		scan_buf(&c, &i);
		if (t[k].unterminated)
			assert_string_equal(i.kernel_error, "junk at the end "
					    "of compressed archive");
		bfree(&b);
		bfree(&c);
	}
}

/* Wrong magics: odc cpio, nonsense, bzip2/lz4 (recognised only). */
static void magics(void **state)
{
	static const struct {
		const uint8_t *bytes;
		size_t len;
		const char *err;
		enum bs_initrd_fmt fmt;
		int incomplete;
	} t[] = {
		{ (const uint8_t *)"0707070000000000", 16,
		  "incorrect cpio method used: use -H newc option",
		  BS_IRDF_NEWC, 0 },
		{ (const uint8_t *)"0x0701", 6, "no cpio magic", BS_IRDF_NEWC,
		  0 },
		{ (const uint8_t *)"GARBAGE!", 8,
		  "invalid magic at start of compressed archive", 0, 0 },
		{ (const uint8_t *)"BZh91AY&SY", 10, "", BS_IRDF_BZIP2, 1 },
		{ (const uint8_t *)"\x02\x21\x4c\x18", 4, "", BS_IRDF_LZ4, 1 },
		{ (const uint8_t *)"\x89\x4c\x5a\x4f", 4, "", BS_IRDF_LZO, 1 },
		{ (const uint8_t *)"\x1f\x9e", 2, "decompressor failed",
		  BS_IRDF_GZIP, 0 },
		{ (const uint8_t *)"\x01", 1,
		  "invalid magic at start of compressed archive", 0, 0 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(*t); k++) {
		struct buf b = { 0 };
		struct bs_initrd_info i;

		zeros(&b, 8);
		put(&b, t[k].bytes, t[k].len);
		zeros(&b, 200);
		scan_buf(&b, &i);
		if (strncmp(i.kernel_error, t[k].err, strlen(t[k].err)) ||
		    (!t[k].err[0] && i.kernel_error[0]) ||
		    !!i.incomplete[0] != t[k].incomplete ||
		    (i.nmember && i.member[0].fmt != t[k].fmt))
			fail_msg("case %zu: error '%s' incomplete '%s'", k,
				 i.kernel_error, i.incomplete);
		bfree(&b);
	}
}

/* The kernel's XZ decoder takes only CRC32 or no check (xz defaults to
 * CRC64): liblzma would decode the others, the kernel refuses them. */
static void xz_check_types(void **state)
{
	static const struct {
		lzma_check check;
		int ok;
	} t[] = {
		{ LZMA_CHECK_NONE, 1 }, { LZMA_CHECK_CRC32, 1 },
		{ LZMA_CHECK_CRC64, 0 }, { LZMA_CHECK_SHA256, 0 },
	};
	static const char *const names[] = { "scripts/", "scripts/live",
					     NULL };

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(*t); k++) {
		struct buf a = { 0 }, b = { 0 };
		struct bs_initrd_info i;
		size_t got = 0;

		archive(&a, names);
		b.cap = a.n + 4096;
		b.p = malloc(b.cap);
		assert_non_null(b.p);
		assert_int_equal(lzma_easy_buffer_encode(6, t[k].check, NULL,
							 a.p, a.n, b.p, &got,
							 b.cap), LZMA_OK);
		b.n = got;
		scan_buf(&b, &i);
		if (t[k].ok) {
			assert_string_equal(i.kernel_error, "");
			assert_true(HAS(&i, LIVEBOOT));
		} else {
			assert_non_null(strstr(i.kernel_error,
					       "verifies only CRC32"));
			assert_false(HAS(&i, LIVEBOOT));
		}
		bfree(&a);
		bfree(&b);
	}
}

/* Headers asking for more decoder memory than allowed: not followed
 * (incomplete), not called corrupt. */
static void decoder_memory_caps(void **state)
{
	static const uint8_t lzma_1g[] = {
		0x5d, 0x00, 0x00, 0x00, 0x40,	/* dictionary 1 GiB */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11,
	};
	static const uint8_t zstd_1g[] = {
		0x28, 0xb5, 0x2f, 0xfd, 0x00,
		0xa0,				/* window 2^30 */
		0x01, 0x00, 0x00,
	};
	static const struct {
		const uint8_t *p;
		size_t n;
		const char *why;
	} t[] = {
		{ lzma_1g, sizeof(lzma_1g), "lzma: needs more than 256 MiB" },
		{ zstd_1g, sizeof(zstd_1g), "too much memory" },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(*t); k++) {
		struct buf b = { 0 };
		struct bs_initrd_info i;

		put(&b, t[k].p, t[k].n);
		scan_buf(&b, &i);
		assert_string_equal(i.kernel_error, "");
		if (!strstr(i.incomplete, t[k].why))
			fail_msg("case %zu: incomplete '%s'", k, i.incomplete);
		bfree(&b);
	}
}

/* Junk after the last member, aligned or not. */
static void trailing_junk(void **state)
{
	static const char *const names[] = { "scripts/", "scripts/casper",
					     NULL };

	(void)state;
	for (int comp = -1; comp <= C_ZSTD; comp++) {
		for (size_t pad = 0; pad < 4; pad++) {
			struct buf a = { 0 }, b = { 0 };
			struct bs_initrd_info i;
			const char *want;

			archive(&a, names);
			if (comp < 0)
				put(&b, a.p, a.n);
			else
				compress_into(&b, (enum comp)comp, a.p, a.n);
			zeros(&b, pad);
			put(&b, "\xff\xfe", 2);
			scan_buf(&b, &i);
			/* after a plain archive a misaligned byte is
			 * "broken padding"; else the outer loop's magic */
			want = comp < 0 && ((b.n - 2) & 3) ?
			       "broken padding" :
			       "invalid magic at start of compressed archive";
			assert_string_equal(i.kernel_error, want);
			assert_true(HAS(&i, CASPER));
			bfree(&a);
			bfree(&b);
		}
	}
}

/* 070702: the kernel checks the sum of the data bytes. */
static void crc_archives(void **state)
{
	(void)state;
	for (int good = 0; good <= 1; good++) {
		struct buf b = { 0 };
		struct bs_initrd_info i;
		unsigned sum = 'a' + 'b' + 'c';

		entry_raw(&b, "070702", 0100644, 3, 13, "scripts/live",
			  "abc", 3, good ? sum : sum + 1);
		trailer(&b);
		scan_buf(&b, &i);
		assert_string_equal(i.kernel_error, good ? "" :
				    "bad data checksum");
		bfree(&b);
	}
}

/* Symlinks are entries too; merged /usr names match. */
static void symlinks(void **state)
{
	struct buf b = { 0 };
	struct bs_initrd_info i;

	(void)state;
	entry(&b, "sbin", 0120777, "usr/sbin");
	entry(&b, "./sbin/livenetroot", 0120777, "../usr/lib/livenetroot");
	entry(&b, "/lib/modules/6.1.0/kernel/fs/nfs/nfs.ko.gz", 0100644,
	      "k");
	trailer(&b);
	scan_buf(&b, &i);
	assert_string_equal(i.kernel_error, "");
	assert_true(HAS(&i, LIVENET));
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_NFS), BS_KMOD_FILE);
	assert_int_equal(i.entries, 3);
	bfree(&b);
}

/* modules.builtin (read in pieces across buffer boundaries) says what
 * the kernel has without a .ko. */
static void builtin_list(void **state)
{
	struct buf b = { 0 }, list = { 0 }, c = { 0 };
	struct bs_initrd_info i;

	(void)state;
	for (int k = 0; k < 20000; k++) {
		char line[64];
		snprintf(line, sizeof(line), "kernel/drivers/x/m%d.ko\n", k);
		put(&list, line, strlen(line));
	}
	put(&list, "kernel/fs/isofs/isofs.ko\n", 25);
	put(&list, "kernel/drivers/block/loop.ko", 28);	/* no newline */
	put(&list, "", 1);
	list.n--;
	file(&b, "usr/lib/modules/6.1.0/kernel/fs/squashfs/squashfs.ko");
	entry(&b, "usr/lib/modules/6.1.0/modules.builtin", 0100644,
	      (const char *)list.p);
	trailer(&b);
	compress_into(&c, C_XZ, b.p, b.n);
	scan_buf(&c, &i);
	assert_string_equal(i.kernel_error, "");
	assert_true(i.have_builtin_list);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_ISOFS), BS_KMOD_BUILTIN);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_LOOP), BS_KMOD_BUILTIN);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_SQUASHFS), BS_KMOD_FILE);
	assert_int_equal(bs_initrd_kmod(&i, BS_KMOD_AOE), BS_KMOD_ABSENT);
	bfree(&b);
	bfree(&list);
	bfree(&c);
}

/* Short reads and read errors; data of plain entries is never read. */
static void reader_behaviour(void **state)
{
	struct buf b = { 0 }, a = { 0 }, hdr = { 0 };
	struct bs_initrd_info i, j;
	struct mem m = { 0 };

	(void)state;
	archive(&a, fedora);
	compress_into(&b, C_GZIP, a.p, a.n);
	zeros(&b, 3);
	archive(&b, fedora);
	m.p = b.p;
	m.n = b.n;
	assert_int_equal(scan_mem(&m, &i), 0);
	for (size_t k = 1; k < 8; k++) {
		m.maxread = k;
		assert_int_equal(scan_mem(&m, &j), 0);
		assert_memory_equal(&i, &j, sizeof(i));
	}
	m.maxread = 0;
	m.fail_at = b.n - 10;
	assert_int_equal(scan_mem(&m, &j), -EIO);

	/* 3 GiB of "ISO" appended: one header read, the data skipped */
	entry_raw(&hdr, "070701", 0100644, 3u << 30, 11, "fedora.iso", NULL,
		  0, 0);
	memset(&m, 0, sizeof(m));
	bfree(&b);
	file(&b, "lib/dracut/x");
	put(&b, hdr.p, hdr.n);
	m.vz_off = b.n;
	m.vz_len = 3ULL << 30;
	trailer(&b);
	m.p = b.p;
	m.n = b.n;
	assert_int_equal(scan_mem(&m, &i), 0);
	assert_string_equal(i.kernel_error, "");
	assert_false(i.unterminated);
	assert_int_equal(i.entries, 2);
	assert_true(m.bytes_read < 1024 * 1024);
	bfree(&a);
	bfree(&b);
	bfree(&hdr);
}

/*
 * The same answers whatever the window: tiny windows split headers,
 * names, padding, compressed input and decompressed output at every
 * possible place.
 */
static void small_windows(void **state)
{
	static const char *const app[] = { "scripts/", "scripts/live", NULL };
	static const size_t windows[] = { 1, 8, 9, 11, 13, 64, 111, 1000 };
	struct buf b = { 0 }, a = { 0 }, t = { 0 };
	struct bs_initrd_info want, got;
	uint8_t *data = calloc(1, 300000);

	(void)state;
	assert_non_null(data);
	/* plain (+ big file), gzip, zstd, padding, plain, trailerless */
	archive(&b, fedora);
	entry_raw(&b, "070701", 0100644, 300000, 10, "big/a.iso", data,
		  300000, 0);
	archive(&a, app);
	compress_into(&b, C_GZIP, a.p, a.n);
	compress_into(&b, C_ZSTD, a.p, a.n);
	compress_into(&b, C_XZ, a.p, a.n);
	pad4(&b);
	zeros(&b, 8);
	put(&b, a.p, a.n);
	entry_raw(&b, "070701", 0100644, 300000, 10, "big/b.iso", data,
		  300000, 0);
	free(data);
	for (int cut = 0; cut <= 1; cut++) {
		struct mem m = { .p = b.p, .n = b.n - (size_t)cut };

		assert_int_equal(scan_mem(&m, &want), 0);
		assert_string_equal(want.kernel_error, "");
		assert_int_equal(want.unterminated, cut);
		assert_int_equal(want.nmember, 5);
		for (size_t k = 0; k < sizeof(windows) / sizeof(*windows);
		     k++) {
			m.window = windows[k];
			assert_int_equal(scan_mem(&m, &got), 0);
			if (memcmp(&want, &got, sizeof(want)))
				fail_msg("window %zu, cut %d: '%s' '%s' "
					 "members %zu entries %llu/%llu "
					 "unterminated %d features %x/%x",
					 windows[k], cut, got.kernel_error,
					 got.incomplete, got.nmember,
					 (unsigned long long)got.entries,
					 (unsigned long long)want.entries,
					 got.unterminated, got.features,
					 want.features);
		}
	}
	/* errors too: misaligned plain archive after the compressed ones */
	put(&t, b.p, b.n);
	zeros(&t, 2);
	put(&t, a.p, a.n);
	{
		struct mem m = { .p = t.p, .n = t.n };

		assert_int_equal(scan_mem(&m, &want), 0);
		assert_string_equal(want.kernel_error, "broken padding");
		for (size_t k = 0; k < sizeof(windows) / sizeof(*windows);
		     k++) {
			m.window = windows[k];
			assert_int_equal(scan_mem(&m, &got), 0);
			assert_memory_equal(&want, &got, sizeof(want));
		}
	}
	bfree(&a);
	bfree(&b);
	bfree(&t);
}

static void limits(void **state)
{
	struct buf a = { 0 }, b = { 0 };
	struct bs_initrd_info i;
	struct mem m = { 0 };
	struct bs_initrd_reader r = { .read = mem_read, .ctx = &m };
	struct bs_error e = { 0 };

	(void)state;
	archive(&a, fedora);
	zeros(&a, 1 << 20);		/* decompresses to > 1 MiB */
	compress_into(&b, C_ZSTD, a.p, a.n);
	m.p = b.p;
	m.n = b.n;
	r.size = b.n;
	r.max_out = 512 * 1024;
	assert_int_equal(bs_initrd_scan(&r, &i, &e), -EFBIG);
	assert_non_null(strstr(e.msg, "decompressed bytes"));
	assert_true(i.incomplete[0]);
	assert_true(HAS(&i, LIVENET));
	r.max_out = 0;
	r.max_entries = 3;
	assert_int_equal(bs_initrd_scan(&r, &i, &e), -EFBIG);
	assert_non_null(strstr(e.msg, "entries"));
	r.max_entries = 0;
	assert_int_equal(bs_initrd_scan(&r, &i, &e), 0);
	assert_int_equal(i.out_bytes, a.n);
	bfree(&a);
	bfree(&b);
}

/* Two zstd frames and two gzip members back to back: one member each. */
static void multiple_frames(void **state)
{
	static const char *const one[] = { "scripts/", "scripts/casper",
					   NULL };
	struct buf a = { 0 }, b = { 0 }, c = { 0 };
	struct bs_initrd_info i;

	(void)state;
	archive(&a, one);
	archive(&b, fedora);
	compress_into(&c, C_ZSTD, a.p, a.n);
	compress_into(&c, C_ZSTD, b.p, b.n);
	compress_into(&c, C_GZIP, a.p, a.n);
	compress_into(&c, C_XZ, b.p, b.n);
	scan_buf(&c, &i);
	assert_string_equal(i.kernel_error, "");
	assert_int_equal(i.nmember, 4);
	assert_int_equal(i.formats, 1u << BS_IRDF_ZSTD | 1u << BS_IRDF_GZIP |
				    1u << BS_IRDF_XZ);
	assert_true(HAS(&i, CASPER) && HAS(&i, LIVENET));
	assert_int_equal(i.out_bytes, 2 * (a.n + b.n));
	bfree(&a);
	bfree(&b);
	bfree(&c);
}

static void over_blob(void **state)
{
	static const char *const one[] = { "scripts/", "scripts/live", NULL };
	struct buf a = { 0 }, b = { 0 };
	struct bs_blob_builder bb = { 0 };
	struct bs_blob *blob;
	struct bs_initrd_info i;
	struct bs_error e;

	(void)state;
	archive(&a, fedora);
	compress_into(&b, C_GZIP, a.p, a.n);
	bs_blob_add_bytes(&bb, b.p, b.n);
	bs_blob_add_zero(&bb, ((4 - (b.n & 3)) & 3) + 4096);
	bfree(&a);
	archive(&a, one);
	bs_blob_add_bytes(&bb, a.p, a.n);
	assert_int_equal(bs_blob_finish(&bb, &blob), 0);
	assert_int_equal(bs_initrd_scan_blob(blob, &i, &e), 0);
	assert_string_equal(i.kernel_error, "");
	assert_true(HAS(&i, LIVENET) && HAS(&i, LIVEBOOT));
	assert_int_equal(i.nmember, 2);
	assert_int_equal(i.size, blob->size);
	bs_blob_unref(blob);
	bfree(&a);
	bfree(&b);
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(bs_initrd_feature_name(BS_IRD_LIVENET), "livenet");
	assert_string_equal(bs_initrd_feature_name(BS_IRD_FEATURE_COUNT), "?");
	assert_string_equal(bs_initrd_fmt_name(BS_IRDF_ZSTD), "zstd");
	assert_string_equal(bs_initrd_kmod_name(BS_KMOD_ISOFS), "isofs");
	for (int f = 0; f < BS_IRD_FEATURE_COUNT; f++)
		assert_string_not_equal(bs_initrd_feature_name(f), "?");
}

/* ---- verdicts -------------------------------------------------------- */

#define F(x) (1u << BS_IRD_##x)
#define K(x) (1u << BS_KMOD_##x)
static const struct {
	uint32_t features, kmods, builtin;
	int builtin_list, incomplete, kerr, unterminated;
	enum bs_family fam;
	enum bs_delivery mode;
	enum bs_initrd_verdict want;
	const char *why;	/* substring of the sentence */
	int line;
} verdicts[] = {
	{ F(DRACUT) | F(DMSQUASH), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0,
	  0, 0, BS_FAM_DRACUT, BS_DELIVERY_CPIO, BS_IRD_YES, "", __LINE__ },
	{ F(DRACUT) | F(DMSQUASH), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0,
	  0, 0, BS_FAM_DRACUT, BS_DELIVERY_HTTP, BS_IRD_NO,
	  "dracut initrd without livenet: root=live:http:// cannot work",
	  __LINE__ },
	{ F(DRACUT) | F(DMSQUASH), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 1,
	  0, 0, BS_FAM_DRACUT, BS_DELIVERY_HTTP, BS_IRD_MAYBE,
	  "partly read", __LINE__ },
	{ F(DRACUT) | F(DMSQUASH) | F(LIVENET), K(LOOP) | K(SQUASHFS), 0, 0,
	  0, 0, 0, BS_FAM_DRACUT, BS_DELIVERY_HTTP, BS_IRD_MAYBE,
	  "no isofs module in the initrd", __LINE__ },
	{ F(DRACUT) | F(DMSQUASH) | F(LIVENET), K(LOOP) | K(SQUASHFS), 0, 1,
	  0, 0, 0, BS_FAM_DRACUT, BS_DELIVERY_HTTP, BS_IRD_NO,
	  "does not have it built in", __LINE__ },
	{ F(DRACUT) | F(DMSQUASH) | F(LIVENET), K(LOOP) | K(SQUASHFS),
	  K(ISOFS), 1, 0, 0, 0, BS_FAM_DRACUT, BS_DELIVERY_HTTP, BS_IRD_YES,
	  "", __LINE__ },
	{ F(DRACUT), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0, 0, 0,
	  BS_FAM_DRACUT, BS_DELIVERY_CPIO, BS_IRD_NO, "without dmsquash-live",
	  __LINE__ },
	{ F(DRACUT) | F(DMSQUASH), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0,
	  1, 0, BS_FAM_DRACUT, BS_DELIVERY_CPIO, BS_IRD_NO,
	  "appended ISO archive would never be unpacked", __LINE__ },
	{ F(DRACUT) | F(DMSQUASH), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0,
	  0, 1, BS_FAM_DRACUT, BS_DELIVERY_CPIO, BS_IRD_NO,
	  "ends inside a cpio entry", __LINE__ },
	{ F(DRACUT) | F(DMSQUASH), 0, 0, 0, 0, 1, 0, BS_FAM_DRACUT,
	  BS_DELIVERY_AUTO, BS_IRD_MAYBE, "files after it are missing",
	  __LINE__ },
	{ F(INITRAMFS_TOOLS), 0, 0, 0, 0, 0, 0, BS_FAM_DRACUT,
	  BS_DELIVERY_CPIO, BS_IRD_NO, "not a dracut initrd", __LINE__ },
	{ F(CASPER), K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0, 0, 0,
	  BS_FAM_CASPER, BS_DELIVERY_HTTP, BS_IRD_YES, "", __LINE__ },
	{ F(CASPER), K(SQUASHFS) | K(NFS), 0, 0, 0, 0, 0, BS_FAM_CASPER,
	  BS_DELIVERY_NFS, BS_IRD_NO, "without an NFS client", __LINE__ },
	{ F(CASPER) | F(NFS), K(SQUASHFS), 0, 0, 0, 0, 0, BS_FAM_CASPER,
	  BS_DELIVERY_NFS, BS_IRD_MAYBE, "no nfs module", __LINE__ },
	{ F(CASPER), 0, 0, 0, 0, 0, 0, BS_FAM_CASPER, BS_DELIVERY_CPIO,
	  BS_IRD_NO, "casper cannot boot by cpio", __LINE__ },
	{ 0, K(LOOP) | K(ISOFS) | K(SQUASHFS), 0, 0, 0, 0, 0, BS_FAM_CASPER,
	  BS_DELIVERY_HTTP, BS_IRD_NO, "without casper scripts", __LINE__ },
	{ F(LIVEBOOT), K(LOOP) | K(SQUASHFS), 0, 0, 0, 0, 0,
	  BS_FAM_LIVEBOOT, BS_DELIVERY_CPIO, BS_IRD_MAYBE,
	  "Debian's kernels build isofs as a module", __LINE__ },
	{ F(LIVEBOOT) | F(NFS), K(NFS) | K(SQUASHFS), 0, 0, 0, 0, 0,
	  BS_FAM_LIVEBOOT, BS_DELIVERY_NFS, BS_IRD_YES, "", __LINE__ },
	{ F(ARCHISO) | F(ARCHISO_HTTP), K(SQUASHFS), 0, 0, 0, 0, 0,
	  BS_FAM_ARCHISO, BS_DELIVERY_HTTP, BS_IRD_YES, "", __LINE__ },
	{ F(ARCHISO) | F(ARCHISO_HTTP), K(SQUASHFS) | K(NFS), 0, 0, 0, 0, 0,
	  BS_FAM_ARCHISO, BS_DELIVERY_NFS, BS_IRD_NO, "archiso_pxe_nfs",
	  __LINE__ },
	{ F(KIWI) | F(AOE), K(AOE) | K(ISOFS) | K(SQUASHFS), 0, 0, 0, 0, 0,
	  BS_FAM_KIWI, BS_DELIVERY_AOE, BS_IRD_YES, "", __LINE__ },
	{ F(KIWI), K(ISOFS) | K(SQUASHFS), 0, 1, 0, 0, 0, BS_FAM_KIWI,
	  BS_DELIVERY_AOE, BS_IRD_NO, "no aoe module", __LINE__ },
	{ F(KIWI), K(ISOFS) | K(SQUASHFS), 0, 0, 0, 0, 0, BS_FAM_KIWI,
	  BS_DELIVERY_AOE, BS_IRD_MAYBE, "no aoe module", __LINE__ },
	{ 0, 0, 0, 0, 0, 1, 1, BS_FAM_ELTORITO, BS_DELIVERY_SANBOOT,
	  BS_IRD_YES, "", __LINE__ },
	{ 0, 0, 0, 0, 0, 0, 0, BS_FAM_GENERIC, BS_DELIVERY_AUTO, BS_IRD_YES,
	  "", __LINE__ },
	{ 0, 0, 0, 0, 0, 0, 0, BS_FAM_DEBIAN_INSTALLER, BS_DELIVERY_HTTP,
	  BS_IRD_MAYBE, "no initrd check", __LINE__ },
};

static void verdict_table(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(verdicts) / sizeof(*verdicts); k++) {
		struct bs_initrd_info i = { 0 };
		char why[256];
		enum bs_initrd_verdict v;

		i.features = verdicts[k].features;
		i.kmod_files = verdicts[k].kmods;
		i.kmod_builtin = verdicts[k].builtin;
		i.have_builtin_list = verdicts[k].builtin_list;
		if (verdicts[k].incomplete)
			strcpy(i.incomplete, "bzip2 member at offset 0");
		if (verdicts[k].kerr)
			strcpy(i.kernel_error, "broken padding");
		i.unterminated = verdicts[k].unterminated;
		v = bs_initrd_supports(&i, verdicts[k].fam, verdicts[k].mode,
				       why, sizeof(why));
		if (v != verdicts[k].want ||
		    !strstr(why, verdicts[k].why) ||
		    (v == BS_IRD_YES) != (why[0] == '\0'))
			fail_msg("verdict at line %d: %s, \"%s\"",
				 verdicts[k].line, bs_initrd_verdict_name(v),
				 why);
	}
}

/* The scan feeds the verdict: a real Fedora-like initrd + appended ISO. */
static void scan_then_verdict(void **state)
{
	struct buf a = { 0 }, b = { 0 };
	struct bs_initrd_info i;
	char why[256];

	(void)state;
	archive(&a, fedora);
	compress_into(&b, C_ZSTD, a.p, a.n);
	scan_buf(&b, &i);
	assert_int_equal(bs_initrd_supports(&i, BS_FAM_DRACUT,
					    BS_DELIVERY_HTTP, why,
					    sizeof(why)), BS_IRD_YES);
	assert_int_equal(bs_initrd_supports(&i, BS_FAM_DRACUT,
					    BS_DELIVERY_CPIO, why,
					    sizeof(why)), BS_IRD_YES);
	assert_int_equal(bs_initrd_supports(&i, BS_FAM_KIWI, BS_DELIVERY_AOE,
					    why, sizeof(why)), BS_IRD_NO);
	assert_true(bs_initrd_describe(&i, why, sizeof(why)) > 0);
	assert_string_equal(why, "zstd, 1 member, 15 entries: dracut, "
			    "dmsquash-live, livenet; modules loop isofs "
			    "squashfs");
	/* too small a buffer: cut, NUL-terminated, full length returned */
	assert_int_equal(bs_initrd_describe(&i, why, 5), 87);
	assert_string_equal(why, "zstd");
	/* truncate it: every mode is warned about, cpio refused */
	b.n -= 5;
	scan_buf(&b, &i);
	assert_int_equal(bs_initrd_supports(&i, BS_FAM_DRACUT,
					    BS_DELIVERY_CPIO, why,
					    sizeof(why)), BS_IRD_NO);
	assert_non_null(strstr(why, "decompressor failed"));
	bs_initrd_describe(&i, why, sizeof(why));
	assert_non_null(strstr(why, "; kernel: decompressor failed ("));
	bfree(&a);
	bfree(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_dracut),
		cmocka_unit_test(compressed_members),
		cmocka_unit_test(concatenations),
		cmocka_unit_test(misaligned_plain),
		cmocka_unit_test(inside_compressed),
		cmocka_unit_test(truncations),
		cmocka_unit_test(absurd_sizes),
		cmocka_unit_test(magics),
		cmocka_unit_test(xz_check_types),
		cmocka_unit_test(decoder_memory_caps),
		cmocka_unit_test(trailing_junk),
		cmocka_unit_test(crc_archives),
		cmocka_unit_test(symlinks),
		cmocka_unit_test(builtin_list),
		cmocka_unit_test(reader_behaviour),
		cmocka_unit_test(small_windows),
		cmocka_unit_test(limits),
		cmocka_unit_test(multiple_frames),
		cmocka_unit_test(over_blob),
		cmocka_unit_test(names),
		cmocka_unit_test(verdict_table),
		cmocka_unit_test(scan_then_verdict),
	};
	return cmocka_run_group_tests_name("initrd", tests, NULL, NULL);
}
