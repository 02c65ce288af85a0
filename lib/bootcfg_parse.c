/*
 * bootcfg_parse.c - read isolinux/syslinux and GRUB configs from ISOs.
 * Only what bootshelf needs: one kernel, its initrds and arguments.  No
 * INCLUDE following, no GRUB scripting beyond skipping $variables.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "bootcfg_i.h"

/* Next line of [*p, end) into buf (trimmed, truncated); 0 at end. */
static int next_line(const char **p, const char *end, char *buf, size_t n)
{
	const char *s = *p, *e;
	size_t len;

	if (s >= end)
		return 0;
	e = memchr(s, '\n', (size_t)(end - s));
	if (!e)
		e = end;
	*p = e < end ? e + 1 : end;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	len = (size_t)(e - s);
	if (len >= n)
		len = n - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)	/* NULs and tabs */
		if (buf[i] == '\0' || buf[i] == '\t')
			buf[i] = ' ';
	return 1;
}

static void copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Split "a,b" into the entry's initrd list. */
static void add_initrds(struct bs_bootcfg_entry *e, const char *list)
{
	char tmp[512];
	char *save = NULL, *tok;

	copy(tmp, sizeof(tmp), list);
	for (tok = strtok_r(tmp, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (e->ninitrd >= BS_MAX_INITRDS)
			break;
		if (strncmp(tok, "::", 2) == 0)
			tok += 2;
		copy(e->initrd[e->ninitrd++], sizeof(e->initrd[0]), tok);
	}
}

/* Append words of @args, moving initrd= into the initrd list and
 * dropping tokens the server must not pass on. */
static void add_args(struct bs_bootcfg_entry *e, const char *args)
{
	char tmp[1024];
	char *save = NULL, *tok;
	size_t len = strlen(e->append);

	copy(tmp, sizeof(tmp), args);
	for (tok = strtok_r(tmp, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (strncasecmp(tok, "initrd=", 7) == 0) {
			add_initrds(e, tok + 7);
			continue;
		}
		if (strncmp(tok, "BOOT_IMAGE=", 11) == 0 || strchr(tok, '$') ||
		    strcmp(tok, "---") == 0 || strcmp(tok, "--") == 0)
			continue;
		size_t tl = strlen(tok);
		if (len + tl + 2 >= sizeof(e->append))
			break;
		if (len)
			e->append[len++] = ' ';
		memcpy(e->append + len, tok, tl + 1);
		len += tl;
	}
}

static int skip_entry(const struct bs_bootcfg_entry *e)
{
	const char *k = e->kernel;
	size_t kl = strlen(k);

	if (!kl)
		return 1;
	if (kl > 4 && strcasecmp(k + kl - 4, ".c32") == 0)
		return 1;
	if (strcasestr(k, "memtest") || strcasestr(k, "hdt") ||
	    strcasestr(k, "ipxe") || strcasestr(k, "memdisk"))
		return 1;
	/* Media checks read the whole medium: useless over the network. */
	if (strstr(e->append, "rd.live.check") ||
	    strstr(e->append, "integrity-check") ||
	    strstr(e->append, "check=1"))
		return 1;
	return 0;
}

/* Keyword match: case-insensitive word followed by space or end. */
static const char *kw(const char *line, const char *word)
{
	size_t n = strlen(word);
	if (strncasecmp(line, word, n) == 0 &&
	    (line[n] == ' ' || line[n] == '\0')) {
		line += n;
		while (*line == ' ')
			line++;
		return line;
	}
	return NULL;
}

int bs_bootcfg_syslinux(const char *text, size_t len,
			struct bs_bootcfg_entry *out)
{
	const char *p = text, *end = text + len, *v;
	char line[1024], def[128] = "", label[128] = "", global[1024] = "";
	struct bs_bootcfg_entry cur, first;
	int have_cur = 0, have_first = 0, cur_is_def = 0, cur_append = 0;

	memset(&first, 0, sizeof(first));
	memset(&cur, 0, sizeof(cur));
	memset(out, 0, sizeof(*out));
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0 learns DEFAULT; pass 1 walks the labels */
		p = text;
		while (next_line(&p, end, line, sizeof(line))) {
			if (pass == 0) {
				if ((v = kw(line, "default")) &&
				    !strchr(v, ' ') && !strstr(v, ".c32"))
					copy(def, sizeof(def), v);
				else if ((v = kw(line, "append")) && !label[0])
					copy(global, sizeof(global), v);
				else if ((v = kw(line, "label")))
					label[0] = 'x';
				continue;
			}
			if ((v = kw(line, "label"))) {
				if (have_cur && !skip_entry(&cur)) {
					if (cur_is_def) {
						*out = cur;
						return 0;
					}
					if (!have_first) {
						first = cur;
						have_first = 1;
					}
				}
				memset(&cur, 0, sizeof(cur));
				have_cur = 1;
				cur_append = 0;
				copy(label, sizeof(label), v);
				cur_is_def = def[0] &&
					     strcasecmp(label, def) == 0;
				if (global[0] && !cur_append)
					add_args(&cur, global);
			} else if (!have_cur) {
				continue;
			} else if ((v = kw(line, "kernel")) ||
				   (v = kw(line, "linux"))) {
				char k[256];
				copy(k, sizeof(k), v);
				k[strcspn(k, " ")] = '\0';
				copy(cur.kernel, sizeof(cur.kernel),
				     strncmp(k, "::", 2) == 0 ? k + 2 : k);
				/* KERNEL path args: args act as APPEND */
				if (strchr(v, ' '))
					add_args(&cur, strchr(v, ' ') + 1);
			} else if ((v = kw(line, "initrd"))) {
				add_initrds(&cur, v);
			} else if ((v = kw(line, "append"))) {
				if (!cur_append) {
					/* a label's APPEND replaces the
					 * global one */
					cur.append[0] = '\0';
					cur_append = 1;
				}
				add_args(&cur, v);
			} else if (kw(line, "menu") && strcasestr(line,
							       "default")) {
				cur_is_def = 1;
			}
		}
	}
	if (have_cur && !skip_entry(&cur)) {
		if (cur_is_def || !have_first) {
			*out = cur;
			return 0;
		}
	}
	if (have_first) {
		*out = first;
		return 0;
	}
	return -ENOENT;
}

int bs_bootcfg_grub(const char *text, size_t len,
		    struct bs_bootcfg_entry *out)
{
	const char *p = text, *end = text + len, *v;
	char line[1024];
	struct bs_bootcfg_entry cur;
	int in_entry = 0, bad = 0;

	memset(out, 0, sizeof(*out));
	while (next_line(&p, end, line, sizeof(line))) {
		if (kw(line, "menuentry") || kw(line, "submenu")) {
			memset(&cur, 0, sizeof(cur));
			in_entry = 1;
			bad = 0;
			continue;
		}
		if (!in_entry)
			continue;
		if ((v = kw(line, "linux")) || (v = kw(line, "linuxefi")) ||
		    (v = kw(line, "linux16"))) {
			char k[256];
			copy(k, sizeof(k), v);
			k[strcspn(k, " ")] = '\0';
			if (strchr(k, '$') || strchr(k, '('))
				bad = 1;
			copy(cur.kernel, sizeof(cur.kernel), k);
			if (strchr(v, ' '))
				add_args(&cur, strchr(v, ' ') + 1);
		} else if ((v = kw(line, "initrd")) ||
			   (v = kw(line, "initrdefi")) ||
			   (v = kw(line, "initrd16"))) {
			if (strchr(v, '$') || strchr(v, '('))
				bad = 1;
			add_initrds(&cur, v);
		} else if (kw(line, "chainloader")) {
			bad = 1;
		} else if (line[0] == '}') {
			in_entry = 0;
			if (!bad && !skip_entry(&cur)) {
				*out = cur;
				return 0;
			}
		}
	}
	return -ENOENT;
}
