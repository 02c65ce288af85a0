/*
 * err.h - error reporting for libbootshelf.
 *
 * Every fallible function returns 0 (or a count) on success and a negative
 * errno on failure.  Where a caller benefits from a sentence ("foo.iso:
 * not an ISO 9660 image"), the function also takes a struct bs_error and
 * fills in a message.  Protocol error codes (TFTP, AoE) are separate and
 * are mapped in one place per protocol.
 */
#ifndef BOOTSHELF_ERR_H
#define BOOTSHELF_ERR_H

#include <stdarg.h>

#define BS_ERRMSG_MAX 512

/* A failure with its human-readable reason.  Caller-owned, no heap. */
struct bs_error {
	int code;			/* negative errno, 0 if none */
	char msg[BS_ERRMSG_MAX];	/* "" if none */
};

/**
 * Record an error.
 * @v e     error to fill, may be NULL (then only @code is returned)
 * @v code  negative errno
 * @v fmt   printf format of the message
 * @ret     @code, so callers can write `return bs_error_set(e, -EIO, ...)`
 */
int bs_error_set(struct bs_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with "prefix: " (e.g. the file name). */
void bs_error_prefix(struct bs_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reset to "no error". */
void bs_error_clear(struct bs_error *e);

#endif
