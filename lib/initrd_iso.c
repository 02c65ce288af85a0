/*
 * initrd_iso.c - scan the initrds of an ISO as its clients will get them:
 * every initrd bs_detect() found, in order, each padded with NULs to a
 * multiple of 4 bytes (what pxelinux, iPXE and GRUB do, and what the
 * boot/NAME/initrd file serves).  Leaves out the appended ISO archive of
 * the cpio mode: that one is generated, not shipped.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <bootshelf/cpio.h>
#include <bootshelf/initrd.h>

int bs_initrd_scan_iso(const struct bs_iso *iso, const struct bs_bootinfo *bi,
		       struct bs_initrd_info *out, struct bs_error *err)
{
	struct bs_blob_builder b = { 0 };
	struct bs_blob *blob;
	size_t found = 0;
	int rc;

	for (size_t i = 0; i < bi->ninitrd && i < BS_MAX_INITRDS; i++) {
		const struct bs_iso_node *n;

		n = bs_iso_lookup(iso, bi->initrd[i]);

		if (!n || !S_ISREG(n->mode))
			continue;
		bs_iso_add_file(&b, iso, n);
		bs_blob_add_zero(&b, bs_cpio_pad(n->size));
		found++;
	}
	if (!found) {
		bs_blob_builder_release(&b);
		memset(out, 0, sizeof(*out));
		return bs_error_set(err, -ENOENT, "no initrd in the ISO");
	}
	rc = bs_blob_finish(&b, &blob);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return bs_error_set(err, rc, "out of memory");
	}
	rc = bs_initrd_scan_blob(blob, out, err);
	bs_blob_unref(blob);
	return rc;
}
