/*
 * fuzz_tftp.c - libFuzzer entry point for the TFTP packet parsers.
 *
 * Feeds the input to every parser and, for a valid request, builds the
 * OACK a server would send, so the builders see parsed values too.
 * Build: clang -fsanitize=fuzzer,address -Iinclude -D_GNU_SOURCE
 *        tests/fuzz/fuzz_tftp.c lib/proto/tftp_pkt.c
 * Seeds are in tests/fuzz/corpus/tftp/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bootshelf/tftp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_tftp_req req;
	struct bs_tftp_netascii na = { 0 };
	uint8_t out[BS_TFTP_PKT_MAX];
	uint16_t blk, code;
	const char *msg;
	size_t ml, used;

	(void)bs_tftp_opcode(data, size);
	if (bs_tftp_parse_req(data, size, &req) == 0) {
		struct bs_tftp_oack o = {
			.opts = req.opts, .blksize = req.blksize,
			.tsize = req.tsize, .timeout = req.timeout,
			.windowsize = req.windowsize,
		};
		/* the filename must be terminated inside the packet */
		if (strnlen(req.filename, size) >= size)
			__builtin_trap();
		(void)bs_tftp_build_oack(out, sizeof(out), &o);
		(void)bs_tftp_build_error(out, sizeof(out), 1,
					  req.filename);
	}
	if (bs_tftp_parse_ack(data, size, &blk) == 0)
		(void)bs_tftp_build_ack(out, sizeof(out), blk);
	if (bs_tftp_parse_error(data, size, &code, &msg, &ml) == 0 &&
	    ml > size)
		__builtin_trap();
	if (size <= BS_TFTP_BLKSIZE_MAX) {
		(void)bs_tftp_netascii_encode(&na, data, size, &used, out,
					      sizeof(out));
		(void)bs_tftp_netascii_decode(&na, data, size, 1, out);
	}
	return 0;
}
