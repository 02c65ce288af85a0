/*
 * fhandle.c - test helper: what an NFS server does with a FUSE mount.
 *
 *   fhandle get PATH            print PATH's file handle as hex
 *   fhandle cat MOUNTDIR HEX    open the handle (open_by_handle_at) under
 *                               the mount at MOUNTDIR and copy the file
 *                               to stdout; for a directory print
 *                               "dir <st_ino>"
 *
 * Needs CAP_DAC_READ_SEARCH (root).  Leaves out everything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXH 128

static int get(const char *path)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAXH);
	unsigned char *b;
	int mnt;

	if (!fh)
		return 1;
	fh->handle_bytes = MAXH;
	if (name_to_handle_at(AT_FDCWD, path, fh, &mnt, 0) < 0) {
		perror("name_to_handle_at");
		free(fh);
		return 1;
	}
	printf("%08x", (unsigned)fh->handle_type);
	b = (unsigned char *)fh + sizeof(*fh);
	for (unsigned i = 0; i < fh->handle_bytes; i++)
		printf("%02x", b[i]);
	printf("\n");
	free(fh);
	return 0;
}

static int cat(const char *mntdir, const char *hex)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAXH);
	unsigned char *b = (unsigned char *)fh + sizeof(*fh);
	size_t n = strlen(hex);
	unsigned t;
	char buf[65536];
	struct stat st;
	ssize_t r;
	int mfd, fd;

	if (!fh || n < 8 || n % 2 || (n - 8) / 2 > MAXH ||
	    sscanf(hex, "%8x", &t) != 1) {
		free(fh);
		return 2;
	}
	fh->handle_type = (int)t;
	fh->handle_bytes = (unsigned)(n - 8) / 2;
	for (unsigned i = 0; i < fh->handle_bytes; i++) {
		unsigned v;
		if (sscanf(hex + 8 + 2 * i, "%2x", &v) != 1) {
			free(fh);
			return 2;
		}
		b[i] = (unsigned char)v;
	}
	mfd = open(mntdir, O_RDONLY | O_DIRECTORY);
	if (mfd < 0) {
		perror(mntdir);
		free(fh);
		return 1;
	}
	fd = open_by_handle_at(mfd, fh, O_RDONLY);
	free(fh);
	if (fd < 0) {
		fprintf(stderr, "open_by_handle_at: %s\n", strerror(errno));
		return 3;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		printf("dir %llu\n", (unsigned long long)st.st_ino);
		return 0;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
			return 1;
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "get"))
		return get(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "cat"))
		return cat(argv[2], argv[3]);
	fprintf(stderr, "usage: fhandle get PATH | fhandle cat MOUNTDIR HEX\n");
	return 2;
}
