/*
 * cpio.h - newc ("070701") cpio headers, as the Linux initramfs reads them.
 *
 * Generation only builds headers and trailers: the member data stays
 * where it is (a blob segment), so "the ISO as a cpio member" costs 110
 * bytes plus a name, never a copy.
 */
#ifndef BOOTSHELF_CPIO_H
#define BOOTSHELF_CPIO_H

#include <stddef.h>
#include <stdint.h>

#define BS_CPIO_HDR 110
#define BS_CPIO_MAX_FILE 0xffffffffULL	/* c_filesize is 32 bits */

/**
 * Write a newc header + name + NUL + padding to a 4-byte boundary.
 * @v buf   at least bs_cpio_header_len(name) bytes
 * @v mode  st_mode, e.g. 0100644 or 040755
 * @ret bytes written; 0 if size > BS_CPIO_MAX_FILE
 */
size_t bs_cpio_header(uint8_t *buf, const char *name, uint32_t mode,
		      uint64_t size, uint32_t ino, uint32_t mtime);
size_t bs_cpio_header_len(const char *name);
/* Bytes of zero padding after @size bytes of data. */
static inline size_t bs_cpio_pad(uint64_t size) { return (4 - (size & 3)) & 3; }

#endif
