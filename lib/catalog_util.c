/*
 * catalog_util.c - small pure helpers of the catalog: MAC addresses,
 * entry names, delivery modes, pass-through key names and "did you
 * mean" suggestions.  No allocation, no I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "catalog_i.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Six pairs of hex digits, either all joined or all separated by the
 * same one of ':' '-' '.' (the last is KIWI's config.<MAC> form). */
int bs_mac_parse(const char *s, uint8_t mac[6])
{
	size_t len, step;
	char sep = 0;
	uint8_t m[6];

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 12) {
		step = 2;
	} else if (len == 17) {
		sep = s[2];
		if (sep != ':' && sep != '-' && sep != '.')
			return -EINVAL;
		step = 3;
	} else {
		return -EINVAL;
	}
	for (size_t i = 0; i < 6; i++) {
		const char *p = s + i * step;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (sep && i < 5 && p[2] != sep)
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, 6);
	return 0;
}

void bs_mac_format(const uint8_t mac[6], char buf[18])
{
	static const char hex[] = "0123456789abcdef";

	/* by hand: a catalog of 10,000 hosts formats 10,000 MACs */
	for (int i = 0; i < 6; i++) {
		buf[3 * i] = hex[mac[i] >> 4];
		buf[3 * i + 1] = hex[mac[i] & 15];
		buf[3 * i + 2] = i < 5 ? ':' : '\0';
	}
}

/* Names become directory names in the tree and words in boot-loader
 * configs, hence the small alphabet and no leading '.' or '-'. */
int bs_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n >= BS_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static const char *const delivery_names[] = {
	[BS_DELIVERY_AUTO] = "auto",	[BS_DELIVERY_CPIO] = "cpio",
	[BS_DELIVERY_HTTP] = "http",	[BS_DELIVERY_NFS] = "nfs",
	[BS_DELIVERY_AOE] = "aoe",	[BS_DELIVERY_SANBOOT] = "sanboot",
};

const char *bs_delivery_name(enum bs_delivery d)
{
	if ((unsigned)d >= sizeof(delivery_names) / sizeof(*delivery_names))
		return "?";
	return delivery_names[d];
}

int bs_delivery_parse(const char *s, enum bs_delivery *out)
{
	for (size_t i = 0; s && i < sizeof(delivery_names) /
					sizeof(*delivery_names); i++) {
		if (strcmp(s, delivery_names[i]) == 0) {
			*out = (enum bs_delivery)i;
			return 0;
		}
	}
	return -EINVAL;
}

int bs_cat_passthrough_key(const char *key)
{
	if (!(key[0] >= 'A' && key[0] <= 'Z'))
		return 0;
	for (const char *p = key + 1; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 0;
	return 1;
}

#define SUGGEST_LEN 32

/* Levenshtein distance, case-insensitive; words are short (bounded by
 * the caller), so one row on the stack is enough. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[SUGGEST_LEN + 1];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			char ca = a[i - 1], cb = b[j - 1];
			size_t up = row[j];
			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			if (cb >= 'A' && cb <= 'Z')
				cb = (char)(cb - 'A' + 'a');
			size_t best = diag + (ca != cb);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *bs_cat_suggest(const char *word, const char *const *cands)
{
	const char *best = NULL;
	size_t bestd = 3, wl = strlen(word);

	if (wl == 0 || wl > SUGGEST_LEN)
		return NULL;
	for (size_t i = 0; cands[i]; i++) {
		size_t cl = strlen(cands[i]), d;
		if (cl > SUGGEST_LEN)
			continue;
		d = distance(word, cands[i]);
		/* two edits of a two-letter word is no suggestion */
		if (d < bestd && d < (wl > cl ? wl : cl)) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}
