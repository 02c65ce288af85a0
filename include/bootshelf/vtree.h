/*
 * vtree.h - the synthesized boot tree: an immutable snapshot of names and
 * blobs built from the catalog and the ISO indexes.
 *
 * A snapshot never changes after it is built.  A reload builds a new one
 * (struct bs_shelf below) and swaps a pointer; whoever holds a reference to
 * the old snapshot (an open file, a TFTP transfer) keeps reading exactly
 * the bytes it started with.
 *
 * Inode numbers are derived from the content: a directory's from its path,
 * a file's from its path and the identity of its bytes (source identity,
 * offsets, inline bytes).  So a file unchanged across a reload or a
 * restart keeps its number, and a changed file gets a new one.  The root
 * is always 1 (FUSE_ROOT_ID).
 *
 * Layout (see bootshelf-fs(8)):
 *   pxelinux.cfg/default, pxelinux.cfg/01-<mac>
 *   boot/<name>/linux, initrd, iso.cpio, initrd+iso, <name>.iso, iso/...
 *   .bootshelf/status
 */
#ifndef BOOTSHELF_VTREE_H
#define BOOTSHELF_VTREE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bootshelf/catalog.h>
#include <bootshelf/detect.h>
#include <bootshelf/initrd.h>
#include <bootshelf/isoindex.h>
#include <bootshelf/segment.h>

#define BS_ROOT_INO 1

struct bs_vnode {
	uint64_t ino;			/* stable, content-derived */
	const char *name;		/* "" for the root; owned by tree */
	struct bs_vnode *parent;	/* root's parent is itself */
	mode_t mode;			/* S_IFDIR 0555 / S_IFREG 0444 /
					   S_IFLNK 0777 */
	uint64_t size;
	int64_t mtime;			/* seconds */
	struct bs_blob *blob;		/* regular files; reference held */
	const char *target;		/* symlinks */
	struct bs_vnode **kids;		/* directories: sorted by name */
	size_t nkids;
	int dynamic;			/* content made at open time by the
					   front-end: .bootshelf/status is
					   bs_shelf_status(); blob NULL,
					   size 0 */
	struct bs_vnode *hnext;		/* ino hash chain (internal) */
	uint64_t khash;			/* directories: identity of all
					   below (names, inode numbers,
					   link targets); equal in two
					   snapshots means nothing there
					   changed */
};

/* What happened to one catalog entry in this snapshot. */
struct bs_entry_state {
	const struct bs_cat_entry *entry;	/* borrowed from the catalog */
	int ok;					/* in the tree */
	char error[BS_ERRMSG_MAX];		/* why not, or a warning */
	struct bs_bootinfo boot;		/* detected (ISO entries) */
	struct bs_iso *iso;			/* reference, or NULL */
	uint64_t iso_size;
	int cpio_ok;				/* iso.cpio exists */
	int ird_ok;				/* ird holds a scan */
	struct bs_initrd_info ird;		/* what the initrd has */
};

struct bs_vtree {
	int refs;
	uint64_t generation;		/* 1, 2, ... per shelf */
	int64_t mtime;			/* build time: mtime of generated
					   files and directories */
	struct bs_catalog *cat;		/* owned */
	struct bs_vnode *root;
	struct bs_entry_state *states;	/* one per catalog entry */
	size_t nstates;
	size_t nnodes;
	size_t mem;			/* heap bytes of nodes, names and
					   blobs (approximate) */
	size_t mem_hosts;		/* of which made for [host]s */
	size_t mem_entries;		/* of which boot/<name>/... */
	struct bs_bootline **lines;	/* per state, made on first use
					   while configs are generated
					   (bs_vt_bootline); NULL after */
	struct bs_vnode **hash;		/* ino -> node */
	size_t hmask;
	void *arena;			/* node storage (internal) */
};

/* Open-ISO cache: reuses the index of an ISO whose identity did not
 * change, so a reload re-reads only what changed.  Thread-safe. */
struct bs_isocache;
struct bs_isocache *bs_isocache_new(void);
void bs_isocache_free(struct bs_isocache *c);
/**
 * Index and detected boot information of catalog entry @e (an [iso]
 * with path or url), from memory or the on-disk cache when its identity
 * is unchanged, else read afresh (and cached).  Remote objects are read
 * with the catalog's [server] remote settings (see remote.h).
 * @v c    cache, or NULL to index afresh every time
 * @ret 0 with a new reference in *out and *boot filled, or -errno with
 *      @err (naming the path or URL)
 */
int bs_isocache_open(struct bs_isocache *c, const struct bs_catalog *cat,
		     const struct bs_cat_entry *e, struct bs_iso **out,
		     struct bs_bootinfo *boot, struct bs_error *err);
/* Forget entries not used by any open since the last sweep. */
void bs_isocache_sweep(struct bs_isocache *c);
/**
 * Ask the server about each remote entry of @cat with a refresh interval
 * whose interval has passed since its identity was last checked (one
 * HEAD each).  A server that does not answer changes nothing.
 * @v wait_ms  time until the next entry is due; 0 if none has a refresh
 * @ret 1 if an object changed (or an entry is not indexed yet): a reload
 *      picks it up; 0 if not
 */
int bs_isocache_poll(struct bs_isocache *c, const struct bs_catalog *cat,
		     uint64_t *wait_ms);

/**
 * Build a snapshot from a loaded catalog.
 * @v cat    catalog; ownership passes to the tree (also on failure)
 * @v cache  ISO cache or NULL (then every ISO is indexed afresh)
 * @v gen    generation number to record
 * @v out    new tree with one reference
 * @ret 0 or -ENOMEM.  Entries whose ISO is missing or broken are left
 *      out of the tree and described in states[]; that is not a failure.
 */
int bs_vtree_build(struct bs_catalog *cat, struct bs_isocache *cache,
		   uint64_t gen, struct bs_vtree **out);

struct bs_vtree *bs_vtree_ref(struct bs_vtree *t);
void bs_vtree_unref(struct bs_vtree *t);

const struct bs_vnode *bs_vtree_root(const struct bs_vtree *t);
/* Child @name of directory @dir ("." and ".." answered), or NULL. */
const struct bs_vnode *bs_vtree_lookup(const struct bs_vtree *t,
				       const struct bs_vnode *dir,
				       const char *name);
/* "boot/x/linux" from the root; leading '/' and empty components
 * ignored; ".." refused (NULL). */
const struct bs_vnode *bs_vtree_resolve(const struct bs_vtree *t,
					const char *path);
const struct bs_vnode *bs_vtree_by_ino(const struct bs_vtree *t,
				       uint64_t ino);

/* Read file bytes; see bs_blob_read.  -EISDIR for directories. */
ssize_t bs_vnode_read(const struct bs_vnode *n, void *buf, size_t len,
		      uint64_t off);

/* ---- the shelf: the live snapshot and reloads ------------------------ */

struct bs_shelf_stats {
	uint64_t reloads, reload_failures;
	uint64_t last_reload_ms;	/* duration of the last build */
};

struct bs_shelf {
	char *catalog_path;		/* owned */
	pthread_mutex_t lock;		/* protects cur, errors, stats */
	pthread_mutex_t reload_lock;	/* one reload at a time */
	struct bs_vtree *cur;		/* current snapshot, reference held */
	struct bs_isocache *cache;
	struct bs_diags last_diags;	/* of the last reload attempt */
	int last_failed;		/* last reload kept the old tree */
	struct bs_shelf_stats stats;
	uint64_t next_gen;
};

/**
 * Load the catalog and build the first snapshot.
 * @ret 0, or -EINVAL (catalog errors in *diags) / -errno.  On failure
 *      *out is NULL.
 */
int bs_shelf_open(const char *catalog_path, struct bs_shelf **out,
		  struct bs_diags *diags);
void bs_shelf_close(struct bs_shelf *s);
/*
 * For daemons that reload, early in main(), before any thread, file or
 * socket the daemon needs is opened: set malloc up for snapshots that
 * come and go.  First the program runs again with glibc's malloc on
 * transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1, read
 * only at program start; skipped when GLIBC_TUNABLES is set already,
 * also by that new run, or when the exec fails); then the memory a
 * replaced snapshot frees is kept for the next one instead of being
 * given back and faulted in again (mallopt, process-wide).  A snapshot
 * of 10,000 hosts is some 10,000 pages: faulting them in one by one made
 * the first reloads take 3x the later ones.
 */
void bs_shelf_tune_malloc(char **argv);
/**
 * Reload: build a new snapshot and swap it in.  An invalid catalog keeps
 * the current snapshot and records the errors for the status file.
 * @v old  if not NULL, receives a reference to the replaced snapshot
 *         (so the caller can invalidate caches); NULL if kept
 * @ret 0 if swapped, -EINVAL if the catalog was invalid, -errno.
 */
int bs_shelf_reload(struct bs_shelf *s, struct bs_vtree **old);
/* Current snapshot with a new reference; caller unrefs. */
struct bs_vtree *bs_shelf_get(struct bs_shelf *s);
/* bs_isocache_poll() over the current snapshot's catalog: 1 when a
 * reload would pick up a changed remote ISO.  Not during a reload. */
int bs_shelf_poll(struct bs_shelf *s, uint64_t *wait_ms);
/**
 * Render the status text (generation, each entry's state, last reload
 * errors, counters).  @ret malloc'ed NUL-terminated text, caller frees.
 */
char *bs_shelf_status(struct bs_shelf *s);

#endif
