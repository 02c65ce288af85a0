/*
 * log.c - stderr or syslog logging, tagged with the program's role.
 * Thread-safe as far as stdio and syslog are: one fprintf per line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <bootshelf/log.h>

static const char *log_role = "bootshelf";
static int log_fg = 1;
static int log_verbose;

void bs_log_init(const char *role, int foreground, int verbose)
{
	log_role = role;
	log_fg = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(role, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *level_word(enum bs_log_level lvl)
{
	switch (lvl) {
	case BS_LOG_ERR: return "error: ";
	case BS_LOG_WARN: return "warning: ";
	case BS_LOG_DEBUG: return "debug: ";
	default: return "";
	}
}

void bs_log(enum bs_log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (lvl == BS_LOG_DEBUG && log_verbose < 1)
		return;
	if (lvl == BS_LOG_INFO && log_verbose < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_fg)
		fprintf(stderr, "%s: %s%s\n", log_role, level_word(lvl), line);
	else
		syslog((int)lvl, "%s%s", level_word(lvl), line);
}

char *bs_log_clean(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
