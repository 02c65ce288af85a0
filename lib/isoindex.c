/*
 * isoindex.c - index an ISO image with libisofs: names (Rock Ridge and
 * Joliet aware), sizes and the byte extents of every file.
 *
 * libisofs reads through an IsoDataSource backed by our struct bs_source,
 * so remote sources index the same way.  The imported IsoImage is thrown
 * away after the walk: we keep only our own small tree.  Imports are
 * serialised because libisofs keeps process-global message state.  What
 * is left out: zisofs-compressed files are indexed as their stored bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <stdint.h>
#include <time.h>
#include <libisofs/libisofs.h>

#include <bootshelf/isoindex.h>

#include "refcnt_i.h"

#include "iso9660_i.h"

#define ISO_BLOCK 2048

static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;
static int iso_ready;

struct ds_ctx {
	struct bs_source *src;
	int short_read;		/* a block past the end was asked for */
	int io_error;
};

static int ds_open(IsoDataSource *ds) { (void)ds; return 1; }
static int ds_close(IsoDataSource *ds) { (void)ds; return 1; }
static void ds_free(IsoDataSource *ds) { (void)ds; }

static int ds_read_block(IsoDataSource *ds, uint32_t lba, uint8_t *buf)
{
	struct ds_ctx *c = ds->data;
	ssize_t n = bs_source_pread(c->src, buf, ISO_BLOCK,
				    (uint64_t)lba * ISO_BLOCK);
	if (n == ISO_BLOCK)
		return 1;
	if (n < 0)
		c->io_error = (int)n;
	else
		c->short_read = 1;
	return (int)ISO_DATA_SOURCE_MISHAP;
}

void bs_iso_node_free(struct bs_iso_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		bs_iso_node_free(n->kids[i]);
	free(n->kids);
	free(n->ext);
	free(n->target);
	free(n->name);
	free(n);
}

static int cmp_kid(const void *a, const void *b)
{
	const struct bs_iso_node *x = *(struct bs_iso_node *const *)a;
	const struct bs_iso_node *y = *(struct bs_iso_node *const *)b;
	return strcmp(x->name, y->name);
}

struct walk {
	struct bs_iso *iso;
	struct bs_error *err;
	size_t nodes;
};

static int walk_file(struct walk *w, IsoFile *f, struct bs_iso_node *n,
		     const char *name)
{
	struct iso_file_section *sec = NULL;
	int nsec = 0;
	uint64_t total = 0;

	if (iso_file_get_old_image_sections(f, &nsec, &sec, 0) < 0 ||
	    nsec < 0) {
		nsec = 0;
		sec = NULL;
	}
	if (nsec > 0 && !(n->ext = calloc((size_t)nsec, sizeof(*n->ext)))) {
		free(sec);
		return bs_error_set(w->err, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < nsec; i++) {
		uint64_t off = (uint64_t)sec[i].block * ISO_BLOCK;
		uint64_t len = sec[i].size;
		if (off > w->iso->image_size ||
		    len > w->iso->image_size - off) {
			free(sec);
			return bs_error_set(w->err, -EINVAL,
				"file '%s' lies beyond the end of the image "
				"(%llu+%llu > %llu bytes): truncated or "
				"malformed ISO", name,
				(unsigned long long)off,
				(unsigned long long)len,
				(unsigned long long)w->iso->image_size);
		}
		n->ext[i].off = off;
		n->ext[i].len = len;
		total += len;
	}
	free(sec);
	n->next = (size_t)nsec;
	n->size = total;
	w->iso->nfiles++;
	return 0;
}

static int walk_dir(struct walk *w, IsoDir *dir, struct bs_iso_node *out,
		    int depth)
{
	IsoDirIter *it = NULL;
	IsoNode *in;
	int rc = 0, cnt;

	if (depth > BS_ISO_MAX_DEPTH)
		return bs_error_set(w->err, -EINVAL,
				    "directories nested deeper than %d "
				    "(directory loop?)", BS_ISO_MAX_DEPTH);
	cnt = iso_dir_get_children_count(dir);
	if (cnt < 0)
		cnt = 0;
	if (cnt && !(out->kids = calloc((size_t)cnt, sizeof(*out->kids))))
		return bs_error_set(w->err, -ENOMEM, "out of memory");
	if (iso_dir_get_children(dir, &it) < 0)
		return bs_error_set(w->err, -EINVAL, "unreadable directory");
	while (iso_dir_iter_next(it, &in) == 1) {
		enum IsoNodeType t = iso_node_get_type(in);
		struct bs_iso_node *n;
		const char *name = iso_node_get_name(in);

		if (t == LIBISO_BOOT || t == LIBISO_SPECIAL || !name)
			continue;
		if (out->nkids >= (size_t)cnt)
			break;
		if (++w->nodes > BS_ISO_MAX_NODES) {
			rc = bs_error_set(w->err, -EINVAL,
					  "more than %u files", BS_ISO_MAX_NODES);
			break;
		}
		if (!(n = calloc(1, sizeof(*n))) ||
		    !(n->name = strdup(name))) {
			free(n);
			rc = bs_error_set(w->err, -ENOMEM, "out of memory");
			break;
		}
		out->kids[out->nkids++] = n;
		n->mtime = (int64_t)iso_node_get_mtime(in);
		if (t == LIBISO_DIR) {
			n->mode = S_IFDIR | 0555;
			w->iso->ndirs++;
			rc = walk_dir(w, (IsoDir *)in, n, depth + 1);
		} else if (t == LIBISO_SYMLINK) {
			const char *d = iso_symlink_get_dest((IsoSymlink *)in);
			n->mode = S_IFLNK | 0777;
			n->target = strdup(d ? d : "");
			n->size = d ? strlen(d) : 0;
			if (!n->target)
				rc = bs_error_set(w->err, -ENOMEM,
						  "out of memory");
		} else {
			n->mode = S_IFREG | 0444;
			rc = walk_file(w, (IsoFile *)in, n, name);
		}
		if (rc < 0)
			break;
	}
	iso_dir_iter_free(it);
	if (out->nkids > 1)
		qsort(out->kids, out->nkids, sizeof(*out->kids), cmp_kid);
	return rc;
}

/* Cheap checks before libisofs, for clear messages on common junk. */
static int check_pvd(struct bs_iso *iso, struct bs_error *err)
{
	uint8_t pvd[ISO_BLOCK];
	ssize_t n;
	uint64_t blocks;

	if (iso->image_size < 17 * ISO_BLOCK)
		return bs_error_set(err, -EINVAL, "too small for an ISO 9660 "
				    "image (%llu bytes)",
				    (unsigned long long)iso->image_size);
	n = bs_source_pread(iso->src, pvd, sizeof(pvd), 16 * ISO_BLOCK);
	if (n < 0)
		return bs_error_set(err, (int)n, "read error: %s",
				    strerror((int)-n));
	if ((size_t)n != sizeof(pvd) || pvd[0] != 1 ||
	    memcmp(pvd + 1, "CD001", 5) != 0)
		return bs_error_set(err, -EINVAL, "not an ISO 9660 image "
				    "(no primary volume descriptor)");
	memcpy(iso->volid, pvd + 40, 32);
	iso->volid[32] = '\0';
	for (int i = 31; i >= 0 && iso->volid[i] == ' '; i--)
		iso->volid[i] = '\0';
	blocks = (uint64_t)pvd[80] | (uint64_t)pvd[81] << 8 |
		 (uint64_t)pvd[82] << 16 | (uint64_t)pvd[83] << 24;
	if (blocks * ISO_BLOCK > iso->image_size)
		return bs_error_set(err, -EIO, "truncated: the volume "
				    "descriptor says %llu bytes, the file "
				    "has %llu",
				    (unsigned long long)(blocks * ISO_BLOCK),
				    (unsigned long long)iso->image_size);
	return 0;
}

static int import(struct bs_iso *iso, struct bs_error *err)
{
	struct ds_ctx ctx = { .src = iso->src };
	IsoDataSource ds = {
		.version = 0, .refcount = 1, .open = ds_open,
		.close = ds_close, .read_block = ds_read_block,
		.free_data = ds_free, .data = &ctx,
	};
	IsoImage *image = NULL;
	IsoReadOpts *opts = NULL;
	IsoReadImageFeatures *feat = NULL;
	struct walk w = { .iso = iso, .err = err };
	int rc, nboots = 0;
	ElToritoBootImage **boots = NULL;
	IsoFile **bootnodes = NULL;

	pthread_mutex_lock(&iso_lock);
	if (!iso_ready) {
		if (iso_init() < 0) {
			rc = bs_error_set(err, -ENOMEM, "libisofs init failed");
			goto out;
		}
		/* Messages go into our errors, never to stderr. */
		iso_set_msgs_severities("NEVER", "NEVER", "bootshelf");
		iso_ready = 1;
	}
	if (iso_image_new("bootshelf", &image) < 0 ||
	    iso_read_opts_new(&opts, 0) < 0) {
		rc = bs_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	iso_read_opts_set_no_md5(opts, 1);
	iso_read_opts_auto_input_charset(opts, 1);
	rc = iso_image_import(image, &ds, opts, &feat);
	if (rc < 0) {
		if (ctx.io_error)
			rc = bs_error_set(err, ctx.io_error, "read error: %s",
					  strerror(-ctx.io_error));
		else if (ctx.short_read)
			rc = bs_error_set(err, -EIO, "truncated: metadata "
					  "points past the end of the file");
		else
			rc = bs_error_set(err, -EINVAL, "malformed ISO "
					  "9660 image: %s",
					  iso_error_to_msg(rc));
		goto out;
	}
	if (iso_image_get_all_boot_imgs(image, &nboots, &boots, &bootnodes,
					0) == 1 && nboots > 0)
		iso->has_eltorito = 1;
	free(boots);
	free(bootnodes);
	rc = walk_dir(&w, iso_image_get_root(image), iso->root, 0);

out:
	if (feat)
		iso_read_image_features_destroy(feat);
	if (opts)
		iso_read_opts_free(opts);
	if (image)
		iso_image_unref(image);
	pthread_mutex_unlock(&iso_lock);
	return rc;
}

int bs_iso_open(struct bs_source *src, struct bs_iso **out,
		struct bs_error *err)
{
	struct bs_iso *iso;
	int rc;

	*out = NULL;
	if (!(iso = calloc(1, sizeof(*iso))) ||
	    !(iso->root = calloc(1, sizeof(*iso->root))) ||
	    !(iso->root->name = strdup(""))) {
		if (iso)
			free(iso->root);
		free(iso);
		return bs_error_set(err, -ENOMEM, "out of memory");
	}
	iso->refs = 1;
	iso->src = bs_source_ref(src);
	iso->image_size = src->id.size;
	iso->root->mode = S_IFDIR | 0555;
	if ((rc = check_pvd(iso, err)) < 0 ||
	    (rc = bs_iso9660_check(src, iso->image_size, err)) < 0 ||
	    (rc = import(iso, err)) < 0) {
		bs_iso_unref(iso);
		return rc;
	}
	*out = iso;
	return 0;
}

static size_t node_mem(const struct bs_iso_node *n)
{
	size_t m = sizeof(*n) + strlen(n->name) + 1 +
		   n->next * sizeof(*n->ext) + n->nkids * sizeof(*n->kids);

	if (n->target)
		m += strlen(n->target) + 1;
	for (size_t i = 0; i < n->nkids; i++)
		m += node_mem(n->kids[i]);
	return m;
}

size_t bs_iso_mem(struct bs_iso *iso)
{
	size_t m = __atomic_load_n(&iso->mem, __ATOMIC_RELAXED);

	/* the index never changes: two threads count the same */
	if (!m) {
		m = sizeof(*iso) + (iso->root ? node_mem(iso->root) : 0);
		__atomic_store_n(&iso->mem, m, __ATOMIC_RELAXED);
	}
	return m;
}

struct bs_iso *bs_iso_ref(struct bs_iso *iso)
{
	if (iso)
		bs_ref_get(&iso->refs);
	return iso;
}

void bs_iso_unref(struct bs_iso *iso)
{
	if (!iso || !bs_ref_put(&iso->refs))
		return;
	bs_iso_node_free(iso->root);
	bs_source_unref(iso->src);
	free(iso);
}

static const struct bs_iso_node *child(const struct bs_iso_node *dir,
				       const char *name, size_t len)
{
	size_t lo = 0, hi = dir->nkids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = dir->kids[mid]->name;
		int c = strncmp(k, name, len);
		if (c == 0 && k[len] != '\0')
			c = 1;
		if (c == 0)
			return dir->kids[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Plain ISO 9660 names are upper case; configs often are not. */
	for (size_t i = 0; i < dir->nkids; i++) {
		const char *k = dir->kids[i]->name;
		if (strncasecmp(k, name, len) == 0 && k[len] == '\0')
			return dir->kids[i];
	}
	return NULL;
}

const struct bs_iso_node *bs_iso_lookup(const struct bs_iso *iso,
					const char *path)
{
	const struct bs_iso_node *n = iso->root;

	while (n && *path) {
		size_t len;
		while (*path == '/')
			path++;
		len = strcspn(path, "/");
		if (len == 0)
			break;
		if (!S_ISDIR(n->mode))
			return NULL;
		if (!(len == 1 && path[0] == '.'))
			n = child(n, path, len);
		path += len;
	}
	return n;
}

void bs_iso_add_file(struct bs_blob_builder *b, const struct bs_iso *iso,
		     const struct bs_iso_node *file)
{
	for (size_t i = 0; i < file->next; i++)
		bs_blob_add_source(b, iso->src, file->ext[i].off,
				   file->ext[i].len);
}

int bs_iso_slurp(const struct bs_iso *iso, const char *path, size_t max,
		 char **buf, size_t *len)
{
	const struct bs_iso_node *n = bs_iso_lookup(iso, path);
	size_t done = 0;
	char *p;

	*buf = NULL;
	*len = 0;
	if (!n)
		return -ENOENT;
	if (!S_ISREG(n->mode))
		return -EISDIR;
	if (n->size > max)
		return -EFBIG;
	if (!(p = malloc((size_t)n->size + 1)))
		return -ENOMEM;
	for (size_t i = 0; i < n->next; i++) {
		ssize_t r = bs_source_pread(iso->src, p + done,
					    (size_t)n->ext[i].len,
					    n->ext[i].off);
		if (r < 0 || (uint64_t)r != n->ext[i].len) {
			free(p);
			return r < 0 ? (int)r : -EIO;
		}
		done += (size_t)r;
	}
	p[done] = '\0';
	*buf = p;
	*len = done;
	return 0;
}
