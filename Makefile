# ftplib for Lua: build, test and lint.
#
#   make            build $(BUILD)/ftplib/core.so from src/*.c
#   make test       install missing packages, build, run the whole busted suite (Lua 5.4)
#   make lint       luacheck the Lua sources and specs
#   make bench      time transfers against curl, Python's ftplib and LuaSocket (bench/)
#   make demo       run examples/demo.lua against a throw-away loopback FTP server
#   make clean      remove $(BUILD)
#   make rockspec   rewrite the rockspec's file lists from src/, lua/ftplib/, bin/
#   make embed      build $(BUILD)/embed/host: a C program embedding Lua with the module
#   make tsan-threads  build $(BUILD)/tsan/threads: two threads, two Lua states, TSan
#   make bench-latency  only the bench's latency workload (1000 files, 20 ms replies)
#
# Everything is overridable from the command line or environment, e.g. a sanitizer build:
#   make BUILD=build-asan EXTRA_CFLAGS='-fsanitize=address' EXTRA_LDFLAGS='-fsanitize=address'

LUA         ?= lua5.4
BUSTED      ?= $(LUA) /usr/bin/busted
BUSTED_ARGS ?=
LUACHECK    ?= luacheck
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
OPENSSL_CFLAGS := $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
OPENSSL_LIBS   := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)

CFLAGS  ?= -O2 -g
# Flags the build relies on; CFLAGS (optimisation, debug info) may be overridden.
ALL_CFLAGS  = -std=c99 -D_GNU_SOURCE $(CFLAGS) -Wall -Wextra -Werror -fPIC \
              $(LUA_CFLAGS) $(OPENSSL_CFLAGS) $(EXTRA_CFLAGS)
# The module is loaded into a process that already has Lua: do not link liblua into it.
ALL_LDFLAGS = -shared $(LDFLAGS) $(EXTRA_LDFLAGS)
LDLIBS     ?=
ALL_LDLIBS  = $(OPENSSL_LIBS) $(LDLIBS)

# Lint whichever of these directories exist.
LINT_DIRS := $(wildcard lua spec bin examples bench scripts)

.PHONY: all build setup test lint clean rockspec demo

all: build

build: $(MODULE)

$(MODULE): $(OBJS) | $(BUILD)/ftplib
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(ALL_LDLIBS)

$(OBJDIR)/%.o: src/%.c | $(OBJDIR)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(OBJDIR) $(BUILD)/ftplib:
	mkdir -p $@

setup:
	@bash scripts/setup.sh

# Nothing may print after busted: its output handler ends with the summary line.
# --cpath: the specs load the module of this $(BUILD) (.busted names the default one).
test: setup
	@$(MAKE) --no-print-directory -s build
	@$(BUSTED) --cpath='$(BUILD)/?.so' $(BUSTED_ARGS)

rockspec:
	$(LUA) scripts/update-rockspec.lua

# Needs root (it starts vsftpd); writes bench/results.md and bench/results.png.
.PHONY: bench bench-latency
bench: setup build
	FTPLIB_BUILD='$(BUILD)' $(LUA) bench/run.lua

# The latency workload alone (bench/latency.lua; `make bench` runs it too).
bench-latency: setup build
	FTPLIB_BUILD='$(BUILD)' $(LUA) bench/latency.lua

# A C host with Lua 5.4 and the C core linked in (examples/embed/): it reads the Lua
# half from this checkout's lua/ (or $$FTPLIB_LUA_DIR).
LUA_LIBS    := $(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null || echo -llua5.4)
EMBED_DIR   := examples/embed
EMBED_CFLAGS = -DFTPLIB_LUA_DIR='"$(CURDIR)/lua"' -I$(EMBED_DIR)
EMBED_LIBS   = $(LUA_LIBS) $(OPENSSL_LIBS) -lm -ldl

.PHONY: embed tsan-threads
embed: $(BUILD)/embed/host

$(BUILD)/embed/host: $(EMBED_DIR)/host.c $(EMBED_DIR)/embed.c $(EMBED_DIR)/embed.h $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(EMBED_CFLAGS) -o $@ $(EMBED_DIR)/host.c $(EMBED_DIR)/embed.c \
		$(OBJS) $(LDFLAGS) $(EXTRA_LDFLAGS) $(EMBED_LIBS)

# Two threads with a Lua state each, all of it (src/ too) under ThreadSanitizer.
# spec/embed_spec.lua runs it against real servers. clang when installed, else
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
demo: setup build
	@LUA='$(LUA)' $(LUA) scripts/run-demo.lua '$(BUILD)'

lint:
	$(LUACHECK) -q $(LINT_DIRS)

# Also what `luarocks make` leaves in a checkout (objects beside the sources, ./ftplib/).
clean:
	rm -rf $(BUILD)
	rm -f src/*.o ftplib/core.so
	rmdir ftplib 2>/dev/null || true

-include $(DEPS)
