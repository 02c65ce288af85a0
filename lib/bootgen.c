/*
 * bootgen.c - per-family kernel command lines for each delivery mode, and
 * the pxelinux configs built from them.  Command lines follow the
 * manual's per-distribution table; what a mode needs from [server] is
 * checked here so that `inspect` and the status can say why a mode
 * cannot work.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/bootgen.h>

/* Tokens of the ISO's own arguments that the generated line replaces. */
static int dropped(const char *tok, enum bs_family fam)
{
	static const char *const common[] = {
		"root=", "initrd=", "BOOT_IMAGE=", "boot=", "rd.live.check",
		"live-media=", "fetch=", "url=", "netboot=", "nfsroot=",
		"archisolabel=", "archisosearchuuid=", "archisodevice=",
		"iso-scan/", "findiso=", "cdrom-detect/", NULL,
	};
	(void)fam;
	for (const char *const *c = common; *c; c++)
		if (strncmp(tok, *c, strlen(*c)) == 0)
			return 1;
	return 0;
}

static void join(char *dst, size_t n, const char *word)
{
	size_t len = strlen(dst);
	if (!word || !*word)
		return;
	snprintf(dst + len, n - len, "%s%s", len ? " " : "", word);
}

static int has_word(const char *s, const char *w)
{
	size_t wl = strlen(w);

	for (const char *p = s; (p = strstr(p, w)); p += wl)
		if ((p == s || p[-1] == ' ') && (p[wl] == ' ' || !p[wl]))
			return 1;
	return 0;
}

/* The ISO's default arguments minus what we replace. */
static void keep_iso_args(char *dst, size_t n, const char *src,
			  enum bs_family fam)
{
	char tmp[1024], *save = NULL, *tok;

	snprintf(tmp, sizeof(tmp), "%s", src);
	for (tok = strtok_r(tmp, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		if (!dropped(tok, fam) && !has_word(dst, tok))
			join(dst, n, tok);
}

int bs_delivery_check(const struct bs_catalog *cat,
		      const struct bs_entry_state *st, enum bs_delivery mode,
		      char *why, size_t n)
{
	enum bs_family fam = st->boot.family;
	const struct bs_cat_entry *e = st->entry;

	if (e->kind == BS_ENTRY_IMAGE) {
		snprintf(why, n, "KIWI PXE image: kernel and initrd only");
		return mode == BS_DELIVERY_AUTO;
	}
	switch (mode) {
	case BS_DELIVERY_CPIO:
		if (!st->cpio_ok) {
			snprintf(why, n, "ISO is 4 GiB or larger: newc cpio "
				 "members are limited to 4 GiB - 1");
			return 0;
		}
		if (fam != BS_FAM_DRACUT && fam != BS_FAM_LIVEBOOT) {
			snprintf(why, n, "%s cannot loop-mount an ISO from "
				 "the initramfs", bs_family_name(fam));
			return 0;
		}
		snprintf(why, n, "ISO appended to the initrd (RAM: about "
			 "2x the ISO)");
		return 1;
	case BS_DELIVERY_HTTP:
		if (!cat->server.http) {
			snprintf(why, n, "no [server] http URL");
			return 0;
		}
		if (fam == BS_FAM_DEBIAN_INSTALLER || fam == BS_FAM_GENERIC ||
		    fam == BS_FAM_NONE || fam == BS_FAM_ELTORITO) {
			snprintf(why, n, "%s has no known HTTP root argument",
				 bs_family_name(fam));
			return 0;
		}
		snprintf(why, n, "root fetched over HTTP from [server] http");
		return 1;
	case BS_DELIVERY_NFS:
		if (!cat->server.nfs) {
			snprintf(why, n, "no [server] nfs export");
			return 0;
		}
		if (fam != BS_FAM_CASPER && fam != BS_FAM_LIVEBOOT &&
		    fam != BS_FAM_ARCHISO) {
			snprintf(why, n, "%s has no NFS root support",
				 bs_family_name(fam));
			return 0;
		}
		snprintf(why, n, "ISO tree mounted over NFS");
		return 1;
	case BS_DELIVERY_AOE:
		if (e->aoe_shelf < 0) {
			snprintf(why, n, "no aoe = SHELF.SLOT in the entry");
			return 0;
		}
		if (fam != BS_FAM_KIWI) {
			snprintf(why, n, "only KIWI live initrds boot from "
				 "AoE (iPXE sanboot aside)");
			return 0;
		}
		snprintf(why, n, "ISO exported over AoE as e%d.%d",
			 e->aoe_shelf, e->aoe_slot);
		return 1;
	case BS_DELIVERY_SANBOOT:
		if (!st->iso || !st->iso->has_eltorito) {
			snprintf(why, n, "no El Torito boot image");
			return 0;
		}
		snprintf(why, n, "whole ISO handed to iPXE sanboot or memdisk");
		return 1;
	case BS_DELIVERY_AUTO:
		break;
	}
	snprintf(why, n, "kernel and initrd only");
	return fam != BS_FAM_NONE && fam != BS_FAM_ELTORITO;
}

/* What the scanned initrd says of @mode (YES when it was not scanned). */
static enum bs_initrd_verdict initrd_verdict(const struct bs_entry_state *st,
					     enum bs_delivery mode,
					     char *why, size_t n)
{
	why[0] = '\0';
	if (!st->ird_ok)
		return BS_IRD_YES;
	return bs_initrd_supports(&st->ird, st->boot.family, mode, why, n);
}

/* Best mode per family, in order of preference; modes the initrd
 * cannot do are passed over. */
static enum bs_delivery pick(const struct bs_catalog *cat,
			     const struct bs_entry_state *st)
{
	static const enum bs_delivery order[][4] = {
		[BS_FAM_DRACUT] = { BS_DELIVERY_CPIO, BS_DELIVERY_HTTP },
		[BS_FAM_CASPER] = { BS_DELIVERY_HTTP, BS_DELIVERY_NFS },
		[BS_FAM_LIVEBOOT] = { BS_DELIVERY_CPIO, BS_DELIVERY_HTTP,
				      BS_DELIVERY_NFS },
		[BS_FAM_ARCHISO] = { BS_DELIVERY_HTTP, BS_DELIVERY_NFS },
		[BS_FAM_KIWI] = { BS_DELIVERY_AOE, BS_DELIVERY_HTTP },
		[BS_FAM_ELTORITO] = { BS_DELIVERY_SANBOOT },
	};
	char why[256];
	enum bs_family f = st->boot.family;

	if ((size_t)f < sizeof(order) / sizeof(order[0]))
		for (int i = 0; i < 4 && order[f][i]; i++)
			if (bs_delivery_check(cat, st, order[f][i], why,
					      sizeof(why)) &&
			    initrd_verdict(st, order[f][i], why,
					   sizeof(why)) != BS_IRD_NO)
				return order[f][i];
	return BS_DELIVERY_AUTO;	/* kernel + initrd only */
}

/*
 * Root arguments per family and mode.  Placeholders: @H the tree's HTTP
 * base, @F its NFS export, @n the entry name, @S.@L the AoE address, @K
 * the ISO size in KiB.  The first row matching family and mode wins;
 * mode AUTO rows are the fallback for the family.
 */
static const struct {
	enum bs_family fam;
	enum bs_delivery mode;
	const char *fmt;
} root_lines[] = {
	{ BS_FAM_DRACUT, BS_DELIVERY_CPIO, "root=live:/@n.iso rd.live.image" },
	{ BS_FAM_DRACUT, BS_DELIVERY_HTTP, "root=live:@H/boot/@n/@n.iso "
	  "rd.live.image ip=dhcp rd.neednet=1" },
	{ BS_FAM_CASPER, BS_DELIVERY_NFS, "boot=casper netboot=nfs "
	  "nfsroot=@F/boot/@n/iso ip=dhcp" },
	{ BS_FAM_CASPER, BS_DELIVERY_HTTP, "boot=casper ip=dhcp "
	  "url=@H/boot/@n/@n.iso" },
	{ BS_FAM_LIVEBOOT, BS_DELIVERY_CPIO, "boot=live live-media=/@n.iso "
	  "live-media-offset=0" },
	{ BS_FAM_LIVEBOOT, BS_DELIVERY_NFS, "boot=live netboot=nfs "
	  "nfsroot=@F/boot/@n/iso" },
	{ BS_FAM_LIVEBOOT, BS_DELIVERY_HTTP, "boot=live "
	  "fetch=@H/boot/@n/@n.iso" },
	{ BS_FAM_ARCHISO, BS_DELIVERY_NFS, "archisobasedir=arch "
	  "archiso_nfs_srv=@F/boot/@n/iso" },
	{ BS_FAM_ARCHISO, BS_DELIVERY_HTTP, "archisobasedir=arch "
	  "archiso_http_srv=@H/boot/@n/iso/" },
	{ BS_FAM_KIWI, BS_DELIVERY_AOE, "rd.kiwi.live.pxe "
	  "root=live:AOEINTERFACE=e@S.@L" },
	{ BS_FAM_KIWI, BS_DELIVERY_HTTP, "rd.kiwi.live.pxe "
	  "root=live:@H/boot/@n/@n.iso ramdisk_size=@K" },
};

/* A server base URL or export without trailing slashes. */
static void base_of(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
	for (size_t l = strlen(dst); l && dst[l - 1] == '/'; l--)
		dst[l - 1] = '\0';
}

static void expand(char *dst, size_t n, const char *fmt,
		   const struct bs_catalog *cat,
		   const struct bs_entry_state *st)
{
	char http[512], nfs[512], num[32];
	size_t o = 0;

	base_of(http, sizeof(http), cat->server.http);
	base_of(nfs, sizeof(nfs), cat->server.nfs);
	for (const char *f = fmt; *f && o + 1 < n; f++) {
		const char *put = NULL;
		if (*f == '@' && f[1]) {
			switch (*++f) {
			case 'H': put = http; break;
			case 'F': put = nfs; break;
			case 'n': put = st->entry->name; break;
			case 'S':
				snprintf(num, sizeof(num), "%d",
					 st->entry->aoe_shelf);
				put = num;
				break;
			case 'L':
				snprintf(num, sizeof(num), "%d",
					 st->entry->aoe_slot);
				put = num;
				break;
			case 'K':
				snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)(st->iso_size /
							      1024 + 1));
				put = num;
				break;
			}
		}
		if (!put) {
			dst[o++] = *f;
			continue;
		}
		o += (size_t)snprintf(dst + o, n - o, "%s", put);
		if (o >= n)
			o = n - 1;
	}
	dst[o] = '\0';
}

static void root_args(const struct bs_catalog *cat,
		      const struct bs_entry_state *st, enum bs_delivery m,
		      char *a, size_t n)
{
	char w[1024];

	for (size_t i = 0; i < sizeof(root_lines) / sizeof(*root_lines);
	     i++) {
		if (root_lines[i].fam != st->boot.family ||
		    root_lines[i].mode != m)
			continue;
		expand(w, sizeof(w), root_lines[i].fmt, cat, st);
		join(a, n, w);
		return;
	}
}

void bs_bootline_make(const struct bs_catalog *cat,
		      const struct bs_entry_state *st,
		      const char *host_append, struct bs_bootline *out)
{
	const struct bs_cat_entry *e = st->entry;
	enum bs_delivery m = e->delivery;
	char why[256];

	memset(out, 0, sizeof(*out));
	snprintf(out->kernel, sizeof(out->kernel), "boot/%s/linux", e->name);
	if (m == BS_DELIVERY_AUTO)
		m = pick(cat, st);
	out->mode = m;
	out->usable = bs_delivery_check(cat, st, m, why, sizeof(why));
	snprintf(out->note, sizeof(out->note), "%s%s: %s",
		 e->delivery == BS_DELIVERY_AUTO ? "auto -> " : "",
		 m == BS_DELIVERY_AUTO ? "kernel+initrd" : bs_delivery_name(m),
		 why);
	if (out->usable) {
		enum bs_initrd_verdict v = initrd_verdict(st, m, why,
							  sizeof(why));
		if (v != BS_IRD_YES) {
			size_t l = strlen(out->note);
			snprintf(out->note + l, sizeof(out->note) - l,
				 "; initrd %s: %s", bs_initrd_verdict_name(v),
				 why);
			out->usable = v != BS_IRD_NO;
		}
	}
	if (m == BS_DELIVERY_SANBOOT) {
		/* pxelinux: memdisk from the underlay loads the whole ISO */
		snprintf(out->kernel, sizeof(out->kernel), "memdisk");
		snprintf(out->initrd, sizeof(out->initrd), "boot/%s/%s.iso",
			 e->name, e->name);
		snprintf(out->append, sizeof(out->append), "iso raw");
		return;
	}
	snprintf(out->initrd, sizeof(out->initrd), "boot/%s/%s", e->name,
		 m == BS_DELIVERY_CPIO ? "initrd+iso" : "initrd");
	if (e->kind == BS_ENTRY_ISO) {
		root_args(cat, st, m, out->append, sizeof(out->append));
		keep_iso_args(out->append, sizeof(out->append),
			      st->boot.append, st->boot.family);
	}
	join(out->append, sizeof(out->append), e->append);
	join(out->append, sizeof(out->append), host_append);
}

const struct bs_bootline *bs_vt_bootline(const struct bs_vtree *t,
					 const struct bs_entry_state *st,
					 const char *host_append,
					 struct bs_bootline *tmp)
{
	const struct bs_bootline *base = NULL;
	uintptr_t at = (uintptr_t)st, first = (uintptr_t)t->states;
	size_t i;

	if (t->lines && at >= first &&
	    (i = (at - first) / sizeof(*st)) < t->nstates &&
	    &t->states[i] == st) {
		if (!t->lines[i] &&
		    (t->lines[i] = malloc(sizeof(*t->lines[i]))))
			bs_bootline_make(t->cat, st, NULL, t->lines[i]);
		base = t->lines[i];
	}
	if (!base) {
		bs_bootline_make(t->cat, st, host_append, tmp);
		return tmp;
	}
	if (!host_append || !*host_append)
		return base;
	/* what bs_bootline_make does last */
	*tmp = *base;
	join(tmp->append, sizeof(tmp->append), host_append);
	return tmp;
}

static void label_block(struct bs_text *o, const struct bs_vtree *t,
			const struct bs_entry_state *st, const char *host_app,
			const char *label)
{
	struct bs_bootline tmp;
	const struct bs_bootline *bl = bs_vt_bootline(t, st, host_app, &tmp);

	bs_text_add(o, "LABEL %s\n", st->entry->name);
	bs_text_add(o, "  MENU LABEL %s\n", label ? label :
		    st->entry->label ? st->entry->label : st->entry->name);
	bs_text_add(o, "  # %s\n", bl->note);
	bs_text_add(o, "  KERNEL %s\n", bl->kernel);
	bs_text_add(o, "  INITRD %s\n", bl->initrd);
	if (bl->append[0])
		bs_text_add(o, "  APPEND %s\n", bl->append);
	/* BOOTIF= tells the initrd which NIC booted */
	bs_text_add(o, "  IPAPPEND 2\n");
}

void bs_gen_pxelinux_menu(const struct bs_vtree *t, struct bs_text *o)
{
	const struct bs_catalog *cat = t->cat;
	const char *def = cat->menu.def;

	bs_text_add(o, "# Generated by bootshelf. "
		    "Do not edit: change the catalog.\n");
	bs_text_add(o, "UI menu.c32\nPROMPT 0\n");
	bs_text_add(o, "MENU TITLE %s\n",
		    cat->menu.title ? cat->menu.title : "bootshelf");
	bs_text_add(o, "TIMEOUT %d\n", cat->menu.timeout);
	bs_text_add(o, "DEFAULT %s\n", def ? def : "local");
	bs_text_add(o, "ONTIMEOUT %s\n\n", def ? def : "local");
	for (size_t i = 0; i < t->nstates; i++) {
		if (!t->states[i].ok)
			continue;
		label_block(o, t, &t->states[i], NULL, NULL);
		if (def && strcmp(def, t->states[i].entry->name) == 0)
			bs_text_add(o, "  MENU DEFAULT\n");
		bs_text_add(o, "\n");
	}
	bs_text_add(o, "LABEL local\n  MENU LABEL Boot from local disk\n"
		    "  LOCALBOOT 0\n");
}

void bs_gen_pxelinux_host(const struct bs_vtree *t,
			  const struct bs_cat_host *h,
			  const struct bs_entry_state *st, struct bs_text *o)
{
	bs_text_add(o, "# Generated by bootshelf for ");
	o->mark = o->len;
	bs_text_add(o, "%02x:%02x:%02x:%02x:%02x:%02x.\n", h->mac[0],
		    h->mac[1], h->mac[2], h->mac[3], h->mac[4], h->mac[5]);
	bs_text_add(o, "DEFAULT %s\nPROMPT 0\nTIMEOUT 0\n\n",
		    st->entry->name);
	label_block(o, t, st, h->append, h->label);
}
