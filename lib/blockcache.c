/*
 * blockcache.c - a size-capped LRU cache of fixed-size blocks of remote
 * objects, in memory.  One mutex guards the hash table and the LRU list;
 * reads copy out under it (a block is at most 1 MiB), so no reference
 * counting of blocks is needed.  Left out: an on-disk tier.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bootshelf/remote.h>

struct block {
	uint64_t key, idx;
	size_t len;
	size_t cap;			/* bytes allocated for data */
	size_t mapped;			/* bytes mmap'ed, 0: malloc'ed */
	struct block *hnext;		/* hash chain */
	struct block *prev, *next;	/* LRU: head is most recent */
	uint8_t data[];
};

struct bs_blockcache {
	pthread_mutex_t lock;		/* protects everything below */
	size_t block;
	uint64_t cap;
	struct block **hash;
	size_t hmask;
	struct block *head, *tail;
	struct block *spare;		/* evicted full blocks for reuse */
	size_t nspare;
	struct bs_blockcache_stats st;
};

/* Evicted blocks kept for reuse: a cold sequential read through a full
 * cache then touches no fresh pages (page faults cost as much as the
 * copy itself). */
#define SPARE_MAX 16

/*
 * A full-size block buffer: mapped with its pages populated in one system
 * call, since faulting in a fresh 1 MiB page by page costs as much as the
 * network read that fills it.  malloc when mmap fails.
 */
static struct block *block_alloc(size_t block)
{
	size_t sz = (sizeof(struct block) + block + 4095) & ~(size_t)4095;
	struct block *b = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			       -1, 0);

	if (b == MAP_FAILED) {
		if (!(b = malloc(sizeof(*b) + block)))
			return NULL;
		sz = 0;
	}
	b->cap = block;
	b->mapped = sz;
	return b;
}

static void block_free(struct block *b)
{
	if (b && b->mapped)
		munmap(b, b->mapped);
	else
		free(b);
}

static size_t slot(const struct bs_blockcache *c, uint64_t key, uint64_t idx)
{
	uint64_t h = key ^ (idx * 0x9e3779b97f4a7c15ULL);

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (size_t)h & c->hmask;
}

struct bs_blockcache *bs_blockcache_new(size_t block, uint64_t cap)
{
	struct bs_blockcache *c;
	uint64_t nblocks;
	size_t nb = 64;

	if (block == 0)
		return NULL;
	if (cap < block)
		cap = block;
	nblocks = cap / block;
	while (nb < nblocks * 2 && nb < (1u << 24))
		nb *= 2;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	if (!(c->hash = calloc(nb, sizeof(*c->hash)))) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->block = block;
	c->cap = cap;
	c->hmask = nb - 1;
	return c;
}

void bs_blockcache_free(struct bs_blockcache *c)
{
	if (!c)
		return;
	for (struct block *b = c->head, *n; b; b = n) {
		n = b->next;
		block_free(b);
	}
	for (struct block *b = c->spare, *n; b; b = n) {
		n = b->next;
		block_free(b);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->hash);
	free(c);
}

size_t bs_blockcache_block(const struct bs_blockcache *c)
{
	return c->block;
}

static struct block *find(struct bs_blockcache *c, uint64_t key,
			  uint64_t idx)
{
	for (struct block *b = c->hash[slot(c, key, idx)]; b; b = b->hnext)
		if (b->key == key && b->idx == idx)
			return b;
	return NULL;
}

static void lru_unlink(struct bs_blockcache *c, struct block *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		c->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		c->tail = b->prev;
	b->prev = b->next = NULL;
}

static void lru_push(struct bs_blockcache *c, struct block *b)
{
	b->prev = NULL;
	b->next = c->head;
	if (c->head)
		c->head->prev = b;
	c->head = b;
	if (!c->tail)
		c->tail = b;
}

/* Unlink from hash and LRU and free (or keep as a spare). */
static void drop(struct bs_blockcache *c, struct block *b)
{
	struct block **pp = &c->hash[slot(c, b->key, b->idx)];

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	lru_unlink(c, b);
	c->st.bytes -= b->len;
	c->st.blocks--;
	if (b->cap == c->block && c->nspare < SPARE_MAX) {
		b->next = c->spare;
		c->spare = b;
		c->nspare++;
	} else {
		block_free(b);
	}
}

int bs_blockcache_read(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		       void *buf, size_t in, size_t len)
{
	struct block *b;
	int hit = 0;

	pthread_mutex_lock(&c->lock);
	b = find(c, key, idx);
	if (b && in <= b->len && len <= b->len - in) {
		memcpy(buf, b->data + in, len);
		lru_unlink(c, b);
		lru_push(c, b);
		hit = 1;
		c->st.hits++;
	} else {
		c->st.misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

int bs_blockcache_has(struct bs_blockcache *c, uint64_t key, uint64_t idx)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = find(c, key, idx) != NULL;
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Insert @b (owned) under its key and index. */
static void insert(struct bs_blockcache *c, struct block *b)
{
	struct block *old;
	size_t s;

	pthread_mutex_lock(&c->lock);
	if ((old = find(c, b->key, b->idx)))
		drop(c, old);
	s = slot(c, b->key, b->idx);
	b->hnext = c->hash[s];
	c->hash[s] = b;
	lru_push(c, b);
	c->st.bytes += b->len;
	c->st.blocks++;
	c->st.inserts++;
	/* never evict the block just added */
	while (c->st.bytes > c->cap && c->tail != b) {
		drop(c, c->tail);
		c->st.evictions++;
	}
	pthread_mutex_unlock(&c->lock);
}

int bs_blockcache_put(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		      const void *data, size_t len)
{
	struct block *b;

	if (len > c->block)
		return -EINVAL;
	/* allocated outside the lock: malloc of 1 MiB may mmap */
	if (!(b = malloc(sizeof(*b) + len)))
		return -ENOMEM;
	b->cap = len;
	b->mapped = 0;
	memcpy(b->data, data, len);
	b->key = key;
	b->idx = idx;
	b->len = len;
	insert(c, b);
	return 0;
}

void *bs_blockcache_buf_new(struct bs_blockcache *c)
{
	struct block *b;

	pthread_mutex_lock(&c->lock);
	if ((b = c->spare)) {
		c->spare = b->next;
		c->nspare--;
	}
	pthread_mutex_unlock(&c->lock);
	if (!b)
		b = block_alloc(c->block);
	return b ? b->data : NULL;
}

static struct block *buf_block(void *buf)
{
	return (struct block *)((uint8_t *)buf - offsetof(struct block, data));
}

void bs_blockcache_buf_free(void *buf)
{
	if (buf)
		block_free(buf_block(buf));
}

int bs_blockcache_put_buf(struct bs_blockcache *c, uint64_t key,
			  uint64_t idx, void *buf, size_t len)
{
	struct block *b = buf_block(buf);

	if (len > c->block) {
		block_free(b);
		return -EINVAL;
	}
	b->key = key;
	b->idx = idx;
	b->len = len;
	insert(c, b);
	return 0;
}

void bs_blockcache_get_stats(struct bs_blockcache *c,
			     struct bs_blockcache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	pthread_mutex_unlock(&c->lock);
}

void bs_blockcache_set_cap(struct bs_blockcache *c, uint64_t cap)
{
	pthread_mutex_lock(&c->lock);
	c->cap = cap < c->block ? c->block : cap;
	while (c->st.bytes > c->cap && c->tail) {
		drop(c, c->tail);
		c->st.evictions++;
	}
	pthread_mutex_unlock(&c->lock);
}
