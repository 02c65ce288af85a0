/*
 * inval.c - after a reload, tell the kernel which of its cached names and
 * attributes are wrong.
 *
 * Entries and attributes are cached for an hour (BSFS_TREE_TIMEOUT), so
 * a reload must invalidate explicitly.  The two snapshots are walked side
 * by side: a name whose inode number changed or vanished, and a name that
 * is new (it may sit in the kernel as a cached negative entry), is
 * invalidated in its parent; a directory whose listing changed gets its
 * attributes dropped.  A directory whose khash is unchanged is skipped
 * whole: a reload that touched one host does not walk 10,000.  Unchanged
 * files keep their inode numbers, so their cached pages stay valid and
 * are not touched.
 *
 * Runs on the reload thread, never on a request thread: the kernel may
 * wait on a request for the same directory while we notify.
 */
#include <errno.h>
#include <string.h>

#include <bootshelf/log.h>

#include "bsfs.h"

static size_t inval_name(struct fuse_session *se, uint64_t parent,
			 const char *name)
{
	int rc = fuse_lowlevel_notify_inval_entry(se, parent, name,
						  strlen(name));

	/* -ENOENT: the kernel had nothing cached under that name */
	if (rc < 0 && rc != -ENOENT)
		bs_debug("inval entry %s in %llu: %s", name,
			 (unsigned long long)parent, strerror(-rc));
	return 1;
}

/* @od and @nd are the same directory path in the old and new tree (their
 * numbers are path-derived, so equal). */
static size_t diff_dir(struct fuse_session *se, const struct bs_vtree *old,
		       const struct bs_vnode *od, const struct bs_vtree *cur,
		       const struct bs_vnode *nd)
{
	size_t n = 0;
	int changed = od->nkids != nd->nkids;

	if (od->khash == nd->khash && !changed)
		return 0;	/* nothing below changed */

	for (size_t i = 0; i < od->nkids; i++) {
		const struct bs_vnode *ok = od->kids[i];
		const struct bs_vnode *nk = bs_vtree_lookup(cur, nd, ok->name);

		if (!nk || nk->ino != ok->ino) {
			n += inval_name(se, od->ino, ok->name);
			changed = 1;
		}
		if (nk && S_ISDIR(ok->mode) && S_ISDIR(nk->mode))
			n += diff_dir(se, old, ok, cur, nk);
	}
	for (size_t i = 0; i < nd->nkids; i++) {
		const struct bs_vnode *nk = nd->kids[i];

		if (!bs_vtree_lookup(old, od, nk->name)) {
			n += inval_name(se, nd->ino, nk->name);
			changed = 1;
		}
	}
	if (changed)
		fuse_lowlevel_notify_inval_inode(se, nd->ino, -1, 0);
	return n;
}

size_t bsfs_inval_diff(struct fuse_session *se, const struct bs_vtree *old,
		       const struct bs_vtree *cur)
{
	if (!se || !old || !cur)
		return 0;
	return diff_dir(se, old, bs_vtree_root(old), cur, bs_vtree_root(cur));
}
