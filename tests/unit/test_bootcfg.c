/* test_bootcfg.c - isolinux/syslinux and GRUB config parsing, from a
 * table of configs as distributions ship them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "bootcfg_i.h"

struct vec {
	int grub;
	const char *text;
	int rc;
	const char *kernel, *initrd0, *append;
	int line;
};

#define V(g, t, r, k, i, a) { g, t, r, k, i, a, __LINE__ }

static const struct vec vecs[] = {
	/* Fedora lorax: default label is the media check; menu default
	 * is "Start" */
	V(0, "default vesamenu.c32\ntimeout 600\nlabel linux\n"
	     "  menu label ^Start\n  kernel vmlinuz\n"
	     "  append initrd=initrd.img root=live:CDLABEL=F rd.live.image "
	     "quiet\n  menu default\nlabel check\n  kernel vmlinuz\n"
	     "  append initrd=initrd.img root=live:CDLABEL=F rd.live.check\n",
	  0, "vmlinuz", "initrd.img", "root=live:CDLABEL=F rd.live.image quiet"),
	/* DEFAULT names a label; KERNEL with args; INITRD line; tabs */
	V(0, "DEFAULT b\nLABEL a\n\tKERNEL /a\nLABEL b\n\tLINUX ::/k args1\n"
	     "\tINITRD /x.img,/y.img\n\tAPPEND quiet BOOT_IMAGE=zz",
	  0, "/k", "/x.img", "quiet"),
	/* global APPEND used by a label without its own */
	V(0, "APPEND console=ttyS0\nLABEL a\nKERNEL k\n", 0, "k", "",
	  "console=ttyS0"),
	/* only modules and memtest: nothing */
	V(0, "label hdt\nkernel hdt.c32\nlabel mt\nkernel memtest\n", -ENOENT,
	  "", "", ""),
	V(0, "", -ENOENT, "", "", ""),
	V(0, "\0\0\0label\0x", -ENOENT, "", "", ""),
	/* Ubuntu grub.cfg: "---" dropped */
	V(1, "set timeout=30\nmenuentry 'Try Ubuntu' {\n"
	     "  linux /casper/vmlinuz boot=casper quiet splash ---\n"
	     "  initrd /casper/initrd\n}\n",
	  0, "/casper/vmlinuz", "/casper/initrd", "boot=casper quiet splash"),
	/* media check skipped; $variables skipped */
	V(1, "menuentry 'Test' {\n linuxefi /v rd.live.check\n"
	     " initrdefi /i\n}\nmenuentry x {\n linux $k\n}\n"
	     "menuentry 'Start' {\n linuxefi /v root=live:CDLABEL=F "
	     "$vt_handoff\n initrdefi /i /j\n}\n",
	  0, "/v", "/i", "root=live:CDLABEL=F"),
	V(1, "menuentry 'chain' {\n chainloader +1\n}\n", -ENOENT, "", "",
	  ""),
	V(1, "menuentry {\n linux", -ENOENT, "", "", ""),
};

static void vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		struct bs_bootcfg_entry e;
		size_t len = strlen(v->text);
		int rc;

		if (v->text[0] == '\0' && i == 5)
			len = 10;	/* embedded NULs */
		rc = v->grub ? bs_bootcfg_grub(v->text, len, &e) :
			       bs_bootcfg_syslinux(v->text, len, &e);
		if (rc != v->rc)
			fail_msg("vector at line %d: rc %d, want %d", v->line,
				 rc, v->rc);
		if (rc)
			continue;
		if (strcmp(e.kernel, v->kernel) ||
		    strcmp(e.ninitrd ? e.initrd[0] : "", v->initrd0) ||
		    strcmp(e.append, v->append))
			fail_msg("vector at line %d: got '%s' '%s' '%s'",
				 v->line, e.kernel,
				 e.ninitrd ? e.initrd[0] : "", e.append);
	}
}

static void long_lines_truncate_safely(void **state)
{
	static char big[200000];
	struct bs_bootcfg_entry e;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "label x\nkernel ", 15);
	assert_int_equal(bs_bootcfg_syslinux(big, sizeof(big) - 1, &e), 0);
	assert_int_equal(strlen(e.kernel), sizeof(e.kernel) - 1);
	assert_int_equal(bs_bootcfg_grub(big, sizeof(big) - 1, &e), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors),
		cmocka_unit_test(long_lines_truncate_safely),
	};
	return cmocka_run_group_tests_name("bootcfg", tests, NULL, NULL);
}
