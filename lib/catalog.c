/*
 * catalog.c - what the catalog's sections and keys mean: builds a
 * struct bs_catalog from the raw sections of one or more files (main
 * file, then drop-ins), checks every value and every cross reference,
 * and reports each problem with FILE:LINE.  Also the catalog's
 * destructor and look-ups.
 *
 * Left out: reading files (catalog_load.c), INI syntax (catalog_ini.c),
 * whether ISO files exist (the tree builder reports that).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "catalog_i.h"

enum sect_type { S_SERVER, S_MENU, S_ISO, S_IMAGE, S_HOST };
static const char *const sect_names[] = { "server", "menu", "iso", "image",
					  "host", NULL };

enum vkind {
	V_TEXT,		/* anything printable */
	V_WORD,		/* no white space */
	V_ABS,		/* absolute local path */
	V_URL,		/* http:// or https:// */
	V_NFS,		/* HOST:/path */
	V_IFNAME,	/* network interface name */
	V_REF,		/* entry name, checked once everything is read */
	V_DELIVERY, V_AOE, V_SHA256, V_TIMEOUT,
	V_OBJURL,	/* http://, https:// or s3://BUCKET/KEY */
	V_DURATION,	/* int64_t ms: "500ms", "30s", "5m", "1h", "0" */
	V_XDURATION,	/* the same, kept in the entry's struct bs_cat_ext */
	V_SIZE,		/* uint64_t bytes: "512K", "64M", "2G" */
	V_CACHEDIR,	/* absolute path or "none" */
};

struct keydef {
	const char *key;
	enum vkind kind;
	size_t off;		/* of the char * (or int) in the target */
	int empty_ok;
};

/* The catalog as allocated here: the public part and its indexes.  Every
 * struct bs_catalog comes from bs_catalog_build(), so it is one of these. */
struct cat_priv {
	struct bs_catalog pub;	/* first */
	struct bs_htab names;	/* entry name -> position in entries */
	struct bs_htab macs;	/* MAC -> position in hosts */
	struct bs_cat_remote remote;	/* [server] remote/cache keys */
	struct bs_cat_ext *ext;	/* parallel to pub.entries */
};

#define E(f) offsetof(struct bs_cat_entry, f)
#define H(f) offsetof(struct bs_cat_host, f)
#define C(f) offsetof(struct bs_catalog, f)
/* [server] remote settings live in the private part of the catalog,
 * which starts with the public one. */
#define R(f) offsetof(struct cat_priv, remote.f)
#define X(f) offsetof(struct bs_cat_ext, f)
static const struct keydef iso_keys[] = {
	{ "path", V_ABS, E(path), 0 },	{ "url", V_OBJURL, E(url), 0 },
	{ "refresh", V_XDURATION, X(refresh_ms), 0 },
	{ "label", V_TEXT, E(label), 1 },
	{ "delivery", V_DELIVERY, E(delivery), 0 },
	{ "append", V_TEXT, E(append), 1 },
	{ "aoe", V_AOE, E(aoe_shelf), 0 },
	{ "aoe_mask", V_TEXT, E(aoe_mask), 0 },
	{ "sha256", V_SHA256, E(sha256), 0 },
	{ "kernel", V_TEXT, E(kernel), 0 },
	{ "initrd", V_TEXT, E(initrd), 0 },
	{ NULL, 0, 0, 0 },
};
static const struct keydef image_keys[] = {
	{ "kernel", V_ABS, E(kernel), 0 }, { "initrd", V_ABS, E(initrd), 0 },
	{ "image", V_ABS, E(image), 0 },   { "label", V_TEXT, E(label), 1 },
	{ "append", V_TEXT, E(append), 1 },
	{ NULL, 0, 0, 0 },
};
static const struct keydef host_keys[] = {
	{ "boot", V_REF, H(boot), 0 },	{ "append", V_TEXT, H(append), 1 },
	{ "label", V_TEXT, H(label), 1 },
	{ "ip", V_WORD, H(ip), 0 },
	{ NULL, 0, 0, 0 },
};
static const struct keydef server_keys[] = {
	{ "address", V_WORD, C(server.address), 0 },
	{ "http", V_URL, C(server.http), 0 },
	{ "nfs", V_NFS, C(server.nfs), 0 },
	{ "tftp", V_WORD, C(server.tftp), 0 },
	{ "aoe_interface", V_IFNAME, C(server.aoe_interface), 0 },
	{ "cache", V_CACHEDIR, R(cache_dir), 0 },
	{ "cache_size", V_SIZE, R(cache_size), 0 },
	{ "connect_timeout", V_DURATION, R(connect_timeout_ms), 0 },
	{ "timeout", V_DURATION, R(timeout_ms), 0 },
	{ "refresh", V_DURATION, R(refresh_ms), 0 },
	{ "s3_region", V_WORD, R(s3_region), 0 },
	{ "s3_endpoint", V_URL, R(s3_endpoint), 0 },
	{ "s3_credentials", V_ABS, R(s3_credentials), 0 },
	{ NULL, 0, 0, 0 },
};
static const struct keydef menu_keys[] = {
	{ "title", V_TEXT, C(menu.title), 1 },
	{ "timeout", V_TIMEOUT, C(menu.timeout), 0 },
	{ "default", V_REF, C(menu.def), 0 },
	{ NULL, 0, 0, 0 },
};
#undef E
#undef H
#undef C
#undef R
#undef X


static uint64_t mac_key(const uint8_t mac[6])
{
	uint64_t k = 0;

	for (int i = 0; i < 6; i++)
		k = k << 8 | mac[i];
	return k;
}

/* State of one build.  File names are borrowed from the sources. */
struct build {
	struct bs_catalog *cat;
	struct cat_priv *priv;	/* the same object */
	struct bs_htab aoe;	/* shelf << 8 | slot -> position in entries */
	struct bs_diags *d;
	const char *file;	/* file being read */
	int oom;
	const char *server_file, *menu_file;
	int server_line, menu_line;
	int def_line;		/* [menu] default */
	const char *def_file;
	int *boot_line;		/* per host: line of its boot key */
	size_t boot_cap;
};

#define ERR(b, line, ...) \
	bs_diags_add((b)->d, BS_DIAG_ERROR, (b)->file, (line), __VA_ARGS__)
#define WARN(b, line, ...) \
	bs_diags_add((b)->d, BS_DIAG_WARNING, (b)->file, (line), __VA_ARGS__)

static char *bdup(struct build *b, const char *s)
{
	char *v = strdup(s);

	if (!v)
		b->oom = 1;
	return v;
}

static int all_digits(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "SHELF.SLOT", shelf 0..65534, slot 0..254 (65535 and 255 are the AoE
 * broadcast values). */
static int parse_aoe(const char *v, int *shelf, int *slot)
{
	char buf[16];
	char *dot;

	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, v);
	dot = strchr(buf, '.');
	if (!dot)
		return -EINVAL;
	*dot = '\0';
	if (!all_digits(buf, 5) || !all_digits(dot + 1, 3))
		return -EINVAL;
	*shelf = atoi(buf);
	*slot = atoi(dot + 1);
	if (*shelf > 65534 || *slot > 254)
		return -EINVAL;
	return 0;
}

static int has_space(const char *v)
{
	return strpbrk(v, " \t\v\f\r") != NULL;
}

int bs_parse_duration_ms(const char *s, int64_t *ms)
{
	static const struct { const char *suf; int64_t mul; } u[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > 1000000000ull)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (!strcmp(end, u[i].suf)) {
			*ms = (int64_t)v * u[i].mul;
			return 0;
		}
	return -EINVAL;
}

int bs_parse_size(const char *s, uint64_t *bytes)
{
	static const char suf[] = "KMGT";
	const char *p;
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		if (!(p = strchr(suf, end[0] & ~0x20)) || !end[0] ||
		    (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
			return -EINVAL;
		shift = 10 * (int)(p - suf + 1);
	}
	if (v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

/* Check @v for @k and store it at @base + k->off.  0 or -EINVAL. */
static int set_value(struct build *b, const struct keydef *k, char *base,
		     const char *v, int line)
{
	char **sp = (char **)(base + k->off);
	int *ip = (int *)(base + k->off);

	for (const char *p = v; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			ERR(b, line, "control character in value of '%s'",
			    k->key);
			return -EINVAL;
		}
	if (!*v && !k->empty_ok) {
		ERR(b, line, "empty value for '%s'", k->key);
		return -EINVAL;
	}
	switch (k->kind) {
	case V_WORD:
		if (has_space(v)) {
			ERR(b, line, "'%s' must not contain spaces", k->key);
			return -EINVAL;
		}
		break;
	case V_ABS:
		if (v[0] != '/') {
			ERR(b, line, "'%s' must be an absolute path, not "
			    "'%.64s'", k->key, v);
			return -EINVAL;
		}
		break;
	case V_URL:
		if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
		    has_space(v)) {
			ERR(b, line, "'%s' must be an http:// or https:// "
			    "URL, not '%.64s'", k->key, v);
			return -EINVAL;
		}
		break;
	case V_NFS: {
		const char *c = strstr(v, ":/");
		if (!c || c == v || has_space(v)) {
			ERR(b, line, "'%s' must be HOST:/export/path, not "
			    "'%.64s'", k->key, v);
			return -EINVAL;
		}
		break;
	}
	case V_IFNAME:
		if (strlen(v) > 15 || strchr(v, '/') || has_space(v) ||
		    !strcmp(v, ".") || !strcmp(v, "..")) {
			ERR(b, line, "'%.64s' is not a network interface name",
			    v);
			return -EINVAL;
		}
		break;
	case V_DELIVERY:
		if (bs_delivery_parse(v, (enum bs_delivery *)ip)) {
			ERR(b, line, "unknown delivery '%.64s' (expected "
			    "auto, cpio, http, nfs, aoe or sanboot)", v);
			return -EINVAL;
		}
		return 0;
	case V_AOE: {
		int shelf, slot;
		if (parse_aoe(v, &shelf, &slot)) {
			ERR(b, line, "bad aoe '%.64s' (expected SHELF.SLOT, "
			    "shelf 0-65534, slot 0-254)", v);
			return -EINVAL;
		}
		ip[0] = shelf;	/* aoe_shelf, then aoe_slot */
		ip[1] = slot;
		return 0;
	}
	case V_TIMEOUT:
		if (!all_digits(v, 5) || atoi(v) > 36000) {
			ERR(b, line, "bad timeout '%.64s' (tenths of a "
			    "second, 0-36000)", v);
			return -EINVAL;
		}
		*ip = atoi(v);
		return 0;
	case V_SHA256:
		if (strlen(v) != 64 || strspn(v, "0123456789abcdefABCDEF")
					   != 64) {
			ERR(b, line, "sha256 must be 64 hex digits");
			return -EINVAL;
		}
		break;
	case V_OBJURL:
		if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8) &&
		     strncmp(v, "s3://", 5)) || has_space(v)) {
			ERR(b, line, "'%s' must be an http://, https:// or "
			    "s3://BUCKET/KEY URL, not '%.64s'", k->key, v);
			return -EINVAL;
		}
		break;
	case V_DURATION:
	case V_XDURATION:
		if (bs_parse_duration_ms(v, (int64_t *)(base + k->off))) {
			ERR(b, line, "bad duration '%.64s' for '%s' (e.g. "
			    "500ms, 30s, 5m, 1h)", v, k->key);
			return -EINVAL;
		}
		return 0;
	case V_SIZE:
		if (bs_parse_size(v, (uint64_t *)(base + k->off))) {
			ERR(b, line, "bad size '%.64s' for '%s' (e.g. 512M, "
			    "2G)", v, k->key);
			return -EINVAL;
		}
		return 0;
	case V_CACHEDIR:
		if (v[0] != '/' && strcmp(v, "none")) {
			ERR(b, line, "'%s' must be an absolute path or "
			    "'none', not '%.64s'", k->key, v);
			return -EINVAL;
		}
		break;
	case V_TEXT:
	case V_REF:
		break;
	}
	free(*sp);
	*sp = bdup(b, v);
	if (*sp && k->kind == V_SHA256)
		for (char *p = *sp; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
	return 0;
}

static void add_extra(struct build *b, struct bs_kv **v, size_t *n,
		      const struct bs_ini_kv *kv)
{
	struct bs_kv *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv) {
		b->oom = 1;
		return;
	}
	*v = nv;
	nv[*n].key = bdup(b, kv->key);
	nv[*n].value = bdup(b, kv->value);
	(*n)++;
}

/* Apply every key of @sec; pass-through keys go to @extra if given. */
static void apply_keys(struct build *b, const struct bs_ini_sect *sec,
		       const struct keydef *keys, char *base, char *xbase,
		       struct bs_kv **extra, size_t *nextra)
{
	const char *names[32];
	size_t nk = 0;

	for (const struct keydef *k = keys; k->key; k++)
		names[nk++] = k->key;
	names[nk] = NULL;
	for (size_t i = 0; i < sec->nkv; i++) {
		const struct bs_ini_kv *kv = &sec->kv[i];
		const struct keydef *k;
		const char *sug;
		size_t j;

		if (!kv->key[0]) {
			ERR(b, kv->line, "missing key name before '='");
			continue;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(sec->kv[j].key, kv->key))
				break;
		if (j < i) {
			ERR(b, kv->line, "duplicate key '%.64s' (first at "
			    "line %d)", kv->key, sec->kv[j].line);
			continue;
		}
		for (k = keys; k->key && strcmp(k->key, kv->key); k++)
			;
		if (k->key) {
			set_value(b, k, k->kind == V_XDURATION ? xbase : base,
				  kv->value, kv->line);
			continue;
		}
		if (extra && bs_cat_passthrough_key(kv->key)) {
			add_extra(b, extra, nextra, kv);
			continue;
		}
		sug = bs_cat_suggest(kv->key, names);
		if (sug)
			ERR(b, kv->line, "unknown key '%.64s'; did you mean "
			    "'%s'?", kv->key, sug);
		else
			ERR(b, kv->line, "unknown key '%.64s'%s", kv->key,
			    bs_cat_passthrough_key(kv->key) ?
			    " (upper-case pass-through keys belong in "
			    "[image] and [host])" : "");
	}
}

struct name_ctx {
	const struct bs_catalog *cat;
	const char *name;
};

static int name_eq(const void *ctx, size_t val)
{
	const struct name_ctx *c = ctx;

	return !strcmp(c->cat->entries[val].name, c->name);
}

static struct bs_cat_entry *find_entry(struct bs_catalog *cat,
				       const char *name)
{
	const struct cat_priv *p = (const struct cat_priv *)cat;
	struct name_ctx c = { cat, name };
	size_t i = bs_htab_get(&p->names, bs_htab_hash_str(name), name_eq,
			       &c);

	return i == SIZE_MAX ? NULL : &cat->entries[i];
}

/* Line of the first @key of @sec, or 0. */
static int has_key(const struct bs_ini_sect *sec, const char *key)
{
	for (size_t i = 0; i < sec->nkv; i++)
		if (!strcmp(sec->kv[i].key, key))
			return sec->kv[i].line;
	return 0;
}

/* Checks of a whole [iso]; a key with a bad value was reported already,
 * so presence is judged by the keys written, not by the values kept. */
static void check_iso(struct build *b, const struct bs_ini_sect *sec,
		      struct bs_cat_entry *e)
{
	int path = has_key(sec, "path"), url = has_key(sec, "url");

	if (!path && !url)
		ERR(b, e->line, "[iso %s] needs 'path' or 'url'", e->name);
	if (path && url)
		ERR(b, e->line, "[iso %s] has both 'path' and 'url'; keep "
		    "one", e->name);
	if (e->delivery == BS_DELIVERY_AOE && !has_key(sec, "aoe"))
		ERR(b, e->line, "[iso %s] has delivery = aoe but no 'aoe = "
		    "SHELF.SLOT'", e->name);
	if (e->aoe_mask) {
		char tmp[1024], *save = NULL, *tok;
		uint8_t mac[6];

		if (e->aoe_shelf < 0)
			ERR(b, has_key(sec, "aoe_mask"), "[iso %s] has "
			    "aoe_mask but no 'aoe = SHELF.SLOT'", e->name);
		snprintf(tmp, sizeof(tmp), "%s", e->aoe_mask);
		for (tok = strtok_r(tmp, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save))
			if (bs_mac_parse(tok, mac) < 0)
				ERR(b, has_key(sec, "aoe_mask"), "aoe_mask: "
				    "'%s' is not a MAC address", tok);
	}
	if (e->aoe_shelf < 0)
		return;
	uint64_t key = (uint64_t)e->aoe_shelf << 8 | (uint64_t)e->aoe_slot;
	size_t i = bs_htab_get(&b->aoe, key, NULL, NULL);
	if (i != SIZE_MAX) {
		struct bs_cat_entry *o = &b->cat->entries[i];
		ERR(b, has_key(sec, "aoe"), "aoe %d.%d of [iso %s] is already "
		    "used by [iso %s] at %s:%d", e->aoe_shelf, e->aoe_slot,
		    e->name, o->name, o->file, o->line);
	} else if (bs_htab_put(&b->aoe, key, (size_t)(e - b->cat->entries))) {
		b->oom = 1;
	}
}

static void check_image(struct build *b, const struct bs_ini_sect *sec,
			struct bs_cat_entry *e)
{
	static const char *const need[] = { "kernel", "initrd", "image" };

	for (size_t i = 0; i < 3; i++)
		if (!has_key(sec, need[i]))
			ERR(b, e->line, "[image %s] needs '%s'", e->name,
			    need[i]);
}

static void do_entry(struct build *b, const struct bs_ini_sect *sec,
		     enum sect_type t, const char *name)
{
	struct bs_catalog *cat = b->cat;
	struct bs_cat_entry *e, *nv;
	const char *tn = sect_names[t];

	if (!bs_name_valid(name)) {
		ERR(b, sec->line, "bad entry name '%.64s' in [%s] (1-%d of "
		    "A-Z a-z 0-9 . _ -, not starting with . or -)", name, tn,
		    BS_NAME_MAX - 1);
		return;
	}
	e = find_entry(cat, name);
	if (e) {
		const char *ot = e->kind == BS_ENTRY_ISO ? "iso" : "image";
		if (!strcmp(ot, tn))
			ERR(b, sec->line, "duplicate section [%s %s] (first "
			    "at %s:%d)", tn, name, e->file, e->line);
		else
			ERR(b, sec->line, "name '%s' is already used by [%s "
			    "%s] at %s:%d", name, ot, name, e->file, e->line);
		return;
	}
	nv = realloc(cat->entries, (cat->nentries + 1) * sizeof(*nv));
	if (!nv) {
		b->oom = 1;
		return;
	}
	cat->entries = nv;
	struct bs_cat_ext *xv = realloc(b->priv->ext, (cat->nentries + 1) *
					sizeof(*xv));
	if (!xv) {
		b->oom = 1;
		return;
	}
	b->priv->ext = xv;
	xv[cat->nentries].refresh_ms = -1;
	e = &nv[cat->nentries++];
	memset(e, 0, sizeof(*e));
	e->kind = t == S_ISO ? BS_ENTRY_ISO : BS_ENTRY_IMAGE;
	e->aoe_shelf = e->aoe_slot = -1;
	e->name = bdup(b, name);
	e->file = bdup(b, b->file);
	e->line = sec->line;
	if (!e->name || !e->file ||
	    bs_htab_put(&b->priv->names, bs_htab_hash_str(name),
			cat->nentries - 1)) {
		/* keep the list free of NULL names for find_entry() */
		free(e->name);
		free(e->file);
		cat->nentries--;
		b->oom = 1;
		return;
	}
	if (t == S_ISO) {
		apply_keys(b, sec, iso_keys, (char *)e,
			   (char *)&b->priv->ext[e - cat->entries], NULL,
			   NULL);
		check_iso(b, sec, e);
	} else {
		apply_keys(b, sec, image_keys, (char *)e, NULL, &e->extra,
			   &e->nextra);
		check_image(b, sec, e);
	}
}

static void do_host(struct build *b, const struct bs_ini_sect *sec,
		    const char *name)
{
	struct bs_catalog *cat = b->cat;
	struct bs_cat_host *h, *nv;
	uint8_t mac[6];
	char ms[18];

	if (bs_mac_parse(name, mac)) {
		ERR(b, sec->line, "bad MAC address '%.64s' in [host] "
		    "(expected e.g. 52:54:00:12:34:56)", name);
		return;
	}
	bs_mac_format(mac, ms);
	h = (struct bs_cat_host *)bs_catalog_find_host(cat, mac);
	if (h) {
		ERR(b, sec->line, "duplicate section [host %s] (first at "
		    "%s:%d)", ms, h->file, h->line);
		return;
	}
	/* hosts and their boot lines grow together, doubling: catalogs
	 * have thousands */
	if (cat->nhosts == b->boot_cap) {
		size_t ncap = b->boot_cap ? b->boot_cap * 2 : 8;
		int *bl = realloc(b->boot_line, ncap * sizeof(*bl));
		if (!bl) {
			b->oom = 1;
			return;
		}
		b->boot_line = bl;
		nv = realloc(cat->hosts, ncap * sizeof(*nv));
		if (!nv) {
			b->oom = 1;
			return;
		}
		cat->hosts = nv;
		b->boot_cap = ncap;
	}
	h = &cat->hosts[cat->nhosts];
	memset(h, 0, sizeof(*h));
	memcpy(h->mac, mac, 6);
	h->file = bdup(b, b->file);
	if (!h->file || bs_htab_put(&b->priv->macs, mac_key(mac),
				    cat->nhosts)) {
		free(h->file);
		b->oom = 1;
		return;
	}
	h->line = sec->line;
	b->boot_line[cat->nhosts++] = sec->line;
	apply_keys(b, sec, host_keys, (char *)h, NULL, &h->extra,
		   &h->nextra);
	for (size_t i = 0; i < sec->nkv; i++)
		if (!strcmp(sec->kv[i].key, "boot")) {
			b->boot_line[cat->nhosts - 1] = sec->kv[i].line;
			break;
		}
	if (!has_key(sec, "boot"))
		ERR(b, sec->line, "[host %s] needs 'boot'", ms);
	if (h->ip) {
		struct in_addr a;
		if (inet_pton(AF_INET, h->ip, &a) != 1)
			ERR(b, has_key(sec, "ip"), "[host %s] ip: '%s' is not "
			    "an IPv4 address", ms, h->ip);
	}
}

/* [server] and [menu]: at most one of each in the whole catalog. */
static void do_single(struct build *b, const struct bs_ini_sect *sec,
		      enum sect_type t, const char *name)
{
	const char **file = t == S_SERVER ? &b->server_file : &b->menu_file;
	int *line = t == S_SERVER ? &b->server_line : &b->menu_line;

	if (*name) {
		ERR(b, sec->line, "[%s] takes no name", sect_names[t]);
		return;
	}
	if (*file) {
		ERR(b, sec->line, "duplicate section [%s] (first at %s:%d)",
		    sect_names[t], *file, *line);
		return;
	}
	*file = b->file;
	*line = sec->line;
	if (!sec->nkv)
		WARN(b, sec->line, "empty section [%s]", sect_names[t]);
	apply_keys(b, sec, t == S_SERVER ? server_keys : menu_keys,
		   (char *)b->cat, NULL, NULL, NULL);
	if (t == S_MENU)
		for (size_t i = 0; i < sec->nkv; i++)
			if (!strcmp(sec->kv[i].key, "default")) {
				b->def_line = sec->kv[i].line;
				b->def_file = b->file;
				break;
			}
}

static void do_section(struct build *b, const struct bs_ini_sect *sec)
{
	char *buf = bdup(b, sec->header), *type, *name;
	const char *sug;
	size_t t;

	if (!buf)
		return;
	bs_ini_split_header(buf, &type, &name);
	for (t = 0; sect_names[t] && strcmp(sect_names[t], type); t++)
		;
	if (!sect_names[t]) {
		sug = bs_cat_suggest(type, sect_names);
		if (sug)
			ERR(b, sec->line, "unknown section type '%.64s'; did "
			    "you mean '%s'?", type, sug);
		else
			ERR(b, sec->line, "unknown section type '%.64s' "
			    "(expected server, menu, iso, image or host)",
			    type);
	} else if (t == S_SERVER || t == S_MENU) {
		do_single(b, sec, (enum sect_type)t, name);
	} else if (!*name) {
		ERR(b, sec->line, "[%s] needs a %s", type,
		    t == S_HOST ? "MAC address" : "name");
	} else if (t == S_HOST) {
		do_host(b, sec, name);
	} else {
		do_entry(b, sec, (enum sect_type)t, name);
	}
	free(buf);
}

/* Checks that need the whole catalog: references and server settings. */
static void cross_check(struct build *b)
{
	struct bs_catalog *cat = b->cat;

	if (cat->menu.def && !find_entry(cat, cat->menu.def)) {
		b->file = b->def_file;
		ERR(b, b->def_line, "default '%.64s': no such entry",
		    cat->menu.def);
	}
	for (size_t i = 0; i < cat->nhosts; i++) {
		struct bs_cat_host *h = &cat->hosts[i];
		if (h->boot && !find_entry(cat, h->boot)) {
			b->file = h->file;
			ERR(b, b->boot_line[i], "boot '%.64s': no such entry",
			    h->boot);
		}
	}
	for (size_t i = 0; i < cat->nentries; i++) {
		struct bs_cat_entry *e = &cat->entries[i];
		b->file = e->file;
		if (e->delivery == BS_DELIVERY_HTTP && !cat->server.http)
			WARN(b, e->line, "[iso %s] has delivery = http but "
			     "[server] has no 'http'", e->name);
		if (e->delivery == BS_DELIVERY_NFS && !cat->server.nfs)
			WARN(b, e->line, "[iso %s] has delivery = nfs but "
			     "[server] has no 'nfs'", e->name);
	}
	if (!cat->menu.title)
		cat->menu.title = bdup(b, "bootshelf");
}

int bs_catalog_build(const char *path, const struct bs_cat_src *src,
		     size_t nsrc, struct bs_catalog **out,
		     struct bs_diags *d)
{
	struct bs_diags local = { 0 };
	struct build b = { .d = d ? d : &local };
	size_t nerr0 = b.d->nerrors;
	int ret = 0;

	*out = NULL;
	b.priv = calloc(1, sizeof(*b.priv));
	if (!b.priv)
		return -ENOMEM;
	b.cat = &b.priv->pub;
	b.cat->menu.timeout = 50;
	b.priv->remote.connect_timeout_ms = -1;
	b.priv->remote.timeout_ms = -1;
	b.priv->remote.refresh_ms = -1;
	b.cat->path = bdup(&b, path);
	for (size_t i = 0; i < nsrc && !b.oom; i++) {
		struct bs_ini ini = { 0 };
		b.file = src[i].file;
		if (bs_ini_read(src[i].file, src[i].text, src[i].len, &ini,
				b.d))
			b.oom = 1;
		for (size_t j = 0; j < ini.n && !b.oom; j++)
			do_section(&b, &ini.s[j]);
		bs_ini_free(&ini);
	}
	if (!b.oom)
		cross_check(&b);
	free(b.boot_line);
	bs_htab_free(&b.aoe);
	if (b.oom)
		ret = -ENOMEM;
	else if (b.d->nerrors > nerr0)
		ret = -EINVAL;
	if (ret)
		bs_catalog_free(b.cat);
	else
		*out = b.cat;
	bs_diags_free(&local);
	return ret;
}

int bs_catalog_parse(const char *name, const char *text, size_t len,
		     struct bs_catalog **out, struct bs_diags *diags)
{
	struct bs_cat_src src = { name, text, len };

	return bs_catalog_build(name, &src, 1, out, diags);
}

static void free_kvs(struct bs_kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void bs_catalog_free(struct bs_catalog *cat)
{
	if (!cat)
		return;
	for (size_t i = 0; i < cat->nentries; i++) {
		struct bs_cat_entry *e = &cat->entries[i];
		free(e->name);
		free(e->path);
		free(e->url);
		free(e->label);
		free(e->append);
		free(e->sha256);
		free(e->kernel);
		free(e->initrd);
		free(e->image);
		free(e->aoe_mask);
		free_kvs(e->extra, e->nextra);
		free(e->file);
	}
	free(cat->entries);
	for (size_t i = 0; i < cat->nhosts; i++) {
		struct bs_cat_host *h = &cat->hosts[i];
		free(h->boot);
		free(h->append);
		free(h->label);
		free(h->ip);
		free_kvs(h->extra, h->nextra);
		free(h->file);
	}
	free(cat->hosts);
	free(cat->server.address);
	free(cat->server.http);
	free(cat->server.nfs);
	free(cat->server.tftp);
	free(cat->server.aoe_interface);
	free(cat->menu.title);
	free(cat->menu.def);
	free(cat->path);
	free(((struct cat_priv *)cat)->remote.cache_dir);
	free(((struct cat_priv *)cat)->remote.s3_region);
	free(((struct cat_priv *)cat)->remote.s3_endpoint);
	free(((struct cat_priv *)cat)->remote.s3_credentials);
	free(((struct cat_priv *)cat)->ext);
	bs_htab_free(&((struct cat_priv *)cat)->names);
	bs_htab_free(&((struct cat_priv *)cat)->macs);
	free(cat);
}

const struct bs_cat_entry *bs_catalog_find(const struct bs_catalog *cat,
					   const char *name)
{
	return find_entry((struct bs_catalog *)cat, name);
}

const struct bs_cat_host *bs_catalog_find_host(const struct bs_catalog *cat,
					       const uint8_t mac[6])
{
	const struct cat_priv *p = (const struct cat_priv *)cat;
	size_t i = bs_htab_get(&p->macs, mac_key(mac), NULL, NULL);

	return i == SIZE_MAX ? NULL : &cat->hosts[i];
}

const struct bs_cat_remote *bs_catalog_remote(const struct bs_catalog *cat)
{
	return &((const struct cat_priv *)cat)->remote;
}

int64_t bs_catalog_refresh_ms(const struct bs_catalog *cat,
			      const struct bs_cat_entry *e)
{
	const struct cat_priv *p = (const struct cat_priv *)cat;
	int64_t r = -1;

	if (e >= cat->entries && e < cat->entries + cat->nentries)
		r = p->ext[e - cat->entries].refresh_ms;
	if (r < 0)
		r = p->remote.refresh_ms;
	return r < 0 ? 0 : r;
}
