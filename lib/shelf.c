/*
 * shelf.c - the live snapshot: load, reload with atomic swap, and the
 * status text.  Readers take a reference under the lock and then work
 * without it; a reload builds the new tree without the lock held.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bootshelf/bootgen.h>
#include <bootshelf/isoindex.h>
#include <bootshelf/remote.h>
#include <bootshelf/vtree.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Load + build; does not touch s->cur. */
static int build(struct bs_shelf *s, struct bs_diags *d,
		 struct bs_vtree **out)
{
	struct bs_catalog *cat;
	int rc;

	*out = NULL;
	rc = bs_catalog_load(s->catalog_path, &cat, d);
	if (rc < 0)
		return rc;
	rc = bs_vtree_build(cat, s->cache, ++s->next_gen, out);
	if (rc == 0)
		bs_isocache_sweep(s->cache);
	return rc;
}

int bs_shelf_open(const char *path, struct bs_shelf **out,
		  struct bs_diags *diags)
{
	struct bs_shelf *s;
	uint64_t t0 = now_ms();
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))) ||
	    !(s->catalog_path = strdup(path)) ||
	    !(s->cache = bs_isocache_new())) {
		if (s)
			free(s->catalog_path);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->reload_lock, NULL);
	if ((rc = build(s, diags, &s->cur)) < 0) {
		bs_shelf_close(s);
		return rc;
	}
	s->stats.last_reload_ms = now_ms() - t0;
	*out = s;
	return 0;
}

void bs_shelf_tune_malloc(char **argv)
{
	if (!getenv("GLIBC_TUNABLES") &&
	    setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) == 0) {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		/* by its own path, so that its name (ps, pidof, the
		 * journal) stays the program's and not "exe" */
		if (n > 0) {
			self[n] = '\0';
			if (!strstr(self, " (deleted)"))
				execv(self, argv);
		}
		execv("/proc/self/exe", argv);
		unsetenv("GLIBC_TUNABLES");	/* go on as we are */
	}
	/* Fixed thresholds also stop glibc's own adjustment, which
	 * otherwise takes several reloads to settle. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_ARENA_MAX, 1);
}

void bs_shelf_close(struct bs_shelf *s)
{
	if (!s)
		return;
	bs_vtree_unref(s->cur);
	bs_isocache_free(s->cache);
	bs_diags_free(&s->last_diags);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->reload_lock);
	free(s->catalog_path);
	free(s);
}

int bs_shelf_reload(struct bs_shelf *s, struct bs_vtree **old)
{
	struct bs_diags d = { 0 };
	struct bs_vtree *t, *prev;
	uint64_t t0 = now_ms();
	int rc;

	if (old)
		*old = NULL;
	pthread_mutex_lock(&s->reload_lock);
	rc = build(s, &d, &t);
	pthread_mutex_unlock(&s->reload_lock);
	pthread_mutex_lock(&s->lock);
	bs_diags_free(&s->last_diags);
	s->last_diags = d;
	s->stats.reloads++;
	if (rc < 0) {
		s->stats.reload_failures++;
		s->last_failed = 1;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	s->last_failed = 0;
	prev = s->cur;
	s->cur = t;
	s->stats.last_reload_ms = now_ms() - t0;
	pthread_mutex_unlock(&s->lock);
	if (old)
		*old = prev;
	else
		bs_vtree_unref(prev);
	return 0;
}

struct bs_vtree *bs_shelf_get(struct bs_shelf *s)
{
	struct bs_vtree *t;

	pthread_mutex_lock(&s->lock);
	t = bs_vtree_ref(s->cur);
	pthread_mutex_unlock(&s->lock);
	return t;
}

int bs_shelf_poll(struct bs_shelf *s, uint64_t *wait_ms)
{
	struct bs_vtree *t = bs_shelf_get(s);
	int rc;

	/* not while a reload uses the cache's timestamps */
	pthread_mutex_lock(&s->reload_lock);
	rc = bs_isocache_poll(s->cache, t->cat, wait_ms);
	pthread_mutex_unlock(&s->reload_lock);
	bs_vtree_unref(t);
	return rc;
}

/* The remote block cache, once a remote ISO made it: shared memory
 * (memfds), so not in the daemon's resident set. */
static void status_block_cache(struct bs_text *o)
{
	struct bs_blockcache *bc = bs_remote_cache_made();
	struct bs_blockcache_stats st;

	if (!bc)
		return;
	bs_blockcache_get_stats(bc, &st);
	bs_text_add(o, "block_cache_bytes: %llu\nblock_cache_cap_bytes: %llu\n"
		    "block_cache_hits: %llu\nblock_cache_misses: %llu\n"
		    "block_cache_evictions: %llu\n",
		    (unsigned long long)st.bytes, (unsigned long long)st.cap,
		    (unsigned long long)st.hits,
		    (unsigned long long)st.misses,
		    (unsigned long long)st.evictions);
}

/*
 * What the snapshot holds in memory: its own nodes, names and generated
 * text, and the ISO indexes it uses (an index shared by two entries
 * next to each other counted once); per host and per ISO entry on
 * average.
 */
static void status_memory(struct bs_text *o, const struct bs_vtree *t)
{
	size_t idx = 0, nidx = 0;

	for (size_t i = 0; i < t->nstates; i++) {
		struct bs_iso *iso = t->states[i].iso;
		int seen = 0;
		if (!iso)
			continue;
		for (size_t j = i; j-- > 0 && j + 8 > i && !seen;)
			seen = t->states[j].iso == iso;
		if (!seen) {
			idx += bs_iso_mem(iso);
			nidx++;
		}
	}
	bs_text_add(o, "memory_tree_bytes: %zu\nmemory_index_bytes: %zu\n",
		    t->mem, idx);
	bs_text_add(o, "memory_per_host_bytes: %zu\n",
		    t->cat->nhosts ? t->mem_hosts / t->cat->nhosts : 0);
	bs_text_add(o, "memory_per_iso_bytes: %zu\n",
		    nidx ? (t->mem_entries + idx) / nidx : 0);
	status_block_cache(o);
}

char *bs_shelf_status(struct bs_shelf *s)
{
	struct bs_text o = { 0 };
	struct bs_vtree *t;
	char line[BS_ERRMSG_MAX + 64];

	pthread_mutex_lock(&s->lock);
	t = bs_vtree_ref(s->cur);
	bs_text_add(&o, "catalog: %s\ngeneration: %llu\n", s->catalog_path,
		    (unsigned long long)t->generation);
	bs_text_add(&o, "reloads: %llu\nreload_failures: %llu\n"
		    "last_reload_ms: %llu\n",
		    (unsigned long long)s->stats.reloads,
		    (unsigned long long)s->stats.reload_failures,
		    (unsigned long long)s->stats.last_reload_ms);
	bs_text_add(&o, "catalog_state: %s\n", s->last_failed ?
		    "invalid (serving the previous generation)" : "ok");
	for (size_t i = 0; i < s->last_diags.n; i++) {
		bs_diag_format(&s->last_diags.v[i], line, sizeof(line));
		bs_text_add(&o, "catalog_error: %s\n", line);
	}
	pthread_mutex_unlock(&s->lock);
	bs_text_add(&o, "nodes: %zu\nentries: %zu\nhosts: %zu\n", t->nnodes,
		    t->nstates, t->cat->nhosts);
	status_memory(&o, t);
	for (size_t i = 0; i < t->nstates; i++) {
		const struct bs_entry_state *st = &t->states[i];
		struct bs_bootline bl;

		bs_text_add(&o, "\n[%s %s]\nstate: %s\n",
			    st->entry->kind == BS_ENTRY_ISO ? "iso" : "image",
			    st->entry->name, st->ok ? "ok" : "error");
		if (st->error[0])
			bs_text_add(&o, "%s: %s\n", st->ok ? "warning" :
				    "error", st->error);
		if (!st->ok)
			continue;
		bs_text_add(&o, "family: %s (%s)\n",
			    bs_family_name(st->boot.family), st->boot.why);
		if (st->iso)
			bs_text_add(&o, "volume: %s\nsize: %llu\n",
				    st->iso->volid,
				    (unsigned long long)st->iso_size);
		if (st->ird_ok) {
			char line[512];
			bs_initrd_describe(&st->ird, line, sizeof(line));
			bs_text_add(&o, "initrd: %s\n", line);
		}
		bs_bootline_make(t->cat, st, NULL, &bl);
		bs_text_add(&o, "delivery: %s\n", bl.note);
		if (!bl.usable)
			bs_text_add(&o, "warning: no delivery mode can boot "
				    "this entry as configured\n");
	}
	bs_vtree_unref(t);
	if (o.failed) {
		bs_text_free(&o);
		return NULL;
	}
	return o.buf;
}
