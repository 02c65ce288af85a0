/*
 * cmd_update.c - `bootshelf update NAME NEWISO`: replace an entry's ISO
 * the safe way.  The new image is indexed first, then put beside the old
 * one under a temporary name (hard link when on the same filesystem,
 * else a copy that is synced) and renamed over it.  Readers that have
 * the old file open keep reading the old inode to the end; nothing ever
 * sees a half-written ISO.  Rewriting an ISO in place cannot give that
 * guarantee.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bootshelf/catalog.h>
#include <bootshelf/isoindex.h>

#include "cli.h"

static int copy_file(const char *from, int out)
{
	struct stat st;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	off_t off = 0;

	if (in < 0 || fstat(in, &st) < 0)
		goto fail;
	while (off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			goto fail;
		}
	}
	if (fsync(out) < 0)
		goto fail;
	close(in);
	return 0;
fail:
	if (in >= 0) {
		int e = errno;
		close(in);
		errno = e;
	}
	return -errno;
}

int cli_update(struct cli *c, int argc, char **argv)
{
	struct bs_catalog *cat = NULL;
	const struct bs_cat_entry *e;
	struct bs_error err = { 0 };
	struct bs_source *src;
	struct bs_iso *iso;
	char tmp[PATH_MAX], dir[PATH_MAX];
	int rc = 1, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s update NAME NEWISO\n", c->prog);
		return 2;
	}
	if (bs_catalog_load(c->catalog, &cat, NULL) < 0) {
		fprintf(stderr, "%s: update: cannot load %s (run 'check')\n",
			c->prog, c->catalog);
		return 1;
	}
	if (!(e = bs_catalog_find(cat, argv[0])) || !e->path) {
		fprintf(stderr, "%s: update: no local [iso %s] in %s\n",
			c->prog, argv[0], c->catalog);
		goto out;
	}
	if (bs_source_open(argv[1], &src, &err) == 0) {
		if (bs_iso_open(src, &iso, &err) == 0)
			bs_iso_unref(iso);
		bs_source_unref(src);
	}
	if (err.code) {
		fprintf(stderr, "%s: update: %s: %s; %s is unchanged\n",
			c->prog, argv[1], err.msg, e->path);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", e->path);
	snprintf(tmp, sizeof(tmp), "%s/.%s.bootshelf-XXXXXX", dirname(dir),
		 argv[0]);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "%s: update: %s: %s\n", c->prog, tmp,
			strerror(errno));
		goto out;
	}
	/* Same filesystem: a hard link costs nothing; else copy. */
	close(fd);
	unlink(tmp);
	if (link(argv[1], tmp) < 0) {
		int err2;
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			       0644)) < 0 ||
		    (err2 = copy_file(argv[1], fd)) < 0) {
			fprintf(stderr, "%s: update: copying to %s: %s\n",
				c->prog, tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			unlink(tmp);
			goto out;
		}
		close(fd);
	}
	if (rename(tmp, e->path) < 0) {
		fprintf(stderr, "%s: update: rename to %s: %s\n", c->prog,
			e->path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* make the rename durable */
	snprintf(dir, sizeof(dir), "%s", e->path);
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
	}
	printf("%s: %s replaced by %s\n", argv[0], e->path, argv[1]);
	rc = 0;
out:
	bs_catalog_free(cat);
	return rc;
}
