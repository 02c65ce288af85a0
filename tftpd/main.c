/*
 * main.c - bootshelf-tftpd: a read-only TFTP server (RFC 1350 with
 * options, windowsize and block-number rollover).  Flags, startup order
 * (backend, sockets, readiness, privileges), signals and the one epoll
 * loop live here.
 *
 * Startup: parse flags, open the backend (the served directory), bind
 * or take systemd's sockets, tell systemd we are ready, chroot and drop
 * to the unprivileged user, install the sandbox (Landlock, then the
 * seccomp filter), then loop.  Signals arrive through a signalfd and
 * are handled inside the loop.
 * Not here: packet handling (session.c), sockets (net.c).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <bootshelf/log.h>
#include <bootshelf/sandbox.h>
#include <bootshelf/vtree.h>

#include "tftpd.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: bootshelf-tftpd (-s DIR | -c CATALOG) [options]\n"
"Serve the files below DIR, or a catalog's boot tree, over TFTP,\n"
"read-only.\n"
"  -s, --secure DIR       directory to serve (chroot into it as root)\n"
"  -c, --catalog FILE     serve the catalog's tree in-process (no FUSE;\n"
"                         SIGHUP or a changed catalog file reloads)\n"
"  -a, --address A[:P]    listen address, IPv4 or [IPv6] (0.0.0.0:69)\n"
"  -u, --user USER        run as USER after binding (root: nobody)\n"
"  -L, -f, --foreground   stay in the foreground, log to stderr\n"
"  -v, --verbose          log more (repeat for debug)\n"
"  -m, --max-transfers N  concurrent transfers (1000; 0: no limit)\n"
"      --busy-drop        at the limit drop requests silently instead\n"
"                         of answering 'Server busy'\n"
"  -B, --blocksize N      largest blksize granted (65464)\n"
"  -W, --windowsize N     largest windowsize granted (64)\n"
"      --window-bytes N   largest windowsize * blksize (4194304)\n"
"  -T, --timeout USEC     first retransmit timeout (1000000)\n"
"      --retries N        retransmits before giving up (5)\n"
"      --rollover 0|1     block number after 65535 (0)\n"
"      --remap-backslash  treat '\\' in names as '/'\n"
"      --case-insensitive retry missing names ignoring case\n"
"      --no-sandbox       no seccomp filter or Landlock rules\n"
"  -h, --help             this text\n");
}

enum { OPT_RETRIES = 256, OPT_ROLLOVER, OPT_REMAP, OPT_CASE, OPT_BUSY,
       OPT_WBYTES, OPT_NOSANDBOX };

static const struct option longopts[] = {
	{ "secure", required_argument, NULL, 's' },
	{ "catalog", required_argument, NULL, 'c' },
	{ "address", required_argument, NULL, 'a' },
	{ "user", required_argument, NULL, 'u' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "max-transfers", required_argument, NULL, 'm' },
	{ "busy-drop", no_argument, NULL, OPT_BUSY },
	{ "blocksize", required_argument, NULL, 'B' },
	{ "windowsize", required_argument, NULL, 'W' },
	{ "window-bytes", required_argument, NULL, OPT_WBYTES },
	{ "timeout", required_argument, NULL, 'T' },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "rollover", required_argument, NULL, OPT_ROLLOVER },
	{ "remap-backslash", no_argument, NULL, OPT_REMAP },
	{ "case-insensitive", no_argument, NULL, OPT_CASE },
	{ "no-sandbox", no_argument, NULL, OPT_NOSANDBOX },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static unsigned num_arg(const char *flag, const char *s, unsigned long lo,
			unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "bootshelf-tftpd: %s: expected a number in "
			"%lu..%lu, got '%s'\n", flag, lo, hi, s);
		exit(2);
	}
	return (unsigned)v;
}

/*
 * A datagram socket connected to systemd's NOTIFY_SOCKET, or -1: opened
 * before the chroot, which hides the socket's path from sd_notify().
 */
static int notify_open(void)
{
	const char *p = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = p ? strlen(p) : 0;
	int fd;

	if (n == 0 || n >= sizeof(sa.sun_path) || (*p != '/' && *p != '@'))
		return -1;
	memcpy(sa.sun_path, p, n);
	if (*p == '@')
		sa.sun_path[0] = '\0';		/* abstract */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa,
			       (socklen_t)(offsetof(struct sockaddr_un,
						    sun_path) + n)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* chroot (directory mode) and switch to the user; fatal on failure.
 * Returns 1 if it did chroot into @dir. */
static int drop_privileges(const char *user, const char *dir)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user)
			bs_warn("not root: -u %s ignored", user);
		return 0;
	}
	if (!user)
		user = "nobody";
	pw = getpwnam(user);
	if (!pw) {
		bs_err("no such user: %s", user);
		exit(1);
	}
	if (dir && (chroot(dir) < 0 || chdir("/") < 0)) {
		bs_err("chroot %s: %s", dir, strerror(errno));
		exit(1);
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		bs_err("dropping privileges to %s: %s", user,
		       strerror(errno));
		exit(1);
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		bs_err("could regain root after dropping privileges");
		exit(1);
	}
	return dir != NULL;
}

/*
 * Landlock, then seccomp; fatal on failure (a daemon that was asked to
 * be confined must not run unconfined).  Directory mode: only the
 * served tree, read-only.  Catalog mode: a reload may name ISOs in any
 * directory, so the rules cannot list them in advance; the whole file
 * system is read-only (no writing, creating, removing or executing
 * anywhere) except the index cache directory, and what can be read is
 * bounded by the unprivileged user's permissions.
 */
static void sandbox(const char *dir, int chrooted, void *bectx)
{
	struct bs_sandbox_path p[2] = { { 0 } };
	char *cache = NULL;
	size_t n = 1;
	unsigned flags = BS_SANDBOX_INET;
	int abi, r;

	if (dir) {
		p[0].path = chrooted ? "/" : dir;
	} else {
		p[0].path = "/";
		if ((cache = bs_tftpd_tree_cache_dir(bectx))) {
			p[1].path = cache;
			p[1].write = 1;
			n = 2;
			flags |= BS_SANDBOX_WRITE;
		}
	}
	abi = bs_sandbox_landlock(p, n);
	if (abi == -EOPNOTSUPP) {
		bs_warn("sandbox: this kernel has no Landlock; file access "
			"is limited by the user's permissions only");
	} else if (abi < 0) {
		bs_err("sandbox: Landlock: %s", strerror(-abi));
		exit(1);
	}
	r = bs_sandbox_seccomp("bootshelf-tftpd", flags);
	if (r < 0) {
		bs_err("sandbox: seccomp: %s", strerror(-r));
		exit(1);
	}
	bs_info("sandbox: seccomp filter (%zu system calls), Landlock ABI "
		"%d: read-only below %s%s%s", bs_sandbox_nsyscalls(),
		abi < 0 ? 0 : abi, p[0].path, cache ? ", read-write below " :
		"", cache ? cache : "");
	free(cache);
}

int main(int argc, char **argv)
{
	struct tftpd d = {
		.cfg = {
			.max_transfers = 1000, .timeout_us = 1000000,
			.retries = 5, .max_blksize = BS_TFTP_BLKSIZE_MAX,
			.max_window = 64, .window_bytes = 4u << 20,
			.rollover = 0, .refuse_busy = 1,
		},
		.epfd = -1,
	};
	const char *dir = NULL, *catalog = NULL, *addr = "0.0.0.0:69";
	const char *user = NULL;
	int fg = 0, verbose = 0, c, sfd, nsd, ret, running = 1;
	int use_sandbox = 1, chrooted, nfd;
	unsigned dirflags = 0;
	sigset_t mask;
	struct epoll_event ev;

	while ((c = getopt_long(argc, argv, "s:c:a:u:fLvm:B:W:T:h",
				longopts, NULL)) != -1) {
		switch (c) {
		case 's': dir = optarg; break;
		case 'c': catalog = optarg; break;
		case 'a': addr = optarg; break;
		case 'u': user = optarg; break;
		case 'f': case 'L': fg = 1; break;
		case 'v': verbose++; break;
		case 'm':
			d.cfg.max_transfers = num_arg("-m", optarg, 0,
						      1000000);
			break;
		case OPT_BUSY: d.cfg.refuse_busy = 0; break;
		case 'B':
			d.cfg.max_blksize = num_arg("-B", optarg,
						    BS_TFTP_BLKSIZE_MIN,
						    BS_TFTP_BLKSIZE_MAX);
			break;
		case 'W':
			d.cfg.max_window = num_arg("-W", optarg, 1,
						   BS_TFTP_WINDOW_MAX);
			break;
		case OPT_WBYTES:
			d.cfg.window_bytes = num_arg("--window-bytes",
						     optarg, 512, 1u << 30);
			break;
		case 'T':
			d.cfg.timeout_us = num_arg("-T", optarg, 1000,
						   255000000);
			break;
		case OPT_RETRIES:
			d.cfg.retries = num_arg("--retries", optarg, 0,
						1000);
			break;
		case OPT_ROLLOVER:
			d.cfg.rollover = (int)num_arg("--rollover", optarg,
						      0, 1);
			break;
		case OPT_REMAP: d.cfg.remap_backslash = 1; break;
		case OPT_CASE: dirflags |= BS_TFTPD_DIR_CASEFOLD; break;
		case OPT_NOSANDBOX: use_sandbox = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (!dir == !catalog)) {
		usage(stderr);
		return 2;
	}
	if (catalog)
		bs_shelf_tune_malloc(argv);
	bs_log_init("bootshelf-tftpd", fg, verbose > 0);
	if (catalog)
		ret = bs_tftpd_tree_new(catalog, &d.be, &d.bectx);
	else
		ret = bs_tftpd_dir_new(dir, dirflags, &d.be, &d.bectx);
	if (ret) {
		bs_err("%s: %s", catalog ? catalog : dir,
		       ret == -EINVAL && catalog ? "catalog has errors" :
		       strerror(-ret));
		return 1;
	}

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.epfd < 0) {
		bs_err("epoll: %s", strerror(errno));
		return 1;
	}
	nsd = sd_listen_fds(1);
	if (nsd > 0) {
		for (int i = 0; i < nsd && i < TFTPD_MAX_LISTEN; i++) {
			struct tftpd_listener *l = &d.listen[d.nlisten];
			l->fd = SD_LISTEN_FDS_START + i;
			if (sd_is_socket(l->fd, AF_UNSPEC, SOCK_DGRAM, -1)
			    <= 0 || tftpd_listener_prepare(l->fd,
							   &l->family)) {
				bs_err("systemd socket %d is not a UDP "
				       "socket", l->fd);
				return 1;
			}
			d.nlisten++;
		}
	} else {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (tftpd_parse_addr(addr, &ss, &sl)) {
			bs_err("-a %s: not an address[:port]", addr);
			return 1;
		}
		ret = tftpd_listen(&ss, sl);
		if (ret < 0) {
			bs_err("bind %s: %s", addr, strerror(-ret));
			return 1;
		}
		d.listen[0].fd = ret;
		d.listen[0].family = ss.ss_family;
		d.nlisten = 1;
	}
	for (int i = 0; i < d.nlisten; i++) {
		d.listen[i].kind = TFTPD_LISTENER;
		ev.events = EPOLLIN;
		ev.data.ptr = &d.listen[i];
		if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.listen[i].fd, &ev)) {
			bs_err("epoll_ctl: %s", strerror(errno));
			return 1;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* An ignored signal is dropped before signalfd could see it, and
	 * SIG_IGN is inherited (nohup, some supervisors): reset first. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (sfd < 0 || epoll_ctl(d.epfd, EPOLL_CTL_ADD, sfd, &ev)) {
		bs_err("signalfd: %s", strerror(errno));
		return 1;
	}

	/* Before chroot: the notify socket lives outside the root. */
	sd_notify(0, "READY=1");
	nfd = notify_open();
	chrooted = drop_privileges(user, dir);
	if (use_sandbox)
		sandbox(dir, chrooted, d.bectx);
	bs_info("serving %s (%s backend) on %s%s", catalog ? catalog : dir,
		d.be->name,
		nsd > 0 ? "systemd sockets" : addr,
		geteuid() ? "" : " as root");

	while (running) {
		struct epoll_event evs[64];
		int timeout = tftpd_timers(&d);
		int n = epoll_wait(d.epfd, evs, 64, timeout);

		if (n < 0 && errno != EINTR) {
			bs_err("epoll_wait: %s", strerror(errno));
			break;
		}
		d.now = tftpd_now();
		for (int i = 0; i < n; i++) {
			enum tftpd_kind *k = evs[i].data.ptr;

			if (!k) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						if (catalog)
							bs_tftpd_tree_reload(
								d.bectx);
						else
							bs_info("SIGHUP: "
								"nothing to "
								"reload in "
								"directory "
								"mode");
					} else {
						running = 0;
					}
				}
			} else if (*k == TFTPD_LISTENER) {
				tftpd_listener_read(&d, (void *)k);
			} else {
				tftpd_session_read(&d, (void *)k);
			}
		}
	}
	bs_info("shutting down (%zu transfers active)", d.nsessions);
	if (nfd < 0 || send(nfd, "STOPPING=1", 10, MSG_NOSIGNAL) < 0)
		sd_notify(0, "STOPPING=1");
	if (nfd >= 0)
		close(nfd);
	tftpd_shutdown(&d);
	for (int i = 0; i < d.nlisten; i++)
		close(d.listen[i].fd);
	close(sfd);
	close(d.epfd);
	d.be->destroy(d.bectx);
	return 0;
}
