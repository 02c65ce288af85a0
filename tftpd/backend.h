/*
 * backend.h - where bootshelf-tftpd gets file bytes from.
 *
 * The protocol code (session.c) only sees this interface: open a name,
 * get a handle with a size, pread from it, close it.  The directory
 * backend (backend_dir.c) serves a directory tree; an in-process catalog
 * tree can be added as a second backend without touching the protocol
 * code.  Names reach a backend already checked for ".." components and
 * with backslashes remapped when asked; everything else about names
 * (leading '/', case folding, what "outside the root" means) is the
 * backend's business.
 */
#ifndef BS_TFTPD_BACKEND_H
#define BS_TFTPD_BACKEND_H

#include <stdint.h>
#include <sys/types.h>

struct bs_tftpd_file;	/* opaque, owned by the backend */

struct bs_tftpd_backend {
	const char *name;
	/*
	 * Open a file for reading.  On success *f is a reference the caller
	 * releases with close(), *size its size at open time (the size a
	 * transfer promises in tsize).
	 * @ret 0, -ENOENT, -EACCES (refused: outside the root, not a
	 *      regular file, symlink escape), other negative errno
	 */
	int (*open)(void *ctx, const char *name, struct bs_tftpd_file **f,
		    uint64_t *size);
	/* Read up to len bytes at off; short only at end of file. */
	ssize_t (*pread)(void *ctx, struct bs_tftpd_file *f, void *buf,
			 size_t len, uint64_t off);
	void (*close)(void *ctx, struct bs_tftpd_file *f);
	/* Free the backend; every file must be closed. */
	void (*destroy)(void *ctx);
};

#define BS_TFTPD_DIR_CASEFOLD 0x1	/* retry a missing name caselessly */

/**
 * Directory backend.  Opens @root now (so it still works after chroot).
 * @v root   directory to serve; absolute names that start with it are
 *           taken relative to it
 * @v flags  BS_TFTPD_DIR_*
 * @ret 0 or negative errno; on success *be and *ctx are set, free with
 *      (*be)->destroy(*ctx)
 */
int bs_tftpd_dir_new(const char *root, unsigned flags,
		     const struct bs_tftpd_backend **be, void **ctx);

/**
 * Catalog backend: the tree of @catalog, built in-process.
 * @ret 0, -EINVAL (catalog errors, logged) or negative errno
 */
int bs_tftpd_tree_new(const char *catalog,
		      const struct bs_tftpd_backend **be, void **ctx);
/* Reload the catalog backend (SIGHUP).  Keeps the old tree on error. */
int bs_tftpd_tree_reload(void *ctx);
/* The catalog's index cache directory now (its default when unset), or
 * NULL when it is "none"; caller frees. */
char *bs_tftpd_tree_cache_dir(void *ctx);

#endif
