# ftplib for Lua: build, test and lint.
#
#   make            build $(BUILD)/ftplib/core.so from src/*.c
#   make setup      install the missing Debian packages (scripts/setup.sh)
#   make test       setup, the test environment (needs root: scripts/setup-test-env.sh),
#                   build, run the whole busted suite (Lua 5.4) in TEST_JOBS (2) shards
#   make lint       luacheck the Lua sources and specs
#   make doc        setup, then the reference (LDoc: config.ld) as HTML into doc/
#   make bench      time transfers against curl, Python's ftplib and LuaSocket (bench/)
#   make demo       setup, build, run examples/demo.lua against a throw-away loopback
#                   FTP server (no root needed once the packages are installed)
#   make clean      remove $(BUILD)
#   make rockspec   rewrite the rockspecs' file lists (rockspec/*) from src/, lua/ftplib/, bin/
#   make embed      build $(BUILD)/embed/host: a C program embedding Lua with the module
#   make tsan-threads  build $(BUILD)/tsan/threads: two threads, two Lua states, TSan
#   make bench-latency  only the bench's latency workload (1000 files behind 20 ms)
#   make asan       the whole suite, core under AddressSanitizer + UBSan ($(BUILD)-asan)
#   make valgrind   the whole suite under valgrind memcheck: no errors, no definite leaks
#   make fuzz       build the libFuzzer targets (fuzz/, clang) and run each FUZZ_SECONDS
#                   (default 60), FUZZ_JOBS (2) at a time; `make fuzz-build` only builds
#
# Everything is overridable from the command line or environment, e.g. a sanitizer build:
#   make BUILD=build-asan EXTRA_CFLAGS='-fsanitize=address' EXTRA_LDFLAGS='-fsanitize=address'
#
# The flags below come from pkg-config when make reads this file, which on a fresh machine
# is before setup has installed pkg-config and the headers: so every target that runs
# setup builds through a sub-make ($(MAKE) ... build), which reads them anew.

LUA         ?= lua5.4
BUSTED      ?= $(LUA) /usr/bin/busted
BUSTED_ARGS ?=
LUACHECK    ?= luacheck
LDOC        ?= ldoc
PKG_CONFIG  ?= pkg-config

BUILD   ?= build
OBJDIR  := $(BUILD)/obj
MODULE  := $(BUILD)/ftplib/core.so

SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(OBJDIR)/%.o,$(SRCS))
DEPS := $(OBJS:.o=.d)

CC           ?= cc
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
LUA_CFLAGS     := $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null)
LUA_LIBS       := $(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null || echo -llua5.4)
OPENSSL_CFLAGS := $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
OPENSSL_LIBS   := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)
# zlib: MODE Z (src/deflate.c).
ZLIB_CFLAGS    := $(shell $(PKG_CONFIG) --cflags zlib 2>/dev/null)
ZLIB_LIBS      := $(shell $(PKG_CONFIG) --libs zlib 2>/dev/null || echo -lz)

CFLAGS  ?= -O2 -g
# Flags the build relies on; CFLAGS (optimisation, debug info) may be overridden.
ALL_CFLAGS  = -std=c99 -D_GNU_SOURCE $(CFLAGS) -Wall -Wextra -Werror -fPIC \
              $(LUA_CFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS) $(EXTRA_CFLAGS)
# The module is loaded into a process that already has Lua: do not link liblua into it.
ALL_LDFLAGS = -shared $(LDFLAGS) $(EXTRA_LDFLAGS)
LDLIBS     ?=
ALL_LDLIBS  = $(OPENSSL_LIBS) $(ZLIB_LIBS) $(LDLIBS)

# Lint whichever of these directories exist.
LINT_DIRS := $(wildcard lua spec bin examples bench scripts)

.PHONY: all build setup test-env test lint clean rockspec demo doc

all: build

build: $(MODULE)

$(MODULE): $(OBJS) | $(BUILD)/ftplib
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(ALL_LDLIBS)

$(OBJDIR)/%.o: src/%.c | $(OBJDIR)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(OBJDIR) $(BUILD)/ftplib:
	mkdir -p $@

# The packages only: what building and `make demo` need.
setup:
	@bash scripts/setup.sh

# The packages, then what the specs' real servers need (scripts/setup-test-env.sh, as
# root): the test account, its PAM service, proftpd unpacked under /var/cache/ftplib-test.
test-env:
	@bash scripts/setup.sh --test-env

# The whole suite runs in TEST_JOBS shards at once (scripts/shards.sh: the spec files
# dealt out by size, each shard's output printed whole, then one summary line over
# all); most of a spec's time is spent waiting on servers and timers, so two shards
# take about half the time on any machine. With BUSTED_ARGS (files, options), or
# TEST_JOBS=1, one busted process as usual.
TEST_JOBS ?= 2
# $(call suite,JOBS,COMMAND): COMMAND (busted and what goes before it) over the suite.
suite = if [ -z '$(strip $(BUSTED_ARGS))' ] && [ '$(1)' -gt 1 ]; then \
		bash scripts/shards.sh '$(1)' $(2); \
	else $(2) $(BUSTED_ARGS); fi

# Nothing may print after busted: its output handler ends with the summary line.
# --cpath: the specs load the module of this $(BUILD) (.busted names the default one).
test: test-env
	@$(MAKE) --no-print-directory -s build
	@$(call suite,$(TEST_JOBS),$(BUSTED) --cpath='$(BUILD)/?.so')

# The whole suite with the core built by gcc under ASan and UBSan. The ASan runtime must
# be the process's first library, so it is preloaded into lua5.4; spec/support/
# child_env.lua keeps it away from the programs the specs start. A sanitizer report
# ends the run at once (no summary line). LeakSanitizer stays on: the Lua state is
# closed at exit, so anything left is a leak.
ASAN_BUILD ?= $(BUILD)-asan
ASAN_FLAGS ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer
ASAN_JOBS  ?= $(TEST_JOBS)
ASAN_ENV    = env LD_PRELOAD="$$($(CC) -print-file-name=libasan.so)" \
              ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:$(ASAN_OPTIONS) \
              LSAN_OPTIONS=suppressions=$(CURDIR)/spec/support/lsan.supp:print_suppressions=0 \
              UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: asan valgrind
# (Some specs run scripts with the module of build/: that one is made too.)
asan: test-env
	@$(MAKE) --no-print-directory -s build
	@$(MAKE) --no-print-directory -s BUILD='$(ASAN_BUILD)' CFLAGS='-O1 -g' \
		EXTRA_CFLAGS='$(ASAN_FLAGS)' EXTRA_LDFLAGS='$(ASAN_FLAGS)' build
	@$(call suite,$(ASAN_JOBS),$(ASAN_ENV) $(BUSTED) --cpath='$(ASAN_BUILD)/?.so')

# The whole suite under memcheck, the core as `make build` makes it. Only definite leaks
# count (Lua and OpenSSL keep reachable memory until exit); spec/support/valgrind.supp
# holds the suppressions, each for something not ours, with why. FTPLIB_TEST_SCALE
# shrinks the specs' big files (spec/support/scale.lua): same tests, fewer bytes.
VALGRIND       ?= valgrind
VALGRIND_SCALE ?= 0.0625
VALGRIND_FLAGS ?= --quiet --error-exitcode=99 --leak-check=full \
                  --show-leak-kinds=definite --errors-for-leak-kinds=definite \
                  --suppressions=spec/support/valgrind.supp

# In shards as make test (memcheck runs a process on one core).
VALGRIND_JOBS  ?= $(TEST_JOBS)

valgrind: test-env
	@$(MAKE) --no-print-directory -s build
	@$(call suite,$(VALGRIND_JOBS),env FTPLIB_TEST_SCALE='$(VALGRIND_SCALE)' \
		$(VALGRIND) $(VALGRIND_FLAGS) $(BUSTED) --cpath='$(BUILD)/?.so')

# libFuzzer targets: fuzz/fuzz_NAME.c is built into $(BUILD)/fuzz/NAME with clang, ASan
# and UBSan, linked with the core's Lua-free files (those that include neither core.h nor bind.h).
# fuzz/run.sh runs each on a working corpus in $(BUILD)/fuzz/corpus/NAME seeded from
# fuzz/corpus/NAME, and ends with "N passed, N failed" (one test per target). A crash
# leaves its input in $(BUILD)/fuzz/NAME-crash-*; replay it with `$(BUILD)/fuzz/NAME FILE`.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SRCS    := $(shell grep -L -e '"core.h"' -e '"bind.h"' $(SRCS))
FUZZ_CFLAGS  ?= -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all

.PHONY: fuzz fuzz-build
fuzz-build: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

fuzz: setup
	@$(MAKE) --no-print-directory fuzz-build
	@bash fuzz/run.sh '$(FUZZ_DIR)' '$(FUZZ_SECONDS)' '$(FUZZ_JOBS)' $(FUZZ_TARGETS)

$(FUZZ_DIR)/%: fuzz/fuzz_%.c $(FUZZ_SRCS) $(wildcard fuzz/*.h src/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror $(FUZZ_CFLAGS) -Isrc \
		$(OPENSSL_CFLAGS) $(ZLIB_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(FUZZ_EXTRA) $(OPENSSL_LIBS) \
		$(ZLIB_LIBS)

# The name converter is part of the Lua binding: its target runs it in a Lua state.
$(FUZZ_DIR)/iconv: src/core_iconv.c
$(FUZZ_DIR)/iconv: FUZZ_EXTRA = src/core_iconv.c $(LUA_CFLAGS) $(LUA_LIBS)

rockspec:
	$(LUA) scripts/update-rockspec.lua

# Needs root (it starts vsftpd); writes bench/results.md and bench/results.png.
.PHONY: bench bench-latency
bench: test-env
	@$(MAKE) --no-print-directory -s build
	FTPLIB_BUILD='$(BUILD)' $(LUA) bench/run.lua

# The latency workload alone (bench/latency.lua; `make bench` runs it too).
bench-latency: setup
	@$(MAKE) --no-print-directory -s build
	FTPLIB_BUILD='$(BUILD)' $(LUA) bench/latency.lua

# A C host with Lua 5.4 and the C core linked in (examples/embed/): it reads the Lua
# half from this checkout's lua/ (or $$FTPLIB_LUA_DIR).
EMBED_DIR   := examples/embed
EMBED_CFLAGS = -DFTPLIB_LUA_DIR='"$(CURDIR)/lua"' -I$(EMBED_DIR)
EMBED_LIBS   = $(LUA_LIBS) $(OPENSSL_LIBS) $(ZLIB_LIBS) -lm -ldl

.PHONY: embed tsan-threads
embed: $(BUILD)/embed/host

$(BUILD)/embed/host: $(EMBED_DIR)/host.c $(EMBED_DIR)/embed.c $(EMBED_DIR)/embed.h $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(EMBED_CFLAGS) -o $@ $(EMBED_DIR)/host.c $(EMBED_DIR)/embed.c \
		$(OBJS) $(LDFLAGS) $(EXTRA_LDFLAGS) $(EMBED_LIBS)

# Two threads with a Lua state each, all of it (src/ too) under ThreadSanitizer.
# spec/package/embed_spec.lua runs it against real servers. clang when installed, else
# gcc (Debian's gcc brings libtsan): both pass the same test.
TSAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo gcc)
TSAN_FLAGS ?= -fsanitize=thread -O1 -g -fno-omit-frame-pointer

tsan-threads: $(BUILD)/tsan/threads

$(BUILD)/tsan/threads: $(EMBED_DIR)/threads.c $(EMBED_DIR)/embed.c $(EMBED_DIR)/embed.h \
		$(SRCS) $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(TSAN_CC) -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror $(TSAN_FLAGS) $(LUA_CFLAGS) \
		$(OPENSSL_CFLAGS) $(EMBED_CFLAGS) -o $@ $(EMBED_DIR)/threads.c \
		$(EMBED_DIR)/embed.c $(SRCS) $(EMBED_LIBS) -pthread

# scripts/run-demo.lua starts the server (spec/support/servers.lua) and stops it after.
demo: setup
	@$(MAKE) --no-print-directory -s build
	@LUA='$(LUA)' $(LUA) scripts/run-demo.lua '$(BUILD)'

lint:
	$(LUACHECK) -q $(LINT_DIRS)

# The reference from the LDoc comments (config.ld lists the files; doc_topics/ holds the
# topic pages) into doc/, which is build output. Any warning fails: --fatalwarnings
# catches those about the comments, the check of stderr those about the topic pages,
# which LDoc reports without failing. spec/package/reference_spec.lua checks the coverage.
doc: setup
	@rm -rf doc
	@warnings=$$($(LDOC) --fatalwarnings . 2>&1 >/dev/null) \
		&& [ -z "$$warnings" ] || { printf '%s\n' "$$warnings" >&2; \
		echo "make doc: LDoc warnings (above)" >&2; exit 1; }
	@echo "make doc: doc/index.html"

# Also what `luarocks make` leaves in a checkout (objects beside the sources, ./ftplib/).
clean:
	rm -rf $(BUILD)
	rm -f src/*.o ftplib/core.so
	rmdir ftplib 2>/dev/null || true

-include $(DEPS)
