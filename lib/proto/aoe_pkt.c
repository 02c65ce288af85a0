/*
 * aoe_pkt.c - AoE v1 frame parsing and the answer of a read-only target.
 *
 * Pure code over buffers (see bootshelf/aoe.h): no sockets, no files, no
 * globals.  Every read of the request is checked against its length and
 * every write of the reply against the caller's capacity, so the
 * functions can be fed arbitrary bytes (tests/fuzz/fuzz_aoe.c).
 *
 * Left out: carrying out writes (a read-only target answers them with
 * ATA ABORT), remote editing of the MAC mask list (the list is the
 * administrator's: edits are answered with MError "unspecified") and
 * reservations (read gives an empty list, set is refused as a bad
 * argument).
 */
#include <errno.h>
#include <string.h>

#include <bootshelf/aoe.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int bs_aoe_parse_hdr(const uint8_t *buf, size_t len, struct bs_aoe_hdr *out)
{
	if (len < BS_AOE_HDR_LEN)
		return -EMSGSIZE;
	if (get16(buf + 12) != BS_AOE_ETHERTYPE)
		return -EPROTO;
	memcpy(out->dst, buf, 6);
	memcpy(out->src, buf + 6, 6);
	out->ver = buf[14] >> 4;
	out->flags = buf[14] & 0x0f;
	out->error = buf[15];
	out->shelf = get16(buf + 16);
	out->slot = buf[18];
	out->cmd = buf[19];
	out->tag = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 |
		   (uint32_t)buf[22] << 8 | buf[23];
	return 0;
}

int bs_aoe_parse_ata(const uint8_t *buf, size_t len, struct bs_aoe_ata *out)
{
	if (len < BS_AOE_ATA_LEN)
		return -EMSGSIZE;
	out->aflags = buf[24];
	out->feature = buf[25];
	out->scnt = buf[26];
	out->cmdstat = buf[27];
	/* LBA bytes are least significant first, unlike everything else */
	out->lba = 0;
	for (int i = 5; i >= 0; i--)
		out->lba = out->lba << 8 | buf[28 + i];
	return 0;
}

int bs_aoe_parse_cfg(const uint8_t *buf, size_t len, struct bs_aoe_cfg *out)
{
	if (len < BS_AOE_CFG_LEN)
		return -EMSGSIZE;
	out->bufcnt = get16(buf + 24);
	out->fwver = get16(buf + 26);
	out->scnt = buf[28];
	out->ver = buf[29] >> 4;
	out->ccmd = buf[29] & 0x0f;
	out->len = get16(buf + 30);
	out->str = NULL;
	/* the length field, not the frame size, says how long the string
	 * is: short frames are padded to 60 bytes on the wire */
	if (out->len > BS_AOE_CFGSTR_MAX || out->len > len - BS_AOE_CFG_LEN)
		return -EOVERFLOW;
	if (out->len)
		out->str = buf + BS_AOE_CFG_LEN;
	return 0;
}

uint64_t bs_aoe_ata_lba(const struct bs_aoe_ata *a)
{
	switch (a->cmdstat) {
	case BS_ATA_READ:
	case BS_ATA_READ_NORETRY:
	case BS_ATA_WRITE:
		return a->lba & 0x0fffffff;
	default:
		return a->lba & 0xffffffffffffULL;
	}
}

unsigned bs_aoe_mtu_sectors(unsigned mtu)
{
	unsigned hdr = BS_AOE_ATA_LEN - 14;	/* AoE + ATA headers */

	if (mtu < hdr + BS_AOE_SECTOR)
		return 0;
	mtu = (mtu - hdr) / BS_AOE_SECTOR;
	return mtu > 255 ? 255 : mtu;
}

/* ATA strings: space padded, the two bytes of each word swapped. */
static void ata_string(uint8_t *dst, const char *s, size_t n)
{
	size_t l = s ? strlen(s) : 0;

	for (size_t i = 0; i < n; i++) {
		char c = i < l ? s[i] : ' ';
		if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e)
			c = ' ';
		dst[i ^ 1] = (uint8_t)c;
	}
}

static void put_word(uint8_t *id, unsigned w, uint16_t v)
{
	id[2 * w] = (uint8_t)v;
	id[2 * w + 1] = (uint8_t)(v >> 8);
}

void bs_aoe_identify(uint8_t out[512], uint64_t sectors, const char *model,
		     const char *serial, const char *firmware)
{
	uint64_t lba28 = sectors > 0x0fffffff ? 0x0fffffff : sectors;
	uint64_t chs;
	unsigned cyl;
	uint8_t sum = 0;

	memset(out, 0, 512);
	put_word(out, 0, 0x0040);		/* fixed device */
	/* a CHS geometry of 16 heads x 63 sectors for old callers */
	chs = sectors / (16 * 63);
	cyl = chs > 16383 ? 16383 : (unsigned)chs;
	put_word(out, 1, (uint16_t)cyl);
	put_word(out, 3, 16);
	put_word(out, 6, 63);
	ata_string(out + 20, serial, 20);	/* words 10-19 */
	ata_string(out + 46, firmware, 8);	/* words 23-26 */
	ata_string(out + 54, model, 40);	/* words 27-46 */
	put_word(out, 47, 0x8000);
	put_word(out, 49, 0x0200);		/* LBA supported */
	put_word(out, 50, 0x4000);
	put_word(out, 53, 0x0001);		/* words 54-58 valid */
	put_word(out, 54, (uint16_t)cyl);
	put_word(out, 55, 16);
	put_word(out, 56, 63);
	chs = (uint64_t)cyl * 16 * 63;
	put_word(out, 57, (uint16_t)chs);
	put_word(out, 58, (uint16_t)(chs >> 16));
	put_word(out, 60, (uint16_t)lba28);
	put_word(out, 61, (uint16_t)(lba28 >> 16));
	put_word(out, 80, 0x00f0);		/* ATA/ATAPI-4..7 */
	put_word(out, 82, 0x4000);
	put_word(out, 83, 0x5400);		/* bit 10: LBA48 supported */
	put_word(out, 84, 0x4000);
	put_word(out, 85, 0x4000);
	put_word(out, 86, 0x1400);		/* bit 10: LBA48 enabled */
	put_word(out, 87, 0x4000);
	put_word(out, 93, 0x400b);
	for (unsigned i = 0; i < 4; i++)
		put_word(out, 100 + i, (uint16_t)(sectors >> (16 * i)));
	put_word(out, 106, 0x4000);		/* 512-byte sectors */
	/* integrity word: signature A5h, checksum makes the sum zero */
	out[510] = 0xa5;
	for (unsigned i = 0; i < 511; i++)
		sum = (uint8_t)(sum + out[i]);
	out[511] = (uint8_t)-sum;
}

const char *bs_aoe_strerror(int code)
{
	switch (code) {
	case BS_AOE_ERR_BADCMD: return "unrecognized command";
	case BS_AOE_ERR_BADARG: return "bad argument parameter";
	case BS_AOE_ERR_DEVUNAVAIL: return "device unavailable";
	case BS_AOE_ERR_CFGSET: return "config string present";
	case BS_AOE_ERR_BADVER: return "unsupported version";
	case BS_AOE_ERR_RESERVED: return "target is reserved";
	default: return "unknown error";
	}
}

/* ---- replies ----------------------------------------------------------- */

/* Common header of a reply: to the requester, from us, R set, version 1,
 * our real shelf.slot (never the wildcard), command and tag echoed. */
static void reply_hdr(const struct bs_aoe_target *t, const uint8_t ifmac[6],
		      const uint8_t *req, uint8_t *reply)
{
	memcpy(reply, req + 6, 6);
	memcpy(reply + 6, ifmac, 6);
	put16(reply + 12, BS_AOE_ETHERTYPE);
	reply[14] = BS_AOE_VERSION << 4 | BS_AOE_FL_RSP;
	reply[15] = 0;
	put16(reply + 16, t->shelf);
	reply[18] = t->slot;
	reply[19] = req[19];
	memcpy(reply + 20, req + 20, 4);
}

/* Zero the reply up to the Ethernet minimum; returns the frame length. */
static size_t pad(uint8_t *reply, size_t len)
{
	if (len < BS_AOE_MIN_FRAME) {
		memset(reply + len, 0, BS_AOE_MIN_FRAME - len);
		len = BS_AOE_MIN_FRAME;
	}
	return len;
}

static void verdict_reply(struct bs_aoe_action *act, uint8_t *reply,
			  size_t len)
{
	act->verdict = BS_AOE_REPLY;
	act->len = pad(reply, len);
}

/* An AoE-level error reply: the header with E set and as much of the
 * request's argument as there was, up to the ATA argument. */
static void aoe_error(const struct bs_aoe_target *t, const uint8_t ifmac[6],
		      const uint8_t *req, size_t len, uint8_t *reply,
		      int code, struct bs_aoe_action *act)
{
	size_t n = len < BS_AOE_ATA_LEN ? len : BS_AOE_ATA_LEN;

	memcpy(reply + BS_AOE_HDR_LEN, req + BS_AOE_HDR_LEN,
	       n - BS_AOE_HDR_LEN);
	reply_hdr(t, ifmac, req, reply);
	reply[14] |= BS_AOE_FL_ERR;
	reply[15] = (uint8_t)code;
	verdict_reply(act, reply, n);
}

/* An ATA reply without data: status and error registers. */
static void ata_status(uint8_t *reply, uint8_t status, uint8_t err,
		       struct bs_aoe_action *act)
{
	reply[25] = err;
	reply[27] = status;
	verdict_reply(act, reply, BS_AOE_ATA_LEN);
}

static void do_ata(struct bs_aoe_target *t, const uint8_t ifmac[6],
		   const uint8_t *req, size_t len, uint8_t *reply,
		   size_t cap, struct bs_aoe_action *act)
{
	struct bs_aoe_ata a;
	uint64_t lba;

	if (bs_aoe_parse_ata(req, len, &a) < 0) {
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	reply_hdr(t, ifmac, req, reply);
	memcpy(reply + BS_AOE_HDR_LEN, req + BS_AOE_HDR_LEN,
	       BS_AOE_ATA_LEN - BS_AOE_HDR_LEN);
	reply[34] = reply[35] = 0;
	/* Anything that would write (W flag or a write opcode) is refused
	 * with an ATA error: initiators fail the I/O at once on ATA ERR,
	 * whereas an AoE error makes Linux retransmit for minutes. */
	if (a.aflags & BS_AOE_AFL_WRITE) {
		ata_status(reply, BS_ATA_ST_DRDY | BS_ATA_ST_ERR,
			   BS_ATA_ER_ABRT, act);
		return;
	}
	switch (a.cmdstat) {
	case BS_ATA_IDENTIFY:
		/* the count is not checked: there is one page of data */
		if (!t->identify) {
			ata_status(reply, BS_ATA_ST_DRDY | BS_ATA_ST_ERR,
				   BS_ATA_ER_ABRT, act);
			return;
		}
		memcpy(reply + BS_AOE_ATA_LEN, t->identify, BS_AOE_SECTOR);
		reply[25] = 0;
		reply[26] = 0;
		reply[27] = BS_ATA_ST_DRDY;
		verdict_reply(act, reply, BS_AOE_ATA_LEN + BS_AOE_SECTOR);
		return;
	case BS_ATA_READ:
	case BS_ATA_READ_NORETRY:
	case BS_ATA_READ_EXT:
		break;
	case BS_ATA_CHECK_POWER:
		reply[26] = 0xff;		/* active */
		ata_status(reply, BS_ATA_ST_DRDY, 0, act);
		return;
	case BS_ATA_FLUSH:
	case BS_ATA_FLUSH_EXT:
		/* nothing is ever written, so nothing to flush */
		ata_status(reply, BS_ATA_ST_DRDY, 0, act);
		return;
	default:
		/* writes of every kind and all other opcodes: ABORT */
		ata_status(reply, BS_ATA_ST_DRDY | BS_ATA_ST_ERR,
			   BS_ATA_ER_ABRT, act);
		return;
	}
	if (a.scnt > t->maxscnt ||
	    BS_AOE_ATA_LEN + (size_t)a.scnt * BS_AOE_SECTOR > cap) {
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	lba = bs_aoe_ata_lba(&a);
	if (lba > t->sectors || a.scnt > t->sectors - lba) {
		ata_status(reply, BS_ATA_ST_DRDY | BS_ATA_ST_ERR,
			   BS_ATA_ER_IDNF, act);
		return;
	}
	reply[25] = 0;
	reply[26] = 0;			/* sectors remaining */
	reply[27] = BS_ATA_ST_DRDY;
	if (a.scnt == 0) {
		verdict_reply(act, reply, BS_AOE_ATA_LEN);
		return;
	}
	act->verdict = BS_AOE_READ;
	act->lba = lba;
	act->nsect = a.scnt;
	act->off = BS_AOE_ATA_LEN;
	act->len = pad(reply, BS_AOE_ATA_LEN + (size_t)a.scnt * BS_AOE_SECTOR);
}

/* Fill a Query Config reply with the target's current values. */
static size_t cfg_reply(const struct bs_aoe_target *t, uint8_t ccmd,
			uint8_t *reply, size_t cap)
{
	size_t n = t->cfglen;

	if (n > cap - BS_AOE_CFG_LEN)
		n = cap - BS_AOE_CFG_LEN;
	put16(reply + 24, t->bufcnt);
	put16(reply + 26, t->fwver);
	reply[28] = t->maxscnt;
	reply[29] = (uint8_t)(BS_AOE_VERSION << 4 | (ccmd & 0x0f));
	put16(reply + 30, (uint16_t)n);
	memcpy(reply + BS_AOE_CFG_LEN, t->cfg, n);
	return pad(reply, BS_AOE_CFG_LEN + n);
}

static void do_cfg(struct bs_aoe_target *t, const uint8_t ifmac[6],
		   const uint8_t *req, size_t len, uint8_t *reply,
		   size_t cap, struct bs_aoe_action *act)
{
	struct bs_aoe_cfg c;
	int r = bs_aoe_parse_cfg(req, len, &c);

	if (r == -EMSGSIZE) {
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	if (r < 0 && c.ccmd != BS_AOE_CCMD_READ) {
		/* a string longer than the frame or than 1024 bytes:
		 * dropped, as vblade does */
		act->verdict = BS_AOE_IGNORE;
		return;
	}
	switch (c.ccmd) {
	case BS_AOE_CCMD_READ:
		break;
	case BS_AOE_CCMD_TEST:
		if (c.len != t->cfglen || memcmp(c.str ? c.str : req,
						 t->cfg, c.len)) {
			act->verdict = BS_AOE_IGNORE;
			return;
		}
		break;
	case BS_AOE_CCMD_PREFIX:
		if (c.len > t->cfglen || memcmp(c.str ? c.str : req,
						t->cfg, c.len)) {
			act->verdict = BS_AOE_IGNORE;
			return;
		}
		break;
	case BS_AOE_CCMD_SET:
		/* only into an empty string (or the same string again) */
		if (t->cfglen &&
		    (c.len != t->cfglen ||
		     memcmp(c.str ? c.str : req, t->cfg, c.len))) {
			reply_hdr(t, ifmac, req, reply);
			act->verdict = BS_AOE_REPLY;
			act->len = cfg_reply(t, c.ccmd, reply, cap);
			reply[14] |= BS_AOE_FL_ERR;
			reply[15] = BS_AOE_ERR_CFGSET;
			return;
		}
		/* fall through */
	case BS_AOE_CCMD_FSET:
		if (c.len)
			memcpy(t->cfg, c.str, c.len);
		t->cfglen = c.len;
		break;
	default:
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	reply_hdr(t, ifmac, req, reply);
	act->verdict = BS_AOE_REPLY;
	act->len = cfg_reply(t, c.ccmd, reply, cap);
}

static void do_mask(const struct bs_aoe_target *t, const uint8_t ifmac[6],
		    const uint8_t *req, size_t len, uint8_t *reply,
		    size_t cap, struct bs_aoe_action *act)
{
	size_t n;

	if (len < 28) {
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	reply_hdr(t, ifmac, req, reply);
	reply[24] = 0;
	reply[25] = req[25];
	if (req[25] == 0) {
		/* read: the whole list */
		n = t->nmasks;
		if (n > BS_AOE_MASK_MAX)
			n = BS_AOE_MASK_MAX;
		if (28 + n * 8 > cap)
			n = (cap - 28) / 8;
		reply[26] = 0;
		reply[27] = (uint8_t)n;
		for (size_t i = 0; i < n; i++) {
			uint8_t *d = reply + 28 + i * 8;
			d[0] = 0;
			d[1] = 1;		/* as "add" directives */
			memcpy(d + 2, t->masks[i], 6);
		}
		verdict_reply(act, reply, 28 + n * 8);
		return;
	}
	/* edits are refused (MError 1, unspecified; DirCount 0): the list
	 * is set by the administrator, and a remote edit could lock every
	 * other client out */
	reply[26] = req[25] == 1 ? 1 : 2;
	reply[27] = 0;
	verdict_reply(act, reply, 28);
}

static void do_reserve(const struct bs_aoe_target *t, const uint8_t ifmac[6],
		       const uint8_t *req, size_t len, uint8_t *reply,
		       struct bs_aoe_action *act)
{
	if (len < 26 || req[24] > 2) {
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	if (req[24] != 0) {
		/* setting a reservation on a read-only export is refused */
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADARG, act);
		return;
	}
	reply_hdr(t, ifmac, req, reply);
	reply[24] = 0;
	reply[25] = 0;		/* no MACs: not reserved */
	verdict_reply(act, reply, 26);
}

static int mask_ok(const struct bs_aoe_target *t, const uint8_t *src)
{
	if (t->nmasks == 0)
		return 1;
	for (size_t i = 0; i < t->nmasks; i++)
		if (memcmp(t->masks[i], src, 6) == 0)
			return 1;
	return 0;
}

void bs_aoe_decide(struct bs_aoe_target *t, const uint8_t ifmac[6],
		   const uint8_t *req, size_t len, uint8_t *reply, size_t cap,
		   struct bs_aoe_action *act)
{
	struct bs_aoe_hdr h;

	memset(act, 0, sizeof(*act));
	act->verdict = BS_AOE_IGNORE;
	/* too short to answer (no tag) or not AoE: nothing to say */
	if (cap < BS_AOE_ATA_LEN + BS_AOE_SECTOR ||
	    bs_aoe_parse_hdr(req, len, &h) < 0)
		return;
	/* replies (ours or another target's) are never answered */
	if (h.flags & BS_AOE_FL_RSP)
		return;
	if ((h.shelf != t->shelf && h.shelf != BS_AOE_SHELF_ANY) ||
	    (h.slot != t->slot && h.slot != BS_AOE_SLOT_ANY))
		return;
	/* with a mask list, other sources are silently ignored */
	if (!mask_ok(t, h.src))
		return;
	/* a multicast source address is not a host we can answer */
	if (h.src[0] & 1)
		return;
	if (h.ver != BS_AOE_VERSION) {
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADVER, act);
		return;
	}
	switch (h.cmd) {
	case BS_AOE_CMD_ATA:
		if (t->sectors == 0) {
			aoe_error(t, ifmac, req, len, reply,
				  BS_AOE_ERR_DEVUNAVAIL, act);
			return;
		}
		do_ata(t, ifmac, req, len, reply, cap, act);
		return;
	case BS_AOE_CMD_CFG:
		do_cfg(t, ifmac, req, len, reply, cap, act);
		return;
	case BS_AOE_CMD_MASK:
		do_mask(t, ifmac, req, len, reply, cap, act);
		return;
	case BS_AOE_CMD_RESERVE:
		do_reserve(t, ifmac, req, len, reply, act);
		return;
	default:
		/* vendor-specific commands (0xf0 and up) are answered like
		 * any other unknown command: we have none */
		aoe_error(t, ifmac, req, len, reply, BS_AOE_ERR_BADCMD, act);
		return;
	}
}

size_t bs_aoe_read_failed(uint8_t *reply, size_t cap)
{
	(void)cap;
	reply[25] = BS_ATA_ER_ABRT;
	reply[26] = 0;
	reply[27] = BS_ATA_ST_DRDY | BS_ATA_ST_ERR;
	return pad(reply, BS_AOE_ATA_LEN);
}

size_t bs_aoe_announce(const struct bs_aoe_target *t, const uint8_t ifmac[6],
		       const uint8_t dst[6], uint8_t *reply, size_t cap)
{
	if (cap < BS_AOE_CFG_LEN + BS_AOE_MIN_FRAME)
		return 0;
	memcpy(reply, dst, 6);
	memcpy(reply + 6, ifmac, 6);
	put16(reply + 12, BS_AOE_ETHERTYPE);
	reply[14] = BS_AOE_VERSION << 4 | BS_AOE_FL_RSP;
	reply[15] = 0;
	put16(reply + 16, t->shelf);
	reply[18] = t->slot;
	reply[19] = BS_AOE_CMD_CFG;
	memset(reply + 20, 0, 4);
	return cfg_reply(t, BS_AOE_CCMD_READ, reply, cap);
}
