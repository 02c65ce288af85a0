/*
 * catalog_edit.c - adds, replaces and removes one [iso], [image] or
 * [host] section, for the CLI.
 *
 * An edit rewrites only the lines of the one section it touches, in the
 * file that holds it (a new section is appended to the main file after a
 * blank line); every other byte of every file stays as it was.  Replace
 * keeps the section where it is, rewrites its header in canonical form
 * (keeping a comment after the ']'), keeps the comment lines that were
 * inside the section, in order, right below the header, and drops the
 * old key lines (with their inline comments) and the blank lines inside.
 * Remove deletes the header through the section's last key line, with
 * the comments in between, and one of two blank lines left meeting; a
 * comment just above the header stays (it may describe what follows).
 *
 * The whole edit runs under flock(LOCK_EX) on the main file.  The new
 * text is validated as part of the whole catalog (main file and
 * drop-ins), written to a temporary file beside the old one, fsync'ed,
 * renamed over it, and the directory fsync'ed.  A bad edit changes
 * nothing and returns -EINVAL with the diagnostics.
 *
 * Left out: creating a catalog that does not exist, editing [server]
 * and [menu] (the administrator writes those).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog_i.h"

/* A growable output buffer; sticky out-of-memory flag. */
struct obuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct obuf *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t ncap = (o->len + n + 1) * 2;
		char *np = realloc(o->p, ncap);
		if (!np) {
			o->oom = 1;
			return;
		}
		o->p = np;
		o->cap = ncap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct obuf *o, const char *s)
{
	put(o, s, strlen(s));
}

/* The files of a catalog, main first, with their text. */
struct files {
	struct bs_cat_src *src;	/* .file and .text owned */
	size_t n;
};

static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free((char *)f->src[i].file);
		free((char *)f->src[i].text);
	}
	free(f->src);
	f->n = 0;
}

static int files_read(const char *catpath, struct files *f,
		      struct bs_diags *d)
{
	char **drop = NULL;
	int nd = bs_catalog_dropins(catpath, &drop), ret = 0;

	if (nd < 0) {
		bs_diags_add(d, BS_DIAG_ERROR, catpath, 0, "cannot read the "
			     "drop-in directory: %s", strerror(-nd));
		return nd;
	}
	f->src = calloc((size_t)nd + 1, sizeof(*f->src));
	if (!f->src) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = -1; i < nd; i++) {
		struct bs_cat_src *s = &f->src[f->n];
		char *text;
		int r;
		s->file = strdup(i < 0 ? catpath : drop[i]);
		if (!s->file) {
			ret = -ENOMEM;
			goto out;
		}
		r = bs_catalog_slurp(s->file, &text, &s->len);
		if (r < 0) {
			bs_diags_add(d, BS_DIAG_ERROR, s->file, 0,
				     "cannot read: %s", strerror(-r));
			free((char *)s->file);
			ret = r;
			goto out;
		}
		s->text = text;
		f->n++;
	}
out:
	bs_catalog_free_list(drop, (size_t)nd);
	if (ret)
		files_free(f);
	return ret;
}

/* Where a section is: file index, header line, last line. */
struct where {
	size_t file;
	int line, end_line;
};

/* Find "[kind name]" (a host by its MAC in any accepted form).
 * @ret 1 found, 0 not found, -ENOMEM. */
static int find_section(const struct files *f, const char *kind,
			const char *name, struct where *w)
{
	uint8_t mac[6], m2[6];
	int is_host = !strcmp(kind, "host"), found = 0;

	if (is_host && bs_mac_parse(name, mac))
		return 0;
	for (size_t i = 0; i < f->n && !found; i++) {
		struct bs_ini ini = { 0 };
		if (bs_ini_read(f->src[i].file, f->src[i].text, f->src[i].len,
				&ini, NULL)) {
			bs_ini_free(&ini);
			return -ENOMEM;
		}
		for (size_t j = 0; j < ini.n && !found; j++) {
			char *t, *n;
			bs_ini_split_header(ini.s[j].header, &t, &n);
			if (strcmp(t, kind))
				continue;
			if (is_host ? !bs_mac_parse(n, m2) &&
				      !memcmp(mac, m2, 6) : !strcmp(n, name)) {
				w->file = i;
				w->line = ini.s[j].line;
				w->end_line = ini.s[j].end_line;
				found = 1;
			}
		}
		bs_ini_free(&ini);
	}
	return found;
}

/* Offsets of the starts of lines 1..n (and one past the end) of @t. */
static size_t *line_starts(const char *t, size_t len, int *n)
{
	size_t cnt = 0, k = 0, *v;

	for (size_t i = 0; i < len; i++)
		cnt += t[i] == '\n';
	if (len && t[len - 1] != '\n')
		cnt++;
	v = malloc((cnt + 1) * sizeof(*v));
	if (!v)
		return NULL;
	v[k++] = 0;
	for (size_t i = 0; i < len; i++)
		if (t[i] == '\n' && i + 1 < len)
			v[k++] = i + 1;
	v[k] = len;
	*n = (int)cnt;
	return v;
}

static int blank_line(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n\v\f", s[i]))
			return 0;
	return 1;
}

static int comment_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && strchr(" \t\r\v\f", s[i]))
		i++;
	return i < n && (s[i] == ';' || s[i] == '#');
}

static void put_section(struct obuf *o, const char *header,
			const struct bs_kv *kv, size_t nkv)
{
	puts_(o, header);
	for (size_t i = 0; i < nkv; i++) {
		puts_(o, kv[i].key);
		puts_(o, " = ");
		puts_(o, kv[i].value);
		puts_(o, "\n");
	}
}

/* New text of the file holding @w with the section replaced by @header
 * and @kv, or removed (@header NULL). */
static int rewrite(const struct bs_cat_src *s, const struct where *w,
		   const char *header, const struct bs_kv *kv, size_t nkv,
		   struct obuf *o)
{
	const char *t = s->text;
	size_t *ls;
	int n;

#define LINE(i) (t + ls[(i) - 1])
#define LLEN(i) (ls[i] - ls[(i) - 1])
	ls = line_starts(t, s->len, &n);
	if (!ls)
		return -ENOMEM;
	put(o, t, ls[w->line - 1]);
	if (header) {
		/* keep a comment after the old header's ']' */
		const char *h = LINE(w->line), *rb;
		rb = memchr(h, ']', LLEN(w->line));
		if (rb) {
			size_t rest = LLEN(w->line) - (size_t)(rb + 1 - h);
			char *hdr = NULL;
			if (rest && rb[rest] == '\n')
				rest--;
			if (asprintf(&hdr, "%.*s%.*s\n",
				     (int)strlen(header) - 1, header,
				     (int)rest, rb + 1) < 0) {
				free(ls);
				return -ENOMEM;
			}
			puts_(o, hdr);
			free(hdr);
		} else {
			puts_(o, header);
		}
		for (int i = w->line + 1; i <= w->end_line; i++)
			if (comment_line(LINE(i), LLEN(i)))
				put(o, LINE(i), LLEN(i));
		put_section(o, "", kv, nkv);
		put(o, t + ls[w->end_line], s->len - ls[w->end_line]);
	} else {
		int next = w->end_line + 1;
		/* do not leave two blank lines meeting */
		if (next <= n && blank_line(LINE(next), LLEN(next)) &&
		    (w->line == 1 || blank_line(LINE(w->line - 1),
						LLEN(w->line - 1))))
			next++;
		else if (next > n && w->line > 1 &&
			 blank_line(LINE(w->line - 1), LLEN(w->line - 1)))
			o->len = ls[w->line - 2];
		if (next <= n)
			put(o, t + ls[next - 1], s->len - ls[next - 1]);
	}
#undef LINE
#undef LLEN
	free(ls);
	return o->oom ? -ENOMEM : 0;
}

/* Append a new section to the main file's text, after a blank line. */
static void append_section(const struct bs_cat_src *s, const char *header,
			   const struct bs_kv *kv, size_t nkv, struct obuf *o)
{
	const char *t = s->text;
	size_t len = s->len;

	put(o, t, len);
	if (len && t[len - 1] != '\n')
		put(o, "\n", 1);
	if (len && !(len >= 2 && t[len - 1] == '\n' && t[len - 2] == '\n'))
		put(o, "\n", 1);
	put_section(o, header, kv, nkv);
}

/* Write @text to a temporary file beside @file, fsync, rename over it,
 * fsync the directory.  Mode and owner are kept. */
static int replace_file(const char *file, const char *text, size_t len)
{
	char *real = realpath(file, NULL), *tmp = NULL, *slash;
	struct stat st;
	size_t off = 0;
	int fd = -1, dfd = -1, ret;

	if (!real)
		return -errno;
	if (stat(real, &st) < 0) {
		ret = -errno;
		goto out;
	}
	slash = strrchr(real, '/');
	if (asprintf(&tmp, "%.*s/.%s.XXXXXX", (int)(slash - real), real,
		     slash + 1) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			goto unlink;
		}
		off += (size_t)w;
	}
	if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) {
		ret = -errno;
		goto unlink;
	}
	if (fchmod(fd, st.st_mode & 07777) < 0 || fsync(fd) < 0) {
		ret = -errno;
		goto unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto unlink;
	}
	fd = -1;
	if (rename(tmp, real) < 0) {
		ret = -errno;
		goto unlink;
	}
	*slash = '\0';
	dfd = open(slash == real ? "/" : real, O_RDONLY | O_DIRECTORY |
		   O_CLOEXEC);
	ret = dfd >= 0 && fsync(dfd) < 0 ? -errno : 0;
	goto out;
unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(real);
	return ret;
}

/* Lock the main file.  The file may have been replaced (renamed over)
 * while we waited: then lock the new one.  @ret fd or -errno. */
static int lock_main(const char *catpath)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat a, b;
		int fd = open(catpath, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX) < 0 || fstat(fd, &a) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (stat(catpath, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
	return -EAGAIN;
}

static int check_args(const char *kind, const char *name,
		      const struct bs_kv *kv, size_t nkv, char *header,
		      struct bs_diags *d)
{
	uint8_t mac[6];
	char ms[18];

	if (!kind || (strcmp(kind, "iso") && strcmp(kind, "image") &&
		      strcmp(kind, "host"))) {
		bs_diags_add(d, BS_DIAG_ERROR, NULL, 0, "can only edit [iso], "
			     "[image] and [host] sections");
		return -EINVAL;
	}
	if (!strcmp(kind, "host")) {
		if (bs_mac_parse(name, mac)) {
			bs_diags_add(d, BS_DIAG_ERROR, NULL, 0, "bad MAC "
				     "address '%.64s'", name ? name : "");
			return -EINVAL;
		}
		bs_mac_format(mac, ms);
		name = ms;
	} else if (!bs_name_valid(name)) {
		bs_diags_add(d, BS_DIAG_ERROR, NULL, 0, "bad entry name "
			     "'%.64s'", name ? name : "");
		return -EINVAL;
	}
	snprintf(header, BS_NAME_MAX + 16, "[%s %s]\n", kind, name);
	for (size_t i = 0; i < nkv; i++) {
		const char *k = kv[i].key, *v = kv[i].value;
		size_t vl = strlen(v);
		if (!*k || strspn(k, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789_") != strlen(k)) {
			bs_diags_add(d, BS_DIAG_ERROR, NULL, 0, "bad key name "
				     "'%.64s'", k);
			return -EINVAL;
		}
		/* what the parser would strip or cut must not be written
		 * (";x" would follow " = ") */
		if (strpbrk(v, "\n\r") || v[0] == ';' ||
		    (vl && (strchr(" \t", v[0]) ||
			    strchr(" \t", v[vl - 1]))) ||
		    strstr(v, " ;") || strstr(v, "\t;")) {
			bs_diags_add(d, BS_DIAG_ERROR, NULL, 0, "value of "
				     "'%s' cannot be written: no line breaks, "
				     "no white space at either end, no ' ;'",
				     k);
			return -EINVAL;
		}
	}
	return 0;
}

enum edit_mode { ADD, SET, RM };

static int edit(const char *catpath, const char *kind, const char *name,
		const struct bs_kv *kv, size_t nkv,
		enum edit_mode mode, struct bs_diags *d)
{
	char header[BS_NAME_MAX + 16];
	struct files f = { 0 };
	struct obuf o = { 0 };
	struct bs_catalog *cat = NULL;
	struct bs_cat_src saved;
	struct where w = { 0 };
	int lock, found, ret;

	ret = check_args(kind, name, kv, nkv, header, d);
	if (ret)
		return ret;
	lock = lock_main(catpath);
	if (lock < 0) {
		bs_diags_add(d, BS_DIAG_ERROR, catpath, 0, "cannot open: %s",
			     strerror(-lock));
		return lock;
	}
	ret = files_read(catpath, &f, d);
	if (ret)
		goto out;
	found = find_section(&f, kind, name, &w);
	if (found < 0) {
		ret = found;
		goto out;
	}
	if (found && mode == ADD) {
		bs_diags_add(d, BS_DIAG_ERROR, f.src[w.file].file, w.line,
			     "%.*s already exists", (int)strlen(header) - 1,
			     header);
		ret = -EEXIST;
		goto out;
	}
	if (!found && mode == RM) {
		bs_diags_add(d, BS_DIAG_ERROR, catpath, 0, "no section %.*s",
			     (int)strlen(header) - 1, header);
		ret = -ENOENT;
		goto out;
	}
	if (found)
		ret = rewrite(&f.src[w.file], &w, mode == RM ? NULL : header,
			      kv, nkv, &o);
	else
		append_section(&f.src[0], header, kv, nkv, &o);
	if (ret || o.oom) {
		ret = -ENOMEM;
		goto out;
	}
	/* validate the catalog as it would be */
	saved = f.src[w.file];
	f.src[w.file].text = o.p ? o.p : "";
	f.src[w.file].len = o.len;
	ret = bs_catalog_build(catpath, f.src, f.n, &cat, d);
	f.src[w.file] = saved;
	bs_catalog_free(cat);
	if (ret)
		goto out;
	ret = replace_file(f.src[w.file].file, o.p ? o.p : "", o.len);
	if (ret)
		bs_diags_add(d, BS_DIAG_ERROR, f.src[w.file].file, 0,
			     "cannot write: %s", strerror(-ret));
out:
	free(o.p);
	files_free(&f);
	close(lock);	/* releases the lock */
	return ret;
}

int bs_catalog_edit_set_section(const char *catpath, const char *kind,
				const char *name, const struct bs_kv *kv,
				size_t nkv, int replace, struct bs_diags *d)
{
	return edit(catpath, kind, name, kv, nkv, replace ? SET : ADD, d);
}

int bs_catalog_edit_rm_section(const char *catpath, const char *kind,
			       const char *name, struct bs_diags *d)
{
	return edit(catpath, kind, name, NULL, 0, RM, d);
}
