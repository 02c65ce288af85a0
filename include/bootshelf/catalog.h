/*
 * catalog.h - the bootshelf catalog: which ISOs and images to serve, to
 * which hosts, and how.
 *
 * The catalog is an INI file (parsed with libinih) plus an optional
 * drop-in directory "catalog.d/" beside it whose "*.conf" files are read
 * in name order as if appended.  Sections:
 *
 *   [server]       address, http, nfs, tftp, aoe_interface, and for
 *                  remote ISOs and caches: cache, cache_size,
 *                  connect_timeout, timeout, refresh, s3_region,
 *                  s3_endpoint, s3_credentials (bs_catalog_remote())
 *   [menu]         title, timeout, default
 *   [iso NAME]     path | url (http, https, s3), refresh, label,
 *                  delivery, append, aoe, aoe_mask, sha256, kernel,
 *                  initrd (overrides of what detection finds)
 *   [image NAME]   kernel, initrd, image, label, append, and KIWI keys
 *   [host MAC]     boot, append, label, ip, kiwi keys
 *
 * Loading never stops at the first problem: every problem becomes a
 * struct bs_diag with FILE:LINE.  Errors make the catalog invalid; a
 * missing ISO file is not a catalog error (the tree builder reports it).
 * The full key list is in bootshelf.conf(5).
 */
#ifndef BOOTSHELF_CATALOG_H
#define BOOTSHELF_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <bootshelf/err.h>

/* ---- diagnostics ------------------------------------------------------ */

enum bs_diag_sev { BS_DIAG_ERROR, BS_DIAG_WARNING };

struct bs_diag {
	enum bs_diag_sev sev;
	char *file;		/* owned; may be NULL */
	int line;		/* 1-based; 0 if none */
	char *msg;		/* owned */
};

/* A growable list of diagnostics.  Zero-initialise before use. */
struct bs_diags {
	struct bs_diag *v;
	size_t n, cap;
	size_t nerrors;
};

void bs_diags_add(struct bs_diags *d, enum bs_diag_sev sev, const char *file,
		  int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Format one as "FILE:LINE: error: MSG" into buf. */
void bs_diag_format(const struct bs_diag *g, char *buf, size_t len);
void bs_diags_free(struct bs_diags *d);

/* ---- the catalog ------------------------------------------------------ */

#define BS_NAME_MAX 64	/* entry names: [A-Za-z0-9._-], not starting
			   with '.' or '-' */

enum bs_delivery {
	BS_DELIVERY_AUTO = 0,
	BS_DELIVERY_CPIO,
	BS_DELIVERY_HTTP,
	BS_DELIVERY_NFS,
	BS_DELIVERY_AOE,
	BS_DELIVERY_SANBOOT,
};

enum bs_entry_kind { BS_ENTRY_ISO, BS_ENTRY_IMAGE };

/* One key=value pair kept verbatim (KIWI keys and other pass-through). */
struct bs_kv {
	char *key, *value;	/* owned */
};

struct bs_cat_entry {
	enum bs_entry_kind kind;
	char *name;		/* owned, validated: BS_NAME_MAX, safe chars */
	char *path;		/* ISO: local file; image: NULL.  owned or NULL */
	char *url;		/* ISO: remote URL; owned or NULL */
	char *label;		/* menu label; NULL = name */
	char *append;		/* extra kernel arguments; NULL = none */
	char *sha256;		/* lower-case hex or NULL */
	char *kernel;		/* ISO: override path inside ISO;
				   image: local file path */
	char *initrd;		/* ISO: override path(s) inside ISO, comma
				   separated; image: local file path */
	char *image;		/* image: local root filesystem image file */
	enum bs_delivery delivery;
	int aoe_shelf;		/* -1 when not exported over AoE */
	int aoe_slot;
	char *aoe_mask;		/* "MAC,MAC,...": only these initiators
				   are answered over AoE; NULL = all */
	struct bs_kv *extra;	/* other keys of [image] (KIWI), in order */
	size_t nextra;
	char *file;		/* where the section starts; owned */
	int line;
};

struct bs_cat_host {
	uint8_t mac[6];
	char *boot;		/* entry name, validated to exist */
	char *append;
	char *label;
	char *ip;		/* IPv4 address or NULL: its configs are
				   also served under the hex-IP names */
	struct bs_kv *extra;	/* KIWI keys etc., in order */
	size_t nextra;
	char *file;
	int line;
};

struct bs_catalog {
	char *path;		/* main file, owned */
	struct {
		char *address;	/* IP or name used in generated URLs */
		char *http;	/* base URL where the tree is served */
		char *nfs;	/* "HOST:/export/path" of the tree */
		char *tftp;	/* TFTP server address if not address */
		char *aoe_interface;
	} server;
	struct {
		char *title;	/* default "bootshelf" */
		int timeout;	/* tenths of a second, pxelinux style; 50 */
		char *def;	/* default entry name or NULL (local boot) */
	} menu;
	struct bs_cat_entry *entries;	/* in file order */
	size_t nentries;
	struct bs_cat_host *hosts;	/* in file order */
	size_t nhosts;
};

/**
 * Load and validate a catalog file and its drop-in directory.
 * @v path   main catalog file
 * @v out    on success (return 0) a new catalog; caller frees with
 *           bs_catalog_free().  On failure *out is NULL.
 * @v diags  receives every error and warning (may be NULL)
 * @ret 0 if the catalog has no errors, -EINVAL if it has (see diags),
 *      -errno if the main file cannot be read.
 */
int bs_catalog_load(const char *path, struct bs_catalog **out,
		    struct bs_diags *diags);

/* Same over an in-memory buffer; @name is used in diagnostics.  No
 * drop-in directory is read. */
int bs_catalog_parse(const char *name, const char *text, size_t len,
		     struct bs_catalog **out, struct bs_diags *diags);

void bs_catalog_free(struct bs_catalog *cat);

const struct bs_cat_entry *bs_catalog_find(const struct bs_catalog *cat,
					   const char *name);
const struct bs_cat_host *bs_catalog_find_host(const struct bs_catalog *cat,
					       const uint8_t mac[6]);

/* "52:54:00:12:34:56", "52-54-00-12-34-56" or "525400123456"; 0 or
 * -EINVAL. */
int bs_mac_parse(const char *s, uint8_t mac[6]);
/* Non-zero if @name is a valid entry name. */
int bs_name_valid(const char *name);
const char *bs_delivery_name(enum bs_delivery d);
int bs_delivery_parse(const char *s, enum bs_delivery *out);

/* ---- editing (the CLI) ------------------------------------------------- */

/*
 * Edits work on the text of the file that holds the section (the main
 * file for new sections), keep every other line, comment and the order
 * as they are, and are atomic: under flock on the main file, the new text
 * is written to a temporary file beside it, fsync'ed, re-validated as a
 * whole catalog (with drop-ins), and only then renamed over the old file.
 * A bad edit returns -EINVAL with diagnostics and changes nothing.
 */

/* Add (or with @replace, replace) section "[iso NAME]" with keys. */
int bs_catalog_edit_set_section(const char *catpath, const char *kind,
				const char *name, const struct bs_kv *kv,
				size_t nkv, int replace, struct bs_diags *d);
/* Remove section "[KIND NAME]"; -ENOENT if absent. */
int bs_catalog_edit_rm_section(const char *catpath, const char *kind,
			       const char *name, struct bs_diags *d);

#endif
