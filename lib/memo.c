/*
 * memo.c - remember expensive per-file results (see memo.h): a hash
 * table over an LRU list, so a reload of thousands of entries looks each
 * one up without scanning the others.  The lock is not held while
 * computing, so two threads may compute the same result once each; both
 * store the same answer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/memo.h>

enum memo_kind { MEMO_DIGEST, MEMO_INITRD };

struct memo {
	struct memo *prev, *next;	/* LRU list, most recent first */
	struct memo *hnext;		/* hash chain */
	uint64_t hash;			/* of kind, id and key */
	enum memo_kind kind;
	struct bs_source_id id;
	char key[BS_MAX_INITRDS * 256 + 8];	/* algorithm or initrd list */
	int rc;
	struct bs_error err;
	char hex[BS_DIGEST_HEX_MAX];
	struct bs_initrd_info ird;
};

#define NBUCKETS 8192		/* twice BS_MEMO_MAX */

/* protected by memo_lock */
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct memo *memo_head, *memo_tail;
static struct memo *memo_tab[NBUCKETS];
static size_t memo_n;

static uint64_t memo_hash(enum memo_kind kind, const struct bs_source_id *id,
			  const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind;
	const uint64_t f[4] = { id->dev, id->ino, id->size,
				(uint64_t)id->mtime_ns };

	/* FNV-1a over the identity's fields and the key */
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 64; b += 8) {
			h ^= (f[i] >> b) & 0xff;
			h *= 0x100000001b3ULL;
		}
	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void lru_unlink(struct memo *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		memo_head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		memo_tail = m->prev;
}

static void lru_push(struct memo *m)
{
	m->prev = NULL;
	m->next = memo_head;
	if (memo_head)
		memo_head->prev = m;
	memo_head = m;
	if (!memo_tail)
		memo_tail = m;
}

/* Copy of a remembered result into @out; 1 if found. */
static int lookup(enum memo_kind kind, const struct bs_source_id *id,
		  const char *key, struct memo *out)
{
	uint64_t h = memo_hash(kind, id, key);
	struct memo *m;

	pthread_mutex_lock(&memo_lock);
	for (m = memo_tab[h % NBUCKETS]; m; m = m->hnext) {
		if (m->hash == h && m->kind == kind &&
		    bs_source_id_equal(&m->id, id) && strcmp(m->key, key) == 0) {
			lru_unlink(m);
			lru_push(m);
			*out = *m;
			break;
		}
	}
	pthread_mutex_unlock(&memo_lock);
	return m != NULL;
}

static void store(const struct memo *val)
{
	struct memo *m = malloc(sizeof(*m)), *old = NULL, **pp;

	if (!m)
		return;		/* not remembered: computed again next time */
	*m = *val;
	m->hash = memo_hash(m->kind, &m->id, m->key);
	pthread_mutex_lock(&memo_lock);
	lru_push(m);
	m->hnext = memo_tab[m->hash % NBUCKETS];
	memo_tab[m->hash % NBUCKETS] = m;
	if (++memo_n > BS_MEMO_MAX) {
		/* the least recently used goes */
		old = memo_tail;
		lru_unlink(old);
		for (pp = &memo_tab[old->hash % NBUCKETS]; *pp != old;
		     pp = &(*pp)->hnext)
			;
		*pp = old->hnext;
		memo_n--;
	}
	pthread_mutex_unlock(&memo_lock);
	free(old);
}

int bs_memo_digest(struct bs_source *src, enum bs_digest_alg alg,
		   char hex[BS_DIGEST_HEX_MAX], struct bs_error *err)
{
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	struct memo *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return bs_error_set(err, -ENOMEM, "out of memory");
	v->kind = MEMO_DIGEST;
	v->id = src->id;
	strcpy(v->key, bs_digest_name(alg));
	if (!lookup(MEMO_DIGEST, &src->id, v->key, v)) {
		bs_blob_add_source(&b, src, 0, src->id.size);
		if ((v->rc = bs_blob_finish(&b, &blob)) == 0) {
			v->rc = bs_digest_blob(blob, alg, v->hex, &v->err);
			bs_blob_unref(blob);
		}
		/* a read error may pass: only remember answers */
		if (v->rc == 0)
			store(v);
	}
	rc = v->rc;
	if (rc == 0)
		memcpy(hex, v->hex, BS_DIGEST_HEX_MAX);
	else if (err)
		*err = v->err;
	free(v);
	return rc;
}

/* The memo of @iso's initrds @bi, keyed, without a result. */
static void initrd_key(struct memo *v, const struct bs_iso *iso,
		       const struct bs_bootinfo *bi)
{
	size_t o = 0;

	v->kind = MEMO_INITRD;
	v->id = iso->src->id;
	for (size_t i = 0; i < bi->ninitrd; i++) {
		size_t l = strlen(bi->initrd[i]);
		if (o + l + 2 > sizeof(v->key))
			break;
		memcpy(v->key + o, bi->initrd[i], l);
		o += l;
		v->key[o++] = ',';
	}
	v->key[o] = '\0';
}

void bs_memo_initrd_put(const struct bs_iso *iso,
			const struct bs_bootinfo *bi, int rc,
			const struct bs_initrd_info *out,
			const struct bs_error *err)
{
	struct memo *v = calloc(1, sizeof(*v)), old;

	if (!v)
		return;		/* scanned again when asked */
	initrd_key(v, iso, bi);
	v->rc = rc;
	if (rc == 0)
		v->ird = *out;
	else if (err)
		v->err = *err;
	/* one result per key: an older one stays if there is one */
	if (!lookup(MEMO_INITRD, &v->id, v->key, &old))
		store(v);
	free(v);
}

int bs_memo_initrd(const struct bs_iso *iso, const struct bs_bootinfo *bi,
		   struct bs_initrd_info *out, struct bs_error *err)
{
	struct memo *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return bs_error_set(err, -ENOMEM, "out of memory");
	initrd_key(v, iso, bi);
	if (!lookup(MEMO_INITRD, &v->id, v->key, v)) {
		v->rc = bs_initrd_scan_iso(iso, bi, &v->ird, &v->err);
		if (v->rc != -EIO && v->rc != -ENOMEM)
			store(v);
	}
	rc = v->rc;
	*out = v->ird;
	if (rc < 0 && err)
		*err = v->err;
	free(v);
	return rc;
}
