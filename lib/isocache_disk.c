/*
 * isocache_disk.c - ISO indexes on disk, so a restart does not re-read
 * any ISO.  One file per path/URL (a changed ISO overwrites its old
 * entry, so the directory holds at most one file per catalog entry).
 *
 * File: a 32-byte header (magic, format version, raw and compressed
 * lengths, CRC-32 of the raw payload) and a zstd frame (with its own
 * checksum) of the payload: path/URL, source identity, volume facts,
 * boot information, the tree in pre-order, then the initrd inspection
 * (format 2; a flag, then its fields).  Every field is checked
 * on the way in (limits, extents inside the image, sorted names), since
 * a cache file is input like any other.  Integers are little-endian.
 *
 * Left out: eviction of entries whose ISO left the catalog (one small
 * file each; remove the directory to clear the cache).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include <bootshelf/log.h>

#include "isocache_i.h"
#include "iso9660_i.h"

#define STR_MAX 4096		/* names, targets, paths in the payload */

/* ---- writer ------------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
	if (w->oom)
		return;
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		while (cap < w->n + n)
			cap *= 2;
		uint8_t *np = realloc(w->p, cap);
		if (!np) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->n, d, n);
	w->n += n;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, 8);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, 4);
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	put_u32(w, (uint32_t)n);
	put(w, s, n);
}

static void put_node(struct wbuf *w, const struct bs_iso_node *n)
{
	put_str(w, n->name);
	put_u32(w, (uint32_t)n->mode);
	put_u64(w, n->size);
	put_u64(w, (uint64_t)n->mtime);
	if (S_ISLNK(n->mode)) {
		put_str(w, n->target);
	} else if (S_ISREG(n->mode)) {
		put_u64(w, n->next);
		for (size_t i = 0; i < n->next; i++) {
			put_u64(w, n->ext[i].off);
			put_u64(w, n->ext[i].len);
		}
	} else {
		put_u64(w, n->nkids);
		for (size_t i = 0; i < n->nkids; i++)
			put_node(w, n->kids[i]);
	}
}

static void le64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void put_scan(struct wbuf *w, const struct bs_idx_scan *sc)
{
	const struct bs_initrd_info *d = &sc->ird;
	size_t nm = d->nmember < BS_INITRD_MAX_MEMBERS ? d->nmember :
		    BS_INITRD_MAX_MEMBERS;

	put_u32(w, 1);
	put_u32(w, (uint32_t)sc->rc);
	put_str(w, sc->rc < 0 ? sc->err.msg : "");
	put_u32(w, d->features);
	put_u32(w, d->kmod_files);
	put_u32(w, d->kmod_builtin);
	put_u32(w, (uint32_t)d->have_modules);
	put_u32(w, (uint32_t)d->have_builtin_list);
	put_u32(w, d->formats);
	put_u64(w, d->nmember);
	for (size_t i = 0; i < nm; i++) {
		put_u32(w, (uint32_t)d->member[i].fmt);
		put_u64(w, d->member[i].off);
		put_u64(w, d->member[i].len);
		put_u64(w, d->member[i].out);
		put_u64(w, d->member[i].entries);
	}
	put_u64(w, d->entries);
	put_u64(w, d->skipped);
	put_u64(w, d->out_bytes);
	put_u64(w, d->size);
	put_str(w, d->kernel_error);
	put_u64(w, d->error_off);
	put_u32(w, (uint32_t)d->unterminated);
	put_str(w, d->incomplete);
}

int bs_idx_serialize(const char *key, const struct bs_iso *iso,
		     const struct bs_bootinfo *bi,
		     const struct bs_idx_scan *scan, uint8_t **out,
		     size_t *len)
{
	struct wbuf w = { 0 };
	const struct bs_source_id *id = &iso->src->id;
	uint8_t *file;
	size_t bound, clen;
	uint32_t crc;

	*out = NULL;
	put_str(&w, key);
	put_u64(&w, id->dev);
	put_u64(&w, id->ino);
	put_u64(&w, id->size);
	put_u64(&w, (uint64_t)id->mtime_ns);
	put_str(&w, iso->volid);
	put_u64(&w, iso->image_size);
	put_u64(&w, iso->nfiles);
	put_u64(&w, iso->ndirs);
	put_u32(&w, (uint32_t)iso->has_eltorito);
	put_u32(&w, (uint32_t)bi->family);
	put_str(&w, bi->kernel);
	put_u32(&w, (uint32_t)bi->ninitrd);
	for (size_t i = 0; i < bi->ninitrd; i++)
		put_str(&w, bi->initrd[i]);
	put_str(&w, bi->append);
	put_str(&w, bi->why);
	put_node(&w, iso->root);
	if (scan && scan->have)
		put_scan(&w, scan);
	else
		put_u32(&w, 0);
	if (w.oom || w.n > BS_IDX_MAX_RAW) {
		free(w.p);
		return w.oom ? -ENOMEM : -EINVAL;
	}
	bound = ZSTD_compressBound(w.n);
	if (!(file = malloc(BS_IDX_HDR + bound))) {
		free(w.p);
		return -ENOMEM;
	}
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc) {
		free(w.p);
		free(file);
		return -ENOMEM;
	}
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	clen = ZSTD_compress2(cc, file + BS_IDX_HDR, bound, w.p, w.n);
	ZSTD_freeCCtx(cc);
	crc = (uint32_t)crc32(0L, w.p, (uInt)w.n);
	free(w.p);
	if (ZSTD_isError(clen)) {
		free(file);
		return -EINVAL;
	}
	memcpy(file, BS_IDX_MAGIC, 8);
	file[8] = BS_IDX_VERSION;
	file[9] = file[10] = file[11] = 0;
	for (int i = 0; i < 4; i++)
		file[12 + i] = (uint8_t)(crc >> (8 * i));
	le64(file + 16, w.n);
	le64(file + 24, clen);
	*out = file;
	*len = BS_IDX_HDR + clen;
	return 0;
}

/* ---- reader ------------------------------------------------------------- */

struct rbuf {
	const uint8_t *p, *end;
	int bad;
	size_t nodes;
	uint64_t image_size;
};

static int get(struct rbuf *r, void *d, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		memset(d, 0, n);
		return -1;
	}
	memcpy(d, r->p, n);
	r->p += n;
	return 0;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint8_t b[8];

	get(r, b, 8);
	return get_le64(b);
}

static uint32_t get_u32(struct rbuf *r)
{
	uint8_t b[4];

	get(r, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* A string without NUL bytes, shorter than @max, into @dst. */
static int get_str_into(struct rbuf *r, char *dst, size_t max)
{
	uint32_t n = get_u32(r);

	if (r->bad || n >= max || (size_t)(r->end - r->p) < n ||
	    memchr(r->p, 0, n)) {
		r->bad = 1;
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	return 0;
}

static char *get_str(struct rbuf *r)
{
	uint32_t n = get_u32(r);
	char *s;

	if (r->bad || n >= STR_MAX || (size_t)(r->end - r->p) < n ||
	    memchr(r->p, 0, n)) {
		r->bad = 1;
		return NULL;
	}
	if (!(s = malloc(n + 1)))
		return NULL;
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	return s;
}

/* One node and its subtree; NULL on bad input (r->bad) or ENOMEM. */
static struct bs_iso_node *get_node(struct rbuf *r, int depth, int *oom)
{
	struct bs_iso_node *n;
	uint64_t cnt, total = 0;

	if (depth > BS_ISO_MAX_DEPTH || ++r->nodes > BS_ISO_MAX_NODES) {
		r->bad = 1;
		return NULL;
	}
	if (!(n = calloc(1, sizeof(*n)))) {
		*oom = 1;
		return NULL;
	}
	if (!(n->name = get_str(r)))
		goto fail;
	n->mode = (mode_t)get_u32(r);
	n->size = get_u64(r);
	n->mtime = (int64_t)get_u64(r);
	if (r->bad)
		goto fail;
	/* names of entries: no '/', not empty, not . or .. */
	if (depth > 0 && (!n->name[0] || strchr(n->name, '/') ||
			  !strcmp(n->name, ".") || !strcmp(n->name, "..")))
		goto bad;
	if (S_ISLNK(n->mode)) {
		if (!(n->target = get_str(r)))
			goto fail;
	} else if (S_ISREG(n->mode)) {
		cnt = get_u64(r);
		/* each extent takes 16 bytes of input: bounds the calloc */
		if (r->bad || cnt > (uint64_t)(r->end - r->p) / 16)
			goto bad;
		if (cnt && !(n->ext = calloc((size_t)cnt, sizeof(*n->ext))))
			goto oom;
		n->next = (size_t)cnt;
		for (size_t i = 0; i < n->next; i++) {
			n->ext[i].off = get_u64(r);
			n->ext[i].len = get_u64(r);
			if (n->ext[i].off > r->image_size ||
			    n->ext[i].len > r->image_size - n->ext[i].off)
				goto bad;
			total += n->ext[i].len;
		}
		if (r->bad || total != n->size)
			goto bad;
	} else if (S_ISDIR(n->mode)) {
		cnt = get_u64(r);
		/* a node takes at least 24 bytes of input */
		if (r->bad || cnt > (uint64_t)(r->end - r->p) / 24)
			goto bad;
		if (cnt && !(n->kids = calloc((size_t)cnt,
					      sizeof(*n->kids))))
			goto oom;
		for (size_t i = 0; i < cnt; i++) {
			if (!(n->kids[i] = get_node(r, depth + 1, oom)))
				goto fail;
			n->nkids = i + 1;
			/* lookups bisect: names must be in strcmp order */
			if (i && strcmp(n->kids[i - 1]->name,
					n->kids[i]->name) > 0)
				goto bad;
		}
	} else {
		goto bad;
	}
	return n;
oom:
	*oom = 1;
	goto fail;
bad:
	r->bad = 1;
fail:
	if (!r->bad && !*oom)
		*oom = 1;	/* get_str's malloc failed */
	bs_iso_node_free(n);
	return NULL;
}

/* The initrd inspection record (its presence flag read).  0 or -1. */
static int get_scan(struct rbuf *r, struct bs_idx_scan *sc)
{
	struct bs_initrd_info *d = &sc->ird;
	uint64_t nm;

	memset(sc, 0, sizeof(*sc));
	sc->rc = (int32_t)get_u32(r);
	get_str_into(r, sc->err.msg, sizeof(sc->err.msg));
	sc->err.code = sc->rc < 0 ? sc->rc : 0;
	d->features = get_u32(r);
	d->kmod_files = get_u32(r);
	d->kmod_builtin = get_u32(r);
	d->have_modules = get_u32(r) != 0;
	d->have_builtin_list = get_u32(r) != 0;
	d->formats = get_u32(r);
	nm = get_u64(r);
	if (r->bad || sc->rc > 0 || sc->rc < -4095 || nm > (1u << 30))
		return -1;
	d->nmember = (size_t)nm;
	if (nm > BS_INITRD_MAX_MEMBERS)
		nm = BS_INITRD_MAX_MEMBERS;
	for (size_t i = 0; i < nm; i++) {
		uint32_t fmt = get_u32(r);
		if (fmt >= BS_IRDF_COUNT)
			return -1;
		d->member[i].fmt = (enum bs_initrd_fmt)fmt;
		d->member[i].off = get_u64(r);
		d->member[i].len = get_u64(r);
		d->member[i].out = get_u64(r);
		d->member[i].entries = get_u64(r);
	}
	d->entries = get_u64(r);
	d->skipped = get_u64(r);
	d->out_bytes = get_u64(r);
	d->size = get_u64(r);
	get_str_into(r, d->kernel_error, sizeof(d->kernel_error));
	d->error_off = get_u64(r);
	d->unterminated = get_u32(r) != 0;
	get_str_into(r, d->incomplete, sizeof(d->incomplete));
	if (r->bad)
		return -1;
	sc->have = 1;
	return 0;
}

int bs_idx_deserialize(const uint8_t *buf, size_t len, const char *key,
		       struct bs_source *src, struct bs_iso **out,
		       struct bs_bootinfo *bi, struct bs_idx_scan *scan)
{
	struct bs_idx_scan sc = { 0 };
	struct rbuf r = { 0 };
	struct bs_source_id id;
	struct bs_iso *iso = NULL;
	uint8_t *raw = NULL;
	uint64_t rawlen, clen;
	uint32_t crc, fam, nini;
	char *k = NULL;
	int oom = 0, rc = -EINVAL;

	*out = NULL;
	if (scan)
		scan->have = 0;
	memset(bi, 0, sizeof(*bi));
	if (len < BS_IDX_HDR || memcmp(buf, BS_IDX_MAGIC, 8) ||
	    buf[8] != BS_IDX_VERSION || buf[9] || buf[10] || buf[11])
		return -EINVAL;
	crc = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 |
	      (uint32_t)buf[14] << 16 | (uint32_t)buf[15] << 24;
	rawlen = get_le64(buf + 16);
	clen = get_le64(buf + 24);
	if (clen != len - BS_IDX_HDR || rawlen > BS_IDX_MAX_RAW ||
	    ZSTD_getFrameContentSize(buf + BS_IDX_HDR, (size_t)clen) !=
	    rawlen)
		return -EINVAL;
	if (!(raw = malloc(rawlen ? (size_t)rawlen : 1)))
		return -ENOMEM;
	size_t got = ZSTD_decompress(raw, (size_t)rawlen, buf + BS_IDX_HDR,
				     (size_t)clen);
	if (ZSTD_isError(got) || got != rawlen ||
	    (uint32_t)crc32(0L, raw, (uInt)rawlen) != crc)
		goto out;
	r.p = raw;
	r.end = raw + rawlen;
	if (!(k = get_str(&r)))
		goto out_oom;
	id.dev = get_u64(&r);
	id.ino = get_u64(&r);
	id.size = get_u64(&r);
	id.mtime_ns = (int64_t)get_u64(&r);
	if (r.bad || (key && strcmp(k, key)) ||
	    (src && !bs_source_id_equal(&id, &src->id)))
		goto out;
	if (!(iso = calloc(1, sizeof(*iso))))
		goto out_oom;
	iso->refs = 1;
	get_str_into(&r, iso->volid, sizeof(iso->volid));
	iso->image_size = get_u64(&r);
	iso->nfiles = (size_t)get_u64(&r);
	iso->ndirs = (size_t)get_u64(&r);
	iso->has_eltorito = get_u32(&r) != 0;
	fam = get_u32(&r);
	if (r.bad || iso->image_size != id.size || fam > BS_FAM_ELTORITO)
		goto out;
	bi->family = (enum bs_family)fam;
	get_str_into(&r, bi->kernel, sizeof(bi->kernel));
	nini = get_u32(&r);
	if (nini > BS_MAX_INITRDS)
		goto out;
	bi->ninitrd = nini;
	for (uint32_t i = 0; i < nini; i++)
		get_str_into(&r, bi->initrd[i], sizeof(bi->initrd[i]));
	get_str_into(&r, bi->append, sizeof(bi->append));
	get_str_into(&r, bi->why, sizeof(bi->why));
	if (r.bad)
		goto out;
	r.image_size = iso->image_size;
	iso->root = get_node(&r, 0, &oom);
	if (oom)
		goto out_oom;
	if (!iso->root || r.bad || iso->root->name[0] ||
	    !S_ISDIR(iso->root->mode))
		goto out;
	switch (get_u32(&r)) {
	case 0:
		break;
	case 1:
		if (get_scan(&r, &sc) < 0)
			goto out;
		break;
	default:
		goto out;
	}
	if (r.bad || r.p != r.end)
		goto out;
	if (scan)
		*scan = sc;
	iso->src = bs_source_ref(src);
	*out = iso;
	iso = NULL;
	rc = 0;
	goto out;
out_oom:
	rc = -ENOMEM;
out:
	if (iso) {
		bs_iso_node_free(iso->root);
		free(iso);
	}
	if (rc < 0)
		memset(bi, 0, sizeof(*bi));
	free(k);
	free(raw);
	return rc;
}

/* ---- files -------------------------------------------------------------- */

void bs_idx_path(const char *dir, const char *key, char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = key; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, len, "%s/idx-%016llx", dir, (unsigned long long)h);
}

int bs_idx_load(const char *dir, const char *key, struct bs_source *src,
		struct bs_iso **out, struct bs_bootinfo *bi,
		struct bs_idx_scan *scan)
{
	char path[4096];
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	bs_idx_path(dir, key, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -ENOENT;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < BS_IDX_HDR || st.st_size > (off_t)BS_IDX_MAX_RAW) {
		close(fd);
		return -ENOENT;
	}
	if (!(buf = malloc((size_t)st.st_size))) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return -ENOENT;
	}
	rc = bs_idx_deserialize(buf, (size_t)n, key, src, out, bi, scan);
	free(buf);
	if (rc == -EINVAL) {
		bs_debug("index cache %s: stale or corrupt, rebuilding", path);
		return -ENOENT;
	}
	return rc;
}

int bs_idx_store(const char *dir, const char *key, const struct bs_iso *iso,
		 const struct bs_bootinfo *bi, const struct bs_idx_scan *scan)
{
	char path[4096], tmp[4200];
	uint8_t *buf;
	size_t len, done = 0;
	int fd, rc;

	if ((rc = bs_idx_serialize(key, iso, bi, scan, &buf, &len)) < 0)
		return rc;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		free(buf);
		return rc;
	}
	bs_idx_path(dir, key, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = -errno;
		free(buf);
		return rc;
	}
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		done += (size_t)n;
	}
	free(buf);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}
