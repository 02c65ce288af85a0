/*
 * initrd_verdict.c - can a delivery mode work with the initrd an ISO
 * ships?  Turns a scan (initrd_scan.c) into "ok", "may fail" or "cannot
 * work" plus one sentence for inspect and status.
 *
 * Only what the initrd can tell is judged: the boot family's scripts
 * (dracut dmsquash-live/livenet/nfs, casper, live-boot, kiwi-live,
 * archiso hooks) and the kernel modules a mode loads.  A module missing
 * from the initrd is "may fail" unless the initrd's modules.builtin says
 * the kernel lacks it too.  Whether the family can use the mode at all is
 * the boot generator's business; the few families that cannot are still
 * answered here so the sentence is never empty.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bootshelf/initrd.h>

struct verdict {
	enum bs_initrd_verdict v;
	const struct bs_initrd_info *i;
	char *why;
	size_t len;
};

/* Keep the worst verdict and the first reason given for it. */
static void __attribute__((format(printf, 3, 4)))
say(struct verdict *v, enum bs_initrd_verdict level, const char *fmt, ...)
{
	va_list ap;

	if (level <= v->v && (level != v->v || (v->len && v->why[0])))
		return;
	v->v = level;
	if (!v->len)
		return;
	va_start(ap, fmt);
	vsnprintf(v->why, v->len, fmt, ap);
	va_end(ap);
}

/* A marker is missing: NO, or MAYBE if the scan did not see it all. */
static void need(struct verdict *v, enum bs_initrd_feature f,
		 const char *sentence)
{
	if (bs_initrd_has(v->i, f))
		return;
	if (v->i->incomplete[0])
		say(v, BS_IRD_MAYBE, "%s (initrd only partly read: %s)",
		    sentence, v->i->incomplete);
	else
		say(v, BS_IRD_NO, "%s", sentence);
}

static void need_kmod(struct verdict *v, enum bs_initrd_kmod m,
		      const char *what)
{
	const char *name = bs_initrd_kmod_name(m);

	switch (bs_initrd_kmod(v->i, m)) {
	case BS_KMOD_FILE:
	case BS_KMOD_BUILTIN:
		return;
	case BS_KMOD_ABSENT:
		say(v, BS_IRD_NO, "no %s module in the initrd and the kernel "
		    "does not have it built in: %s cannot work", name, what);
		return;
	case BS_KMOD_UNKNOWN:
		if (v->i->incomplete[0])
			say(v, BS_IRD_MAYBE, "no %s module seen (initrd only "
			    "partly read): %s may fail", name, what);
		else
			say(v, BS_IRD_MAYBE, "no %s module in the initrd: %s "
			    "works only if the kernel has it built in%s", name,
			    what, m == BS_KMOD_ISOFS ? " (Debian's kernels "
			    "build isofs as a module)" : "");
		return;
	}
}

/* loop + iso9660 + squashfs: mounting a downloaded or packed ISO. */
static void need_loop_iso(struct verdict *v, const char *what)
{
	need_kmod(v, BS_KMOD_LOOP, what);
	need_kmod(v, BS_KMOD_ISOFS, what);
	need_kmod(v, BS_KMOD_SQUASHFS, what);
}

static void dracut(struct verdict *v, enum bs_delivery mode)
{
	need(v, BS_IRD_DRACUT, "not a dracut initrd: rd.live.image and "
	     "root=live: cannot work");
	switch (mode) {
	case BS_DELIVERY_CPIO:
		need(v, BS_IRD_DMSQUASH, "dracut initrd without "
		     "dmsquash-live: root=live:/NAME.iso cannot work");
		need_loop_iso(v, "root=live:/NAME.iso");
		break;
	case BS_DELIVERY_HTTP:
		need(v, BS_IRD_LIVENET, "dracut initrd without livenet: "
		     "root=live:http:// cannot work");
		need(v, BS_IRD_DMSQUASH, "dracut initrd without "
		     "dmsquash-live: root=live:http:// cannot work");
		need_loop_iso(v, "root=live:http://");
		break;
	case BS_DELIVERY_NFS:
		need(v, BS_IRD_NFS, "dracut initrd without nfs: "
		     "root=live:nfs:// cannot work");
		need_kmod(v, BS_KMOD_NFS, "root=live:nfs://");
		break;
	default:
		say(v, BS_IRD_NO, "dracut live has no %s root",
		    bs_delivery_name(mode));
	}
}

static void casper(struct verdict *v, enum bs_delivery mode)
{
	need(v, BS_IRD_CASPER, "initrd without casper scripts: boot=casper "
	     "cannot work");
	switch (mode) {
	case BS_DELIVERY_HTTP:
		need_loop_iso(v, "boot=casper url=");
		break;
	case BS_DELIVERY_NFS:
		need(v, BS_IRD_NFS, "casper initrd without an NFS client: "
		     "netboot=nfs cannot work");
		need_kmod(v, BS_KMOD_NFS, "netboot=nfs");
		need_kmod(v, BS_KMOD_SQUASHFS, "netboot=nfs");
		break;
	default:
		say(v, BS_IRD_NO, "casper cannot boot by %s",
		    bs_delivery_name(mode));
	}
}

static void liveboot(struct verdict *v, enum bs_delivery mode)
{
	need(v, BS_IRD_LIVEBOOT, "initrd without live-boot scripts: "
	     "boot=live cannot work");
	switch (mode) {
	case BS_DELIVERY_CPIO:
		need_loop_iso(v, "boot=live live-media=/NAME.iso");
		break;
	case BS_DELIVERY_HTTP:
		need_loop_iso(v, "boot=live fetch=");
		break;
	case BS_DELIVERY_NFS:
		need(v, BS_IRD_NFS, "live-boot initrd without an NFS client: "
		     "netboot=nfs cannot work");
		need_kmod(v, BS_KMOD_NFS, "netboot=nfs");
		need_kmod(v, BS_KMOD_SQUASHFS, "netboot=nfs");
		break;
	default:
		say(v, BS_IRD_NO, "live-boot cannot boot by %s",
		    bs_delivery_name(mode));
	}
}

static void archiso(struct verdict *v, enum bs_delivery mode)
{
	need(v, BS_IRD_ARCHISO, "initrd without the archiso hook: "
	     "archisobasedir= cannot work");
	switch (mode) {
	case BS_DELIVERY_HTTP:
		need(v, BS_IRD_ARCHISO_HTTP, "archiso initrd without the "
		     "archiso_pxe_http hook: archiso_http_srv= cannot work");
		need_kmod(v, BS_KMOD_SQUASHFS, "archiso_http_srv=");
		break;
	case BS_DELIVERY_NFS:
		need(v, BS_IRD_ARCHISO_NFS, "archiso initrd without the "
		     "archiso_pxe_nfs hook: archiso_nfs_srv= cannot work");
		need_kmod(v, BS_KMOD_NFS, "archiso_nfs_srv=");
		need_kmod(v, BS_KMOD_SQUASHFS, "archiso_nfs_srv=");
		break;
	default:
		say(v, BS_IRD_NO, "archiso cannot boot by %s",
		    bs_delivery_name(mode));
	}
}

static void kiwi(struct verdict *v, enum bs_delivery mode)
{
	need(v, BS_IRD_KIWI, "initrd without the kiwi-live module: "
	     "root=live: cannot work");
	switch (mode) {
	case BS_DELIVERY_AOE:
		need_kmod(v, BS_KMOD_AOE, "root=live:AOEINTERFACE=");
		need_kmod(v, BS_KMOD_ISOFS, "root=live:AOEINTERFACE=");
		need_kmod(v, BS_KMOD_SQUASHFS, "root=live:AOEINTERFACE=");
		break;
	case BS_DELIVERY_HTTP:
		need_kmod(v, BS_KMOD_ISOFS, "root=live:http://");
		need_kmod(v, BS_KMOD_SQUASHFS, "root=live:http://");
		break;
	default:
		say(v, BS_IRD_NO, "KIWI live cannot boot by %s",
		    bs_delivery_name(mode));
	}
}

enum bs_initrd_verdict bs_initrd_supports(const struct bs_initrd_info *i,
					  enum bs_family fam,
					  enum bs_delivery mode,
					  char *why, size_t whylen)
{
	struct verdict v = { BS_IRD_YES, i, why, whylen };

	if (whylen)
		why[0] = '\0';
	if (mode == BS_DELIVERY_SANBOOT)
		return BS_IRD_YES;	/* the initrd is not used */
	if (i->kernel_error[0]) {
		if (mode == BS_DELIVERY_CPIO)
			say(&v, BS_IRD_NO, "the kernel stops unpacking this "
			    "initrd at offset %" PRIu64 " (\"%s\"): the "
			    "appended ISO archive would never be unpacked",
			    i->error_off, i->kernel_error);
		else
			say(&v, BS_IRD_MAYBE, "the kernel stops unpacking "
			    "this initrd at offset %" PRIu64 " (\"%s\"): "
			    "files after it are missing", i->error_off,
			    i->kernel_error);
	}
	if (i->unterminated) {
		if (mode == BS_DELIVERY_CPIO)
			say(&v, BS_IRD_NO, "the initrd ends inside a cpio "
			    "entry: the appended ISO archive would be read as "
			    "that entry's data");
		else
			say(&v, BS_IRD_MAYBE, "the initrd ends inside a cpio "
			    "entry (truncated)");
	}
	if (mode == BS_DELIVERY_AUTO)
		return v.v;	/* kernel + initrd as shipped */
	switch (fam) {
	case BS_FAM_DRACUT:
		dracut(&v, mode);
		break;
	case BS_FAM_CASPER:
		casper(&v, mode);
		break;
	case BS_FAM_LIVEBOOT:
		liveboot(&v, mode);
		break;
	case BS_FAM_ARCHISO:
		archiso(&v, mode);
		break;
	case BS_FAM_KIWI:
		kiwi(&v, mode);
		break;
	default:
		say(&v, BS_IRD_MAYBE, "no initrd check for a %s ISO booted by "
		    "%s", bs_family_name(fam), bs_delivery_name(mode));
	}
	return v.v;
}

/* snprintf that appends and keeps counting past the end like snprintf. */
static void __attribute__((format(printf, 4, 5)))
cat(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(*n < len ? buf + *n : NULL, *n < len ? len - *n : 0,
		      fmt, ap);
	va_end(ap);
	if (k > 0)
		*n += (size_t)k;
}

int bs_initrd_describe(const struct bs_initrd_info *i, char *buf,
		       size_t len)
{
	const char *sep = "";
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (int f = 0; f < BS_IRDF_COUNT; f++) {
		if ((i->formats >> f) & 1) {
			cat(buf, len, &n, "%s%s", sep, bs_initrd_fmt_name(f));
			sep = "+";
		}
	}
	if (!i->formats)
		cat(buf, len, &n, "empty");
	cat(buf, len, &n, ", %zu member%s, %" PRIu64 " entries", i->nmember,
	    i->nmember == 1 ? "" : "s", i->entries);
	sep = ": ";
	for (int f = 0; f < BS_IRD_FEATURE_COUNT; f++) {
		if (bs_initrd_has(i, (enum bs_initrd_feature)f)) {
			cat(buf, len, &n, "%s%s", sep,
			    bs_initrd_feature_name(f));
			sep = ", ";
		}
	}
	sep = "; modules ";
	for (int m = 0; m < BS_KMOD_COUNT; m++) {
		enum bs_kmod_state st = bs_initrd_kmod(i, m);

		if (st == BS_KMOD_FILE || st == BS_KMOD_BUILTIN) {
			cat(buf, len, &n, "%s%s%s", sep,
			    bs_initrd_kmod_name(m),
			    st == BS_KMOD_BUILTIN ? "(built in)" : "");
			sep = " ";
		}
	}
	if (i->kernel_error[0])
		cat(buf, len, &n, "; kernel: %s at %" PRIu64, i->kernel_error,
		    i->error_off);
	if (i->unterminated)
		cat(buf, len, &n, "; truncated");
	if (i->incomplete[0])
		cat(buf, len, &n, "; incomplete: %s", i->incomplete);
	return (int)n;
}

const char *bs_initrd_verdict_name(enum bs_initrd_verdict v)
{
	switch (v) {
	case BS_IRD_YES:
		return "ok";
	case BS_IRD_MAYBE:
		return "may fail";
	case BS_IRD_NO:
		return "cannot work";
	}
	return "?";
}
