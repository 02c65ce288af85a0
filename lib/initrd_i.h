/*
 * initrd_i.h - internals of the initrd scanner: the kernel's newc state
 * machine (initrd_cpio.c) and streaming decompressors (initrd_decomp.c).
 * Not exported; initrd_scan.c ties them together.
 */
#ifndef BOOTSHELF_INITRD_I_H
#define BOOTSHELF_INITRD_I_H

#include <stddef.h>
#include <stdint.h>

#include <bootshelf/initrd.h>

#define IRD_PATH_MAX 4096	/* the kernel's PATH_MAX */
/* Name bytes after the 110-byte header, padded so header+name is 4-aligned */
#define IRD_N_ALIGN(len) ((((len) + 1) & ~(uint64_t)3) + 2)

/* States of init/initramfs.c, same names, same order. */
enum ird_state {
	IRD_START, IRD_COLLECT, IRD_GOTHEADER, IRD_SKIPIT, IRD_GOTNAME,
	IRD_COPYFILE, IRD_GOTSYMLINK, IRD_RESET
};

struct ird_cpio_ops {
	/* A named entry.  Return 1 to get a regular file's data. */
	int (*entry)(void *ctx, const char *name, uint32_t mode);
	void (*data)(void *ctx, const uint8_t *p, size_t n);
	void (*data_end)(void *ctx);
};

/*
 * The newc machine.  this_header counts bytes from the start of the
 * uncompressed stream it walks (the whole initrd for plain archives, the
 * decompressed member otherwise), because that is what alignment is
 * measured against.  Zero-initialise, then set ops/ctx.
 */
struct ird_cpio {
	enum ird_state state, next_state;
	uint64_t this_header, next_header;
	uint64_t mode, body_len, name_len, hdr_csum;
	int csum_present, want_data;
	uint32_t io_csum;
	const char *msg;	/* kernel error (static string): stop */
	uint64_t skipped;	/* entries skipped unnamed */
	const struct ird_cpio_ops *ops;
	void *ctx;
	/* Collect state: bytes go to collect, remains still missing. */
	uint8_t *collect, *collected;
	uint64_t remains;
	uint8_t header_buf[112];
	uint8_t name_buf[IRD_PATH_MAX + 8];
	uint8_t symlink_buf[2 * IRD_PATH_MAX + 8];
};

/**
 * Run the machine over @buf as the kernel's write_buffer() does.
 * @ret bytes consumed.  Less than @len when the machine stopped: after
 *      an entry, at the first non-NUL byte (properly aligned), or on an
 *      error (c->msg set).
 */
size_t ird_cpio_feed(struct ird_cpio *c, const uint8_t *buf, size_t len);

/* Bytes the machine would skip unseen from here (0 if it must look). */
uint64_t ird_cpio_skippable(const struct ird_cpio *c);
/* Skip @n <= ird_cpio_skippable() bytes without reading them. */
void ird_cpio_skip(struct ird_cpio *c, uint64_t n);

/* Streaming decompression of one member. */
struct ird_decomp;

/* @ret 0, -ENOMEM, -ENOTSUP (format not followed). */
int ird_decomp_new(enum bs_initrd_fmt fmt, struct ird_decomp **out);
/**
 * Feed input, take output.  *used / *produced say how much of each.
 * @ret 0 progress (or none possible without more input), 1 end of the
 *      member's stream, -EBADMSG corrupt data (ird_decomp_why),
 *      -E2BIG the decoder needs more memory than allowed, -ENOMEM.
 */
int ird_decomp_step(struct ird_decomp *d, const uint8_t *in, size_t inlen,
		    size_t *used, uint8_t *out, size_t outcap,
		    size_t *produced);
const char *ird_decomp_why(const struct ird_decomp *d);
void ird_decomp_free(struct ird_decomp *d);

/* Decoder memory cap for xz/lzma dictionaries; zstd keeps libzstd's
 * default window limit (128 MiB). */
#define IRD_DECOMP_MEMLIMIT (256u << 20)

#endif
