/*
 * fuzz_bootcfg.c - the isolinux/syslinux and GRUB config parsers over any
 * bytes.  The first byte picks the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bootcfg_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_bootcfg_entry e;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		bs_bootcfg_grub((const char *)data + 1, size - 1, &e);
	else
		bs_bootcfg_syslinux((const char *)data + 1, size - 1, &e);
	return 0;
}
