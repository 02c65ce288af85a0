/*
 * fuzz_iso.c - index any bytes as an ISO image (through an in-memory
 * source, so libisofs reads exactly the input), then detect its boot
 * family and read every file through a blob.  Seeds are real images made
 * with xorriso by scripts/fuzz.sh; nothing binary is committed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <bootshelf/detect.h>
#include <bootshelf/isoindex.h>
#include <bootshelf/segment.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t n;
};

static ssize_t mem_pread(struct bs_source *s, void *buf, size_t len,
			 uint64_t off, uint64_t until)
{
	(void)until;
	const struct mem *m = s->priv;
	if (off >= m->n)
		return 0;
	if (len > m->n - off)
		len = (size_t)(m->n - off);
	memcpy(buf, m->p + off, len);
	return (ssize_t)len;
}

static const struct bs_source_ops mem_ops = { .pread = mem_pread };

static void read_all(const struct bs_iso *iso, const struct bs_iso_node *n,
		     size_t *budget)
{
	static uint8_t buf[65536];

	for (size_t i = 0; i < n->nkids && *budget; i++) {
		const struct bs_iso_node *k = n->kids[i];
		if (S_ISDIR(k->mode)) {
			read_all(iso, k, budget);
		} else if (S_ISREG(k->mode)) {
			struct bs_blob_builder b = { 0 };
			struct bs_blob *blob;
			bs_iso_add_file(&b, iso, k);
			if (bs_blob_finish(&b, &blob) < 0)
				continue;
			bs_blob_read(blob, buf, sizeof(buf), 0);
			bs_blob_unref(blob);
			(*budget)--;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct bs_source_id id = { .size = size };
	struct bs_source *src;
	struct bs_iso *iso;
	struct bs_bootinfo bi;
	struct bs_error err;
	size_t budget = 256;

	if (bs_source_new("fuzz.iso", &id, &mem_ops, &m, &src) < 0)
		return 0;
	if (bs_iso_open(src, &iso, &err) == 0) {
		bs_detect(iso, &bi);
		read_all(iso, iso->root, &budget);
		bs_iso_unref(iso);
	} else if (err.code >= 0 || !err.msg[0]) {
		__builtin_trap();	/* failure without a reason */
	}
	bs_source_unref(src);
	return 0;
}
