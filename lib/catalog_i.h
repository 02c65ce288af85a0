/*
 * catalog_i.h - internals shared by the catalog modules: the raw INI
 * layer (sections and key lines with their line numbers, no meaning
 * attached), the whole-catalog builder used by loading and by the
 * editor's validation, and small helpers.  Not installed.
 */
#ifndef BOOTSHELF_CATALOG_I_H
#define BOOTSHELF_CATALOG_I_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <bootshelf/catalog.h>

/* Catalog files larger than this are refused (a typo'd path to an ISO). */
#define BS_CATALOG_FILE_MAX (16u << 20)

/* ---- raw INI layer (catalog_ini.c) ------------------------------------ */

struct bs_ini_kv {
	char *key;		/* owned */
	char *value;		/* owned; continuation lines joined by ' ' */
	int line;		/* line of the key */
};

struct bs_ini_sect {
	char *header;		/* text between '[' and ']', owned */
	int line;		/* line of the header */
	int end_line;		/* last key or continuation line, or line */
	struct bs_ini_kv *kv;	/* owned, in file order */
	size_t nkv, cap;
};

struct bs_ini {
	struct bs_ini_sect *s;	/* owned, in file order */
	size_t n, cap;
};

/**
 * Split a buffer into sections and key lines with libinih.
 * @v file  name for diagnostics
 * @v text  any bytes (NULs, long lines, no final newline are all fine)
 * @v ini   zeroed on entry; filled even when there are syntax errors
 * @v d     receives syntax errors (may be NULL)
 * @ret 0, or -ENOMEM (then @ini holds what was read so far)
 * Caller frees @ini with bs_ini_free() in every case.
 */
int bs_ini_read(const char *file, const char *text, size_t len,
		struct bs_ini *ini, struct bs_diags *d);
void bs_ini_free(struct bs_ini *ini);

/* Split a section header "iso  NAME" into type and name (both trimmed,
 * name may be empty).  Pointers into @buf, which is overwritten. */
void bs_ini_split_header(char *buf, char **type, char **name);

/* ---- whole catalog (catalog.c) ---------------------------------------- */

/* One file of a catalog being checked. */
struct bs_cat_src {
	const char *file;	/* borrowed */
	const char *text;	/* borrowed */
	size_t len;
};

/**
 * Build and validate a catalog from files given in reading order (main
 * file first, then drop-ins).  Same contract as bs_catalog_parse().
 */
int bs_catalog_build(const char *path, const struct bs_cat_src *src,
		     size_t nsrc, struct bs_catalog **out,
		     struct bs_diags *d);

/**
 * The drop-in files of catalog @path: "catalog.d/" (beside it) "*.conf",
 * regular files only, names not starting with '.', in strcmp order.
 * @ret count (>= 0; 0 if the directory is missing) or -errno.  *files is
 * a malloc'ed array of malloc'ed paths; free with bs_catalog_free_list().
 */
int bs_catalog_dropins(const char *path, char ***files);
void bs_catalog_free_list(char **v, size_t n);

/* Read a whole file (at most BS_CATALOG_FILE_MAX) with a NUL after it.
 * @ret 0 or -errno (-EFBIG when too large); caller frees *buf. */
int bs_catalog_slurp(const char *file, char **buf, size_t *len);

/* ---- hash index (catalog_htab.c) ------------------------------------- */

struct bs_htab_slot {
	uint64_t key;
	size_t val;
	int used;
};

/* Zero-initialise; free with bs_htab_free(). */
struct bs_htab {
	struct bs_htab_slot *s;	/* owned; cap is a power of two */
	size_t cap, n;
};

uint64_t bs_htab_hash_str(const char *s);
/* First value under @key for which @eq (NULL: any) holds, or SIZE_MAX. */
size_t bs_htab_get(const struct bs_htab *t, uint64_t key,
		   int (*eq)(const void *ctx, size_t val), const void *ctx);
/* Add a value; 0 or -ENOMEM. */
int bs_htab_put(struct bs_htab *t, uint64_t key, size_t val);
void bs_htab_free(struct bs_htab *t);

/* ---- helpers (catalog_util.c) ----------------------------------------- */

/* Closest of @cands (NULL-terminated) to @word within a small edit
 * distance, or NULL. */
const char *bs_cat_suggest(const char *word, const char *const *cands);
/* "52:54:00:12:34:56" into buf[18]. */
void bs_mac_format(const uint8_t mac[6], char buf[18]);
/* Non-zero if @key is a pass-through (KIWI) key: [A-Z][A-Z0-9_]*. */
int bs_cat_passthrough_key(const char *key);

#endif
