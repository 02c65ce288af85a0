/*
 * catalog_ini.c - the catalog's INI syntax, read with libinih: turns a
 * buffer into sections and key lines with line numbers, and reports
 * syntax errors.  What sections and keys mean is catalog.c's business.
 *
 * Debian's libinih is built with a 200-byte line buffer, without line
 * numbers in the handler and without a handler call for a section line.
 * So the reader given to ini_parse_stream() feeds inih exactly one
 * physical line per call, counts lines, and classifies each line by the
 * same rules inih uses (comments, continuation, "[section]", "key =
 * value"), which gives every section and key its line, empty sections,
 * and every syntax error rather than only the first.  A line too long
 * for inih's buffer is handed to it shortened, and the handler takes the
 * value from the reader instead.  inih's own verdict is cross-checked.
 *
 * Deliberately left out: quoting and escapes (values are verbatim, as
 * KIWI keys need), and "key" lines without a value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "catalog_i.h"

enum line_kind { L_NONE, L_SECT, L_KEY, L_CONT };

struct reader {
	const char *p, *end;	/* rest of the buffer */
	int lineno;
	const char *file;
	struct bs_ini *ini;
	struct bs_diags *d;
	int have_key;		/* mirrors inih's non-empty prev_name */
	enum line_kind kind;	/* of the line just handed to inih */
	char *key;		/* that line's key, owned (L_KEY) */
	char *value;		/* that line's value, owned (L_KEY, L_CONT) */
	int fits;		/* that line was handed over whole */
	int first_err;		/* first line with a syntax error, or 0 */
	int oom;
};

static void syntax_err(struct reader *r, const char *msg)
{
	if (!r->first_err)
		r->first_err = r->lineno;
	bs_diags_add(r->d, BS_DIAG_ERROR, r->file, r->lineno, "%s", msg);
}

/* inih's find_chars_or_comment(): first of @chars, or an inline comment
 * prefix that follows whitespace, or @e. */
static const char *find_chars(const char *s, const char *e,
			      const char *chars)
{
	int was_space = 0;

	for (; s < e; s++) {
		if (chars && strchr(chars, *s))
			break;
#if INI_ALLOW_INLINE_COMMENTS
		if (was_space && strchr(INI_INLINE_COMMENT_PREFIXES, *s))
			break;
#endif
		was_space = isspace((unsigned char)*s);
	}
	return s;
}

static const char *lskip(const char *s, const char *e)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	return s;
}

static const char *rstrip(const char *s, const char *e)
{
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	return e;
}

static char *dup_range(struct reader *r, const char *s, const char *e)
{
	char *v = strndup(s, (size_t)(e - s));

	if (!v)
		r->oom = 1;
	return v;
}

static struct bs_ini_sect *new_sect(struct reader *r, const char *s,
				    const char *e)
{
	struct bs_ini *ini = r->ini;
	struct bs_ini_sect *sec;

	if (ini->n == ini->cap) {
		size_t ncap = ini->cap ? ini->cap * 2 : 16;
		struct bs_ini_sect *nv = realloc(ini->s, ncap * sizeof(*nv));
		if (!nv) {
			r->oom = 1;
			return NULL;
		}
		ini->s = nv;
		ini->cap = ncap;
	}
	sec = &ini->s[ini->n];
	memset(sec, 0, sizeof(*sec));
	sec->header = dup_range(r, s, e);
	if (!sec->header)
		return NULL;
	sec->line = sec->end_line = r->lineno;
	ini->n++;
	return sec;
}

/* Classify one line (without its newline) as inih will see it; remember
 * what it holds; return what to hand inih in @out (size @num). */
static void classify(struct reader *r, const char *l, size_t n, char *out,
		     int num)
{
	const char *e = l + n, *s, *t;
	int fits = (int)n + 2 <= num;	/* line, '\n', NUL */

	r->fits = fits;
	r->kind = L_NONE;
	free(r->key);
	free(r->value);
	r->key = r->value = NULL;
	strcpy(out, "\n");
	if (memchr(l, '\0', n)) {
		syntax_err(r, "NUL byte in line");
		return;
	}
	s = l;
#if INI_ALLOW_BOM
	if (r->lineno == 1 && n >= 3 && memcmp(l, "\xef\xbb\xbf", 3) == 0)
		s += 3;
#endif
	e = rstrip(s, e);
	s = lskip(s, e);
	if (s == e || strchr(INI_START_COMMENT_PREFIXES, *s))
		return;
	if (fits) {
		memcpy(out, l, n);
		memcpy(out + n, "\n", 2);
	}
#if INI_ALLOW_MULTILINE
	if (r->have_key && s > l) {
		r->kind = L_CONT;
		r->value = dup_range(r, s, rstrip(s, find_chars(s, e, NULL)));
		if (!fits)
			strcpy(out, " x\n");
		return;
	}
#endif
	if (*s == '[') {
		t = find_chars(s + 1, e, "]");
		if (t == e || *t != ']') {
			syntax_err(r, "section header without ']'");
			if (!fits)
				strcpy(out, "[\n");
			return;
		}
		r->kind = L_SECT;
		r->have_key = 0;
		new_sect(r, s + 1, t);
		/* inih ignores the rest; say so unless it is a comment */
		s = lskip(t + 1, e);
		if (s < e && (s == t + 1 || !strchr(";#", *s)))
			bs_diags_add(r->d, BS_DIAG_WARNING, r->file, r->lineno,
				     "text after ']' ignored");
		if (!fits)
			strcpy(out, "[x]\n");
		return;
	}
	t = find_chars(s, e, "=:");
	if (t == e || (*t != '=' && *t != ':')) {
		syntax_err(r, "expected 'key = value' or '[section]'");
		if (!fits)
			strcpy(out, "x\n");
		return;
	}
	r->kind = L_KEY;
	r->key = dup_range(r, s, rstrip(s, t));
	t++;
	r->value = dup_range(r, lskip(t, e),
			     rstrip(lskip(t, e), find_chars(t, e, NULL)));
	r->have_key = rstrip(s, t - 1) > s;
	if (!fits)
		strcpy(out, r->have_key ? "k=x\n" : "=x\n");
}

/* ini_reader: one physical line per call, never more than inih's buffer
 * and always ending in '\n' (so no inih version splits or swallows it). */
static char *read_line(char *out, int num, void *stream)
{
	struct reader *r = stream;
	const char *nl;
	size_t n;

	if (r->p >= r->end || num < 5)
		return NULL;
	nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	n = nl ? (size_t)(nl - r->p) : (size_t)(r->end - r->p);
	r->lineno++;
	classify(r, r->p, n, out, num);
	r->p += n + (nl != NULL);
	return out;
}

static int add_kv(struct reader *r, struct bs_ini_sect *sec, char *key,
		  char *value)
{
	struct bs_ini_kv *kv;

	if (sec->nkv == sec->cap) {
		size_t ncap = sec->cap ? sec->cap * 2 : 8;
		struct bs_ini_kv *nv = realloc(sec->kv, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		sec->kv = nv;
		sec->cap = ncap;
	}
	kv = &sec->kv[sec->nkv++];
	kv->key = key;
	kv->value = value;
	kv->line = r->lineno;
	return 0;
}

static int append_value(struct bs_ini_kv *kv, const char *more)
{
	size_t a = strlen(kv->value), b = strlen(more);
	char *v;

	if (b == 0)
		return 0;
	v = realloc(kv->value, a + b + 2);
	if (!v)
		return -ENOMEM;
	if (a)
		v[a++] = ' ';
	memcpy(v + a, more, b + 1);
	kv->value = v;
	return 0;
}

/* ini_handler.  @section and a continuation's @name may be truncated by
 * inih (50 bytes), so the section and the key come from the reader.  A
 * key's value is inih's unless the line was too long to hand over whole.
 * A continuation line's value is the reader's: inih versions differ on
 * whether an inline comment ends it (55 keeps it), and here it does, as
 * on a key line. */
static int on_value(void *user, const char *section, const char *name,
		    const char *value)
{
	struct reader *r = user;
	struct bs_ini_sect *sec = r->ini->n ? &r->ini->s[r->ini->n - 1] : NULL;
	char *v;

	(void)section;
	(void)name;
	if (r->oom || !r->value || (r->kind != L_KEY && r->kind != L_CONT))
		return 1;
	if (r->kind == L_KEY && r->fits && strcmp(value, r->value) != 0) {
		/* cannot happen while the rules above match inih's */
		bs_diags_add(r->d, BS_DIAG_ERROR, r->file, r->lineno,
			     "line not understood");
		return 1;
	}
	if (!sec) {
		if (r->kind == L_KEY)
			bs_diags_add(r->d, BS_DIAG_ERROR, r->file, r->lineno,
				     "key '%.64s' outside any section",
				     r->key);
		return 1;
	}
	sec->end_line = r->lineno;
	if (r->kind == L_CONT) {
		if (sec->nkv && append_value(&sec->kv[sec->nkv - 1], r->value))
			r->oom = 1;
		return 1;
	}
	v = r->value;
	if (add_kv(r, sec, r->key, v)) {
		r->oom = 1;
		return 1;
	}
	r->key = r->value = NULL;
	return 1;
}

int bs_ini_read(const char *file, const char *text, size_t len,
		struct bs_ini *ini, struct bs_diags *d)
{
	struct reader r = { .p = text, .end = text + len, .file = file,
			    .ini = ini, .d = d };
	int ret;

	ret = ini_parse_stream(read_line, &r, on_value, &r);
	free(r.key);
	free(r.value);
	if (r.oom || ret < 0)
		return -ENOMEM;
	if (ret > 0 && ret != r.first_err)
		bs_diags_add(d, BS_DIAG_ERROR, file, ret, "syntax error");
	return 0;
}

void bs_ini_split_header(char *buf, char **type, char **name)
{
	char *s = buf, *e = buf + strlen(buf);

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	*type = s;
	while (s < e && !isspace((unsigned char)*s))
		s++;
	if (s < e)
		*s++ = '\0';
	while (s < e && isspace((unsigned char)*s))
		s++;
	*name = s;
}

void bs_ini_free(struct bs_ini *ini)
{
	for (size_t i = 0; i < ini->n; i++) {
		struct bs_ini_sect *sec = &ini->s[i];
		for (size_t j = 0; j < sec->nkv; j++) {
			free(sec->kv[j].key);
			free(sec->kv[j].value);
		}
		free(sec->kv);
		free(sec->header);
	}
	free(ini->s);
	memset(ini, 0, sizeof(*ini));
}
