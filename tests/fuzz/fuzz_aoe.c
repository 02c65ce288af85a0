/*
 * fuzz_aoe.c - libFuzzer entry for the AoE frame parser and target
 * decision.  Build with clang -fsanitize=fuzzer,address; the first input
 * byte picks the target's mask list and reply capacity, the rest is the
 * request frame.  Not part of the normal build.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bootshelf/aoe.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t me[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t masks[2][6] = { { 2, 0, 0, 0, 0, 2 },
					     { 2, 0, 0, 0, 0, 3 } };
	static uint8_t ident[512], reply[14 + 9000];
	struct bs_aoe_target t;
	struct bs_aoe_action act;
	struct bs_aoe_hdr h;
	struct bs_aoe_ata a;
	struct bs_aoe_cfg c;
	size_t cap;

	if (size < 1)
		return 0;
	memset(&t, 0, sizeof(t));
	t.shelf = 1;
	t.slot = 2;
	t.sectors = 4096;
	t.bufcnt = 64;
	t.maxscnt = (data[0] & 1) ? 17 : 2;
	t.identify = ident;
	if (data[0] & 2) {
		t.masks = masks;
		t.nmasks = 2;
	}
	cap = (data[0] & 4) ? sizeof(reply) : 14 + 1500;
	data++;
	size--;
	bs_aoe_identify(ident, t.sectors, "fuzz", "1.2", "1");
	(void)bs_aoe_parse_hdr(data, size, &h);
	if (bs_aoe_parse_ata(data, size, &a) == 0)
		(void)bs_aoe_ata_lba(&a);
	(void)bs_aoe_parse_cfg(data, size, &c);
	bs_aoe_decide(&t, me, data, size, reply, cap, &act);
	if (act.len > cap)
		__builtin_trap();
	if (act.verdict == BS_AOE_READ) {
		if (act.off + (size_t)act.nsect * 512 > cap ||
		    act.lba + act.nsect > t.sectors)
			__builtin_trap();
		memset(reply + act.off, 0, (size_t)act.nsect * 512);
	}
	return 0;
}
