/*
 * source.c - local file sources: opened once read-only, shared by
 * reference count, read with pread.  Remote sources are not here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bootshelf/source.h>

#include "refcnt_i.h"

static void id_from_stat(const struct stat *st, struct bs_source_id *id)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL +
		       st->st_mtim.tv_nsec;
}

int bs_source_open(const char *path, struct bs_source **out,
		   struct bs_error *err)
{
	struct bs_source *s;
	struct stat st;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return bs_error_set(err, -errno, "%s: %s", path,
				    strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = bs_error_set(err, -errno, "%s: %s", path,
				  strerror(errno));
		goto err_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = bs_error_set(err, S_ISDIR(st.st_mode) ? -EISDIR :
				  -EINVAL, "%s: not a regular file", path);
		goto err_fd;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		rc = bs_error_set(err, -ENOMEM, "%s: out of memory", path);
		goto err_fd;
	}
	s->fd = fd;
	s->refs = 1;
	id_from_stat(&st, &s->id);
	*out = s;
	return 0;

err_fd:
	close(fd);
	return rc;
}

int bs_source_new(const char *name, const struct bs_source_id *id,
		  const struct bs_source_ops *ops, void *priv,
		  struct bs_source **out)
{
	struct bs_source *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->path = strdup(name))) {
		free(s);
		if (ops->close) {
			struct bs_source tmp = { .fd = -1, .priv = priv };
			ops->close(&tmp);
		}
		return -ENOMEM;
	}
	s->fd = -1;
	s->id = *id;
	s->refs = 1;
	s->ops = ops;
	s->priv = priv;
	*out = s;
	return 0;
}

struct bs_source *bs_source_ref(struct bs_source *s)
{
	if (s)
		bs_ref_get(&s->refs);
	return s;
}

void bs_source_unref(struct bs_source *s)
{
	if (!s || !bs_ref_put(&s->refs))
		return;
	if (s->ops && s->ops->close)
		s->ops->close(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}

ssize_t bs_source_pread(struct bs_source *s, void *buf, size_t len,
			uint64_t off)
{
	return bs_source_pread_until(s, buf, len, off, UINT64_MAX);
}

ssize_t bs_source_pread_until(struct bs_source *s, void *buf, size_t len,
			      uint64_t off, uint64_t until)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = s->ops ? s->ops->pread(s, (char *)buf + done,
						   len - done, off + done,
						   until) :
			pread(s->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0) {
			if (s->ops)
				return n;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t bs_source_pin(struct bs_source *s, uint64_t off, size_t len,
		      uint64_t until, struct bs_piece *out, size_t max,
		      size_t *n)
{
	size_t done = 0;

	*n = 0;
	if (!s->ops || !s->ops->pin)
		return -ENOTSUP;
	while (done < len && *n < max) {
		size_t k = 0;
		ssize_t r = s->ops->pin(s, off + done, len - done, until,
					out + *n, max - *n, &k);

		if (r < 0) {
			bs_source_unpin(s, out, *n);
			*n = 0;
			return r;
		}
		*n += k;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

void bs_source_unpin(struct bs_source *s, struct bs_piece *p, size_t n)
{
	if (n && s->ops && s->ops->unpin)
		s->ops->unpin(s, p, n);
}

int bs_source_stat_path(const char *path, struct bs_source_id *id)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	id_from_stat(&st, id);
	return 0;
}

int bs_source_stat_fd(const struct bs_source *s, struct bs_source_id *id)
{
	struct stat st;

	if (s->ops)
		return s->ops->stat ? s->ops->stat((struct bs_source *)s, id) :
				      -ENOTSUP;
	if (fstat(s->fd, &st) < 0)
		return -errno;
	id_from_stat(&st, id);
	return 0;
}

int bs_source_id_equal(const struct bs_source_id *a,
		       const struct bs_source_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}
