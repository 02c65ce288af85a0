/*
 * catalog_diag.c - the growable list of catalog diagnostics (struct
 * bs_diags) and their one-line text form "FILE:LINE: error: MSG".
 *
 * Messages are cleaned with bs_log_clean() when they are added, so text
 * quoted from a catalog (which may hold any byte but NUL and newline)
 * cannot put control characters on a terminal or in a log.  Out of
 * memory never loses the verdict: nerrors is counted even when the
 * message itself cannot be stored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/catalog.h>
#include <bootshelf/log.h>

#define DIAG_MSG_MAX 512

void bs_diags_add(struct bs_diags *d, enum bs_diag_sev sev, const char *file,
		  int line, const char *fmt, ...)
{
	char raw[DIAG_MSG_MAX], clean[DIAG_MSG_MAX];
	struct bs_diag *g;
	va_list ap;

	if (!d)
		return;
	if (sev == BS_DIAG_ERROR)
		d->nerrors++;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	bs_log_clean(clean, sizeof(clean), raw, strlen(raw));
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 8;
		struct bs_diag *nv = realloc(d->v, ncap * sizeof(*nv));
		if (!nv)
			return;
		d->v = nv;
		d->cap = ncap;
	}
	g = &d->v[d->n];
	g->sev = sev;
	g->line = line;
	g->file = file ? strdup(file) : NULL;
	g->msg = strdup(clean);
	if ((file && !g->file) || !g->msg) {
		free(g->file);
		free(g->msg);
		return;
	}
	d->n++;
}

void bs_diag_format(const struct bs_diag *g, char *buf, size_t len)
{
	const char *sev = g->sev == BS_DIAG_ERROR ? "error" : "warning";

	if (!len)
		return;
	if (g->file && g->line > 0)
		snprintf(buf, len, "%s:%d: %s: %s", g->file, g->line, sev,
			 g->msg);
	else if (g->file)
		snprintf(buf, len, "%s: %s: %s", g->file, sev, g->msg);
	else
		snprintf(buf, len, "%s: %s", sev, g->msg);
}

void bs_diags_free(struct bs_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
