/*
 * tftp_pkt.c - TFTP packet parsing and building (RFC 1350, 2347, 2348,
 * 2349, 7440), block-number arithmetic and netascii conversion.
 *
 * Pure functions over buffers: no sockets, no files, no globals, no
 * allocation.  What a server does with a request (path checks, windows,
 * retransmission, block-number rollover) is not here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bootshelf/tftp.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int bs_tftp_opcode(const uint8_t *buf, size_t len)
{
	uint16_t op;

	if (len < 2)
		return -EBADMSG;
	op = get16(buf);
	if (op < BS_TFTP_RRQ || op > BS_TFTP_OACK)
		return -EBADMSG;
	return op;
}

/*
 * Next NUL-terminated string in [*p, end).  NULL if there is no
 * terminator before end; then *p is left alone.
 */
static const char *next_str(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p;
	const uint8_t *nul = memchr(s, 0, (size_t)(end - s));

	if (!nul)
		return NULL;
	*p = nul + 1;
	return (const char *)s;
}

/*
 * Decimal number with bounds, strtonum style: digits only (no sign, no
 * spaces, no hex), at most 20 digits.  Values above max saturate to
 * max + 1 so the caller can tell "too big" from "fits".
 */
static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++, n++) {
		if (*s < '0' || *s > '9' || n >= 20)
			return -EINVAL;
		if (v <= max)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v > max ? max + 1 : v;
	return 0;
}

static void take_option(struct bs_tftp_req *r, const char *name,
			const char *val)
{
	uint64_t v;

	if (!strcasecmp(name, "blksize")) {
		if (r->opts & BS_TFTP_OPT_BLKSIZE ||
		    parse_num(val, BS_TFTP_BLKSIZE_MAX, &v) ||
		    v < BS_TFTP_BLKSIZE_MIN)
			return;
		/* RFC 2348: the server may offer a smaller size. */
		r->blksize = v > BS_TFTP_BLKSIZE_MAX ? BS_TFTP_BLKSIZE_MAX
						     : (uint32_t)v;
		r->opts |= BS_TFTP_OPT_BLKSIZE;
	} else if (!strcasecmp(name, "tsize")) {
		if (r->opts & BS_TFTP_OPT_TSIZE ||
		    parse_num(val, UINT64_MAX - 1, &v) || v == UINT64_MAX)
			return;
		r->tsize = v;
		r->opts |= BS_TFTP_OPT_TSIZE;
	} else if (!strcasecmp(name, "timeout")) {
		/* RFC 2349: the OACK must repeat the value, so no clamping. */
		if (r->opts & BS_TFTP_OPT_TIMEOUT ||
		    parse_num(val, 255, &v) || v < 1 || v > 255)
			return;
		r->timeout = (uint32_t)v;
		r->opts |= BS_TFTP_OPT_TIMEOUT;
	} else if (!strcasecmp(name, "windowsize")) {
		if (r->opts & BS_TFTP_OPT_WINDOWSIZE ||
		    parse_num(val, BS_TFTP_WINDOW_MAX, &v) || v < 1)
			return;
		r->windowsize = v > BS_TFTP_WINDOW_MAX ? BS_TFTP_WINDOW_MAX
						       : (uint32_t)v;
		r->opts |= BS_TFTP_OPT_WINDOWSIZE;
	}
	/* Anything else is unknown and ignored (RFC 2347). */
}

int bs_tftp_parse_req(const uint8_t *buf, size_t len,
		      struct bs_tftp_req *out)
{
	const uint8_t *p, *end = buf + len;
	const char *name, *mode;
	int op = bs_tftp_opcode(buf, len);

	if (op != BS_TFTP_RRQ && op != BS_TFTP_WRQ)
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	out->op = (enum bs_tftp_op)op;
	out->blksize = BS_TFTP_BLKSIZE_DEF;
	out->windowsize = 1;
	p = buf + 2;
	name = next_str(&p, end);
	if (!name || !*name)
		return -EBADMSG;
	mode = next_str(&p, end);
	if (!mode)
		return -EBADMSG;
	if (!strcasecmp(mode, "octet"))
		out->mode = BS_TFTP_OCTET;
	else if (!strcasecmp(mode, "netascii"))
		out->mode = BS_TFTP_NETASCII;
	else
		return -EPROTONOSUPPORT;
	out->filename = name;
	for (;;) {
		const char *opt = next_str(&p, end);
		const char *val = opt ? next_str(&p, end) : NULL;

		/* A dangling name or padding ends the list (see header). */
		if (!val)
			break;
		if (*opt)
			take_option(out, opt, val);
	}
	return 0;
}

int bs_tftp_parse_ack(const uint8_t *buf, size_t len, uint16_t *block)
{
	if (len < 4 || get16(buf) != BS_TFTP_ACK)
		return -EBADMSG;
	*block = get16(buf + 2);
	return 0;
}

int bs_tftp_parse_error(const uint8_t *buf, size_t len, uint16_t *code,
			const char **msg, size_t *msglen)
{
	if (len < 4 || get16(buf) != BS_TFTP_ERROR)
		return -EBADMSG;
	*code = get16(buf + 2);
	*msg = (const char *)buf + 4;
	*msglen = strnlen(*msg, len - 4);
	return 0;
}

int bs_tftp_build_data_hdr(uint8_t *buf, size_t cap, uint16_t block)
{
	if (cap < BS_TFTP_HDR)
		return -ENOSPC;
	put16(buf, BS_TFTP_DATA);
	put16(buf + 2, block);
	return BS_TFTP_HDR;
}

int bs_tftp_build_ack(uint8_t *buf, size_t cap, uint16_t block)
{
	if (cap < 4)
		return -ENOSPC;
	put16(buf, BS_TFTP_ACK);
	put16(buf + 2, block);
	return 4;
}

/* Append "name\0value\0"; returns new length or -ENOSPC. */
static int put_opt(uint8_t *buf, size_t cap, size_t at, const char *name,
		   unsigned long long v)
{
	char num[24];
	size_t nl = strlen(name);
	int vl = snprintf(num, sizeof(num), "%llu", v);

	if (at + nl + 1 + (size_t)vl + 1 > cap)
		return -ENOSPC;
	memcpy(buf + at, name, nl + 1);
	memcpy(buf + at + nl + 1, num, (size_t)vl + 1);
	return (int)(at + nl + 1 + (size_t)vl + 1);
}

int bs_tftp_build_oack(uint8_t *buf, size_t cap,
		       const struct bs_tftp_oack *o)
{
	int n = 2;

	if (cap < 2)
		return -ENOSPC;
	put16(buf, BS_TFTP_OACK);
	if (n >= 0 && o->opts & BS_TFTP_OPT_BLKSIZE)
		n = put_opt(buf, cap, (size_t)n, "blksize", o->blksize);
	if (n >= 0 && o->opts & BS_TFTP_OPT_TSIZE)
		n = put_opt(buf, cap, (size_t)n, "tsize", o->tsize);
	if (n >= 0 && o->opts & BS_TFTP_OPT_TIMEOUT)
		n = put_opt(buf, cap, (size_t)n, "timeout", o->timeout);
	if (n >= 0 && o->opts & BS_TFTP_OPT_WINDOWSIZE)
		n = put_opt(buf, cap, (size_t)n, "windowsize",
			    o->windowsize);
	return n;
}

const char *bs_tftp_errstr(uint16_t code)
{
	static const char *const msgs[] = {
		"Undefined error", "File not found", "Access violation",
		"Disk full or allocation exceeded", "Illegal TFTP operation",
		"Unknown transfer ID", "File already exists", "No such user",
		"Option negotiation failed",
	};

	return code < sizeof(msgs) / sizeof(msgs[0]) ? msgs[code]
						     : msgs[0];
}

int bs_tftp_build_error(uint8_t *buf, size_t cap, uint16_t code,
			const char *msg)
{
	size_t ml;

	if (cap < 5)
		return -ENOSPC;
	if (!msg)
		msg = bs_tftp_errstr(code);
	ml = strlen(msg);
	if (ml > cap - 5)
		ml = cap - 5;
	put16(buf, BS_TFTP_ERROR);
	put16(buf + 2, code);
	memcpy(buf + 4, msg, ml);
	buf[4 + ml] = 0;
	return (int)(5 + ml);
}

uint16_t bs_tftp_errcode(int err, const char **msg)
{
	uint16_t code;
	const char *m = NULL;

	if (err > 0)
		err = -err;
	switch (err) {
	case -ENOENT:
	case -ENOTDIR:
	case -ENAMETOOLONG:
		code = BS_TFTP_ENOTFOUND;
		break;
	case -EACCES:
	case -EPERM:
	case -EXDEV:	/* openat2 RESOLVE_BENEATH: escapes the root */
	case -ELOOP:	/* symlink refused while walking */
	case -EISDIR:
	case -EROFS:
		code = BS_TFTP_EACCESS;
		break;
	case -ENOSPC:
	case -EFBIG:
	case -EDQUOT:
		code = BS_TFTP_ENOSPACE;
		break;
	case -EBADMSG:
	case -EPROTO:
	case -EPROTONOSUPPORT:
		code = BS_TFTP_EBADOP;
		break;
	case -ESRCH:
		code = BS_TFTP_EBADID;
		break;
	case -EEXIST:
		code = BS_TFTP_EEXISTS;
		break;
	case -ECANCELED:
		code = BS_TFTP_EOPTNEG;
		break;
	case -EBUSY:
	case -EAGAIN:
	case -EMFILE:
	case -ENFILE:
		code = BS_TFTP_EUNDEF;
		m = "Server busy";
		break;
	case -EIO:
		code = BS_TFTP_EUNDEF;
		m = "Read error";
		break;
	default:
		code = BS_TFTP_EUNDEF;
		break;
	}
	if (msg)
		*msg = m ? m : bs_tftp_errstr(code);
	return code;
}

uint16_t bs_tftp_wire_block(uint64_t b, int rollover)
{
	if (b == 0)
		return 0;
	if (rollover == 1)
		return (uint16_t)((b - 1) % 65535 + 1);
	return (uint16_t)b;
}

uint64_t bs_tftp_ack_advance(uint64_t acked, uint16_t n, int rollover)
{
	if (rollover == 1) {
		uint16_t w = bs_tftp_wire_block(acked, 1);

		if (n == 0)
			return acked == 0 ? 0 : UINT64_MAX;
		if (acked == 0)
			return n;
		return (uint64_t)((n + 65535u - w) % 65535u);
	}
	return (uint16_t)(n - (uint16_t)acked);
}

size_t bs_tftp_netascii_encode(struct bs_tftp_netascii *st,
			       const uint8_t *in, size_t inlen,
			       size_t *consumed, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	/* The second half of a pair split at the previous block's end. */
	if (st->pending && o < cap) {
		out[o++] = st->pending == '\r' ? 0 : st->pending;
		st->pending = 0;
	}
	while (o < cap && i < inlen) {
		uint8_t c = in[i++];

		if (c == '\n' || c == '\r') {
			out[o++] = '\r';
			if (o < cap)
				out[o++] = c == '\n' ? '\n' : 0;
			else
				st->pending = c;
		} else {
			out[o++] = c;
		}
	}
	*consumed = i;
	return o;
}

size_t bs_tftp_netascii_decode(struct bs_tftp_netascii *st,
			       const uint8_t *in, size_t inlen, int last,
			       uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		uint8_t c = in[i];

		if (st->cr) {
			st->cr = 0;
			if (c == '\n') {
				out[o++] = '\n';
				continue;
			}
			out[o++] = '\r';
			if (c == 0)
				continue;
		}
		if (c == '\r')
			st->cr = 1;
		else
			out[o++] = c;
	}
	if (last && st->cr) {
		st->cr = 0;
		out[o++] = '\r';
	}
	return o;
}
