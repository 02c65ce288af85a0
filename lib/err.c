/*
 * err.c - struct bs_error helpers.  No allocation, so usable on any path.
 */
#include <stdio.h>
#include <string.h>

#include <bootshelf/err.h>

int bs_error_set(struct bs_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void bs_error_prefix(struct bs_error *e, const char *fmt, ...)
{
	char pre[BS_ERRMSG_MAX], old[BS_ERRMSG_MAX];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is fine: the message is for people. */
	size_t n = strnlen(pre, sizeof(pre) - 3);
	memcpy(e->msg, pre, n);
	memcpy(e->msg + n, ": ", 2);
	size_t room = sizeof(e->msg) - n - 3;
	size_t m = strnlen(old, room);
	memcpy(e->msg + n + 2, old, m);
	e->msg[n + 2 + m] = '\0';
}

void bs_error_clear(struct bs_error *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}
