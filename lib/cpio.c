/*
 * cpio.c - newc header generation.  Reading cpio archives (initrd
 * inspection) is not here.
 */
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
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check: 8 hex digits
	 * each (written by hand: thousands of headers per reload) */
	const uint32_t f[13] = {
		ino, mode, 0, 0, (mode & 0170000) == 040000 ? 2u : 1u,
		mtime, (uint32_t)size, 0, 0, 0, 0, (uint32_t)namesize, 0,
	};

	if (size > BS_CPIO_MAX_FILE)
		return 0;
	memcpy(buf, "070701", 6);
	for (int i = 0; i < 13; i++)
		for (int d = 0; d < 8; d++)
			buf[6 + 8 * i + d] = (uint8_t)"0123456789ABCDEF"[
				f[i] >> (28 - 4 * d) & 15];
	memcpy(buf + BS_CPIO_HDR, name, namesize);
	memset(buf + BS_CPIO_HDR + namesize, 0,
	       total - BS_CPIO_HDR - namesize);
	return total;
}
