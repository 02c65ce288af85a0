/* test_aoe_pkt.c - AoE frame parsing, IDENTIFY data and target decisions,
 * driven by static vector tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <bootshelf/aoe.h>

static const uint8_t ME[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t PEER[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t STRANGER[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t MASKS[1][6] = { { 0x02, 0, 0, 0, 0, 0x02 } };

#define CAP (14 + 9000)
#define SECTORS 1000

/* One request and the answer expected from target e7.3 (1000 sectors,
 * 17 sectors per frame). */
struct dvec {
	const char *name;
	uint8_t verflags;	/* byte 14 */
	uint16_t shelf;
	uint8_t slot;
	uint8_t cmd;
	uint8_t aflags, scnt, cmdstat;
	uint64_t lba;		/* raw six bytes */
	size_t len;		/* request length; 0 = 60 */
	int masked;		/* target has a mask list with PEER only */
	int stranger;		/* request comes from STRANGER */
	/* expectations */
	enum bs_aoe_verdict verdict;
	uint8_t rflags;		/* reply byte 14 */
	uint8_t aoeerr;		/* reply byte 15 */
	uint8_t status, ataerr;	/* reply bytes 27, 25 (ATA cmd only) */
	uint64_t rlba;
	unsigned nsect;
	size_t rlen;
};

static const struct dvec dvecs[] = {
	{ "read ext", 0x10, 7, 3, 0, 0x40, 17, 0x24, 100, 0, 0, 0,
	  BS_AOE_READ, 0x18, 0, 0x40, 0, 100, 17, 36 + 17 * 512 },
	{ "read lba28 with device bits", 0x10, 7, 3, 0, 0, 2, 0x20,
	  0xe0000010ULL, 0, 0, 0,
	  BS_AOE_READ, 0x18, 0, 0x40, 0, 16, 2, 36 + 1024 },
	{ "read last sector", 0x10, 7, 3, 0, 0x40, 1, 0x24, 999, 0, 0, 0,
	  BS_AOE_READ, 0x18, 0, 0x40, 0, 999, 1, 548 },
	{ "wildcard shelf and slot", 0x10, 0xffff, 0xff, 0, 0x40, 1, 0x24,
	  0, 0, 0, 0, BS_AOE_READ, 0x18, 0, 0x40, 0, 0, 1, 548 },
	{ "read past end", 0x10, 7, 3, 0, 0x40, 2, 0x24, 999, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x41, 0x10, 0, 0, 60 },
	{ "read far past end", 0x10, 7, 3, 0, 0x40, 1, 0x24,
	  0xffffffffffffULL, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x41, 0x10, 0, 0, 60 },
	{ "too many sectors", 0x10, 7, 3, 0, 0x40, 18, 0x24, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADARG, 0, 0, 0, 0, 60 },
	{ "huge sector count", 0x10, 7, 3, 0, 0x40, 255, 0x24, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADARG, 0, 0, 0, 0, 60 },
	{ "zero sectors", 0x10, 7, 3, 0, 0x40, 0, 0x24, 5, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x40, 0, 0, 0, 60 },
	{ "write lba28", 0x10, 7, 3, 0, 0x01, 1, 0x30, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x41, 0x04, 0, 0, 60 },
	{ "write ext", 0x10, 7, 3, 0, 0x41, 1, 0x34, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x41, 0x04, 0, 0, 60 },
	{ "write opcode without W", 0x10, 7, 3, 0, 0x40, 1, 0x34, 0, 0, 0,
	  0, BS_AOE_REPLY, 0x18, 0, 0x41, 0x04, 0, 0, 60 },
	{ "W flag on a read opcode", 0x10, 7, 3, 0, 0x41, 1, 0x24, 0, 0, 0,
	  0, BS_AOE_REPLY, 0x18, 0, 0x41, 0x04, 0, 0, 60 },
	{ "dma write", 0x10, 7, 3, 0, 0x01, 1, 0xca, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x41, 0x04, 0, 0, 60 },
	{ "unknown ata opcode", 0x10, 7, 3, 0, 0, 1, 0x99, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x41, 0x04, 0, 0, 60 },
	{ "flush", 0x10, 7, 3, 0, 0, 0, 0xe7, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x40, 0, 0, 0, 60 },
	{ "identify", 0x10, 7, 3, 0, 0, 1, 0xec, 0xa0000000ULL, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0x40, 0, 0, 0, 548 },
	{ "other shelf", 0x10, 8, 3, 0, 0x40, 1, 0x24, 0, 0, 0, 0,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "other slot", 0x10, 7, 4, 0, 0x40, 1, 0x24, 0, 0, 0, 0,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "response flag", 0x18, 7, 3, 0, 0x40, 1, 0x24, 0, 0, 0, 0,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "error response flag", 0x1c, 7, 3, 1, 0, 0, 0, 0, 0, 0, 0,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "version 0", 0x00, 7, 3, 0, 0x40, 1, 0x24, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADVER, 0, 0, 0, 0, 60 },
	{ "version 2 config", 0x20, 0xffff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADVER, 0, 0, 0, 0, 60 },
	{ "unknown command", 0x10, 7, 3, 9, 0, 0, 0, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADCMD, 0, 0, 0, 0, 60 },
	{ "vendor command", 0x10, 7, 3, 0xf0, 0, 0, 0, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADCMD, 0, 0, 0, 0, 60 },
	{ "truncated ata", 0x10, 7, 3, 0, 0x40, 1, 0x24, 0, 30, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADARG, 0, 0, 0, 0, 60 },
	{ "truncated config", 0x10, 7, 3, 1, 0, 0, 0, 0, 28, 0, 0,
	  BS_AOE_REPLY, 0x1c, BS_AOE_ERR_BADARG, 0, 0, 0, 0, 60 },
	{ "truncated header", 0x10, 7, 3, 0, 0, 0, 0, 0, 23, 0, 0,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "masked out", 0x10, 7, 3, 0, 0x40, 1, 0x24, 0, 0, 1, 1,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "masked out config", 0x10, 0xffff, 0xff, 1, 0, 0, 0, 0, 0, 1, 1,
	  BS_AOE_IGNORE, 0, 0, 0, 0, 0, 0, 0 },
	{ "mask allows", 0x10, 7, 3, 0, 0x40, 1, 0x24, 0, 0, 1, 0,
	  BS_AOE_READ, 0x18, 0, 0x40, 0, 0, 1, 548 },
	{ "config read", 0x10, 0xffff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0, 0, 0, 0, 60 },
	{ "reserve read", 0x10, 7, 3, 3, 0, 0, 0, 0, 0, 0, 0,
	  BS_AOE_REPLY, 0x18, 0, 0, 0, 0, 0, 60 },
	{ "mask list read", 0x10, 7, 3, 2, 0, 0, 0, 0, 0, 1, 0,
	  BS_AOE_REPLY, 0x18, 0, 0, 0, 0, 0, 60 },
};

static uint8_t ident[512];

static void target_init(struct bs_aoe_target *t, int masked)
{
	memset(t, 0, sizeof(*t));
	t->shelf = 7;
	t->slot = 3;
	t->sectors = SECTORS;
	t->bufcnt = 64;
	t->fwver = 0x4001;
	t->maxscnt = 17;
	t->identify = ident;
	if (masked) {
		t->masks = MASKS;
		t->nmasks = 1;
	}
}

static size_t build_req(uint8_t *f, uint8_t verflags, uint16_t shelf,
			uint8_t slot, uint8_t cmd, uint32_t tag,
			const uint8_t *src)
{
	memset(f, 0, 2048);
	memcpy(f, ME, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xa2;
	f[14] = verflags;
	f[16] = (uint8_t)(shelf >> 8);
	f[17] = (uint8_t)shelf;
	f[18] = slot;
	f[19] = cmd;
	f[20] = (uint8_t)(tag >> 24);
	f[21] = (uint8_t)(tag >> 16);
	f[22] = (uint8_t)(tag >> 8);
	f[23] = (uint8_t)tag;
	return 60;
}

static void dvec_okx(const struct dvec *v, const char *file, int line)
{
	static uint8_t req[2048], reply[CAP];
	struct bs_aoe_target t;
	struct bs_aoe_action act;
	size_t len;

	target_init(&t, v->masked);
	len = build_req(req, v->verflags, v->shelf, v->slot, v->cmd,
			0x12345678, v->stranger ? STRANGER : PEER);
	req[24] = v->aflags;
	req[26] = v->scnt;
	req[27] = v->cmdstat;
	for (int i = 0; i < 6; i++)
		req[28 + i] = (uint8_t)(v->lba >> (8 * i));
	if (v->len)
		len = v->len;
	memset(reply, 0xee, sizeof(reply));
	bs_aoe_decide(&t, ME, req, len, reply, sizeof(reply), &act);
	if (act.verdict != v->verdict)
		fail_msg("%s:%d: %s: verdict %d, want %d", file, line, v->name,
			 act.verdict, v->verdict);
	if (v->verdict == BS_AOE_IGNORE)
		return;
	if (act.len != v->rlen)
		fail_msg("%s:%d: %s: len %zu, want %zu", file, line, v->name,
			 act.len, v->rlen);
	/* the reply goes back to the sender, from us, as eS.L, same tag */
	if (memcmp(reply, PEER, 6) || memcmp(reply + 6, ME, 6) ||
	    reply[12] != 0x88 || reply[13] != 0xa2 || reply[16] != 0 ||
	    reply[17] != 7 || reply[18] != 3 || reply[19] != v->cmd ||
	    memcmp(reply + 20, "\x12\x34\x56\x78", 4))
		fail_msg("%s:%d: %s: bad reply header", file, line, v->name);
	if (reply[14] != v->rflags || reply[15] != v->aoeerr)
		fail_msg("%s:%d: %s: flags %02x err %u, want %02x %u", file,
			 line, v->name, reply[14], reply[15], v->rflags,
			 v->aoeerr);
	if (v->cmd == 0 && !(v->rflags & BS_AOE_FL_ERR) &&
	    (reply[27] != v->status || reply[25] != v->ataerr))
		fail_msg("%s:%d: %s: status %02x err %02x, want %02x %02x",
			 file, line, v->name, reply[27], reply[25], v->status,
			 v->ataerr);
	if (v->verdict == BS_AOE_READ &&
	    (act.lba != v->rlba || act.nsect != v->nsect || act.off != 36))
		fail_msg("%s:%d: %s: read %u at %llu off %zu", file, line,
			 v->name, act.nsect, (unsigned long long)act.lba,
			 act.off);
	/* nothing past the reply was touched, padding is zero */
	for (size_t i = act.len; i < act.len + 64 && i < sizeof(reply); i++)
		if (reply[i] != 0xee)
			fail_msg("%s:%d: %s: wrote past the reply at %zu",
				 file, line, v->name, i);
}
#define dvec_ok(v) dvec_okx(v, __FILE__, __LINE__)

static void decide_vectors(void **state)
{
	(void)state;
	bs_aoe_identify(ident, SECTORS, "m", "s", "f");
	for (size_t i = 0; i < sizeof(dvecs) / sizeof(dvecs[0]); i++)
		dvec_ok(&dvecs[i]);
}

static void parse_hdr(void **state)
{
	static const uint8_t f[24] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa2, 0x1c, 2,
		0x12, 0x34, 0x56, 1, 0xde, 0xad, 0xbe, 0xef };
	struct bs_aoe_hdr h;
	uint8_t g[24];

	(void)state;
	assert_int_equal(bs_aoe_parse_hdr(f, 23, &h), -EMSGSIZE);
	assert_int_equal(bs_aoe_parse_hdr(f, 24, &h), 0);
	assert_int_equal(h.ver, 1);
	assert_int_equal(h.flags, 0xc);
	assert_int_equal(h.error, 2);
	assert_int_equal(h.shelf, 0x1234);
	assert_int_equal(h.slot, 0x56);
	assert_int_equal(h.cmd, 1);
	assert_int_equal(h.tag, 0xdeadbeef);
	assert_memory_equal(h.src, f + 6, 6);
	memcpy(g, f, 24);
	g[13] = 0x00;
	assert_int_equal(bs_aoe_parse_hdr(g, 24, &h), -EPROTO);
}

static void parse_ata_lba(void **state)
{
	static const struct {
		uint8_t cmd;
		uint8_t lba[6];
		uint64_t want;
	} v[] = {
		{ 0x24, { 1, 2, 3, 4, 5, 6 }, 0x060504030201ULL },
		{ 0x20, { 1, 2, 3, 0xe4, 5, 6 }, 0x04030201ULL },
		{ 0x21, { 0xff, 0xff, 0xff, 0xff, 0, 0 }, 0x0fffffffULL },
		{ 0x24, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		  0xffffffffffffULL },
	};
	uint8_t f[36] = { 0 };
	struct bs_aoe_ata a;

	(void)state;
	assert_int_equal(bs_aoe_parse_ata(f, 35, &a), -EMSGSIZE);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		f[24] = 0x40;
		f[25] = 7;
		f[26] = 9;
		f[27] = v[i].cmd;
		memcpy(f + 28, v[i].lba, 6);
		assert_int_equal(bs_aoe_parse_ata(f, 36, &a), 0);
		assert_int_equal(a.aflags, 0x40);
		assert_int_equal(a.feature, 7);
		assert_int_equal(a.scnt, 9);
		assert_true(bs_aoe_ata_lba(&a) == v[i].want);
	}
}

static void parse_cfg(void **state)
{
	uint8_t f[100] = { 0 };
	struct bs_aoe_cfg c;

	(void)state;
	assert_int_equal(bs_aoe_parse_cfg(f, 31, &c), -EMSGSIZE);
	f[24] = 0;
	f[25] = 16;
	f[26] = 0x40;
	f[27] = 0x19;
	f[28] = 17;
	f[29] = 0x13;
	f[31] = 5;
	memcpy(f + 32, "hello", 5);
	assert_int_equal(bs_aoe_parse_cfg(f, 60, &c), 0);
	assert_int_equal(c.bufcnt, 16);
	assert_int_equal(c.fwver, 0x4019);
	assert_int_equal(c.scnt, 17);
	assert_int_equal(c.ver, 1);
	assert_int_equal(c.ccmd, 3);
	assert_int_equal(c.len, 5);
	assert_memory_equal(c.str, "hello", 5);
	/* string longer than the frame */
	assert_int_equal(bs_aoe_parse_cfg(f, 36, &c), -EOVERFLOW);
	assert_null(c.str);
	/* longer than 1024 */
	f[30] = 0x04;
	f[31] = 0x01;
	assert_int_equal(bs_aoe_parse_cfg(f, 100, &c), -EOVERFLOW);
}

static void mtu_sectors(void **state)
{
	static const unsigned v[][2] = {
		{ 1500, 2 }, { 9000, 17 }, { 534, 1 }, { 533, 0 },
		{ 0, 0 }, { 65535, 127 }, { 200000, 255 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(bs_aoe_mtu_sectors(v[i][0]), v[i][1]);
}

static unsigned word(const uint8_t *id, unsigned w)
{
	return id[2 * w] | id[2 * w + 1] << 8;
}

static void identify(void **state)
{
	static const struct {
		uint64_t sectors;
		uint32_t lba28;
	} v[] = {
		{ 0, 0 }, { 8192, 8192 }, { 0x0fffffff, 0x0fffffff },
		{ 0x10000000, 0x0fffffff }, { 0x123456789aULL, 0x0fffffff },
	};
	uint8_t id[512];
	uint8_t sum;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		bs_aoe_identify(id, v[i].sectors, "bootshelf", "7.3", "1.0");
		assert_int_equal(word(id, 60) | word(id, 61) << 16,
				 v[i].lba28);
		uint64_t s48 = 0;
		for (int w = 3; w >= 0; w--)
			s48 = s48 << 16 | word(id, 100 + (unsigned)w);
		assert_true(s48 == v[i].sectors);
		assert_true(word(id, 83) & 0x400);
		assert_true(word(id, 86) & 0x400);
		assert_int_equal(word(id, 49) & 0x200, 0x200);
		/* byte-swapped strings: "bootshelf" reads "obtohsle f" */
		assert_memory_equal(id + 54, "obtohsle f ", 11);
		assert_memory_equal(id + 20, ".7 3", 4);
		assert_memory_equal(id + 46, ".1 0 ", 5);
		sum = 0;
		for (int b = 0; b < 512; b++)
			sum = (uint8_t)(sum + id[b]);
		assert_int_equal(sum, 0);
		assert_int_equal(id[510], 0xa5);
	}
}

/* Query Config subcommands: a sequence against one target, each step
 * with the expected answer and the string held afterwards. */
static void config_strings(void **state)
{
	static const struct {
		uint8_t ccmd;
		const char *str;
		enum bs_aoe_verdict verdict;
		uint8_t err;
		const char *after;
	} v[] = {
		{ 0, "", BS_AOE_REPLY, 0, "" },
		{ 1, "abc", BS_AOE_IGNORE, 0, "" },	/* test: differs */
		{ 3, "abc", BS_AOE_REPLY, 0, "abc" },	/* set */
		{ 3, "abc", BS_AOE_REPLY, 0, "abc" },	/* same again */
		{ 3, "xyz", BS_AOE_REPLY, BS_AOE_ERR_CFGSET, "abc" },
		{ 1, "abc", BS_AOE_REPLY, 0, "abc" },	/* test: equal */
		{ 1, "ab", BS_AOE_IGNORE, 0, "abc" },
		{ 2, "ab", BS_AOE_REPLY, 0, "abc" },	/* prefix */
		{ 2, "abcd", BS_AOE_IGNORE, 0, "abc" },
		{ 2, "", BS_AOE_REPLY, 0, "abc" },
		{ 4, "xyz", BS_AOE_REPLY, 0, "xyz" },	/* force set */
		{ 0, "ignored", BS_AOE_REPLY, 0, "xyz" },
		{ 4, "", BS_AOE_REPLY, 0, "" },
		{ 5, "", BS_AOE_REPLY, BS_AOE_ERR_BADARG, "" },
		{ 15, "a", BS_AOE_REPLY, BS_AOE_ERR_BADARG, "" },
	};
	static uint8_t req[2048], reply[CAP];
	struct bs_aoe_target t;
	struct bs_aoe_action act;

	(void)state;
	target_init(&t, 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].str);
		size_t len = build_req(req, 0x10, 0xffff, 0xff, 1, (uint32_t)i,
				       PEER);
		req[29] = (uint8_t)(0x10 | v[i].ccmd);
		req[31] = (uint8_t)n;
		memcpy(req + 32, v[i].str, n);
		if (32 + n > len)
			len = 32 + n;
		bs_aoe_decide(&t, ME, req, len, reply, sizeof(reply), &act);
		if (act.verdict != v[i].verdict)
			fail_msg("step %zu: verdict %d", i, act.verdict);
		if (act.verdict == BS_AOE_REPLY) {
			assert_int_equal(reply[15], v[i].err);
			assert_int_equal(reply[14],
					 v[i].err ? 0x1c : 0x18);
		}
		if (act.verdict == BS_AOE_REPLY && !v[i].err) {
			assert_int_equal(reply[24] << 8 | reply[25], 64);
			assert_int_equal(reply[26] << 8 | reply[27], 0x4001);
			assert_int_equal(reply[28], 17);
			assert_int_equal(reply[29], 0x10 | v[i].ccmd);
			assert_int_equal(reply[30] << 8 | reply[31],
					 strlen(v[i].after));
			assert_memory_equal(reply + 32, v[i].after,
					    strlen(v[i].after));
		}
		assert_int_equal(t.cfglen, strlen(v[i].after));
		assert_memory_equal(t.cfg, v[i].after, t.cfglen);
	}
	/* a string that runs past the frame is dropped */
	build_req(req, 0x10, 7, 3, 1, 1, PEER);
	req[29] = 0x14;
	req[30] = 0x01;
	bs_aoe_decide(&t, ME, req, 60, reply, sizeof(reply), &act);
	assert_int_equal(act.verdict, BS_AOE_IGNORE);
	assert_int_equal(t.cfglen, 0);
}

/* MAC Mask List edits and reservations are refused; reads answer. */
static void mask_and_reserve(void **state)
{
	static uint8_t req[2048], reply[CAP];
	struct bs_aoe_target t;
	struct bs_aoe_action act;

	(void)state;
	target_init(&t, 1);
	build_req(req, 0x10, 7, 3, 2, 1, PEER);
	bs_aoe_decide(&t, ME, req, 60, reply, sizeof(reply), &act);
	assert_int_equal(act.verdict, BS_AOE_REPLY);
	assert_int_equal(reply[26], 0);		/* MError */
	assert_int_equal(reply[27], 1);		/* DirCount */
	assert_memory_equal(reply + 30, MASKS[0], 6);
	req[25] = 1;				/* edit: add STRANGER */
	req[27] = 1;
	req[29] = 1;
	memcpy(req + 30, STRANGER, 6);
	bs_aoe_decide(&t, ME, req, 60, reply, sizeof(reply), &act);
	assert_int_equal(act.verdict, BS_AOE_REPLY);
	assert_int_equal(reply[26], 1);		/* unspecified */
	assert_int_equal(t.nmasks, 1);
	build_req(req, 0x10, 7, 3, 3, 1, PEER);
	bs_aoe_decide(&t, ME, req, 60, reply, sizeof(reply), &act);
	assert_int_equal(reply[14], 0x18);
	assert_int_equal(reply[25], 0);		/* no reservation */
	req[24] = 1;				/* set */
	bs_aoe_decide(&t, ME, req, 60, reply, sizeof(reply), &act);
	assert_int_equal(reply[14], 0x1c);
	assert_int_equal(reply[15], BS_AOE_ERR_BADARG);
}

static void announce_and_failed_read(void **state)
{
	static uint8_t reply[CAP];
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff };
	struct bs_aoe_target t;
	size_t n;

	(void)state;
	target_init(&t, 0);
	memcpy(t.cfg, "x", 1);
	t.cfglen = 1;
	n = bs_aoe_announce(&t, ME, bcast, reply, sizeof(reply));
	assert_int_equal(n, 60);
	assert_memory_equal(reply, bcast, 6);
	assert_int_equal(reply[14], 0x18);
	assert_int_equal(reply[19], 1);
	assert_memory_equal(reply + 20, "\0\0\0\0", 4);
	assert_int_equal(reply[28], 17);
	assert_int_equal(reply[31], 1);
	assert_int_equal(bs_aoe_announce(&t, ME, bcast, reply, 50), 0);
	memset(reply, 0x55, 100);
	n = bs_aoe_read_failed(reply, sizeof(reply));
	assert_int_equal(n, 60);
	assert_int_equal(reply[27], 0x41);
	assert_int_equal(reply[25], 0x04);
	assert_int_equal(reply[59], 0);
	assert_string_equal(bs_aoe_strerror(1), "unrecognized command");
}

/* A small reply buffer: reads that would not fit are a bad argument,
 * and a buffer below one IDENTIFY reply answers nothing. */
static void small_capacity(void **state)
{
	static uint8_t req[2048], reply[1600];
	struct bs_aoe_target t;
	struct bs_aoe_action act;

	(void)state;
	target_init(&t, 0);
	build_req(req, 0x10, 7, 3, 0, 1, PEER);
	req[24] = 0x40;
	req[26] = 3;
	req[27] = 0x24;
	bs_aoe_decide(&t, ME, req, 60, reply, 14 + 1500, &act);
	assert_int_equal(act.verdict, BS_AOE_REPLY);
	assert_int_equal(reply[15], BS_AOE_ERR_BADARG);
	req[26] = 2;
	bs_aoe_decide(&t, ME, req, 60, reply, 14 + 1500, &act);
	assert_int_equal(act.verdict, BS_AOE_READ);
	bs_aoe_decide(&t, ME, req, 60, reply, 500, &act);
	assert_int_equal(act.verdict, BS_AOE_IGNORE);
	/* capacity 0: device unavailable */
	t.sectors = 0;
	bs_aoe_decide(&t, ME, req, 60, reply, sizeof(reply), &act);
	assert_int_equal(act.verdict, BS_AOE_REPLY);
	assert_int_equal(reply[15], BS_AOE_ERR_DEVUNAVAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_hdr),
		cmocka_unit_test(parse_ata_lba),
		cmocka_unit_test(parse_cfg),
		cmocka_unit_test(mtu_sectors),
		cmocka_unit_test(identify),
		cmocka_unit_test(decide_vectors),
		cmocka_unit_test(config_strings),
		cmocka_unit_test(mask_and_reserve),
		cmocka_unit_test(announce_and_failed_read),
		cmocka_unit_test(small_capacity),
	};
	return cmocka_run_group_tests_name("aoe_pkt", tests, NULL, NULL);
}
