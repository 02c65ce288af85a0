# tftpd/module.mk - extra rules for the TFTP server.
# `make fuzz` builds the TFTP packet fuzzer with clang's libFuzzer:
#   mkdir -p /tmp/c && build/fuzz/fuzz_tftp /tmp/c tests/fuzz/corpus/tftp
# (new inputs go to the first directory, seeds stay untouched)
FUZZ_CC ?= clang
.PHONY: fuzz-tftp
fuzz: fuzz-tftp
fuzz-tftp: $(B)/fuzz/fuzz_tftp
$(B)/fuzz/fuzz_tftp: tests/fuzz/fuzz_tftp.c lib/proto/tftp_pkt.c include/bootshelf/tftp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
	    -D_GNU_SOURCE -o $@ tests/fuzz/fuzz_tftp.c lib/proto/tftp_pkt.c
