/*
 * backend_dir.c - the directory backend of bootshelf-tftpd: serve the
 * regular files below one directory, read-only.
 *
 * Names are resolved with openat2(RESOLVE_BENEATH) relative to a
 * directory fd opened at start, so ".." and symlinks can never leave the
 * root; where openat2 is missing, names are walked one component at a
 * time with O_NOFOLLOW (then no symlinks are followed at all).  Files
 * being transferred are shared: one open fd per (st_dev, st_ino),
 * refcounted.  Not here: writing, directory listings, remap rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __has_include
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif

#include "backend.h"

/* One open file, shared by every transfer of it. */
struct bs_tftpd_file {
	int fd;
	dev_t dev;
	ino_t ino;
	unsigned refs;
	struct bs_tftpd_file *next;
};

struct dir_ctx {
	int rootfd;
	char *root;		/* as given, without trailing '/' */
	size_t rootlen;
	unsigned flags;
	int no_openat2;		/* openat2 said ENOSYS once */
	struct bs_tftpd_file *files;	/* open files, owned */
};

static int open_beneath(struct dir_ctx *c, const char *name)
{
#if defined(HAVE_OPENAT2_H) && defined(SYS_openat2)
	if (!c->no_openat2) {
		struct open_how how = {
			.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, c->rootfd, name, &how,
				  sizeof(how));

		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
		c->no_openat2 = 1;
	}
#endif
	return -ENOSYS;
}

/* Find a directory entry matching comp caselessly; copies it to out. */
static int casefold(int dirfd, const char *comp, char *out, size_t cap)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;
	int ret = -ENOENT;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((e = readdir(d))) {
		if (!strcasecmp(e->d_name, comp) &&
		    strlen(e->d_name) < cap) {
			strcpy(out, e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/*
 * Component walk with O_NOFOLLOW: no symlink is ever followed, so
 * nothing can lead outside the root.  Used without openat2 and for the
 * caseless retry.
 */
static int open_walk(struct dir_ctx *c, const char *name, int fold)
{
	char buf[PATH_MAX], comp[NAME_MAX + 1];
	char *save, *tok, *nexttok;
	int dfd = c->rootfd, fd = -1, ret;

	if (strlen(name) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, name);
	tok = strtok_r(buf, "/", &save);
	if (!tok)
		return -EISDIR;
	for (; tok; tok = nexttok) {
		nexttok = strtok_r(NULL, "/", &save);
		if (!strcmp(tok, ".."))
			return -EACCES;
		int fl = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
			 (nexttok ? O_PATH | O_DIRECTORY : O_RDONLY);
		fd = openat(dfd, tok, fl);
		if (fd < 0 && errno == ENOENT && fold &&
		    casefold(dfd, tok, comp, sizeof(comp)) == 0)
			fd = openat(dfd, comp, fl);
		ret = fd < 0 ? -errno : 0;
		if (dfd != c->rootfd)
			close(dfd);
		if (ret)
			return ret == -ENOTDIR && !nexttok ? -ENOENT : ret;
		dfd = fd;
	}
	return fd;
}

static int dir_open(void *ctx, const char *name, struct bs_tftpd_file **f,
		    uint64_t *size)
{
	struct dir_ctx *c = ctx;
	struct bs_tftpd_file *e;
	struct stat st;
	int absolute = name[0] == '/';
	int fd;

	/* Absolute names: the root's own path, or relative to the root. */
	if (absolute && c->rootlen > 1 &&
	    !strncmp(name, c->root, c->rootlen) &&
	    (name[c->rootlen] == '/' || !name[c->rootlen]))
		name += c->rootlen;
	while (*name == '/')
		name++;
	if (!*name)
		return -EACCES;
	fd = open_beneath(c, name);
	if (fd == -ENOSYS)
		fd = open_walk(c, name, 0);
	if (fd == -ENOENT && (c->flags & BS_TFTPD_DIR_CASEFOLD))
		fd = open_walk(c, name, 1);
	/*
	 * An absolute name that is not below the root names something
	 * outside it: refuse it as such rather than "not found".
	 */
	if (fd == -ENOENT && absolute)
		return -EACCES;
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EACCES;
	}
	for (e = c->files; e; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino)
			break;
	if (e) {
		close(fd);
		e->refs++;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e) {
			close(fd);
			return -ENOMEM;
		}
		e->fd = fd;
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->refs = 1;
		e->next = c->files;
		c->files = e;
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	*f = e;
	*size = (uint64_t)st.st_size;
	return 0;
}

static ssize_t dir_pread(void *ctx, struct bs_tftpd_file *f, void *buf,
			 size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(f->fd, (char *)buf + got, len - got,
				  (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void dir_close(void *ctx, struct bs_tftpd_file *f)
{
	struct dir_ctx *c = ctx;
	struct bs_tftpd_file **pp;

	if (!f || --f->refs)
		return;
	for (pp = &c->files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	close(f->fd);
	free(f);
}

static void dir_destroy(void *ctx)
{
	struct dir_ctx *c = ctx;

	if (!c)
		return;
	while (c->files) {
		struct bs_tftpd_file *f = c->files;
		c->files = f->next;
		close(f->fd);
		free(f);
	}
	if (c->rootfd >= 0)
		close(c->rootfd);
	free(c->root);
	free(c);
}

static const struct bs_tftpd_backend dir_backend = {
	.name = "directory",
	.open = dir_open,
	.pread = dir_pread,
	.close = dir_close,
	.destroy = dir_destroy,
};

int bs_tftpd_dir_new(const char *root, unsigned flags,
		     const struct bs_tftpd_backend **be, void **ctx)
{
	struct dir_ctx *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->rootfd = -1;
	c->flags = flags;
	c->root = strdup(root);
	if (!c->root) {
		ret = -ENOMEM;
		goto err;
	}
	c->rootlen = strlen(c->root);
	while (c->rootlen > 1 && c->root[c->rootlen - 1] == '/')
		c->root[--c->rootlen] = '\0';
	c->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0) {
		ret = -errno;
		goto err;
	}
	*be = &dir_backend;
	*ctx = c;
	return 0;
err:
	dir_destroy(c);
	return ret;
}
