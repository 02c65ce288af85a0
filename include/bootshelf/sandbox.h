/*
 * sandbox.h - least privilege for the daemons once they are set up: a
 * seccomp filter (libseccomp) that allows only the system calls their
 * event loops and reloads make, and a Landlock ruleset that limits the
 * file system to reading (plus, where asked, writing below one cache
 * directory).
 *
 * Both are installed after the sockets are open and privileges are
 * dropped; neither can be lifted afterwards, and both pass to threads
 * started later.  A system call outside the filter raises SIGSYS: the
 * handler writes which call it was to stderr (the journal under systemd)
 * and the process dies of SIGSYS, so a missing entry shows up at once
 * instead of as an odd error far away.  Not here: network restrictions
 * (the daemons' sockets are bound before), user namespaces.
 */
#ifndef BOOTSHELF_SANDBOX_H
#define BOOTSHELF_SANDBOX_H

#include <stddef.h>

/* bs_sandbox_seccomp() flags */
#define BS_SANDBOX_INET		0x1	/* new AF_INET/AF_INET6 sockets
					 * (TFTP transfers, remote ISOs) */
#define BS_SANDBOX_WRITE	0x2	/* open files for writing, rename,
					 * unlink, mkdir (an index cache);
					 * Landlock still says where */

/* One Landlock rule: everything below @path (a directory or a file). */
struct bs_sandbox_path {
	const char *path;
	int write;	/* also create, write, remove and rename below it */
};

/**
 * Restrict this process (and its future threads) to the listed paths:
 * reading files and listing directories below them, and, for entries
 * with @write, making and changing files there.  Nothing is executable.
 * Paths that do not exist are skipped with a warning.
 * @v paths  rules; borrowed
 * @v n      number of rules
 * @ret the Landlock ABI version in force (>= 1), -EOPNOTSUPP when the
 *      kernel has no Landlock (nothing restricted; the caller says so),
 *      or another negative errno
 */
int bs_sandbox_landlock(const struct bs_sandbox_path *paths, size_t n);

/**
 * Install the seccomp filter for a bootshelf daemon's event loop.
 * @v prog   program name for the SIGSYS message; borrowed, must stay
 *           valid (a string literal)
 * @v flags  BS_SANDBOX_*
 * @ret 0, or negative errno (nothing installed)
 */
int bs_sandbox_seccomp(const char *prog, unsigned flags);

/* Number of system calls the last bs_sandbox_seccomp() allowed. */
size_t bs_sandbox_nsyscalls(void);

#endif
