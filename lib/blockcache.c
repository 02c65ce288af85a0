/*
 * blockcache.c - a size-capped LRU cache of fixed-size blocks of remote
 * objects.  One mutex guards the hash table, the LRU list and the slots;
 * data is copied in and out with pwrite/pread outside it, under a pin.
 *
 * The bytes live in memfds (one slot of a file per block), written by
 * the kernel (pwrite from the fetch buffer) and read by it (pread, or a
 * splice to a reader), so a fresh page is never first touched from user
 * space: fresh anonymous memory cost more than the network for a cold
 * read (zeroing every page, and on virtual machines whose host builds
 * user mappings lazily, a fault in the host per page), while a
 * full-page write to a memfd needs no zeroing at all.  A splice from the
 * memfd also lets bootshelf-fs answer a READ with no copy through its own
 * memory.  Freed slots are reused first (their pages are
 * already there); slots beyond the cap's worth are punched out.  Blocks
 * read again are copied through a read-only mapping of the files (see
 * copy_out()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bootshelf/remote.h>

/* One slot of a memfd and the block it holds. */
struct bs_block {
	uint64_t key, idx;
	size_t len;
	size_t slot;			/* see slot_fd(), slot_off() */
	struct bs_block *hnext;		/* hash chain */
	struct bs_block *prev, *next;	/* LRU (head most recent); next
					   also links the free lists */
	int pins;			/* readers copying out of it */
	unsigned cached : 1;		/* in the hash table and LRU */
	unsigned held : 1;		/* a filler owns it */
	unsigned backed : 1;		/* its pages are in the file */
	unsigned touched : 1;		/* read through the mapping */
	size_t rd;			/* bytes of its block read so far */
};

#define NFILES	4		/* slot s is in file s % NFILES */
#define RESERVE	(64ull << 30)	/* address space kept for each file */

struct bs_blockcache {
	pthread_mutex_t lock;		/* protects everything below */
	int fd[NFILES];			/* memfds: writers of one file
					   take turns, so several */
	size_t block;
	uint64_t cap;
	struct bs_block **hash;
	size_t hmask;
	struct bs_block *head, *tail;
	struct bs_block **slots;	/* every slot made, by number */
	size_t nslots, slotcap;
	uint64_t filesize;		/* of each memfd */
	uint8_t *map[NFILES];		/* each file mapped read-only in a
					   reservation of RESERVE bytes */
	uint64_t mapped;		/* bytes of each file mapped */
	struct bs_block *free;		/* free slots with their pages */
	struct bs_block *holes;		/* free slots punched out */
	size_t nbacked;			/* backed slots in all */
	struct bs_blockcache_stats st;
};

/* Slots kept backed beyond the cap's worth, for fetches in flight. */
#define SLACK_SLOTS	16

static size_t hslot(const struct bs_blockcache *c, uint64_t key,
		    uint64_t idx)
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
	for (int i = 0; i < NFILES; i++)
		c->fd[i] = -1;
	for (int i = 0; i < NFILES; i++)
		if ((c->fd[i] = memfd_create("bootshelf-blocks",
					     MFD_CLOEXEC)) < 0)
			break;
	if (c->fd[NFILES - 1] < 0 ||
	    !(c->hash = calloc(nb, sizeof(*c->hash)))) {
		for (int i = 0; i < NFILES; i++)
			if (c->fd[i] >= 0)
				close(c->fd[i]);
		free(c);
		return NULL;
	}
	for (int i = 0; i < NFILES; i++) {
		void *m = mmap(NULL, RESERVE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			       0);
		c->map[i] = m == MAP_FAILED ? NULL : m;
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
	for (size_t i = 0; i < c->nslots; i++)
		free(c->slots[i]);
	free(c->slots);
	for (int i = 0; i < NFILES; i++) {
		close(c->fd[i]);
		if (c->map[i])
			munmap(c->map[i], RESERVE);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->hash);
	free(c);
}

size_t bs_blockcache_block(const struct bs_blockcache *c)
{
	return c->block;
}

static int slot_fd(const struct bs_blockcache *c, const struct bs_block *b)
{
	return c->fd[b->slot % NFILES];
}

static uint64_t slot_off(const struct bs_blockcache *c,
			 const struct bs_block *b)
{
	return (uint64_t)(b->slot / NFILES) * c->block;
}

/* Free slots: backed ones (pages in place) are taken before holes. */
static void free_push(struct bs_blockcache *c, struct bs_block *b)
{
	struct bs_block **list = b->backed ? &c->free : &c->holes;

	b->prev = NULL;
	b->next = *list;
	*list = b;
}

/* Back to the free list once nobody has it (caller holds c->lock);
 * beyond the cap's worth its pages go back to the system. */
static void maybe_release(struct bs_blockcache *c, struct bs_block *b)
{
	if (b->cached || b->held || b->pins)
		return;
	if (b->backed && c->nbacked > c->cap / c->block + SLACK_SLOTS &&
	    fallocate(slot_fd(c, b), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)slot_off(c, b), (off_t)c->block) == 0) {
		b->backed = 0;
		c->nbacked--;
	}
	b->len = 0;
	free_push(c, b);
}

/* Map what the files grew by into their reservations (caller holds
 * c->lock); where that fails, reads go on with pread. */
static void map_more(struct bs_blockcache *c)
{
	uint64_t to = c->filesize < RESERVE ? c->filesize : RESERVE;

	if (to <= c->mapped)
		return;
	for (int i = 0; i < NFILES; i++)
		if (!c->map[i] ||
		    mmap(c->map[i] + c->mapped, (size_t)(to - c->mapped),
			 PROT_READ, MAP_SHARED | MAP_FIXED, c->fd[i],
			 (off_t)c->mapped) == MAP_FAILED)
			return;
	c->mapped = to;
}

/* A slot for a filler (caller holds c->lock), or NULL on ENOMEM. */
static struct bs_block *slot_take(struct bs_blockcache *c)
{
	struct bs_block *b = c->free ? c->free : c->holes;

	if (b) {
		if (b == c->free)
			c->free = b->next;
		else
			c->holes = b->next;
	} else {
		uint64_t end = (uint64_t)(c->nslots / NFILES + 1) * c->block;

		if (c->nslots == c->slotcap) {
			size_t n = c->slotcap ? c->slotcap * 2 : 64;
			struct bs_block **s = realloc(c->slots,
						      n * sizeof(*s));
			if (!s)
				return NULL;
			c->slots = s;
			c->slotcap = n;
		}
		/* the files grow by 16 slots at a time; only written
		 * pages take memory */
		if (end > c->filesize) {
			uint64_t sz = end + 15 * (uint64_t)c->block;

			for (int i = 0; i < NFILES; i++)
				if (ftruncate(c->fd[i], (off_t)sz) < 0)
					return NULL;
			c->filesize = sz;
			map_more(c);
		}
		if (!(b = calloc(1, sizeof(*b))))
			return NULL;
		b->slot = c->nslots;
		c->slots[c->nslots++] = b;
	}
	if (!b->backed) {
		b->backed = 1;	/* as soon as it is written */
		c->nbacked++;
	}
	b->prev = b->next = b->hnext = NULL;
	b->len = 0;
	b->held = 1;
	b->rd = 0;
	return b;
}

static struct bs_block *find(struct bs_blockcache *c, uint64_t key,
			     uint64_t idx)
{
	for (struct bs_block *b = c->hash[hslot(c, key, idx)]; b;
	     b = b->hnext)
		if (b->key == key && b->idx == idx)
			return b;
	return NULL;
}

static void lru_unlink(struct bs_blockcache *c, struct bs_block *b)
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

static void lru_push(struct bs_blockcache *c, struct bs_block *b)
{
	b->prev = NULL;
	b->next = c->head;
	if (c->head)
		c->head->prev = b;
	c->head = b;
	if (!c->tail)
		c->tail = b;
}

/* Out of the cache; the slot is reused once no reader has it pinned. */
static void drop(struct bs_blockcache *c, struct bs_block *b)
{
	struct bs_block **pp = &c->hash[hslot(c, b->key, b->idx)];

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	b->hnext = NULL;
	lru_unlink(c, b);
	c->st.bytes -= b->len;
	c->st.blocks--;
	b->cached = 0;
	maybe_release(c, b);
}

/* Insert held slot @b under its key and index (caller holds c->lock). */
static void insert(struct bs_blockcache *c, struct bs_block *b)
{
	struct bs_block *old;
	size_t s;

	if ((old = find(c, b->key, b->idx)))
		drop(c, old);
	s = hslot(c, b->key, b->idx);
	b->hnext = c->hash[s];
	c->hash[s] = b;
	b->held = 0;
	b->cached = 1;
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

/* @p for [in, in+len) of pinned @b. */
static void piece(const struct bs_blockcache *c, struct bs_block *b,
		  size_t in, size_t len, struct bs_piece *p)
{
	p->fd = slot_fd(c, b);
	p->off = slot_off(c, b) + in;
	p->len = len;
	p->pin = b;
}

/* Block (key, idx) if it holds [in, in+len), pinned and made the most
 * recently used, or NULL (caller holds c->lock). */
static struct bs_block *find_pin(struct bs_blockcache *c, uint64_t key,
				 uint64_t idx, size_t in, size_t len)
{
	struct bs_block *b = find(c, key, idx);

	if (!b || in > b->len || len > b->len - in) {
		c->st.misses++;
		return NULL;
	}
	b->pins++;
	lru_unlink(c, b);
	lru_push(c, b);
	c->st.hits++;
	return b;
}

int bs_blockcache_pin(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		      size_t in, size_t len, struct bs_piece *p)
{
	struct bs_block *b;

	pthread_mutex_lock(&c->lock);
	b = find_pin(c, key, idx, in, len);
	pthread_mutex_unlock(&c->lock);
	if (b)
		piece(c, b, in, len, p);
	return b != NULL;
}

void bs_blockcache_pin_slot(struct bs_blockcache *c, struct bs_block *b,
			    size_t in, size_t len, struct bs_piece *p)
{
	pthread_mutex_lock(&c->lock);
	b->pins++;
	pthread_mutex_unlock(&c->lock);
	piece(c, b, in, len, p);
}

void bs_blockcache_unpin(struct bs_blockcache *c, struct bs_block *b)
{
	pthread_mutex_lock(&c->lock);
	b->pins--;
	maybe_release(c, b);
	pthread_mutex_unlock(&c->lock);
}

/* pread/pwrite all of it; 0 or -errno (the memfd never ends early). */
static int io_all(int fd, void *buf, size_t len, uint64_t off, int wr)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = wr ? pwrite(fd, (const char *)buf + done,
					len - done, (off_t)(off + done)) :
				 pread(fd, (char *)buf + done, len - done,
				       (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * How to copy [in, in+len) out of pinned @b (caller holds c->lock):
 * through the mapping (1) once its slot's pages were touched there or
 * the block is read again, a block's worth of bytes read before (from
 * then on a plain copy, the cheapest), else with pread (0).  The first
 * touch of a page through a mapping is what costs most, and a block read
 * once, as a stream reads it, never needs it.
 */
static int via_map(struct bs_blockcache *c, struct bs_block *b, size_t in,
		   size_t len)
{
	int map = slot_off(c, b) + in + len <= c->mapped &&
		  (b->touched || b->rd >= c->block);

	b->rd += len;
	if (map)
		b->touched = 1;
	return map;
}

/* Copy out of pinned @b, as via_map() chose: 0 or -errno. */
static int copy_out(struct bs_blockcache *c, struct bs_block *b, size_t in,
		    void *buf, size_t len, int map)
{
	uint64_t off = slot_off(c, b) + in;

	if (!map)
		return io_all(slot_fd(c, b), buf, len, off, 0);
	memcpy(buf, c->map[b->slot % NFILES] + off, len);
	return 0;
}

int bs_blockcache_read(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		       void *buf, size_t in, size_t len)
{
	struct bs_block *b;
	int map = 0, rc;

	pthread_mutex_lock(&c->lock);
	if ((b = find_pin(c, key, idx, in, len)))
		map = via_map(c, b, in, len);
	pthread_mutex_unlock(&c->lock);
	if (!b)
		return 0;
	rc = copy_out(c, b, in, buf, len, map);
	bs_blockcache_unpin(c, b);
	return rc == 0;
}

int bs_blockcache_has(struct bs_blockcache *c, uint64_t key, uint64_t idx)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = find(c, key, idx) != NULL;
	pthread_mutex_unlock(&c->lock);
	return r;
}

struct bs_block *bs_blockcache_slot_new(struct bs_blockcache *c)
{
	struct bs_block *b;

	pthread_mutex_lock(&c->lock);
	b = slot_take(c);
	pthread_mutex_unlock(&c->lock);
	return b;
}

int bs_blockcache_slot_write(struct bs_blockcache *c, struct bs_block *b,
			     size_t in, const void *data, size_t len)
{
	if (in > c->block || len > c->block - in)
		return -EINVAL;
	return io_all(slot_fd(c, b), (void *)(uintptr_t)data, len,
		      slot_off(c, b) + in, 1);
}

int bs_blockcache_slot_read(struct bs_blockcache *c, struct bs_block *b,
			    size_t in, void *buf, size_t len)
{
	int map;

	if (in > c->block || len > c->block - in)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	map = via_map(c, b, in, len);
	pthread_mutex_unlock(&c->lock);
	return copy_out(c, b, in, buf, len, map);
}

void bs_blockcache_slot_free(struct bs_blockcache *c, struct bs_block *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&c->lock);
	b->held = 0;
	maybe_release(c, b);
	pthread_mutex_unlock(&c->lock);
}

int bs_blockcache_put_slot(struct bs_blockcache *c, uint64_t key,
			   uint64_t idx, struct bs_block *b, size_t len)
{
	if (len > c->block) {
		bs_blockcache_slot_free(c, b);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	b->key = key;
	b->idx = idx;
	b->len = len;
	insert(c, b);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int bs_blockcache_put(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		      const void *data, size_t len)
{
	struct bs_block *b;
	int rc;

	if (len > c->block)
		return -EINVAL;
	if (!(b = bs_blockcache_slot_new(c)))
		return -ENOMEM;
	if ((rc = bs_blockcache_slot_write(c, b, 0, data, len)) < 0) {
		bs_blockcache_slot_free(c, b);
		return rc;
	}
	return bs_blockcache_put_slot(c, key, idx, b, len);
}

void bs_blockcache_get_stats(struct bs_blockcache *c,
			     struct bs_blockcache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	st->cap = c->cap;
	pthread_mutex_unlock(&c->lock);
}

uint64_t bs_blockcache_cap(const struct bs_blockcache *c)
{
	return __atomic_load_n(&c->cap, __ATOMIC_RELAXED);
}

void bs_blockcache_set_cap(struct bs_blockcache *c, uint64_t cap)
{
	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->cap, cap < c->block ? c->block : cap,
			 __ATOMIC_RELAXED);
	while (c->st.bytes > c->cap && c->tail) {
		drop(c, c->tail);
		c->st.evictions++;
	}
	pthread_mutex_unlock(&c->lock);
}
