/*
 * bsfs.h - internal interfaces of bootshelf-fs, the FUSE front-end of the
 * boot tree.
 *
 * fs/ is glue only: the tree, its snapshots and reloads live in the
 * library (struct bs_shelf).  This header ties the daemon's pieces
 * together: the FUSE operations (ops.c), the underlay of files that were
 * already in the mountpoint directory (underlay.c), the change watcher and
 * reload thread (watch.c) and cache invalidation after a reload (inval.c).
 * Library errors (negative errno) are turned into FUSE replies in ops.c
 * and nowhere else.
 */
#ifndef BSFS_H
#define BSFS_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <fuse_lowlevel.h>

#include <bootshelf/vtree.h>

/* Kernel readahead for the mount (KiB).  FUSE offers 128 KiB, which
 * halves cold sequential throughput; requests stay <= 1 MiB each. */
#define BSFS_READAHEAD_KB	2048

/* Cache lifetimes handed to the kernel, in seconds.  Tree entries and
 * attributes are long-lived because a reload invalidates what it changed;
 * underlay entries and negative entries are short because nothing
 * watches the underlay and a new tree name clears its negative entry. */
#define BSFS_TREE_TIMEOUT	3600.0
#define BSFS_UNDERLAY_TIMEOUT	1.0
#define BSFS_NEGATIVE_TIMEOUT	1.0

/* Underlay inode numbers live in their own space (bit 63 set) so they
 * can never equal a tree inode number (bit 63 clear). */
#define BSFS_UNDERLAY_BIT	(1ULL << 63)

/* How often an open file re-checks that its ISO was not rewritten in
 * place (milliseconds). */
#define BSFS_RECHECK_MS		1000

/* The daemon.  One per process; set up by main.c before the loop. */
struct bsfs {
	struct bs_shelf *shelf;		/* owned */
	struct fuse_session *se;	/* owned by main.c */
	int ufd;			/* underlay: O_PATH fd of the
					   mountpoint directory, or -1 */
	const char *mnt;		/* absolute mountpoint; borrowed */
	uid_t uid;			/* owner of tree files */
	gid_t gid;
	int debug;
};

extern struct bsfs bsfs;

/* ---- ops.c ------------------------------------------------------------ */

/* The low-level operation table. */
extern const struct fuse_lowlevel_ops bsfs_ops;

/* After a reload: keep @old (a new reference is taken) as the previous
 * snapshot, so nodeids looked up just before the swap still open.  NULL
 * drops the one kept. */
void bsfs_ops_retire(struct bs_vtree *old);

/* Warn (once per file version) and reload when local source @s changed
 * under its descriptor: rewritten in place instead of replaced. */
void bsfs_check_source(const struct bs_source *s);
/* Largest READ the kernel sends (bytes), set at FUSE init; 0 before. */
extern size_t bsfs_read_max;

/* ---- underlay.c ------------------------------------------------------- */

/* Underlay node: a file or directory of the mountpoint directory as it
 * was before the mount, found by its path relative to that directory. */
static inline int bsfs_is_underlay(uint64_t ino)
{
	return (ino & BSFS_UNDERLAY_BIT) != 0;
}

/**
 * Look up @rel ("" for the underlay root, else "a/b") in the underlay.
 * Symlinks are followed but may not leave the underlay; only regular
 * files and directories are answered.  Registers the node so its inode
 * number resolves later (also after FORGET).
 * @v st   stat of the node with st_ino replaced by its underlay number
 * @ret 0, -ENOENT (absent, escaping, other file type), -errno
 */
int bsfs_underlay_stat(const char *rel, struct stat *st);

/**
 * Path of a registered underlay inode.
 * @v buf   receives the relative path
 * @ret 0, -ESTALE if unknown, -ENAMETOOLONG
 */
int bsfs_underlay_path(uint64_t ino, char *buf, size_t len);

/**
 * Open @rel in the underlay for reading (O_RDONLY, or O_DIRECTORY with
 * @dir), beneath the underlay root.
 * @ret fd (caller closes) or -errno
 */
int bsfs_underlay_open(const char *rel, int dir);

/* Log "catalog name hides underlay file" once per path. */
void bsfs_underlay_clash(const char *rel);

/* Forget every registered node (at exit). */
void bsfs_underlay_free(void);

/* ---- paths of tree nodes ---------------------------------------------- */

/**
 * Path of a tree node relative to the root ("" for the root).
 * @ret 0 or -ENAMETOOLONG
 */
int bsfs_vnode_path(const struct bs_vnode *n, char *buf, size_t len);

/* Join @dir and @name with a '/' ("" + name = name).  @ret 0 or
 * -ENAMETOOLONG. */
int bsfs_path_join(char *buf, size_t len, const char *dir, const char *name);

/* ---- watch.c ---------------------------------------------------------- */

/**
 * Start the watcher thread: inotify on the catalog, its drop-in
 * directory and the directory of every local ISO; reloads after a quiet
 * period, on SIGHUP and on request.
 * @ret 0 or -errno
 */
int bsfs_watch_start(void);
/* Stop and join the thread. */
void bsfs_watch_stop(void);
/* Ask for a reload (async-signal-safe: writes to a pipe). */
void bsfs_watch_kick(void);

/* ---- inval.c ---------------------------------------------------------- */

/**
 * Tell the kernel what a reload changed: every name whose inode changed,
 * vanished or newly appeared is invalidated in its parent directory, and
 * the attributes of every directory whose listing changed.
 * @ret number of entries invalidated
 */
size_t bsfs_inval_diff(struct fuse_session *se, const struct bs_vtree *old,
		       const struct bs_vtree *cur);

/* ---- passthrough.c ---------------------------------------------------- */
/**
 * Route the session's device I/O through passthrough.c (right after
 * fuse_session_mount, before INIT is answered).
 * @v want  ask the kernel for passthrough (root keeping CAP_SYS_ADMIN)
 * @ret 0 or -errno (the session then works without passthrough)
 */
int bsfs_pt_setup(struct fuse_session *se, int want);
/* 1 once the kernel agreed and no registration has been refused. */
int bsfs_pt_enabled(void);
/**
 * Backing id for tree inode @ino, whose bytes are all of the local file
 * @src (registered on first use, then shared; a reference to @src is
 * kept with it).  Every open of @ino gets the same answer while the
 * inode is known, since the kernel refuses mixing passthrough and cached
 * opens of one inode.
 * @ret id > 0: open with passthrough; 0: serve it through the daemon
 *      (registration failed); both to be undone by bsfs_pt_release().
 *      -ENOTSUP: passthrough is off (a refused registration turns it
 *      off for good); -ENOMEM: fail the open.
 */
int bsfs_pt_open(uint64_t ino, struct bs_source *src);
/* A file of @ino that bsfs_pt_open() served was released. */
void bsfs_pt_release(uint64_t ino);
/* After a reload: drop the ids of inodes in neither snapshot; warn about
 * open files whose ISO was rewritten in place (the kernel reads them, so
 * no READ check sees it). */
void bsfs_pt_sweep(const struct bs_vtree *cur, const struct bs_vtree *prev);
/* Answer OPEN with passthrough to backing @id.  @ret as fuse_reply_*. */
int bsfs_pt_reply_open(fuse_req_t req, uint64_t fh, int id);

/* ---- mount.c ---------------------------------------------------------- */

/**
 * Absolute path of mountpoint @arg, also when a dead FUSE mount, or one
 * that denies us, sits there (its parent is resolved instead).
 * @v out   receives the path (@len at least PATH_MAX)
 * @ret 0 or -errno
 */
int bsfs_mnt_resolve(const char *arg, char *out, size_t len);

/**
 * Make the mountpoint usable if a dead bootshelf-fs mount (its daemon
 * gone, ENOTCONN) is on it: detach it, with a warning.  Logs why when it
 * cannot.
 * @ret 0 (nothing dead there, or detached), -EBUSY (a dead mount of
 * another filesystem), -errno
 */
int bsfs_mnt_recover(const char *mnt);

/* 1 if /proc/self/mountinfo lists a mount at @mnt (which stat(2) may
 * not tell: a FUSE mount without allow_other denies even root). */
int bsfs_mnt_present(const char *mnt);

/* Before the loop runs and before dropping root: answer the kernel's
 * INIT request here, then raise the mount's readahead (which INIT would
 * lower again, and which only root may write). */
void bsfs_mnt_init_now(struct fuse_session *se, const char *mnt);

/* 1 if allow_other may be asked for: root, or user_allow_other in
 * /etc/fuse.conf (fusermount3 refuses it otherwise). */
int bsfs_user_allow_other(void);

/* The user --user names, looked up before the mount. */
struct bsfs_priv {
	int set;
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* Look up @user (name or number).  @ret 0, -ENOENT, -EINVAL for root */
int bsfs_priv_lookup(const char *user, struct bsfs_priv *p);
/* While the catalog is read and the ISOs indexed at startup: the
 * effective ids become the user's, so what the user cannot read fails
 * now rather than at the first reload, and index cache files are the
 * user's.  _leave() returns to root for the mount.  @ret 0 or -errno */
int bsfs_priv_enter(const struct bsfs_priv *p);
int bsfs_priv_leave(const struct bsfs_priv *p);
/* Just before mounting: the real ids become the user's, so the mount is
 * theirs (see mount.c).  No-op without --user.  @ret 0 or -errno */
int bsfs_priv_premount(const struct bsfs_priv *p);
/* After the mount: become the user for good.  @ret 0 or -errno */
int bsfs_priv_drop(const struct bsfs_priv *p);

/* ---- misc -------------------------------------------------------------- */

/* Monotonic milliseconds. */
uint64_t bsfs_now_ms(void);

#endif
