/*
 * log.h - logging for every bootshelf program.
 *
 * One process-wide logger.  In foreground mode lines go to stderr
 * ("bootshelf-tftpd: warning: ..."), otherwise to syslog (which the
 * journal collects under systemd).  Strings that come from the network or
 * from files must go through bs_log_clean() before they reach a log line.
 */
#ifndef BOOTSHELF_LOG_H
#define BOOTSHELF_LOG_H

#include <stddef.h>

enum bs_log_level { BS_LOG_ERR = 3, BS_LOG_WARN = 4, BS_LOG_INFO = 6,
		    BS_LOG_DEBUG = 7 };

/**
 * Set up logging.
 * @v role        program name used as tag ("bootshelf-fs")
 * @v foreground  non-zero: stderr; zero: syslog
 * @v verbose     0: info and above, 1: debug too, -1: warnings and errors
 */
void bs_log_init(const char *role, int foreground, int verbose);

void bs_log(enum bs_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define bs_err(...)   bs_log(BS_LOG_ERR, __VA_ARGS__)
#define bs_warn(...)  bs_log(BS_LOG_WARN, __VA_ARGS__)
#define bs_info(...)  bs_log(BS_LOG_INFO, __VA_ARGS__)
#define bs_debug(...) bs_log(BS_LOG_DEBUG, __VA_ARGS__)

/**
 * Copy an untrusted string for logging: printable ASCII kept, everything
 * else written as \xNN, result always NUL-terminated and truncated to fit.
 * @ret dst
 */
char *bs_log_clean(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
