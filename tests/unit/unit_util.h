/*
 * unit_util.h - helpers shared by the cmocka unit tests.  Include after
 * cmocka.h.
 */
#ifndef BOOTSHELF_UNIT_UTIL_H
#define BOOTSHELF_UNIT_UTIL_H

#include <stdlib.h>
#include <unistd.h>

#include <bootshelf/source.h>

/* A source over a new temporary file holding @data.  @path (a mkstemp
 * template) gets the file's name; the caller unlinks it when done. */
static inline struct bs_source *temp_source(const uint8_t *data, size_t len,
					    char *path)
{
	int fd = mkstemp(path);
	struct bs_source *s = NULL;
	struct bs_error e;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(bs_source_open(path, &s, &e), 0);
	return s;
}

#endif
