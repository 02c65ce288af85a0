/*
 * tftp.h - TFTP wire format (RFC 1350) with option negotiation
 * (RFC 2347 blksize/tsize/timeout per RFC 2348/2349, windowsize per
 * RFC 7440).
 *
 * Pure functions over caller buffers: no sockets, files, allocation or
 * globals, so the parsers can be unit-tested and fuzzed.  Strings that a
 * parser returns point into the caller's packet buffer (borrowed, valid
 * as long as that buffer).  Transfer state (windows, retries, rollover)
 * belongs to the server, not here.
 */
#ifndef BOOTSHELF_TFTP_H
#define BOOTSHELF_TFTP_H

#include <stddef.h>
#include <stdint.h>

enum bs_tftp_op {
	BS_TFTP_RRQ = 1,
	BS_TFTP_WRQ = 2,
	BS_TFTP_DATA = 3,
	BS_TFTP_ACK = 4,
	BS_TFTP_ERROR = 5,
	BS_TFTP_OACK = 6,
};

/* Protocol error codes (RFC 1350, 8 from RFC 2347). */
enum bs_tftp_err {
	BS_TFTP_EUNDEF = 0,		/* not defined, see message */
	BS_TFTP_ENOTFOUND = 1,
	BS_TFTP_EACCESS = 2,
	BS_TFTP_ENOSPACE = 3,
	BS_TFTP_EBADOP = 4,
	BS_TFTP_EBADID = 5,
	BS_TFTP_EEXISTS = 6,
	BS_TFTP_ENOUSER = 7,
	BS_TFTP_EOPTNEG = 8,
};

enum bs_tftp_mode { BS_TFTP_OCTET, BS_TFTP_NETASCII };

/* Bits of bs_tftp_req.opts: which options were present and valid. */
#define BS_TFTP_OPT_BLKSIZE	0x1u
#define BS_TFTP_OPT_TSIZE	0x2u
#define BS_TFTP_OPT_TIMEOUT	0x4u
#define BS_TFTP_OPT_WINDOWSIZE	0x8u

#define BS_TFTP_BLKSIZE_MIN	8
#define BS_TFTP_BLKSIZE_MAX	65464
#define BS_TFTP_BLKSIZE_DEF	512
#define BS_TFTP_WINDOW_MAX	65535
#define BS_TFTP_HDR		4	/* opcode + block or error code */
/* Largest packet: DATA with the largest block. */
#define BS_TFTP_PKT_MAX		(BS_TFTP_HDR + BS_TFTP_BLKSIZE_MAX)

/* A parsed RRQ or WRQ.  String pointers are borrowed from the packet. */
struct bs_tftp_req {
	enum bs_tftp_op op;		/* BS_TFTP_RRQ or BS_TFTP_WRQ */
	const char *filename;		/* NUL-terminated, non-empty */
	enum bs_tftp_mode mode;
	unsigned opts;			/* BS_TFTP_OPT_* seen, valid */
	uint32_t blksize;		/* clamped to 8..65464 */
	uint64_t tsize;			/* as sent (0 in an RRQ) */
	uint32_t timeout;		/* seconds, 1..255 */
	uint32_t windowsize;		/* clamped to 1..65535 */
};

/* The options a server grants in an OACK (only those in .opts). */
struct bs_tftp_oack {
	unsigned opts;
	uint32_t blksize;
	uint64_t tsize;
	uint32_t timeout;
	uint32_t windowsize;
};

/**
 * Opcode of a packet.
 * @ret  opcode (1..6), or -EBADMSG if shorter than 2 bytes or unknown
 */
int bs_tftp_opcode(const uint8_t *buf, size_t len);

/**
 * Parse an RRQ or WRQ.
 * @v buf, len  the whole UDP payload
 * @v out       filled on success; strings point into @buf
 * @ret 0, -EBADMSG (truncated, unterminated filename or mode, empty
 *      filename, not a request), -EPROTONOSUPPORT (unknown mode, e.g.
 *      "mail")
 *
 * Options follow RFC 2347: case-insensitive names, unknown ones ignored,
 * the first occurrence of a repeated option wins.  A value that is not a
 * decimal number, or is out of range where the RFC gives no way to
 * adjust it (blksize < 8, timeout outside 1..255, windowsize 0), drops
 * that option only, as if it had not been sent: RFC 2347 lets a server
 * leave out options it does not accept.  blksize above 65464 and
 * windowsize above 65535 are clamped, since the server may always offer
 * less.  Trailing bytes after the last complete string, or an option name
 * without a value, are ignored: some firmware pads requests (OpenBSD
 * tftpd notes Apple OpenFirmware) and the filename and mode are intact.
 */
int bs_tftp_parse_req(const uint8_t *buf, size_t len,
		      struct bs_tftp_req *out);

/**
 * Parse an ACK.
 * @ret 0 with *block set, or -EBADMSG (not an ACK or shorter than 4
 *      bytes; extra trailing bytes are tolerated)
 */
int bs_tftp_parse_ack(const uint8_t *buf, size_t len, uint16_t *block);

/**
 * Parse an ERROR.
 * @v msg, msglen  the message, borrowed from @buf, not necessarily
 *                 NUL-terminated (a missing terminator is tolerated)
 * @ret 0 or -EBADMSG
 */
int bs_tftp_parse_error(const uint8_t *buf, size_t len, uint16_t *code,
			const char **msg, size_t *msglen);

/**
 * Write the 4-byte DATA header; the block's bytes go right after it
 * (so a reader can pread() straight into buf + BS_TFTP_HDR).
 * @ret BS_TFTP_HDR, or -ENOSPC if cap < 4
 */
int bs_tftp_build_data_hdr(uint8_t *buf, size_t cap, uint16_t block);

/** Build an ACK.  @ret 4 or -ENOSPC */
int bs_tftp_build_ack(uint8_t *buf, size_t cap, uint16_t block);

/**
 * Build an OACK with the options in o->opts, in a fixed order.
 * @ret packet length, or -ENOSPC
 */
int bs_tftp_build_oack(uint8_t *buf, size_t cap,
		       const struct bs_tftp_oack *o);

/**
 * Build an ERROR.  A message longer than fits is truncated.
 * @v msg  NULL: the standard text for @code
 * @ret packet length, or -ENOSPC if not even the header and NUL fit
 */
int bs_tftp_build_error(uint8_t *buf, size_t cap, uint16_t code,
			const char *msg);

/**
 * The one mapping from internal errors to TFTP error codes.
 * @v err  negative errno (positive values are treated the same)
 * @v msg  if not NULL, set to a static message for the client
 * @ret    TFTP error code
 */
uint16_t bs_tftp_errcode(int err, const char **msg);

/* Standard text of a TFTP error code (static). */
const char *bs_tftp_errstr(uint16_t code);

/*
 * Block numbers.  A transfer counts blocks with 64-bit absolute numbers
 * (first DATA block is 1, 0 stands for the OACK); only the wire carries
 * 16 bits.  After 65535 the wire number wraps to @rollover: 0 (the usual
 * convention: iPXE, PXELINUX, curl, tftp-hpa) or 1 (some old clients).
 */

/** Wire number of absolute block @b. */
uint16_t bs_tftp_wire_block(uint64_t b, int rollover);

/**
 * How many blocks an ACK for wire number @n moves past absolute block
 * @acked: 0 for a duplicate, otherwise 1..65535 (the caller checks that
 * this stays within what was sent).  UINT64_MAX for a number that can
 * never be valid (0 after the OACK with rollover 1).
 */
uint64_t bs_tftp_ack_advance(uint64_t acked, uint16_t n, int rollover);

/*
 * netascii (RFC 764 via RFC 1350): on the wire a line ends with CR LF
 * and a lone CR is CR NUL.  Conversion is streaming: the state carries a
 * half-written pair (encoder) or a CR seen at the end of a block
 * (decoder) into the next call.  Zero-initialise before first use.
 */
struct bs_tftp_netascii {
	uint8_t pending;	/* encoder: byte still to emit; 0 = none */
	uint8_t cr;		/* decoder: last input byte was CR */
};

/**
 * Encode local text (LF line ends) into netascii.
 * @v in, inlen  input; *consumed is set to how much was used
 * @v out, cap   output space
 * @ret          bytes written; less than cap only when the input
 *               ran out (and nothing is pending)
 */
size_t bs_tftp_netascii_encode(struct bs_tftp_netascii *st,
			       const uint8_t *in, size_t inlen,
			       size_t *consumed, uint8_t *out, size_t cap);

/**
 * Decode netascii into local text.  out must hold inlen + 1 bytes (a CR
 * held over from the previous call may be flushed).  CR LF -> LF,
 * CR NUL -> CR; a CR followed by anything else is kept as is.
 * @v last  non-zero on the final block: a trailing CR is flushed
 * @ret    bytes written
 */
size_t bs_tftp_netascii_decode(struct bs_tftp_netascii *st,
			       const uint8_t *in, size_t inlen, int last,
			       uint8_t *out);

#endif
