/*
 * remote_hold.c - hold one remote source open and read from it on
 * command, for tests of what an open source sees when the server goes
 * away or the object is replaced.
 *
 *   remote_hold [-t TIMEOUT_MS] [-c CACHE_BYTES] URL|FILE
 *
 * (a local FILE is opened as a file source, for comparisons)
 *
 * Prints "open SIZE" (or "error MSG" and exits 1), then reads lines from
 * stdin: "read OFF LEN FILE" writes the bytes read to FILE and answers
 * "ok N" or "err -ERRNO MS" (how long the failed read took);
 * "readall OFF LEN CHUNK" reads and discards in CHUNK-byte reads and
 * answers "ok N MICROSECONDS"; "stats" answers "stats REQUESTS BYTES
 * RETRIES FAILURES"; "quit" or EOF ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bootshelf/log.h>
#include <bootshelf/remote.h>

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static long us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000;
}

int main(int argc, char **argv)
{
	struct bs_remote_opts o;
	struct bs_source *s;
	struct bs_error err = { 0 };
	struct bs_blockcache *bc = NULL;
	char line[4096];
	int c;

	bs_log_init("remote_hold", 1, 0);
	bs_remote_opts_default(&o);
	while ((c = getopt(argc, argv, "t:c:")) != -1) {
		switch (c) {
		case 't':
			o.timeout_ms = atol(optarg);
			o.connect_timeout_ms = o.timeout_ms;
			break;
		case 'c':
			bc = bs_blockcache_new(BS_BLOCK_SIZE,
					       strtoull(optarg, NULL, 10));
			o.cache = bc;
			break;
		default:
			fprintf(stderr, "usage: %s [-t MS] [-c BYTES] URL\n",
				argv[0]);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: %s [-t MS] [-c BYTES] URL\n", argv[0]);
		return 2;
	}
	if ((bs_remote_url(argv[optind]) ?
	     bs_source_open_url(argv[optind], &o, &s, &err) :
	     bs_source_open(argv[optind], &s, &err)) < 0) {
		printf("error %s\n", err.msg);
		return 1;
	}
	printf("open %llu\n", (unsigned long long)s->id.size);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long off, len;
		char file[2048];

		if (sscanf(line, "read %llu %llu %2047s", &off, &len,
			   file) == 3) {
			struct timespec t0;
			char *buf = malloc(len ? len : 1);
			ssize_t n;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			n = bs_source_pread(s, buf, len, off);
			if (n < 0) {
				printf("err %zd %ld\n", n, ms_since(&t0));
			} else {
				FILE *f = fopen(file, "wb");
				if (!f || fwrite(buf, 1, (size_t)n, f) !=
				    (size_t)n)
					n = -EIO;
				if (f)
					fclose(f);
				printf("ok %zd\n", n);
			}
			free(buf);
		} else if (sscanf(line, "readall %llu %llu %2047s", &off, &len,
				  file) == 3) {
			size_t chunk = strtoul(file, NULL, 10);
			char *buf = malloc(chunk ? chunk : 1);
			struct timespec t0;
			unsigned long long done = 0;
			ssize_t n = 0;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			while (chunk && done < len) {
				size_t want = len - done < chunk ?
					      (size_t)(len - done) : chunk;
				n = bs_source_pread(s, buf, want, off + done);
				if (n <= 0)
					break;
				done += (unsigned long long)n;
			}
			if (n < 0)
				printf("err %zd %ld\n", n, ms_since(&t0));
			else
				printf("ok %llu %ld\n", done, us_since(&t0));
			free(buf);
		} else if (!strncmp(line, "stats", 5)) {
			struct bs_remote_stats st;
			bs_remote_get_stats(s, &st);
			printf("stats %llu %llu %llu %llu\n",
			       (unsigned long long)st.requests,
			       (unsigned long long)st.bytes_fetched,
			       (unsigned long long)st.retries,
			       (unsigned long long)st.failures);
		} else if (!strncmp(line, "quit", 4)) {
			break;
		} else {
			printf("?\n");
		}
		fflush(stdout);
	}
	bs_source_unref(s);
	bs_blockcache_free(bc);
	return 0;
}
