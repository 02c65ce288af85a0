/*
 * bootgen.h - kernel command lines and boot-loader configs generated from
 * catalog entries.  Pure text generation: no I/O.
 */
#ifndef BOOTSHELF_BOOTGEN_H
#define BOOTSHELF_BOOTGEN_H

#include <stddef.h>

#include <bootshelf/catalog.h>
#include <bootshelf/vtree.h>

/* How one entry boots, paths relative to the tree root. */
struct bs_bootline {
	enum bs_delivery mode;		/* resolved, never AUTO */
	char kernel[320];
	char initrd[640];		/* comma separated */
	char append[2048];
	char note[256];			/* why this mode / what is missing */
	int usable;			/* 0: no mode can work */
};

/**
 * Work out the boot line for an entry in this snapshot.
 * @v host_append  extra arguments of a [host], or NULL
 */
void bs_bootline_make(const struct bs_catalog *cat,
		      const struct bs_entry_state *st,
		      const char *host_append, struct bs_bootline *out);

/**
 * The boot line of an entry of @t: while the tree is being built, the
 * line without host arguments is made once per entry (t->lines) and
 * reused for every host; otherwise, or with @host_append, it is made
 * into @tmp.  @ret a line valid until @tmp or @t changes.
 */
const struct bs_bootline *bs_vt_bootline(const struct bs_vtree *t,
					 const struct bs_entry_state *st,
					 const char *host_append,
					 struct bs_bootline *tmp);

/* Why @mode can or cannot work for this entry: 1 = can, 0 = cannot, with
 * the reason in @why. */
int bs_delivery_check(const struct bs_catalog *cat,
		      const struct bs_entry_state *st, enum bs_delivery mode,
		      char *why, size_t whylen);

/* Growable text buffer with a size cap; all-or-nothing on overflow. */
struct bs_text {
	char *buf;
	size_t len, cap, max;
	int failed;
	size_t mark;		/* bs_gen_*_host: where the host's MAC
				   (17 characters) was written */
};
void bs_text_add(struct bs_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bs_text_free(struct bs_text *t);

/*
 * The per-host configs below (pxelinux, GRUB, iPXE) depend on the host
 * only through its MAC, written once at out->mark (pxelinux as
 * 52:54:00:.., the others as 52-54-00-..), and its append and label:
 * tree building relies on it to make the configs of thousands of hosts
 * from one text per entry.
 */

/* pxelinux.cfg/default: a menu of every usable entry. */
void bs_gen_pxelinux_menu(const struct bs_vtree *t, struct bs_text *out);
/* pxelinux.cfg/01-<mac>: boot the host's entry. */
void bs_gen_pxelinux_host(const struct bs_vtree *t,
			  const struct bs_cat_host *h,
			  const struct bs_entry_state *st,
			  struct bs_text *out);

/* Host MAC in the spellings the loaders use. */
void bs_mac_hyphen(const uint8_t mac[6], char out[18]);	/* 52-54-00-.. */
void bs_mac_kiwi(const uint8_t mac[6], char out[18]);	/* 52.54.00.AB */

/*
 * GRUB: grub/grub.cfg is the menu; it first looks for the per-host file
 * itself (regexp on $net_default_mac), because the signed grubnetx64
 * never probes per-MAC names.  grub/grub.cfg-01-<mac> per host.
 */
void bs_gen_grub_menu(const struct bs_vtree *t, struct bs_text *out);
void bs_gen_grub_host(const struct bs_vtree *t, const struct bs_cat_host *h,
		      const struct bs_entry_state *st, struct bs_text *out);

/*
 * iPXE: boot.ipxe chains ipxe/${mac:hexhyp}.ipxe and falls back to a
 * menu; ipxe/<mac>.ipxe per host.  Kernel and initrd come over HTTP when
 * [server] http is set, else over TFTP by absolute path.
 */
void bs_gen_ipxe_menu(const struct bs_vtree *t, struct bs_text *out);
void bs_gen_ipxe_host(const struct bs_vtree *t, const struct bs_cat_host *h,
		      const struct bs_entry_state *st, struct bs_text *out);

/*
 * KIWI legacy netboot: KIWI/config.<MAC> (MAC upper case, dots) and
 * KIWI/config.default, bash-sourced KEY=value lines.  @h may be NULL
 * (config.default).  Only [image] entries have KIWI configs.
 */
void bs_gen_kiwi(const struct bs_vtree *t, const struct bs_cat_host *h,
		 const struct bs_entry_state *st, struct bs_text *out);

#endif
