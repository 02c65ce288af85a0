/*
 * remote.h - ISO images on an HTTP(S) server or an S3 object store, read
 * by range requests through libcurl into a shared block cache in memory.
 *
 * A remote source is a struct bs_source with fd = -1; its bytes are
 * spliced from the block cache's memfd instead (bs_source_pin()).  Its
 * identity is the object's ETag (or Last-Modified) and
 * size, taken from a HEAD request when it is opened.  An open source
 * keeps reading exactly that version: every range request carries
 * If-Match (or If-Unmodified-Since when the server gives no strong ETag)
 * and the answer's ETag, range and total size are checked, so a replaced
 * object makes reads fail with -EIO rather than mix two versions.
 *
 * Only the ranges read are fetched, rounded to cache blocks (1 MiB), plus
 * a bounded read-ahead that grows only while reads are sequential.
 * Everything here is thread-safe.  Left out: an on-disk block cache,
 * writing, multipart objects whose ETag changes without the bytes.
 */
#ifndef BOOTSHELF_REMOTE_H
#define BOOTSHELF_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include <bootshelf/err.h>
#include <bootshelf/source.h>

/* ---- block cache ------------------------------------------------------ */

#define BS_BLOCK_SIZE (1u << 20)

/*
 * A size-capped LRU cache of fixed-size blocks keyed by (key, index),
 * where key names one version of one object.  The bytes live in memfds;
 * a block being read is pinned, so a block evicted by another thread
 * keeps its bytes until the last reader is done.
 */
struct bs_blockcache;
struct bs_block;

struct bs_blockcache_stats {
	uint64_t hits, misses, inserts, evictions;
	uint64_t bytes, blocks;		/* cached now */
	uint64_t cap;			/* most bytes kept */
};

/**
 * @v block  bytes per block (> 0)
 * @v cap    most bytes kept; at least one block is always kept
 * @ret new cache (bs_blockcache_free() frees) or NULL (ENOMEM, or no
 *      memfd)
 */
struct bs_blockcache *bs_blockcache_new(size_t block, uint64_t cap);
void bs_blockcache_free(struct bs_blockcache *c);
size_t bs_blockcache_block(const struct bs_blockcache *c);
/**
 * Copy [in, in+len) of block (key, idx) into @buf if cached.
 * @ret 1 hit (block marked most recently used), 0 miss (also when the
 *      block is shorter than in+len)
 */
int bs_blockcache_read(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		       void *buf, size_t in, size_t len);
/**
 * Like bs_blockcache_read() but, instead of copying, pin the block and
 * describe [in, in+len) as a piece of a memfd in @p, valid until
 * bs_blockcache_unpin(c, p->pin).  @ret 1 hit, 0 miss.
 */
int bs_blockcache_pin(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		      size_t in, size_t len, struct bs_piece *p);
void bs_blockcache_unpin(struct bs_blockcache *c, struct bs_block *b);
/* Non-zero if the block is cached (no LRU update). */
int bs_blockcache_has(struct bs_blockcache *c, uint64_t key, uint64_t idx);
/**
 * Insert a copy of a block (@len <= block; the last block of an object
 * may be short), evicting least recently used blocks beyond the cap.
 * An existing block under the same name is replaced.  @ret 0 or -errno.
 */
int bs_blockcache_put(struct bs_blockcache *c, uint64_t key, uint64_t idx,
		      const void *data, size_t len);
/*
 * A slot to fill in place (bs_blockcache_slot_write()) and hand to
 * bs_blockcache_put_slot(), which saves a copy; or NULL on ENOMEM.  Its
 * filler may read it back and pin pieces of it while it holds it.
 */
struct bs_block *bs_blockcache_slot_new(struct bs_blockcache *c);
int bs_blockcache_slot_write(struct bs_blockcache *c, struct bs_block *b,
			     size_t in, const void *data, size_t len);
int bs_blockcache_slot_read(struct bs_blockcache *c, struct bs_block *b,
			    size_t in, void *buf, size_t len);
void bs_blockcache_pin_slot(struct bs_blockcache *c, struct bs_block *b,
			    size_t in, size_t len, struct bs_piece *p);
void bs_blockcache_slot_free(struct bs_blockcache *c, struct bs_block *b);
/* Like bs_blockcache_put() for a slot held (taken also on failure). */
int bs_blockcache_put_slot(struct bs_blockcache *c, uint64_t key,
			   uint64_t idx, struct bs_block *b, size_t len);
void bs_blockcache_get_stats(struct bs_blockcache *c,
			     struct bs_blockcache_stats *st);
/* Change the cap (evicting now if it shrank); at least one block. */
void bs_blockcache_set_cap(struct bs_blockcache *c, uint64_t cap);
/* The cap now (no lock). */
uint64_t bs_blockcache_cap(const struct bs_blockcache *c);

/* The process-wide block cache used when bs_remote_opts.cache is NULL
 * (64 MiB until resized); NULL if it could not be made.  Never freed. */
struct bs_blockcache *bs_remote_cache(void);
/* The same, or NULL while no remote source made it (never makes it). */
struct bs_blockcache *bs_remote_cache_made(void);

/* ---- remote sources ---------------------------------------------------- */

struct bs_remote_opts {
	long connect_timeout_ms;	/* per connection; default 5000 */
	long timeout_ms;		/* bound on one read or HEAD,
					   retries included; default 30000 */
	int retries;			/* after the first try; default 2 */
	int tls_verify;			/* default 1: peer and host name */
	uint64_t readahead;		/* most bytes read ahead of a
					   sequential reader; default
					   16 MiB, at most a quarter of
					   the cache */
	struct bs_blockcache *cache;	/* borrowed; NULL = a process-wide
					   64 MiB cache */
	/* s3:// URLs (see bs_s3_prepare) */
	const char *s3_region;		/* NULL: $AWS_REGION,
					   $AWS_DEFAULT_REGION, us-east-1 */
	const char *s3_endpoint;	/* NULL: $AWS_ENDPOINT_URL, else
					   https://s3.REGION.amazonaws.com */
	const char *s3_credentials;	/* file with access_key= and
					   secret_key= lines (owner-only);
					   NULL: $AWS_ACCESS_KEY_ID and
					   $AWS_SECRET_ACCESS_KEY */
};

/* Fill @o with the defaults above. */
void bs_remote_opts_default(struct bs_remote_opts *o);

/* Non-zero if @s is a URL this module opens (http, https, s3). */
int bs_remote_url(const char *s);

/**
 * Open a remote object: one HEAD request for its identity.
 * @v url  http://, https:// or s3://BUCKET/KEY
 * @v o    options, copied (the cache pointer is borrowed and must outlive
 *         the source); NULL for defaults
 * @v out  new source with one reference; bs_source_unref() drops it
 * @v err  message naming the URL (credentials never included)
 * @ret 0, -ENOENT (404), -EACCES (401/403), -EIO (unreachable, timeout,
 *      bad answer), -EINVAL (bad URL, no S3 credentials), -ENOMEM
 */
int bs_source_open_url(const char *url, const struct bs_remote_opts *o,
		       struct bs_source **out, struct bs_error *err);

/* Counters of a remote source, for tests and the status file. */
struct bs_remote_stats {
	uint64_t requests, bytes_fetched, retries, failures;
};
/* @ret 0, or -EINVAL if @s is not a remote source. */
int bs_remote_get_stats(const struct bs_source *s, struct bs_remote_stats *st);

/* Non-zero once a read of remote source @s found the object replaced on
 * the server (its version is gone): a reload should not trust it. */
int bs_remote_stale(const struct bs_source *s);

/**
 * Identity of an object from its headers: dev 0, ino a hash of the
 * strong ETag (or of Last-Modified when there is none), size, mtime from
 * Last-Modified (0 if absent).  Pure.
 * @ret 0, or -EINVAL when there is neither ETag nor Last-Modified
 */
int bs_remote_id(const char *etag, const char *last_modified, uint64_t size,
		 struct bs_source_id *id);

/**
 * The request inputs of s3://BUCKET/KEY (path-style addressing).  Pure.
 * @v s3url     "s3://bucket/key/with/slashes"
 * @v region    region ("us-east-1" if NULL or empty)
 * @v endpoint  "http[s]://host[:port]" (NULL or empty: AWS for @region)
 * @v url       out: ENDPOINT/BUCKET/KEY, KEY percent-encoded per SigV4
 *              (unreserved characters and '/' kept)
 * @v sigv4     out: libcurl CURLOPT_AWS_SIGV4 value "aws:amz:REGION:s3"
 * @ret 0, -EINVAL (not s3://, empty bucket or key, bad bucket name,
 *      bad endpoint), -ENAMETOOLONG
 */
int bs_s3_prepare(const char *s3url, const char *region,
		  const char *endpoint, char *url, size_t urlsz, char *sigv4,
		  size_t sigsz);

/**
 * Parse an S3 credentials file's text: "access_key = X" and
 * "secret_key = Y" lines (also aws_access_key_id/aws_secret_access_key,
 * '#' and ';' comments, a [section] line is ignored).  Pure.
 * @ret 0, or -EINVAL if either is missing or too long
 */
int bs_s3_parse_credentials(const char *text, char *key, size_t keysz,
			    char *secret, size_t secretsz);

#endif
