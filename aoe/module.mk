# bootshelf-aoed refers to the catalog functions weakly (see aoe/main.c),
# so it links while the catalog module is not in the library.  Once it
# is, -u makes the linker pull it out of libbootshelf.a.
AOED_HAVE_CATALOG := $(shell grep -ls '^int bs_catalog_load' lib/*.c)
ifneq ($(AOED_HAVE_CATALOG),)
$(B)/bootshelf-aoed: LDLIBS += -Wl,-u,bs_catalog_load \
	-Wl,-u,bs_catalog_free -Wl,-u,bs_diag_format -Wl,-u,bs_diags_free
endif
