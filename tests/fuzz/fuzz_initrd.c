/*
 * fuzz_initrd.c - the initrd scanner (newc machine, gzip/xz/lzma/zstd
 * members, concatenation rules) over any bytes taken as a whole initrd,
 * then every family/mode verdict over the result.  The scanner's window
 * and the reads are small and odd-sized so that buffer boundaries land
 * everywhere; the decompressed-bytes limit is small so a decompression
 * bomb costs milliseconds, not the default 2 GiB.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <bootshelf/initrd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t n, step;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (off >= m->n)
		return 0;
	if (len > m->n - off)
		len = (size_t)(m->n - off);
	if (len > m->step)
		len = m->step;
	memcpy(buf, m->p + off, len);
	return (ssize_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size, 1 + size % 4093 };
	struct bs_initrd_reader r = {
		.read = mem_read, .ctx = &m, .size = size,
		.max_out = 4u << 20, .max_entries = 100000,
		.window = 8 + (size * 7) % 509,
	};
	struct bs_initrd_info info;
	struct bs_error e;
	char why[256];

	bs_initrd_scan(&r, &info, &e);
	for (int f = BS_FAM_NONE; f <= BS_FAM_ELTORITO; f++)
		for (int d = BS_DELIVERY_AUTO; d <= BS_DELIVERY_SANBOOT; d++)
			bs_initrd_supports(&info, (enum bs_family)f,
					   (enum bs_delivery)d, why,
					   sizeof(why));
	return 0;
}
