/*
 * segment.h - blobs: the content of a virtual file as a list of segments.
 *
 * A segment is a byte range of a source, inline bytes, or zeros.  A kernel
 * is one source segment; "initrd+iso" is the initrd's segment, zero
 * padding, a generated cpio header, the ISO's segment, padding and the
 * trailer.  Blobs are immutable once built and shared by reference count.
 * Reading maps an offset to segments by binary search and never
 * allocates.
 */
#ifndef BOOTSHELF_SEGMENT_H
#define BOOTSHELF_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bootshelf/source.h>

enum bs_seg_kind { BS_SEG_SOURCE, BS_SEG_BYTES, BS_SEG_ZERO };

struct bs_seg {
	uint64_t start;		/* offset of this segment in the blob */
	uint64_t len;
	enum bs_seg_kind kind;
	struct bs_source *src;	/* SOURCE: a reference held by the blob */
	uint64_t off;		/* SOURCE: offset in the source */
	const uint8_t *bytes;	/* BYTES: owned by the blob */
};

struct bs_blob {
	int refs;		/* atomic */
	uint64_t size;
	size_t nseg;
	struct bs_seg *seg;	/* sorted by start, contiguous, no empties */
	uint64_t ihash;		/* hash of the content's identity for
				   inode numbers; 0 until a tree that
				   holds the blob is finished */
	int one_block;		/* segment and bytes share the blob's
				   allocation (bs_blob_new_bytes) */
};

/* A piece of a read request, for zero-copy senders (FUSE splice). */
struct bs_extent {
	enum bs_seg_kind kind;
	uint64_t len;
	int fd;			/* SOURCE: borrowed from the blob's source
				   (-1: pin pieces of src instead) */
	struct bs_source *src;	/* SOURCE: borrowed */
	uint64_t off;		/* SOURCE: offset in fd */
	uint64_t until;		/* SOURCE: where its segment ends there */
	const uint8_t *bytes;	/* BYTES: borrowed */
};

/* Builder.  Zero-initialise, add segments in order, then finish. */
struct bs_blob_builder {
	struct bs_seg *seg;
	size_t n, cap;
	uint64_t size;
	int failed;		/* -ENOMEM seen: finish fails */
};

/* Append @len bytes of @src at @off (takes its own reference). */
void bs_blob_add_source(struct bs_blob_builder *b, struct bs_source *src,
			uint64_t off, uint64_t len);
/* Append a copy of @len bytes. */
void bs_blob_add_bytes(struct bs_blob_builder *b, const void *bytes,
		       size_t len);
void bs_blob_add_zero(struct bs_blob_builder *b, uint64_t len);
/* Append every segment of @other (references taken). */
void bs_blob_add_blob(struct bs_blob_builder *b, const struct bs_blob *other);
/**
 * Finish: @out gets a blob with one reference.  The builder is reset.
 * @ret 0 or -ENOMEM (builder's references released)
 */
int bs_blob_finish(struct bs_blob_builder *b, struct bs_blob **out);
/**
 * A blob of @len inline bytes (len > 0) in one allocation, for the
 * thousands of small generated files of a catalog: *@bytes gets where
 * the caller writes them, before the blob is shared.
 * @ret the blob with one reference, or NULL (ENOMEM)
 */
struct bs_blob *bs_blob_new_bytes(size_t len, uint8_t **bytes);
void bs_blob_builder_release(struct bs_blob_builder *b);

struct bs_blob *bs_blob_ref(struct bs_blob *b);
void bs_blob_unref(struct bs_blob *b);

/**
 * Copy bytes [off, off+len) into @buf (clipped at the end of the blob).
 * @ret bytes copied, or -EIO if a source read failed or came up short
 *      (a truncated ISO never yields zeros in place of data).
 */
ssize_t bs_blob_read(const struct bs_blob *b, void *buf, size_t len,
		     uint64_t off);

/**
 * Describe [off, off+len) as at most @max extents, clipped at the end of
 * the blob and at @max.  No I/O, no allocation.
 * @ret number of extents filled; *covered = bytes they cover
 */
size_t bs_blob_extents(const struct bs_blob *b, uint64_t off, size_t len,
		       struct bs_extent *out, size_t max, size_t *covered);

#endif
