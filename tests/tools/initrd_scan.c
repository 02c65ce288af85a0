/*
 * initrd_scan.c - test tool: scan initrd files with bs_initrd_scan_blob()
 * and print what was found as "key: value" lines, for the integration
 * tests and for measuring the scanner on real initrds.
 *
 *   initrd_scan [-v FAMILY/MODE]... [-d sha256|md5] FILE...
 *   initrd_scan -i ISO...
 *
 * -v asks bs_initrd_supports() about a family and delivery mode (e.g.
 * "dracut-live/http"); -d also prints the file's digest.  -i opens ISOs,
 * detects their family, scans their initrds (bs_initrd_scan_iso) and
 * prints a verdict line for every delivery mode.  CPU time of the
 * scan (not of the digest) is printed as "cpu:".  Exit 0 when every scan
 * returned 0, 1 otherwise, 2 on bad usage.  Not installed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bootshelf/detect.h>
#include <bootshelf/digest.h>
#include <bootshelf/initrd.h>
#include <bootshelf/segment.h>
#include <bootshelf/source.h>

#define MAXV 16

struct ask {
	enum bs_family fam;
	enum bs_delivery mode;
	const char *text;
};

static int parse_ask(const char *s, struct ask *a)
{
	const char *slash = strchr(s, '/');
	char fam[64];

	if (!slash || (size_t)(slash - s) >= sizeof(fam))
		return -1;
	snprintf(fam, sizeof(fam), "%.*s", (int)(slash - s), s);
	for (int f = 0; f <= BS_FAM_ELTORITO; f++) {
		if (!strcmp(fam, bs_family_name((enum bs_family)f))) {
			a->fam = (enum bs_family)f;
			a->text = s;
			return bs_delivery_parse(slash + 1, &a->mode) < 0 ?
			       -1 : 0;
		}
	}
	return -1;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_info(const struct bs_initrd_info *i)
{
	const char *sep = "";

	printf("size: %" PRIu64 "\n", i->size);
	printf("members: %zu\n", i->nmember);
	for (size_t k = 0; k < i->nmember && k < BS_INITRD_MAX_MEMBERS; k++)
		printf("member: %s off=%" PRIu64 " len=%" PRIu64 " out=%"
		       PRIu64 " entries=%" PRIu64 "\n",
		       bs_initrd_fmt_name(i->member[k].fmt), i->member[k].off,
		       i->member[k].len, i->member[k].out,
		       i->member[k].entries);
	printf("formats: ");
	for (int f = 0; f < BS_IRDF_COUNT; f++) {
		if ((i->formats >> f) & 1) {
			printf("%s%s", sep, bs_initrd_fmt_name(f));
			sep = ",";
		}
	}
	printf("\nfeatures: ");
	sep = "";
	for (int f = 0; f < BS_IRD_FEATURE_COUNT; f++) {
		if (bs_initrd_has(i, (enum bs_initrd_feature)f)) {
			printf("%s%s", sep, bs_initrd_feature_name(f));
			sep = ",";
		}
	}
	printf("\nmodules:");
	for (int m = 0; m < BS_KMOD_COUNT; m++) {
		static const char *const st[] = { "unknown", "file",
						  "builtin", "absent" };
		printf(" %s=%s", bs_initrd_kmod_name(m),
		       st[bs_initrd_kmod(i, (enum bs_initrd_kmod)m)]);
	}
	printf("\nentries: %" PRIu64 "\n", i->entries);
	printf("skipped: %" PRIu64 "\n", i->skipped);
	printf("out_bytes: %" PRIu64 "\n", i->out_bytes);
	printf("kernel_error: %s\n", i->kernel_error);
	printf("error_off: %" PRIu64 "\n", i->error_off);
	printf("unterminated: %d\n", i->unterminated);
	printf("incomplete: %s\n", i->incomplete);
	{
		char line[1024];

		bs_initrd_describe(i, line, sizeof(line));
		printf("summary: %s\n", line);
	}
}

static int scan_file(const char *path, const struct ask *ask, size_t nask,
		     int digest, enum bs_digest_alg alg)
{
	struct bs_blob_builder b = { 0 };
	struct bs_initrd_info info;
	struct bs_source *src;
	struct bs_blob *blob;
	struct bs_error e = { 0 };
	double t0;
	int rc;

	printf("file: %s\n", path);
	rc = bs_source_open(path, &src, &e);
	if (rc < 0) {
		printf("error: %s\n", e.msg);
		return rc;
	}
	bs_blob_add_source(&b, src, 0, src->id.size);
	rc = bs_blob_finish(&b, &blob);
	bs_source_unref(src);
	if (rc < 0) {
		printf("error: out of memory\n");
		return rc;
	}
	t0 = cpu_now();
	rc = bs_initrd_scan_blob(blob, &info, &e);
	printf("cpu: %.3f\n", cpu_now() - t0);
	printf("rc: %d\n", rc);
	if (rc < 0)
		printf("error: %s\n", e.msg);
	print_info(&info);
	for (size_t k = 0; k < nask; k++) {
		char why[512];
		enum bs_initrd_verdict v = bs_initrd_supports(&info,
				ask[k].fam, ask[k].mode, why, sizeof(why));

		printf("verdict %s: %s%s%s\n", ask[k].text,
		       bs_initrd_verdict_name(v), why[0] ? ": " : "", why);
	}
	if (digest) {
		char hex[BS_DIGEST_HEX_MAX];

		if (bs_digest_blob(blob, alg, hex, &e) < 0) {
			printf("error: %s\n", e.msg);
			rc = -EIO;
		} else {
			printf("%s: %s\n", bs_digest_name(alg), hex);
		}
	}
	bs_blob_unref(blob);
	return rc;
}

static int scan_iso(const char *path)
{
	struct bs_initrd_info info;
	struct bs_bootinfo bi;
	struct bs_source *src;
	struct bs_iso *iso;
	struct bs_error e = { 0 };
	int rc;

	printf("file: %s\n", path);
	rc = bs_source_open(path, &src, &e);
	if (rc < 0) {
		printf("error: %s\n", e.msg);
		return rc;
	}
	rc = bs_iso_open(src, &iso, &e);
	bs_source_unref(src);
	if (rc < 0) {
		printf("error: %s\n", e.msg);
		return rc;
	}
	bs_detect(iso, &bi);
	printf("family: %s\n", bs_family_name(bi.family));
	for (size_t k = 0; k < bi.ninitrd; k++)
		printf("initrd: %s\n", bi.initrd[k]);
	rc = bs_initrd_scan_iso(iso, &bi, &info, &e);
	printf("rc: %d\n", rc);
	if (rc < 0)
		printf("error: %s\n", e.msg);
	print_info(&info);
	for (int m = BS_DELIVERY_AUTO; m <= BS_DELIVERY_SANBOOT; m++) {
		char why[512];
		enum bs_initrd_verdict v = bs_initrd_supports(&info,
				bi.family, (enum bs_delivery)m, why,
				sizeof(why));

		printf("verdict %s: %s%s%s\n",
		       bs_delivery_name((enum bs_delivery)m),
		       bs_initrd_verdict_name(v), why[0] ? ": " : "", why);
	}
	bs_iso_unref(iso);
	return rc;
}

int main(int argc, char **argv)
{
	struct ask ask[MAXV];
	size_t nask = 0;
	int digest = 0, fail = 0, isos = 0, i;
	enum bs_digest_alg alg = BS_DIGEST_SHA256;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") && i + 1 < argc && nask < MAXV) {
			if (parse_ask(argv[++i], &ask[nask]) < 0) {
				fprintf(stderr, "bad FAMILY/MODE: %s\n",
					argv[i]);
				return 2;
			}
			nask++;
		} else if (!strcmp(argv[i], "-i")) {
			isos = 1;
		} else if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			digest = 1;
			i++;
			if (!strcmp(argv[i], "md5"))
				alg = BS_DIGEST_MD5;
			else if (strcmp(argv[i], "sha256"))
				return 2;
		} else {
			fprintf(stderr, "usage: initrd_scan [-v FAMILY/MODE]"
				"... [-d sha256|md5] FILE... | -i ISO...\n");
			return 2;
		}
	}
	if (i == argc) {
		fprintf(stderr, "usage: initrd_scan [-v FAMILY/MODE]... "
			"[-d sha256|md5] FILE... | -i ISO...\n");
		return 2;
	}
	for (; i < argc; i++)
		if ((isos ? scan_iso(argv[i]) :
		     scan_file(argv[i], ask, nask, digest, alg)) < 0)
			fail = 1;
	return fail;
}
