/*
 * mount.c - what bootshelf-fs does around the mount itself: the checks
 * of the mountpoint before mounting (a live mount there is refused, the
 * dead mount of an earlier bootshelf-fs is detached), whether
 * allow_other may be asked for, and dropping root once the mount is
 * made.
 *
 * A bootshelf-fs that died (SIGKILL, OOM killer, crash) leaves its mount
 * behind with no daemon: every access that reaches the daemon fails
 * with ENOTCONN ("Transport endpoint is not connected") until someone
 * unmounts it.  Restarting on the same mountpoint detaches
 * such a mount first, but only when /proc/self/mountinfo shows it is
 * ours (type fuse.bootshelf): a dead mount of another FUSE filesystem,
 * or any live mount, is left alone and refused.
 *
 * Left out: mount namespaces (the mount must be seen by the servers that
 * read it) and capabilities kept across the drop (none are needed: the
 * /dev/fuse descriptor and the underlay descriptor stay open).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "bsfs.h"

extern char **environ;

int bsfs_mnt_resolve(const char *arg, char *out, size_t len)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	const char *slash, *base;
	size_t l;

	if (len < PATH_MAX)
		return -ENAMETOOLONG;
	if (realpath(arg, out))
		return 0;
	if (errno != ENOTCONN && errno != EACCES)
		return -errno;
	/* a dead mount, or one that denies us (FUSE without allow_other),
	 * cannot be resolved itself: resolve its parent and append the
	 * last name */
	if (strlen(arg) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, arg);
	for (l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--)
		dir[l - 1] = '\0';
	slash = strrchr(dir, '/');
	base = slash ? slash + 1 : dir;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -ENOTCONN;
	if (slash == dir)
		strcpy(parent, "/");
	else if (slash)
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir),
			 dir);
	else
		strcpy(parent, ".");
	if (!realpath(parent, out))
		return -errno;
	l = strlen(out);
	if (l + 1 + strlen(base) + 1 > len)
		return -ENAMETOOLONG;
	snprintf(out + l, len - l, "%s%s", out[l - 1] == '/' ? "" : "/",
		 base);
	return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/*
 * Filesystem type and device (major:minor) of the topmost mount at @mnt
 * in /proc/self/mountinfo (fields: id parent major:minor root mountpoint
 * opts [tags] - type source ...).
 * @ret 0 with @type and @dev filled, -ENOENT when nothing is mounted
 * there
 */
static int mount_info(const char *mnt, char *type, size_t len,
		      unsigned *maj, unsigned *min)
{
	char line[4 * PATH_MAX], *save, *tok, *mp, *devf, *sep;
	int found = -ENOENT;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		save = NULL;
		mp = devf = NULL;
		tok = strtok_r(line, " ", &save);
		for (int i = 1; tok && i <= 4; i++) {
			tok = strtok_r(NULL, " ", &save);
			if (i == 2)
				devf = tok;
			if (i == 4)
				mp = tok;
		}
		if (!mp || !devf)
			continue;
		unescape(mp);
		if (strcmp(mp, mnt) != 0)
			continue;
		/* the last mount listed at a path is the one on top */
		sep = save ? strstr(save, " - ") : NULL;
		if (!sep || sscanf(devf, "%u:%u", maj, min) != 2 ||
		    sscanf(sep + 3, "%63s", line) != 1)
			continue;
		snprintf(type, len, "%s", line);
		found = 0;
	}
	fclose(f);
	return found;
}

/* Lazy unmount: umount2(MNT_DETACH) with the privilege, else the
 * set-uid fusermount3 (which allows it for the mount's owner). */
static int detach(const char *mnt)
{
	char *argv[] = { "fusermount3", "-uz", "--", (char *)mnt, NULL };
	pid_t pid;
	int st;

	if (umount2(mnt, MNT_DETACH) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ))
		return -EPERM;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

int bsfs_mnt_present(const char *mnt)
{
	char type[64];
	unsigned maj, min;

	return mount_info(mnt, type, sizeof(type), &maj, &min) == 0;
}

int bsfs_mnt_recover(const char *mnt)
{
	char type[64];
	struct statfs sf;
	struct stat st;
	unsigned maj, min;
	int rc;

	rc = mount_info(mnt, type, sizeof(type), &maj, &min);
	if (rc < 0 || strncmp(type, "fuse", 4) != 0)
		return 0;	/* not a FUSE mount: mountpoint_busy() */
	/* stat(2) may still answer from attributes the kernel cached;
	 * statfs(2) always asks the daemon */
	if (statfs(mnt, &sf) == 0 || errno != ENOTCONN)
		return 0;	/* alive: refused as busy later */
	if (strcmp(type, "fuse.bootshelf") != 0) {
		bs_err("mountpoint %s: a dead %s mount is in the way (its "
		       "daemon is gone); not ours, so not touched: unmount it "
		       "with fusermount3 -uz %s", mnt, type, mnt);
		return -EBUSY;
	}
	rc = detach(mnt);
	if (rc < 0) {
		bs_err("mountpoint %s: cannot detach the dead mount of an "
		       "earlier bootshelf-fs: %s (run fusermount3 -uz %s)",
		       mnt, strerror(-rc), mnt);
		return rc;
	}
	bs_warn("mountpoint %s: detached the dead mount of an earlier "
		"bootshelf-fs (its daemon was gone: %s)", mnt,
		strerror(ENOTCONN));
	if (stat(mnt, &st) < 0) {
		rc = -errno;
		bs_err("mountpoint %s: %s", mnt, strerror(errno));
		return rc;
	}
	return 0;
}

void bsfs_mnt_init_now(struct fuse_session *se, const char *mnt)
{
	struct fuse_buf fbuf = { .mem = NULL };
	char type[64], path[128], val[32];
	unsigned maj, min;
	int fd, n;

	/* the kernel's first request is INIT; nothing else comes first */
	if (fuse_session_receive_buf(se, &fbuf) > 0)
		fuse_session_process_buf(se, &fbuf);
	free(fbuf.mem);
	/* stat(2) of the mountpoint would wait for the loop: take the
	 * device from mountinfo */
	if (mount_info(mnt, type, sizeof(type), &maj, &min) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 maj, min);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = snprintf(val, sizeof(val), "%d\n", BSFS_READAHEAD_KB);
	if (write(fd, val, (size_t)n) != n)
		bs_debug("%s: %s", path, strerror(errno));
	close(fd);
}

int bsfs_user_allow_other(void)
{
	char line[256];
	FILE *f;
	int yes = 0;

	if (geteuid() == 0)
		return 1;
	if (!(f = fopen("/etc/fuse.conf", "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* fusermount3 wants the word alone on its line */
		line[strcspn(line, "\r\n")] = '\0';
		if (!strcmp(line, "user_allow_other"))
			yes = 1;
	}
	fclose(f);
	return yes;
}

int bsfs_priv_lookup(const char *user, struct bsfs_priv *p)
{
	struct passwd *pw = getpwnam(user);
	char *end;
	unsigned long v;

	memset(p, 0, sizeof(*p));
	if (!pw) {
		errno = 0;
		v = strtoul(user, &end, 10);
		if (!*user || *end || errno || v >= (unsigned long)INT_MAX)
			return -ENOENT;
		pw = getpwuid((uid_t)v);
		if (!pw)
			return -ENOENT;
	}
	if (pw->pw_uid == 0)
		return -EINVAL;
	snprintf(p->name, sizeof(p->name), "%s", pw->pw_name);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	p->set = 1;
	return 0;
}

int bsfs_priv_enter(const struct bsfs_priv *p)
{
	if (!p->set)
		return 0;
	if (geteuid() != 0) {
		bs_err("--user %s: only root can switch users; already "
		       "running as uid %u", p->name, (unsigned)geteuid());
		return -EPERM;
	}
	/* effective ids only: the saved uid 0 brings root back to mount */
	if (initgroups(p->name, p->gid) < 0 ||
	    setresgid((gid_t)-1, p->gid, (gid_t)-1) < 0 ||
	    setresuid((uid_t)-1, p->uid, (uid_t)-1) < 0) {
		bs_err("--user %s: %s", p->name, strerror(errno));
		return -errno;
	}
	return 0;
}

int bsfs_priv_leave(const struct bsfs_priv *p)
{
	if (!p->set)
		return 0;
	if (setresuid((uid_t)-1, 0, (uid_t)-1) < 0 ||
	    setresgid((gid_t)-1, 0, (gid_t)-1) < 0) {
		bs_err("--user %s: back to root: %s", p->name,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

int bsfs_priv_premount(const struct bsfs_priv *p)
{
	if (!p->set)
		return 0;
	/* libfuse records getuid()/getgid() as the mount's owner
	 * (user_id=, group_id=): with the real ids set to the user's the
	 * mount is theirs, so after the drop the daemon may still unmount
	 * it through fusermount3.  The effective ids stay root to mount. */
	if (setresgid(p->gid, 0, 0) < 0 || setresuid(p->uid, 0, 0) < 0) {
		bs_err("--user %s: %s", p->name, strerror(errno));
		return -errno;
	}
	return 0;
}

int bsfs_priv_drop(const struct bsfs_priv *p)
{
	uid_t r, e, s;

	if (!p->set)
		return 0;
	if (initgroups(p->name, p->gid) < 0 ||
	    setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0) {
		bs_err("cannot drop privileges to %s: %s", p->name,
		       strerror(errno));
		return -errno;
	}
	/* the drop must be for good: no way back to root */
	if (getresuid(&r, &e, &s) < 0 || !r || !e || !s ||
	    setuid(0) == 0) {
		bs_err("privileges to %s not dropped", p->name);
		return -EPERM;
	}
	bs_info("running as %s (uid %u, gid %u)", p->name, (unsigned)p->uid,
		(unsigned)p->gid);
	return 0;
}
