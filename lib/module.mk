# The seccomp filter (lib/sandbox.c) needs libseccomp; only the daemons
# that install it, and its unit test, link it.
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null || \
		  echo -lseccomp)
$(B)/bootshelf-tftpd $(B)/bootshelf-aoed $(B)/tests/test_sandbox: \
	LDLIBS += $(SECCOMP_LIBS)
