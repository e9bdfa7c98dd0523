-- The development rockspec: builds and installs from a checkout (run in the repository root):
--   luarocks --lua-version=5.4 make rockspec/ftplib-scm-1.rockspec
-- rockspec/ftplib-0.1.0-1.rockspec is the release. spec/rockspec_spec.lua checks that both
-- list every src/*.c, lua/ftplib/**.lua and bin/ file and otherwise agree; `make rockspec`
-- rewrites the lists of both (between the "files:" markers).
rockspec_format = "3.0"
package = "ftplib"
version = "scm-1"

source = {
   -- `luarocks make` builds from the working tree; `luarocks build` fetches the main branch.
   url = "git+https://github.com/ftplib-lua/ftplib.git",
}

description = {
   summary = "FTP and FTPS client library for Lua 5.4",
   detailed = [[
An FTP/FTPS client with a C core (sockets, reply parser, data channels, TLS through
OpenSSL) and a Lua API modelled on Python's ftplib, plus higher-level helpers.
]],
   homepage = "https://github.com/ftplib-lua/ftplib",
   license = "MIT",
   labels = { "ftp", "ftps", "network" },
}

-- Linux: the transfer loops use sendfile and splice.
supported_platforms = { "linux" }

dependencies = {
   "lua >= 5.4, < 5.5",
   -- ftp:download, upload and mirror (local sizes, times, folders); loaded on first use
   "luafilesystem >= 1.8",
}

external_dependencies = {
   OPENSSL = {
      header = "openssl/ssl.h",
      library = "ssl",
   },
   -- MODE Z (src/deflate.c)
   ZLIB = {
      header = "zlib.h",
      library = "z",
   },
}

build = {
   type = "builtin",
   modules = {
      ftplib = "lua/ftplib.lua",
      -- files: lua/ftplib/**.lua
      ["ftplib.base.checks"] = "lua/ftplib/base/checks.lua",
      ["ftplib.base.ltn12"] = "lua/ftplib/base/ltn12.lua",
      ["ftplib.base.utc"] = "lua/ftplib/base/utc.lua",
      ["ftplib.class"] = "lua/ftplib/class.lua",
      ["ftplib.cli.args"] = "lua/ftplib/cli/args.lua",
      ["ftplib.cli.main"] = "lua/ftplib/cli/main.lua",
      ["ftplib.cli.progressbar"] = "lua/ftplib/cli/progressbar.lua",
      ["ftplib.concurrency.cqueues"] = "lua/ftplib/concurrency/cqueues.lua",
      ["ftplib.concurrency.luv"] = "lua/ftplib/concurrency/luv.lua",
      ["ftplib.concurrency.scheduler"] = "lua/ftplib/concurrency/scheduler.lua",
      ["ftplib.concurrency.wait"] = "lua/ftplib/concurrency/wait.lua",
      ["ftplib.ops.copy"] = "lua/ftplib/ops/copy.lua",
      ["ftplib.ops.download_many"] = "lua/ftplib/ops/download_many.lua",
      ["ftplib.ops.filters"] = "lua/ftplib/ops/filters.lua",
      ["ftplib.ops.list"] = "lua/ftplib/ops/list.lua",
      ["ftplib.ops.mirror"] = "lua/ftplib/ops/mirror.lua",
      ["ftplib.ops.parallel"] = "lua/ftplib/ops/parallel.lua",
      ["ftplib.ops.retry"] = "lua/ftplib/ops/retry.lua",
      ["ftplib.ops.rmtree"] = "lua/ftplib/ops/rmtree.lua",
      ["ftplib.ops.safename"] = "lua/ftplib/ops/safename.lua",
      ["ftplib.ops.segment_record"] = "lua/ftplib/ops/segment_record.lua",
      ["ftplib.ops.segments"] = "lua/ftplib/ops/segments.lua",
      ["ftplib.ops.server_files"] = "lua/ftplib/ops/server_files.lua",
      ["ftplib.ops.timezone"] = "lua/ftplib/ops/timezone.lua",
      ["ftplib.ops.url"] = "lua/ftplib/ops/url.lua",
      ["ftplib.ops.url_transfers"] = "lua/ftplib/ops/url_transfers.lua",
      ["ftplib.ops.verify"] = "lua/ftplib/ops/verify.lua",
      ["ftplib.ops.whole_files"] = "lua/ftplib/ops/whole_files.lua",
      ["ftplib.parsers.digest_reply"] = "lua/ftplib/parsers/digest_reply.lua",
      ["ftplib.parsers.glob"] = "lua/ftplib/parsers/glob.lua",
      ["ftplib.parsers.list_lines"] = "lua/ftplib/parsers/list_lines.lua",
      ["ftplib.parsers.netrc"] = "lua/ftplib/parsers/netrc.lua",
      ["ftplib.parsers.url"] = "lua/ftplib/parsers/url.lua",
      ["ftplib.protocol.abort"] = "lua/ftplib/protocol/abort.lua",
      ["ftplib.protocol.commands"] = "lua/ftplib/protocol/commands.lua",
      ["ftplib.protocol.control"] = "lua/ftplib/protocol/control.lua",
      ["ftplib.protocol.data_channel"] = "lua/ftplib/protocol/data_channel.lua",
      ["ftplib.protocol.encoding"] = "lua/ftplib/protocol/encoding.lua",
      ["ftplib.protocol.hash"] = "lua/ftplib/protocol/hash.lua",
      ["ftplib.protocol.keepalive"] = "lua/ftplib/protocol/keepalive.lua",
      ["ftplib.protocol.listing"] = "lua/ftplib/protocol/listing.lua",
      ["ftplib.protocol.mode_z"] = "lua/ftplib/protocol/mode_z.lua",
      ["ftplib.protocol.pipelining"] = "lua/ftplib/protocol/pipelining.lua",
      ["ftplib.protocol.proxy"] = "lua/ftplib/protocol/proxy.lua",
      ["ftplib.protocol.resync"] = "lua/ftplib/protocol/resync.lua",
      ["ftplib.protocol.session"] = "lua/ftplib/protocol/session.lua",
      ["ftplib.protocol.tls"] = "lua/ftplib/protocol/tls.lua",
      ["ftplib.protocol.transfer"] = "lua/ftplib/protocol/transfer.lua",
      -- end files

      ["ftplib.core"] = {
         sources = {
            -- files: src/*.c
            "src/bind.c",
            "src/buf.c",
            "src/busy_wait.c",
            "src/conn.c",
            "src/core.c",
            "src/core_data.c",
            "src/core_digest.c",
            "src/core_file.c",
            "src/core_ftp.c",
            "src/core_iconv.c",
            "src/core_net.c",
            "src/core_reply.c",
            "src/core_tls.c",
            "src/data.c",
            "src/deflate.c",
            "src/digest.c",
            "src/net.c",
            "src/rate.c",
            "src/reply.c",
            "src/session.c",
            "src/tls.c",
            -- end files
         },
         defines = { "_GNU_SOURCE" },
         incdirs = { "src", "$(OPENSSL_INCDIR)", "$(ZLIB_INCDIR)" },
         libdirs = { "$(OPENSSL_LIBDIR)", "$(ZLIB_LIBDIR)" },
         libraries = { "ssl", "crypto", "z" },
      },
   },
   install = {
      bin = {
         -- files: bin/*
         ["ftplib"] = "bin/ftplib",
         -- end files
      },
   },
}
