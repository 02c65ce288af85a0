/*
 * cmd_inspect.c - `bootshelf inspect ISO`: what the library sees in an
 * ISO (family, label, boot files, arguments) and which delivery modes can
 * work with the catalog's [server] settings, and why the others cannot;
 * what the ISO's initrd contains and the modes it rules out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootshelf/bootgen.h>
#include <bootshelf/catalog.h>
#include <bootshelf/detect.h>
#include <bootshelf/initrd.h>
#include <bootshelf/isoindex.h>

#include "cli.h"

int cli_inspect(struct cli *c, int argc, char **argv)
{
	static const enum bs_delivery modes[] = {
		BS_DELIVERY_CPIO, BS_DELIVERY_HTTP, BS_DELIVERY_NFS,
		BS_DELIVERY_AOE, BS_DELIVERY_SANBOOT,
	};
	struct bs_catalog *cat = NULL;
	struct bs_cat_entry ent = { 0 };
	struct bs_entry_state st = { 0 };
	struct bs_error err = { 0 };
	struct bs_source *src;
	struct bs_bootline bl;
	char why[256], line[1024];
	int rc;

	if (argc != 1) {
		fprintf(stderr, "usage: %s inspect ISO\n", c->prog);
		return 2;
	}
	if ((rc = bs_source_open(argv[0], &src, &err)) < 0) {
		fprintf(stderr, "%s: inspect: %s\n", c->prog, err.msg);
		return 1;
	}
	rc = bs_iso_open(src, &st.iso, &err);
	bs_source_unref(src);
	if (rc < 0) {
		fprintf(stderr, "%s: inspect: %s: %s\n", c->prog, argv[0],
			err.msg);
		return 1;
	}
	/* [server] settings decide which modes can work; without a
	 * readable catalog every server is unset. */
	if (access(c->catalog, R_OK) != 0 ||
	    bs_catalog_load(c->catalog, &cat, NULL) < 0)
		bs_catalog_parse("(none)", "", 0, &cat, NULL);
	ent.name = "NAME";
	ent.kind = BS_ENTRY_ISO;
	ent.aoe_shelf = ent.aoe_slot = -1;
	st.entry = &ent;
	st.ok = 1;
	st.iso_size = st.iso->image_size;
	st.cpio_ok = st.iso_size <= 0xffffffffULL;
	bs_detect(st.iso, &st.boot);

	printf("file:      %s\n", argv[0]);
	printf("size:      %llu\n", (unsigned long long)st.iso_size);
	printf("label:     %s\n", st.iso->volid);
	printf("files:     %zu in %zu directories\n", st.iso->nfiles,
	       st.iso->ndirs);
	printf("eltorito:  %s\n", st.iso->has_eltorito ? "yes" : "no");
	printf("family:    %s (%s)\n", bs_family_name(st.boot.family),
	       st.boot.why);
	printf("kernel:    %s\n", st.boot.kernel[0] ? st.boot.kernel : "-");
	for (size_t i = 0; i < st.boot.ninitrd; i++)
		printf("initrd:    %s\n", st.boot.initrd[i]);
	if (st.boot.ninitrd) {
		rc = bs_initrd_scan_iso(st.iso, &st.boot, &st.ird, &err);
		st.ird_ok = rc == 0;
		bs_initrd_describe(&st.ird, line, sizeof(line));
		printf("initrd:    %s%s%s\n", line, rc < 0 ? "; " : "",
		       rc < 0 ? err.msg : "");
	}
	printf("append:    %s\n", st.boot.append);
	printf("delivery modes (with the [server] of %s):\n",
	       cat && cat->path ? cat->path : "no catalog");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int ok = bs_delivery_check(cat, &st, modes[i], why,
					   sizeof(why));
		printf("  %-8s %-4s %s\n", bs_delivery_name(modes[i]),
		       ok ? "yes" : "no", why);
		if (ok && st.ird_ok &&
		    bs_initrd_supports(&st.ird, st.boot.family, modes[i], why,
				       sizeof(why)) != BS_IRD_YES)
			printf("  %-8s %-4s initrd: %s\n", "", "", why);
	}
	bs_bootline_make(cat, &st, NULL, &bl);
	printf("auto:      %s\n", bl.note);
	printf("cmdline:   %s\n", bl.append);
	bs_iso_unref(st.iso);
	bs_catalog_free(cat);
	return 0;
}
