/*
 * underlay.c - the files that were in the mountpoint directory before
 * bootshelf-fs mounted over it (pxelinux.0, ldlinux.c32, ...), served
 * read-only beside the tree.
 *
 * The daemon opens the mountpoint (O_PATH) before mounting, so the fd
 * still reaches the directory underneath.  Every path is resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from that fd: symlinks
 * inside the underlay work, but neither a symlink nor ".." can reach a
 * file outside it.  Only regular files and directories are shown.
 *
 * Inode numbers are a hash of (st_dev, st_ino) with bit 63 set, so they
 * are stable across restarts and never equal a tree inode.  A small table
 * maps each number handed out to its path; entries are never dropped
 * while the daemon runs (the kernel and NFS servers may name a nodeid
 * after FORGET), which bounds the table by the size of the underlay.
 *
 * Left out: writing, xattrs, device nodes, FIFOs and sockets, watching
 * the underlay for changes (short entry timeouts cover that).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "bsfs.h"

struct unode {
	uint64_t ino;
	char *path;		/* owned */
	struct unode *next;
};

#define UHASH 1024
/* Protected by ulock.  Entries live until bsfs_underlay_free(). */
static struct unode *utab[UHASH];
static pthread_mutex_t ulock = PTHREAD_MUTEX_INITIALIZER;

/* Paths whose clash with a tree name was already logged. */
#define CLASH_MAX 256
static uint64_t clash_seen[CLASH_MAX];
static size_t nclash;

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser: spreads (dev, ino) over the space */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t underlay_ino(const struct stat *st)
{
	return BSFS_UNDERLAY_BIT |
	       (mix64((uint64_t)st->st_dev * 0x9e3779b97f4a7c15ULL ^
		      (uint64_t)st->st_ino) >> 1);
}

static int resolve(const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (bsfs.ufd < 0)
		return -ENOENT;
	fd = syscall(SYS_openat2, bsfs.ufd, *rel ? rel : ".", &how,
		     sizeof(how));
	if (fd < 0) {
		int e = errno;
		/* EXDEV: the path or a symlink in it leaves the underlay */
		if (e == EXDEV || e == ELOOP)
			return -ENOENT;
		return -e;
	}
	return (int)fd;
}

static void remember(uint64_t ino, const char *rel)
{
	struct unode *u;
	size_t h = (size_t)(ino % UHASH);

	pthread_mutex_lock(&ulock);
	for (u = utab[h]; u; u = u->next)
		if (u->ino == ino)
			break;
	if (u && strcmp(u->path, rel) != 0 && faccessat(bsfs.ufd,
	    *u->path ? u->path : ".", F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		/* the old name went away; the file lives on under @rel */
		char *p = strdup(rel);
		if (p) {
			free(u->path);
			u->path = p;
		}
	} else if (!u) {
		u = calloc(1, sizeof(*u));
		if (u)
			u->path = strdup(rel);
		if (u && u->path) {
			u->ino = ino;
			u->next = utab[h];
			utab[h] = u;
		} else if (u) {
			free(u);
		}
	}
	pthread_mutex_unlock(&ulock);
}

int bsfs_underlay_stat(const char *rel, struct stat *st)
{
	int fd = resolve(rel, O_PATH);

	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return -ENOENT;
	st->st_ino = underlay_ino(st);
	/* read-only view; owner and read bits stay the administrator's */
	st->st_mode &= ~(mode_t)(S_IWUSR | S_IWGRP | S_IWOTH | S_ISUID |
				 S_ISGID);
	remember(st->st_ino, rel);
	return 0;
}

static int lookup_path(uint64_t ino, char *buf, size_t len)
{
	struct unode *u;
	int rc = -ESTALE;

	pthread_mutex_lock(&ulock);
	for (u = utab[ino % UHASH]; u; u = u->next) {
		if (u->ino != ino)
			continue;
		if (strlen(u->path) >= len) {
			rc = -ENAMETOOLONG;
		} else {
			strcpy(buf, u->path);
			rc = 0;
		}
		break;
	}
	pthread_mutex_unlock(&ulock);
	return rc;
}

/* Register every node of the underlay directory @rel and below, up to
 * *budget nodes.  Used when a nodeid is unknown, e.g. an NFS client's
 * handle after a daemon restart. */
static void scan(const char *rel, int depth, int *budget)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int fd;

	if (depth > 16 || (fd = bsfs_underlay_open(rel, 1)) < 0)
		return;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return;
	}
	while (*budget > 0 && (de = readdir(dir))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    bsfs_path_join(path, sizeof(path), rel, de->d_name) < 0 ||
		    bsfs_underlay_stat(path, &st) < 0)
			continue;
		(*budget)--;
		if (S_ISDIR(st.st_mode) && de->d_type == DT_DIR)
			scan(path, depth + 1, budget);
	}
	closedir(dir);
}

int bsfs_underlay_path(uint64_t ino, char *buf, size_t len)
{
	static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last_scan;
	int rc = lookup_path(ino, buf, len);
	uint64_t now;

	if (rc != -ESTALE || bsfs.ufd < 0)
		return rc;
	/* unknown number: walk the underlay once (at most every 10 s) */
	pthread_mutex_lock(&scan_lock);
	now = bsfs_now_ms();
	if (!last_scan || now - last_scan > 10000) {
		int budget = 100000;
		last_scan = now;
		scan("", 0, &budget);
	}
	pthread_mutex_unlock(&scan_lock);
	return lookup_path(ino, buf, len);
}

int bsfs_underlay_open(const char *rel, int dir)
{
	return resolve(rel, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
}

void bsfs_underlay_clash(const char *rel)
{
	uint64_t h = str_hash(rel);
	int seen = 0;

	pthread_mutex_lock(&ulock);
	for (size_t i = 0; i < nclash; i++)
		if (clash_seen[i] == h)
			seen = 1;
	if (!seen && nclash < CLASH_MAX)
		clash_seen[nclash++] = h;
	pthread_mutex_unlock(&ulock);
	if (!seen) {
		char clean[512];
		bs_warn("underlay: \"%s\" is hidden by the catalog tree",
			bs_log_clean(clean, sizeof(clean), rel, strlen(rel)));
	}
}

void bsfs_underlay_free(void)
{
	pthread_mutex_lock(&ulock);
	for (size_t i = 0; i < UHASH; i++) {
		while (utab[i]) {
			struct unode *u = utab[i];
			utab[i] = u->next;
			free(u->path);
			free(u);
		}
	}
	pthread_mutex_unlock(&ulock);
}

int bsfs_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl + nl + 2 > len)
		return -ENAMETOOLONG;
	if (dl) {
		memcpy(buf, dir, dl);
		buf[dl++] = '/';
	}
	memcpy(buf + dl, name, nl + 1);
	return 0;
}

int bsfs_vnode_path(const struct bs_vnode *n, char *buf, size_t len)
{
	const struct bs_vnode *v;
	size_t total = 0, end;

	for (v = n; v->parent && v->parent != v; v = v->parent)
		total += strlen(v->name) + 1;
	if (total + 1 > len)
		return -ENAMETOOLONG;
	/* fill from the end: the node's own name is the last component */
	end = total ? total - 1 : 0;
	buf[end] = '\0';
	for (v = n; v->parent && v->parent != v; v = v->parent) {
		size_t l = strlen(v->name);
		memcpy(buf + end - l, v->name, l);
		end -= l;
		if (end)
			buf[--end] = '/';
	}
	return 0;
}
