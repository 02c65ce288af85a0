/*
 * main.c - bootshelf-fs: mount the boot tree of a catalog read-only over
 * a directory (typically the TFTP root), with the directory's own files
 * still visible underneath.
 *
 * Startup order: options, logging, checks (/dev/fuse; the dead mount of
 * an earlier bootshelf-fs is detached, any live mount refused), the
 * catalog and first snapshot, the underlay fd (opened before the mount
 * hides the directory), the FUSE session and mount, with --user the INIT
 * handshake and the drop to that user, daemonizing, the watcher thread,
 * READY=1 to systemd, then the multi-threaded FUSE loop until
 * SIGTERM/SIGINT or an unmount.
 *
 * Run as root, the daemon mounts itself and may drop to --user USER
 * right after; run as another user, libfuse mounts through the set-uid
 * fusermount3, and allow_other is only asked for when /etc/fuse.conf
 * allows it (see bootshelf-fs(8)).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <bootshelf/log.h>

#include "bsfs.h"

#ifndef BS_VERSION
#define BS_VERSION "0.1"
#endif

struct bsfs bsfs = { .ufd = -1 };

static void usage(FILE *f)
{
	fprintf(f,
"usage: bootshelf-fs [options] CATALOG MOUNTPOINT\n"
"\n"
"Mount the boot tree of CATALOG read-only over MOUNTPOINT; the files\n"
"already in MOUNTPOINT stay visible where the tree has no such name.\n"
"\n"
"  -f, --foreground   stay in the foreground, log to stderr\n"
"  -d, --debug        debug logging (and FUSE request tracing)\n"
"  -o OPTS            mount options passed to FUSE (comma separated);\n"
"                     ro,allow_other,default_permissions are always set\n"
"      --uid USER     owner of the tree's files (default root)\n"
"      --gid GROUP    group of the tree's files (default root)\n"
"      --user USER    started as root: run as USER once mounted\n"
"                     (USER must be able to read the catalog and ISOs)\n"
"      --no-passthrough  serve whole ISO files through the daemon too\n"
"                     (default, as root without --user: the kernel reads\n"
"                     them straight from the file, FUSE passthrough)\n"
"  -h, --help         this text\n"
"  -V, --version      print the version\n"
"\n"
"SIGHUP reloads the catalog, SIGTERM unmounts and exits.\n");
}

/* A user or group: a number, or a name looked up in passwd/group. */
static int parse_id(const char *s, int group, unsigned *out)
{
	struct passwd *pw;
	struct group *gr;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && !*end && !errno && v < (unsigned long)INT_MAX) {
		*out = (unsigned)v;
		return 0;
	}
	if (group) {
		if (!(gr = getgrnam(s)))
			return -EINVAL;
		*out = gr->gr_gid;
	} else {
		if (!(pw = getpwnam(s)))
			return -EINVAL;
		*out = pw->pw_uid;
	}
	return 0;
}

/* Refuse a mountpoint that already is one: mounting over it would hide
 * a mount (maybe an earlier bootshelf-fs) and serve it as the underlay. */
static int mountpoint_busy(const char *mnt)
{
	struct statx sx;
	struct stat a, b;
	char parent[PATH_MAX];

	if (statx(AT_FDCWD, mnt, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
		  &sx) == 0 && (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	if (snprintf(parent, sizeof(parent), "%s/..", mnt) >=
	    (int)sizeof(parent))
		return 0;
	if (stat(mnt, &a) < 0 || stat(parent, &b) < 0)
		return 0;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

static int add_opt(struct fuse_args *args, const char *opt)
{
	return fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opt) ?
	       -ENOMEM : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "user", required_argument, NULL, 'U' },
		{ "no-passthrough", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config cfg = { .clone_fd = 1,
					.max_idle_threads = 16 };
	struct bs_diags diags = { 0 };
	struct bsfs_priv priv = { 0 };
	const char *mopts;
	char catpath[PATH_MAX], mnt[PATH_MAX];
	struct stat st;
	const char *user_opts[32];
	size_t nuser = 0;
	int fg = 0, passthrough = 1, c, rc, exit_code = 1;

	bs_shelf_tune_malloc(argv);

	while ((c = getopt_long(argc, argv, "fdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fg = 1;
			break;
		case 'd':
			bsfs.debug = 1;
			break;
		case 'o':
			if (nuser < sizeof(user_opts) / sizeof(*user_opts))
				user_opts[nuser++] = optarg;
			break;
		case 'u':
			if (parse_id(optarg, 0, &bsfs.uid) < 0) {
				fprintf(stderr, "bootshelf-fs: unknown user "
					"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'g':
			if (parse_id(optarg, 1, &bsfs.gid) < 0) {
				fprintf(stderr, "bootshelf-fs: unknown group "
					"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'U':
			rc = bsfs_priv_lookup(optarg, &priv);
			if (rc < 0) {
				fprintf(stderr, "bootshelf-fs: --user %s: %s"
					"\n", optarg, rc == -EINVAL ?
					"must not be root" : "unknown user");
				return 2;
			}
			break;
		case 'P':
			passthrough = 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bootshelf-fs %s (libfuse %s)\n", BS_VERSION,
			       fuse_pkgversion());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	/* startup errors go to the terminal; syslog once daemonized */
	bs_log_init("bootshelf-fs", 1, bsfs.debug);

	/* absolute paths: daemonizing changes to / */
	if (!realpath(argv[optind], catpath)) {
		bs_err("catalog %s: %s", argv[optind], strerror(errno));
		return 1;
	}
	rc = bsfs_mnt_resolve(argv[optind + 1], mnt, sizeof(mnt));
	if (rc < 0) {
		bs_err("mountpoint %s: %s", argv[optind + 1], strerror(-rc));
		return 1;
	}
	/* a dead mount left by a killed bootshelf-fs is detached */
	if (bsfs_mnt_recover(mnt) < 0)
		return 1;
	if (bsfs_mnt_present(mnt)) {
		bs_err("mountpoint %s is busy: something is already mounted "
		       "there (unmount it first: fusermount3 -u %s)", mnt, mnt);
		return 1;
	}
	if (stat(mnt, &st) < 0) {
		bs_err("mountpoint %s: %s", mnt, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		bs_err("mountpoint %s: not a directory", mnt);
		return 1;
	}
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		bs_err("/dev/fuse: %s: load the fuse module (modprobe fuse), "
		       "or pass /dev/fuse into the container", strerror(errno));
		return 1;
	}
	if (mountpoint_busy(mnt)) {
		bs_err("mountpoint %s is busy: something is already mounted "
		       "there (unmount it first: fusermount3 -u %s)", mnt, mnt);
		return 1;
	}

	if (bsfs_priv_enter(&priv) < 0)
		return 1;
	rc = bs_shelf_open(catpath, &bsfs.shelf, &diags);
	for (size_t i = 0; i < diags.n; i++) {
		char line[BS_ERRMSG_MAX + PATH_MAX];
		bs_diag_format(&diags.v[i], line, sizeof(line));
		bs_log(diags.v[i].sev == BS_DIAG_ERROR ? BS_LOG_ERR :
		       BS_LOG_WARN, "%s", line);
	}
	bs_diags_free(&diags);
	if (rc < 0) {
		bs_err("catalog %s: %s", catpath, rc == -EINVAL ?
		       "invalid, not mounting" : strerror(-rc));
		goto out_args;
	}

	if (bsfs_priv_leave(&priv) < 0)
		goto out_shelf;
	bsfs.mnt = mnt;
	/* the underlay: this fd keeps reaching the directory under the
	 * mount */
	bsfs.ufd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bsfs.ufd < 0) {
		bs_err("mountpoint %s: %s", mnt, strerror(errno));
		goto out_shelf;
	}

	mopts = "ro,allow_other,default_permissions,fsname=bootshelf,"
		"subtype=bootshelf";
	if (!bsfs_user_allow_other()) {
		/* fusermount3 would refuse the whole mount */
		bs_warn("not root and /etc/fuse.conf has no user_allow_other "
			"line: mounting without allow_other, so only uid %u "
			"can read the tree (not tftpd, nginx or nfsd running "
			"as other users); add user_allow_other to "
			"/etc/fuse.conf to share it", (unsigned)getuid());
		mopts = "ro,default_permissions,fsname=bootshelf,"
			"subtype=bootshelf";
	}
	if (fuse_opt_add_arg(&args, "bootshelf-fs") ||
	    (bsfs.debug && fuse_opt_add_arg(&args, "-d")) ||
	    add_opt(&args, mopts) < 0)
		goto out_ufd;
	for (size_t i = 0; i < nuser; i++)
		if (add_opt(&args, user_opts[i]) < 0)
			goto out_ufd;
	bsfs.se = fuse_session_new(&args, &bsfs_ops, sizeof(bsfs_ops), NULL);
	if (!bsfs.se) {
		bs_err("cannot create the FUSE session (bad -o option?)");
		goto out_ufd;
	}
	if (fuse_set_signal_handlers(bsfs.se) != 0)
		goto out_session;
	/* libfuse made SIGHUP end the session; it means "reload" here,
	 * which the watcher sets up.  Until then a SIGHUP is ignored. */
	signal(SIGHUP, SIG_IGN);
	if (bsfs_priv_premount(&priv) < 0)
		goto out_signals;
	if (fuse_session_mount(bsfs.se, mnt) != 0) {
		bs_err("cannot mount on %s", mnt);
		goto out_signals;
	}
	/* passthrough needs CAP_SYS_ADMIN for as long as files open */
	bsfs_pt_setup(bsfs.se, passthrough && geteuid() == 0 && !priv.set);
	if (priv.set) {
		bsfs_mnt_init_now(bsfs.se, mnt);
		if (bsfs_priv_drop(&priv) < 0)
			goto out_unmount;
	}
	if (!fg)
		bs_log_init("bootshelf-fs", 0, bsfs.debug);
	if (fuse_daemonize(fg) != 0)
		goto out_unmount;
	rc = bsfs_watch_start();
	if (rc < 0) {
		bs_err("cannot watch for changes: %s", strerror(-rc));
		goto out_unmount;
	}
	{
		struct bs_vtree *t = bs_shelf_get(bsfs.shelf);
		bs_info("mounted %s on %s: generation %llu, %zu nodes",
			catpath, mnt, (unsigned long long)t->generation,
			t->nnodes);
		sd_notifyf(0, "READY=1\nSTATUS=serving %s: %zu nodes",
			   catpath, t->nnodes);
		bs_vtree_unref(t);
	}

	rc = fuse_session_loop_mt(bsfs.se, &cfg);
	sd_notify(0, "STOPPING=1");
	bs_info("unmounting %s", mnt);
	exit_code = rc < 0 ? 1 : 0;

	bsfs_watch_stop();
out_unmount:
	fuse_session_unmount(bsfs.se);
out_signals:
	fuse_remove_signal_handlers(bsfs.se);
out_session:
	fuse_session_destroy(bsfs.se);
out_ufd:
	bsfs_ops_retire(NULL);
	bsfs_underlay_free();
	close(bsfs.ufd);
out_shelf:
	bs_shelf_close(bsfs.shelf);
out_args:
	fuse_opt_free_args(&args);
	return exit_code;
}
