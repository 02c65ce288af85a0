/*
 * fuzz_catalog.c - libFuzzer entry point for the catalog parser: any
 * bytes go to bs_catalog_parse(), whose result and diagnostics are
 * formatted and freed.  Not built by the Makefile; by hand:
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Ilib
 *     -D_GNU_SOURCE tests/fuzz/fuzz_catalog.c lib/catalog*.c lib/log.c
 *     -linih -o fuzz_catalog
 *   ./fuzz_catalog tests/fuzz/corpus/catalog
 */
#include <stddef.h>
#include <stdint.h>

#include <bootshelf/catalog.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_diags d = { 0 };
	struct bs_catalog *cat = NULL;
	char line[1024];

	if (bs_catalog_parse("fuzz", (const char *)data, size, &cat, &d) == 0
	    && (!cat || d.nerrors))
		__builtin_trap();	/* verdict and diagnostics disagree */
	for (size_t i = 0; i < d.n; i++)
		bs_diag_format(&d.v[i], line, sizeof(line));
	bs_catalog_free(cat);
	bs_diags_free(&d);
	return 0;
}
