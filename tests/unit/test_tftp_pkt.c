/*
 * test_tftp_pkt.c - TFTP request/ACK/ERROR parsing, OACK/ERROR/DATA
 * building, the errno mapping and netascii conversion, from vector
 * tables.  A failing vector is reported with its table line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <bootshelf/tftp.h>

/* Packets are written as C strings with explicit \0; len is explicit. */
#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1

struct req_vec {
	int line;
	const uint8_t *pkt;
	size_t len;
	int ret;
	int op;
	const char *file;
	int mode;
	unsigned opts;
	uint32_t blksize;
	uint64_t tsize;
	uint32_t timeout;
	uint32_t windowsize;
};

#define R(pkt, ret, op, file, mode, opts, bs, ts, to, ws) \
	{ __LINE__, PKT(pkt), ret, op, file, mode, opts, bs, ts, to, ws }
#define OCT BS_TFTP_OCTET
#define ASC BS_TFTP_NETASCII
#define B BS_TFTP_OPT_BLKSIZE
#define T BS_TFTP_OPT_TSIZE
#define TO BS_TFTP_OPT_TIMEOUT
#define W BS_TFTP_OPT_WINDOWSIZE

static const struct req_vec req_vecs[] = {
	R("\0\1a\0octet\0", 0, 1, "a", OCT, 0, 512, 0, 0, 1),
	R("\0\2dir/f\0NetASCII\0", 0, 2, "dir/f", ASC, 0, 512, 0, 0, 1),
	R("\0\1f\0OCTET\0blksize\0001468\0tsize\0000\0", 0, 1, "f", OCT,
	  B | T, 1468, 0, 0, 1),
	R("\0\1f\0octet\0BLKSIZE\08\0", 0, 1, "f", OCT, B, 8, 0, 0, 1),
	/* out of range: too small dropped, too big clamped */
	R("\0\1f\0octet\0blksize\07\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0blksize\00070000\0", 0, 1, "f", OCT, B, 65464, 0,
	  0, 1),
	R("\0\1f\0octet\0blksize\0099999999999999999999\0", 0, 1, "f", OCT,
	  B, 65464, 0, 0, 1),
	R("\0\1f\0octet\0blksize\0-1\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0blksize\0 512\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0blksize\0\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0blksize\0x\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0timeout\0001\0", 0, 1, "f", OCT, TO, 512, 0, 1, 1),
	R("\0\1f\0octet\0timeout\000255\0", 0, 1, "f", OCT, TO, 512, 0, 255,
	  1),
	R("\0\1f\0octet\0timeout\0000\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0timeout\000256\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0windowsize\00016\0", 0, 1, "f", OCT, W, 512, 0, 0,
	  16),
	R("\0\1f\0octet\0windowsize\0000\0", 0, 1, "f", OCT, 0, 512, 0, 0,
	  1),
	R("\0\1f\0octet\0windowsize\00099999\0", 0, 1, "f", OCT, W, 512, 0,
	  0, 65535),
	R("\0\1f\0octet\0tsize\00018446744073709551614\0", 0, 1, "f", OCT,
	  T, 512, UINT64_MAX - 1, 0, 1),
	R("\0\1f\0octet\0tsize\00018446744073709551615\0", 0, 1, "f", OCT,
	  0, 512, 0, 0, 1),
	/* first of a repeated option wins, unknown ones are ignored */
	R("\0\1f\0octet\0blksize\0001024\0blksize\0002048\0", 0, 1, "f",
	  OCT, B, 1024, 0, 0, 1),
	R("\0\1f\0octet\0multicast\0\0rollover\0000\0tsize\0000\0", 0, 1,
	  "f", OCT, T, 512, 0, 0, 1),
	/* tolerated: dangling option name, padding, unterminated tail */
	R("\0\1f\0octet\0blksize\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0\0\0\0\0", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	R("\0\1f\0octet\0tsize\0000\0junk", 0, 1, "f", OCT, T, 512, 0, 0, 1),
	R("\0\1f\0octet\0blksize\0001428", 0, 1, "f", OCT, 0, 512, 0, 0, 1),
	/* malformed */
	R("", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1f", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1f\0", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1f\0octet", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1\0octet\0", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1f\0mail\0", -EPROTONOSUPPORT, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\1f\0\0", -EPROTONOSUPPORT, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\3f\0octet\0", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\0\7f\0octet\0", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
	R("\1\1f\0octet\0", -EBADMSG, 0, NULL, 0, 0, 0, 0, 0, 0),
};

static void req_okx(const struct req_vec *v)
{
	struct bs_tftp_req r;
	int ret = bs_tftp_parse_req(v->pkt, v->len, &r);

	if (ret != v->ret)
		fail_msg("line %d: ret %d, want %d", v->line, ret, v->ret);
	if (ret)
		return;
	if ((int)r.op != v->op || strcmp(r.filename, v->file) ||
	    (int)r.mode != v->mode || r.opts != v->opts ||
	    r.blksize != v->blksize || r.windowsize != v->windowsize ||
	    ((v->opts & T) && r.tsize != v->tsize) ||
	    ((v->opts & TO) && r.timeout != v->timeout))
		fail_msg("line %d: op %d file %s mode %d opts %x bs %u ws %u "
			 "ts %llu to %u", v->line, r.op, r.filename, r.mode,
			 r.opts, r.blksize, r.windowsize,
			 (unsigned long long)r.tsize, r.timeout);
}

static void parse_req(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(req_vecs) / sizeof(req_vecs[0]); i++)
		req_okx(&req_vecs[i]);
}

static void parse_ack_error(void **state)
{
	uint16_t blk = 0, code = 0;
	const char *msg;
	size_t ml;

	(void)state;
	assert_int_equal(bs_tftp_parse_ack(PKT("\0\4\1\2"), &blk), 0);
	assert_int_equal(blk, 0x102);
	assert_int_equal(bs_tftp_parse_ack(PKT("\0\4\xff\xff" "xx"), &blk),
			 0);
	assert_int_equal(blk, 65535);
	assert_int_equal(bs_tftp_parse_ack(PKT("\0\4\1"), &blk), -EBADMSG);
	assert_int_equal(bs_tftp_parse_ack(PKT("\0\5\0\1"), &blk), -EBADMSG);
	assert_int_equal(bs_tftp_parse_error(PKT("\0\5\0\1nope\0"), &code,
					     &msg, &ml), 0);
	assert_int_equal(code, 1);
	assert_int_equal(ml, 4);
	assert_memory_equal(msg, "nope", 4);
	/* missing terminator tolerated, length bounded by the packet */
	assert_int_equal(bs_tftp_parse_error(PKT("\0\5\0\10ab"), &code,
					     &msg, &ml), 0);
	assert_int_equal(code, 8);
	assert_int_equal(ml, 2);
	assert_int_equal(bs_tftp_parse_error(PKT("\0\5\0"), &code, &msg,
					     &ml), -EBADMSG);
	assert_int_equal(bs_tftp_opcode(PKT("\0\6")), BS_TFTP_OACK);
	assert_int_equal(bs_tftp_opcode(PKT("\0\0")), -EBADMSG);
	assert_int_equal(bs_tftp_opcode(PKT("\0")), -EBADMSG);
}

static void build(void **state)
{
	uint8_t buf[64];
	struct bs_tftp_oack o = { .opts = B | T | TO | W, .blksize = 1468,
				  .tsize = 123456789, .timeout = 3,
				  .windowsize = 16 };
	static const char want[] = "\0\6blksize\0001468\0tsize\000123456789\0"
				   "timeout\0003\0windowsize\00016\0";
	int n;

	(void)state;
	n = bs_tftp_build_oack(buf, sizeof(buf), &o);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
	assert_int_equal(bs_tftp_build_oack(buf, 20, &o), -ENOSPC);
	o.opts = T;
	o.tsize = 0;
	assert_int_equal(bs_tftp_build_oack(buf, sizeof(buf), &o), 10);
	assert_memory_equal(buf, "\0\6tsize\0000\0", 10);

	assert_int_equal(bs_tftp_build_data_hdr(buf, 4, 0xabcd), 4);
	assert_memory_equal(buf, "\0\3\xab\xcd", 4);
	assert_int_equal(bs_tftp_build_data_hdr(buf, 3, 1), -ENOSPC);
	assert_int_equal(bs_tftp_build_ack(buf, 4, 7), 4);
	assert_memory_equal(buf, "\0\4\0\7", 4);

	n = bs_tftp_build_error(buf, sizeof(buf), 1, NULL);
	assert_int_equal(n, 19);
	assert_memory_equal(buf, "\0\5\0\1File not found\0", 19);
	n = bs_tftp_build_error(buf, 8, 0, "Server busy");
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "\0\5\0\0Ser\0", 8);
	assert_int_equal(bs_tftp_build_error(buf, 4, 0, "x"), -ENOSPC);
}

static const struct { int line; int err; uint16_t code; const char *msg; }
errmap[] = {
	{ __LINE__, -ENOENT, 1, "File not found" },
	{ __LINE__, ENOENT, 1, "File not found" },
	{ __LINE__, -EACCES, 2, "Access violation" },
	{ __LINE__, -EXDEV, 2, "Access violation" },
	{ __LINE__, -ELOOP, 2, "Access violation" },
	{ __LINE__, -EISDIR, 2, "Access violation" },
	{ __LINE__, -ENOSPC, 3, "Disk full or allocation exceeded" },
	{ __LINE__, -EBADMSG, 4, "Illegal TFTP operation" },
	{ __LINE__, -ESRCH, 5, "Unknown transfer ID" },
	{ __LINE__, -EEXIST, 6, "File already exists" },
	{ __LINE__, -ECANCELED, 8, "Option negotiation failed" },
	{ __LINE__, -EBUSY, 0, "Server busy" },
	{ __LINE__, -EIO, 0, "Read error" },
	{ __LINE__, -ENOMEM, 0, "Undefined error" },
};

static void errcode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errmap) / sizeof(errmap[0]); i++) {
		const char *m = NULL;
		uint16_t c = bs_tftp_errcode(errmap[i].err, &m);

		if (c != errmap[i].code || strcmp(m, errmap[i].msg))
			fail_msg("line %d: code %u msg %s", errmap[i].line, c,
				 m);
	}
	assert_string_equal(bs_tftp_errstr(99), "Undefined error");
}

static const struct { int line; uint64_t b; int ro; uint16_t wire; }
wire_vecs[] = {
	{ __LINE__, 0, 0, 0 },
	{ __LINE__, 1, 0, 1 },
	{ __LINE__, 65535, 0, 65535 },
	{ __LINE__, 65536, 0, 0 },
	{ __LINE__, 65537, 0, 1 },
	{ __LINE__, 131072, 0, 0 },
	{ __LINE__, 0, 1, 0 },
	{ __LINE__, 65535, 1, 65535 },
	{ __LINE__, 65536, 1, 1 },
	{ __LINE__, 131070, 1, 65535 },
	{ __LINE__, 131071, 1, 1 },
};

static const struct { int line; uint64_t acked; uint16_t n; int ro;
		      uint64_t adv; } ack_vecs[] = {
	{ __LINE__, 0, 0, 0, 0 },		/* duplicate ACK of OACK */
	{ __LINE__, 0, 1, 0, 1 },
	{ __LINE__, 0, 16, 0, 16 },
	{ __LINE__, 10, 10, 0, 0 },		/* duplicate */
	{ __LINE__, 10, 9, 0, 65535 },		/* old: caller rejects */
	{ __LINE__, 65530, 4, 0, 10 },	/* across the wrap to 0 */
	{ __LINE__, 65535, 0, 0, 1 },
	{ __LINE__, 65536, 0, 0, 0 },
	{ __LINE__, 0, 0, 1, 0 },
	{ __LINE__, 5, 0, 1, UINT64_MAX },
	{ __LINE__, 0, 7, 1, 7 },
	{ __LINE__, 65530, 4, 1, 9 },	/* 65535 is followed by 1 */
	{ __LINE__, 65535, 1, 1, 1 },
	{ __LINE__, 65536, 1, 1, 0 },
	{ __LINE__, 65536, 2, 1, 1 },
};

static void block_numbers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(wire_vecs) / sizeof(wire_vecs[0]); i++)
		if (bs_tftp_wire_block(wire_vecs[i].b, wire_vecs[i].ro) !=
		    wire_vecs[i].wire)
			fail_msg("line %d", wire_vecs[i].line);
	for (size_t i = 0; i < sizeof(ack_vecs) / sizeof(ack_vecs[0]); i++) {
		uint64_t a = bs_tftp_ack_advance(ack_vecs[i].acked,
						 ack_vecs[i].n,
						 ack_vecs[i].ro);
		if (a != ack_vecs[i].adv)
			fail_msg("line %d: %llu", ack_vecs[i].line,
				 (unsigned long long)a);
	}
}

/* Encode in, cut into blocks of blk bytes, decode, compare. */
static const struct { int line; const char *in; const char *wire;
		      size_t blk; } na_vecs[] = {
	{ __LINE__, "abc", "abc", 512 },
	{ __LINE__, "a\nb\n", "a\r\nb\r\n", 512 },
	{ __LINE__, "a\rb", "a\r\0b", 512 },
	{ __LINE__, "\n\n\r\r", "\r\n\r\n\r\0\r\0", 1 },
	{ __LINE__, "x\ny\rz\n", "x\r\ny\r\0z\r\n", 2 },
	{ __LINE__, "x\ny\rz\n", "x\r\ny\r\0z\r\n", 3 },
	{ __LINE__, "", "", 4 },
};

static void netascii(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(na_vecs) / sizeof(na_vecs[0]); i++) {
		struct bs_tftp_netascii enc = { 0 }, dec = { 0 };
		const char *in = na_vecs[i].in;
		size_t inlen = strlen(in), wl = 0, dl = 0, pos = 0;
		size_t wantl = strlen(in);
		uint8_t wire[64], blk[64], back[128];

		for (size_t k = 0; in[k]; k++)
			wantl += in[k] == '\n' || in[k] == '\r';
		/* blocks of exactly blk bytes until a short one */
		for (;;) {
			size_t used, n;

			n = bs_tftp_netascii_encode(&enc,
				(const uint8_t *)in + pos, inlen - pos, &used,
				blk, na_vecs[i].blk);
			pos += used;
			memcpy(wire + wl, blk, n);
			wl += n;
			dl += bs_tftp_netascii_decode(&dec, blk, n,
				n < na_vecs[i].blk, back + dl);
			if (n < na_vecs[i].blk)
				break;
		}
		if (wl != wantl || memcmp(wire, na_vecs[i].wire, wl) ||
		    dl != inlen || memcmp(back, in, dl))
			fail_msg("line %d: wire %zu/%zu back %zu/%zu",
				 na_vecs[i].line, wl, wantl, dl, inlen);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_req),
		cmocka_unit_test(parse_ack_error),
		cmocka_unit_test(build),
		cmocka_unit_test(errcode),
		cmocka_unit_test(netascii),
		cmocka_unit_test(block_numbers),
	};
	return cmocka_run_group_tests_name("tftp_pkt", tests, NULL, NULL);
}
