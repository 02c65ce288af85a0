/*
 * target.c - one exported file of bootshelf-aoed: its fd, identity,
 * IDENTIFY data and mask list, and the switch to a replaced file.
 *
 * The file is opened read-only and mapped; the frame loop hands the
 * mapping to sendmmsg so sector data is copied once, from the page cache
 * into the packet (pread when it cannot be mapped).  It is never
 * written.  A replacement (a different inode, size or mtime at the path)
 * is switched to only after the target has seen no ATA request for the
 * idle time, so a client that is reading never gets a mix of old and new
 * blocks.  Left out: partial exports (offset/length) and write caching.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "aoed.h"

#define AOED_FWVER	0x0001	/* bootshelf-aoed firmware version 1 */

int64_t aoed_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t aoed_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_capacity(struct aoed_target *t, uint64_t sectors)
{
	char serial[24];

	snprintf(serial, sizeof(serial), "%u.%u", t->shelf, t->slot);
	t->t.sectors = sectors;
	bs_aoe_identify(t->ident, sectors, "bootshelf AoE target", serial,
			"1");
}

static int same_file(const struct aoed_target *t, const struct stat *st)
{
	return t->fd >= 0 && st->st_dev == t->dev && st->st_ino == t->ino &&
	       st->st_size == t->size &&
	       st->st_mtim.tv_sec == t->mtime.tv_sec &&
	       st->st_mtim.tv_nsec == t->mtime.tv_nsec;
}

static void unmap(struct aoed_target *t)
{
	if (t->map)
		munmap((void *)t->map, t->maplen);
	t->map = NULL;
	t->maplen = 0;
}

/* Open the file now at the path and make it the one served.  Nothing
 * refers to the old mapping here: every reply is sent before the loop
 * looks at files again. */
static int open_file(struct aoed_target *t)
{
	struct stat st;
	int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (t->fd >= 0)
		close(t->fd);
	unmap(t);
	if (st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_SHARED, fd, 0);
		if (m != MAP_FAILED) {
			t->map = m;
			t->maplen = (size_t)st.st_size;
		}
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->size = st.st_size;
	t->mtime = st.st_mtim;
	/* a partial last sector is not exported */
	set_capacity(t, (uint64_t)st.st_size / BS_AOE_SECTOR);
	t->pending = 0;
	return 0;
}

struct aoed_target *aoed_target_new(uint16_t shelf, uint8_t slot,
				    const char *path, unsigned bufcnt)
{
	struct aoed_target *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return NULL;
	t->fd = -1;
	t->shelf = shelf;
	t->slot = slot;
	t->path = strdup(path);
	if (!t->path) {
		free(t);
		return NULL;
	}
	t->t.shelf = shelf;
	t->t.slot = slot;
	t->t.bufcnt = (uint16_t)bufcnt;
	t->t.fwver = AOED_FWVER;
	t->t.maxscnt = 2;
	t->t.identify = t->ident;
	set_capacity(t, 0);
	r = open_file(t);
	if (r < 0)
		bs_warn("e%u.%u: %s: %s (answered as unavailable until it "
			"can be opened)", shelf, slot, path, strerror(-r));
	else
		bs_info("e%u.%u: %s, %llu sectors", shelf, slot, path,
			(unsigned long long)t->t.sectors);
	return t;
}

void aoed_target_free(struct aoed_target *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	unmap(t);
	free(t->masks);
	free(t->path);
	free(t);
}

int aoed_target_set_masks(struct aoed_target *t, const uint8_t (*m)[6],
			  size_t n)
{
	uint8_t (*c)[6] = NULL;

	if (n) {
		c = malloc(n * sizeof(*c));
		if (!c)
			return -ENOMEM;
		memcpy(c, m, n * sizeof(*c));
	}
	free(t->masks);
	t->masks = c;
	t->nmasks = n;
	t->t.masks = (const uint8_t (*)[6])c;
	t->t.nmasks = n;
	return 0;
}

int aoed_target_set_path(struct aoed_target *t, const char *path)
{
	char *p;

	if (strcmp(path, t->path) == 0)
		return 0;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	free(t->path);
	t->path = p;
	/* served like a replaced file: switched when idle */
	t->pending = 1;
	return 0;
}

static const char *const problem_names[] = {
	[AOED_OK] = "ok",
	[AOED_GONE] = "file gone from disk, serving the open copy",
	[AOED_UNREADABLE] = "file not readable, serving the open copy",
	[AOED_SHRANK] = "file shrank under its readers, reads past the "
			"end get ATA errors",
	[AOED_NOFILE] = "no file, answered as unavailable",
};

/* Log a change of what is wrong with the file, once per change. */
static void set_problem(struct aoed_target *t, int problem, int err)
{
	if (problem == t->problem)
		return;
	if (problem == AOED_OK)
		bs_info("e%u.%u: %s: ok again", t->shelf, t->slot, t->path);
	else
		bs_warn("e%u.%u: %s: %s%s%s", t->shelf, t->slot, t->path,
			problem_names[problem], err ? ": " : "",
			err ? strerror(err) : "");
	t->problem = problem;
}

void aoed_target_describe(const struct aoed_target *t, char *buf,
			  size_t cap)
{
	snprintf(buf, cap, "e%u.%u %s: %llu sectors, %s%s, %llu read errors",
		 t->shelf, t->slot, t->path,
		 (unsigned long long)t->t.sectors,
		 problem_names[t->problem],
		 t->pending ? ", replacement pending" : "",
		 (unsigned long long)t->read_errors);
}

/* Say what is wrong with the file at the path while the open one is
 * served: gone, unreadable, or shorter than what is exported. */
static void watch(struct aoed_target *t, const struct stat *st, int err)
{
	if (t->read_errors != t->read_errors_logged) {
		bs_warn("e%u.%u: %s: %llu reads failed (answered with an ATA "
			"error)", t->shelf, t->slot, t->path,
			(unsigned long long)(t->read_errors -
					     t->read_errors_logged));
		t->read_errors_logged = t->read_errors;
	}
	if (err)
		set_problem(t, t->fd < 0 ? AOED_NOFILE : AOED_GONE, err);
	else if (faccessat(AT_FDCWD, t->path, R_OK, AT_EACCESS) < 0)
		set_problem(t, t->fd < 0 ? AOED_NOFILE : AOED_UNREADABLE,
			    errno);
	else if (t->fd >= 0 && st->st_dev == t->dev &&
		 st->st_ino == t->ino && st->st_size < t->size)
		set_problem(t, AOED_SHRANK, 0);
	else
		set_problem(t, t->fd < 0 ? AOED_NOFILE : AOED_OK, 0);
}

int aoed_target_check(struct aoed_target *t, int64_t now, int64_t idle_ms)
{
	struct stat st;
	int r;

	if (stat(t->path, &st) < 0 || !S_ISREG(st.st_mode)) {
		/* mid-replacement or gone: keep serving */
		watch(t, &st, errno ? errno : EINVAL);
		return 0;
	}
	watch(t, &st, 0);
	if (!t->pending && same_file(t, &st))
		return 0;
	if (!t->pending) {
		t->pending = 1;
		bs_info("e%u.%u: %s changed on disk; switching after %lld ms "
			"idle", t->shelf, t->slot, t->path,
			(long long)idle_ms);
	}
	if (t->fd >= 0 && now - t->last_active < idle_ms)
		return 0;
	r = open_file(t);
	if (r < 0) {
		/* logged once by watch(); tried again every second */
		if (t->problem == AOED_OK)
			set_problem(t, t->fd < 0 ? AOED_NOFILE :
				    AOED_UNREADABLE, -r);
		return 0;
	}
	set_problem(t, AOED_OK, 0);
	bs_info("e%u.%u: now serving %s, %llu sectors", t->shelf, t->slot,
		t->path, (unsigned long long)t->t.sectors);
	return 1;
}
