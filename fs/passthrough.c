/*
 * passthrough.c - FUSE passthrough for files that are one whole local
 * file: the ISO itself (boot/<name>/<name>.iso) and KIWI images.  The
 * kernel (6.9 and later) reads them straight from the backing file's
 * page cache: no READ requests, no second copy of the pages, the backing
 * file system's large folios.  (Not underlay files: their numbers follow
 * the path, and a file replaced there would go on being read from the
 * old backing file.)
 *
 * libfuse 3.14 has no API for it, so this file speaks the protocol
 * itself at three points:
 *   - the INIT reply gets FUSE_PASSTHROUGH and max_stack_depth on its
 *     way to the kernel (a custom I/O writev; reads note the INIT
 *     request and whether the kernel offers passthrough);
 *   - a backing file is registered with FUSE_DEV_IOC_BACKING_OPEN, one
 *     per inode (the kernel refuses two different backing files for
 *     one inode), and closed once no snapshot has the inode; tree
 *     inode numbers are content-derived, so one number is one file;
 *   - the OPEN reply, with FOPEN_PASSTHROUGH and the backing id, is
 *     written by hand (fuse_reply_iov).
 * Registering needs CAP_SYS_ADMIN: a daemon that drops root (--user) or
 * runs as a user does not ask for passthrough at all, and the first
 * refused registration turns it off for good.  Files of one inode are
 * then all opened one way, which the kernel requires.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>

#include <bootshelf/log.h>

#include "bsfs.h"

/* Protocol 7.40 additions, not in older <linux/fuse.h>. */
#define PT_FLAG			(1ULL << 37)	/* FUSE_PASSTHROUGH */
#define PT_FOPEN		(1u << 7)	/* FOPEN_PASSTHROUGH */
#define PT_STACK_DEPTH		2		/* ISOs on overlayfs work */

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_BACKING_OPEN	_IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE	_IOW(229, 2, uint32_t)

/* The INIT reply as of 7.40: max_stack_depth follows flags2. */
struct pt_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
};

struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* An inode opened since its snapshot came: its backing id (0: the kernel
 * refused it, served by the daemon), kept until no snapshot has it. */
struct pt_ino {
	uint64_t ino;
	int id;
	unsigned refs;
	struct bs_source *src;	/* reference */
};

static struct {
	int want;		/* asked for at INIT (root, no --user) */
	int kernel_offers;	/* the INIT request offered it */
	int on;			/* negotiated and not refused since */
	uint64_t init_unique;	/* of the INIT request; 0 once answered */
	int devfd;
	pthread_mutex_t lock;
	struct pt_ino *v;	/* inodes opened; a few at a time */
	size_t n, cap;
} pt = { .devfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static ssize_t pt_read(int fd, void *buf, size_t len, void *ud)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)ud;
	if (n >= (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) &&
	    in->opcode == FUSE_INIT) {
		const struct fuse_init_in *a = (const void *)(in + 1);

		pt.kernel_offers = (a->flags & FUSE_INIT_EXT) &&
			(((uint64_t)a->flags2 << 32) & PT_FLAG);
		__atomic_store_n(&pt.init_unique, in->unique,
				 __ATOMIC_RELEASE);
	}
	return n;
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *ud)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	uint64_t u = __atomic_load_n(&pt.init_unique, __ATOMIC_ACQUIRE);

	(void)ud;
	if (u && out->unique == u) {
		__atomic_store_n(&pt.init_unique, 0, __ATOMIC_RELEASE);
		if (pt.want && pt.kernel_offers && out->error == 0 &&
		    count >= 2 && iov[1].iov_len >= sizeof(struct pt_init_out)) {
			struct pt_init_out *o = iov[1].iov_base;

			o->flags |= FUSE_INIT_EXT;
			o->flags2 |= (uint32_t)(PT_FLAG >> 32);
			o->max_stack_depth = PT_STACK_DEPTH;
			pt.on = 1;
		}
		if (pt.want)
			bs_info("fuse: passthrough %s", pt.on ? "on: whole "
				"files are read by the kernel from their "
				"backing file" : "not offered by this kernel");
	}
	return writev(fd, iov, count);
}

static ssize_t pt_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			 size_t len, unsigned int flags, void *ud)
{
	(void)ud;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int bsfs_pt_setup(struct fuse_session *se, int want)
{
	static const struct fuse_custom_io io = {
		.writev = pt_writev,
		.read = pt_read,
		.splice_receive = pt_splice,
		.splice_send = pt_splice,
	};
	int fd = fuse_session_fd(se);
	int rc;

	pt.want = want;
	pt.devfd = fd;
	rc = fuse_session_custom_io(se, &io, fd);
	if (rc < 0)
		bs_warn("fuse: no passthrough (custom I/O: %s)",
			strerror(-rc));
	return rc;
}

int bsfs_pt_enabled(void)
{
	return __atomic_load_n(&pt.on, __ATOMIC_ACQUIRE);
}

static struct pt_ino *find(uint64_t ino)
{
	for (size_t i = 0; i < pt.n; i++)
		if (pt.v[i].ino == ino)
			return &pt.v[i];
	return NULL;
}

int bsfs_pt_open(uint64_t ino, struct bs_source *src)
{
	struct pt_backing_map map = { .fd = src->fd };
	struct pt_ino *e;
	int id, err;

	pthread_mutex_lock(&pt.lock);
	if (!pt.on) {
		pthread_mutex_unlock(&pt.lock);
		return -ENOTSUP;
	}
	if ((e = find(ino))) {
		e->refs++;
		id = e->id;
		pthread_mutex_unlock(&pt.lock);
		return id;
	}
	if (pt.n == pt.cap) {
		size_t cap = pt.cap ? pt.cap * 2 : 16;
		struct pt_ino *v = realloc(pt.v, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&pt.lock);
			return -ENOMEM;
		}
		pt.v = v;
		pt.cap = cap;
	}
	id = ioctl(pt.devfd, PT_IOC_BACKING_OPEN, &map);
	err = id < 0 ? errno : 0;
	if (err == EPERM) {
		/* no CAP_SYS_ADMIN: nothing was opened this way yet */
		pt.on = 0;
		pthread_mutex_unlock(&pt.lock);
		bs_info("fuse: passthrough off (registering a backing file: "
			"%s)", strerror(err));
		return -ENOTSUP;
	}
	if (id <= 0) {
		/* this inode is served by the daemon while it is known:
		 * mixing both kinds of open makes the kernel refuse one */
		char clean[512];

		bs_info("fuse: %s: no passthrough (%s)",
			bs_log_clean(clean, sizeof(clean), src->path,
				     strlen(src->path)),
			strerror(err ? err : EIO));
		id = 0;
	}
	pt.v[pt.n++] = (struct pt_ino){ .ino = ino, .id = id, .refs = 1,
					.src = bs_source_ref(src) };
	pthread_mutex_unlock(&pt.lock);
	return id;
}

void bsfs_pt_release(uint64_t ino)
{
	struct pt_ino *e;

	pthread_mutex_lock(&pt.lock);
	if ((e = find(ino)) && e->refs)
		e->refs--;
	pthread_mutex_unlock(&pt.lock);
}

/*
 * A backing id outlives the last release of its inode: the kernel may
 * still hold the inode's backing file for a moment after RELEASE, and a
 * new open with another id would then be refused (EBUSY).  An inode that
 * is in neither snapshot cannot be opened again; its id goes.
 */
void bsfs_pt_sweep(const struct bs_vtree *cur, const struct bs_vtree *prev)
{
	pthread_mutex_lock(&pt.lock);
	for (size_t i = 0; i < pt.n;) {
		struct pt_ino *e = &pt.v[i];
		uint32_t id = (uint32_t)e->id;

		if (e->refs)
			bsfs_check_source(e->src);
		if (e->refs || (cur && bs_vtree_by_ino(cur, e->ino)) ||
		    (prev && bs_vtree_by_ino(prev, e->ino))) {
			i++;
			continue;
		}
		if (id && ioctl(pt.devfd, PT_IOC_BACKING_CLOSE, &id) < 0)
			bs_debug("fuse: closing backing id %u: %s", id,
				 strerror(errno));
		bs_source_unref(e->src);
		*e = pt.v[--pt.n];
	}
	pthread_mutex_unlock(&pt.lock);
}

int bsfs_pt_reply_open(fuse_req_t req, uint64_t fh, int id)
{
	struct pt_open_out o = {
		.fh = fh,
		.open_flags = PT_FOPEN,
		.backing_id = id,
	};
	struct iovec iov = { .iov_base = &o, .iov_len = sizeof(o) };

	return fuse_reply_iov(req, &iov, 1);
}
