/*
 * source_http.c - remote sources: HTTP(S) and S3 objects read by range
 * requests through libcurl, into the block cache.
 *
 * Connections are reused through a small pool of easy handles (a handle
 * keeps its connection when it goes back to the pool) and a share object
 * for DNS and TLS sessions.  Every request carries the version check
 * (If-Match, or If-Unmodified-Since without a strong ETag) and every
 * answer is checked (status, Content-Range, ETag, total size) before its
 * bytes are used, so one open source never mixes two versions of an
 * object.  Transient failures (connection refused or reset, 5xx, 429) are
 * retried with exponential backoff, all inside the configured timeout;
 * a retry asks only for the bytes still missing.
 *
 * Each range is fetched by a thread of its own (a job) into block
 * buffers.  A reader waits only for the bytes it asked for and copies
 * them out while the rest keeps coming; a sequential reader keeps the
 * read-ahead window in flight in requests of at least half of it, so the
 * next request is under way before the reader needs it.  Readers of a
 * block being fetched wait for that job rather than ask again.
 *
 * Left out: an on-disk block tier, proxies beyond libcurl's environment
 * variables, S3 virtual-hosted addressing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <bootshelf/log.h>
#include <bootshelf/remote.h>

#define POOL_MAX	16		/* idle easy handles kept */
#define FETCH_MAX	16		/* blocks a random read asks for */
#define RA_MAX		64		/* blocks per read-ahead request */
#define JOBS_MAX	6		/* requests in flight per source */
#define JOBS_RA		2		/* of which read-ahead, per stream */
#define STREAMS		4		/* sequential readers followed */
#define DEFAULT_CACHE	(64ull << 20)
#define HDR_MAX		256

/* ---- process-wide state ------------------------------------------------ */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc;
static CURLSH *share;
static pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];		/* protected by pool_lock */
static int npool;
static struct bs_blockcache *default_cache;

static void share_lock_cb(CURL *h, curl_lock_data d, curl_lock_access a,
			  void *u)
{
	(void)h; (void)a; (void)u;
	pthread_mutex_lock(&share_lock[d]);
}

static void share_unlock_cb(CURL *h, curl_lock_data d, void *u)
{
	(void)h; (void)u;
	pthread_mutex_unlock(&share_lock[d]);
}

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		init_rc = -ENOMEM;
		return;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_lock[i], NULL);
	if ((share = curl_share_init())) {
		curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock_cb);
		curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC,
				  share_unlock_cb);
		curl_share_setopt(share, CURLSHOPT_SHARE,
				  CURL_LOCK_DATA_DNS);
		curl_share_setopt(share, CURLSHOPT_SHARE,
				  CURL_LOCK_DATA_SSL_SESSION);
	}
	errno = 0;
	__atomic_store_n(&default_cache,
			 bs_blockcache_new(BS_BLOCK_SIZE, DEFAULT_CACHE),
			 __ATOMIC_RELEASE);
	if (!default_cache)
		init_rc = errno ? -errno : -ENOMEM;
}

static CURL *handle_get(void)
{
	CURL *c = NULL;

	pthread_mutex_lock(&pool_lock);
	if (npool)
		c = pool[--npool];
	pthread_mutex_unlock(&pool_lock);
	if (c)
		curl_easy_reset(c);	/* keeps its live connection */
	else
		c = curl_easy_init();
	return c;
}

static void handle_put(CURL *c)
{
	pthread_mutex_lock(&pool_lock);
	if (npool < POOL_MAX) {
		pool[npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

/* ---- pure helpers ------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int bs_remote_id(const char *etag, const char *last_modified, uint64_t size,
		 struct bs_source_id *id)
{
	int strong = etag && *etag && strncmp(etag, "W/", 2) != 0;
	time_t t;

	memset(id, 0, sizeof(*id));
	if (!strong && !(last_modified && *last_modified))
		return -EINVAL;
	id->dev = 0;
	/* the strong ETag names the bytes; Last-Modified only without it */
	id->ino = strong ? fnv(0xcbf29ce484222325ULL ^ 1, etag) :
			   fnv(0xcbf29ce484222325ULL ^ 2, last_modified);
	id->size = size;
	if (last_modified && *last_modified &&
	    (t = curl_getdate(last_modified, NULL)) != (time_t)-1)
		id->mtime_ns = (int64_t)t * 1000000000LL;
	return 0;
}

int bs_remote_url(const char *s)
{
	return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) ||
		     !strncmp(s, "s3://", 5));
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

int bs_s3_prepare(const char *s3url, const char *region,
		  const char *endpoint, char *url, size_t urlsz, char *sigv4,
		  size_t sigsz)
{
	const char *bucket, *slash, *key;
	char ep[512];
	size_t blen, n;

	if (strncmp(s3url, "s3://", 5))
		return -EINVAL;
	bucket = s3url + 5;
	if (!(slash = strchr(bucket, '/')) || slash == bucket || !slash[1])
		return -EINVAL;
	blen = (size_t)(slash - bucket);
	key = slash + 1;
	/* S3 bucket names: 3-63 of a-z 0-9 . - (path-style needs no more) */
	if (blen < 3 || blen > 63)
		return -EINVAL;
	for (size_t i = 0; i < blen; i++) {
		char c = bucket[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return -EINVAL;
	}
	if (!region || !*region)
		region = "us-east-1";
	for (const char *p = region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-'))
			return -EINVAL;
	if (endpoint && *endpoint) {
		if ((strncmp(endpoint, "http://", 7) &&
		     strncmp(endpoint, "https://", 8)) ||
		    strlen(endpoint) >= sizeof(ep))
			return -EINVAL;
		snprintf(ep, sizeof(ep), "%s", endpoint);
		n = strlen(ep);
		while (n > 8 && ep[n - 1] == '/')
			ep[--n] = '\0';
	} else {
		snprintf(ep, sizeof(ep), "https://s3.%s.amazonaws.com",
			 region);
	}
	n = (size_t)snprintf(url, urlsz, "%s/%.*s/", ep, (int)blen, bucket);
	if (n >= urlsz)
		return -ENAMETOOLONG;
	/* SigV4 canonical URI: each byte not unreserved is %XX, '/' kept */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (n + 4 > urlsz)
			return -ENAMETOOLONG;
		if (unreserved(*p) || *p == '/')
			url[n++] = (char)*p;
		else
			n += (size_t)snprintf(url + n, 4, "%%%02X", *p);
	}
	url[n] = '\0';
	if ((size_t)snprintf(sigv4, sigsz, "aws:amz:%s:s3", region) >= sigsz)
		return -ENAMETOOLONG;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int bs_s3_parse_credentials(const char *text, char *key, size_t keysz,
			    char *secret, size_t secretsz)
{
	char line[1024];
	const char *p = text;
	int have_k = 0, have_s = 0;

	while (*p) {
		size_t n = strcspn(p, "\n");
		char *k, *v, *eq;

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			k = trim(line);
			if (*k && *k != '#' && *k != ';' && *k != '[' &&
			    (eq = strchr(k, '='))) {
				*eq = '\0';
				v = trim(eq + 1);
				k = trim(k);
				if (!strcmp(k, "access_key") ||
				    !strcmp(k, "aws_access_key_id")) {
					if (!*v || strlen(v) >= keysz)
						return -EINVAL;
					strcpy(key, v);
					have_k = 1;
				} else if (!strcmp(k, "secret_key") ||
					   !strcmp(k,
						   "aws_secret_access_key")) {
					if (!*v || strlen(v) >= secretsz)
						return -EINVAL;
					strcpy(secret, v);
					have_s = 1;
				}
			}
		}
		p += n;
		if (*p)
			p++;
	}
	return have_k && have_s ? 0 : -EINVAL;
}

/* ---- one request -------------------------------------------------------- */

/* How to reach one object: everything a request needs. */
struct target {
	char *url;		/* http(s) URL requested */
	char *sigv4;		/* S3: CURLOPT_AWS_SIGV4, else NULL */
	char *userpwd;		/* S3: "KEY:SECRET", else NULL */
	char *token;		/* S3: "x-amz-security-token: ..." or NULL */
	struct bs_remote_opts o;
};

struct job;

/*
 * One request over its retries.  The fields before got0 hold across
 * retries: a retry of a range asks only for the bytes still missing.
 */
struct xfer {
	uint8_t *buf;		/* borrowed: the body goes here, or */
	struct job *job;	/* into the job's blocks; neither: HEAD */
	uint64_t roff, rlen;	/* the range, when ranged */
	int ranged;
	size_t cap;		/* most body bytes */
	size_t got;		/* body bytes kept, all attempts */
	/* per attempt */
	size_t got0;		/* got when the attempt began */
	int overflow, checked, bad;
	long status;
	char etag[HDR_MAX], lastmod[HDR_MAX], crange[HDR_MAX];
	uint64_t clen;
	int have_clen;
	struct bs_error err;	/* why the answer was refused (bad) */
};

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = size * n;
	char line[HDR_MAX + 32], *v;

	if (len >= sizeof(line))
		return len;	/* a header we do not need */
	memcpy(line, p, len);
	line[len] = '\0';
	if (!strncmp(line, "HTTP/", 5)) {
		/* a new answer (after a redirect or 100): start over */
		char *sp = strchr(line, ' ');
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->etag[0] = x->lastmod[0] = x->crange[0] = '\0';
		x->have_clen = 0;
		return len;
	}
	if (!(v = strchr(line, ':')))
		return len;
	*v++ = '\0';
	v = trim(v);
	if (!strcasecmp(line, "etag"))
		snprintf(x->etag, sizeof(x->etag), "%s", v);
	else if (!strcasecmp(line, "last-modified"))
		snprintf(x->lastmod, sizeof(x->lastmod), "%s", v);
	else if (!strcasecmp(line, "content-range"))
		snprintf(x->crange, sizeof(x->crange), "%s", v);
	else if (!strcasecmp(line, "content-length")) {
		char *end;
		unsigned long long c = strtoull(v, &end, 10);
		if (end != v && !*end) {
			x->clen = c;
			x->have_clen = 1;
		}
	}
	return len;
}

static int check_answer(struct xfer *x);
static int job_take(struct xfer *x, const char *p, size_t len);

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = size * n;

	if (x->status != 200 && x->status != 206)
		return len;	/* an error page: not our bytes */
	/* a job's readers get bytes as they come: check the answer is
	 * the version and range asked for before the first one */
	if (!x->checked) {
		x->checked = 1;
		if (x->job && check_answer(x) < 0) {
			x->bad = 1;
			return 0;
		}
	}
	if ((!x->buf && !x->job) || len > x->cap - x->got) {
		x->overflow = 1;
		return 0;	/* more than asked for: abort */
	}
	if (x->job)
		return job_take(x, p, len) ? len : 0;
	memcpy(x->buf + x->got, p, len);
	x->got += len;
	return len;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int transient(CURLcode cc, long status)
{
	switch (cc) {
	case CURLE_OK:
		return status == 408 || status == 429 || status == 500 ||
		       status == 502 || status == 503 || status == 504;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_OPERATION_TIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

/*
 * One request with retries: a GET of x's range (what is still missing of
 * it), a GET of the whole object, or a HEAD (@head).  @cond is a version
 * condition header or NULL.
 * @ret 0 with x filled (any HTTP status), or -EIO with @err.
 */
static int perform(const struct target *t, const char *cond, int head,
		   struct xfer *x, uint64_t *nretries, struct bs_error *err)
{
	uint64_t deadline = now_ms() + (uint64_t)t->o.timeout_ms;
	char ebuf[CURL_ERROR_SIZE], range[64];
	struct curl_slist *hdrs = NULL, *h2;
	CURLcode cc = CURLE_OK;
	CURL *c;
	int rc = 0;

	if (!(c = handle_get()))
		return bs_error_set(err, -ENOMEM, "out of memory");
	if (t->sigv4 && (h2 = curl_slist_append(hdrs,
			"x-amz-content-sha256: UNSIGNED-PAYLOAD")))
		hdrs = h2;
	if (t->token && (h2 = curl_slist_append(hdrs, t->token)))
		hdrs = h2;
	if (cond && (h2 = curl_slist_append(hdrs, cond)))
		hdrs = h2;
	for (int attempt = 0;; attempt++) {
		uint64_t now = now_ms();
		long left = now < deadline ? (long)(deadline - now) : 0;

		if (left <= 0) {
			rc = bs_error_set(err, -EIO, "%s: no answer within "
					  "%ld ms", t->url, t->o.timeout_ms);
			break;
		}
		memset(&x->got0, 0, sizeof(*x) - offsetof(struct xfer, got0));
		x->got0 = x->got;
		ebuf[0] = '\0';
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, t->url);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
				 "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
				 t->o.connect_timeout_ms < left ?
				 t->o.connect_timeout_ms : left);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER,
				 t->o.tls_verify ? 1L : 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST,
				 t->o.tls_verify ? 2L : 0L);
		curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
				 (long)CURL_HTTP_VERSION_2TLS);
		curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
		/* big reads: fewer system calls per MiB (default 16 KiB) */
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "bootshelf");
		if (share)
			curl_easy_setopt(c, CURLOPT_SHARE, share);
		if (hdrs)
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		if (t->sigv4) {
			curl_easy_setopt(c, CURLOPT_AWS_SIGV4, t->sigv4);
			curl_easy_setopt(c, CURLOPT_USERPWD, t->userpwd);
		}
		if (head)
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		if (x->ranged) {
			snprintf(range, sizeof(range), "%llu-%llu",
				 (unsigned long long)(x->roff + x->got),
				 (unsigned long long)(x->roff + x->rlen - 1));
			curl_easy_setopt(c, CURLOPT_RANGE, range);
		}
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
		cc = curl_easy_perform(c);
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE,
					  &x->status);
		if (cc == CURLE_WRITE_ERROR && x->bad) {
			*err = x->err;
			rc = -EIO;
			break;
		}
		if (cc == CURLE_WRITE_ERROR && x->overflow) {
			rc = bs_error_set(err, -EIO, "%s: the server sent "
					  "more than the range asked for",
					  t->url);
			break;
		}
		/* everything came, and the connection broke after it */
		if (x->ranged && x->got == x->rlen && x->checked)
			cc = CURLE_OK;
		if (!transient(cc, x->status) || attempt >= t->o.retries) {
			if (cc != CURLE_OK)
				rc = bs_error_set(err, -EIO, "%s: %s%s",
					t->url, ebuf[0] ? ebuf :
					curl_easy_strerror(cc),
					attempt ? " (retried)" : "");
			break;
		}
		if (nretries)
			__atomic_add_fetch(nretries, 1, __ATOMIC_RELAXED);
		/* backoff 100, 400, 1600 ms ..., never past the deadline */
		uint64_t wait = 100ull << (2 * (attempt < 8 ? attempt : 8));
		now = now_ms();
		if (now + wait >= deadline)
			wait = deadline > now ? deadline - now : 0;
		struct timespec ts = { (time_t)(wait / 1000),
				       (long)(wait % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
	curl_slist_free_all(hdrs);
	/* a handle whose transfer failed may hold a broken connection */
	if (rc == 0)
		handle_put(c);
	else
		curl_easy_cleanup(c);
	return rc;
}

static int status_errno(long status)
{
	switch (status) {
	case 404: case 410: return -ENOENT;
	case 401: case 403: return -EACCES;
	default: return -EIO;
	}
}

/* ---- the source --------------------------------------------------------- */

/*
 * A range of blocks being fetched by a thread of its own.  Readers wait
 * for the bytes they asked for, not for the whole range, and copy them
 * out of the blocks; each block goes to the cache once it is complete.
 */
struct job {
	struct hsrc *h;
	struct job *next;	/* h->jobs, while running or read from */
	uint64_t first;		/* first block */
	size_t n;		/* blocks */
	uint64_t start, end;	/* bytes [start, end) of the object */
	struct bs_block **seg;	/* n block slots, taken when their first
				   byte comes; NULL once given to the
				   cache or freed */
	size_t handed;		/* blocks given to the cache so far */
	/* under h->lock: */
	uint64_t have;		/* bytes of the range received */
	uint64_t wait_for;	/* a reader sleeps until have reaches
				   this (UINT64_MAX: none) */
	int state;		/* 0 running, 1 done, -EIO failed */
	struct bs_error err;
	int refs;		/* the thread, and readers waiting */
};

/* One sequential reader of a source: several clients may stream one ISO
 * at once (an initrd and a root image, say), each with its window. */
struct stream {
	uint64_t next_off;	/* where it reads next */
	uint64_t ra;		/* read-ahead now, bytes (0: not a stream) */
	uint64_t front;		/* end of the read-ahead fetched so far */
	uint64_t used;		/* h->tick of its last read */
};

struct hsrc {
	struct target t;
	char *etag;		/* as sent by the server, or NULL */
	char *lastmod;		/* or NULL */
	char *cond;		/* the version condition header */
	int strong;		/* etag is a strong validator */
	uint64_t size;
	uint64_t key;		/* block cache key of this version */
	struct bs_blockcache *cache;	/* borrowed */
	size_t block;
	pthread_mutex_t lock;	/* protects what follows, and jobs */
	pthread_cond_t wake;	/* a job progressed or ended */
	struct job *jobs;	/* running, or done and still read from */
	int nrun;		/* jobs whose thread has not ended */
	int closing;		/* the source is being freed */
	struct stream streams[STREAMS];	/* sequential readers seen */
	uint64_t tick;		/* for the least recently used stream */
	char lasterr[BS_ERRMSG_MAX];	/* last failure logged */
	int stale;			/* atomic: version gone */
	struct bs_remote_stats st;	/* atomic counters */
};

static void target_free(struct target *t)
{
	free(t->url);
	free(t->sigv4);
	if (t->userpwd) {
		explicit_bzero(t->userpwd, strlen(t->userpwd));
		free(t->userpwd);
	}
	free(t->token);
}

static void hsrc_free(struct hsrc *h)
{
	if (!h)
		return;
	target_free(&h->t);
	free(h->etag);
	free(h->lastmod);
	free(h->cond);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static void http_close(struct bs_source *s)
{
	struct hsrc *h = s->priv;

	/* read-ahead still running: abort it and wait */
	pthread_mutex_lock(&h->lock);
	h->closing = 1;
	while (h->nrun)
		pthread_cond_wait(&h->wake, &h->lock);
	pthread_mutex_unlock(&h->lock);
	hsrc_free(h);
	s->priv = NULL;
}

/* Log a read failure once per distinct message. */
static void report(struct hsrc *h, const struct bs_error *e)
{
	int fresh;

	__atomic_add_fetch(&h->st.failures, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&h->lock);
	fresh = strcmp(h->lasterr, e->msg) != 0;
	if (fresh)
		snprintf(h->lasterr, sizeof(h->lasterr), "%s", e->msg);
	pthread_mutex_unlock(&h->lock);
	if (fresh)
		bs_warn("%s", e->msg);
}

/* Is this answer about our version?  0 or -EIO with @err. */
static int same_version(const struct hsrc *h, const struct xfer *x,
			struct bs_error *err)
{
	if (h->etag && x->etag[0] && strcmp(h->etag, x->etag))
		return bs_error_set(err, -EIO, "%s changed on the server "
				    "(ETag %s, opened as %s): reload to use "
				    "the new version", h->t.url, x->etag,
				    h->etag);
	if (!h->strong && h->lastmod && x->lastmod[0] &&
	    strcmp(h->lastmod, x->lastmod))
		return bs_error_set(err, -EIO, "%s changed on the server "
				    "(Last-Modified %s): reload to use the "
				    "new version", h->t.url, x->lastmod);
	return 0;
}

/* Before the first body byte of a job's answer: our version, the range
 * asked for (or the whole object for a whole read)?  0 or -1 (x->err). */
static int check_answer(struct xfer *x)
{
	struct hsrc *h = x->job->h;
	uint64_t a = x->roff + x->got, b = x->roff + x->rlen - 1;
	unsigned long long ra, rb, total;

	if (same_version(h, x, &x->err) < 0) {
		__atomic_store_n(&h->stale, 1, __ATOMIC_RELAXED);
		return -1;
	}
	if (x->status == 200) {
		/* a whole-object answer is only right for a whole read */
		if (a != 0 || b + 1 != h->size) {
			bs_error_set(&x->err, -EIO, "%s: the server ignores "
				     "Range requests", h->t.url);
			return -1;
		}
		return 0;
	}
	if (sscanf(x->crange, "bytes %llu-%llu/%llu", &ra, &rb, &total) != 3 ||
	    ra != a || rb != b || total != h->size) {
		bs_error_set(&x->err, -EIO, "%s: unexpected Content-Range "
			     "'%s' for bytes %llu-%llu of %llu", h->t.url,
			     x->crange, (unsigned long long)a,
			     (unsigned long long)b,
			     (unsigned long long)h->size);
		return -1;
	}
	return 0;
}

/* Hand block @k of @j to the cache (caller holds h->lock). */
static void job_hand(struct job *j, size_t k)
{
	struct hsrc *h = j->h;
	uint64_t bs = j->start + k * h->block;
	size_t bl = (size_t)((bs + h->block < j->end ? bs + h->block :
			      j->end) - bs);

	bs_blockcache_put_slot(h->cache, h->key, j->first + k, j->seg[k], bl);
	j->seg[k] = NULL;
}

/* Body bytes of a job's answer, in order.  0 when the source closes. */
static int job_take(struct xfer *x, const char *p, size_t len)
{
	struct job *j = x->job;
	struct hsrc *h = j->h;
	size_t B = h->block;
	int closing;

	/* bytes past j->have are the thread's alone: no lock to write,
	 * and a block's slot is taken when its first byte comes (so
	 * blocks evicted meanwhile are reused) */
	for (size_t done = 0; done < len;) {
		size_t in = x->got % B, take = B - in;
		struct bs_block **seg = &j->seg[x->got / B];
		int rc;
		if (take > len - done)
			take = len - done;
		if (!*seg && !(*seg = bs_blockcache_slot_new(h->cache))) {
			bs_error_set(&x->err, -ENOMEM, "out of memory");
			x->bad = 1;
			return 0;
		}
		rc = bs_blockcache_slot_write(h->cache, *seg, in, p + done,
					      take);
		if (rc < 0) {
			bs_error_set(&x->err, rc, "block cache: %s",
				     strerror(-rc));
			x->bad = 1;
			return 0;
		}
		done += take;
		x->got += take;
	}
	__atomic_add_fetch(&h->st.bytes_fetched, len, __ATOMIC_RELAXED);
	pthread_mutex_lock(&h->lock);
	j->have = x->got;
	/* complete blocks go to the cache, unless a reader is about to
	 * copy them (the cache may evict at once when it is small) */
	while (j->refs == 1 && j->handed < j->n &&
	       (j->handed + 1) * B <= j->have)
		job_hand(j, j->handed++);
	closing = h->closing;
	/* wake readers when what one waits for is there, not per packet */
	if (j->have >= j->wait_for) {
		j->wait_for = UINT64_MAX;
		pthread_cond_broadcast(&h->wake);
	}
	pthread_mutex_unlock(&h->lock);
	return !closing;
}

/* Take @j off h->jobs if it is there (caller holds h->lock). */
static void job_unlink(struct hsrc *h, struct job *j)
{
	for (struct job **pp = &h->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
}

/* Drop a reference (caller holds h->lock).  The last one of an ended
 * job gives the blocks still held to the cache (or frees them after a
 * failure) and frees the job. */
static void job_put(struct job *j)
{
	if (--j->refs || j->state == 0)
		return;
	job_unlink(j->h, j);
	for (size_t k = 0; k < j->n; k++) {
		if (j->seg[k] && j->state > 0)
			job_hand(j, k);
		else
			bs_blockcache_slot_free(j->h->cache, j->seg[k]);
	}
	free(j->seg);
	free(j);
}

/* The job's thread: fetch, then publish the outcome. */
static void job_run(struct job *j)
{
	struct hsrc *h = j->h;
	struct xfer x = { .job = j, .roff = j->start,
			  .rlen = j->end - j->start, .ranged = 1,
			  .cap = (size_t)(j->end - j->start) };
	struct bs_error err = { 0 };
	int rc, closing;

	__atomic_add_fetch(&h->st.requests, 1, __ATOMIC_RELAXED);
	rc = perform(&h->t, h->cond, 0, &x, &h->st.retries, &err);
	if (rc == 0) {
		if (x.status == 412 || x.status == 404 || x.status == 410)
			__atomic_store_n(&h->stale, 1, __ATOMIC_RELAXED);
		if (x.status == 412)
			rc = bs_error_set(&err, -EIO, "%s changed on the "
					  "server (precondition failed): "
					  "reload to use the new version",
					  h->t.url);
		else if (x.status != 206 && x.status != 200)
			rc = bs_error_set(&err, -EIO, "%s: HTTP %ld for "
					  "bytes %llu-%llu", h->t.url,
					  x.status,
					  (unsigned long long)j->start,
					  (unsigned long long)j->end - 1);
		else if (x.got != x.rlen)
			rc = bs_error_set(&err, -EIO, "%s: short answer (%zu "
					  "of %llu bytes)", h->t.url, x.got,
					  (unsigned long long)x.rlen);
	}
	/* logged before any reader sees the failure */
	pthread_mutex_lock(&h->lock);
	closing = h->closing;
	pthread_mutex_unlock(&h->lock);
	if (rc < 0 && !closing)
		report(h, &err);
	pthread_mutex_lock(&h->lock);
	if (rc == 0) {
		while (j->refs == 1 && j->handed < j->n)
			job_hand(j, j->handed++);
		j->state = 1;
	} else {
		j->state = -EIO;
		j->err = err;
		/* the next read asks again */
		job_unlink(h, j);
	}
	/* A done job that readers still copy from holds its last blocks
	 * until they let go: it stays findable until then, or a read of
	 * those blocks would find them neither fetching nor cached and
	 * fetch them again. */
	job_put(j);
	/* last: the source may be freed as soon as nrun is 0 */
	h->nrun--;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

static void *job_main(void *arg)
{
	/* named apart from the threads that read (top -H, perf) */
	pthread_setname_np(pthread_self(), "bs-fetch");
	job_run(arg);
	return NULL;
}

/* The job that fetches or holds block @b (caller holds h->lock).  A
 * block it handed to the cache is the cache's: found there, or fetched
 * again once evicted (were the job named for it, a reader would retry
 * through the job for as long as other readers keep the job). */
static struct job *job_find(struct hsrc *h, uint64_t b)
{
	for (struct job *j = h->jobs; j; j = j->next)
		if (b >= j->first + j->handed && b < j->first + j->n)
			return j;
	return NULL;
}

/* Blocks from @b on (at most @n) neither cached nor being fetched. */
static size_t missing_run(struct hsrc *h, uint64_t b, size_t n)
{
	uint64_t last = (h->size - 1) / h->block;
	size_t k = 0;

	while (k < n && b + k <= last &&
	       !bs_blockcache_has(h->cache, h->key, b + k) &&
	       !job_find(h, b + k))
		k++;
	return k;
}

/*
 * Start fetching @n blocks from @b (caller holds h->lock; n > 0).  With
 * @hold, the caller gets a reference to wait with.  NULL on ENOMEM.
 */
static struct job *job_start(struct hsrc *h, uint64_t b, size_t n, int hold)
{
	struct job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	int rc;

	if (!j || !(j->seg = calloc(n, sizeof(*j->seg)))) {
		free(j);
		return NULL;
	}
	j->h = h;
	j->first = b;
	j->n = n;
	j->start = b * h->block;
	j->end = (b + n) * h->block < h->size ? (b + n) * h->block : h->size;
	j->refs = 1 + !!hold;
	j->wait_for = UINT64_MAX;
	j->next = h->jobs;
	h->jobs = j;
	h->nrun++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&(pthread_t){ 0 }, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		/* no thread: fetch here (other readers can still wait) */
		pthread_mutex_unlock(&h->lock);
		job_run(j);
		pthread_mutex_lock(&h->lock);
	}
	return j;
}

/*
 * The stream a read of [off, off+len) continues, or NULL after making it
 * the start of a new one in the least recently used slot.  FUSE hands
 * reads to several threads, so they come a little out of order: near the
 * furthest one counts, and one that comes late is still part of the
 * stream if the window covered it (else every late read would restart
 * the window at one block).  Caller holds h->lock.
 */
static struct stream *stream_of(struct hsrc *h, uint64_t off, size_t len)
{
	uint64_t end = off + len, slack = 2 * h->block;
	struct stream *s, *old = &h->streams[0];

	h->tick++;
	for (s = h->streams; s < h->streams + STREAMS; s++) {
		if (s->used && off + slack + s->ra >= s->next_off &&
		    off <= s->next_off + slack) {
			if (end > s->next_off)
				s->next_off = end;
			s->used = h->tick;
			return s;
		}
		if (s->used < old->used)
			old = s;
	}
	old->next_off = end;
	old->ra = 0;
	old->front = 0;
	old->used = h->tick;
	return NULL;
}

/* Most bytes one stream reads ahead: the configured window, but at most
 * a quarter of the cache, so that the windows of a few streams fit in it
 * beside what their readers are copying (a window larger than the cache
 * evicts its own blocks before they are read, and fetches them again). */
static uint64_t ra_max(const struct hsrc *h)
{
	uint64_t q = bs_blockcache_cap(h->cache) / 4;

	q = q < h->t.o.readahead ? q : h->t.o.readahead;
	return q > h->block ? q : h->block;
}

/*
 * Note a read of [off, off+len) and keep its stream's read-ahead going:
 * up to s->ra beyond it, but not past @until (where the file being read
 * ends: the bytes after a kernel are some other file's), is fetched, in
 * ranges of at least half that, so one request follows the other
 * without a gap while the reader copies.  Caller holds h->lock.
 */
static void read_ahead(struct hsrc *h, uint64_t off, size_t len,
		       uint64_t until)
{
	uint64_t B = h->block, end = off + len, target, last, max = ra_max(h);
	struct stream *s = stream_of(h, off, len);
	int nstreams = 0;
	size_t n;

	if (!s)
		return;
	for (int i = 0; i < STREAMS; i++)
		nstreams += h->streams[i].ra != 0;
	if (!s->ra) {
		s->ra = B;
		nstreams++;
	}
	if (s->front < off)
		s->front = off / B * B;
	last = until < h->size ? until : h->size;
	if (last < end)
		last = end;
	target = end + s->ra < last ? end + s->ra : last;
	/* one range at a time ahead of the one being read */
	for (int i = 0; i < 4 && s->front < target &&
	     (s->front < end || target - s->front >= s->ra / 2 ||
	      target == last) && h->nrun < JOBS_RA * nstreams &&
	     h->nrun < JOBS_MAX; i++) {
		uint64_t b = s->front / B;
		struct job *j = job_find(h, b);
		if (j) {
			s->front = j->end;
			continue;
		}
		if (bs_blockcache_has(h->cache, h->key, b)) {
			s->front = (b + 1) * B;
			continue;
		}
		n = missing_run(h, b, (size_t)((target - b * B + B - 1) / B));
		if (n > RA_MAX)
			n = RA_MAX;
		if (!job_start(h, b, n, 0))
			return;
		s->front = (b + n) * B < h->size ? (b + n) * B : h->size;
		/* the window doubles with every request it takes */
		s->ra = s->ra * 2 < max ? s->ra * 2 : max;
	}
}

/* Where a read's bytes go: copied to @buf, or pinned as pieces. */
struct sink {
	uint8_t *buf;		/* copy here, or NULL to pin */
	struct bs_piece *pc;
	size_t max, n;		/* pieces: room, used */
};

/* [in, in+take) of cached block @idx into the sink: 1, or 0 on a miss
 * or when out of pieces. */
static int sink_cached(struct hsrc *h, struct sink *k, size_t done,
		       uint64_t idx, size_t in, size_t take)
{
	if (k->buf)
		return bs_blockcache_read(h->cache, h->key, idx,
					  k->buf + done, in, take);
	if (k->n == k->max ||
	    !bs_blockcache_pin(h->cache, h->key, idx, in, take, &k->pc[k->n]))
		return 0;
	k->n++;
	return 1;
}

/* [in, in+take) of @seg, a slot a fetch still holds, into the sink: 1,
 * or 0 on a failed read or when out of pieces. */
static int sink_slot(struct hsrc *h, struct sink *k, size_t done,
		     struct bs_block *seg, size_t in, size_t take)
{
	if (k->buf)
		return bs_blockcache_slot_read(h->cache, seg, in,
					       k->buf + done, take) == 0;
	if (k->n == k->max)
		return 0;
	bs_blockcache_pin_slot(h->cache, seg, in, take, &k->pc[k->n++]);
	return 1;
}

/*
 * [off, off+len) of @j, which has those bytes, into the sink; stops
 * early at a block the cache already evicted.  Needs a reference to @j
 * but not the lock: while a reader holds one, no slot changes hands.
 */
static size_t job_copy(struct hsrc *h, struct job *j, struct sink *k,
		       uint64_t off, size_t len)
{
	size_t B = h->block, done = 0;

	while (done < len) {
		uint64_t pos = off + done;
		size_t in = (size_t)(pos % B), take = B - in;
		struct bs_block *seg = j->seg[pos / B - j->first];
		if (take > len - done)
			take = len - done;
		if (!(seg ? sink_slot(h, k, done, seg, in, take) :
			    sink_cached(h, k, done, pos / B, in, take)))
			break;
		done += take;
	}
	return done;
}

/* Read (or pin) from @off, for a reader whose file ends at @until:
 * bytes done, from the cache first, else from the fetch that brings
 * them. */
static ssize_t http_get(struct hsrc *h, struct sink *k, size_t len,
			uint64_t off, uint64_t until)
{
	size_t B = h->block, done, need;
	uint64_t b, want;
	struct job *j;

	if (off >= h->size || len == 0)
		return 0;
	if (len > h->size - off)
		len = (size_t)(h->size - off);
again:
	/* from the cache as far as it goes */
	for (done = 0; done < len;) {
		uint64_t pos = off + done;
		size_t in = (size_t)(pos % B), take = B - in;
		if (take > len - done)
			take = len - done;
		if (!sink_cached(h, k, done, pos / B, in, take))
			break;
		done += take;
	}
	pthread_mutex_lock(&h->lock);
	read_ahead(h, off, len, until);
	if (done || (!k->buf && k->n == k->max)) {
		pthread_mutex_unlock(&h->lock);
		return (ssize_t)done;	/* the caller asks again for more */
	}
	b = off / B;
	while (!(j = job_find(h, b))) {
		if (bs_blockcache_has(h->cache, h->key, b)) {
			/* made while we waited */
			pthread_mutex_unlock(&h->lock);
			goto again;
		}
		if (h->nrun < JOBS_MAX) {
			need = (size_t)((off + len - 1) / B - b + 1);
			need = missing_run(h, b, need < FETCH_MAX ? need :
					   FETCH_MAX);
			if (!(j = job_start(h, b, need ? need : 1, 1))) {
				pthread_mutex_unlock(&h->lock);
				return -ENOMEM;
			}
			goto wait;
		}
		pthread_cond_wait(&h->wake, &h->lock);
	}
	j->refs++;
wait:
	/* only for the bytes asked for, not the whole range */
	want = off + len < j->end ? off + len : j->end;
	while (j->state == 0 && j->start + j->have < want) {
		if (want - j->start < j->wait_for)
			j->wait_for = want - j->start;
		pthread_cond_wait(&h->wake, &h->lock);
	}
	if (want > j->start + j->have) {
		/* failed before our bytes came: a read that fails does so
		 * once, within the timeout, not after a partial answer */
		job_put(j);
		pthread_mutex_unlock(&h->lock);
		return -EIO;	/* the job's thread logged why */
	}
	pthread_mutex_unlock(&h->lock);
	done = want > off ? job_copy(h, j, k, off, (size_t)(want - off)) :
			    0;
	pthread_mutex_lock(&h->lock);
	job_put(j);
	pthread_mutex_unlock(&h->lock);
	if (done)
		return (ssize_t)done;
	goto again;	/* evicted before it was copied: fetch again */
}

static ssize_t http_pread(struct bs_source *s, void *buf, size_t len,
			  uint64_t off, uint64_t until)
{
	struct sink k = { .buf = buf };

	return http_get(s->priv, &k, len, off, until);
}

static ssize_t http_pin(struct bs_source *s, uint64_t off, size_t len,
			uint64_t until, struct bs_piece *out, size_t max,
			size_t *n)
{
	struct sink k = { .pc = out, .max = max };
	ssize_t r = http_get(s->priv, &k, len, off, until);

	*n = k.n;
	return r;
}

static void http_unpin(struct bs_source *s, struct bs_piece *p, size_t n)
{
	struct hsrc *h = s->priv;

	for (size_t i = 0; i < n; i++)
		bs_blockcache_unpin(h->cache, p[i].pin);
}

/* HEAD (or a one-byte GET where HEAD is refused): identity headers. */
static int probe(const struct target *t, struct xfer *x, uint64_t *size,
		 struct bs_error *err)
{
	uint8_t one;
	unsigned long long a, b, total;
	int rc;

	memset(x, 0, sizeof(*x));
	if ((rc = perform(t, NULL, 1, x, NULL, err)) < 0)
		return rc;
	if (x->status == 405 || x->status == 501) {
		memset(x, 0, sizeof(*x));
		x->buf = &one;
		x->cap = 1;
		x->ranged = 1;
		x->rlen = 1;
		if ((rc = perform(t, NULL, 0, x, NULL, err)) < 0)
			return rc;
		if (x->status == 206 && sscanf(x->crange, "bytes %llu-%llu/"
					       "%llu", &a, &b, &total) == 3) {
			*size = total;
			return 0;
		}
	}
	if (x->status != 200)
		return bs_error_set(err, status_errno(x->status), "%s: HTTP "
				    "%ld", t->url, x->status);
	if (!x->have_clen)
		return bs_error_set(err, -EIO, "%s: the server gives no "
				    "size (Content-Length)", t->url);
	*size = x->clen;
	return 0;
}

static int http_stat(struct bs_source *s, struct bs_source_id *id)
{
	struct hsrc *h = s->priv;
	struct bs_error err = { 0 };
	struct xfer x;
	uint64_t size;
	int rc;

	if ((rc = probe(&h->t, &x, &size, &err)) < 0)
		return rc;
	return bs_remote_id(x.etag, x.lastmod, size, id);
}

static const struct bs_source_ops http_ops = {
	.pread = http_pread,
	.pin = http_pin,
	.unpin = http_unpin,
	.stat = http_stat,
	.close = http_close,
};

void bs_remote_opts_default(struct bs_remote_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 5000;
	o->timeout_ms = 30000;
	o->retries = 2;
	o->tls_verify = 1;
	o->readahead = 16u << 20;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* Key and secret from the file (owner-only) or the environment. */
static int s3_creds(const struct bs_remote_opts *o, char *key, size_t ks,
		    char *secret, size_t ss, struct bs_error *err)
{
	const char *f = o->s3_credentials;
	char text[4096];
	struct stat st;
	ssize_t n;
	int fd, rc;

	if (!f) {
		const char *k = env("AWS_ACCESS_KEY_ID");
		const char *s = env("AWS_SECRET_ACCESS_KEY");
		if (!k || !s || strlen(k) >= ks || strlen(s) >= ss)
			return bs_error_set(err, -EINVAL, "no S3 credentials: "
				"set s3_credentials in [server] or "
				"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		strcpy(key, k);
		strcpy(secret, s);
		return 0;
	}
	if ((fd = open(f, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return bs_error_set(err, -errno, "%s: %s", f, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		close(fd);
		return bs_error_set(err, -EACCES, "%s: credentials file must "
				    "be a regular file owned by root (or this "
				    "user) and readable by its owner only", f);
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return bs_error_set(err, -EIO, "%s: read failed", f);
	text[n] = '\0';
	rc = bs_s3_parse_credentials(text, key, ks, secret, ss);
	explicit_bzero(text, sizeof(text));
	if (rc < 0)
		return bs_error_set(err, rc, "%s: needs access_key = and "
				    "secret_key = lines", f);
	return 0;
}

static int target_init(struct target *t, const char *url,
		       const struct bs_remote_opts *o, struct bs_error *err)
{
	memset(t, 0, sizeof(*t));
	t->o = *o;
	/* borrowed strings are used here only, never kept */
	t->o.s3_region = t->o.s3_endpoint = t->o.s3_credentials = NULL;
	if (strncmp(url, "s3://", 5)) {
		if (!(t->url = strdup(url)))
			return bs_error_set(err, -ENOMEM, "out of memory");
		return 0;
	}
	char u[4096], sig[128], key[256], secret[256], up[520];
	const char *region = o->s3_region ? o->s3_region :
		env("AWS_REGION") ? env("AWS_REGION") :
		env("AWS_DEFAULT_REGION");
	const char *ep = o->s3_endpoint ? o->s3_endpoint :
			 env("AWS_ENDPOINT_URL");
	int rc = bs_s3_prepare(url, region, ep, u, sizeof(u), sig,
			       sizeof(sig));
	if (rc < 0)
		return bs_error_set(err, rc, "%s: not a valid s3://BUCKET/KEY "
				    "URL (or bad s3_region/s3_endpoint)", url);
	if ((rc = s3_creds(o, key, sizeof(key), secret, sizeof(secret),
			   err)) < 0)
		return rc;
	snprintf(up, sizeof(up), "%s:%s", key, secret);
	explicit_bzero(secret, sizeof(secret));
	t->url = strdup(u);
	t->sigv4 = strdup(sig);
	t->userpwd = strdup(up);
	explicit_bzero(up, sizeof(up));
	if (env("AWS_SESSION_TOKEN")) {
		size_t n = strlen(env("AWS_SESSION_TOKEN")) + 32;
		if ((t->token = malloc(n)))
			snprintf(t->token, n, "x-amz-security-token: %s",
				 env("AWS_SESSION_TOKEN"));
	}
	if (!t->url || !t->sigv4 || !t->userpwd)
		return bs_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int bs_source_open_url(const char *url, const struct bs_remote_opts *o,
		       struct bs_source **out, struct bs_error *err)
{
	struct bs_remote_opts def;
	struct bs_source_id id;
	struct hsrc *h;
	struct xfer x;
	char hdr[HDR_MAX + 32];
	int rc;

	*out = NULL;
	pthread_once(&once, global_init);
	if (init_rc < 0)
		return bs_error_set(err, init_rc, "remote ISOs: setting up "
				    "libcurl and the block cache failed: %s",
				    strerror(-init_rc));
	if (!o) {
		bs_remote_opts_default(&def);
		o = &def;
	}
	if (!bs_remote_url(url))
		return bs_error_set(err, -EINVAL, "%s: not an http://, "
				    "https:// or s3:// URL", url);
	if (!(h = calloc(1, sizeof(*h))))
		return bs_error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	if ((rc = target_init(&h->t, url, o, err)) < 0)
		goto fail;
	if (h->t.o.timeout_ms <= 0)
		h->t.o.timeout_ms = 30000;
	if (h->t.o.connect_timeout_ms <= 0)
		h->t.o.connect_timeout_ms = h->t.o.timeout_ms;
	h->cache = o->cache ? o->cache : default_cache;
	h->block = bs_blockcache_block(h->cache);
	if ((rc = probe(&h->t, &x, &h->size, err)) < 0) {
		if (strncmp(url, "s3://", 5) == 0)
			bs_error_prefix(err, "%s", url);
		goto fail;
	}
	if ((rc = bs_remote_id(x.etag, x.lastmod, h->size, &id)) < 0) {
		bs_error_set(err, -EIO, "%s: the server gives neither ETag "
			     "nor Last-Modified, so versions cannot be told "
			     "apart", url);
		goto fail;
	}
	h->strong = x.etag[0] && strncmp(x.etag, "W/", 2) != 0;
	if ((x.etag[0] && !(h->etag = strdup(x.etag))) ||
	    (x.lastmod[0] && !(h->lastmod = strdup(x.lastmod)))) {
		rc = bs_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (h->strong)
		snprintf(hdr, sizeof(hdr), "If-Match: %s", h->etag);
	else
		snprintf(hdr, sizeof(hdr), "If-Unmodified-Since: %s",
			 h->lastmod);
	if (!(h->cond = strdup(hdr))) {
		rc = bs_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	h->key = fnv(fnv(0xcbf29ce484222325ULL, url), h->etag ? h->etag :
		     h->lastmod) ^ (h->size * 0x9e3779b97f4a7c15ULL);
	if ((rc = bs_source_new(url, &id, &http_ops, h, out)) < 0)
		return bs_error_set(err, rc, "out of memory");
	return 0;

fail:
	hsrc_free(h);
	return rc;
}

struct bs_blockcache *bs_remote_cache(void)
{
	pthread_once(&once, global_init);
	return default_cache;
}

struct bs_blockcache *bs_remote_cache_made(void)
{
	return __atomic_load_n(&default_cache, __ATOMIC_ACQUIRE);
}

int bs_remote_stale(const struct bs_source *s)
{
	const struct hsrc *h;

	if (!s || s->ops != &http_ops)
		return 0;
	h = s->priv;
	return __atomic_load_n(&h->stale, __ATOMIC_RELAXED);
}

int bs_remote_get_stats(const struct bs_source *s, struct bs_remote_stats *st)
{
	const struct hsrc *h;

	if (!s || s->ops != &http_ops)
		return -EINVAL;
	h = s->priv;
	st->requests = __atomic_load_n(&h->st.requests, __ATOMIC_RELAXED);
	st->bytes_fetched = __atomic_load_n(&h->st.bytes_fetched,
					    __ATOMIC_RELAXED);
	st->retries = __atomic_load_n(&h->st.retries, __ATOMIC_RELAXED);
	st->failures = __atomic_load_n(&h->st.failures, __ATOMIC_RELAXED);
	return 0;
}
