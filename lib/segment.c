/*
 * segment.c - blobs: build a segment list, then read or describe ranges of
 * it.  Reads and extents do no allocation; only the builder allocates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/segment.h>

#include "refcnt_i.h"

static struct bs_seg *grow(struct bs_blob_builder *b)
{
	if (b->failed)
		return NULL;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct bs_seg *v = realloc(b->seg, cap * sizeof(*v));
		if (!v) {
			b->failed = 1;
			return NULL;
		}
		b->seg = v;
		b->cap = cap;
	}
	struct bs_seg *s = &b->seg[b->n];
	memset(s, 0, sizeof(*s));
	s->start = b->size;
	return s;
}

void bs_blob_add_source(struct bs_blob_builder *b, struct bs_source *src,
			uint64_t off, uint64_t len)
{
	struct bs_seg *s;

	if (len == 0)
		return;
	/* Adjacent ranges of one source merge: fewer extents per read. */
	if (b->n && !b->failed) {
		s = &b->seg[b->n - 1];
		if (s->kind == BS_SEG_SOURCE && s->src == src &&
		    s->off + s->len == off) {
			s->len += len;
			b->size += len;
			return;
		}
	}
	if (!(s = grow(b)))
		return;
	s->kind = BS_SEG_SOURCE;
	s->len = len;
	s->src = bs_source_ref(src);
	s->off = off;
	b->n++;
	b->size += len;
}

void bs_blob_add_bytes(struct bs_blob_builder *b, const void *bytes,
		       size_t len)
{
	struct bs_seg *s;
	uint8_t *copy;

	if (len == 0 || !(s = grow(b)))
		return;
	if (!(copy = malloc(len))) {
		b->failed = 1;
		return;
	}
	memcpy(copy, bytes, len);
	s->kind = BS_SEG_BYTES;
	s->len = len;
	s->bytes = copy;
	b->n++;
	b->size += len;
}

void bs_blob_add_zero(struct bs_blob_builder *b, uint64_t len)
{
	struct bs_seg *s;

	if (len == 0)
		return;
	if (b->n && !b->failed && b->seg[b->n - 1].kind == BS_SEG_ZERO) {
		b->seg[b->n - 1].len += len;
		b->size += len;
		return;
	}
	if (!(s = grow(b)))
		return;
	s->kind = BS_SEG_ZERO;
	s->len = len;
	b->n++;
	b->size += len;
}

void bs_blob_add_blob(struct bs_blob_builder *b, const struct bs_blob *o)
{
	for (size_t i = 0; i < o->nseg; i++) {
		const struct bs_seg *s = &o->seg[i];
		switch (s->kind) {
		case BS_SEG_SOURCE:
			bs_blob_add_source(b, s->src, s->off, s->len);
			break;
		case BS_SEG_BYTES:
			bs_blob_add_bytes(b, s->bytes, s->len);
			break;
		case BS_SEG_ZERO:
			bs_blob_add_zero(b, s->len);
			break;
		}
	}
}

static void release_segs(struct bs_seg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].kind == BS_SEG_SOURCE)
			bs_source_unref(v[i].src);
		else if (v[i].kind == BS_SEG_BYTES)
			free((void *)v[i].bytes);
	}
	free(v);
}

void bs_blob_builder_release(struct bs_blob_builder *b)
{
	release_segs(b->seg, b->n);
	memset(b, 0, sizeof(*b));
}

int bs_blob_finish(struct bs_blob_builder *b, struct bs_blob **out)
{
	struct bs_blob *blob;

	*out = NULL;
	if (b->failed || !(blob = calloc(1, sizeof(*blob)))) {
		bs_blob_builder_release(b);
		return -ENOMEM;
	}
	blob->refs = 1;
	blob->size = b->size;
	blob->nseg = b->n;
	blob->seg = b->seg;
	/* Trees hold one blob per file: give back the builder's slack. */
	if (b->n && b->n < b->cap) {
		struct bs_seg *v = realloc(b->seg, b->n * sizeof(*v));
		if (v)
			blob->seg = v;
	}
	memset(b, 0, sizeof(*b));
	*out = blob;
	return 0;
}

struct bs_blob *bs_blob_new_bytes(size_t len, uint8_t **bytes)
{
	struct bs_blob *blob;
	struct bs_seg *s;

	*bytes = NULL;
	if (len == 0 || len > SIZE_MAX - sizeof(*blob) - sizeof(*s) ||
	    !(blob = malloc(sizeof(*blob) + sizeof(*s) + len)))
		return NULL;
	s = (struct bs_seg *)(blob + 1);
	memset(blob, 0, sizeof(*blob) + sizeof(*s));
	blob->refs = 1;
	blob->size = len;
	blob->nseg = 1;
	blob->seg = s;
	blob->one_block = 1;
	s->kind = BS_SEG_BYTES;
	s->len = len;
	s->bytes = *bytes = (uint8_t *)(s + 1);
	return blob;
}

struct bs_blob *bs_blob_ref(struct bs_blob *b)
{
	if (b)
		bs_ref_get(&b->refs);
	return b;
}

void bs_blob_unref(struct bs_blob *b)
{
	if (!b || !bs_ref_put(&b->refs))
		return;
	if (!b->one_block)
		release_segs(b->seg, b->nseg);
	free(b);
}

/* Index of the segment holding @off (off < size). */
static size_t find_seg(const struct bs_blob *b, uint64_t off)
{
	size_t lo = 0, hi = b->nseg;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->seg[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t bs_blob_extents(const struct bs_blob *b, uint64_t off, size_t len,
		       struct bs_extent *out, size_t max, size_t *covered)
{
	size_t n = 0, done = 0;

	*covered = 0;
	if (off >= b->size || len == 0 || max == 0)
		return 0;
	if (len > b->size - off)
		len = (size_t)(b->size - off);
	for (size_t i = find_seg(b, off); i < b->nseg && done < len && n < max;
	     i++) {
		const struct bs_seg *s = &b->seg[i];
		uint64_t in = off + done - s->start;
		uint64_t take = s->len - in;
		if (take > len - done)
			take = len - done;
		struct bs_extent *e = &out[n++];
		e->kind = s->kind;
		e->len = take;
		e->fd = s->kind == BS_SEG_SOURCE ? s->src->fd : -1;
		e->src = s->kind == BS_SEG_SOURCE ? s->src : NULL;
		e->off = s->kind == BS_SEG_SOURCE ? s->off + in : 0;
		e->until = s->kind == BS_SEG_SOURCE ? s->off + s->len : 0;
		e->bytes = s->kind == BS_SEG_BYTES ? s->bytes + in : NULL;
		done += (size_t)take;
	}
	*covered = done;
	return n;
}

ssize_t bs_blob_read(const struct bs_blob *b, void *buf, size_t len,
		     uint64_t off)
{
	size_t done = 0;

	if (off >= b->size || len == 0)
		return 0;
	if (len > b->size - off)
		len = (size_t)(b->size - off);
	for (size_t i = find_seg(b, off); i < b->nseg && done < len; i++) {
		const struct bs_seg *s = &b->seg[i];
		uint64_t in = off + done - s->start;
		size_t take = (size_t)(s->len - in);
		uint8_t *dst = (uint8_t *)buf + done;
		ssize_t n;

		if (take > len - done)
			take = len - done;
		switch (s->kind) {
		case BS_SEG_SOURCE:
			n = bs_source_pread_until(s->src, dst, take,
						  s->off + in,
						  s->off + s->len);
			if (n < 0)
				return n;
			/* A short read means the ISO shrank: never pad
			 * with zeros, that would be wrong bytes. */
			if ((size_t)n != take)
				return -EIO;
			break;
		case BS_SEG_BYTES:
			memcpy(dst, s->bytes + in, take);
			break;
		case BS_SEG_ZERO:
			memset(dst, 0, take);
			break;
		}
		done += take;
	}
	return (ssize_t)done;
}
