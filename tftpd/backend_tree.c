/*
 * backend_tree.c - serve the catalog's tree in-process (-c CATALOG): the
 * same snapshot code bootshelf-fs uses, with no FUSE in the path.
 *
 * A transfer holds a reference to the snapshot it opened, so it sends
 * one version from its first block to its last even when a reload swaps
 * in a new tree meanwhile.  Reloads happen on SIGHUP and, checked at most
 * once a second when a file is opened, when the catalog file changed.
 * What is left out: watching ISO files (replace an ISO, then SIGHUP or
 * touch the catalog), and reloading off the event loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bootshelf/log.h>
#include <bootshelf/vtree.h>

#include "backend.h"
#include "catalog_i.h"	/* bs_catalog_remote: the index cache dir */

struct tree_ctx {
	struct bs_shelf *shelf;
	struct timespec cat_mtime;
	time_t last_check;
};

struct bs_tftpd_file {
	struct bs_vtree *t;		/* reference */
	const struct bs_vnode *n;	/* in t */
	char *text;			/* dynamic files: rendered at open */
	size_t len;
};

static int cat_mtime(const char *path, struct timespec *ts)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*ts = st.st_mtim;
	return 0;
}

/* Entries left out of the tree (ISO gone, unreadable, damaged): one
 * line each, so the log says why a file is suddenly not found. */
static void log_entry_errors(struct tree_ctx *c)
{
	struct bs_vtree *t = bs_shelf_get(c->shelf);

	for (size_t i = 0; i < t->nstates; i++)
		if (!t->states[i].ok)
			bs_warn("%s: entry %s left out: %s",
				c->shelf->catalog_path,
				t->states[i].entry->name, t->states[i].error);
	bs_vtree_unref(t);
}

int bs_tftpd_tree_reload(void *vctx)
{
	struct tree_ctx *c = vctx;
	int rc;

	cat_mtime(c->shelf->catalog_path, &c->cat_mtime);
	rc = bs_shelf_reload(c->shelf, NULL);
	if (rc < 0)
		bs_err("%s: reload failed (%s); still serving the previous "
		       "tree", c->shelf->catalog_path,
		       rc == -EINVAL ? "catalog has errors" : strerror(-rc));
	else {
		bs_info("%s: reloaded", c->shelf->catalog_path);
		log_entry_errors(c);
	}
	return rc;
}

/* Reload when the catalog file changed; cheap enough per open. */
static void maybe_reload(struct tree_ctx *c)
{
	struct timespec ts;
	time_t now = time(NULL);

	if (now == c->last_check)
		return;
	c->last_check = now;
	/* unreadable now: SIGHUP reports why; no reload loop per request */
	if (cat_mtime(c->shelf->catalog_path, &ts) < 0)
		return;
	if (ts.tv_sec != c->cat_mtime.tv_sec ||
	    ts.tv_nsec != c->cat_mtime.tv_nsec)
		bs_tftpd_tree_reload(c);
}

char *bs_tftpd_tree_cache_dir(void *vctx)
{
	struct tree_ctx *c = vctx;
	struct bs_vtree *t = bs_shelf_get(c->shelf);
	const char *d = bs_catalog_remote(t->cat)->cache_dir;
	char *r;

	/* as the ISO cache does: unset is the default, "none" is off */
	if (!d)
		d = "/var/cache/bootshelf";
	r = strcmp(d, "none") ? strdup(d) : NULL;

	bs_vtree_unref(t);
	return r;
}

static int tree_open(void *vctx, const char *name, struct bs_tftpd_file **f,
		     uint64_t *size)
{
	struct tree_ctx *c = vctx;
	struct bs_tftpd_file *h;
	const struct bs_vnode *n;
	struct bs_vtree *t;

	maybe_reload(c);
	t = bs_shelf_get(c->shelf);
	n = bs_vtree_resolve(t, name);
	if (!n || S_ISLNK(n->mode)) {
		bs_vtree_unref(t);
		return -ENOENT;
	}
	if (!S_ISREG(n->mode)) {
		bs_vtree_unref(t);
		return -EACCES;
	}
	if (!(h = calloc(1, sizeof(*h)))) {
		bs_vtree_unref(t);
		return -ENOMEM;
	}
	h->t = t;
	h->n = n;
	if (n->dynamic) {
		if (!(h->text = bs_shelf_status(c->shelf))) {
			bs_vtree_unref(t);
			free(h);
			return -ENOMEM;
		}
		h->len = strlen(h->text);
	}
	*f = h;
	*size = n->dynamic ? h->len : n->size;
	return 0;
}

static ssize_t tree_pread(void *vctx, struct bs_tftpd_file *f, void *buf,
			  size_t len, uint64_t off)
{
	(void)vctx;
	if (f->text) {
		if (off >= f->len)
			return 0;
		if (len > f->len - off)
			len = (size_t)(f->len - off);
		memcpy(buf, f->text + off, len);
		return (ssize_t)len;
	}
	return bs_vnode_read(f->n, buf, len, off);
}

static void tree_close(void *vctx, struct bs_tftpd_file *f)
{
	(void)vctx;
	bs_vtree_unref(f->t);
	free(f->text);
	free(f);
}

static void tree_destroy(void *vctx)
{
	struct tree_ctx *c = vctx;

	bs_shelf_close(c->shelf);
	free(c);
}

static const struct bs_tftpd_backend tree_backend = {
	.name = "catalog",
	.open = tree_open,
	.pread = tree_pread,
	.close = tree_close,
	.destroy = tree_destroy,
};

int bs_tftpd_tree_new(const char *catalog, const struct bs_tftpd_backend **be,
		      void **ctx)
{
	struct bs_diags d = { 0 };
	struct tree_ctx *c = calloc(1, sizeof(*c));
	char line[1024];
	int rc;

	if (!c)
		return -ENOMEM;
	rc = bs_shelf_open(catalog, &c->shelf, &d);
	for (size_t i = 0; i < d.n; i++) {
		bs_diag_format(&d.v[i], line, sizeof(line));
		bs_log(d.v[i].sev == BS_DIAG_ERROR ? BS_LOG_ERR : BS_LOG_WARN,
		       "%s", line);
	}
	bs_diags_free(&d);
	if (rc < 0) {
		free(c);
		return rc;
	}
	cat_mtime(catalog, &c->cat_mtime);
	c->last_check = time(NULL);
	*be = &tree_backend;
	*ctx = c;
	return 0;
}
