/*
 * source.h - where bytes come from.
 *
 * A source is an open, read-only file (or later a remote object) with an
 * identity.  It is opened once and shared by reference count: every
 * snapshot, index and open handle that uses it holds a reference, so a
 * file replaced on disk by rename keeps being read from the old inode
 * until the last user lets go.  bootshelf never writes to a source.
 */
#ifndef BOOTSHELF_SOURCE_H
#define BOOTSHELF_SOURCE_H

#include <stdint.h>
#include <sys/types.h>

#include <bootshelf/err.h>

/* What makes two versions of a file "the same": equal ids mean equal
 * bytes as far as bootshelf can tell. */
struct bs_source_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

struct bs_source;
struct bs_block;

/* Bytes of a non-file source held in place for a zero-copy send: @len
 * bytes at @off of @fd, valid until bs_source_unpin(). */
struct bs_piece {
	int fd;
	uint64_t off;
	size_t len;
	struct bs_block *pin;	/* the source's, opaque */
};

/* How a non-file source reads.  Local files leave ops NULL and are read
 * with pread on fd. */
struct bs_source_ops {
	/* Read up to @len bytes at @off: bytes read, 0 at end, -errno.
	 * @until: where the file being read ends in the source (a source
	 * that reads ahead stops there); UINT64_MAX when unknown. */
	ssize_t (*pread)(struct bs_source *s, void *buf, size_t len,
			 uint64_t off, uint64_t until);
	/* Optional: hold [off, off+len) in place as up to @max pieces
	 * (*n set): bytes held from @off on (maybe fewer than @len: ask
	 * again for the rest), 0 at end, -errno.  @until as for pread. */
	ssize_t (*pin)(struct bs_source *s, uint64_t off, size_t len,
		       uint64_t until, struct bs_piece *out, size_t max,
		       size_t *n);
	void (*unpin)(struct bs_source *s, struct bs_piece *p, size_t n);
	/* Identity of the object now (for change detection). */
	int (*stat)(struct bs_source *s, struct bs_source_id *id);
	/* Release priv; called once, when the last reference goes. */
	void (*close)(struct bs_source *s);
};

struct bs_source {
	int fd;				/* read-only; -1 for non-file sources
					   (no zero-copy splice from them) */
	char *path;			/* owned; file name or URL */
	struct bs_source_id id;		/* identity when opened */
	int refs;			/* atomic */
	const struct bs_source_ops *ops;	/* NULL for local files */
	void *priv;			/* owned by ops */
};

/**
 * Wrap a non-file source.  Takes ownership of @priv (ops->close frees
 * it, also on failure).  @ret 0 or -ENOMEM.
 */
int bs_source_new(const char *name, const struct bs_source_id *id,
		  const struct bs_source_ops *ops, void *priv,
		  struct bs_source **out);

/**
 * Open a local file read-only (O_CLOEXEC, never O_WRONLY).
 * @v path  file name
 * @v out   new source with one reference; caller drops it with
 *          bs_source_unref()
 * @v err   message on failure
 * @ret 0, -errno (ENOENT, EACCES, EISDIR for a non-regular file ...)
 */
int bs_source_open(const char *path, struct bs_source **out,
		   struct bs_error *err);

struct bs_source *bs_source_ref(struct bs_source *s);
void bs_source_unref(struct bs_source *s);

/**
 * Read exactly @len bytes at @off (short only at end of file).
 * @ret bytes read (0..len), or -errno.  A source that shrank under us
 *      reads short; the caller decides whether that is an error.
 */
ssize_t bs_source_pread(struct bs_source *s, void *buf, size_t len,
			uint64_t off);

/**
 * bs_source_pread() of a reader whose file ends at @until in the source
 * (a remote source reads ahead no further: the bytes after a kernel are
 * not the kernel's).  @until >= off + len.
 */
ssize_t bs_source_pread_until(struct bs_source *s, void *buf, size_t len,
			      uint64_t off, uint64_t until);

/**
 * Hold [off, off+len) of a source without a file descriptor in place, for
 * a zero-copy send: pieces appended to @out (*n of at most @max).  @until
 * as for bs_source_pread_until().
 * @ret bytes held (fewer than @len when @max ran out or at the end),
 *      -ENOTSUP when the source cannot, -errno; on error nothing is held
 */
ssize_t bs_source_pin(struct bs_source *s, uint64_t off, size_t len,
		      uint64_t until, struct bs_piece *out, size_t max,
		      size_t *n);
void bs_source_unpin(struct bs_source *s, struct bs_piece *p, size_t n);

/* Identity of the file now at @path (stat, not the open fd). */
int bs_source_stat_path(const char *path, struct bs_source_id *id);
/* Identity of the open file now (fstat): detects rewrites in place. */
int bs_source_stat_fd(const struct bs_source *s, struct bs_source_id *id);
int bs_source_id_equal(const struct bs_source_id *a,
		       const struct bs_source_id *b);

#endif
