/*
 * detect.h - what kind of live or installer ISO this is, and how it boots.
 *
 * Reads only the ISO's own files (marker files, isolinux/syslinux and GRUB
 * configs).  Order and markers follow the family table in the manual:
 * archiso, casper, live-boot, KIWI, dracut live, Debian installer,
 * generic (a kernel found through the ISO's boot config), El Torito only.
 */
#ifndef BOOTSHELF_DETECT_H
#define BOOTSHELF_DETECT_H

#include <stddef.h>

#include <bootshelf/isoindex.h>

enum bs_family {
	BS_FAM_NONE = 0,	/* nothing bootable found */
	BS_FAM_DRACUT,		/* Fedora/RHEL live: LiveOS/squashfs.img */
	BS_FAM_CASPER,		/* Ubuntu: casper/ */
	BS_FAM_LIVEBOOT,	/* Debian live: live/ */
	BS_FAM_ARCHISO,		/* Arch: arch/ */
	BS_FAM_KIWI,		/* openSUSE KIWI live: boot/<arch>/loader */
	BS_FAM_DEBIAN_INSTALLER,/* install.amd/ */
	BS_FAM_GENERIC,		/* kernel found via the ISO's boot config */
	BS_FAM_ELTORITO,	/* El Torito boot image only: sanboot */
};

#define BS_MAX_INITRDS 4

struct bs_bootinfo {
	enum bs_family family;
	char kernel[256];		/* path inside the ISO, "" if none */
	char initrd[BS_MAX_INITRDS][256];
	size_t ninitrd;
	char append[1024];		/* default arguments from the ISO */
	char why[256];			/* which marker decided, for inspect */
};

const char *bs_family_name(enum bs_family f);

/**
 * Detect the family and the boot files of an indexed ISO.
 * Never fails: an ISO with nothing recognisable gets BS_FAM_NONE or
 * BS_FAM_ELTORITO.  Kernel and initrd paths are verified to exist.
 */
void bs_detect(const struct bs_iso *iso, struct bs_bootinfo *out);

#endif
