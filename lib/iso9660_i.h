/*
 * iso9660_i.h - raw ISO 9660 checks done before libisofs reads an image.
 */
#ifndef BOOTSHELF_ISO9660_I_H
#define BOOTSHELF_ISO9660_I_H

#include <bootshelf/isoindex.h>

/**
 * Walk the primary and Joliet directory hierarchies: no loops, bounded
 * depth and count, every directory inside the image.
 * @ret 0 or -EINVAL/-EIO/-ENOMEM with a message in @err
 */
int bs_iso9660_check(struct bs_source *src, uint64_t size,
		     struct bs_error *err);

/* Free an index node and its subtree (NULL is fine).  Shared with the
 * on-disk index cache, which builds the same nodes. */
void bs_iso_node_free(struct bs_iso_node *n);

#endif
