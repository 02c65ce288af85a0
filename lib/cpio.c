/*
 * cpio.c - newc header generation.  Reading cpio archives (initrd
 * inspection) is not here.
 */
#include <stdio.h>
#include <string.h>

#include <bootshelf/cpio.h>

size_t bs_cpio_header_len(const char *name)
{
	size_t n = BS_CPIO_HDR + strlen(name) + 1;
	return (n + 3) & ~(size_t)3;
}

size_t bs_cpio_header(uint8_t *buf, const char *name, uint32_t mode,
		      uint64_t size, uint32_t ino, uint32_t mtime)
{
	size_t namesize = strlen(name) + 1, total = bs_cpio_header_len(name);
	char hdr[BS_CPIO_HDR + 1];

	if (size > BS_CPIO_MAX_FILE)
		return 0;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check */
	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ino, mode, 0u, 0u, (mode & 0170000) == 040000 ? 2u : 1u,
		 mtime, (unsigned)size, 0u, 0u, 0u, 0u, (unsigned)namesize,
		 0u);
	memcpy(buf, hdr, BS_CPIO_HDR);
	memcpy(buf + BS_CPIO_HDR, name, namesize);
	memset(buf + BS_CPIO_HDR + namesize, 0,
	       total - BS_CPIO_HDR - namesize);
	return total;
}
