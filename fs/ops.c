/*
 * ops.c - the FUSE low-level operations of bootshelf-fs.
 *
 * Nodeids are the tree's content-derived inode numbers (bs_vtree_by_ino),
 * or underlay numbers (bit 63 set, see underlay.c).  Nothing is counted
 * per lookup: a nodeid stays resolvable after FORGET as long as the node
 * exists, which is what NFS export needs (LOOKUP(ino, ".") and
 * LOOKUP(dir, "..") are answered too).  A nodeid whose node is gone from
 * the current snapshot (and from the one before it) gets ESTALE.
 *
 * Every open file and directory holds a reference to the snapshot it was
 * opened in, so a reader gets every byte from one version of the tree.
 * File reads are answered with fuse_reply_data() over the blob's extents:
 * source extents as file-descriptor buffers (spliced by libfuse when the
 * kernel allows; a remote ISO's bytes as pieces of its block cache's
 * memfds, pinned until the reply is written), inline bytes and zeros from
 * memory.  The read path does no heap allocation (but see read_copy()).
 *
 * Left out on purpose: every kind of write (EROFS), xattrs (ENOSYS, which
 * the kernel remembers), locks, ioctl, poll.
 *
 * Replies, per operation:
 *   lookup       entry (tree: 1 h; underlay: 1 s), negative entry (ino 0,
 *                1 s), ESTALE, ENOTDIR
 *   getattr      attr, ESTALE
 *   readlink     target (tree symlinks), EINVAL, ESTALE
 *   open         open (keep_cache; direct_io for status), EROFS for any
 *                write flag, EISDIR, ESTALE, ENOMEM
 *   read         data (fd/memory buffers), buf, EIO/errno from a copy
 *   opendir      open, ESTALE, ENOTDIR, ENOMEM
 *   readdir(plus) buf
 *   release(dir) 0;  forget(_multi) none;  statfs  statfs
 *   setattr, mknod, mkdir, unlink, rmdir, symlink, rename, link, write,
 *   create, setxattr, removexattr, fallocate   EROFS
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "bsfs.h"

/* Most buffers one spliced read reply carries.  A read needing more is
 * copied instead: never answered short, since the kernel takes a short
 * answer to a page-cache read for end of file (zero-filled pages and a
 * shrunken size). */
#define READ_MAX_BUFS	16
/* Zeros come from this buffer (.bss: costs no memory until touched, and
 * reading it maps the shared zero page). */
#define ZERO_LEN	(256u * 1024)
static char zero_page[ZERO_LEN];

enum fh_kind { FH_TREE, FH_STATUS, FH_UNDERLAY, FH_DIR };

struct dent {
	const char *name;	/* borrowed from the tree, or == own */
	char *own;		/* underlay names: owned */
	struct stat st;
	int underlay;
};

/* fi->fh of every open file and directory.  One owner: the kernel's
 * open file; freed by release/releasedir. */
struct fh {
	enum fh_kind kind;
	struct bs_vtree *t;		/* reference, or NULL (underlay) */
	const struct bs_vnode *n;	/* in t */
	uint64_t next_check;		/* ms; rewrite-in-place check */
	char *text;			/* FH_STATUS: owned */
	size_t len;
	int fd;				/* FH_UNDERLAY: owned */
	uint64_t pt_ino;		/* opened with passthrough, or 0 */
	struct dent *ents;		/* FH_DIR: owned */
	size_t nents, cap;
};

uint64_t bsfs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fh_free(struct fh *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nents; i++)
		free(h->ents[i].own);
	free(h->ents);
	free(h->text);
	if (h->fd >= 0)
		close(h->fd);
	if (h->t)
		bs_vtree_unref(h->t);
	free(h);
}

static struct fh *fh_new(enum fh_kind kind)
{
	struct fh *h = calloc(1, sizeof(*h));

	if (h) {
		h->kind = kind;
		h->fd = -1;
	}
	return h;
}

/* ---- attributes --------------------------------------------------------- */

static void tree_attr(const struct bs_vnode *v, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = v->ino;
	st->st_mode = v->mode;
	st->st_nlink = S_ISDIR(v->mode) ? 2 : 1;
	st->st_uid = bsfs.uid;
	st->st_gid = bsfs.gid;
	st->st_size = (off_t)v->size;
	if (S_ISLNK(v->mode) && v->target)
		st->st_size = (off_t)strlen(v->target);
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((v->size + 511) / 512);
	st->st_mtim.tv_sec = v->mtime;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

static void reply_tree_entry(fuse_req_t req, const struct bs_vnode *v)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = v->ino;
	e.generation = 0;	/* inode numbers change with content */
	tree_attr(v, &e.attr);
	e.attr_timeout = BSFS_TREE_TIMEOUT;
	e.entry_timeout = BSFS_TREE_TIMEOUT;
	fuse_reply_entry(req, &e);
}

static void reply_underlay_entry(fuse_req_t req, const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.attr = *st;
	e.attr_timeout = BSFS_UNDERLAY_TIMEOUT;
	e.entry_timeout = BSFS_UNDERLAY_TIMEOUT;
	fuse_reply_entry(req, &e);
}

static void reply_negative(fuse_req_t req)
{
	struct fuse_entry_param e;

	/* ino 0: the kernel caches "no such name" for the timeout */
	memset(&e, 0, sizeof(e));
	e.entry_timeout = BSFS_NEGATIVE_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/*
 * The snapshot before the current one, kept so that a nodeid looked up
 * just before a reload still opens (the kernel may send OPEN for it after
 * the swap).  Protected by prev_lock; replaced by bsfs_ops_retire().
 */
static struct bs_vtree *prev_tree;
static pthread_mutex_t prev_lock = PTHREAD_MUTEX_INITIALIZER;

void bsfs_ops_retire(struct bs_vtree *old)
{
	struct bs_vtree *drop, *cur;

	pthread_mutex_lock(&prev_lock);
	drop = prev_tree;
	prev_tree = old ? bs_vtree_ref(old) : NULL;
	pthread_mutex_unlock(&prev_lock);
	if (drop)
		bs_vtree_unref(drop);
	if (old && bsfs_pt_enabled()) {
		cur = bs_shelf_get(bsfs.shelf);
		bsfs_pt_sweep(cur, old);
		bs_vtree_unref(cur);
	}
}

/* What the daemon itself did, for .bootshelf/status. */
static struct {
	uint64_t reads, read_bytes;	/* READs of files (not status) */
	uint64_t read_copies;		/* of them copied, not spliced */
	uint64_t opens, pt_opens;	/* file opens, of them passthrough */
} counters;

/* The library's status text with the daemon's own lines after its first
 * block.  @ret malloc'ed text or NULL. */
static char *status_text(void)
{
	char *lib = bs_shelf_status(bsfs.shelf), *out, *cut;
	char mine[256];
	int n;

	if (!lib)
		return NULL;
	n = snprintf(mine, sizeof(mine),
		     "passthrough: %s\nfile_opens: %llu\n"
		     "passthrough_opens: %llu\nread_requests: %llu\n"
		     "read_request_bytes: %llu\nread_copies: %llu\n",
		     bsfs_pt_enabled() ? "on" : "off",
		     (unsigned long long)__atomic_load_n(&counters.opens,
							 __ATOMIC_RELAXED),
		     (unsigned long long)__atomic_load_n(&counters.pt_opens,
							 __ATOMIC_RELAXED),
		     (unsigned long long)__atomic_load_n(&counters.reads,
							 __ATOMIC_RELAXED),
		     (unsigned long long)__atomic_load_n(&counters.read_bytes,
							 __ATOMIC_RELAXED),
		     (unsigned long long)__atomic_load_n(&counters.read_copies,
							 __ATOMIC_RELAXED));
	cut = strstr(lib, "\n\n");
	cut = cut ? cut + 1 : lib + strlen(lib);
	if (!(out = malloc(strlen(lib) + (size_t)n + 1))) {
		free(lib);
		return NULL;
	}
	memcpy(out, lib, (size_t)(cut - lib));
	memcpy(out + (cut - lib), mine, (size_t)n);
	strcpy(out + (cut - lib) + n, cut);
	free(lib);
	return out;
}

/* The source a file is the whole of (an ISO, a KIWI image), else NULL. */
static struct bs_source *whole_file(const struct bs_vnode *v)
{
	const struct bs_blob *b = v->blob;
	const struct bs_seg *s;

	if (!b || b->nseg != 1)
		return NULL;
	s = &b->seg[0];
	if (s->kind != BS_SEG_SOURCE || s->off != 0 || s->src->fd < 0 ||
	    s->src->ops || s->len != s->src->id.size)
		return NULL;
	return s->src;
}

/* Node @ino in the current snapshot, else in the previous one.  On
 * success *tp holds a reference the caller drops. */
static const struct bs_vnode *tree_node(uint64_t ino, struct bs_vtree **tp)
{
	struct bs_vtree *t = bs_shelf_get(bsfs.shelf);
	const struct bs_vnode *v = t ? bs_vtree_by_ino(t, ino) : NULL;

	if (!v) {
		if (t)
			bs_vtree_unref(t);
		t = NULL;
		pthread_mutex_lock(&prev_lock);
		if (prev_tree && (v = bs_vtree_by_ino(prev_tree, ino)))
			t = bs_vtree_ref(prev_tree);
		pthread_mutex_unlock(&prev_lock);
	}
	*tp = t;
	return v;
}

/* Path and stat of a registered underlay node that still is what it
 * was (same number). */
static int underlay_node(uint64_t ino, char *path, size_t len,
			 struct stat *st)
{
	int rc = bsfs_underlay_path(ino, path, len);

	if (rc < 0)
		return rc;
	rc = bsfs_underlay_stat(path, st);
	if (rc < 0)
		return rc == -ENOENT ? -ESTALE : rc;
	if (st->st_ino != ino)
		return -ESTALE;
	return 0;
}

/* Parent directory of underlay path @rel: a tree directory if the tree
 * has that path, else the underlay's. */
static void reply_underlay_parent(fuse_req_t req, const char *rel)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	size_t l = slash ? (size_t)(slash - rel) : 0;
	struct bs_vtree *t = bs_shelf_get(bsfs.shelf);
	const struct bs_vnode *v;
	struct stat st;
	int rc;

	memcpy(dir, rel, l);
	dir[l] = '\0';
	v = l ? bs_vtree_resolve(t, dir) : bs_vtree_root(t);
	if (v) {
		reply_tree_entry(req, v);
	} else if ((rc = bsfs_underlay_stat(dir, &st)) == 0) {
		reply_underlay_entry(req, &st);
	} else {
		fuse_reply_err(req, ESTALE);
	}
	bs_vtree_unref(t);
}

/* ---- lookup / getattr ----------------------------------------------------- */

static void bsfs_op_lookup(fuse_req_t req, fuse_ino_t parent,
			   const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int rc;

	if (!bsfs_is_underlay(parent)) {
		struct bs_vtree *t;
		const struct bs_vnode *d = tree_node(parent, &t), *v;

		if (!d) {
			fuse_reply_err(req, ESTALE);
			return;
		}
		if (strcmp(name, ".") == 0) {
			/* export: the kernel finds any node again by
			 * LOOKUP(nodeid, "."), files included */
			reply_tree_entry(req, d);
			bs_vtree_unref(t);
			return;
		}
		if (!S_ISDIR(d->mode)) {
			bs_vtree_unref(t);
			fuse_reply_err(req, ENOTDIR);
			return;
		}
		v = bs_vtree_lookup(t, d, name);
		if (v) {
			reply_tree_entry(req, v);
			bs_vtree_unref(t);
			return;
		}
		rc = bsfs_vnode_path(d, dir, sizeof(dir));
		bs_vtree_unref(t);
		if (rc == 0 && bsfs.ufd >= 0 &&
		    bsfs_path_join(path, sizeof(path), dir, name) == 0 &&
		    bsfs_underlay_stat(path, &st) == 0) {
			reply_underlay_entry(req, &st);
			return;
		}
		reply_negative(req);
		return;
	}

	rc = underlay_node(parent, dir, sizeof(dir), &st);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (strcmp(name, ".") == 0) {
		reply_underlay_entry(req, &st);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (strcmp(name, "..") == 0) {
		reply_underlay_parent(req, dir);
		return;
	}
	if (bsfs_path_join(path, sizeof(path), dir, name) == 0 &&
	    bsfs_underlay_stat(path, &st) == 0) {
		reply_underlay_entry(req, &st);
		return;
	}
	reply_negative(req);
}

static void bsfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* nothing is counted: nodeids stay valid after FORGET */
	fuse_reply_none(req);
}

static void bsfs_op_forget_multi(fuse_req_t req, size_t count,
				 struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void bsfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct fh *h = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
	char path[PATH_MAX];
	struct stat st;
	int rc;

	/* fstat of an open file answers from its own snapshot */
	if (h && h->n && (h->kind == FH_TREE || h->kind == FH_STATUS ||
			  (h->kind == FH_DIR && h->t))) {
		tree_attr(h->n, &st);
		fuse_reply_attr(req, &st, BSFS_TREE_TIMEOUT);
		return;
	}
	if (bsfs_is_underlay(ino)) {
		rc = underlay_node(ino, path, sizeof(path), &st);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_attr(req, &st, BSFS_UNDERLAY_TIMEOUT);
		return;
	}
	{
		struct bs_vtree *t;
		const struct bs_vnode *v = tree_node(ino, &t);

		if (!v) {
			fuse_reply_err(req, ESTALE);
			return;
		}
		tree_attr(v, &st);
		bs_vtree_unref(t);
		fuse_reply_attr(req, &st, BSFS_TREE_TIMEOUT);
	}
}

static void bsfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct bs_vtree *t;
	const struct bs_vnode *v;

	if (bsfs_is_underlay(ino)) {
		/* the underlay shows no symlinks: they are followed */
		fuse_reply_err(req, EINVAL);
		return;
	}
	v = tree_node(ino, &t);
	if (!v) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!S_ISLNK(v->mode) || !v->target)
		fuse_reply_err(req, EINVAL);
	else
		fuse_reply_readlink(req, v->target);
	bs_vtree_unref(t);
}

/* ---- the read-only refusals ----------------------------------------------- */

static void bsfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a,
			    int to_set, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_mknod(fuse_req_t req, fuse_ino_t parent,
			  const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_mkdir(fuse_req_t req, fuse_ino_t parent,
			  const char *name, mode_t mode)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_unlink(fuse_req_t req, fuse_ino_t parent,
			   const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_symlink(fuse_req_t req, const char *link,
			    fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_rename(fuse_req_t req, fuse_ino_t parent,
			   const char *name, fuse_ino_t newparent,
			   const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_link(fuse_req_t req, fuse_ino_t ino,
			 fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			  size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_create(fuse_req_t req, fuse_ino_t parent,
			   const char *name, mode_t mode,
			   struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_setxattr(fuse_req_t req, fuse_ino_t ino,
			     const char *name, const char *value,
			     size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_removexattr(fuse_req_t req, fuse_ino_t ino,
				const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void bsfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			      off_t offset, off_t length,
			      struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

/* ---- open / read / release ------------------------------------------------ */

/* Remember which changed files were already reported, so a reader does
 * not log (and reload) every second.  Keyed by the file's new identity. */
#define WARNED_MAX 32
static struct bs_source_id warned[WARNED_MAX];
static size_t nwarned;
static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * An ISO rewritten in place (same inode, new size or mtime) cannot be
 * pinned: readers of the old snapshot now get a mix of bytes.  Detect it
 * cheaply, warn once, and reload so new opens see the new content.
 */
void bsfs_check_source(const struct bs_source *s)
{
	struct bs_source_id now;
	size_t j;
	int old = 0;

	if (bs_source_stat_fd(s, &now) < 0 ||
	    bs_source_id_equal(&now, &s->id))
		return;
	pthread_mutex_lock(&warned_lock);
	for (j = 0; j < nwarned && j < WARNED_MAX; j++)
		if (bs_source_id_equal(&warned[j], &now))
			old = 1;
	if (!old)
		warned[nwarned++ % WARNED_MAX] = now;
	pthread_mutex_unlock(&warned_lock);
	if (!old) {
		char clean[512];
		bs_warn("%s was rewritten in place while in use: open "
			"readers may get mixed bytes; replace ISO files by "
			"rename (write a new file, then mv it over the old "
			"one)", bs_log_clean(clean, sizeof(clean), s->path,
					     strlen(s->path)));
		bsfs_watch_kick();
	}
}

/* bsfs_check_source() for each local source of @b; at open (@opening)
 * also hint sequential reading to them. */
static void check_rewrite(const struct bs_blob *b, int opening)
{
	const struct bs_source *seen[4];
	size_t nseen = 0;

	if (!b)
		return;
	for (size_t i = 0; i < b->nseg; i++) {
		const struct bs_source *s = b->seg[i].src;
		size_t j;

		if (b->seg[i].kind != BS_SEG_SOURCE || !s || s->fd < 0)
			continue;
		for (j = 0; j < nseen; j++)
			if (seen[j] == s)
				break;
		if (j < nseen)
			continue;
		if (nseen < 4)
			seen[nseen++] = s;
		/* boot files are read start to end: a larger readahead
		 * window on the shared source fd (cheap to repeat) */
		if (opening)
			posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		bsfs_check_source(s);
	}
}

static void bsfs_op_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct fh *h;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & (O_TRUNC | O_CREAT))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (bsfs_is_underlay(ino)) {
		char path[PATH_MAX];
		struct stat st;

		rc = underlay_node(ino, path, sizeof(path), &st);
		if (rc == 0 && S_ISDIR(st.st_mode))
			rc = -EISDIR;
		if (rc == 0)
			rc = bsfs_underlay_open(path, 0);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		h = fh_new(FH_UNDERLAY);
		if (!h) {
			close(rc);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		h->fd = rc;
	} else {
		struct bs_vtree *t;
		const struct bs_vnode *v = tree_node(ino, &t);

		if (!v) {
			fuse_reply_err(req, ESTALE);
			return;
		}
		if (S_ISDIR(v->mode) || !S_ISREG(v->mode)) {
			bs_vtree_unref(t);
			fuse_reply_err(req, S_ISDIR(v->mode) ? EISDIR : EINVAL);
			return;
		}
		h = fh_new(v->dynamic ? FH_STATUS : FH_TREE);
		if (!h) {
			bs_vtree_unref(t);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		h->t = t;
		h->n = v;
		if (v->dynamic) {
			/* rendered once per open: a reader sees one state */
			h->text = status_text();
			if (!h->text) {
				fh_free(h);
				fuse_reply_err(req, ENOMEM);
				return;
			}
			h->len = strlen(h->text);
			fi->direct_io = 1;
		} else {
			struct bs_source *src = bsfs_pt_enabled() ?
				whole_file(v) : NULL;
			int id = src ? bsfs_pt_open(ino, src) : -ENOTSUP;

			if (id == -ENOMEM) {
				fh_free(h);
				fuse_reply_err(req, ENOMEM);
				return;
			}
			if (id >= 0)
				h->pt_ino = ino;	/* tracked */
			check_rewrite(v->blob, 1);
			__atomic_add_fetch(&counters.opens, 1,
					   __ATOMIC_RELAXED);
			if (id > 0) {
				__atomic_add_fetch(&counters.pt_opens, 1,
						   __ATOMIC_RELAXED);
				fi->fh = (uint64_t)(uintptr_t)h;
				if (bsfs_pt_reply_open(req, fi->fh, id) != 0) {
					bsfs_pt_release(ino);
					fh_free(h);
				}
				return;
			}
			h->next_check = bsfs_now_ms() + BSFS_RECHECK_MS;
			/* same ino means same bytes: cached pages stay good */
			fi->keep_cache = 1;
		}
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0) {
		/* interrupted: no release will come */
		if (h->pt_ino)
			bsfs_pt_release(h->pt_ino);
		fh_free(h);
	}
}

/* The bufvec with room for READ_MAX_BUFS buffers, on the stack. */
union read_vec {
	struct fuse_bufvec v;
	char room[sizeof(struct fuse_bufvec) +
		  (READ_MAX_BUFS - 1) * sizeof(struct fuse_buf)];
};

/*
 * A read crossing more pieces than one reply carries (many small inline
 * pieces, or a remote ISO's blocks), or from a source that can neither be
 * spliced nor pinned, is copied through a buffer; this is rare.
 */
static void read_copy(fuse_req_t req, const struct bs_blob *b, size_t size,
		      off_t off)
{
	char *buf;
	ssize_t n;

	__atomic_add_fetch(&counters.read_copies, 1, __ATOMIC_RELAXED);
	if ((uint64_t)off + size > b->size)
		size = (size_t)(b->size - (uint64_t)off);
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = bs_blob_read(b, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/*
 * 1 if a source file no longer holds the bytes an extent names: the ISO
 * was truncated in place.  A spliced read would come back short, which
 * the kernel takes for the end of the file, so a reader would see a
 * shorter file instead of an error.  One fstat per source per read.
 */
static int source_shrunk(const struct bs_extent *ext, size_t n)
{
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		uint64_t end = 0;
		size_t j;

		if (ext[i].kind != BS_SEG_SOURCE)
			continue;
		for (j = 0; j < i; j++)
			if (ext[j].kind == BS_SEG_SOURCE &&
			    ext[j].fd == ext[i].fd)
				break;
		if (j < i)
			continue;	/* this file was checked */
		for (j = i; j < n; j++)
			if (ext[j].kind == BS_SEG_SOURCE &&
			    ext[j].fd == ext[i].fd &&
			    ext[j].off + ext[j].len > end)
				end = ext[j].off + ext[j].len;
		if (fstat(ext[i].fd, &st) == 0 && (uint64_t)st.st_size < end)
			return 1;
	}
	return 0;
}

/* Buffers for a file (or pinned piece), bytes or zero extent from
 * bv->buf[nb] on, as many as fit: @ret buffers in use, *@left what did
 * not fit. */
static size_t add_bufs(struct fuse_bufvec *bv, size_t nb,
		       const struct bs_extent *e, uint64_t *left)
{
	uint64_t pos = e->off;

	while (*left && nb < READ_MAX_BUFS) {
		struct fuse_buf *fb = &bv->buf[nb++];
		size_t n = *left > SIZE_MAX ? SIZE_MAX : (size_t)*left;

		switch (e->kind) {
		case BS_SEG_SOURCE:
			fb->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			fb->fd = e->fd;
			fb->pos = (off_t)pos;
			break;
		case BS_SEG_BYTES:
			fb->mem = (void *)(uintptr_t)e->bytes;
			break;
		case BS_SEG_ZERO:
			if (n > ZERO_LEN)
				n = ZERO_LEN;
			fb->mem = zero_page;
			break;
		}
		fb->size = n;
		*left -= n;
		pos += n;
	}
	return nb;
}

static void unpin_all(struct bs_piece *pc, struct bs_source **src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bs_source_unpin(src[i], &pc[i], 1);
}

static void read_tree(fuse_req_t req, struct fh *h, size_t size, off_t off)
{
	const struct bs_blob *b = h->n->blob;
	struct bs_extent ext[READ_MAX_BUFS];
	struct bs_piece pc[READ_MAX_BUFS];
	struct bs_source *psrc[READ_MAX_BUFS];
	size_t npc = 0;
	union read_vec rv;
	struct fuse_bufvec *bv = &rv.v;
	size_t next, covered = 0, nb = 0, want;
	uint64_t now;

	now = bsfs_now_ms();
	if (now >= __atomic_load_n(&h->next_check, __ATOMIC_RELAXED)) {
		__atomic_store_n(&h->next_check, now + BSFS_RECHECK_MS,
				 __ATOMIC_RELAXED);
		check_rewrite(b, 0);
	}
	if (!b || off < 0 || (uint64_t)off >= b->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	want = size;
	if (b->size - (uint64_t)off < want)
		want = (size_t)(b->size - (uint64_t)off);
	next = bs_blob_extents(b, (uint64_t)off, want, ext, READ_MAX_BUFS,
			       &covered);
	/* a source without a file and without pieces to splice is read */
	for (size_t i = 0; i < next; i++)
		if (ext[i].kind == BS_SEG_SOURCE && ext[i].fd < 0 &&
		    !(ext[i].src->ops && ext[i].src->ops->pin))
			covered = 0;
	if (covered < want) {
		read_copy(req, b, want, off);
		return;
	}
	if (source_shrunk(ext, next)) {
		/* a short reply would tell the kernel the file ended here */
		check_rewrite(b, 0);
		fuse_reply_err(req, EIO);
		return;
	}
	memset(&rv, 0, sizeof(rv));
	for (size_t i = 0; i < next && nb < READ_MAX_BUFS; i++) {
		uint64_t left = ext[i].len, pos = ext[i].off;

		if (ext[i].kind == BS_SEG_SOURCE && ext[i].fd < 0) {
			/* a remote ISO: spliced from its block cache */
			size_t k = 0;
			ssize_t r = bs_source_pin(ext[i].src, pos,
						  (size_t)left, ext[i].until,
						  pc + npc, READ_MAX_BUFS - nb,
						  &k);
			if (r < 0) {
				unpin_all(pc, psrc, npc);
				fuse_reply_err(req, (int)-r);
				return;
			}
			for (size_t q = 0; q < k; q++) {
				struct bs_extent pe = {
					.kind = BS_SEG_SOURCE,
					.len = pc[npc].len, .fd = pc[npc].fd,
					.off = pc[npc].off };
				uint64_t rest = pe.len;	/* fits: max above */

				nb = add_bufs(bv, nb, &pe, &rest);
				psrc[npc++] = ext[i].src;
			}
			left -= (uint64_t)r;
		} else {
			nb = add_bufs(bv, nb, &ext[i], &left);
		}
		if (left) {
			/* out of buffers (many short segments or pieces) */
			unpin_all(pc, psrc, npc);
			read_copy(req, b, want, off);
			return;
		}
	}
	bv->count = nb;
	bv->idx = 0;
	bv->off = 0;
	if (nb == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* pieces stay pinned until the reply is written: the splice has
	 * the kernel copy them by then */
	fuse_reply_data(req, bv, 0);
	unpin_all(pc, psrc, npc);
}

static void bsfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;

	if (h->kind != FH_STATUS) {
		__atomic_add_fetch(&counters.reads, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&counters.read_bytes, size,
				   __ATOMIC_RELAXED);
	}
	switch (h->kind) {
	case FH_TREE:
		read_tree(req, h, size, off);
		return;
	case FH_STATUS:
		if (off < 0 || (size_t)off >= h->len) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		if (size > h->len - (size_t)off)
			size = h->len - (size_t)off;
		{
			/* Reply from a copy: the reader may close (and the
			 * RELEASE free h->text) as soon as writev(2) hands
			 * the kernel the reply, and ASan's writev
			 * interceptor checks the buffer only after the call
			 * returned.  Status reads are rare; this is not the
			 * tree's read path. */
			char *copy = malloc(size ? size : 1);

			if (!copy) {
				fuse_reply_err(req, ENOMEM);
				return;
			}
			memcpy(copy, h->text + off, size);
			fuse_reply_buf(req, copy, size);
			free(copy);
		}
		return;
	case FH_UNDERLAY: {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = h->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, 0);
		return;
	}
	case FH_DIR:
		break;
	}
	fuse_reply_err(req, EISDIR);
}

static void bsfs_op_release(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;

	if (h && h->pt_ino)
		bsfs_pt_release(h->pt_ino);
	fh_free(h);
	fuse_reply_err(req, 0);
}

/* ---- directories ---------------------------------------------------------- */

static struct dent *dent_add(struct fh *h, const char *name)
{
	struct dent *d;

	if (h->nents == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct dent *v = realloc(h->ents, cap * sizeof(*v));
		if (!v)
			return NULL;
		h->ents = v;
		h->cap = cap;
	}
	d = &h->ents[h->nents++];
	memset(d, 0, sizeof(*d));
	d->name = name;
	return d;
}

/* Append the underlay entries of @rel that the tree directory @tdir (may
 * be NULL) does not have. */
static int add_underlay_ents(struct fh *h, const char *rel,
			     const struct bs_vnode *tdir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int fd;

	if (bsfs.ufd < 0)
		return 0;
	fd = bsfs_underlay_open(rel, 1);
	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		struct dent *d;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (bsfs_path_join(path, sizeof(path), rel, de->d_name) < 0)
			continue;
		if (tdir && bs_vtree_lookup(h->t, tdir, de->d_name)) {
			bsfs_underlay_clash(path);
			continue;
		}
		if (bsfs_underlay_stat(path, &st) < 0)
			continue;	/* escaping symlink, FIFO, gone */
		d = dent_add(h, NULL);
		if (!d || !(d->own = strdup(de->d_name))) {
			if (d)
				h->nents--;
			closedir(dir);
			return -ENOMEM;
		}
		d->name = d->own;
		d->st = st;
		d->underlay = 1;
	}
	closedir(dir);
	return 0;
}

/* "." and ".." of an underlay directory at @rel. */
static int underlay_dots(struct fh *h, const char *rel,
			 const struct stat *self)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	size_t l = slash ? (size_t)(slash - rel) : 0;
	const struct bs_vnode *v;
	struct dent *d;

	if (!(d = dent_add(h, ".")))
		return -ENOMEM;
	d->st = *self;
	if (!(d = dent_add(h, "..")))
		return -ENOMEM;
	memcpy(dir, rel, l);
	dir[l] = '\0';
	v = l ? bs_vtree_resolve(h->t, dir) : bs_vtree_root(h->t);
	if (v)
		tree_attr(v, &d->st);
	else if (bsfs_underlay_stat(dir, &d->st) < 0)
		d->st = *self;
	return 0;
}

static void bsfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct fh *h = fh_new(FH_DIR);
	int rc = 0;

	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (bsfs_is_underlay(ino)) {
		struct stat st;

		/* the tree snapshot is only needed to name ".." */
		h->t = bs_shelf_get(bsfs.shelf);
		rc = underlay_node(ino, path, sizeof(path), &st);
		if (rc == 0 && !S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (rc == 0)
			rc = underlay_dots(h, path, &st);
		if (rc == 0)
			rc = add_underlay_ents(h, path, NULL);
	} else {
		const struct bs_vnode *v = tree_node(ino, &h->t);
		struct dent *d;

		if (!v) {
			rc = -ESTALE;
		} else if (!S_ISDIR(v->mode)) {
			rc = -ENOTDIR;
		} else {
			h->n = v;
			if ((d = dent_add(h, ".")))
				tree_attr(v, &d->st);
			if (d && (d = dent_add(h, "..")))
				tree_attr(v->parent ? v->parent : v, &d->st);
			for (size_t i = 0; d && i < v->nkids; i++)
				if ((d = dent_add(h, v->kids[i]->name)))
					tree_attr(v->kids[i], &d->st);
			if (!d)
				rc = -ENOMEM;
			if (rc == 0)
				rc = bsfs_vnode_path(v, path, sizeof(path));
			if (rc == 0)
				rc = add_underlay_ents(h, path, v);
		}
	}
	if (rc < 0) {
		fh_free(h);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0)
		fh_free(h);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	char *buf;
	size_t pos = 0;

	if (size > 1u << 20)
		size = 1u << 20;
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < h->nents; i++) {
		const struct dent *d = &h->ents[i];
		size_t n;

		if (plus) {
			struct fuse_entry_param e;
			int dot = !strcmp(d->name, ".") ||
				  !strcmp(d->name, "..");

			memset(&e, 0, sizeof(e));
			e.attr = d->st;
			if (!dot) {
				/* dots are not looked up by the kernel */
				double to = d->underlay ?
					BSFS_UNDERLAY_TIMEOUT :
					BSFS_TREE_TIMEOUT;
				e.ino = d->st.st_ino;
				e.attr_timeout = to;
				e.entry_timeout = to;
			}
			n = fuse_add_direntry_plus(req, buf + pos, size - pos,
						   d->name, &e,
						   (off_t)(i + 1));
		} else {
			n = fuse_add_direntry(req, buf + pos, size - pos,
					      d->name, &d->st,
					      (off_t)(i + 1));
		}
		if (n > size - pos)
			break;
		pos += n;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void bsfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 0);
}

static void bsfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
				off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 1);
}

static void bsfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	fh_free((struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void bsfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	struct bs_vtree *t = bs_shelf_get(bsfs.shelf);

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 65536;
	sv.f_frsize = 65536;
	sv.f_files = t ? t->nnodes : 0;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY;
	if (t)
		bs_vtree_unref(t);
	fuse_reply_statfs(req, &sv);
}

/* ---- session ---------------------------------------------------------------- */

/* Pages libfuse's splice path needs in its pipe beyond the payload: the
 * reply header plus one page per buffer plus one ("pagesize * (iov_count
 * + buf->count + 1)").  Replies of up to this many buffers are spliced. */
#define SPLICE_SLACK_BUFS	4

/*
 * Bytes a per-thread libfuse pipe can hold.  libfuse splices a read reply
 * only if its pipe grows to hold the whole reply; without CAP_SYS_RESOURCE
 * a pipe cannot exceed fs.pipe-max-size (1 MiB by default), less than a
 * full 1 MiB reply plus header, and every reply silently falls back to
 * pread into a freshly mapped buffer and writev: two copies and 256 page
 * faults per request.  @want: the size hoped for.  @ret bytes, or 0 if
 * pipes cannot be created (no limit is then applied).
 */
static size_t pipe_room(size_t want)
{
	char buf[32];
	int p[2], fd, got;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	got = fcntl(p[0], F_SETPIPE_SZ, (int)want);
	if (got < 0) {
		fd = open("/proc/sys/fs/pipe-max-size", O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			got = fcntl(p[0], F_SETPIPE_SZ, atoi(buf));
		}
		if (got < 0)
			got = fcntl(p[0], F_GETPIPE_SZ);
	}
	close(p[0]);
	close(p[1]);
	return got > 0 ? (size_t)got : 0;
}

size_t bsfs_read_max;		/* atomic: read by the watcher thread */

static void bsfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), room, slack;

	/* NFS export: the kernel may name nodes by nodeid after eviction */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* zero copy: file-descriptor buffers are spliced into the reply */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	/* No SPLICE_MOVE: the kernel would steal the ISO's own page-cache
	 * pages into this file's cache, so the next view of the same bytes
	 * (the ISO, iso/, initrd+iso) reads the disk again; pages it fails
	 * to take (DAMON's idle flag) are dropped from the ISO's cache and
	 * copied anyway, with a "steal weird page" dump in the kernel log.
	 * One copy from the ISO's cache is the better deal. */
	conn->want &= ~FUSE_CAP_SPLICE_MOVE;
	/* content-derived inode numbers make mtime-based invalidation
	 * useless, and it would cost a GETATTR per read */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Direct-I/O reads (the status file) one request at a time: with
	 * async DIO a RELEASE was seen overtaking a READ still being
	 * answered from the handle's buffer (ASan, reload storm test). */
	conn->want &= ~FUSE_CAP_ASYNC_DIO;
	/* Reads are never larger than max_write (libfuse derives the
	 * kernel's max_pages from it; nothing is ever written): keep a
	 * reply small enough for the splice pipe. */
	slack = page * (SPLICE_SLACK_BUFS + 2) + 16;	/* + header */
	room = pipe_room(conn->max_write + slack);
	if (room > slack + 32 * page && conn->max_write > room - slack)
		conn->max_write = (unsigned)((room - slack) / page * page);
	__atomic_store_n(&bsfs_read_max, conn->max_write, __ATOMIC_RELEASE);
	bs_debug("fuse: proto %u.%u capable 0x%x want 0x%x, max_write %u "
		 "(pipe %zu), max_readahead %u", conn->proto_major,
		 conn->proto_minor, conn->capable, conn->want,
		 conn->max_write, room, conn->max_readahead);
}

const struct fuse_lowlevel_ops bsfs_ops = {
	.init = bsfs_op_init,
	.lookup = bsfs_op_lookup,
	.forget = bsfs_op_forget,
	.forget_multi = bsfs_op_forget_multi,
	.getattr = bsfs_op_getattr,
	.setattr = bsfs_op_setattr,
	.readlink = bsfs_op_readlink,
	.mknod = bsfs_op_mknod,
	.mkdir = bsfs_op_mkdir,
	.unlink = bsfs_op_unlink,
	.rmdir = bsfs_op_unlink,
	.symlink = bsfs_op_symlink,
	.rename = bsfs_op_rename,
	.link = bsfs_op_link,
	.open = bsfs_op_open,
	.read = bsfs_op_read,
	.write = bsfs_op_write,
	.release = bsfs_op_release,
	.opendir = bsfs_op_opendir,
	.readdir = bsfs_op_readdir,
	.readdirplus = bsfs_op_readdirplus,
	.releasedir = bsfs_op_releasedir,
	.statfs = bsfs_op_statfs,
	.setxattr = bsfs_op_setxattr,
	.removexattr = bsfs_op_removexattr,
	.create = bsfs_op_create,
	.fallocate = bsfs_op_fallocate,
};
