/*
 * test_catalog.c - the catalog: syntax and value checks with the exact
 * diagnostics they produce, MAC/name/delivery parsing, drop-in order and
 * duplicates across files, robustness against arbitrary bytes, and the
 * editing functions (byte-for-byte preservation, refusal of bad edits).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <bootshelf/catalog.h>

/* All diagnostics of @d, formatted, one per line. */
static char *diag_text(const struct bs_diags *d)
{
	static char out[8192];
	char line[1024];

	out[0] = '\0';
	for (size_t i = 0; i < d->n; i++) {
		bs_diag_format(&d->v[i], line, sizeof(line));
		strncat(out, line, sizeof(out) - strlen(out) - 2);
		strcat(out, "\n");
	}
	return out;
}

/* ---- parse vectors ---------------------------------------------------- */

struct pvec {
	const char *text;
	int ret;		/* 0 or -EINVAL */
	const char *diags;	/* every diagnostic, in order */
};

#define ISO "[iso a]\npath = /a.iso\n"
static const struct pvec pvecs[] = {
	{ "", 0, "" },
	{ "; only a comment\n# another\n\n", 0, "" },
	{ ISO, 0, "" },
	{ ISO "[iso b]\nurl = https://m/b.iso\n", 0, "" },
	/* no trailing newline, CRLF, BOM, inline comment */
	{ "\xef\xbb\xbf[iso a]\r\npath = /a.iso ; x", 0, "" },
	{ "path = /x\n", -EINVAL,
	  "t.conf:1: error: key 'path' outside any section\n" },
	{ "[iso a\npath = /a\n", -EINVAL,
	  "t.conf:1: error: section header without ']'\n"
	  "t.conf:2: error: key 'path' outside any section\n" },
	{ ISO "junk\n", -EINVAL,
	  "t.conf:3: error: expected 'key = value' or '[section]'\n" },
	{ ISO "a\nb\n", -EINVAL,
	  "t.conf:3: error: expected 'key = value' or '[section]'\n"
	  "t.conf:4: error: expected 'key = value' or '[section]'\n" },
	/* '@' stands for a NUL byte */
	{ ISO "x@y = 1\n", -EINVAL, "t.conf:3: error: NUL byte in line\n" },
	{ "[iso a] junk\npath = /a\n", 0,
	  "t.conf:1: warning: text after ']' ignored\n" },
	{ "[iso a] ; fine\npath = /a\n", 0, "" },
	{ "[isa x]\n", -EINVAL,
	  "t.conf:1: error: unknown section type 'isa'; did you mean "
	  "'iso'?\n" },
	{ "[wibble]\n", -EINVAL,
	  "t.conf:1: error: unknown section type 'wibble' (expected server, "
	  "menu, iso, image or host)\n" },
	{ "[iso a]\npth = /a\npath = /a\n", -EINVAL,
	  "t.conf:2: error: unknown key 'pth'; did you mean 'path'?\n" },
	{ "[iso a]\npath = /a\nUNIONFS_CONFIG = x\n", -EINVAL,
	  "t.conf:3: error: unknown key 'UNIONFS_CONFIG' (upper-case "
	  "pass-through keys belong in [image] and [host])\n" },
	{ ISO "path = /b\n", -EINVAL,
	  "t.conf:3: error: duplicate key 'path' (first at line 2)\n" },
	{ ISO ISO, -EINVAL,
	  "t.conf:3: error: duplicate section [iso a] (first at t.conf:1)\n" },
	{ ISO "[image a]\nkernel=/k\ninitrd=/i\nimage=/r\n", -EINVAL,
	  "t.conf:3: error: name 'a' is already used by [iso a] at "
	  "t.conf:1\n" },
	{ "[iso a]\n", -EINVAL,
	  "t.conf:1: error: [iso a] needs 'path' or 'url'\n" },
	{ "[iso a]\npath=/a\nurl=http://x/a.iso\n", -EINVAL,
	  "t.conf:1: error: [iso a] has both 'path' and 'url'; keep one\n" },
	{ "[iso a]\npath = rel.iso\n", -EINVAL,
	  "t.conf:2: error: 'path' must be an absolute path, not "
	  "'rel.iso'\n" },
	{ "[iso a]\nurl = ftp://x/a.iso\n", -EINVAL,
	  "t.conf:2: error: 'url' must be an http:// or https:// URL, not "
	  "'ftp://x/a.iso'\n" },
	{ "[iso .a]\npath=/a\n", -EINVAL,
	  "t.conf:1: error: bad entry name '.a' in [iso] (1-63 of A-Z a-z "
	  "0-9 . _ -, not starting with . or -)\n" },
	{ "[iso a b]\npath=/a\n", -EINVAL,
	  "t.conf:1: error: bad entry name 'a b' in [iso] (1-63 of A-Z a-z "
	  "0-9 . _ -, not starting with . or -)\n" },
	{ "[iso]\npath=/a\n", -EINVAL,
	  "t.conf:1: error: [iso] needs a name\n" },
	{ "[server x]\n", -EINVAL,
	  "t.conf:1: error: [server] takes no name\n" },
	{ ISO "delivery = tftp\n", -EINVAL,
	  "t.conf:3: error: unknown delivery 'tftp' (expected auto, cpio, "
	  "http, nfs, aoe or sanboot)\n" },
	{ ISO "delivery = aoe\n", -EINVAL,
	  "t.conf:1: error: [iso a] has delivery = aoe but no 'aoe = "
	  "SHELF.SLOT'\n" },
	{ ISO "aoe = 65535.1\n", -EINVAL,
	  "t.conf:3: error: bad aoe '65535.1' (expected SHELF.SLOT, shelf "
	  "0-65534, slot 0-254)\n" },
	{ ISO "aoe = 1.255\n", -EINVAL,
	  "t.conf:3: error: bad aoe '1.255' (expected SHELF.SLOT, shelf "
	  "0-65534, slot 0-254)\n" },
	{ ISO "aoe = 1\n", -EINVAL,
	  "t.conf:3: error: bad aoe '1' (expected SHELF.SLOT, shelf 0-65534, "
	  "slot 0-254)\n" },
	{ ISO "aoe = 65534.254\n", 0, "" },
	{ ISO "aoe = 0.1\n[iso b]\npath = /b\naoe = 0.1\n", -EINVAL,
	  "t.conf:6: error: aoe 0.1 of [iso b] is already used by [iso a] at "
	  "t.conf:1\n" },
	{ ISO "sha256 = abc\n", -EINVAL,
	  "t.conf:3: error: sha256 must be 64 hex digits\n" },
	{ ISO "sha256 = 0123456789abcdef0123456789ABCDEF0123456789abcdef0123"
	  "456789abcdeg\n", -EINVAL,
	  "t.conf:3: error: sha256 must be 64 hex digits\n" },
	{ "[menu]\ntimeout = 36001\n", -EINVAL,
	  "t.conf:2: error: bad timeout '36001' (tenths of a second, "
	  "0-36000)\n" },
	{ "[menu]\ntimeout = -1\n", -EINVAL,
	  "t.conf:2: error: bad timeout '-1' (tenths of a second, "
	  "0-36000)\n" },
	{ "[menu]\ndefault = nope\n" ISO, -EINVAL,
	  "t.conf:2: error: default 'nope': no such entry\n" },
	{ "[menu]\ndefault = a\n" ISO, 0, "" },
	{ "[menu]\n[menu]\n", -EINVAL,
	  "t.conf:1: warning: empty section [menu]\n"
	  "t.conf:2: error: duplicate section [menu] (first at t.conf:1)\n" },
	{ "[host 52:54:00:12:34:5g]\nboot = a\n" ISO, -EINVAL,
	  "t.conf:1: error: bad MAC address '52:54:00:12:34:5g' in [host] "
	  "(expected e.g. 52:54:00:12:34:56)\n" },
	{ "[host 52:54:00:12:34:56]\nboot = b\n" ISO, -EINVAL,
	  "t.conf:2: error: boot 'b': no such entry\n" },
	{ "[host 52:54:00:12:34:56]\nappend = x\n", -EINVAL,
	  "t.conf:1: error: [host 52:54:00:12:34:56] needs 'boot'\n" },
	{ ISO "[host 52:54:00:12:34:56]\nboot = a\n"
	  "[host 52-54-00-12-34-56]\nboot = a\n", -EINVAL,
	  "t.conf:5: error: duplicate section [host 52:54:00:12:34:56] (first "
	  "at t.conf:3)\n" },
	{ "[image k]\nkernel = /k\nIMAGE = x\n", -EINVAL,
	  "t.conf:1: error: [image k] needs 'initrd'\n"
	  "t.conf:1: error: [image k] needs 'image'\n" },
	{ "[image k]\nkernel=/k\ninitrd=/i\nimage=/r\nImage=x\n", -EINVAL,
	  "t.conf:5: error: unknown key 'Image'; did you mean 'image'?\n" },
	{ ISO "delivery = http\n", 0,
	  "t.conf:1: warning: [iso a] has delivery = http but [server] has "
	  "no 'http'\n" },
	{ "[server]\nnfs = /export\n", -EINVAL,
	  "t.conf:2: error: 'nfs' must be HOST:/export/path, not "
	  "'/export'\n" },
	{ "[server]\naddress = 10.0.0.1 x\n", -EINVAL,
	  "t.conf:2: error: 'address' must not contain spaces\n" },
	{ "[server]\naoe_interface = averyveryverylongname\n", -EINVAL,
	  "t.conf:2: error: 'averyveryverylongname' is not a network "
	  "interface name\n" },
	{ ISO "label = a\x01z\n", -EINVAL,
	  "t.conf:3: error: control character in value of 'label'\n" },
	{ ISO "kernel =\n", -EINVAL,
	  "t.conf:3: error: empty value for 'kernel'\n" },
	{ ISO "= x\n", -EINVAL, "t.conf:3: error: missing key name before "
	  "'='\n" },
	/* every error is collected, in file order per stage */
	{ "[iso a]\npath = x\n[iso b]\nurl = y\n", -EINVAL,
	  "t.conf:2: error: 'path' must be an absolute path, not 'x'\n"
	  "t.conf:4: error: 'url' must be an http:// or https:// URL, not "
	  "'y'\n" },
};

static void parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pvecs) / sizeof(*pvecs); i++) {
		const struct pvec *v = &pvecs[i];
		struct bs_diags d = { 0 };
		struct bs_catalog *cat = (void *)1;
		size_t len = strlen(v->text);
		char *text = strdup(v->text);
		assert_non_null(text);
		for (char *p = text; (p = strchr(p, '@')); )
			*p = '\0';
		int ret = bs_catalog_parse("t.conf", text, len, &cat, &d);
		free(text);
		const char *got = diag_text(&d);
		if (ret != v->ret || strcmp(got, v->diags)) {
			print_error("vector %zu: ret %d (want %d)\n%s"
				    "---want:\n%s", i, ret, v->ret, got,
				    v->diags);
			fail();
		}
		assert_true(ret == 0 ? cat != NULL : cat == NULL);
		bs_catalog_free(cat);
		bs_diags_free(&d);
	}
}

/* A full catalog: every value lands where it should. */
static void parse_fields(void **state)
{
	static const char text[] =
		"[server]\naddress = 10.0.0.1\nhttp = http://10.0.0.1/boot\n"
		"nfs = 10.0.0.1:/srv/tftp\ntftp = 10.0.0.2\n"
		"aoe_interface = eth0\n"
		"[iso f40]\npath = /srv/f.iso\nlabel = Fedora 40 ; comment\n"
		"delivery = cpio\nappend = quiet\n  rd.live.ram=1 ; more\n"
		"\tsplash\naoe = 3.7\n"
		"sha256 = 0123456789ABCDEF0123456789abcdef"
		"0123456789abcdef0123456789abcdef\n"
		"kernel = /images/pxeboot/vmlinuz\ninitrd = /a.img,/b.img\n"
		"[image k]\nkernel = /k\ninitrd = /i\nimage = /r\n"
		"UNIONFS_CONFIG = tmpfs,aoe,overlay\n"
		"IMAGE = /dev/ram1;k;1.0;10.0.0.1;4096\n"
		"[host 52-54-00-AB-CD-EF]\nboot = k\nlabel = lab\n"
		"KIWI_KERNEL_OPTIONS = x=1\n";
	struct bs_catalog *cat;
	const struct bs_cat_entry *e;
	const struct bs_cat_host *h;
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef };

	(void)state;
	assert_int_equal(bs_catalog_parse("t", text, sizeof(text) - 1, &cat,
					  NULL), 0);
	assert_string_equal(cat->server.address, "10.0.0.1");
	assert_string_equal(cat->server.http, "http://10.0.0.1/boot");
	assert_string_equal(cat->server.nfs, "10.0.0.1:/srv/tftp");
	assert_string_equal(cat->server.tftp, "10.0.0.2");
	assert_string_equal(cat->server.aoe_interface, "eth0");
	assert_string_equal(cat->menu.title, "bootshelf");
	assert_int_equal(cat->menu.timeout, 50);
	assert_null(cat->menu.def);
	assert_int_equal(cat->nentries, 2);
	e = bs_catalog_find(cat, "f40");
	assert_non_null(e);
	assert_int_equal(e->kind, BS_ENTRY_ISO);
	assert_string_equal(e->path, "/srv/f.iso");
	assert_null(e->url);
	assert_string_equal(e->label, "Fedora 40");
	assert_int_equal(e->delivery, BS_DELIVERY_CPIO);
	/* continuation lines join with one space, comments cut */
	assert_string_equal(e->append, "quiet rd.live.ram=1 splash");
	assert_int_equal(e->aoe_shelf, 3);
	assert_int_equal(e->aoe_slot, 7);
	assert_string_equal(e->sha256, "0123456789abcdef0123456789abcdef"
			    "0123456789abcdef0123456789abcdef");
	assert_string_equal(e->kernel, "/images/pxeboot/vmlinuz");
	assert_string_equal(e->initrd, "/a.img,/b.img");
	assert_int_equal(e->line, 7);
	assert_string_equal(e->file, "t");
	e = bs_catalog_find(cat, "k");
	assert_non_null(e);
	assert_int_equal(e->kind, BS_ENTRY_IMAGE);
	assert_int_equal(e->aoe_shelf, -1);
	assert_string_equal(e->image, "/r");
	assert_int_equal(e->nextra, 2);
	assert_string_equal(e->extra[0].key, "UNIONFS_CONFIG");
	assert_string_equal(e->extra[1].value,
			    "/dev/ram1;k;1.0;10.0.0.1;4096");
	assert_null(bs_catalog_find(cat, "nope"));
	h = bs_catalog_find_host(cat, mac);
	assert_non_null(h);
	assert_string_equal(h->boot, "k");
	assert_string_equal(h->label, "lab");
	assert_int_equal(h->nextra, 1);
	assert_string_equal(h->extra[0].value, "x=1");
	bs_catalog_free(cat);
}

/* Lines longer than libinih's buffer keep their whole value and do not
 * shift the line numbers. */
static void parse_long_lines(void **state)
{
	size_t n = 5000;
	size_t tn = 4 * n + 200;
	char *text = malloc(tn), *want = malloc(n + 1);
	struct bs_diags d = { 0 };
	struct bs_catalog *cat;

	(void)state;
	memset(want, 'a', n);
	want[n] = '\0';
	snprintf(text, tn, "[iso a]\npath = /a\nappend = %s\n  %s\n"
		 "label = %s\nbad line %s\n", want, want, want, want);
	assert_int_equal(bs_catalog_parse("t", text, strlen(text), &cat, &d),
			 -EINVAL);
	assert_string_equal(diag_text(&d), "t:6: error: expected 'key = "
			    "value' or '[section]'\n");
	bs_diags_free(&d);
	snprintf(text, tn, "[iso a]\npath = /a\nappend = %s\n  %s\n"
		 "label = %s ; c\n", want, want, want);
	assert_int_equal(bs_catalog_parse("t", text, strlen(text), &cat, &d),
			 0);
	assert_int_equal(strlen(cat->entries[0].append), 2 * n + 1);
	assert_string_equal(cat->entries[0].label, want);
	bs_catalog_free(cat);
	/* a long header line; names longer than inih's 50-byte section
	 * buffer that differ only at the end are still two sections */
	memset(want, 'c', n);	/* want[n] is still NUL: a long comment */
	memset(want + n - 62, 'b', 62);
	snprintf(text, tn, "[iso %sx] ; %s\npath = /x\n[iso %sy]\n"
		 "path = /y\n", want + n - 62, want, want + n - 62);
	assert_int_equal(bs_catalog_parse("t", text, strlen(text), &cat, &d),
			 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(cat->nentries, 2);
	assert_string_equal(cat->entries[1].path, "/y");
	bs_catalog_free(cat);
	bs_diags_free(&d);
	free(text);
	free(want);
}

/* Any bytes: no crash, no leak, a verdict.  (Sanitizers watch.) */
static void parse_any_bytes(void **state)
{
	static const char alphabet[] = "[]=:;# \t\n\r\0aiohsx.-_/AZ\x01\xff";
	uint32_t seed = 12345;
	char buf[512];

	(void)state;
	for (int it = 0; it < 3000; it++) {
		size_t len = (seed >> 8) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) %
					  (sizeof(alphabet) - 1)];
		}
		/* sometimes start from a valid prefix */
		if (it % 3 == 0 && len > 20)
			memcpy(buf, "[iso a]\npath=/a\n[host ", 22);
		struct bs_diags d = { 0 };
		struct bs_catalog *cat = NULL;
		int r = bs_catalog_parse("f", buf, len, &cat, &d);
		assert_true(r == 0 || r == -EINVAL);
		assert_true((r == 0) == (d.nerrors == 0));
		assert_true((r == 0) == (cat != NULL));
		bs_catalog_free(cat);
		bs_diags_free(&d);
		seed = seed * 1103515245u + 12345u;
	}
}

/* Many entries and hosts: every one is found, duplicates still are. */
static void parse_many(void **state)
{
	const size_t n = 3000, cap = n * 100 + 200;
	char *text = malloc(cap);
	struct bs_diags d = { 0 };
	struct bs_catalog *cat;
	size_t len = 0;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
			"[iso e%zu]\npath = /e\naoe = %zu.%zu\n"
			"[host 02:00:00:00:%02zx:%02zx]\nboot = e%zu\n",
			i, i / 255, i % 255, i >> 8, i & 255, n - 1 - i);
	assert_int_equal(bs_catalog_parse("m", text, len, &cat, &d), 0);
	for (size_t i = 0; i < n; i++) {
		char name[32];
		uint8_t mac[6] = { 2, 0, 0, 0, (uint8_t)(i >> 8),
				   (uint8_t)i };
		snprintf(name, sizeof(name), "e%zu", i);
		const struct bs_cat_entry *e = bs_catalog_find(cat, name);
		assert_non_null(e);
		assert_string_equal(e->name, name);
		const struct bs_cat_host *h = bs_catalog_find_host(cat, mac);
		assert_non_null(h);
		assert_int_equal(atoi(h->boot + 1), n - 1 - i);
	}
	bs_catalog_free(cat);
	len += (size_t)snprintf(text + len, cap - len,
				"[iso x]\npath = /x\naoe = 7.215\n"
				"[host 020000000b2c]\nboot = x\n");
	assert_int_equal(bs_catalog_parse("m", text, len, &cat, &d), -EINVAL);
	assert_string_equal(diag_text(&d),
		"m:15003: error: aoe 7.215 of [iso x] is already used by "
		"[iso e2000] at m:10001\n"
		"m:15004: error: duplicate section [host 02:00:00:00:0b:2c] "
		"(first at m:14304)\n");
	bs_diags_free(&d);
	free(text);
}

/* The shipped example is a valid catalog without warnings.  (make unit
 * runs the tests from the top of the source tree.) */
static void example_file(void **state)
{
	struct bs_diags d = { 0 };
	struct bs_catalog *cat;

	(void)state;
	assert_int_equal(bs_catalog_load("examples/bootshelf.conf", &cat, &d),
			 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(cat->nentries, 7);
	assert_int_equal(cat->nhosts, 2);
	assert_string_equal(cat->menu.def, "fedora-40");
	bs_catalog_free(cat);
}

/* ---- small parsers ---------------------------------------------------- */

struct macvec {
	const char *s;
	int ok;
	uint8_t mac[6];
};

static const struct macvec macvecs[] = {
	{ "52:54:00:12:34:56", 1, { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } },
	{ "52-54-00-12-34-56", 1, { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } },
	{ "525400123456", 1, { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } },
	{ "AA:bb:CC:dd:EE:ff", 1, { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff } },
	{ "00.AB.F3.11.73.C8", 1, { 0, 0xab, 0xf3, 0x11, 0x73, 0xc8 } },
	{ "52:54:00-12:34:56", 0, { 0 } },
	{ "52:54:00:12:34", 0, { 0 } },
	{ "52:54:00:12:34:56:", 0, { 0 } },
	{ "52:54:00:12:34:5g", 0, { 0 } },
	{ "5254001234567", 0, { 0 } },
	{ "2:54:00:12:34:567", 0, { 0 } },
	{ " 52:54:00:12:34:5", 0, { 0 } },
	{ "52_54_00_12_34_56", 0, { 0 } },
	{ "", 0, { 0 } },
};

static void mac_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(macvecs) / sizeof(*macvecs); i++) {
		uint8_t m[6] = { 9, 9, 9, 9, 9, 9 };
		int r = bs_mac_parse(macvecs[i].s, m);
		if ((r == 0) != macvecs[i].ok ||
		    (r == 0 && memcmp(m, macvecs[i].mac, 6))) {
			print_error("MAC vector %zu '%s': %d\n", i,
				    macvecs[i].s, r);
			fail();
		}
		if (r)
			assert_int_equal(r, -EINVAL);
	}
	assert_int_equal(bs_mac_parse(NULL, (uint8_t[6]){ 0 }), -EINVAL);
}

static const struct {
	const char *s;
	int ok;
} namevecs[] = {
	{ "fedora-40", 1 }, { "a", 1 }, { "Ubuntu_24.04", 1 }, { "0", 1 },
	{ "a-", 1 }, { "x.iso", 1 },
	{ "", 0 }, { ".hidden", 0 }, { "-x", 0 }, { "a b", 0 }, { "a/b", 0 },
	{ "..", 0 }, { "a:b", 0 }, { "\xc3\xa9", 0 }, { "a\tb", 0 },
	{ "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"
	  "bc", 1 },	/* 63 */
	{ "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"
	  "bcd", 0 },	/* 64 */
};

static void name_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(namevecs) / sizeof(*namevecs); i++)
		if (!!bs_name_valid(namevecs[i].s) != namevecs[i].ok) {
			print_error("name vector %zu '%s'\n", i,
				    namevecs[i].s);
			fail();
		}
	assert_false(bs_name_valid(NULL));
}

static void delivery_parse(void **state)
{
	static const char *const names[] = { "auto", "cpio", "http", "nfs",
					     "aoe", "sanboot" };
	enum bs_delivery d;

	(void)state;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(bs_delivery_parse(names[i], &d), 0);
		assert_int_equal(d, i);
		assert_string_equal(bs_delivery_name(d), names[i]);
	}
	assert_int_equal(bs_delivery_parse("HTTP", &d), -EINVAL);
	assert_int_equal(bs_delivery_parse("memdisk", &d), -EINVAL);
	assert_int_equal(bs_delivery_parse("", &d), -EINVAL);
	assert_int_equal(bs_delivery_parse("http ", &d), -EINVAL);
	assert_string_equal(bs_delivery_name((enum bs_delivery)99), "?");
}

static void diag_format(void **state)
{
	struct bs_diags d = { 0 };
	char buf[128];

	(void)state;
	bs_diags_add(&d, BS_DIAG_ERROR, "f", 3, "bad %s", "x\x1b[2J");
	bs_diags_add(&d, BS_DIAG_WARNING, "f", 0, "w");
	bs_diags_add(&d, BS_DIAG_WARNING, NULL, 0, "n");
	assert_int_equal(d.nerrors, 1);
	bs_diag_format(&d.v[0], buf, sizeof(buf));
	/* control characters from a catalog never reach a terminal */
	assert_string_equal(buf, "f:3: error: bad x\\x1b[2J");
	bs_diag_format(&d.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "f: warning: w");
	bs_diag_format(&d.v[2], buf, sizeof(buf));
	assert_string_equal(buf, "warning: n");
	bs_diags_free(&d);
	assert_int_equal(d.n, 0);
}

/* ---- files: drop-ins and edits ---------------------------------------- */

#include <dirent.h>
#include <ftw.h>

struct tdir {
	char dir[64];
	char main[128];
};

static void put_file(const struct tdir *t, const char *rel, const char *s)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", t->dir, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(s, f);
	assert_int_equal(fclose(f), 0);
}

/* Whole file as a string (static buffer). */
static const char *get_file(const struct tdir *t, const char *rel)
{
	static char buf[8192];
	char p[256];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", t->dir, rel);
	f = fopen(p, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int tdir_setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/bs-catalog-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->main, sizeof(t->main), "%s/bootshelf.conf", t->dir);
	*state = t;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int tdir_teardown(void **state)
{
	struct tdir *t = *state;
	int r = nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(t);
	return r;
}

static int count_files(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(dp);
	return n;
}

static void dropins(void **state)
{
	struct tdir *t = *state;
	struct bs_diags d = { 0 };
	struct bs_catalog *cat;
	char want[1024];

	put_file(t, "bootshelf.conf", "[iso m]\npath = /m\n"
		 "[host 52:54:00:00:00:01]\nboot = b1\n");
	/* a missing drop-in directory is fine */
	assert_int_equal(bs_catalog_load(t->main, &cat, &d), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: error: boot 'b1': no such "
		 "entry\n", t->main);
	assert_string_equal(diag_text(&d), want);
	bs_diags_free(&d);

	snprintf(want, sizeof(want), "%s/catalog.d", t->dir);
	assert_int_equal(mkdir(want, 0755), 0);
	put_file(t, "catalog.d/20-b.conf", "[iso b1]\npath = /b1\n");
	put_file(t, "catalog.d/10-a.conf", "[iso a1]\npath = /a1\n"
		 "[iso a2]\nurl = http://x/a2.iso\n");
	put_file(t, "catalog.d/README", "not ini at all\n");
	put_file(t, "catalog.d/30-c.conf.orig", "junk\n");
	put_file(t, "catalog.d/.40-d.conf", "junk\n");
	assert_int_equal(bs_catalog_load(t->main, &cat, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(cat->nentries, 4);
	assert_string_equal(cat->entries[0].name, "m");
	assert_string_equal(cat->entries[1].name, "a1");
	assert_string_equal(cat->entries[2].name, "a2");
	assert_string_equal(cat->entries[3].name, "b1");
	assert_string_equal(cat->path, t->main);
	assert_non_null(strstr(cat->entries[3].file, "/catalog.d/20-b.conf"));
	bs_catalog_free(cat);

	/* a duplicate in a later drop-in says where the first one was */
	put_file(t, "catalog.d/30-dup.conf", "; dup\n[iso a2]\npath = /x\n"
		 "[host 525400000001]\nboot = m\n");
	assert_int_equal(bs_catalog_load(t->main, &cat, &d), -EINVAL);
	assert_null(cat);
	snprintf(want, sizeof(want),
		 "%s/catalog.d/30-dup.conf:2: error: duplicate section "
		 "[iso a2] (first at %s/catalog.d/10-a.conf:3)\n"
		 "%s/catalog.d/30-dup.conf:4: error: duplicate section "
		 "[host 52:54:00:00:00:01] (first at %s:3)\n",
		 t->dir, t->dir, t->dir, t->main);
	assert_string_equal(diag_text(&d), want);
	bs_diags_free(&d);

	assert_int_equal(bs_catalog_load("/nonexistent/bootshelf.conf", &cat,
					 &d), -ENOENT);
	assert_null(cat);
	assert_string_equal(diag_text(&d), "/nonexistent/bootshelf.conf: "
			    "error: cannot read: No such file or directory\n");
	bs_diags_free(&d);
}

static int eset(const struct tdir *t, const char *kind, const char *name,
		const struct bs_kv *kv, size_t n, int replace,
		struct bs_diags *d)
{
	return bs_catalog_edit_set_section(t->main, kind, name, kv, n,
					   replace, d);
}

static int erm(const struct tdir *t, const char *kind, const char *name,
	       struct bs_diags *d)
{
	return bs_catalog_edit_rm_section(t->main, kind, name, d);
}

static const char edit_base[] =
	"# bootshelf catalog\n"
	"[server]\n"
	"address = 10.0.0.1   ; the boot server\n"
	"\n"
	"# Fedora, kept up to date\n"
	"[iso f40] ; main one\n"
	"path = /srv/f40.iso\n"
	"; note inside\n"
	"label = Fedora 40 ; inline\n"
	"\n"
	"# next\n"
	"[iso deb]\n"
	"path = /srv/deb.iso\n"
	"\n"
	"[host 52-54-00-AA-BB-CC]\n"
	"boot = deb\n"
	"label=kept\n";

static void edit_replace_keeps_bytes(void **state)
{
	struct tdir *t = *state;
	const struct bs_kv kv[] = { { "url", "https://m/f41.iso" },
				    { "append", "quiet splash" } };
	struct bs_diags d = { 0 };

	put_file(t, "bootshelf.conf", edit_base);
	assert_int_equal(chmod(t->main, 0640), 0);
	assert_int_equal(eset(t, "iso", "f40", kv, 2, 1, &d), 0);
	assert_int_equal(d.nerrors, 0);
	assert_string_equal(get_file(t, "bootshelf.conf"),
		"# bootshelf catalog\n"
		"[server]\n"
		"address = 10.0.0.1   ; the boot server\n"
		"\n"
		"# Fedora, kept up to date\n"
		"[iso f40] ; main one\n"
		"; note inside\n"
		"url = https://m/f41.iso\n"
		"append = quiet splash\n"
		"\n"
		"# next\n"
		"[iso deb]\n"
		"path = /srv/deb.iso\n"
		"\n"
		"[host 52-54-00-AA-BB-CC]\n"
		"boot = deb\n"
		"label=kept\n");
	/* the mode of the file is kept */
	struct stat st;
	assert_int_equal(stat(t->main, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	bs_diags_free(&d);
}

static void edit_add_rm_host(void **state)
{
	struct tdir *t = *state;
	const struct bs_kv kv[] = { { "boot", "f40" } };
	const struct bs_kv iso[] = { { "path", "/srv/new.iso" } };
	struct bs_diags d = { 0 };
	char want[2048];

	put_file(t, "bootshelf.conf", edit_base);
	/* host given in another form: found, header normalised */
	assert_int_equal(eset(t, "host", "525400aabbcc", kv, 1, 1, &d), 0);
	snprintf(want, sizeof(want), "%.*s[host 52:54:00:aa:bb:cc]\n"
		 "boot = f40\n", (int)(strstr(edit_base, "[host") - edit_base),
		 edit_base);
	assert_string_equal(get_file(t, "bootshelf.conf"), want);
	/* adding what exists is refused */
	assert_int_equal(eset(t, "host", "52:54:00:AA:BB:CC", kv, 1, 0, &d),
			 -EEXIST);
	assert_string_equal(get_file(t, "bootshelf.conf"), want);
	bs_diags_free(&d);
	/* a new section goes at the end of the main file, blank line first */
	assert_int_equal(eset(t, "iso", "new", iso, 1, 0, &d), 0);
	strcat(want, "\n[iso new]\npath = /srv/new.iso\n");
	assert_string_equal(get_file(t, "bootshelf.conf"), want);
	/* remove: the section and one of two meeting blank lines go */
	assert_int_equal(erm(t, "iso", "new", &d), 0);
	want[strlen(want) - strlen("\n[iso new]\npath = /srv/new.iso\n")] = 0;
	assert_string_equal(get_file(t, "bootshelf.conf"), want);
	assert_int_equal(erm(t, "iso", "new", &d), -ENOENT);
	bs_diags_free(&d);
	assert_int_equal(erm(t, "host", "52-54-00-aa-bb-cc", &d), 0);
	assert_int_equal(erm(t, "iso", "deb", &d), 0);
	assert_string_equal(get_file(t, "bootshelf.conf"),
		"# bootshelf catalog\n"
		"[server]\n"
		"address = 10.0.0.1   ; the boot server\n"
		"\n"
		"# Fedora, kept up to date\n"
		"[iso f40] ; main one\n"
		"path = /srv/f40.iso\n"
		"; note inside\n"
		"label = Fedora 40 ; inline\n"
		"\n"
		"# next\n");
	assert_int_equal(d.nerrors, 0);
	bs_diags_free(&d);
}

static void edit_invalid_refused(void **state)
{
	struct tdir *t = *state;
	const struct bs_kv bad[] = { { "path", "relative.iso" } };
	const struct bs_kv both[] = { { "path", "/a" },
				      { "url", "http://a" } };
	const struct bs_kv cut[] = { { "append", "a ; b" } };
	const struct bs_kv nl[] = { { "append", "a\n[iso x]" } };
	const struct bs_kv semi[] = { { "append", ";x" } };
	struct bs_diags d = { 0 };
	char want[512];

	put_file(t, "bootshelf.conf", edit_base);
	assert_int_equal(eset(t, "iso", "f40", bad, 1, 1, &d), -EINVAL);
	snprintf(want, sizeof(want), "%s:8: error: 'path' must be an absolute "
		 "path, not 'relative.iso'\n", t->main);
	assert_string_equal(diag_text(&d), want);
	bs_diags_free(&d);
	assert_int_equal(eset(t, "iso", "x", both, 2, 0, &d), -EINVAL);
	bs_diags_free(&d);
	/* removing an entry a host boots is refused */
	assert_int_equal(erm(t, "iso", "deb", &d), -EINVAL);
	snprintf(want, sizeof(want), "%s:14: error: boot 'deb': no such "
		 "entry\n", t->main);
	assert_string_equal(diag_text(&d), want);
	bs_diags_free(&d);
	/* values the parser would change are not written */
	assert_int_equal(eset(t, "iso", "f40", cut, 1, 1, &d), -EINVAL);
	assert_int_equal(eset(t, "iso", "f40", nl, 1, 1, &d), -EINVAL);
	assert_int_equal(eset(t, "iso", "f40", semi, 1, 1, &d), -EINVAL);
	assert_int_equal(eset(t, "iso", "../x", bad, 1, 1, &d), -EINVAL);
	assert_int_equal(eset(t, "host", "nope", bad, 1, 1, &d), -EINVAL);
	assert_int_equal(eset(t, "server", "", bad, 1, 1, &d), -EINVAL);
	bs_diags_free(&d);
	assert_string_equal(get_file(t, "bootshelf.conf"), edit_base);
	/* no temporary file is left behind */
	assert_int_equal(count_files(t->dir), 1);
}

static void edit_in_dropin(void **state)
{
	struct tdir *t = *state;
	const struct bs_kv kv[] = { { "path", "/srv/d2.iso" } };
	struct bs_diags d = { 0 };
	char dir[128];

	put_file(t, "bootshelf.conf", edit_base);
	snprintf(dir, sizeof(dir), "%s/catalog.d", t->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	put_file(t, "catalog.d/50-x.conf", "; drop-in\n[iso d]\npath = /d\n"
		 "[iso e] ; keep\npath = /e\n");
	assert_int_equal(eset(t, "iso", "d", kv, 1, 1, &d), 0);
	assert_string_equal(get_file(t, "catalog.d/50-x.conf"),
			    "; drop-in\n[iso d]\npath = /srv/d2.iso\n"
			    "[iso e] ; keep\npath = /e\n");
	assert_string_equal(get_file(t, "bootshelf.conf"), edit_base);
	/* a duplicate of a drop-in's section in the main file is refused */
	put_file(t, "bootshelf.conf", "[iso q]\npath = /q\n");
	assert_int_equal(eset(t, "iso", "e", kv, 1, 0, &d), -EEXIST);
	assert_string_equal(get_file(t, "bootshelf.conf"),
			    "[iso q]\npath = /q\n");
	bs_diags_free(&d);
}

/* Concurrent editors: the lock (and its re-check after a rename)
 * loses no edit. */
static void edit_concurrent(void **state)
{
	struct tdir *t = *state;
	struct bs_catalog *cat;
	pid_t pid[4];

	put_file(t, "bootshelf.conf", "[iso base]\npath = /b\n");
	for (int c = 0; c < 4; c++) {
		pid[c] = fork();
		assert_true(pid[c] >= 0);
		if (pid[c] == 0) {
			int bad = 0;
			for (int j = 0; j < 10; j++) {
				const struct bs_kv kv[] = { { "path", "/x" } };
				char name[32];
				snprintf(name, sizeof(name), "c%d-%d", c, j);
				bad |= eset(t, "iso", name, kv, 1, 0, NULL);
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (int c = 0; c < 4; c++) {
		int st;
		assert_int_equal(waitpid(pid[c], &st, 0), pid[c]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(bs_catalog_load(t->main, &cat, NULL), 0);
	assert_int_equal(cat->nentries, 41);
	bs_catalog_free(cat);
	assert_int_equal(count_files(t->dir), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_vectors),
		cmocka_unit_test(parse_fields),
		cmocka_unit_test(parse_long_lines),
		cmocka_unit_test(parse_any_bytes),
		cmocka_unit_test(example_file),
		cmocka_unit_test(parse_many),
		cmocka_unit_test(mac_vectors),
		cmocka_unit_test(name_vectors),
		cmocka_unit_test(delivery_parse),
		cmocka_unit_test(diag_format),
		cmocka_unit_test_setup_teardown(dropins, tdir_setup,
						tdir_teardown),
		cmocka_unit_test_setup_teardown(edit_replace_keeps_bytes,
						tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(edit_add_rm_host, tdir_setup,
						tdir_teardown),
		cmocka_unit_test_setup_teardown(edit_invalid_refused,
						tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(edit_in_dropin, tdir_setup,
						tdir_teardown),
		cmocka_unit_test_setup_teardown(edit_concurrent, tdir_setup,
						tdir_teardown),
	};
	return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
