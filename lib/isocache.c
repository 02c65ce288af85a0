/*
 * isocache.c - keep ISO indexes (and what detection found in them)
 * across reloads and restarts, keyed by path or URL and source identity,
 * so a reload re-reads only ISOs that changed and a restart none.
 *
 * In memory: a hash table by path/URL.  A local file's identity is a
 * stat(2); a remote object's a HEAD request, skipped while the entry's
 * refresh interval has not passed since the last one (unless a read
 * found the object replaced).  On disk: one
 * zstd file per path/URL (isocache_disk.c) with the inspection of the
 * ISO's initrds (so a restart reads no initrd either) under [server] cache
 * (default /var/cache/bootshelf, "none" disables); a directory that
 * cannot be written means no disk cache, logged once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bootshelf/log.h>
#include <bootshelf/memo.h>
#include <bootshelf/remote.h>
#include <bootshelf/vtree.h>

#include "catalog_i.h"
#include "isocache_i.h"

#define DEFAULT_DIR "/var/cache/bootshelf"
#define NBUCKETS 1024

struct cached {
	char *key;		/* path or URL */
	struct bs_iso *iso;
	struct bs_bootinfo boot;
	int have_boot;		/* boot was detected */
	uint64_t checked_ms;	/* last identity check (monotonic) */
	int used;
	struct cached *next;
};

struct bs_isocache {
	pthread_mutex_t lock;	/* protects the table and dir */
	struct cached *tab[NBUCKETS];
	char *dir;		/* disk cache directory or NULL (none) */
	int disk_failed;	/* first failure logged */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t bucket(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h % NBUCKETS);
}

struct bs_isocache *bs_isocache_new(void)
{
	struct bs_isocache *c = calloc(1, sizeof(*c));
	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void cached_free(struct cached *e)
{
	bs_iso_unref(e->iso);
	free(e->key);
	free(e);
}

void bs_isocache_free(struct bs_isocache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (c->tab[i]) {
			struct cached *e = c->tab[i];
			c->tab[i] = e->next;
			cached_free(e);
		}
	free(c->dir);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The entry for @key (caller holds the lock). */
static struct cached *find(struct bs_isocache *c, const char *key)
{
	for (struct cached *e = c->tab[bucket(key)]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

/* Remember @iso under @key, replacing an older version. */
static void remember(struct bs_isocache *c, const char *key,
		     struct bs_iso *iso, const struct bs_bootinfo *boot)
{
	struct cached *e, **pp;

	if (!c)
		return;
	if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
		free(e);
		return;		/* works, just not cached */
	}
	e->iso = bs_iso_ref(iso);
	if (boot) {
		e->boot = *boot;
		e->have_boot = 1;
	}
	e->checked_ms = now_ms();
	e->used = 1;
	pthread_mutex_lock(&c->lock);
	for (pp = &c->tab[bucket(key)]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->key, key)) {
			struct cached *old = *pp;
			*pp = old->next;
			cached_free(old);
			break;
		}
	e->next = c->tab[bucket(key)];
	c->tab[bucket(key)] = e;
	pthread_mutex_unlock(&c->lock);
}

void bs_isocache_sweep(struct bs_isocache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct cached **pp = &c->tab[i]; *pp;) {
			struct cached *e = *pp;
			if (!e->used) {
				*pp = e->next;
				cached_free(e);
			} else {
				e->used = 0;
				pp = &e->next;
			}
		}
	pthread_mutex_unlock(&c->lock);
}

int bs_isocache_poll(struct bs_isocache *c, const struct bs_catalog *cat,
		     uint64_t *wait_ms)
{
	uint64_t next = 0;
	int changed = 0;

	for (size_t i = 0; i < cat->nentries; i++) {
		const struct bs_cat_entry *e = &cat->entries[i];
		uint64_t refresh = (uint64_t)bs_catalog_refresh_ms(cat, e);
		uint64_t now = now_ms(), at = 0, left;
		struct bs_source *src = NULL;
		struct bs_source_id id;
		struct cached *ce;

		if (!e->url || !refresh)
			continue;
		pthread_mutex_lock(&c->lock);
		if ((ce = find(c, e->url)) && ce->have_boot) {
			at = ce->checked_ms;
			if (now - at >= refresh)
				src = bs_source_ref(ce->iso->src);
		}
		pthread_mutex_unlock(&c->lock);
		if (!ce) {
			/* not indexed (the server was down at the last
			 * reload): a reload tries again */
			changed = 1;
			left = refresh;
		} else if (!src) {
			left = at + refresh - now;
		} else {
			/* HEAD: the same version still? */
			int rc = bs_source_stat_fd(src, &id);
			int gone = bs_remote_stale(src) ||
				   (rc == 0 && !bs_source_id_equal(&id,
								   &src->id));
			pthread_mutex_lock(&c->lock);
			if ((ce = find(c, e->url)) && ce->iso->src == src)
				/* changed: the reload must ask again */
				ce->checked_ms = gone ? 0 : now_ms();
			pthread_mutex_unlock(&c->lock);
			bs_source_unref(src);
			changed |= gone;
			left = refresh;
		}
		if (!next || left < next)
			next = left;
	}
	*wait_ms = next;
	return changed;
}

/* Remote options from the catalog's [server] keys. */
static void remote_opts(const struct bs_catalog *cat,
			struct bs_remote_opts *o)
{
	const struct bs_cat_remote *r = bs_catalog_remote(cat);
	struct bs_blockcache *bc;

	bs_remote_opts_default(o);
	if (r->connect_timeout_ms > 0)
		o->connect_timeout_ms = (long)r->connect_timeout_ms;
	if (r->timeout_ms > 0)
		o->timeout_ms = (long)r->timeout_ms;
	o->s3_region = r->s3_region;
	o->s3_endpoint = r->s3_endpoint;
	o->s3_credentials = r->s3_credentials;
	if (r->cache_size && (bc = bs_remote_cache()))
		bs_blockcache_set_cap(bc, r->cache_size);
}

/* Take the disk cache directory from the catalog.  Caller holds lock. */
static void set_dir(struct bs_isocache *c, const struct bs_catalog *cat)
{
	const char *d = bs_catalog_remote(cat)->cache_dir;

	if (!d)
		d = DEFAULT_DIR;
	if (!strcmp(d, "none"))
		d = NULL;
	if ((!d && !c->dir) || (d && c->dir && !strcmp(d, c->dir)))
		return;
	free(c->dir);
	c->dir = d ? strdup(d) : NULL;
	c->disk_failed = 0;
}

/*
 * Inspect the initrds of a new index now (it is in the memo for the tree
 * that follows), so the disk cache keeps the result with the index.  A
 * read error leaves @sc empty: the next start tries again.
 */
static void scan_of(const struct bs_iso *iso, const struct bs_bootinfo *bi,
		    struct bs_idx_scan *sc)
{
	sc->have = 0;
	if (!bi->ninitrd)
		return;
	memset(&sc->err, 0, sizeof(sc->err));
	sc->rc = bs_memo_initrd(iso, bi, &sc->ird, &sc->err);
	sc->have = sc->rc != -EIO && sc->rc != -ENOMEM;
}

static void disk_store(struct bs_isocache *c, const char *key,
		       const struct bs_iso *iso, const struct bs_bootinfo *bi,
		       const struct bs_idx_scan *scan)
{
	char *dir = NULL;
	int rc, first;

	pthread_mutex_lock(&c->lock);
	if (c->dir && !c->disk_failed)
		dir = strdup(c->dir);
	pthread_mutex_unlock(&c->lock);
	if (!dir || (rc = bs_idx_store(dir, key, iso, bi, scan)) == 0) {
		free(dir);
		return;
	}
	pthread_mutex_lock(&c->lock);
	first = !c->disk_failed;
	c->disk_failed = 1;
	pthread_mutex_unlock(&c->lock);
	/* a full or read-only disk only costs speed: say so once.  The
	 * entry was written to a temporary name and renamed into place
	 * only when complete, so nothing half-written is left to load. */
	if (first)
		bs_warn("index cache %s: %s; running without it", dir,
			strerror(-rc));
	free(dir);
}

int bs_isocache_open(struct bs_isocache *c, const struct bs_catalog *cat,
		     const struct bs_cat_entry *e, struct bs_iso **out,
		     struct bs_bootinfo *boot, struct bs_error *err)
{
	const char *key = e->url ? e->url : e->path;
	struct bs_remote_opts o;
	struct bs_source *src = NULL;
	struct cached *ce;
	struct bs_idx_scan *scan;
	char *dir = NULL;
	uint64_t refresh = (uint64_t)bs_catalog_refresh_ms(cat, e);
	int rc;

	*out = NULL;
	memset(boot, 0, sizeof(*boot));
	if (!key)
		return bs_error_set(err, -EINVAL, "no path or url");
	remote_opts(cat, &o);
	if (c) {
		pthread_mutex_lock(&c->lock);
		set_dir(c, cat);
		/* a remote identity checked recently enough is trusted */
		if (e->url && refresh && (ce = find(c, key)) &&
		    ce->have_boot && now_ms() - ce->checked_ms < refresh &&
		    !bs_remote_stale(ce->iso->src)) {
			ce->used = 1;
			*out = bs_iso_ref(ce->iso);
			*boot = ce->boot;
		}
		pthread_mutex_unlock(&c->lock);
		if (*out)
			return 0;
	}
	/* the identity now: stat(2) of the file, or HEAD of the object */
	rc = e->url ? bs_source_open_url(e->url, &o, &src, err) :
		      bs_source_open(e->path, &src, err);
	if (rc == -EIO && e->url && c) {
		/* the server is unreachable or answers badly: a reload in
		 * that moment keeps the version it knew (whose reads fail
		 * or come from the block cache) rather than dropping the
		 * entry from every menu */
		pthread_mutex_lock(&c->lock);
		if ((ce = find(c, key)) && ce->have_boot) {
			ce->used = 1;
			*out = bs_iso_ref(ce->iso);
			*boot = ce->boot;
		}
		pthread_mutex_unlock(&c->lock);
		if (*out) {
			bs_warn("%s; keeping the version known before",
				err->msg);
			return 0;
		}
	}
	if (rc < 0)
		return rc;
	if (c) {
		pthread_mutex_lock(&c->lock);
		if ((ce = find(c, key)) && ce->have_boot &&
		    bs_source_id_equal(&ce->iso->src->id, &src->id)) {
			ce->used = 1;
			ce->checked_ms = now_ms();
			*out = bs_iso_ref(ce->iso);
			*boot = ce->boot;
		}
		if (c->dir)
			dir = strdup(c->dir);
		pthread_mutex_unlock(&c->lock);
		if (*out) {
			bs_source_unref(src);
			free(dir);
			return 0;
		}
	}
	/* big for a stack: the initrd inspection kept with the index */
	scan = c ? calloc(1, sizeof(*scan)) : NULL;
	if (dir && scan &&
	    bs_idx_load(dir, key, src, out, boot, scan) == 0) {
		free(dir);
		bs_source_unref(src);
		if (scan->have) {
			/* the initrds need not be read again */
			bs_memo_initrd_put(*out, boot, scan->rc, &scan->ird,
					   &scan->err);
		} else if (boot->ninitrd) {
			scan_of(*out, boot, scan);
			if (scan->have)
				disk_store(c, key, *out, boot, scan);
		}
		free(scan);
		remember(c, key, *out, boot);
		return 0;
	}
	free(dir);
	rc = bs_iso_open(src, out, err);
	bs_source_unref(src);
	if (rc < 0) {
		free(scan);
		bs_error_prefix(err, "%s", key);
		return rc;
	}
	bs_detect(*out, boot);
	if (c) {
		if (scan)
			scan_of(*out, boot, scan);
		disk_store(c, key, *out, boot, scan);
		remember(c, key, *out, boot);
	}
	free(scan);
	return 0;
}
