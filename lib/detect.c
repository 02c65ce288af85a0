/*
 * detect.c - find an ISO's boot family, kernel, initrds and default
 * arguments from its own files.  Marker order follows the family table
 * in the manual; the ISO's boot configs fill in paths and arguments and
 * are the only source for the generic family.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <bootshelf/detect.h>

#include "bootcfg_i.h"

#define CFG_MAX (1u << 20)

const char *bs_family_name(enum bs_family f)
{
	static const char *const names[] = {
		[BS_FAM_NONE] = "none", [BS_FAM_DRACUT] = "dracut-live",
		[BS_FAM_CASPER] = "casper", [BS_FAM_LIVEBOOT] = "live-boot",
		[BS_FAM_ARCHISO] = "archiso", [BS_FAM_KIWI] = "kiwi-live",
		[BS_FAM_DEBIAN_INSTALLER] = "debian-installer",
		[BS_FAM_GENERIC] = "generic", [BS_FAM_ELTORITO] = "eltorito",
	};
	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] :
								"?";
}

static int is_file(const struct bs_iso *iso, const char *path)
{
	const struct bs_iso_node *n = bs_iso_lookup(iso, path);
	return n && S_ISREG(n->mode);
}

static int is_dir(const struct bs_iso *iso, const char *path)
{
	const struct bs_iso_node *n = bs_iso_lookup(iso, path);
	return n && S_ISDIR(n->mode);
}

/* First regular file in @dir whose name starts with @prefix. */
static int find_prefixed(const struct bs_iso *iso, const char *dir,
			 const char *prefix, char *out, size_t n)
{
	const struct bs_iso_node *d = bs_iso_lookup(iso, dir);

	if (!d || !S_ISDIR(d->mode))
		return 0;
	for (size_t i = 0; i < d->nkids; i++) {
		if (S_ISREG(d->kids[i]->mode) &&
		    strncasecmp(d->kids[i]->name, prefix, strlen(prefix)) == 0) {
			snprintf(out, n, "%s/%s", dir, d->kids[i]->name);
			return 1;
		}
	}
	return 0;
}

/* Resolve a path from a config against the config's directory. */
static void resolve(const char *cfgdir, const char *p, char *out, size_t n)
{
	if (p[0] == '/')
		snprintf(out, n, "%s", p + 1);
	else
		snprintf(out, n, "%s%s%s", cfgdir, cfgdir[0] ? "/" : "", p);
}

static const char *const syslinux_cfgs[] = {
	"isolinux/isolinux.cfg", "boot/isolinux/isolinux.cfg",
	"syslinux/syslinux.cfg", "boot/syslinux/syslinux.cfg",
	"isolinux/txt.cfg", "boot/x86_64/loader/isolinux.cfg",
	"arch/boot/syslinux/archiso_sys-linux.cfg", "syslinux.cfg",
	"isolinux.cfg",
};
static const char *const grub_cfgs[] = {
	"boot/grub/grub.cfg", "boot/grub2/grub.cfg", "EFI/BOOT/grub.cfg",
	"boot/grub/loopback.cfg",
};

/* The ISO's own boot entry, paths resolved and checked to exist. */
static int from_configs(const struct bs_iso *iso, struct bs_bootinfo *bi)
{
	struct bs_bootcfg_entry e;
	char *text;
	size_t len;

	for (int kind = 0; kind < 2; kind++) {
		const char *const *list = kind ? grub_cfgs : syslinux_cfgs;
		size_t n = kind ? sizeof(grub_cfgs) / sizeof(*grub_cfgs) :
				  sizeof(syslinux_cfgs) /
					  sizeof(*syslinux_cfgs);
		for (size_t i = 0; i < n; i++) {
			char dir[256], path[256];
			int rc;

			if (bs_iso_slurp(iso, list[i], CFG_MAX, &text, &len))
				continue;
			rc = kind ? bs_bootcfg_grub(text, len, &e) :
				    bs_bootcfg_syslinux(text, len, &e);
			free(text);
			if (rc < 0)
				continue;
			snprintf(dir, sizeof(dir), "%s", list[i]);
			*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
			resolve(kind ? "" : dir, e.kernel, path, sizeof(path));
			if (!is_file(iso, path))
				continue;
			snprintf(bi->kernel, sizeof(bi->kernel), "%s", path);
			bi->ninitrd = 0;
			for (size_t j = 0; j < e.ninitrd; j++) {
				resolve(kind ? "" : dir, e.initrd[j], path,
					sizeof(path));
				if (is_file(iso, path))
					snprintf(bi->initrd[bi->ninitrd++],
						 sizeof(bi->initrd[0]), "%s",
						 path);
			}
			snprintf(bi->append, sizeof(bi->append), "%s",
				 e.append);
			snprintf(bi->why, sizeof(bi->why), "boot entry in %s",
				 list[i]);
			return 1;
		}
	}
	return 0;
}

/* Per-family well-known kernel/initrd when the configs did not say. */
static void set_pair(const struct bs_iso *iso, struct bs_bootinfo *bi,
		     const char *k, const char *const *initrds)
{
	if (bi->kernel[0] || !is_file(iso, k))
		return;
	snprintf(bi->kernel, sizeof(bi->kernel), "%s", k);
	for (; *initrds; initrds++) {
		if (is_file(iso, *initrds)) {
			snprintf(bi->initrd[0], sizeof(bi->initrd[0]), "%s",
				 *initrds);
			bi->ninitrd = 1;
			return;
		}
	}
}

void bs_detect(const struct bs_iso *iso, struct bs_bootinfo *bi)
{
	memset(bi, 0, sizeof(*bi));
	from_configs(iso, bi);

	if (is_file(iso, "arch/boot/x86_64/vmlinuz-linux")) {
		bi->family = BS_FAM_ARCHISO;
		snprintf(bi->why, sizeof(bi->why), "arch/boot/x86_64/");
		set_pair(iso, bi, "arch/boot/x86_64/vmlinuz-linux",
			 (const char *const[]){
				 "arch/boot/x86_64/initramfs-linux.img",
				 NULL });
	} else if (is_dir(iso, "casper")) {
		bi->family = BS_FAM_CASPER;
		snprintf(bi->why, sizeof(bi->why), "casper/ directory");
		set_pair(iso, bi, "casper/vmlinuz",
			 (const char *const[]){ "casper/initrd",
						"casper/initrd.lz",
						"casper/initrd.gz", NULL });
	} else if (is_file(iso, "live/filesystem.squashfs") ||
		   (is_dir(iso, "live") && !is_dir(iso, "LiveOS"))) {
		bi->family = BS_FAM_LIVEBOOT;
		snprintf(bi->why, sizeof(bi->why), "live/ directory");
		if (!bi->kernel[0] &&
		    find_prefixed(iso, "live", "vmlinuz", bi->kernel,
				  sizeof(bi->kernel)) &&
		    find_prefixed(iso, "live", "initrd", bi->initrd[0],
				  sizeof(bi->initrd[0])))
			bi->ninitrd = 1;
	} else if (is_file(iso, "boot/x86_64/loader/linux")) {
		bi->family = BS_FAM_KIWI;
		snprintf(bi->why, sizeof(bi->why), "boot/x86_64/loader/");
		set_pair(iso, bi, "boot/x86_64/loader/linux",
			 (const char *const[]){ "boot/x86_64/loader/initrd",
						NULL });
	} else if (is_file(iso, "LiveOS/squashfs.img")) {
		bi->family = BS_FAM_DRACUT;
		snprintf(bi->why, sizeof(bi->why), "LiveOS/squashfs.img");
		set_pair(iso, bi, "images/pxeboot/vmlinuz",
			 (const char *const[]){ "images/pxeboot/initrd.img",
						NULL });
		set_pair(iso, bi, "isolinux/vmlinuz0",
			 (const char *const[]){ "isolinux/initrd0.img",
						NULL });
		set_pair(iso, bi, "isolinux/vmlinuz",
			 (const char *const[]){ "isolinux/initrd.img",
						NULL });
	} else if (is_file(iso, "install.amd/vmlinuz")) {
		bi->family = BS_FAM_DEBIAN_INSTALLER;
		snprintf(bi->why, sizeof(bi->why), "install.amd/");
		set_pair(iso, bi, "install.amd/vmlinuz",
			 (const char *const[]){ "install.amd/initrd.gz",
						NULL });
	} else if (bi->kernel[0]) {
		bi->family = BS_FAM_GENERIC;
	}
	if (!bi->kernel[0]) {
		bi->family = iso->has_eltorito ? BS_FAM_ELTORITO : BS_FAM_NONE;
		bi->ninitrd = 0;
		snprintf(bi->why, sizeof(bi->why), "%s",
			 iso->has_eltorito ? "El Torito boot image, no kernel"
					   : "no kernel and no boot image");
	}
}
