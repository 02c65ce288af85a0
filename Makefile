# bootshelf build.  GNU make.  Sources are found by directory:
#   lib/*.c lib/proto/*.c -> $(B)/libbootshelf.a
#   cli/ fs/ tftpd/ aoe/  -> one program each (bootshelf, bootshelf-fs, ...)
#   tests/unit/test_*.c   -> one cmocka test program each
#   tests/tools/*.c       -> one helper program each (test initiators etc.)
# Components may add rules in DIR/module.mk.

PREFIX   ?= /usr/local
DESTDIR  ?=
B        ?= build
SAN      ?=
PKGS      = libisofs-1 fuse3 inih libcurl libzstd zlib liblzma
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null)

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN      = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation
CPPFLAGS += -Iinclude -Ilib -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
            -DFUSE_USE_VERSION=34 $(PKG_CFLAGS)
ALLCFLAGS = -std=c11 $(WARN) $(CFLAGS) -pthread
ifneq ($(SAN),)
ALLCFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
LDSAN     = -fsanitize=address,undefined
endif
LDLIBS    = $(PKG_LIBS) $(SYSTEMD_LIBS) -pthread -lm

LIB_SRC  := $(wildcard lib/*.c lib/proto/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
LIBA     := $(B)/libbootshelf.a

PROG_DIRS := cli fs tftpd aoe
prog_name  = $(if $(filter cli,$1),bootshelf,$(if $(filter fs,$1),bootshelf-fs,$(if $(filter tftpd,$1),bootshelf-tftpd,bootshelf-aoed)))
PROGS     := $(foreach d,$(PROG_DIRS),$(if $(wildcard $(d)/*.c),$(B)/$(call prog_name,$(d))))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)

.SECONDARY:
.PHONY: all deps check unit unit-asan integration demo bench install clean fuzz \
        fuzz-regress
all: $(LIBA) $(PROGS) $(TOOL_BIN)

deps:
	@./scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define prog_rule
$(B)/$(call prog_name,$(1)): $(patsubst %.c,$(B)/%.o,$(wildcard $(1)/*.c)) $(LIBA)
	$$(CC) $$(ALLCFLAGS) $$(LDSAN) -o $$@ $$(filter %.o,$$^) $$(LIBA) $$(LDLIBS)
endef
$(foreach d,$(PROG_DIRS),$(if $(wildcard $(d)/*.c),$(eval $(call prog_rule,$(d)))))

$(B)/tests/%: $(B)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(LDSAN) -o $@ $< $(LIBA) $(LDLIBS) -lcmocka

$(B)/tools/%: $(B)/tests/tools/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(LDSAN) -o $@ $< $(LIBA) $(LDLIBS)

# Fuzz targets linked with a plain file-replay driver (no libFuzzer).
$(B)/fuzz/%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/driver.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(LDSAN) -o $@ $^ $(LDLIBS)

-include $(wildcard */module.mk)
-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Unit tests: every test program, then the same under ASan+UBSan.
unit: $(UNIT_BIN)
	@./scripts/run-unit.sh $(UNIT_BIN)

unit-asan:
	@$(MAKE) --no-print-directory B=build-asan SAN=1 OPT=-O1 all unit \
	    fuzz-regress

# Every fuzz target over its corpus (and generated seeds): make check
# runs this under ASan+UBSan.  `make fuzz` runs libFuzzer for real.
fuzz-regress: $(FUZZ_BIN)
	@./scripts/fuzz.sh regress $(abspath $(B))

FUZZ_SECONDS ?= 60
fuzz: deps
	./scripts/fuzz.sh fuzz $(abspath build-fuzz) $(FUZZ_SECONDS)

# Integration tests; where build-asan has programs (make check builds
# them), tests of bad input also run them under ASan+UBSan.
integration: all
	BS_BUILD=$(abspath $(B)) BS_ASAN_BUILD=$(abspath build-asan) \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# The README's test command: dependencies, build, unit, sanitizers,
# integration.  pytest's summary is the last line printed.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory integration

demo: deps
	@$(MAKE) --no-print-directory all
	./scripts/demo.sh $(abspath $(B))

bench: deps
	@$(MAKE) --no-print-directory all
	./scripts/bench.sh $(abspath $(B))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $(B)/bootshelf $(DESTDIR)$(PREFIX)/bin/
	for p in $(filter-out $(B)/bootshelf,$(PROGS)); do \
	    install -m 755 $$p $(DESTDIR)$(PREFIX)/sbin/; done
	for m in man/*.[158]; do s=$${m##*.}; \
	    install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	for u in $(wildcard examples/systemd/*.service examples/systemd/*.socket); do \
	    install -m 644 $$u $(DESTDIR)$(PREFIX)/lib/systemd/system/; done

clean:
	rm -rf build build-asan build-fuzz
