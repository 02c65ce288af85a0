/*
 * cmd_tree.c - check, list, ls, cat, status: read-only views of the
 * catalog and of the virtual tree, through the same code the daemons use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bootshelf/catalog.h>
#include <bootshelf/vtree.h>

#include "cli.h"

size_t cli_print_diags(const struct bs_diags *d)
{
	char line[1024];

	for (size_t i = 0; i < d->n; i++) {
		bs_diag_format(&d->v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	return d->nerrors;
}

struct bs_shelf *cli_open_shelf(struct cli *c)
{
	struct bs_diags d = { 0 };
	struct bs_shelf *s = NULL;
	int rc = bs_shelf_open(c->catalog, &s, &d);

	cli_print_diags(&d);
	bs_diags_free(&d);
	if (rc < 0) {
		if (rc != -EINVAL)
			fprintf(stderr, "%s: %s: %s\n", c->prog, c->catalog,
				strerror(-rc));
		else
			fprintf(stderr, "%s: %s: catalog has errors\n",
				c->prog, c->catalog);
		return NULL;
	}
	return s;
}

int cli_check(struct cli *c, int argc, char **argv)
{
	struct bs_shelf *s;
	struct bs_vtree *t;
	int bad = 0;

	(void)argv;
	if (argc != 0) {
		fprintf(stderr, "usage: %s check\n", c->prog);
		return 2;
	}
	if (!(s = cli_open_shelf(c)))
		return 1;
	t = bs_shelf_get(s);
	for (size_t i = 0; i < t->nstates; i++) {
		const struct bs_entry_state *st = &t->states[i];
		if (!st->ok) {
			fprintf(stderr, "%s:%d: error: entry '%s': %s\n",
				st->entry->file, st->entry->line,
				st->entry->name, st->error);
			bad = 1;
		} else if (st->error[0]) {
			fprintf(stderr, "%s:%d: warning: entry '%s': %s\n",
				st->entry->file, st->entry->line,
				st->entry->name, st->error);
		}
	}
	printf("%s: %zu entries, %zu hosts%s\n", c->catalog, t->nstates,
	       t->cat->nhosts, bad ? ", some entries unusable" : ", ok");
	bs_vtree_unref(t);
	bs_shelf_close(s);
	return bad;
}

int cli_list(struct cli *c, int argc, char **argv)
{
	struct bs_shelf *s;
	struct bs_vtree *t;

	(void)argc;
	(void)argv;
	if (!(s = cli_open_shelf(c)))
		return 1;
	t = bs_shelf_get(s);
	for (size_t i = 0; i < t->nstates; i++) {
		const struct bs_entry_state *st = &t->states[i];
		printf("%-6s %-20s %-16s %s\n",
		       st->entry->kind == BS_ENTRY_ISO ? "iso" : "image",
		       st->entry->name,
		       st->ok ? bs_family_name(st->boot.family) : "ERROR",
		       st->ok ? (st->entry->label ? st->entry->label : "")
			      : st->error);
	}
	for (size_t i = 0; i < t->cat->nhosts; i++) {
		const struct bs_cat_host *h = &t->cat->hosts[i];
		printf("host   %02x:%02x:%02x:%02x:%02x:%02x  -> %s\n",
		       h->mac[0], h->mac[1], h->mac[2], h->mac[3], h->mac[4],
		       h->mac[5], h->boot);
	}
	bs_vtree_unref(t);
	bs_shelf_close(s);
	return 0;
}

static void ls_line(const struct bs_vnode *n, int lng, const char *name)
{
	char tbuf[32];
	time_t mt = (time_t)n->mtime;
	struct tm tm;

	if (!lng) {
		printf("%s\n", name);
		return;
	}
	gmtime_r(&mt, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M", &tm);
	printf("%c%s %12llu %s %016llx %s%s%s\n",
	       S_ISDIR(n->mode) ? 'd' : S_ISLNK(n->mode) ? 'l' : '-',
	       S_ISDIR(n->mode) ? "r-xr-xr-x" : "r--r--r--",
	       (unsigned long long)n->size, tbuf, (unsigned long long)n->ino,
	       name, n->target ? " -> " : "", n->target ? n->target : "");
}

int cli_ls(struct cli *c, int argc, char **argv)
{
	const char *path = "";
	int lng = 0, rc = 0;
	struct bs_shelf *s;
	struct bs_vtree *t;
	const struct bs_vnode *n;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0)
			lng = 1;
		else
			path = argv[i];
	}
	if (!(s = cli_open_shelf(c)))
		return 1;
	t = bs_shelf_get(s);
	if (!(n = bs_vtree_resolve(t, path))) {
		fprintf(stderr, "%s: ls: %s: no such file or directory\n",
			c->prog, path);
		rc = 1;
	} else if (S_ISDIR(n->mode)) {
		for (size_t i = 0; i < n->nkids; i++)
			ls_line(n->kids[i], lng, n->kids[i]->name);
	} else {
		ls_line(n, lng, path);
	}
	bs_vtree_unref(t);
	bs_shelf_close(s);
	return rc;
}

static int write_all(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

int cli_cat(struct cli *c, int argc, char **argv)
{
	static char buf[1 << 20];
	struct bs_shelf *s;
	struct bs_vtree *t;
	const struct bs_vnode *n;
	int rc = 0;

	if (argc != 1) {
		fprintf(stderr, "usage: %s cat PATH\n", c->prog);
		return 2;
	}
	if (!(s = cli_open_shelf(c)))
		return 1;
	t = bs_shelf_get(s);
	n = bs_vtree_resolve(t, argv[0]);
	if (!n || S_ISDIR(n->mode)) {
		fprintf(stderr, "%s: cat: %s: %s\n", c->prog, argv[0],
			n ? "is a directory" : "no such file");
		rc = 1;
	} else if (n->dynamic) {
		char *txt = bs_shelf_status(s);
		rc = txt && write_all(1, txt, strlen(txt)) == 0 ? 0 : 1;
		free(txt);
	} else if (S_ISLNK(n->mode)) {
		printf("%s\n", n->target);
	} else {
		for (uint64_t off = 0; off < n->size;) {
			ssize_t r = bs_vnode_read(n, buf, sizeof(buf), off);
			int w;
			if (r <= 0) {
				fprintf(stderr, "%s: cat: %s: %s\n", c->prog,
					argv[0], r < 0 ? strerror((int)-r) :
					"unexpected end of file");
				rc = 1;
				break;
			}
			if ((w = write_all(1, buf, (size_t)r)) < 0) {
				fprintf(stderr, "%s: cat: write: %s\n",
					c->prog, strerror(-w));
				rc = 1;
				break;
			}
			off += (uint64_t)r;
		}
	}
	bs_vtree_unref(t);
	bs_shelf_close(s);
	return rc;
}

int cli_status(struct cli *c, int argc, char **argv)
{
	char path[4096], buf[65536];
	struct bs_shelf *s;
	FILE *f;
	size_t n;

	if (argc == 1) {
		snprintf(path, sizeof(path), "%s/.bootshelf/status", argv[0]);
		if (!(f = fopen(path, "r"))) {
			fprintf(stderr, "%s: status: %s: %s (is bootshelf-fs "
				"mounted there?)\n", c->prog, path,
				strerror(errno));
			return 1;
		}
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, stdout);
		fclose(f);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s status [MOUNTPOINT]\n", c->prog);
		return 2;
	}
	if (!(s = cli_open_shelf(c)))
		return 1;
	char *txt = bs_shelf_status(s);
	if (txt)
		fputs(txt, stdout);
	free(txt);
	bs_shelf_close(s);
	return txt ? 0 : 1;
}
