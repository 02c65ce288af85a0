/*
 * bootcfg_i.h - parsing the boot-loader configs found on ISOs
 * (isolinux/syslinux and GRUB) to learn the kernel, initrds and default
 * arguments.  Pure functions over text, for tests and fuzzing.
 */
#ifndef BOOTSHELF_BOOTCFG_I_H
#define BOOTSHELF_BOOTCFG_I_H

#include <stddef.h>

#include <bootshelf/detect.h>

struct bs_bootcfg_entry {
	char kernel[256];	/* as written, "::" prefix stripped */
	char initrd[BS_MAX_INITRDS][256];
	size_t ninitrd;
	char append[1024];	/* without initrd= and BOOT_IMAGE= */
};

/**
 * Pick the entry a network boot should use: the DEFAULT (or MENU
 * DEFAULT) label if it boots a kernel, else the first label that does;
 * media checks, memtest, hdt and .c32 modules are skipped.
 * @ret 0 if found, -ENOENT otherwise.
 */
int bs_bootcfg_syslinux(const char *text, size_t len,
			struct bs_bootcfg_entry *out);
/* Same for grub.cfg: the first menuentry with a linux line that is not
 * a media check; entries whose paths use $variables are skipped. */
int bs_bootcfg_grub(const char *text, size_t len,
		    struct bs_bootcfg_entry *out);

#endif
