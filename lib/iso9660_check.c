/*
 * iso9660_check.c - a bounded walk over an image's ISO 9660 and Joliet
 * directory hierarchies, before libisofs sees it.
 *
 * libisofs follows directory records without loop detection, so an image
 * whose directory points back at an ancestor makes it recurse until the
 * stack runs out.  This walk visits each directory extent at most once
 * (a second visit is a loop), limits depth and count, and checks every
 * directory extent lies inside the image.  It reads a directory the way
 * libisofs does: as long as its own "." record says (when that is more
 * than its parent's record says) and with only the first two records
 * skipped.  It reads only directory blocks; file data is never touched.
 * Left out: Rock Ridge relocation (CL entries), which legitimately
 * reaches a directory twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iso9660_i.h"

#define BLK 2048
#define MAX_DIRS (1u << 20)

struct seen {
	uint32_t *v;
	size_t n, cap;		/* open-addressing set of LBAs + 1 */
};

/* 1 if @lba was already in the set; -ENOMEM; 0 if added. */
static int seen_add(struct seen *s, uint32_t lba)
{
	uint32_t key = lba + 1;

	if (s->n * 2 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint32_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->v[i])
				continue;
			size_t j = (s->v[i] * 2654435761u) & (cap - 1);
			while (v[j])
				j = (j + 1) & (cap - 1);
			v[j] = s->v[i];
		}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	size_t j = (key * 2654435761u) & (s->cap - 1);
	while (s->v[j]) {
		if (s->v[j] == key)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	s->v[j] = key;
	s->n++;
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

struct walk {
	struct bs_source *src;
	uint64_t size;
	struct seen seen;
	size_t ndirs;
	struct bs_error *err;
	uint8_t blk[BLK];
};

/* The directory's size as libisofs will take it: from its own "."
 * record (the first one of its first block), which may disagree with
 * the parent's record; the larger of the two is walked. */
static int dir_size(struct walk *w, uint32_t lba, uint32_t len,
		    uint32_t *size)
{
	ssize_t n = bs_source_pread(w->src, w->blk, BLK, (uint64_t)lba * BLK);

	if (n != BLK)
		return bs_error_set(w->err, -EIO, "cannot read directory "
				    "block %u", lba);
	*size = len;
	if (w->blk[0] >= 34 && le32(w->blk + 10) > len)
		*size = le32(w->blk + 10);
	return 0;
}

static int walk(struct walk *w, uint32_t lba, uint32_t len, int depth)
{
	uint32_t size = len;
	int rc, pos = 0;

	if (depth > BS_ISO_MAX_DEPTH)
		return bs_error_set(w->err, -EINVAL, "directories nested "
				    "deeper than %d", BS_ISO_MAX_DEPTH);
	if ((uint64_t)lba * BLK + len > w->size)
		return bs_error_set(w->err, -EINVAL, "directory extent at "
				    "block %u lies beyond the end of the "
				    "image: truncated or malformed ISO", lba);
	if ((rc = dir_size(w, lba, len, &size)) < 0)
		return rc;
	if ((uint64_t)lba * BLK + size > w->size)
		return bs_error_set(w->err, -EINVAL, "directory at block %u "
				    "says it is %u bytes long, past the end "
				    "of the image: malformed ISO", lba, size);
	if ((rc = seen_add(&w->seen, lba)) != 0)
		return rc < 0 ? bs_error_set(w->err, rc, "out of memory") :
			bs_error_set(w->err, -EINVAL, "directory loop: the "
				     "directory at block %u is reached twice",
				     lba);
	if (++w->ndirs > MAX_DIRS)
		return bs_error_set(w->err, -EINVAL, "more than %u "
				    "directories", MAX_DIRS);
	for (uint32_t b = 0; b < (size + BLK - 1) / BLK; b++) {
		ssize_t n = bs_source_pread(w->src, w->blk, BLK,
					    ((uint64_t)lba + b) * BLK);
		if (n != BLK)
			return bs_error_set(w->err, -EIO, "cannot read "
					    "directory block %u", lba + b);
		/* Records are copied out: recursion reuses w->blk. */
		uint8_t blk[BLK];
		memcpy(blk, w->blk, BLK);
		for (size_t off = 0; off + 34 <= BLK;) {
			const uint8_t *r = blk + off;
			uint8_t rl = r[0];
			if (rl == 0)
				break;		/* rest of block is padding */
			if (rl < 34 || off + rl > BLK || 33u + r[32] > rl)
				return bs_error_set(w->err, -EINVAL,
					"malformed directory record in block "
					"%u", lba + b);
			off += rl;
			/* libisofs skips "." and ".." by position, not by
			 * name: a ".." further on is followed like any
			 * child (and caught here as a loop) */
			if (pos++ < 2 || !(r[25] & 2))
				continue;
			if ((rc = walk(w, le32(r + 2), le32(r + 10),
				       depth + 1)) < 0)
				return rc;
		}
	}
	return 0;
}

int bs_iso9660_check(struct bs_source *src, uint64_t size,
		     struct bs_error *err)
{
	struct walk *w = calloc(1, sizeof(*w));
	uint8_t vd[BLK];
	int rc = 0;

	if (!w)
		return bs_error_set(err, -ENOMEM, "out of memory");
	w->src = src;
	w->size = size;
	w->err = err;
	/* Volume descriptors from block 16 until the terminator. */
	for (uint32_t b = 16; b < 16 + 64 && rc == 0; b++) {
		if (bs_source_pread(src, vd, BLK, (uint64_t)b * BLK) != BLK ||
		    memcmp(vd + 1, "CD001", 5) != 0 || vd[0] == 255)
			break;
		if (vd[0] != 1 && vd[0] != 2)
			continue;
		/* each hierarchy is walked on its own */
		free(w->seen.v);
		memset(&w->seen, 0, sizeof(w->seen));
		w->ndirs = 0;
		rc = walk(w, le32(vd + 156 + 2), le32(vd + 156 + 10), 0);
	}
	free(w->seen.v);
	free(w);
	return rc;
}
