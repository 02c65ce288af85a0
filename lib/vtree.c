/*
 * vtree.c - build an immutable snapshot of the boot tree from a catalog,
 * and look things up in it.
 *
 * Building allocates every node and name; after bs_vtree_build returns,
 * nothing in the tree changes until the last reference is dropped.  The
 * per-entry parts (boot/<name>/...) are made in vtree_entry.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bootshelf/bootgen.h>
#include <bootshelf/vtree.h>

#include "refcnt_i.h"

#include "vtree_i.h"

struct arena {
	struct bs_vnode **nodes;
	size_t n, cap;
};

/* FNV-1a, 64 bit: stable across runs and machines. */
uint64_t bs_hash64(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	if (!h)
		h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t blob_hash(uint64_t h, const struct bs_blob *b)
{
	for (size_t i = 0; b && i < b->nseg; i++) {
		const struct bs_seg *s = &b->seg[i];
		h = bs_hash64(h, &s->kind, sizeof(s->kind));
		h = bs_hash64(h, &s->len, sizeof(s->len));
		if (s->kind == BS_SEG_SOURCE) {
			h = bs_hash64(h, &s->src->id, sizeof(s->src->id));
			h = bs_hash64(h, &s->off, sizeof(s->off));
		} else if (s->kind == BS_SEG_BYTES) {
			h = bs_hash64(h, s->bytes, s->len);
		}
	}
	return h;
}

/* Full path of @n into @buf (for hashing). */
static size_t node_path(const struct bs_vnode *n, char *buf, size_t len)
{
	size_t at;

	if (n->parent == n) {
		buf[0] = '\0';
		return 0;
	}
	at = node_path(n->parent, buf, len);
	size_t nl = strlen(n->name);
	if (at + nl + 2 > len)
		return at;
	buf[at++] = '/';
	memcpy(buf + at, n->name, nl + 1);
	return at + nl;
}

struct bs_vnode *bs_vt_node(struct bs_vtree *t, struct bs_vnode *parent,
			    const char *name, mode_t mode)
{
	struct arena *a = t->arena;
	struct bs_vnode *n;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct bs_vnode **v = realloc(a->nodes, cap * sizeof(*v));
		if (!v)
			return NULL;
		a->nodes = v;
		a->cap = cap;
	}
	if (!(n = calloc(1, sizeof(*n))) || !(n->name = strdup(name))) {
		free(n);
		return NULL;
	}
	a->nodes[a->n++] = n;
	n->mode = mode;
	n->mtime = t->mtime;
	n->parent = parent ? parent : n;
	if (parent) {
		if (parent->nkids % 16 == 0) {
			struct bs_vnode **k = realloc(parent->kids,
				(parent->nkids + 16) * sizeof(*k));
			if (!k)
				return NULL;
			parent->kids = k;
		}
		parent->kids[parent->nkids++] = n;
	}
	t->nnodes++;
	return n;
}

struct bs_vnode *bs_vt_dir(struct bs_vtree *t, struct bs_vnode *parent,
			   const char *name)
{
	for (size_t i = 0; i < parent->nkids; i++)
		if (strcmp(parent->kids[i]->name, name) == 0)
			return S_ISDIR(parent->kids[i]->mode) ?
				       parent->kids[i] : NULL;
	return bs_vt_node(t, parent, name, S_IFDIR | 0555);
}

struct bs_vnode *bs_vt_file(struct bs_vtree *t, struct bs_vnode *dir,
			    const char *name, struct bs_blob *blob)
{
	struct bs_vnode *n;

	for (size_t i = 0; i < dir->nkids; i++)
		if (strcmp(dir->kids[i]->name, name) == 0) {
			bs_blob_unref(blob);
			return NULL;	/* first one wins */
		}
	if (!(n = bs_vt_node(t, dir, name, S_IFREG | 0444))) {
		bs_blob_unref(blob);
		return NULL;
	}
	n->blob = blob;
	n->size = blob ? blob->size : 0;
	return n;
}

struct bs_vnode *bs_vt_text(struct bs_vtree *t, struct bs_vnode *dir,
			    const char *name, struct bs_text *text)
{
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;

	if (text->failed) {
		bs_text_free(text);
		return NULL;
	}
	bs_blob_add_bytes(&b, text->buf, text->len);
	bs_text_free(text);
	if (bs_blob_finish(&b, &blob) < 0)
		return NULL;
	return bs_vt_file(t, dir, name, blob);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp((*(struct bs_vnode *const *)a)->name,
		      (*(struct bs_vnode *const *)b)->name);
}

/* Sort children, give every node its content-derived ino, hash them. */
static int finish(struct bs_vtree *t)
{
	struct arena *a = t->arena;
	size_t hsize = 64;
	char path[4096];

	while (hsize < a->n * 2)
		hsize *= 2;
	if (!(t->hash = calloc(hsize, sizeof(*t->hash))))
		return -ENOMEM;
	t->hmask = hsize - 1;
	for (size_t i = 0; i < a->n; i++) {
		struct bs_vnode *n = a->nodes[i];
		uint64_t h;

		if (n->nkids > 1)
			qsort(n->kids, n->nkids, sizeof(*n->kids), cmp_node);
		if (n == t->root) {
			n->ino = BS_ROOT_INO;
		} else {
			size_t pl = node_path(n, path, sizeof(path));
			h = bs_hash64(0, S_ISDIR(n->mode) ? "d" : "f", 1);
			h = bs_hash64(h, path, pl);
			h = blob_hash(h, n->blob);
			h = bs_hash64(h, &n->dynamic, sizeof(n->dynamic));
			/* Top bit clear: the FUSE layer numbers its
			 * underlay files with it set. */
			h &= 0x7fffffffffffffffULL;
			for (;;) {
				int clash = h <= BS_ROOT_INO;
				for (struct bs_vnode *c = t->hash[h & t->hmask];
				     c && !clash; c = c->hnext)
					clash = c->ino == h;
				if (!clash)
					break;
				h = bs_hash64(h, "+", 1) &
				    0x7fffffffffffffffULL;
			}
			n->ino = h;
		}
		n->hnext = t->hash[n->ino & t->hmask];
		t->hash[n->ino & t->hmask] = n;
	}
	return 0;
}

static void arena_free(struct bs_vtree *t)
{
	struct arena *a = t->arena;

	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		struct bs_vnode *n = a->nodes[i];
		bs_blob_unref(n->blob);
		free((char *)n->name);
		free((char *)n->target);
		free(n->kids);
		free(n);
	}
	free(a->nodes);
	free(a);
}

int bs_vtree_build(struct bs_catalog *cat, struct bs_isocache *cache,
		   uint64_t gen, struct bs_vtree **out)
{
	struct bs_vtree *t;
	int rc = -ENOMEM;

	*out = NULL;
	if (!(t = calloc(1, sizeof(*t))) ||
	    !(t->arena = calloc(1, sizeof(struct arena)))) {
		free(t);
		bs_catalog_free(cat);
		return -ENOMEM;
	}
	t->refs = 1;
	t->generation = gen;
	t->mtime = (int64_t)time(NULL);
	t->cat = cat;
	if (!(t->root = bs_vt_node(t, NULL, "", S_IFDIR | 0555)))
		goto fail;
	if (cat->nentries &&
	    !(t->states = calloc(cat->nentries, sizeof(*t->states))))
		goto fail;
	t->nstates = cat->nentries;
	for (size_t i = 0; i < cat->nentries; i++) {
		t->states[i].entry = &cat->entries[i];
		if ((rc = bs_vt_add_entry(t, cache, &t->states[i])) < 0)
			goto fail;
	}
	if ((rc = bs_vt_add_configs(t)) < 0 || (rc = finish(t)) < 0)
		goto fail;
	*out = t;
	return 0;

fail:
	bs_vtree_unref(t);
	return rc < 0 ? rc : -ENOMEM;
}

struct bs_vtree *bs_vtree_ref(struct bs_vtree *t)
{
	if (t)
		bs_ref_get(&t->refs);
	return t;
}

void bs_vtree_unref(struct bs_vtree *t)
{
	if (!t || !bs_ref_put(&t->refs))
		return;
	arena_free(t);
	for (size_t i = 0; i < t->nstates; i++)
		bs_iso_unref(t->states[i].iso);
	free(t->states);
	free(t->hash);
	bs_catalog_free(t->cat);
	free(t);
}

const struct bs_vnode *bs_vtree_root(const struct bs_vtree *t)
{
	return t->root;
}

const struct bs_vnode *bs_vtree_lookup(const struct bs_vtree *t,
				       const struct bs_vnode *dir,
				       const char *name)
{
	size_t lo = 0, hi;

	(void)t;
	if (!S_ISDIR(dir->mode))
		return NULL;
	if (strcmp(name, ".") == 0)
		return dir;
	if (strcmp(name, "..") == 0)
		return dir->parent;
	hi = dir->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->kids[mid]->name, name);
		if (c == 0)
			return dir->kids[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct bs_vnode *bs_vtree_resolve(const struct bs_vtree *t,
					const char *path)
{
	const struct bs_vnode *n = t->root;
	char comp[256];

	while (n && *path) {
		size_t len;
		while (*path == '/')
			path++;
		len = strcspn(path, "/");
		if (len == 0)
			break;
		if (len >= sizeof(comp))
			return NULL;
		memcpy(comp, path, len);
		comp[len] = '\0';
		if (strcmp(comp, "..") == 0)
			return NULL;
		n = bs_vtree_lookup(t, n, comp);
		path += len;
	}
	return n;
}

const struct bs_vnode *bs_vtree_by_ino(const struct bs_vtree *t,
				       uint64_t ino)
{
	for (const struct bs_vnode *n = t->hash[ino & t->hmask]; n;
	     n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

ssize_t bs_vnode_read(const struct bs_vnode *n, void *buf, size_t len,
		      uint64_t off)
{
	if (S_ISDIR(n->mode))
		return -EISDIR;
	if (!n->blob)
		return 0;
	return bs_blob_read(n->blob, buf, len, off);
}
