/*
 * aoe.h - ATA over Ethernet (AoE version 1) frame handling for a read-only
 * target.
 *
 * Pure functions over Ethernet frames: parsing the AoE common header, the
 * ATA and Query Config arguments, building ATA IDENTIFY data, and deciding
 * what a target answers to one request.  Nothing here opens a socket,
 * reads a file or keeps global state; the daemon does the I/O the
 * decision asks for.  Writes are never carried out: a read-only target
 * answers them with ATA ABORT.
 *
 * Left out: the initiator side beyond what the unit tests need, and
 * Reserve/Release enforcement (a read-only export has nothing to
 * protect; the command is answered, never enforced).
 */
#ifndef BOOTSHELF_AOE_H
#define BOOTSHELF_AOE_H

#include <stddef.h>
#include <stdint.h>

#define BS_AOE_ETHERTYPE	0x88a2
#define BS_AOE_VERSION		1
#define BS_AOE_HDR_LEN		24	/* Ethernet + AoE header */
#define BS_AOE_ATA_LEN		36	/* ... + ATA argument */
#define BS_AOE_CFG_LEN		32	/* ... + Query Config arg */
#define BS_AOE_CFGSTR_MAX	1024
#define BS_AOE_MIN_FRAME	60	/* Ethernet minimum without FCS */
#define BS_AOE_MASK_MAX		32
#define BS_AOE_SECTOR		512
#define BS_AOE_SHELF_ANY	0xffff
#define BS_AOE_SLOT_ANY		0xff

/* Flags: the low nibble of byte 14. */
#define BS_AOE_FL_RSP		0x08
#define BS_AOE_FL_ERR		0x04

enum bs_aoe_cmd {
	BS_AOE_CMD_ATA = 0,
	BS_AOE_CMD_CFG = 1,
	BS_AOE_CMD_MASK = 2,
	BS_AOE_CMD_RESERVE = 3,
};

/* AoE error codes, sent only with BS_AOE_FL_ERR. */
enum bs_aoe_error {
	BS_AOE_ERR_BADCMD = 1,		/* unrecognized command code */
	BS_AOE_ERR_BADARG = 2,		/* bad argument parameter */
	BS_AOE_ERR_DEVUNAVAIL = 3,	/* device unavailable */
	BS_AOE_ERR_CFGSET = 4,		/* config string present */
	BS_AOE_ERR_BADVER = 5,		/* unsupported version */
	BS_AOE_ERR_RESERVED = 6,	/* target is reserved */
};

/* Query Config subcommands (CCmd). */
enum bs_aoe_ccmd {
	BS_AOE_CCMD_READ = 0,
	BS_AOE_CCMD_TEST = 1,
	BS_AOE_CCMD_PREFIX = 2,
	BS_AOE_CCMD_SET = 3,
	BS_AOE_CCMD_FSET = 4,
};

/* ATA argument flags. */
#define BS_AOE_AFL_EXT		0x40	/* LBA48 */
#define BS_AOE_AFL_DEV		0x10
#define BS_AOE_AFL_ASYNC	0x02
#define BS_AOE_AFL_WRITE	0x01

/* ATA opcodes, status and error bits used here. */
#define BS_ATA_READ		0x20
#define BS_ATA_READ_NORETRY	0x21
#define BS_ATA_READ_EXT		0x24
#define BS_ATA_WRITE		0x30
#define BS_ATA_WRITE_EXT	0x34
#define BS_ATA_CHECK_POWER	0xe5
#define BS_ATA_FLUSH		0xe7
#define BS_ATA_FLUSH_EXT	0xea
#define BS_ATA_IDENTIFY		0xec
#define BS_ATA_ST_DRDY		0x40
#define BS_ATA_ST_ERR		0x01
#define BS_ATA_ER_ABRT		0x04
#define BS_ATA_ER_IDNF		0x10

/* The common header, host byte order. */
struct bs_aoe_hdr {
	uint8_t dst[6], src[6];
	uint8_t ver;		/* high nibble of byte 14 */
	uint8_t flags;		/* low nibble of byte 14 */
	uint8_t error;
	uint16_t shelf;
	uint8_t slot;
	uint8_t cmd;
	uint32_t tag;
};

/* The ATA argument (bytes 24..35). */
struct bs_aoe_ata {
	uint8_t aflags, feature, scnt, cmdstat;
	uint64_t lba;		/* the six LBA bytes as sent, 48 bits */
};

/* The Query Config argument (bytes 24..31) and string. */
struct bs_aoe_cfg {
	uint16_t bufcnt, fwver;
	uint8_t scnt;
	uint8_t ver;		/* high nibble of byte 29 */
	uint8_t ccmd;		/* low nibble of byte 29 */
	uint16_t len;		/* config string length as sent */
	const uint8_t *str;	/* borrowed from the frame; NULL if len 0 */
};

/**
 * Parse the Ethernet + AoE common header.
 * @v buf, len  the frame from the destination MAC on
 * @v out       filled on success
 * @ret 0, -EMSGSIZE if shorter than 24 bytes, -EPROTO if the EtherType
 *      is not AoE.  Version and flags are reported, not judged.
 */
int bs_aoe_parse_hdr(const uint8_t *buf, size_t len, struct bs_aoe_hdr *out);

/* Parse the ATA argument; 0 or -EMSGSIZE if the frame is too short. */
int bs_aoe_parse_ata(const uint8_t *buf, size_t len, struct bs_aoe_ata *out);

/* Parse the Query Config argument; 0, -EMSGSIZE if the frame is too
 * short for the argument, -EOVERFLOW if the string length is above 1024
 * or runs past the frame (out is still filled, str is NULL). */
int bs_aoe_parse_cfg(const uint8_t *buf, size_t len, struct bs_aoe_cfg *out);

/**
 * The LBA an ATA request addresses: 28 bits for READ/WRITE SECTORS
 * (initiators put the device bits 0xE0 in the top of lba3), 48 bits for
 * the EXT opcodes.
 */
uint64_t bs_aoe_ata_lba(const struct bs_aoe_ata *a);

/**
 * Sectors of data one frame can carry at a given MTU (the Ethernet
 * payload size), at most 255 because the count field has 8 bits.
 */
unsigned bs_aoe_mtu_sectors(unsigned mtu);

/**
 * Fill 512 bytes of ATA IDENTIFY DEVICE data.
 * @v out      caller buffer of 512 bytes, little-endian words
 * @v sectors  capacity in 512-byte sectors (words 60-61 get at most
 *             0x0fffffff, words 100-103 the full 48-bit value)
 * @v model, serial, firmware  ASCII, truncated to 40, 20 and 8 chars
 */
void bs_aoe_identify(uint8_t out[512], uint64_t sectors, const char *model,
		     const char *serial, const char *firmware);

/* What one target is, as the decision needs it.  The config string and
 * the mask list belong to the caller; the decision may rewrite the
 * config string (CCmd set / force set). */
struct bs_aoe_target {
	uint16_t shelf;
	uint8_t slot;
	uint64_t sectors;		/* capacity; 0 = unavailable */
	uint16_t bufcnt;		/* advertised outstanding requests */
	uint16_t fwver;
	uint8_t maxscnt;		/* sectors per frame, 1..255 */
	const uint8_t (*masks)[6];	/* allowed source MACs; borrowed */
	size_t nmasks;			/* 0 = everyone */
	uint8_t cfg[BS_AOE_CFGSTR_MAX];	/* config string */
	uint16_t cfglen;
	const uint8_t *identify;	/* 512 bytes of IDENTIFY; borrowed */
};

enum bs_aoe_verdict {
	BS_AOE_IGNORE = 0,	/* send nothing */
	BS_AOE_REPLY,		/* send reply[0..len) as built */
	BS_AOE_READ,		/* read, then send reply[0..len) */
};

/* The decision for one request. */
struct bs_aoe_action {
	enum bs_aoe_verdict verdict;
	size_t len;		/* reply length, padded to 60 */
	/* BS_AOE_READ only: read @nsect sectors at @lba into reply + @off.
	 * reply[0..off) is already built; nsect * 512 + off == len unless
	 * the frame is padded. */
	uint64_t lba;
	unsigned nsect;
	size_t off;
};

/**
 * Decide the answer of a target to one request frame, building the
 * reply in place.
 * @v t        the target; its config string may change
 * @v ifmac    MAC of the interface the frame came in on (reply source)
 * @v req,len  the request frame (from the destination MAC on)
 * @v reply    caller buffer for the reply; must not overlap req
 * @v cap      its size: the largest frame the interface sends (MTU +
 *             14); reads that would not fit get AoE error 2
 * @v act      filled with the verdict
 * Never reads outside req[0..len) nor writes outside reply[0..cap).
 * cap must be at least 60 + 512 (a full IDENTIFY reply); smaller buffers
 * make every request BS_AOE_IGNORE.
 */
void bs_aoe_decide(struct bs_aoe_target *t, const uint8_t ifmac[6],
		   const uint8_t *req, size_t len, uint8_t *reply, size_t cap,
		   struct bs_aoe_action *act);

/**
 * Turn a READ reply into an ATA error reply after the data could not be
 * read (I/O error or short read: ABRT).  Returns the new reply length.
 */
size_t bs_aoe_read_failed(uint8_t *reply, size_t cap);

/**
 * Build an unsolicited Query Config response (an announcement) from a
 * target to @dst (usually broadcast), tag 0.
 * @ret length of the frame in reply (padded to 60), or 0 if cap is too
 *      small.
 */
size_t bs_aoe_announce(const struct bs_aoe_target *t, const uint8_t ifmac[6],
		       const uint8_t dst[6], uint8_t *reply, size_t cap);

/* Human-readable name of an AoE error code ("unrecognized command"). */
const char *bs_aoe_strerror(int code);

#endif
