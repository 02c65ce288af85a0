/*
 * catalog_htab.c - a small open-addressing hash index from 64-bit keys
 * to array positions, so that checking and looking up thousands of
 * entries and hosts stays linear.  Keys that are not unique (hashes of
 * names) are told apart by the caller's @eq.  No deletion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_i.h"

uint64_t bs_htab_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;	/* mix: keys like MACs differ in few bits */
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

size_t bs_htab_get(const struct bs_htab *t, uint64_t key,
		   int (*eq)(const void *ctx, size_t val), const void *ctx)
{
	if (!t->cap)
		return SIZE_MAX;
	for (size_t i = slot_of(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
		const struct bs_htab_slot *s = &t->s[i];
		if (!s->used)
			return SIZE_MAX;
		if (s->key == key && (!eq || eq(ctx, s->val)))
			return s->val;
	}
}

static void insert(struct bs_htab_slot *v, size_t cap, uint64_t key,
		   size_t val)
{
	size_t i = slot_of(key, cap);

	while (v[i].used)
		i = (i + 1) & (cap - 1);
	v[i].used = 1;
	v[i].key = key;
	v[i].val = val;
}

int bs_htab_put(struct bs_htab *t, uint64_t key, size_t val)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct bs_htab_slot *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->s[i].used)
				insert(nv, ncap, t->s[i].key, t->s[i].val);
		free(t->s);
		t->s = nv;
		t->cap = ncap;
	}
	insert(t->s, t->cap, key, val);
	t->n++;
	return 0;
}

void bs_htab_free(struct bs_htab *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}
