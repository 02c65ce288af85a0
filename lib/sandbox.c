/*
 * sandbox.c - seccomp filter and Landlock ruleset for bootshelf-tftpd and
 * bootshelf-aoed (see sandbox.h).
 *
 * The filter is an allow list of the calls the daemons make after setup:
 * the epoll/recvmmsg/sendmmsg loop, timers and signals, memory
 * allocation, opening and reading files (ISOs, the catalog, its drop-in
 * directory) on reload, syslog's and sd_notify's unix sockets, and
 * threads (libcurl's resolver for remote ISOs).  A few calls are allowed
 * only with harmless arguments: socket() by address family, clone() only
 * for threads, open() only read-only unless BS_SANDBOX_WRITE, kill()
 * only of ourselves, ioctl() only the few requests libc and the AoE seam
 * make.  Everything else traps (SIGSYS).  Builds with AddressSanitizer
 * get the calls its runtime makes too (LeakSanitizer stops the world
 * with a ptrace'ing clone at exit).
 *
 * Landlock is done with raw system calls (no library) and adapts to the
 * kernel's ABI version.  Left out: network rules (UDP and raw sockets
 * are outside Landlock's reach), scoping of abstract unix sockets
 * (sd_notify may use one).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/sockios.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <bootshelf/log.h>
#include <bootshelf/sandbox.h>

#if defined(__SANITIZE_ADDRESS__)
#define BS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BS_ASAN 1
#endif
#endif

/* ---- Landlock ------------------------------------------------------- */

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

#define FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | \
		  LANDLOCK_ACCESS_FS_REMOVE_DIR | \
		  LANDLOCK_ACCESS_FS_REMOVE_FILE | \
		  LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG)

/* Everything the kernel's ABI version knows how to refuse. */
static uint64_t fs_handled(int abi)
{
	uint64_t h = LANDLOCK_ACCESS_FS_EXECUTE |
		     LANDLOCK_ACCESS_FS_WRITE_FILE |
		     LANDLOCK_ACCESS_FS_READ_FILE |
		     LANDLOCK_ACCESS_FS_READ_DIR |
		     LANDLOCK_ACCESS_FS_REMOVE_DIR |
		     LANDLOCK_ACCESS_FS_REMOVE_FILE |
		     LANDLOCK_ACCESS_FS_MAKE_CHAR |
		     LANDLOCK_ACCESS_FS_MAKE_DIR |
		     LANDLOCK_ACCESS_FS_MAKE_REG |
		     LANDLOCK_ACCESS_FS_MAKE_SOCK |
		     LANDLOCK_ACCESS_FS_MAKE_FIFO |
		     LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		     LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

static int add_rule(int rfd, const char *path, uint64_t access,
		    uint64_t handled)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), r = 0;

	if (fd < 0) {
		bs_log(errno == ENOENT ? BS_LOG_INFO : BS_LOG_WARN,
		       "sandbox: %s: %s (left out of the file rules)", path,
		       strerror(errno));
		return 0;
	}
	/* rights that only mean something on directories are refused on
	 * a file rule */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LANDLOCK_ACCESS_FS_READ_FILE |
			  LANDLOCK_ACCESS_FS_WRITE_FILE |
			  LANDLOCK_ACCESS_FS_TRUNCATE;
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

int bs_sandbox_landlock(const struct bs_sandbox_path *paths, size_t n)
{
	struct landlock_ruleset_attr ra = { 0 };
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);
	int rfd, r = 0;

	if (abi < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP
							      : -errno;
	ra.handled_access_fs = fs_handled((int)abi);
	rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
	if (rfd < 0)
		return -errno;
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_rule(rfd, paths[i].path, FS_READ |
			     (paths[i].write ? FS_WRITE |
			      LANDLOCK_ACCESS_FS_TRUNCATE |
			      LANDLOCK_ACCESS_FS_REFER : 0),
			     ra.handled_access_fs);
#ifdef BS_ASAN
	/* the sanitizer runtime reads /proc/self/maps, the binary and its
	 * libraries for reports and the exit-time leak check */
	if (r == 0)
		r = add_rule(rfd, "/", FS_READ, ra.handled_access_fs);
#endif
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	if (r == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		r = -errno;
	close(rfd);
	return r < 0 ? r : (int)abi;
}

/* ---- seccomp -------------------------------------------------------- */

static const char *sigsys_prog = "bootshelf";
static size_t nallowed;

/* Async-signal-safe: build the line by hand, write(2) it, die of SIGSYS
 * (so a supervisor sees the reason in the exit status). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char buf[256], num[24];
	size_t n = 0, k = 0;
	int nr = si->si_syscall;
	const char *parts[] = { sigsys_prog, ": seccomp: system call ", NULL,
				" is not allowed by the sandbox; exiting "
				"(--no-sandbox turns it off; please report "
				"this)\n" };
	unsigned v = nr < 0 ? 0u : (unsigned)nr;
	sigset_t set;

	(void)uc;
	do {
		num[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && k < sizeof(num) - 1);
	for (size_t i = 0; i < k / 2; i++) {
		char c = num[i];
		num[i] = num[k - 1 - i];
		num[k - 1 - i] = c;
	}
	num[k] = '\0';
	parts[2] = num;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *p = parts[i]; *p && n < sizeof(buf); p++)
			buf[n++] = *p;
	(void)!write(STDERR_FILENO, buf, n);
	/* the handler runs with SIGSYS blocked: unblock it, or raise()
	 * would only leave it pending */
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* Calls allowed with any arguments. */
static const char *const allow_any[] = {
	/* the loops */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"read", "readv", "write", "writev", "pread64", "preadv", "preadv2",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"connect", "bind", "getsockname", "getpeername", "setsockopt",
	"getsockopt", "shutdown", "socketpair",
	"close", "dup", "dup3", "fcntl", "pipe2", "eventfd2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"signalfd4", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "restart_syscall",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time",
	/* memory, threads */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "membarrier", "exit",
	"exit_group", "getrandom",
	/* the remote block cache: memfds, written and punched; no path
	 * opened for writing is reachable (open modes, Landlock) */
	"memfd_create", "pwrite64", "ftruncate", "fallocate",
	/* files: reloads read the catalog, drop-ins and ISOs */
	"openat2", "fstat", "newfstatat", "statx", "stat", "lstat",
	"lseek", "getdents64", "getdents", "fadvise64", "readlink",
	"readlinkat",
	"access", "faccessat", "faccessat2", "statfs", "fstatfs",
	"getcwd", "chdir", "fchdir", "flock", "fsync", "fdatasync",
	/* identity, limits */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "uname",
	"prlimit64", "getrlimit", "sysinfo", "getrusage", "tgkill",
	"tkill",
	NULL
};

/* Writing to the file system, with BS_SANDBOX_WRITE only. */
static const char *const allow_write[] = {
	"rename", "renameat", "renameat2", "unlink", "unlinkat", "mkdir",
	"mkdirat", "fchmod", NULL
};

#ifdef BS_ASAN
/* AddressSanitizer's runtime: symbolizer and leak checker. */
static const char *const allow_asan[] = {
	"clone", "fork", "vfork", "execve", "wait4", "waitid",
	"ptrace", "prctl", "process_vm_readv", "dup2", "ioctl", "kill",
	"mincore", "setrlimit", "pipe", "open", "openat", NULL
};
#endif

static int allow_names(scmp_filter_ctx ctx, const char *const *names)
{
	for (; *names; names++) {
		int nr = seccomp_syscall_resolve_name(*names);
		int r;

		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			return r;
		nallowed++;
	}
	return 0;
}

/* Calls allowed only with some arguments. */
static int allow_args(scmp_filter_ctx ctx, unsigned flags)
{
	const int wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;
	const unsigned long ioctls[] = { TCGETS, FIONREAD, FIONBIO,
					 SIOCGIFMTU, SIOCGIFHWADDR,
					 SIOCGIFINDEX, SIOCGIFFLAGS };
	int r = 0;

	/* unix sockets for syslog and sd_notify; IP for TFTP transfers */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (flags & BS_SANDBOX_INET) {
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
				      1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
				      1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	}
	/* glibc tries clone3 first and falls back to clone on ENOSYS;
	 * clone3's flags sit in memory the filter cannot look at */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
			      0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				      CLONE_THREAD));
	if (flags & BS_SANDBOX_WRITE) {
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat),
				      0);
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 0);
	} else {
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat),
				      1, SCMP_A2(SCMP_CMP_MASKED_EQ, wr, 0));
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, wr, 0));
	}
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
			      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
#ifndef BS_ASAN
	/* thread names (remote fetch threads are "bs-fetch") */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			      SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	nallowed++;
#endif
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	nallowed += 6;
	return r ? -EINVAL : 0;
}

int bs_sandbox_seccomp(const char *prog, unsigned flags)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int r;

	sigsys_prog = prog;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	nallowed = 0;
	/* also record denials in the kernel log where it logs them */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	r = allow_names(ctx, allow_any);
	if (r == 0 && (flags & BS_SANDBOX_WRITE))
		r = allow_names(ctx, allow_write);
#ifdef BS_ASAN
	if (r == 0)
		r = allow_names(ctx, allow_asan);
#endif
	if (r == 0)
		r = allow_args(ctx, flags);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

size_t bs_sandbox_nsyscalls(void)
{
	return nallowed;
}
