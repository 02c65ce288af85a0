/*
 * cmd_edit.c - add, rm, host: catalog edits.  The library does the
 * careful part (flock, temp file, fsync, validate, rename); this checks
 * the arguments and that an added ISO can actually be read.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/catalog.h>
#include <bootshelf/isoindex.h>
#include <bootshelf/remote.h>
#include <bootshelf/vtree.h>

#include "cli.h"

#define MAX_KV 32

/* KEY=VALUE arguments into @kv after @used entries. */
static int parse_kv(struct cli *c, int argc, char **argv, struct bs_kv *kv,
		    size_t *used)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i] || *used >= MAX_KV) {
			fprintf(stderr, "%s: expected KEY=VALUE, got '%s'\n",
				c->prog, argv[i]);
			return -1;
		}
		*eq = '\0';
		kv[*used].key = argv[i];
		kv[(*used)++].value = eq + 1;
	}
	return 0;
}

static int report(struct cli *c, int rc, struct bs_diags *d,
		  const char *what)
{
	cli_print_diags(d);
	bs_diags_free(d);
	if (rc == 0)
		return 0;
	if (rc == -EINVAL)
		fprintf(stderr, "%s: %s refused: the catalog would be invalid;"
			" %s is unchanged\n", c->prog, what, c->catalog);
	else
		fprintf(stderr, "%s: %s: %s: %s\n", c->prog, what, c->catalog,
			strerror(-rc));
	return 1;
}

int cli_add(struct cli *c, int argc, char **argv)
{
	struct bs_kv kv[MAX_KV + 1];
	struct bs_diags d = { 0 };
	struct bs_error err = { 0 };
	struct bs_source *src;
	struct bs_iso *iso;
	char abs[PATH_MAX];
	char *key = "path";	/* a string literal, never written */
	size_t n = 0;
	int replace = 0, force = 0;

	while (argc && argv[0][0] == '-') {
		if (strcmp(argv[0], "--replace") == 0)
			replace = 1;
		else if (strcmp(argv[0], "--force") == 0)
			force = 1;
		else
			break;
		argc--, argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s add [--replace] [--force] NAME "
			"ISO|URL [KEY=VALUE...]\n", c->prog);
		return 2;
	}
	if (bs_remote_url(argv[1])) {
		/* read it as the tree would: with the catalog's [server]
		 * remote settings (S3 endpoint, credentials, timeouts) */
		struct bs_catalog *cat = NULL;
		struct bs_cat_entry e = { .kind = BS_ENTRY_ISO,
					  .name = argv[0], .url = argv[1] };
		struct bs_bootinfo bi;

		if (strlen(argv[1]) >= sizeof(abs)) {
			fprintf(stderr, "%s: add: URL too long\n", c->prog);
			return 1;
		}
		strcpy(abs, argv[1]);
		if (bs_catalog_load(c->catalog, &cat, NULL) < 0)
			bs_catalog_parse("new", "", 0, &cat, NULL);
		if (cat && bs_isocache_open(NULL, cat, &e, &iso, &bi,
					    &err) == 0)
			bs_iso_unref(iso);
		bs_catalog_free(cat);
		key = "url";
	} else if (!realpath(argv[1], abs)) {
		fprintf(stderr, "%s: add: %s: %s\n", c->prog, argv[1],
			strerror(errno));
		return 1;
	}
	/* Refuse an ISO we cannot serve, unless told otherwise. */
	if (!strcmp(key, "path") && bs_source_open(abs, &src, &err) == 0) {
		if (bs_iso_open(src, &iso, &err) == 0)
			bs_iso_unref(iso);
		bs_source_unref(src);
	}
	if (err.code && !force) {
		/* remote errors name the URL already */
		fprintf(stderr, "%s: add: %s%s%s (use --force to add it "
			"anyway)\n", c->prog, key[0] == 'u' ? "" : abs,
			key[0] == 'u' ? "" : ": ", err.msg);
		return 1;
	}
	kv[n].key = key;
	kv[n++].value = abs;
	if (parse_kv(c, argc - 2, argv + 2, kv, &n) < 0)
		return 2;
	return report(c, bs_catalog_edit_set_section(c->catalog, "iso",
			argv[0], kv, n, replace, &d), &d, "add");
}

int cli_rm(struct cli *c, int argc, char **argv)
{
	struct bs_diags d = { 0 };
	struct bs_catalog *cat = NULL;
	const char *kind = "iso";

	if (argc != 1) {
		fprintf(stderr, "usage: %s rm NAME\n", c->prog);
		return 2;
	}
	if (bs_catalog_load(c->catalog, &cat, NULL) == 0) {
		const struct bs_cat_entry *e = bs_catalog_find(cat, argv[0]);
		if (e && e->kind == BS_ENTRY_IMAGE)
			kind = "image";
	}
	bs_catalog_free(cat);
	return report(c, bs_catalog_edit_rm_section(c->catalog, kind,
			argv[0], &d), &d, "rm");
}

int cli_host(struct cli *c, int argc, char **argv)
{
	struct bs_kv kv[MAX_KV + 1];
	struct bs_diags d = { 0 };
	size_t n = 0;

	if (argc == 2 && strcmp(argv[0], "rm") == 0)
		return report(c, bs_catalog_edit_rm_section(c->catalog,
				"host", argv[1], &d), &d, "host rm");
	if (argc < 2) {
		fprintf(stderr, "usage: %s host MAC NAME [KEY=VALUE...]\n"
			"       %s host rm MAC\n", c->prog, c->prog);
		return 2;
	}
	kv[n].key = "boot";
	kv[n++].value = argv[1];
	if (parse_kv(c, argc - 2, argv + 2, kv, &n) < 0)
		return 2;
	return report(c, bs_catalog_edit_set_section(c->catalog, "host",
			argv[0], kv, n, 1, &d), &d, "host");
}
