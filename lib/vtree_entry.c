/*
 * vtree_entry.c - the per-entry part of the tree, boot/<name>/..., and the
 * generated config files.
 *
 * Every file here is a blob over the ISO (or the image's files): the
 * kernel and initrd in place, iso.cpio = newc header + the ISO + pad +
 * trailer, initrd+iso = initrd + zero pad to 4 + iso.cpio (what
 * livecd-iso-to-pxeboot builds, without copying).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bootshelf/bootgen.h>
#include <bootshelf/cpio.h>
#include <bootshelf/memo.h>
#include <bootshelf/vtree.h>

#include "catalog_i.h"
#include "vtree_i.h"

/* The ISO as one newc member "<name>.iso", then TRAILER!!!. */
static void add_iso_cpio(struct bs_blob_builder *b, struct bs_source *src,
			 const char *name)
{
	uint8_t hdr[BS_CPIO_HDR + BS_NAME_MAX + 8];
	char member[BS_NAME_MAX + 8];
	uint64_t size = src->id.size;
	size_t n;

	snprintf(member, sizeof(member), "%s.iso", name);
	n = bs_cpio_header(hdr, member, 0100444, size, 1,
			   (uint32_t)(src->id.mtime_ns / 1000000000LL));
	bs_blob_add_bytes(b, hdr, n);
	bs_blob_add_source(b, src, 0, size);
	bs_blob_add_zero(b, bs_cpio_pad(size));
	n = bs_cpio_header(hdr, "TRAILER!!!", 0, 0, 0, 0);
	bs_blob_add_bytes(b, hdr, n);
}

/* A file made of @b, dated like the source it comes from. */
static int finish_file(struct bs_vtree *t, struct bs_vnode *dir,
		       const char *name, struct bs_blob_builder *b,
		       const struct bs_source *src)
{
	struct bs_blob *blob;
	struct bs_vnode *n;

	if (bs_blob_finish(b, &blob) < 0)
		return -ENOMEM;
	if (!(n = bs_vt_file(t, dir, name, blob)))
		return -ENOMEM;
	n->mtime = src->id.mtime_ns / 1000000000LL;
	return 0;
}

/* The ISO's own file tree under @dir. */
static int add_iso_tree(struct bs_vtree *t, struct bs_vnode *dir,
			const struct bs_iso *iso,
			const struct bs_iso_node *in)
{
	for (size_t i = 0; i < in->nkids; i++) {
		const struct bs_iso_node *k = in->kids[i];
		struct bs_vnode *n;

		if (S_ISDIR(k->mode)) {
			if (!(n = bs_vt_dir(t, dir, k->name)))
				continue;	/* name clash: first wins */
			n->mtime = k->mtime;
			if (add_iso_tree(t, n, iso, k) < 0)
				return -ENOMEM;
		} else if (S_ISLNK(k->mode)) {
			if (!(n = bs_vt_node(t, dir, k->name, k->mode)))
				return -ENOMEM;
			if (!(n->target = strdup(k->target)))
				return -ENOMEM;
			n->size = strlen(k->target);
			n->mtime = k->mtime;
		} else {
			struct bs_blob_builder b = { 0 };
			struct bs_blob *blob;
			bs_iso_add_file(&b, iso, k);
			if (bs_blob_finish(&b, &blob) < 0)
				return -ENOMEM;
			if ((n = bs_vt_file(t, dir, k->name, blob)))
				n->mtime = k->mtime;
		}
	}
	return 0;
}

/* Initrds from the ISO, each padded to 4 bytes so the next archive
 * starts aligned, as pxelinux and the kernel expect. */
static void add_initrds(struct bs_blob_builder *b, const struct bs_iso *iso,
			const struct bs_bootinfo *bi)
{
	for (size_t i = 0; i < bi->ninitrd; i++) {
		const struct bs_iso_node *n = bs_iso_lookup(iso, bi->initrd[i]);
		if (!n)
			continue;
		bs_iso_add_file(b, iso, n);
		bs_blob_add_zero(b, bs_cpio_pad(n->size));
	}
}

static int add_iso_entry(struct bs_vtree *t, struct bs_isocache *cache,
			 struct bs_entry_state *st)
{
	const struct bs_cat_entry *e = st->entry;
	struct bs_blob_builder b = { 0 };
	struct bs_error err = { 0 };
	struct bs_vnode *boot, *dir, *iso_dir;
	struct bs_iso *iso;
	char fname[BS_NAME_MAX + 8];
	int rc;

	/* local or remote, from the index caches where unchanged */
	rc = bs_isocache_open(cache, t->cat, e, &iso, &st->boot, &err);
	if (rc < 0) {
		if (rc == -ENOMEM)
			return rc;
		snprintf(st->error, sizeof(st->error), "%s", err.msg);
		return 0;
	}
	st->iso = iso;
	st->iso_size = iso->image_size;
	/* catalog overrides of what detection found */
	if (e->kernel)
		snprintf(st->boot.kernel, sizeof(st->boot.kernel), "%s",
			 e->kernel[0] == '/' ? e->kernel + 1 : e->kernel);
	if (e->initrd) {
		char tmp[1024], *save = NULL, *tok;
		snprintf(tmp, sizeof(tmp), "%s", e->initrd);
		st->boot.ninitrd = 0;
		for (tok = strtok_r(tmp, ",", &save);
		     tok && st->boot.ninitrd < BS_MAX_INITRDS;
		     tok = strtok_r(NULL, ",", &save))
			snprintf(st->boot.initrd[st->boot.ninitrd++],
				 sizeof(st->boot.initrd[0]), "%s",
				 tok[0] == '/' ? tok + 1 : tok);
	}
	/* An ISO that does not match its catalog sha256 is withdrawn. */
	if (e->sha256) {
		char hex[BS_DIGEST_HEX_MAX];
		if ((rc = bs_memo_digest(iso->src, BS_DIGEST_SHA256, hex,
					 &err)) < 0) {
			snprintf(st->error, sizeof(st->error), "%s: sha256: "
				 "%s", iso->src->path, err.msg);
			return rc == -ENOMEM ? rc : 0;
		}
		if (strcmp(hex, e->sha256) != 0) {
			snprintf(st->error, sizeof(st->error), "%s: sha256 "
				 "mismatch (catalog %s, file %s): entry "
				 "withdrawn", iso->src->path, e->sha256, hex);
			return 0;
		}
	}
	/* What the initrd can do decides the delivery mode (auto). */
	if (st->boot.ninitrd &&
	    bs_memo_initrd(iso, &st->boot, &st->ird, &err) == 0)
		st->ird_ok = 1;
	if (!(boot = bs_vt_dir(t, t->root, "boot")) ||
	    !(dir = bs_vt_dir(t, boot, e->name)) ||
	    !(iso_dir = bs_vt_dir(t, dir, "iso")))
		return -ENOMEM;
	st->ok = 1;

	snprintf(fname, sizeof(fname), "%s.iso", e->name);
	bs_blob_add_source(&b, iso->src, 0, iso->image_size);
	if ((rc = finish_file(t, dir, fname, &b, iso->src)) < 0)
		return rc;
	if ((rc = add_iso_tree(t, iso_dir, iso, iso->root)) < 0)
		return rc;

	if (st->boot.kernel[0]) {
		const struct bs_iso_node *k = bs_iso_lookup(iso,
							    st->boot.kernel);
		if (!k || !S_ISREG(k->mode)) {
			snprintf(st->error, sizeof(st->error),
				 "kernel %s not found in the ISO",
				 st->boot.kernel);
		} else {
			bs_iso_add_file(&b, iso, k);
			if ((rc = finish_file(t, dir, "linux", &b, iso->src)) < 0)
				return rc;
		}
	}
	if (st->boot.ninitrd) {
		add_initrds(&b, iso, &st->boot);
		if ((rc = finish_file(t, dir, "initrd", &b, iso->src)) < 0)
			return rc;
	}
	if (iso->image_size > BS_CPIO_MAX_FILE) {
		snprintf(st->error, sizeof(st->error), "ISO is %llu bytes: "
			 "over the 4 GiB newc cpio limit, so no iso.cpio or "
			 "initrd+iso", (unsigned long long)iso->image_size);
		return 0;
	}
	st->cpio_ok = 1;
	add_iso_cpio(&b, iso->src, e->name);
	if ((rc = finish_file(t, dir, "iso.cpio", &b, iso->src)) < 0)
		return rc;
	if (st->boot.ninitrd) {
		add_initrds(&b, iso, &st->boot);
		add_iso_cpio(&b, iso->src, e->name);
		if ((rc = finish_file(t, dir, "initrd+iso", &b, iso->src)) < 0)
			return rc;
	}
	return 0;
}

/*
 * image/<name>.md5 as KIWI's netboot reads it: "<md5> <blocks>
 * <blocksize>".  The digest is computed once per image version (memo),
 * never per read.
 */
static int add_image_md5(struct bs_vtree *t, struct bs_vnode *dir,
			 const char *name, struct bs_source *img,
			 struct bs_entry_state *st)
{
	char hex[BS_DIGEST_HEX_MAX], fname[BS_NAME_MAX + 8];
	struct bs_error err = { 0 };
	struct bs_text txt = { 0 };
	struct bs_vnode *n;
	int rc;

	if ((rc = bs_memo_digest(img, BS_DIGEST_MD5, hex, &err)) < 0) {
		snprintf(st->error, sizeof(st->error), "%s: md5: %s",
			 img->path, err.msg);
		return rc == -ENOMEM ? rc : 0;
	}
	bs_text_add(&txt, "%s %llu 4096\n", hex,
		    (unsigned long long)((img->id.size + 4095) / 4096));
	snprintf(fname, sizeof(fname), "%s.md5", name);
	if (!(n = bs_vt_text(t, dir, fname, &txt)))
		return -ENOMEM;
	n->mtime = img->id.mtime_ns / 1000000000LL;
	return 0;
}

/* [image NAME]: kernel and initrd from local files, the root image under
 * image/. */
static int add_image_entry(struct bs_vtree *t, struct bs_entry_state *st)
{
	const struct bs_cat_entry *e = st->entry;
	const char *paths[3] = { e->kernel, e->initrd, e->image };
	const char *names[3] = { "linux", "initrd", e->name };
	struct bs_source *src[3] = { 0 };
	struct bs_error err = { 0 };
	struct bs_vnode *dir[3];
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		if (!paths[i] || bs_source_open(paths[i], &src[i], &err) < 0) {
			snprintf(st->error, sizeof(st->error), "%s",
				 paths[i] ? err.msg : "missing file");
			goto out;
		}
	}
	struct bs_vnode *boot = bs_vt_dir(t, t->root, "boot");
	dir[0] = dir[1] = boot ? bs_vt_dir(t, boot, e->name) : NULL;
	dir[2] = bs_vt_dir(t, t->root, "image");
	if (!dir[0] || !dir[2]) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < 3 && rc == 0; i++) {
		struct bs_blob_builder b = { 0 };
		bs_blob_add_source(&b, src[i], 0, src[i]->id.size);
		rc = finish_file(t, dir[i], names[i], &b, src[i]);
	}
	if (rc == 0)
		rc = add_image_md5(t, dir[2], e->name, src[2], st);
	st->ok = rc == 0;
	st->boot.family = BS_FAM_GENERIC;
	snprintf(st->boot.why, sizeof(st->boot.why), "KIWI PXE image");
out:
	for (int i = 0; i < 3; i++)
		bs_source_unref(src[i]);
	return rc;
}

int bs_vt_add_entry(struct bs_vtree *t, struct bs_isocache *cache,
		    struct bs_entry_state *st)
{
	if (st->entry->kind == BS_ENTRY_IMAGE)
		return add_image_entry(t, st);
	return add_iso_entry(t, cache, st);
}

/* The state of entry @name: states[i] is of cat->entries[i], and the
 * catalog finds names by hash. */
static const struct bs_entry_state *state_of(const struct bs_vtree *t,
					     const char *name)
{
	const struct bs_cat_entry *e = bs_catalog_find(t->cat, name);
	size_t i;

	if (!e)
		return NULL;
	i = (size_t)(e - t->cat->entries);
	return i < t->nstates ? &t->states[i] : NULL;
}

/* A generated text file; NULL on ENOMEM (or a name clash). */
static struct bs_vnode *gen(struct bs_vtree *t, struct bs_vnode *dir,
			    const char *name, struct bs_text *txt)
{
	return bs_vt_text(t, dir, name, txt);
}

/* Another name for an existing file's bytes (.bootshelf/hosts/). */
static int alias(struct bs_vtree *t, struct bs_vnode *dir, const char *name,
		 const struct bs_vnode *of)
{
	if (!of)
		return 0;
	return bs_vt_file(t, dir, name, bs_blob_ref(of->blob)) ? 0 : -ENOMEM;
}

/* KIWI/config.default boots the menu default if it is an image, else
 * the first image entry. */
static const struct bs_entry_state *kiwi_default(const struct bs_vtree *t)
{
	const char *def = t->cat->menu.def;
	const struct bs_entry_state *first = NULL;

	for (size_t i = 0; i < t->nstates; i++) {
		const struct bs_entry_state *st = &t->states[i];
		if (!st->ok || st->entry->kind != BS_ENTRY_IMAGE)
			continue;
		if (def && strcmp(def, st->entry->name) == 0)
			return st;
		if (!first)
			first = st;
	}
	return first;
}

/* One text per entry and loader that the configs of its hosts are made
 * from (see bootgen.h): the host's MAC goes at mac_at. */
struct host_tmpl {
	char *text;		/* owned; NULL: none (yet) */
	size_t len, mac_at;
	int tried;
};

enum { L_PXE, L_GRUB, L_IPXE, L_N };

struct menus {
	struct bs_vnode *pxe, *grub, *ipxe, *kiwi;	/* directories */
	struct bs_vnode *pxe_def, *grub_def, *ipxe_def, *kiwi_def;
	struct host_tmpl *tmpl;		/* L_N per state, or NULL */
};

static void gen_host(int loader, const struct bs_vtree *t,
		     const struct bs_cat_host *h,
		     const struct bs_entry_state *st, struct bs_text *o)
{
	memset(o, 0, sizeof(*o));
	if (loader == L_PXE)
		bs_gen_pxelinux_host(t, h, st, o);
	else if (loader == L_GRUB)
		bs_gen_grub_host(t, h, st, o);
	else
		bs_gen_ipxe_host(t, h, st, o);
}

/* The MAC as @loader spells it in its config. */
static void mac_text(int loader, const uint8_t mac[6], char out[18])
{
	if (loader == L_PXE)
		bs_mac_format(mac, out);
	else
		bs_mac_hyphen(mac, out);
}

/*
 * Make @loader's template for @st from host @h's config @txt: kept only
 * if a host with another MAC gets the same text but for those 17
 * characters.
 */
static void tmpl_make(struct host_tmpl *tp, int loader,
		      const struct bs_vtree *t, const struct bs_cat_host *h,
		      const struct bs_entry_state *st,
		      const struct bs_text *txt)
{
	struct bs_cat_host other = *h;
	struct bs_text o;
	char mac[18];

	tp->tried = 1;
	if (txt->failed || !txt->mark || txt->mark + 17 > txt->len)
		return;
	mac_text(loader, h->mac, mac);
	if (memcmp(txt->buf + txt->mark, mac, 17))
		return;
	for (int i = 0; i < 6; i++)
		other.mac[i] = (uint8_t)~h->mac[i];
	gen_host(loader, t, &other, st, &o);
	mac_text(loader, other.mac, mac);
	if (!o.failed && o.len == txt->len && o.mark == txt->mark &&
	    !memcmp(o.buf, txt->buf, txt->mark) &&
	    !memcmp(o.buf + o.mark, mac, 17) &&
	    !memcmp(o.buf + o.mark + 17, txt->buf + o.mark + 17,
		    o.len - o.mark - 17)) {
		tp->text = o.buf;
		tp->len = o.len;
		tp->mac_at = o.mark;
		return;
	}
	bs_text_free(&o);
}

/* Host @h's config file for @loader, named @name in @dir: copied from
 * the entry's template (one allocation) when the host sets no append or
 * label.  NULL on ENOMEM or a name clash. */
static struct bs_vnode *host_file(struct menus *m, int loader,
				  struct bs_vtree *t, struct bs_vnode *dir,
				  const char *name, const struct bs_cat_host *h,
				  const struct bs_entry_state *st)
{
	struct host_tmpl *tp = NULL;
	struct bs_text o;
	struct bs_blob *b;
	uint8_t *p;
	char mac[18];

	if (m->tmpl && !h->append && !h->label)
		tp = &m->tmpl[(size_t)(st - t->states) * L_N + loader];
	if (tp && tp->text) {
		if (!(b = bs_blob_new_bytes(tp->len, &p)))
			return NULL;
		memcpy(p, tp->text, tp->len);
		mac_text(loader, h->mac, mac);
		memcpy(p + tp->mac_at, mac, 17);
		return bs_vt_file(t, dir, name, b);
	}
	gen_host(loader, t, h, st, &o);
	if (tp && !tp->tried)
		tmpl_make(tp, loader, t, h, st, &o);
	return gen(t, dir, name, &o);
}

/*
 * pxelinux and GRUB also look for the client's IPv4 address in upper-case
 * hex (C000025B), pxelinux before falling back to "default": serve the
 * host's pxelinux config under that name too.  (The shortened prefixes
 * are left alone: they would match other hosts.)
 */
static int add_hexip(struct bs_vtree *t, struct menus *m, const char *ip,
		     const struct bs_vnode *pxe)
{
	struct in_addr a;
	char name[16];
	uint32_t v;

	if (inet_pton(AF_INET, ip, &a) != 1)
		return 0;	/* the catalog reported it */
	v = ntohl(a.s_addr);
	snprintf(name, sizeof(name), "%08X", v);
	return alias(t, m->pxe, name, pxe);
}

/* Everything one [host] gets, and its .bootshelf/hosts/<mac>/ view. */
static int add_host(struct bs_vtree *t, struct menus *m,
		    struct bs_vnode *hosts, const struct bs_cat_host *h)
{
	const struct bs_entry_state *st = state_of(t, h->boot);
	struct bs_text txt = { 0 };
	struct bs_vnode *pxe = NULL, *grub = NULL, *ipxe = NULL, *kiwi = NULL;
	struct bs_vnode *view;
	char mac[18], kmac[18], name[64];

	bs_mac_hyphen(h->mac, mac);
	bs_mac_kiwi(h->mac, kmac);
	/* A host whose entry is broken falls back to the menus.  (Names
	 * are put together by hand: thousands per reload.) */
	if (st && st->ok) {
		memcpy(name, "01-", 3);
		memcpy(name + 3, mac, 18);
		if (!(pxe = host_file(m, L_PXE, t, m->pxe, name, h, st)))
			return -ENOMEM;
		if (h->ip && add_hexip(t, m, h->ip, pxe) < 0)
			return -ENOMEM;
		memcpy(name, "grub.cfg-01-", 12);
		memcpy(name + 12, mac, 18);
		if (!(grub = host_file(m, L_GRUB, t, m->grub, name, h,
				       st)))
			return -ENOMEM;
		memcpy(name, mac, 17);
		memcpy(name + 17, ".ipxe", 6);
		if (!(ipxe = host_file(m, L_IPXE, t, m->ipxe, name, h,
				       st)))
			return -ENOMEM;
		if (st->entry->kind == BS_ENTRY_IMAGE) {
			memset(&txt, 0, sizeof(txt));
			snprintf(name, sizeof(name), "config.%s", kmac);
			bs_gen_kiwi(t, h, st, &txt);
			if (!(kiwi = gen(t, m->kiwi, name, &txt)))
				return -ENOMEM;
		}
	}
	if (!(view = bs_vt_dir(t, hosts, mac)))
		return -ENOMEM;
	if (alias(t, view, "pxelinux.cfg", pxe ? pxe : m->pxe_def) < 0 ||
	    alias(t, view, "grub.cfg", grub ? grub : m->grub_def) < 0 ||
	    alias(t, view, "boot.ipxe", ipxe ? ipxe : m->ipxe_def) < 0 ||
	    alias(t, view, "kiwi.config", kiwi ? kiwi : m->kiwi_def) < 0)
		return -ENOMEM;
	return 0;
}

static int add_configs(struct bs_vtree *t)
{
	struct menus m = { 0 };
	size_t i, mem0;
	struct bs_vnode *meta, *hosts, *n;
	struct bs_text txt = { 0 };
	const struct bs_entry_state *kd;

	if (!(m.pxe = bs_vt_dir(t, t->root, "pxelinux.cfg")) ||
	    !(m.grub = bs_vt_dir(t, t->root, "grub")) ||
	    !(m.ipxe = bs_vt_dir(t, t->root, "ipxe")) ||
	    !(m.kiwi = bs_vt_dir(t, t->root, "KIWI")) ||
	    !(meta = bs_vt_dir(t, t->root, ".bootshelf")) ||
	    !(hosts = bs_vt_dir(t, meta, "hosts")))
		return -ENOMEM;
	bs_gen_pxelinux_menu(t, &txt);
	if (!(m.pxe_def = gen(t, m.pxe, "default", &txt)))
		return -ENOMEM;
	memset(&txt, 0, sizeof(txt));
	bs_gen_grub_menu(t, &txt);
	if (!(m.grub_def = gen(t, m.grub, "grub.cfg", &txt)))
		return -ENOMEM;
	memset(&txt, 0, sizeof(txt));
	bs_gen_ipxe_menu(t, &txt);
	if (!(m.ipxe_def = gen(t, t->root, "boot.ipxe", &txt)))
		return -ENOMEM;
	if ((kd = kiwi_default(t))) {
		memset(&txt, 0, sizeof(txt));
		bs_gen_kiwi(t, NULL, kd, &txt);
		if (!(m.kiwi_def = gen(t, m.kiwi, "config.default", &txt)))
			return -ENOMEM;
	}
	if (t->nstates)
		m.tmpl = calloc(t->nstates * L_N, sizeof(*m.tmpl));
	mem0 = t->mem;
	for (i = 0; i < t->cat->nhosts; i++)
		if (add_host(t, &m, hosts, &t->cat->hosts[i]) < 0)
			break;
	t->mem_hosts = t->mem - mem0;
	for (size_t i = 0; m.tmpl && i < t->nstates * L_N; i++)
		free(m.tmpl[i].text);
	free(m.tmpl);
	if (i < t->cat->nhosts)
		return -ENOMEM;
	if (!(n = bs_vt_node(t, meta, "status", S_IFREG | 0444)))
		return -ENOMEM;
	n->dynamic = 1;
	return 0;
}

int bs_vt_add_configs(struct bs_vtree *t)
{
	int rc;

	/* each entry's boot line is made once, not once per host and
	 * loader (no room for the cache only makes it slower) */
	t->lines = t->nstates ? calloc(t->nstates, sizeof(*t->lines)) : NULL;
	rc = add_configs(t);
	for (size_t i = 0; t->lines && i < t->nstates; i++)
		free(t->lines[i]);
	free(t->lines);
	t->lines = NULL;
	return rc;
}
