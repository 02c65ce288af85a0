/*
 * isoindex.h - the directory tree of an ISO image and where each file's
 * bytes lie in the image.
 *
 * Built once per source identity with libisofs (through a custom
 * IsoDataSource over struct bs_source, so any source works), Rock Ridge
 * and Joliet aware, multi-extent files included.  The index never copies
 * file data: it records extents, and readers build blob segments from
 * them.  An index is immutable and shared by reference count.
 */
#ifndef BOOTSHELF_ISOINDEX_H
#define BOOTSHELF_ISOINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bootshelf/err.h>
#include <bootshelf/segment.h>
#include <bootshelf/source.h>

struct bs_iso_extent {
	uint64_t off;		/* byte offset in the image */
	uint64_t len;
};

struct bs_iso_node {
	char *name;		/* "" for the root */
	mode_t mode;		/* S_IFDIR, S_IFREG or S_IFLNK | perms */
	uint64_t size;
	int64_t mtime;
	char *target;		/* symlinks */
	struct bs_iso_extent *ext;	/* regular files */
	size_t next;
	struct bs_iso_node **kids;	/* directories, sorted by name */
	size_t nkids;
};

struct bs_iso {
	int refs;
	struct bs_source *src;	/* reference held */
	struct bs_iso_node *root;
	char volid[33];		/* volume label, trailing spaces removed */
	uint64_t image_size;	/* bytes of the source */
	size_t nfiles, ndirs;
	int has_eltorito;
	size_t mem;		/* bytes held, 0 until bs_iso_mem() */
};

/* Heap bytes the index holds (nodes, names, extents), counted once. */
size_t bs_iso_mem(struct bs_iso *iso);

/* Limits that keep a hostile image from exhausting memory. */
#define BS_ISO_MAX_DEPTH  64
#define BS_ISO_MAX_NODES  (4u << 20)

/**
 * Index an ISO image.
 * @v src   the image (a reference is taken)
 * @v out   new index with one reference; bs_iso_unref() frees
 * @v err   message naming the file on failure
 * @ret 0, -EINVAL (not ISO 9660 / malformed / absurd extents),
 *      -EIO (read failed or truncated), -ENOMEM
 */
int bs_iso_open(struct bs_source *src, struct bs_iso **out,
		struct bs_error *err);

struct bs_iso *bs_iso_ref(struct bs_iso *iso);
void bs_iso_unref(struct bs_iso *iso);

/* Look up "a/b/c" (no leading slash needed).  Exact match first, then
 * ASCII case-insensitive.  Symlinks are not followed.  NULL if absent. */
const struct bs_iso_node *bs_iso_lookup(const struct bs_iso *iso,
					const char *path);

/* Append the file's bytes as blob segments. */
void bs_iso_add_file(struct bs_blob_builder *b, const struct bs_iso *iso,
		     const struct bs_iso_node *file);

/**
 * Read a whole small file (config files) into a NUL-terminated buffer.
 * @v max  refuse larger files with -EFBIG
 * @ret 0, caller frees *buf; -ENOENT, -EISDIR, -EFBIG, -EIO
 */
int bs_iso_slurp(const struct bs_iso *iso, const char *path, size_t max,
		 char **buf, size_t *len);

#endif
