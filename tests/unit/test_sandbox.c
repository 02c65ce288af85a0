/*
 * test_sandbox.c - bs_sandbox_seccomp and bs_sandbox_landlock, each in a
 * forked child (both are irreversible): allowed calls work, a forbidden
 * one kills with SIGSYS and names the call, Landlock refuses writing
 * everywhere and reading outside its rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <bootshelf/sandbox.h>

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#else
#define ASAN 0
#endif

/* Run fn in a child with stderr captured; returns the wait status. */
static int in_child(int (*fn)(void *), void *arg, char *err, size_t cap)
{
	int pfd[2], st = 0;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		_exit(fn(arg));
	}
	close(pfd[1]);
	while (got + 1 < cap &&
	       (n = read(pfd[0], err + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int forbidden_call(void *arg)
{
	(void)arg;
	if (bs_sandbox_seccomp("test_sandbox", 0) < 0)
		return 10;
	if (getpid() <= 0 || bs_sandbox_nsyscalls() < 50)
		return 11;
	(void)syscall(SYS_chroot, "/");
	return 12;	/* not reached: SIGSYS */
}

static void seccomp_kills_with_sigsys(void **state)
{
	char err[512], want[64];
	int st = in_child(forbidden_call, NULL, err, sizeof(err));

	(void)state;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	snprintf(want, sizeof(want), "system call %d is not allowed",
		 SYS_chroot);
	assert_non_null(strstr(err, "test_sandbox: seccomp: "));
	assert_non_null(strstr(err, want));
}

static int sockets(void *arg)
{
	unsigned flags = *(unsigned *)arg;
	int fd;

	if (bs_sandbox_seccomp("test_sandbox", flags) < 0)
		return 10;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 11;
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);	/* traps
								 * without
								 * INET */
	if (fd < 0)
		return 12;
	close(fd);
	return 0;
}

static void seccomp_socket_families(void **state)
{
	char err[512];
	unsigned inet = BS_SANDBOX_INET, none = 0;
	int st;

	(void)state;
	st = in_child(sockets, &inet, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_child(sockets, &none, err, sizeof(err));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

struct dirs {
	char in[64], out[64];
};

static int landlock(void *arg)
{
	struct dirs *d = arg;
	struct bs_sandbox_path p = { d->in, 0 };
	char path[128];
	int fd, abi = bs_sandbox_landlock(&p, 1);

	if (abi < 1)
		return 10;
	snprintf(path, sizeof(path), "%s/f", d->in);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 11;
	close(fd);
	/* nothing may be written, not even below a read rule */
	if (open(path, O_WRONLY) >= 0 || errno != EACCES)
		return 12;
	snprintf(path, sizeof(path), "%s/new", d->in);
	if (open(path, O_WRONLY | O_CREAT, 0644) >= 0 || errno != EACCES)
		return 13;
	/* and nothing read outside the rules (the ASan build adds a read
	 * rule for / for its runtime) */
	snprintf(path, sizeof(path), "%s/f", d->out);
	fd = open(path, O_RDONLY);
	if (!ASAN && (fd >= 0 || errno != EACCES))
		return 14;
	return 0;
}

static void landlock_read_only(void **state)
{
	struct dirs d;
	char err[512], path[128];
	int st;

	(void)state;
	snprintf(d.in, sizeof(d.in), "/tmp/bs-sandbox-in-XXXXXX");
	snprintf(d.out, sizeof(d.out), "/tmp/bs-sandbox-out-XXXXXX");
	assert_non_null(mkdtemp(d.in));
	assert_non_null(mkdtemp(d.out));
	for (int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/f", i ? d.out : d.in);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs("x\n", f);
		fclose(f);
	}
	st = in_child(landlock, &d, err, sizeof(err));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/f", i ? d.out : d.in);
		unlink(path);
		rmdir(i ? d.out : d.in);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seccomp_kills_with_sigsys),
		cmocka_unit_test(seccomp_socket_families),
		cmocka_unit_test(landlock_read_only),
	};
	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
