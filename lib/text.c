/*
 * text.c - a capped, growable text buffer for generated files.
 *
 * A reload writes tens of thousands of small configs, so the common
 * conversions (%s %c %d %i %u %x %X with flags '-' and '0', a width,
 * a string precision, the h/l/ll/z/j/t lengths) are formatted here
 * directly: vsnprintf costs about a thousand instructions per call before
 * it writes a byte.  Any other conversion falls back to vsnprintf for the
 * whole call, so the output is always what printf would write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <bootshelf/bootgen.h>

/* Room for @n more bytes and a NUL.  0, or -1 (t->failed set). */
static int reserve(struct bs_text *t, size_t n)
{
	size_t cap;
	char *b;

	if (t->buf && t->len + n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 1024;
	while (cap < t->len + n + 1)
		cap *= 2;
	if (cap > t->max || !(b = realloc(t->buf, cap))) {
		t->failed = 1;
		return -1;
	}
	t->buf = b;
	t->cap = cap;
	return 0;
}

/* @s (@n bytes) padded to @width with @pad, on the left unless @left. */
static int put_field(struct bs_text *t, const char *s, size_t n,
		     size_t width, int left, char pad)
{
	size_t fill = width > n ? width - n : 0;

	if (reserve(t, n + fill) < 0)
		return -1;
	if (!left) {
		/* zero padding goes after the sign */
		if (pad == '0' && n && s[0] == '-') {
			t->buf[t->len++] = '-';
			s++;
			n--;
		}
		memset(t->buf + t->len, pad, fill);
		t->len += fill;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	if (left) {
		memset(t->buf + t->len, ' ', fill);
		t->len += fill;
	}
	t->buf[t->len] = '\0';
	return 0;
}

/* Digits of @v in base 10 or 16, at the end of @end; returns the start. */
static char *digits(char *end, uintmax_t v, int base, int upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		*--end = d[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	return end;
}

/*
 * Format @fmt into @t.  0 done, 1 a conversion this does not know (the
 * caller starts over with vsnprintf), -1 out of room (t->failed).
 */
static int fast(struct bs_text *t, const char *fmt, va_list ap)
{
	const char *p = fmt;

	if (reserve(t, 0) < 0)
		return -1;
	t->buf[t->len] = '\0';	/* also when nothing is added */
	for (;;) {
		const char *pct = strchr(p, '%');
		size_t n = pct ? (size_t)(pct - p) : strlen(p);
		int left = 0, lng = 0, prec = -1;
		size_t width = 0;
		char pad = ' ', num[64], *s;
		uintmax_t u;
		intmax_t v;

		if (n && put_field(t, p, n, 0, 0, ' ') < 0)
			return -1;
		if (!pct)
			return 0;
		p = pct + 1;
		for (;; p++) {
			if (*p == '-')
				left = 1;
			else if (*p == '0')
				pad = '0';
			else
				break;
		}
		if (*p == '*') {
			int w = va_arg(ap, int);
			if (w < 0) {
				left = 1;
				w = -w;
			}
			width = (size_t)w;
			p++;
		} else {
			while (*p >= '0' && *p <= '9')
				width = width * 10 + (size_t)(*p++ - '0');
		}
		if (*p == '.') {
			p++;
			prec = 0;
			if (*p == '*') {
				prec = va_arg(ap, int);
				p++;
			} else {
				while (*p >= '0' && *p <= '9')
					prec = prec * 10 + (*p++ - '0');
			}
		}
		if (left)
			pad = ' ';
		for (;; p++) {
			if (*p == 'h')
				lng = -1;	/* printf narrows: its job */
			else if (*p == 'l')
				lng++;
			else if (*p == 'z')
				lng = 3;
			else if (*p == 'j')
				lng = 4;
			else if (*p == 't')
				lng = 5;
			else
				break;
		}
		if (lng < 0)
			return 1;
		switch (*p) {
		case '%':
			if (put_field(t, "%", 1, 0, 0, ' ') < 0)
				return -1;
			break;
		case 's':
			s = va_arg(ap, char *);
			if (!s || lng > 0)
				return 1;	/* "(null)", wide: printf's */
			n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
			if (put_field(t, s, n, width, left, ' ') < 0)
				return -1;
			break;
		case 'c':
			if (lng > 0)
				return 1;
			num[0] = (char)va_arg(ap, int);
			if (put_field(t, num, 1, width, left, ' ') < 0)
				return -1;
			break;
		case 'd':
		case 'i':
			if (prec >= 0)
				return 1;
			v = lng == 5 ? va_arg(ap, ptrdiff_t) :
			    lng == 4 ? va_arg(ap, intmax_t) :
			    lng == 3 ? va_arg(ap, ssize_t) :
			    lng == 2 ? va_arg(ap, long long) :
			    lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
			u = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
			s = digits(num + sizeof(num), u, 10, 0);
			if (v < 0)
				*--s = '-';
			if (put_field(t, s, (size_t)(num + sizeof(num) - s),
				      width, left, pad) < 0)
				return -1;
			break;
		case 'u':
		case 'x':
		case 'X':
			if (prec >= 0)
				return 1;
			u = lng == 5 ? (uintmax_t)va_arg(ap, ptrdiff_t) :
			    lng == 4 ? va_arg(ap, uintmax_t) :
			    lng == 3 ? va_arg(ap, size_t) :
			    lng == 2 ? va_arg(ap, unsigned long long) :
			    lng == 1 ? va_arg(ap, unsigned long) :
				       va_arg(ap, unsigned int);
			s = digits(num + sizeof(num), u, *p == 'u' ? 10 : 16,
				   *p == 'X');
			if (put_field(t, s, (size_t)(num + sizeof(num) - s),
				      width, left, pad) < 0)
				return -1;
			break;
		default:
			return 1;
		}
		p++;
	}
}

void bs_text_add(struct bs_text *t, const char *fmt, ...)
{
	size_t len0 = t->len;
	va_list ap;
	int n, rc;

	if (t->failed)
		return;
	if (!t->max)
		t->max = 16u << 20;
	va_start(ap, fmt);
	rc = fast(t, fmt, ap);
	va_end(ap);
	if (rc <= 0)
		return;
	t->len = len0;		/* printf knows this one */
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
		if (reserve(t, (size_t)n) < 0)
			return;
	}
}

void bs_text_free(struct bs_text *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}
