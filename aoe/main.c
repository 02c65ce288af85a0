/*
 * main.c - bootshelf-aoed: export ISO files read-only as ATA over
 * Ethernet targets.  Flags, the target list (-e or the catalog's
 * "aoe = SHELF.SLOT" entries), privileges, signals and the one epoll
 * loop over every interface.
 *
 * Left out: writes (refused with ATA ABORT), partial exports and
 * exporting devices other than regular files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <bootshelf/catalog.h>
#include <bootshelf/log.h>
#include <bootshelf/sandbox.h>

#include "aoed.h"

#define MAX_SPECS 256

/* A -e or -m argument, kept for reloads. */
struct spec {
	uint16_t shelf;
	uint8_t slot;
	int any;		/* -m without SHELF.SLOT: every target */
	char *path;		/* -e only */
	uint8_t (*macs)[6];	/* -m only, owned */
	size_t nmacs;
};

static struct opts {
	const char *ifaces;
	const char *catalog;
	const char *user;
	int foreground;
	int verbose;
	int announce_s;
	int spin_us;
	int no_sandbox;
	struct spec exports[MAX_SPECS];
	size_t nexports;
	struct spec masks[MAX_SPECS];
	size_t nmasks;
} o = { .announce_s = 30 };

static void usage(FILE *f)
{
	fprintf(f,
"usage: bootshelf-aoed -i IFACE[,IFACE...] (-c CATALOG | -e SHELF.SLOT:FILE\n"
"                      [-e ...]) [-m [SHELF.SLOT=]MAC[,MAC...]] [-b BUFCNT]\n"
"                      [-s SECTORS] [-a SECONDS] [-I SECONDS] [-B BYTES]\n"
"                      [-p USEC] [-u USER] [-f] [-v] [-q]\n"
"Export files read-only as ATA over Ethernet targets eSHELF.SLOT.\n"
"  -i IFACES   interfaces to serve on, comma separated\n"
"  -c CATALOG  export every catalog entry with aoe = SHELF.SLOT\n"
"  -e S.L:FILE export FILE as eS.L (repeatable)\n"
"  -m [S.L=]MACS  only answer these initiator MACs (for eS.L, or all)\n"
"  -b BUFCNT   outstanding requests advertised (default 64)\n"
"  -s SECTORS  at most this many sectors per frame (default: from MTU)\n"
"  -a SECONDS  announce every SECONDS (default 30, 0: only at start)\n"
"  -I SECONDS  idle time before a replaced file is switched (default 10)\n"
"  -B BYTES    socket buffer size (default 8388608)\n"
"  -p USEC     poll this long for more frames before sleeping (default\n"
"              0: never; helps only with spare CPU cores)\n"
"  -u USER     run as USER after opening the sockets\n"
"  --no-sandbox  no seccomp filter or Landlock rules\n"
"  -f          foreground, log to stderr\n"
"  -v / -q     more / less logging\n"
"  -h          this help\n");
}

static int parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "S.L" up to @stop; returns a pointer past it or NULL. */
static const char *parse_addr(const char *s, char stop, uint16_t *shelf,
			      uint8_t *slot)
{
	char buf[32];
	const char *e = strchr(s, stop);
	char *dot;
	long a, b;

	if (!e || (size_t)(e - s) >= sizeof(buf))
		return NULL;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	dot = strchr(buf, '.');
	if (!dot)
		return NULL;
	*dot = '\0';
	/* 0xffff and 0xff are the wildcards; shelf 0xfff is refused by
	 * Linux initiators but valid on the wire */
	if (parse_num(buf, 0, 0xfffe, &a) < 0 ||
	    parse_num(dot + 1, 0, 0xfe, &b) < 0)
		return NULL;
	*shelf = (uint16_t)a;
	*slot = (uint8_t)b;
	return e + 1;
}

static int parse_macs(const char *s, struct spec *sp)
{
	char *list = strdup(s), *save = NULL, *m;
	int r = 0;

	if (!list)
		return -ENOMEM;
	for (m = strtok_r(list, ",", &save); m;
	     m = strtok_r(NULL, ",", &save)) {
		unsigned v[6];
		uint8_t (*n)[6];
		char c;

		if (sp->nmacs >= BS_AOE_MASK_MAX ||
		    sscanf(m, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &c) != 6) {
			r = -EINVAL;
			break;
		}
		n = realloc(sp->macs, (sp->nmacs + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		sp->macs = n;
		for (int k = 0; k < 6; k++) {
			if (v[k] > 255)
				r = -EINVAL;
			n[sp->nmacs][k] = (uint8_t)v[k];
		}
		sp->nmacs++;
	}
	free(list);
	return r;
}

static void parse_args(int argc, char **argv, struct aoed *d)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "no-sandbox", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "i:c:e:m:b:s:a:I:B:p:u:fvqh", lo,
				NULL)) != -1) {
		switch (c) {
		case 'i':
			o.ifaces = optarg;
			break;
		case 'c':
			o.catalog = optarg;
			break;
		case 'e': {
			struct spec *sp = &o.exports[o.nexports];
			const char *p;

			if (o.nexports == MAX_SPECS)
				goto bad;
			p = parse_addr(optarg, ':', &sp->shelf, &sp->slot);
			if (!p || !*p)
				goto bad;
			sp->path = optarg + (p - optarg);
			o.nexports++;
			break;
		}
		case 'm': {
			struct spec *sp = &o.masks[o.nmasks];
			const char *p = optarg;

			if (strchr(optarg, '='))
				p = parse_addr(optarg, '=', &sp->shelf,
					       &sp->slot);

			if (o.nmasks == MAX_SPECS || !p)
				goto bad;
			sp->any = p == optarg;
			if (parse_macs(p, sp) < 0)
				goto bad;
			o.nmasks++;
			break;
		}
		case 'b':
			if (parse_num(optarg, 2, 65535, &v) < 0)
				goto bad;
			d->bufcnt = (unsigned)v;
			break;
		case 's':
			if (parse_num(optarg, 1, 255, &v) < 0)
				goto bad;
			d->maxsect = (unsigned)v;
			break;
		case 'a':
			if (parse_num(optarg, 0, 86400, &v) < 0)
				goto bad;
			o.announce_s = (int)v;
			break;
		case 'I':
			if (parse_num(optarg, 0, 86400, &v) < 0)
				goto bad;
			d->idle_ms = v * 1000;
			break;
		case 'B':
			if (parse_num(optarg, 65536, 1 << 30, &v) < 0)
				goto bad;
			d->sockbuf = (int)v;
			break;
		case 'p':
			if (parse_num(optarg, 0, 100000, &v) < 0)
				goto bad;
			o.spin_us = (int)v;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'S':
			o.no_sandbox = 1;
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'q':
			o.verbose = -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
		continue;
bad:
		fprintf(stderr, "bootshelf-aoed: bad argument to -%c: %s\n", c,
			optarg);
		exit(2);
	}
	if (optind != argc || !o.ifaces || (!o.catalog && !o.nexports)) {
		usage(stderr);
		exit(2);
	}
}

/* ---- the target list ---------------------------------------------------- */

/* The wanted list: -e specs, then catalog entries.  0 or -errno. */
struct want {
	uint16_t shelf;
	uint8_t slot;
	const char *path;
	const char *mask;	/* catalog aoe_mask, "MAC,MAC" or NULL */
};

static int collect(struct want *w, size_t *nw, size_t cap,
		   struct bs_catalog **catp)
{
	size_t n = 0;

	*catp = NULL;
	for (size_t k = 0; k < o.nexports && n < cap; k++) {
		w[n].shelf = o.exports[k].shelf;
		w[n].slot = o.exports[k].slot;
		w[n].path = o.exports[k].path;
		w[n].mask = NULL;
		n++;
	}
	if (o.catalog) {
		struct bs_diags diags = { 0 };
		int r;

		r = bs_catalog_load(o.catalog, catp, &diags);
		for (size_t k = 0; k < diags.n; k++) {
			char line[1024];
			bs_diag_format(&diags.v[k], line, sizeof(line));
			bs_log(diags.v[k].sev == BS_DIAG_ERROR ? BS_LOG_ERR :
			       BS_LOG_WARN, "%s", line);
		}
		bs_diags_free(&diags);
		if (r < 0) {
			bs_err("%s: catalog not loaded: %s", o.catalog,
			       strerror(-r));
			return r;
		}
		for (size_t k = 0; k < (*catp)->nentries && n < cap; k++) {
			const struct bs_cat_entry *e = &(*catp)->entries[k];
			if (e->aoe_shelf < 0 || !e->path)
				continue;
			w[n].shelf = (uint16_t)e->aoe_shelf;
			w[n].slot = (uint8_t)e->aoe_slot;
			w[n].path = e->path;
			w[n].mask = e->aoe_mask;
			n++;
		}
	}
	/* one file per shelf.slot: the first wins */
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			if (w[a].shelf == w[b].shelf &&
			    w[a].slot == w[b].slot) {
				bs_warn("e%u.%u given twice; %s ignored",
					w[b].shelf, w[b].slot, w[b].path);
				w[b--] = w[--n];
			}
	*nw = n;
	return 0;
}

/* -m masks for this target plus the catalog's aoe_mask list. */
static void apply_masks(struct aoed_target *t, const char *catmask)
{
	uint8_t m[BS_AOE_MASK_MAX][6];
	size_t n = 0;
	char tmp[1024], *save = NULL, *tok;

	snprintf(tmp, sizeof(tmp), "%s", catmask ? catmask : "");
	for (tok = strtok_r(tmp, ", ", &save); tok && n < BS_AOE_MASK_MAX;
	     tok = strtok_r(NULL, ", ", &save))
		if (bs_mac_parse(tok, m[n]) == 0)	/* checked by catalog */
			n++;

	for (size_t k = 0; k < o.nmasks; k++) {
		const struct spec *sp = &o.masks[k];
		if (!sp->any && (sp->shelf != t->shelf || sp->slot != t->slot))
			continue;
		for (size_t j = 0; j < sp->nmacs && n < BS_AOE_MASK_MAX; j++)
			memcpy(m[n++], sp->macs[j], 6);
	}
	if (aoed_target_set_masks(t, (const uint8_t (*)[6])m, n) < 0)
		bs_err("e%u.%u: out of memory for the mask list", t->shelf,
		       t->slot);
}

/* Bring the target list in line with -e and the catalog: new targets
 * are added and announced, removed ones dropped, changed paths switched
 * when idle.  Returns 0, or -errno leaving the list as it was. */
static int load_targets(struct aoed *d)
{
	static struct want w[4096];
	struct bs_catalog *cat;
	size_t nw;
	int r = collect(w, &nw, sizeof(w) / sizeof(w[0]), &cat);

	if (r < 0)
		return r;
	for (size_t k = 0; k < d->ntargets; k++)
		d->targets[k]->mark = 0;
	for (size_t j = 0; j < nw; j++) {
		struct aoed_target *t = NULL;

		for (size_t k = 0; k < d->ntargets; k++)
			if (d->targets[k]->shelf == w[j].shelf &&
			    d->targets[k]->slot == w[j].slot)
				t = d->targets[k];
		if (t) {
			if (aoed_target_set_path(t, w[j].path) < 0)
				r = -ENOMEM;
		} else {
			struct aoed_target **n;

			n = realloc(d->targets,
				    (d->ntargets + 1) * sizeof(*n));
			t = aoed_target_new(w[j].shelf, w[j].slot, w[j].path,
					    d->bufcnt);
			if (!n || !t) {
				if (n)
					d->targets = n;
				aoed_target_free(t);
				r = -ENOMEM;
				continue;
			}
			d->targets = n;
			d->targets[d->ntargets++] = t;
			t->mark = 2;
		}
		if (t->mark != 2)
			t->mark = 1;
		apply_masks(t, w[j].mask);
	}
	for (size_t k = 0; k < d->ntargets; k++) {
		struct aoed_target *t = d->targets[k];
		if (t->mark)
			continue;
		bs_info("e%u.%u: no longer exported", t->shelf, t->slot);
		aoed_target_free(t);
		d->targets[k--] = d->targets[--d->ntargets];
	}
	bs_catalog_free(cat);
	return r;
}

/* ---- privileges --------------------------------------------------------- */

/* Become @user (if given) and keep only CAP_NET_RAW: the raw sockets are
 * open already, files are opened as the user. */
static int drop_privileges(const char *user)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct c[2];

	/* drop the rest of the bounding set while we still may (this
	 * needs CAP_SETPCAP, gone once we are the user); the kernel may
	 * know more capabilities than our headers */
	for (int cap = 0; cap < 64; cap++)
		if (cap != CAP_NET_RAW &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno == EINVAL)
			break;
	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw) {
			bs_err("%s: no such user", user);
			return -ENOENT;
		}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
		    setgroups(0, NULL) < 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
			bs_err("cannot become %s: %s", user, strerror(errno));
			return -errno;
		}
	}
	memset(c, 0, sizeof(c));
	c[0].effective = c[0].permitted = 1u << CAP_NET_RAW;
	if (syscall(SYS_capset, &h, c) < 0) {
		/* not privileged at all (a test run as a user): nothing
		 * to drop */
		if (errno != EPERM)
			return -errno;
		memset(c, 0, sizeof(c));
		if (syscall(SYS_capset, &h, c) < 0)
			bs_warn("capset: %s", strerror(errno));
	}
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

/*
 * Landlock, then seccomp; 0 or -errno.  With a catalog, a reload may
 * export files from any directory, so the file rules make the whole
 * file system read-only (nothing written, created, removed or executed
 * anywhere); with -e only, just the exported files' directories can be
 * read (a directory, not the file: a replaced file is a new inode).
 */
static int sandbox(void)
{
	static struct bs_sandbox_path p[MAX_SPECS];
	static char dirs[MAX_SPECS][4096];
	size_t n = 0;
	int abi, r;

	if (o.catalog) {
		p[n++].path = "/";
	} else {
		for (size_t k = 0; k < o.nexports; k++) {
			char *slash;

			snprintf(dirs[n], sizeof(dirs[n]), "%s",
				 o.exports[k].path);
			slash = strrchr(dirs[n], '/');
			if (!slash)
				snprintf(dirs[n], sizeof(dirs[n]), ".");
			else if (slash == dirs[n])
				slash[1] = '\0';
			else
				*slash = '\0';
			p[n].path = dirs[n];
			n++;
		}
	}
	abi = bs_sandbox_landlock(p, n);
	if (abi == -EOPNOTSUPP)
		bs_warn("sandbox: this kernel has no Landlock; file access "
			"is limited by the user's permissions only");
	else if (abi < 0) {
		bs_err("sandbox: Landlock: %s", strerror(-abi));
		return abi;
	}
	r = bs_sandbox_seccomp("bootshelf-aoed", 0);
	if (r < 0) {
		bs_err("sandbox: seccomp: %s", strerror(-r));
		return r;
	}
	bs_info("sandbox: seccomp filter (%zu system calls), Landlock ABI "
		"%d: read-only below %s%s", bs_sandbox_nsyscalls(),
		abi < 0 ? 0 : abi, p[0].path ? p[0].path : "(nothing)",
		n > 1 ? " and the other exported files' directories" : "");
	return 0;
}

/* ---- the loop ----------------------------------------------------------- */

/* Handle what signalfd has; returns 0 when the process should exit. */
static int handle_signals(struct aoed *d, int sfd)
{
	struct signalfd_siginfo si;
	int running = 1;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			sd_notify(0, "RELOADING=1");
			bs_info("reloading");
			if (load_targets(d) < 0)
				bs_warn("reload failed; keeping the old "
					"targets");
			aoed_net_announce(d, NULL);
			sd_notify(0, "READY=1");
			break;
		case SIGUSR1:
			bs_info("frames in %llu out %llu reads %llu in %llu "
				"preadv, dropped %llu",
				(unsigned long long)d->frames_in,
				(unsigned long long)d->frames_out,
				(unsigned long long)d->reads,
				(unsigned long long)d->preads,
				(unsigned long long)d->drops);
			for (size_t k = 0; k < d->ntargets; k++) {
				char line[1024];

				aoed_target_describe(d->targets[k], line,
						     sizeof(line));
				bs_info("%s", line);
			}
			break;
		default:
			running = 0;
		}
	}
	return running;
}

/* Once a second: replaced files, periodic announcements. */
static void tick(struct aoed *d, int64_t now, int64_t *next_announce)
{
	for (size_t k = 0; k < d->ntargets; k++) {
		struct aoed_target *t = d->targets[k];
		if (aoed_target_check(t, now, d->idle_ms))
			aoed_net_announce(d, t);
	}
	if (o.announce_s && now >= *next_announce) {
		aoed_net_announce(d, NULL);
		*next_announce = now + o.announce_s * 1000;
	}
}

/*
 * One interface: block in the receive itself, which saves an epoll_wait
 * per wake-up (what an initiator with one request outstanding, like
 * iPXE, causes for every frame).  The receive times out every 200 ms so
 * signals and timers are looked at even when no frame comes.
 */
static int loop_one(struct aoed *d, int sfd)
{
	struct aoed_if *i = &d->ifs[0];
	struct timeval tv = { 0, 200000 };
	int64_t next_announce = aoed_now_ms() + o.announce_s * 1000;
	int64_t next_tick = aoed_now_ms() + 1000, next_sig = 0;
	int fl = fcntl(i->fd, F_GETFL);

	if (fl < 0 || fcntl(i->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(i->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		bs_err("%s: %s", i->name, strerror(errno));
		return 1;
	}
	for (;;) {
		int64_t now;
		int r = aoed_net_serve(d, i, 1);

		if (r < 0 && r != -EAGAIN && r != -EINTR)
			bs_warn("%s: receive: %s", i->name, strerror(-r));
		now = aoed_now_ms();
		if (now >= next_sig) {
			if (!handle_signals(d, sfd))
				return 0;
			next_sig = now + 200;
		}
		if (now >= next_tick) {
			tick(d, now, &next_announce);
			next_tick = now + 1000;
		}
	}
}

/* Several interfaces (or busy polling): one epoll loop over them all. */
static int loop_many(struct aoed *d, int sfd)
{
	struct epoll_event ev, evs[16];
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	int64_t next_announce = aoed_now_ms() + o.announce_s * 1000;
	int64_t spin_until = 0;
	int ep, tfd, r, running = 1;
	int *dirty;

	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	dirty = calloc(d->nifs, sizeof(*dirty));
	if (ep < 0 || tfd < 0 || !dirty ||
	    timerfd_settime(tfd, 0, &its, NULL) < 0) {
		bs_err("event loop: %s", strerror(errno));
		return 1;
	}
	ev.events = EPOLLIN;
	for (size_t k = 0; k < d->nifs; k++) {
		ev.data.u64 = k;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, d->ifs[k].fd, &ev) < 0)
			return 1;
	}
	ev.data.u64 = 1000000;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u64 = 1000001;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);

	while (running) {
		/* interfaces that still had frames waiting are served
		 * again before sleeping; with -p, after traffic, poll the
		 * sockets for a while instead of sleeping */
		uint64_t before = d->frames_in;
		int spinning = o.spin_us && aoed_now_us() < spin_until;
		size_t ndirty = 0;
		int n;

		for (size_t k = 0; k < d->nifs; k++)
			ndirty += (size_t)dirty[k];
		n = epoll_wait(ep, evs, 16, ndirty || spinning ? 0 : -1);
		if (n < 0 && errno != EINTR) {
			bs_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (size_t k = 0; k < d->nifs; k++)
			if (dirty[k] || (spinning && n == 0)) {
				r = aoed_net_serve(d, &d->ifs[k], 0);
				dirty[k] = r > 0;
			}
		for (int e = 0; e < n; e++) {
			uint64_t id = evs[e].data.u64;

			if (id < d->nifs) {
				r = aoed_net_serve(d, &d->ifs[id], 0);
				if (r < 0)
					bs_warn("%s: receive: %s",
						d->ifs[id].name, strerror(-r));
				dirty[id] = r > 0;
			} else if (id == 1000000) {
				running = handle_signals(d, sfd);
			} else {
				uint64_t ticks;

				(void)!read(tfd, &ticks, sizeof(ticks));
				tick(d, aoed_now_ms(), &next_announce);
			}
		}
		if (d->frames_in != before)
			spin_until = aoed_now_us() + o.spin_us;
	}
	free(dirty);
	close(tfd);
	close(ep);
	return 0;
}

int main(int argc, char **argv)
{
	struct aoed d = { .bufcnt = 64, .idle_ms = 10000,
			  .sockbuf = 8 << 20 };
	sigset_t sigs;
	int sfd, rc;

	parse_args(argc, argv, &d);
	bs_log_init("bootshelf-aoed", o.foreground, o.verbose);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (aoed_net_open(&d, o.ifaces) < 0)
		return 1;
	if (drop_privileges(o.user) < 0)
		return 1;
	/* files are opened after dropping privileges, as they are on
	 * every reload */
	if (load_targets(&d) < 0)
		return 1;
	if (d.ntargets == 0)
		bs_warn("nothing to export yet");
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		bs_err("signalfd: %s", strerror(errno));
		return 1;
	}
	if (!o.no_sandbox && sandbox() < 0)
		return 1;

	aoed_net_announce(&d, NULL);
	sd_notify(0, "READY=1");
	bs_info("serving %zu target(s) on %zu interface(s)", d.ntargets,
		d.nifs);
	if (d.nifs == 1 && !o.spin_us && !getenv("BS_AOED_EPOLL"))
		rc = loop_one(&d, sfd);
	else
		rc = loop_many(&d, sfd);

	sd_notify(0, "STOPPING=1");
	bs_info("exiting: frames in %llu out %llu", (unsigned long long)
		d.frames_in, (unsigned long long)d.frames_out);
	for (size_t k = 0; k < d.ntargets; k++)
		aoed_target_free(d.targets[k]);
	free(d.targets);
	aoed_net_close(&d);
	for (size_t k = 0; k < o.nmasks; k++)
		free(o.masks[k].macs);
	close(sfd);
	return rc;
}
