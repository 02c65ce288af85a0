/*
 * isocache.c - keep ISO indexes across reloads, keyed by path and source
 * identity, so a reload re-reads only ISOs that changed.  A linear list:
 * catalogs of thousands of ISOs want a hash here (and the on-disk cache).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/vtree.h>

struct cached {
	char *path;
	struct bs_iso *iso;
	int used;
	struct cached *next;
};

struct bs_isocache {
	pthread_mutex_t lock;	/* protects list */
	struct cached *list;
};

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
	free(e->path);
	free(e);
}

void bs_isocache_free(struct bs_isocache *c)
{
	if (!c)
		return;
	while (c->list) {
		struct cached *e = c->list;
		c->list = e->next;
		cached_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int bs_isocache_get(struct bs_isocache *c, const char *path,
		    struct bs_iso **out, struct bs_error *err)
{
	struct bs_source_id id;
	struct bs_source *src;
	struct cached *e;
	int rc;

	*out = NULL;
	if (bs_source_stat_path(path, &id) == 0) {
		pthread_mutex_lock(&c->lock);
		for (e = c->list; e; e = e->next) {
			if (strcmp(e->path, path) == 0 &&
			    bs_source_id_equal(&e->iso->src->id, &id)) {
				e->used = 1;
				*out = bs_iso_ref(e->iso);
				break;
			}
		}
		pthread_mutex_unlock(&c->lock);
		if (*out)
			return 0;
	}
	if ((rc = bs_source_open(path, &src, err)) < 0)
		return rc;
	rc = bs_iso_open(src, out, err);
	bs_source_unref(src);
	if (rc < 0) {
		bs_error_prefix(err, "%s", path);
		return rc;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->path = strdup(path))) {
		free(e);
		return 0;	/* works, just not cached */
	}
	e->iso = bs_iso_ref(*out);
	e->used = 1;
	pthread_mutex_lock(&c->lock);
	e->next = c->list;
	c->list = e;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void bs_isocache_sweep(struct bs_isocache *c)
{
	pthread_mutex_lock(&c->lock);
	for (struct cached **pp = &c->list; *pp;) {
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
