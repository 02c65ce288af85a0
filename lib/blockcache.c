/*
 * blockcache.c - a size-capped LRU cache of fixed-size blocks of remote
 * objects, in memory.  One mutex guards the hash table and the LRU list;
 * reads copy out under it (a block is at most 1 MiB), so no reference
 * counting of blocks is needed.  Left out: an on-disk tier.
 *
 * Block buffers are slots of large mappings (chunks) asking for
 * transparent huge pages: the first touch of fresh memory is what a cold
 * read pays most for (one fault per 4 KiB page, very dear in a VM), and a
 * 2 MiB page makes that 512 times rarer.  Freed slots are reused first
 * (their pages are warm); a chunk goes back to the system when it empties
 * while others still have room.  While the cache grows, a thread that
 * would wait anyway (a reader waiting for a fetch) can have the kernel
 * populate the next slots (bs_blockcache_prepare), so the thread filling
 * them does not stop to have pages zeroed.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bootshelf/remote.h>

#include "blockcache_i.h"

struct chunk;

/* A slot's header sits in the page before its data (data page-aligned,
 * as copies like it), so a buffer finds it. */
struct block {
	uint64_t key, idx;
	size_t len;
	struct chunk *ch;
	struct block *hnext;		/* hash chain */
	struct block *prev, *next;	/* LRU (head is most recent), or
					   the free list */
};

#define HDR	4096		/* header room before a slot's data */
_Static_assert(sizeof(struct block) <= HDR, "block header too big");

static uint8_t *bdata(struct block *b)
{
	return (uint8_t *)b + HDR;
}

struct chunk {
	struct bs_blockcache *c;	/* the owner */
	struct chunk *next;
	void *map;
	size_t maplen;
	uint8_t *base;			/* first slot */
	size_t nslots;
	size_t fresh;			/* slots [fresh, nslots) never used */
	size_t ready;			/* [fresh, ready) populated ahead */
	size_t used;			/* slots given out */
	size_t nfree;			/* of ours on the free list */
	int busy;			/* being populated: keep mapped */
};

struct bs_blockcache {
	pthread_mutex_t lock;		/* protects everything below */
	size_t block;
	size_t stride;			/* header page + block, in pages */
	uint64_t cap;
	struct block **hash;
	size_t hmask;
	struct block *head, *tail;
	struct chunk *chunks;
	struct block *free;		/* used before, now free (warm) */
	size_t nfree;
	size_t nused;			/* slots given out */
	struct bs_blockcache_stats st;
};

#define CHUNK_SLOTS	64
#define HUGE_PAGE	(2u << 20)

/* A chunk of CHUNK_SLOTS slots, huge-page aligned; only its address
 * space is taken until slots are used.  NULL on ENOMEM. */
static struct chunk *chunk_new(size_t stride)
{
	struct chunk *ch = calloc(1, sizeof(*ch));
	size_t len = CHUNK_SLOTS * stride, pad = 0;
	uintptr_t p;

	if (!ch)
		return NULL;
	len = (len + 4095) & ~(size_t)4095;
	if (len >= HUGE_PAGE)
		pad = HUGE_PAGE;
	ch->map = mmap(NULL, len + pad, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ch->map == MAP_FAILED) {
		free(ch);
		return NULL;
	}
	ch->maplen = len + pad;
	p = (uintptr_t)ch->map;
	if (pad) {
		p = (p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
		(void)madvise((void *)p, len, MADV_HUGEPAGE);
	}
	ch->base = (uint8_t *)p;
	ch->nslots = CHUNK_SLOTS;
	return ch;
}

static void chunk_free(struct chunk *ch)
{
	if (ch)
		munmap(ch->map, ch->maplen);
	free(ch);
}

static void free_unlink(struct bs_blockcache *c, struct block *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		c->free = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->ch->nfree--;
	c->nfree--;
}

/* The chunk fresh slots come from, or NULL (caller holds c->lock). */
static struct chunk *fresh_chunk(struct bs_blockcache *c)
{
	struct chunk *ch = c->chunks;

	while (ch && ch->fresh == ch->nslots)
		ch = ch->next;
	return ch;
}

/* Have the kernel populate slots [a, b) of @ch in one call rather than
 * a fault each (no lock needed: nobody else touches them yet). */
static void populate(struct bs_blockcache *c, struct chunk *ch, size_t a,
		     size_t b)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t p = (uintptr_t)(ch->base + a * c->stride);
	uintptr_t e = (uintptr_t)(ch->base + b * c->stride);

	p &= ~(uintptr_t)4095;
	(void)madvise((void *)p, e - p, MADV_POPULATE_WRITE);
#else
	(void)c; (void)ch; (void)a; (void)b;
#endif
}

/* A slot to fill (caller holds c->lock), or NULL: no chunk has room.
 * *@cold: its pages are still to be populated. */
static struct block *slot_take(struct bs_blockcache *c, int *cold)
{
	struct block *b = c->free;
	struct chunk *ch;

	*cold = 0;
	if (b) {
		free_unlink(c, b);
	} else {
		if (!(ch = fresh_chunk(c)))
			return NULL;
		*cold = ch->fresh >= ch->ready;
		b = (struct block *)(ch->base + ch->fresh++ * c->stride);
		if (ch->ready < ch->fresh)
			ch->ready = ch->fresh;
		b->ch = ch;
	}
	b->ch->used++;
	c->nused++;
	b->len = 0;
	b->prev = b->next = b->hnext = NULL;
	return b;
}

/* Give a slot back (caller holds c->lock); a chunk left empty while
 * others have room goes back to the system. */
static void slot_put(struct bs_blockcache *c, struct block *b)
{
	struct chunk *ch = b->ch, **pp;

	ch->used--;
	c->nused--;
	if (ch->used == 0 && !ch->busy &&
	    c->nfree - ch->nfree >= CHUNK_SLOTS / 4) {
		while (ch->nfree) {
			struct block *f = c->free;
			while (f->ch != ch)
				f = f->next;
			free_unlink(c, f);
		}
		for (pp = &c->chunks; *pp != ch; pp = &(*pp)->next)
			;
		*pp = ch->next;
		chunk_free(ch);
		return;
	}
	b->prev = NULL;
	b->next = c->free;
	if (c->free)
		c->free->prev = b;
	c->free = b;
	ch->nfree++;
	c->nfree++;
}

/* Map a new chunk and add it (caller holds c->lock, dropped while
 * mapping).  0 or -ENOMEM. */
static int chunk_add(struct bs_blockcache *c)
{
	struct chunk *ch;

	pthread_mutex_unlock(&c->lock);
	ch = chunk_new(c->stride);
	pthread_mutex_lock(&c->lock);
	if (!ch)
		return -ENOMEM;
	ch->c = c;
	ch->next = c->chunks;
	c->chunks = ch;
	return 0;
}

/* A slot with its pages present, or NULL on ENOMEM.  Takes and drops
 * c->lock: the slot is the caller's alone. */
static struct block *slot_get(struct bs_blockcache *c)
{
	struct block *b;
	int cold;

	pthread_mutex_lock(&c->lock);
	while (!(b = slot_take(c, &cold)))
		if (chunk_add(c) < 0)
			break;
	pthread_mutex_unlock(&c->lock);
	if (b && cold) {
		size_t i = (size_t)((uint8_t *)b - b->ch->base) / c->stride;

		populate(c, b->ch, i, i + 1);
	}
	return b;
}

size_t bs_blockcache_prepare(struct bs_blockcache *c, size_t ahead,
			     size_t step)
{
	size_t have, limit, want, a, b;
	struct chunk *ch;

	pthread_mutex_lock(&c->lock);
	ch = fresh_chunk(c);
	have = c->nfree + (ch ? ch->ready - ch->fresh : 0);
	/* fresh slots are needed only until the cache is full */
	limit = (size_t)(c->cap / c->block) + ahead;
	want = ahead > have ? ahead - have : 0;
	if (limit < c->nused + have + want)
		want = limit > c->nused + have ? limit - c->nused - have : 0;
	if (want > step)
		want = step;
	if (want && !ch && chunk_add(c) == 0)
		ch = fresh_chunk(c);
	if (!want || !ch) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	a = ch->ready;
	b = a + want < ch->nslots ? a + want : ch->nslots;
	ch->ready = b;
	ch->busy++;
	pthread_mutex_unlock(&c->lock);
	populate(c, ch, a, b);
	pthread_mutex_lock(&c->lock);
	ch->busy--;
	pthread_mutex_unlock(&c->lock);
	return b - a;
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
	c->stride = HDR + ((block + 4095) & ~(size_t)4095);
	c->cap = cap;
	c->hmask = nb - 1;
	return c;
}

void bs_blockcache_free(struct bs_blockcache *c)
{
	if (!c)
		return;
	for (struct chunk *ch = c->chunks, *n; ch; ch = n) {
		n = ch->next;
		chunk_free(ch);
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

/* Unlink from hash and LRU and give the slot back. */
static void drop(struct bs_blockcache *c, struct block *b)
{
	struct block **pp = &c->hash[slot(c, b->key, b->idx)];

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	lru_unlink(c, b);
	c->st.bytes -= b->len;
	c->st.blocks--;
	slot_put(c, b);
}

int bs_blockcache_read(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		       void *buf, size_t in, size_t len)
{
	struct block *b;
	int hit = 0;

	pthread_mutex_lock(&c->lock);
	b = find(c, key, idx);
	if (b && in <= b->len && len <= b->len - in) {
		memcpy(buf, bdata(b) + in, len);
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

/* Insert @b (a slot taken) under its key and index (caller holds
 * c->lock). */
static void insert(struct bs_blockcache *c, struct block *b)
{
	struct block *old;
	size_t s;

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
}

int bs_blockcache_put(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		      const void *data, size_t len)
{
	struct block *b;

	if (len > c->block)
		return -EINVAL;
	if (!(b = slot_get(c)))
		return -ENOMEM;
	memcpy(bdata(b), data, len);
	b->key = key;
	b->idx = idx;
	b->len = len;
	pthread_mutex_lock(&c->lock);
	insert(c, b);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void *bs_blockcache_buf_new(struct bs_blockcache *c)
{
	struct block *b = slot_get(c);

	return b ? bdata(b) : NULL;
}

static struct block *buf_block(void *buf)
{
	return (struct block *)((uint8_t *)buf - HDR);
}

void bs_blockcache_buf_free(void *buf)
{
	struct bs_blockcache *c;

	if (!buf)
		return;
	c = buf_block(buf)->ch->c;
	pthread_mutex_lock(&c->lock);
	slot_put(c, buf_block(buf));
	pthread_mutex_unlock(&c->lock);
}

int bs_blockcache_put_buf(struct bs_blockcache *c, uint64_t key,
			  uint64_t idx, void *buf, size_t len)
{
	struct block *b = buf_block(buf);

	pthread_mutex_lock(&c->lock);
	if (len > c->block) {
		slot_put(c, b);
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	b->key = key;
	b->idx = idx;
	b->len = len;
	insert(c, b);
	pthread_mutex_unlock(&c->lock);
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
