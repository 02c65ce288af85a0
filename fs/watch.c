/*
 * watch.c - live updates: notice changes to the catalog and the ISO files
 * and reload the tree on a thread of its own.
 *
 * inotify watches the directory of the catalog (an edit by rename shows
 * up there, not on the old file), its catalog.d/ drop-in directory, and
 * the directory of every local file the catalog names (an ISO replaced by
 * rename, rewritten in place, added or removed).  Events are filtered by
 * (watch, name), collected until 100 ms pass without a new one (at most
 * 2 s), then the shelf is reloaded, the new snapshot swapped in and the
 * kernel's caches invalidated for what changed.  SIGHUP and
 * bsfs_watch_kick() (an ISO found rewritten in place) force a reload.
 *
 * Reloads never run on a FUSE request thread: building a snapshot may
 * index ISOs, and invalidation must not wait on a request.
 *
 * Remote (URL) sources cannot be watched: those with a refresh interval
 * are asked on that interval (a HEAD each), and a changed one reloads.
 * Left out: watching the underlay (short entry timeouts instead).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <bootshelf/log.h>

#include "bsfs.h"

#define DEBOUNCE_MS	100
#define DEBOUNCE_MAX_MS	2000
#define WATCH_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF)

/* What an event must match to matter: a name in a watched directory,
 * or (name "*") any *.conf in the drop-in directory. */
struct interest {
	int wd;
	char *name;		/* owned */
};

/* Thread state.  Only the watcher thread touches ino_fd and the
 * interest list after start. */
static int ino_fd = -1;
static int kick_pipe[2] = { -1, -1 };
static pthread_t thread;
static int running;
static volatile int stopping;
static struct interest *interests;
static size_t ninterests, capinterests;

void bsfs_watch_kick(void)
{
	char c = 'k';

	if (kick_pipe[1] >= 0 && write(kick_pipe[1], &c, 1) < 0) {
		/* pipe full: a reload is already pending */
	}
}

static void on_sighup(int sig)
{
	char c = 'h';
	int saved = errno;

	if (kick_pipe[1] >= 0 && write(kick_pipe[1], &c, 1) < 0) {
		/* pipe full: a reload is already pending */
	}
	errno = saved;
}

static void interest_add(int wd, const char *name)
{
	for (size_t i = 0; i < ninterests; i++)
		if (interests[i].wd == wd && !strcmp(interests[i].name, name))
			return;
	if (ninterests == capinterests) {
		size_t cap = capinterests ? capinterests * 2 : 32;
		struct interest *v = realloc(interests, cap * sizeof(*v));
		if (!v)
			return;
		interests = v;
		capinterests = cap;
	}
	if ((interests[ninterests].name = strdup(name))) {
		interests[ninterests].wd = wd;
		ninterests++;
	}
}

/* Watch the directory of absolute @path and care about its last name. */
static void watch_file(const char *path)
{
	char dir[PATH_MAX];
	const char *slash;
	size_t l;
	int wd;

	if (!path || path[0] != '/' || !(slash = strrchr(path, '/')))
		return;
	l = (size_t)(slash - path);
	if (l >= sizeof(dir))
		return;
	memcpy(dir, path, l);
	dir[l ? l : 1] = '\0';
	if (!l)
		dir[0] = '/';
	wd = inotify_add_watch(ino_fd, dir, WATCH_MASK);
	if (wd < 0) {
		if (errno != ENOENT)
			bs_debug("inotify %s: %s", dir, strerror(errno));
		return;
	}
	interest_add(wd, slash + 1);
}

/* (Re)compute the watches from the current snapshot's catalog.  Watches
 * are only added: an old ISO directory watched in vain costs little. */
static void watch_update(void)
{
	struct bs_vtree *t = bs_shelf_get(bsfs.shelf);
	char dropin[PATH_MAX];
	const char *slash;
	size_t l;
	int wd;

	watch_file(bsfs.shelf->catalog_path);
	/* the drop-in directory "<dir of catalog>/catalog.d": its name in
	 * the catalog's directory, and its own entries */
	slash = strrchr(bsfs.shelf->catalog_path, '/');
	l = slash ? (size_t)(slash - bsfs.shelf->catalog_path) : 0;
	if (l + sizeof("/catalog.d") <= sizeof(dropin)) {
		memcpy(dropin, bsfs.shelf->catalog_path, l);
		strcpy(dropin + l, "/catalog.d");
		watch_file(dropin);
		wd = inotify_add_watch(ino_fd, dropin, WATCH_MASK);
		if (wd >= 0)
			interest_add(wd, "*");
	}
	for (size_t i = 0; t && t->cat && i < t->cat->nentries; i++) {
		const struct bs_cat_entry *e = &t->cat->entries[i];

		watch_file(e->path);
		if (e->kind == BS_ENTRY_IMAGE) {
			watch_file(e->kernel);
			watch_file(e->initrd);
			watch_file(e->image);
		}
	}
	if (t)
		bs_vtree_unref(t);
}

static int interesting(const struct inotify_event *ev)
{
	size_t nl = ev->len ? strlen(ev->name) : 0;

	for (size_t i = 0; i < ninterests; i++) {
		if (interests[i].wd != ev->wd)
			continue;
		if (!strcmp(interests[i].name, "*")) {
			/* drop-in directory itself moved or removed, or
			 * one of its *.conf files changed */
			if (!nl || (nl > 5 &&
				    !strcmp(ev->name + nl - 5, ".conf")))
				return 1;
		} else if (nl && !strcmp(interests[i].name, ev->name)) {
			return 1;
		}
	}
	return 0;
}

static void notify_status(const char *what)
{
	struct bs_vtree *t = bs_shelf_get(bsfs.shelf);

	sd_notifyf(0, "STATUS=%s: generation %llu, %zu nodes", what,
		   (unsigned long long)t->generation, t->nnodes);
	bs_vtree_unref(t);
}

static void reload(int from_signal)
{
	struct bs_vtree *old = NULL, *cur;
	uint64_t t0 = bsfs_now_ms();
	size_t ninval = 0;
	int rc;

	if (from_signal)
		sd_notify(0, "RELOADING=1");
	rc = bs_shelf_reload(bsfs.shelf, &old);
	if (rc == 0) {
		cur = bs_shelf_get(bsfs.shelf);
		if (old) {
			ninval = bsfs_inval_diff(bsfs.se, old, cur);
			bsfs_ops_retire(old);
			bs_vtree_unref(old);
		}
		bs_info("reload: generation %llu, %zu names invalidated, "
			"%llu ms", (unsigned long long)cur->generation, ninval,
			(unsigned long long)(bsfs_now_ms() - t0));
		bs_vtree_unref(cur);
		notify_status("reloaded");
	} else {
		char line[BS_ERRMSG_MAX + PATH_MAX];

		bs_err("reload failed (%s): still serving the previous "
		       "tree; see .bootshelf/status", strerror(-rc));
		pthread_mutex_lock(&bsfs.shelf->lock);
		for (size_t i = 0; i < bsfs.shelf->last_diags.n; i++) {
			bs_diag_format(&bsfs.shelf->last_diags.v[i], line,
				       sizeof(line));
			bs_err("%s", line);
		}
		pthread_mutex_unlock(&bsfs.shelf->lock);
		notify_status("reload failed, serving the previous tree");
	}
	if (from_signal)
		sd_notify(0, "READY=1");
	watch_update();
}

/* The readahead window in whole READ requests: the kernel cuts a window
 * into max-sized requests, and a remainder would be one small request
 * per window. */
static size_t readahead_kb(void)
{
	size_t req = __atomic_load_n(&bsfs_read_max, __ATOMIC_ACQUIRE) / 1024;
	size_t kb = BSFS_READAHEAD_KB;

	if (req && kb > req)
		kb = kb / req * req;
	return kb;
}

/*
 * Raise the mount's readahead through its backing device in sysfs.  Done
 * here because stat() of the mountpoint needs the FUSE loop running.
 */
static void tune_readahead(void)
{
	char path[128], val[32];
	struct stat st;
	int fd, n;

	if (stat(bsfs.mnt, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	n = snprintf(val, sizeof(val), "%zu\n", readahead_kb());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, (size_t)n) != n)
		/* not root, or /sys read-only (systemd's
		 * ProtectKernelTunables=): cold reads are slower */
		bs_info("readahead stays at the kernel's default: %s: %s",
			path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Remote ISOs with a refresh interval: ask their servers when one is
 * due (HEAD), and reload when an object changed.  @ret when to ask next
 * (0: no entry has an interval).
 */
static uint64_t poll_remote(void)
{
	uint64_t wait = 0;

	if (bs_shelf_poll(bsfs.shelf, &wait)) {
		reload(0);
		bs_shelf_poll(bsfs.shelf, &wait);
	}
	if (wait && wait < 500)
		wait = 500;
	return wait ? bsfs_now_ms() + wait : 0;
}

static void *watch_main(void *arg)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t first = 0, deadline = 0, next_poll = poll_remote();
	int pending = 0, hup = 0;

	tune_readahead();
	while (!stopping) {
		struct pollfd pf[2] = {
			{ .fd = ino_fd, .events = POLLIN },
			{ .fd = kick_pipe[0], .events = POLLIN },
		};
		int timeout = -1;
		uint64_t now = bsfs_now_ms();

		if (pending) {
			uint64_t until = deadline;
			if (first + DEBOUNCE_MAX_MS < until)
				until = first + DEBOUNCE_MAX_MS;
			timeout = until > now ? (int)(until - now) : 0;
		}
		if (next_poll) {
			int t = next_poll > now ? (int)(next_poll - now) : 0;
			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		if (poll(pf, 2, timeout) < 0 && errno != EINTR)
			break;
		now = bsfs_now_ms();
		if (pf[1].revents & POLLIN) {
			char c[64];
			ssize_t n = read(kick_pipe[0], c, sizeof(c));
			for (ssize_t i = 0; i < n; i++)
				hup |= c[i] == 'h';
			if (stopping)
				break;
			/* forced reloads do not wait for quiet */
			if (n > 0) {
				reload(hup);
				pending = 0;
				hup = 0;
				next_poll = bsfs_now_ms();	/* new catalog */
				continue;
			}
		}
		if (pf[0].revents & POLLIN) {
			ssize_t n = read(ino_fd, buf, sizeof(buf));
			for (char *p = buf; n > 0 && p < buf + n;) {
				const struct inotify_event *ev =
					(const struct inotify_event *)p;
				if (interesting(ev)) {
					if (!pending)
						first = now;
					pending = 1;
					deadline = now + DEBOUNCE_MS;
				}
				p += sizeof(*ev) + ev->len;
			}
		}
		if (pending && (now >= deadline ||
				now >= first + DEBOUNCE_MAX_MS)) {
			pending = 0;
			reload(0);
			next_poll = bsfs_now_ms();	/* new catalog */
		}
		if (next_poll && now >= next_poll)
			next_poll = poll_remote();
	}
	return NULL;
}

int bsfs_watch_start(void)
{
	struct sigaction sa;
	sigset_t all, old;
	int rc;

	if (pipe2(kick_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino_fd < 0) {
		rc = -errno;
		goto err_pipe;
	}
	watch_update();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	/* signals belong to the FUSE loop's thread, which must wake up on
	 * SIGTERM; this thread never takes them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = -pthread_create(&thread, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto err_ino;
	running = 1;
	return 0;

err_ino:
	close(ino_fd);
	ino_fd = -1;
err_pipe:
	close(kick_pipe[0]);
	close(kick_pipe[1]);
	kick_pipe[0] = kick_pipe[1] = -1;
	return rc;
}

void bsfs_watch_stop(void)
{
	if (running) {
		stopping = 1;
		bsfs_watch_kick();
		pthread_join(thread, NULL);
		running = 0;
	}
	signal(SIGHUP, SIG_IGN);
	if (ino_fd >= 0)
		close(ino_fd);
	ino_fd = -1;
	for (int i = 0; i < 2; i++) {
		if (kick_pipe[i] >= 0)
			close(kick_pipe[i]);
		kick_pipe[i] = -1;
	}
	for (size_t i = 0; i < ninterests; i++)
		free(interests[i].name);
	free(interests);
	interests = NULL;
	ninterests = capinterests = 0;
}
