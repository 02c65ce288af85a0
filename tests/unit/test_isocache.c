/*
 * test_isocache.c - the on-disk index cache format: round trip of a tree
 * with every node kind, rejection of any flipped byte, any truncation,
 * another format version, another path or identity, and well-formed
 * containers whose payload breaks a rule (extent past the image,
 * unsorted names, '/' in a name); store and load through a directory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include <bootshelf/detect.h>
#include <bootshelf/isoindex.h>

#include "isocache_i.h"

static ssize_t no_read(struct bs_source *s, void *b, size_t l, uint64_t o,
		       uint64_t u)
{
	(void)s; (void)b; (void)l; (void)o; (void)u;
	return -EIO;
}

static const struct bs_source_ops no_ops = { .pread = no_read };

static struct bs_source *fake_source(uint64_t ino)
{
	struct bs_source_id id = { 0, ino, 1 << 20, 123456789 };
	struct bs_source *s;

	assert_int_equal(bs_source_new("http://x/y.iso", &id, &no_ops, NULL,
				       &s), 0);
	return s;
}

static struct bs_iso_node *node(const char *name, mode_t mode)
{
	struct bs_iso_node *n = calloc(1, sizeof(*n));

	assert_non_null(n);
	n->name = strdup(name);
	n->mode = mode;
	n->mtime = 1700000000;
	return n;
}

static void add_kid(struct bs_iso_node *d, struct bs_iso_node *k)
{
	d->kids = realloc(d->kids, (d->nkids + 1) * sizeof(*d->kids));
	assert_non_null(d->kids);
	d->kids[d->nkids++] = k;
}

/* root: a (2 extents), b/ (c -> a, d (no extents)), e/ (empty) */
static struct bs_iso *sample(struct bs_source *src, struct bs_bootinfo *bi)
{
	struct bs_iso *iso = calloc(1, sizeof(*iso));
	struct bs_iso_node *a, *b, *c, *d;

	iso->refs = 1;
	iso->src = bs_source_ref(src);
	iso->image_size = src->id.size;
	strcpy(iso->volid, "TEST VOL");
	iso->nfiles = 2;
	iso->ndirs = 3;
	iso->has_eltorito = 1;
	iso->root = node("", S_IFDIR | 0555);
	a = node("a", S_IFREG | 0444);
	a->ext = calloc(2, sizeof(*a->ext));
	a->ext[0] = (struct bs_iso_extent){ 2048, 1000 };
	a->ext[1] = (struct bs_iso_extent){ 8192, 24 };
	a->next = 2;
	a->size = 1024;
	b = node("b", S_IFDIR | 0555);
	c = node("c", S_IFLNK | 0777);
	c->target = strdup("../a");
	c->size = 4;
	d = node("d", S_IFREG | 0444);
	add_kid(iso->root, a);
	add_kid(iso->root, b);
	add_kid(b, c);
	add_kid(b, d);
	add_kid(iso->root, node("e", S_IFDIR | 0555));
	memset(bi, 0, sizeof(*bi));
	bi->family = BS_FAM_DRACUT;
	strcpy(bi->kernel, "images/pxeboot/vmlinuz");
	bi->ninitrd = 2;
	strcpy(bi->initrd[0], "images/pxeboot/initrd.img");
	strcpy(bi->initrd[1], "x");
	strcpy(bi->append, "rd.live.image quiet");
	strcpy(bi->why, "LiveOS/squashfs.img");
	return iso;
}

static void same_node(const struct bs_iso_node *x, const struct bs_iso_node *y)
{
	assert_string_equal(x->name, y->name);
	assert_int_equal(x->mode, y->mode);
	assert_int_equal(x->size, y->size);
	assert_int_equal(x->mtime, y->mtime);
	assert_int_equal(x->next, y->next);
	for (size_t i = 0; i < x->next; i++) {
		assert_int_equal(x->ext[i].off, y->ext[i].off);
		assert_int_equal(x->ext[i].len, y->ext[i].len);
	}
	if (x->target)
		assert_string_equal(x->target, y->target);
	assert_int_equal(x->nkids, y->nkids);
	for (size_t i = 0; i < x->nkids; i++)
		same_node(x->kids[i], y->kids[i]);
}

static void round_trip(void **state)
{
	struct bs_source *src = fake_source(7);
	struct bs_bootinfo bi, bo;
	struct bs_iso *iso = sample(src, &bi), *back;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(bs_idx_serialize("http://x/y.iso", iso, &bi, NULL, &buf,
					  &len), 0);
	assert_int_equal(bs_idx_deserialize(buf, len, "http://x/y.iso", src,
					    &back, &bo, NULL), 0);
	same_node(iso->root, back->root);
	assert_string_equal(back->volid, "TEST VOL");
	assert_int_equal(back->image_size, iso->image_size);
	assert_int_equal(back->nfiles, 2);
	assert_int_equal(back->ndirs, 3);
	assert_int_equal(back->has_eltorito, 1);
	assert_ptr_equal(back->src, src);
	assert_memory_equal(&bi, &bo, sizeof(bi));
	/* lookups work on the rebuilt tree */
	assert_non_null(bs_iso_lookup(back, "b/c"));
	bs_iso_unref(back);
	free(buf);
	bs_iso_unref(iso);
	bs_source_unref(src);
}

/* The initrd inspection goes with the index, field by field. */
static void scan_round_trip(void **state)
{
	struct bs_source *src = fake_source(7);
	struct bs_bootinfo bi, bo;
	struct bs_iso *iso = sample(src, &bi), *back;
	static struct bs_idx_scan sc, got;
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.have = 1;
	sc.ird.features = 0x15;
	sc.ird.formats = 1u << BS_IRDF_ZSTD | 1u << BS_IRDF_NEWC;
	sc.ird.nmember = BS_INITRD_MAX_MEMBERS + 3;	/* only 16 described */
	for (int i = 0; i < BS_INITRD_MAX_MEMBERS; i++) {
		sc.ird.member[i].fmt = (enum bs_initrd_fmt)(i % BS_IRDF_COUNT);
		sc.ird.member[i].off = 1000u * (unsigned)i;
		sc.ird.member[i].len = 999;
		sc.ird.member[i].out = 4096u + (unsigned)i;
		sc.ird.member[i].entries = (unsigned)i;
	}
	sc.ird.entries = 1234;
	sc.ird.size = 1u << 20;
	strcpy(sc.ird.kernel_error, "junk at the end of compressed archive");
	sc.ird.error_off = 77;
	sc.ird.unterminated = 1;
	strcpy(sc.ird.incomplete, "limit");
	assert_int_equal(bs_idx_serialize("k", iso, &bi, &sc, &buf, &len), 0);
	assert_int_equal(bs_idx_deserialize(buf, len, "k", src, &back, &bo,
					    &got), 0);
	assert_int_equal(got.have, 1);
	assert_int_equal(got.rc, 0);
	assert_memory_equal(&got.ird, &sc.ird, sizeof(sc.ird));
	bs_iso_unref(back);
	free(buf);
	/* a failed scan keeps its answer and message */
	memset(&sc, 0, sizeof(sc));
	sc.have = 1;
	sc.rc = -EINVAL;
	strcpy(sc.err.msg, "initrd not found");
	assert_int_equal(bs_idx_serialize("k", iso, &bi, &sc, &buf, &len), 0);
	assert_int_equal(bs_idx_deserialize(buf, len, "k", src, &back, &bo,
					    &got), 0);
	assert_int_equal(got.have, 1);
	assert_int_equal(got.rc, -EINVAL);
	assert_string_equal(got.err.msg, "initrd not found");
	bs_iso_unref(back);
	free(buf);
	/* none */
	assert_int_equal(bs_idx_serialize("k", iso, &bi, NULL, &buf, &len), 0);
	assert_int_equal(bs_idx_deserialize(buf, len, "k", src, &back, &bo,
					    &got), 0);
	assert_int_equal(got.have, 0);
	bs_iso_unref(back);
	free(buf);
	bs_iso_unref(iso);
	bs_source_unref(src);
}

static void corrupt_rejected(void **state)
{
	struct bs_source *src = fake_source(7), *other = fake_source(8);
	struct bs_bootinfo bi, bo;
	struct bs_iso *iso = sample(src, &bi), *back;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(bs_idx_serialize("k", iso, &bi, NULL, &buf, &len), 0);
	/* every single flipped bit pattern at every position */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x41;
		assert_int_equal(bs_idx_deserialize(buf, len, "k", src, &back,
						    &bo, NULL), -EINVAL);
		assert_null(back);
		buf[i] ^= 0x41;
	}
	for (size_t n = 0; n < len; n++)
		assert_int_equal(bs_idx_deserialize(buf, n, "k", src, &back,
						    &bo, NULL), -EINVAL);
	/* another path, another identity, another version */
	assert_int_equal(bs_idx_deserialize(buf, len, "k2", src, &back, &bo, NULL),
			 -EINVAL);
	assert_int_equal(bs_idx_deserialize(buf, len, "k", other, &back,
					    &bo, NULL), -EINVAL);
	buf[8] = BS_IDX_VERSION + 1;
	assert_int_equal(bs_idx_deserialize(buf, len, "k", src, &back, &bo, NULL),
			 -EINVAL);
	buf[8] = BS_IDX_VERSION;
	assert_int_equal(bs_idx_deserialize(buf, len, "k", src, &back, &bo, NULL),
			 0);
	bs_iso_unref(back);
	free(buf);
	bs_iso_unref(iso);
	bs_source_unref(src);
	bs_source_unref(other);
}

/* A valid container around @raw (as the writer would make it). */
static size_t wrap(const uint8_t *raw, size_t n, uint8_t *out, size_t cap)
{
	size_t c = ZSTD_compress(out + BS_IDX_HDR, cap - BS_IDX_HDR, raw, n,
				 1);
	uint32_t crc = (uint32_t)crc32(0L, raw, (uInt)n);

	assert_false(ZSTD_isError(c));
	memcpy(out, BS_IDX_MAGIC, 8);
	out[8] = BS_IDX_VERSION;
	out[9] = out[10] = out[11] = 0;
	for (int i = 0; i < 4; i++)
		out[12 + i] = (uint8_t)(crc >> (8 * i));
	for (int i = 0; i < 8; i++) {
		out[16 + i] = (uint8_t)((uint64_t)n >> (8 * i));
		out[24 + i] = (uint8_t)((uint64_t)c >> (8 * i));
	}
	return BS_IDX_HDR + c;
}

/* Decompress a serialized file's payload (to edit it). */
static size_t unwrap(const uint8_t *file, size_t len, uint8_t *raw,
		     size_t cap)
{
	size_t n = ZSTD_decompress(raw, cap, file + BS_IDX_HDR,
				   len - BS_IDX_HDR);
	assert_false(ZSTD_isError(n));
	return n;
}

static uint8_t *find(uint8_t *hay, size_t n, const void *needle, size_t k)
{
	return memmem(hay, n, needle, k);
}

static void bad_payload_rejected(void **state)
{
	struct bs_source *src = fake_source(7);
	struct bs_bootinfo bi, bo;
	struct bs_iso *iso = sample(src, &bi), *back;
	static uint8_t raw[65536], raw2[65536], file[70000];
	uint8_t *buf, *p;
	size_t len, n, fl;

	(void)state;
	assert_int_equal(bs_idx_serialize("k", iso, &bi, NULL, &buf, &len), 0);
	n = unwrap(buf, len, raw, sizeof(raw));
	/* sanity: rewrapping unchanged is accepted */
	fl = wrap(raw, n, file, sizeof(file));
	assert_int_equal(bs_idx_deserialize(file, fl, "k", src, &back, &bo, NULL),
			 0);
	bs_iso_unref(back);

	/* the 8192+24 extent moved past the end of the image */
	memcpy(raw2, raw, n);
	uint8_t ext[16] = { 0, 0x20, 0, 0, 0, 0, 0, 0, 24 };
	assert_non_null(p = find(raw2, n, ext, sizeof(ext)));
	p[2] = 0x10;		/* offset 1 MiB + 8192 */
	fl = wrap(raw2, n, file, sizeof(file));
	assert_int_equal(bs_idx_deserialize(file, fl, "k", src, &back, &bo, NULL),
			 -EINVAL);

	/* "b" renamed "f": names no longer sorted */
	memcpy(raw2, raw, n);
	uint8_t nb[5] = { 1, 0, 0, 0, 'b' };
	assert_non_null(p = find(raw2, n, nb, sizeof(nb)));
	p[4] = 'f';
	fl = wrap(raw2, n, file, sizeof(file));
	assert_int_equal(bs_idx_deserialize(file, fl, "k", src, &back, &bo, NULL),
			 -EINVAL);

	/* "b" renamed "/" */
	p[4] = '/';
	fl = wrap(raw2, n, file, sizeof(file));
	assert_int_equal(bs_idx_deserialize(file, fl, "k", src, &back, &bo, NULL),
			 -EINVAL);

	/* trailing bytes */
	memcpy(raw2, raw, n);
	raw2[n] = 0;
	fl = wrap(raw2, n + 1, file, sizeof(file));
	assert_int_equal(bs_idx_deserialize(file, fl, "k", src, &back, &bo, NULL),
			 -EINVAL);
	free(buf);
	bs_iso_unref(iso);
	bs_source_unref(src);
}

static void store_and_load(void **state)
{
	char dir[] = "/tmp/bs-idx-XXXXXX", sub[64], path[128];
	struct bs_source *src = fake_source(7), *other = fake_source(9);
	struct bs_bootinfo bi, bo;
	struct bs_iso *iso = sample(src, &bi), *back;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/cache", dir);
	assert_int_equal(bs_idx_load(sub, "k", src, &back, &bo, NULL), -ENOENT);
	assert_int_equal(bs_idx_store(sub, "k", iso, &bi, NULL), 0);
	assert_int_equal(bs_idx_load(sub, "k", src, &back, &bo, NULL), 0);
	same_node(iso->root, back->root);
	bs_iso_unref(back);
	/* another version of the same path: a miss, to be rebuilt */
	assert_int_equal(bs_idx_load(sub, "k", other, &back, &bo, NULL), -ENOENT);
	/* a garbage file: a miss */
	bs_idx_path(sub, "k", path, sizeof(path));
	assert_non_null(f = fopen(path, "w"));
	fputs("garbage", f);
	fclose(f);
	assert_int_equal(bs_idx_load(sub, "k", src, &back, &bo, NULL), -ENOENT);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	bs_iso_unref(iso);
	bs_source_unref(src);
	bs_source_unref(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(scan_round_trip),
		cmocka_unit_test(corrupt_rejected),
		cmocka_unit_test(bad_payload_rejected),
		cmocka_unit_test(store_and_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
