/*
 * text.c - a capped, growable text buffer for generated files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <bootshelf/bootgen.h>

void bs_text_add(struct bs_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	if (!t->max)
		t->max = 16u << 20;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		if (cap > t->max) {
			t->failed = 1;
			return;
		}
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->failed = 1;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

void bs_text_free(struct bs_text *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}
