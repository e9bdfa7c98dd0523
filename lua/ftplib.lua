-- ftplib for Lua: an FTP and FTPS client. This file is the public face:
-- constructors and module-level settings. The methods live in lua/ftplib/;
-- lua/ftplib/class.lua says which module gives which.

--- An FTP and FTPS client for Lua 5.4, modelled on Python's `ftplib`.
--
-- `local ftplib = require "ftplib"` gives the constructors @{ftplib.FTP} and
-- @{ftplib.FTP_TLS}, which make the sessions (@{FTP} and @{FTP_TLS} objects), and the
-- module functions: those below, the @{helpers} (`ftplib.copy`, `ftplib.get`,
-- `ftplib.put`, `ftplib.open`, `ftplib.safe_join`, `ftplib.add_list_parser`,
-- `ftplib.parse_list_line`, `ftplib.ltn12_sink`) and the @{scheduler} (`ftplib.spawn`,
-- `ftplib.run`, `ftplib.sleep`, `ftplib.now`, `ftplib.coroutine`, `ftplib.WAIT`).
--
-- Runtime failures return `nil, message, code`; programming errors raise: see
-- @{errors.md|Errors and options}.
-- @module ftplib
-- @usage local ftplib = require "ftplib"
-- local ftp <close> = assert(ftplib.FTP("ftp.example.org", { user = "me", passwd = "secret" }))
-- assert(ftp:cwd("pub"))
-- local out <close> = assert(io.open("README", "wb"))
-- assert(ftp:retrbinary("RETR README", out))
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
local control = require "ftplib.protocol.control"
local session = require "ftplib.protocol.session"
require "ftplib.class" -- assembles the classes FTP, FTP_TLS and Data

--- The release, `"ftplib 0.1.0"` (what the command-line tool prints for its version).
-- @field _VERSION

-- _VERSION is the release: rockspec/ftplib-0.1.0-1.rockspec (spec/package/rockspec_spec.lua
-- keeps them equal).
local ftplib = {
  _VERSION = "ftplib 0.1.0",
  _core = core,
}

-- Modules whose `exports` table becomes functions of the ftplib table itself
-- (ftplib.spawn, ftplib.safe_join, ...).
for _, name in ipairs { "ftplib.concurrency.scheduler", "ftplib.ops.safename",
    "ftplib.base.ltn12" } do
  for key, fn in pairs(require(name).exports or {}) do
    ftplib[key] = fn
  end
end

-- The same for modules loaded at the first call of one of these functions
-- (as class.LAZY's, and for the same reason): a stub until then.
-- spec/package/class_spec.lua checks the names against the modules' exports.
ftplib._LAZY_EXPORTS = {
  ["ftplib.ops.copy"] = { "copy" },
  ["ftplib.ops.url"] = { "get", "open", "put" },
  ["ftplib.parsers.list_lines"] = { "add_list_parser", "parse_list_line" },
}
for name, keys in pairs(ftplib._LAZY_EXPORTS) do
  for _, key in ipairs(keys) do
    local function stub(...)
      local fn = assert(require(name).exports[key], name .. " exports no " .. key)
      if ftplib[key] == stub then
        ftplib[key] = fn
      end
      return fn(...) -- a tail call: an error's level still points at the caller
    end
    ftplib[key] = stub
  end
end

-- Their types, and the checks: lua/ftplib/protocol/session.lua.

--- The options of @{ftplib.FTP} and @{ftplib.FTP_TLS}: the table `opts` of
-- `ftplib.FTP(host, opts)`, or the one table of `ftplib.FTP{host = ..., ...}`. Not a
-- field of the module.
-- An unknown key, or a value of another type, raises.
-- @table options
-- @tfield[opt] string host the server, in the one-table form: connect at once
-- @tfield[opt=21] number|string port the server's port (990 for implicit FTPS)
-- @tfield[opt] string user log in as this user once connected (also the default of
-- @{FTP:login} and of reconnections)
-- @tfield[opt] string passwd the password (default `""`; anonymous logins send `"anonymous@"`)
-- @tfield[opt] string acct the account (ACCT), for the servers that ask for one
-- @tfield[opt=60] number timeout seconds any one wait may take (connect, reply, data),
-- above 0; see @{FTP:settimeout}
-- @tfield[opt] string|table source_address the local address to connect from:
-- `"host"` or `{host, port}`
-- @tfield[opt] string encoding the server's encoding of names, an iconv name (`"gbk"`):
-- commands go out in it (the script writes UTF-8), replies and listing lines come
-- back in UTF-8; file contents are never converted. Unset: names pass as bytes. A name
-- iconv does not know raises
-- @tfield[opt=true] boolean passive passive data connections (EPSV, then PASV);
-- `false`: active (PORT, EPRT). See @{FTP:set_pasv}
-- @tfield[opt=0] number debuglevel 1: every command and reply goes to `debugfunc`; 2:
-- each line sent and received too (PASS and ACCT arguments masked). See
-- @{FTP:set_debuglevel}
-- @tfield[opt] function debugfunc where this session's debug lines go (default:
-- the function of @{set_debugfunc}, which writes to stderr)
-- @tfield[opt=false] boolean trust_server_pasv_ipv4_address connect to the address a
-- 227 reply names; by default the control connection's peer is used and that
-- address ignored (it is often wrong behind NAT, and a hostile server could aim it
-- elsewhere)
-- @tfield[opt=true] boolean use_epsv try EPSV before PASV (a refusal switches to PASV
-- for the session)
-- @tfield[opt=true] boolean pipelining send a transfer command right behind EPSV,
-- without waiting for EPSV's reply (one round trip less per transfer). Only once EPSV
-- worked in the session and two NOOPs sent together were both answered; never with
-- REST, never in active mode, never to servers known to lose such commands
-- (Microsoft FTP Service, MadGoat)
-- @tfield[opt=8192] number maxline the longest reply line or listing line, in bytes
-- (at least 16); longer fails with `"limit"`
-- @tfield[opt=1048576] number maxreply the largest reply, in bytes (at least `maxline`;
-- the default is 1 MiB, or `maxline` when that is larger)
-- @tfield[opt] table tls `FTP_TLS` only: the @{tls_options} (`FTP` raises: a session
-- asked for TLS must not quietly go without it)
-- @tfield[opt=false] boolean implicit `FTP_TLS` only: the same as `tls.implicit`
-- @tfield[opt] table port_range `{lo, hi}`: the local ports active mode may listen on
-- (default: any the system gives)
-- @tfield[opt] number keepalive seconds between NOOPs on the control connection
-- during a transfer, so that a firewall or NAT does not drop it; off by default
-- @tfield[opt=134217728] number maxlisting bytes of memory one listing
-- (@{FTP:nlst}, @{FTP:mlsd}, @{helpers.list|FTP:list}) may hold (128 MiB): each line counts its
-- bytes and 40, each entry of `list` 320 more; over it fails with `"limit"`
-- @tfield[opt] number|string timezone the server's time zone, for the times of parsed
-- `LIST` lines (its local time; MLSD and EPLF times are UTC and left alone): seconds
-- east of UTC (`7200`), `"+0200"`, `"-05:30"`, or `"auto"`: found at the first `LIST`
-- showing a file's time of day, by comparing that time with the file's MDTM (UTC),
-- rounded to 15 minutes; an MDTM that fails, or a difference beyond 14 hours, gives no
-- offset (no guess; @{helpers.server_timezone|FTP:server_timezone} says why). vsftpd
-- with `use_localtime=YES` answers MDTM in local time too: "auto" finds 0 there, give
-- the offset. Unset: LIST times are taken as UTC. Beyond 14 hours, or another form, raises
-- @tfield[opt] string proxy connect through a proxy: `"socks5://[user:password@]host:port"`
-- (SOCKS5; the name of the server resolved here), `"socks5h://..."` (the proxy
-- resolves it) or `"http://[user:password@]host:port"` (HTTP CONNECT, Basic
-- authentication); the port defaults to 1080, as in curl; `%`-escapes in the user and
-- password are decoded. The control connection and the passive data connections (to
-- the host the proxy was asked for, at the port EPSV or PASV named) go through it;
-- TLS runs through the tunnel, the certificate checked against the server's name.
-- Active mode fails with `"proxy"` (no SOCKS5 BIND). A refusal of the proxy
-- (its SOCKS5 reply code or HTTP status line) or a reply that is neither fails with
-- `"proxy"`; messages show the URL with its password as `***`. No environment variable
-- (`ALL_PROXY`, `ftp_proxy`) is read. A malformed URL raises
-- @tfield[opt=false] boolean mode_z compress the data connections (MODE Z: a zlib
-- stream each, as proftpd's mod_deflate sends) when FEAT offers it: asked once after
-- login; a refusal leaves the session in stream mode, said by @{FTP:transfer_mode}
-- and a debug line, never a failure. Downloads and listings, to a file or a callback;
-- uploads only with `mode_z_upload`. Sizes, progress and REST offsets are those of
-- the file (a download inflating past the size its 150 reply announced fails with
-- `"limit"`), the rate limit counts the bytes on the wire. A stream that is corrupt,
-- cut short or followed by more bytes fails with `"proto"`; it is inflated a block at
-- a time (256 KiB at most), so a small
-- stream that inflates to gigabytes costs time, never memory. FXP between a session
-- in MODE Z and one not is relayed, and segmented downloads use one stream
-- @tfield[opt=false] boolean mode_z_upload with `mode_z`, uploads compressed too;
-- otherwise a session in MODE Z sends `MODE S` before an upload (and `MODE Z` before
-- the next download). Off by default: proftpd's mod_deflate loses data of an upload
-- when one read of it inflates past its buffer (about 128 KiB), and fails the `STOR`
-- with 451 or stalls

--- The TLS options of @{ftplib.FTP_TLS}: the table `opts.tls`. Not a field of the module.
-- An unknown key, or a value of another type, raises.
-- @table tls_options
-- @tfield[opt=false] boolean implicit TLS from the first byte (port 990 by default)
-- instead of AUTH TLS at login
-- @tfield[opt=true] boolean verify verify the server's certificate and check its name
-- (SNI sent; IP literals checked as IPs); `false` opts out
-- @tfield[opt] string cafile a PEM file of trusted certificates (default, with no
-- `capath` either: the system's trust store)
-- @tfield[opt] string capath a folder of trusted certificates (OpenSSL's hashed names)
-- @tfield[opt] string certfile a client certificate chain (PEM)
-- @tfield[opt] string keyfile the client certificate's key (PEM; default: `certfile`)
-- @tfield[opt] string servername the name sent in SNI and checked in the certificate
-- (default: the host connected to)
-- @tfield[opt] string min_version the oldest TLS version allowed: `"TLSv1.2"` or
-- `"TLSv1.3"` (another value raises)
-- @tfield[opt] string max_version the newest TLS version allowed, as `min_version`
-- @tfield[opt] string ciphers OpenSSL's cipher list for TLS 1.2
-- @tfield[opt] string ciphersuites OpenSSL's cipher suites for TLS 1.3

--- Makes an FTP session: with a host, connects; with `user` too, logs in.
-- `ftplib.FTP(host, opts)`, `ftplib.FTP{host = ..., ...}`, or `ftplib.FTP()` (then
-- @{FTP:connect} and @{FTP:login} do it). In a `<close>` variable the session sends
-- QUIT (waiting at most 5 s) and closes when the scope ends.
-- @tparam[opt] string|table host the server's name or address (or the options, with `host`)
-- @tparam[opt] options opts see @{options}
-- @treturn FTP the session, connected and logged in as asked
-- @return[2] `nil, message, code` when connecting or logging in failed (the session is
-- closed): see @{errors.md|Errors}
-- @raise for an unknown or mistyped option, a `timeout` not above 0, an `encoding`
-- iconv does not know
-- @usage local ftp <close> = assert(ftplib.FTP("ftp.example.org",
--   { user = "me", passwd = "secret" }))
-- print(ftp:getwelcome())
function ftplib.FTP(host, opts)
  return session.FTP(host, opts)
end

--- Makes an FTPS session: as @{ftplib.FTP}, with TLS. Explicit FTPS by default: @{FTP_TLS:login}
-- sends AUTH TLS before USER, so credentials never go out in clear. With
-- `opts.tls.implicit`, TLS from the first byte, on port 990 unless `opts.port` says
-- otherwise. The server's certificate is verified and its name checked unless
-- `opts.tls.verify` is false. After login, data connections are protected (PBSZ 0,
-- PROT P).
-- @tparam[opt] string|table host as for @{ftplib.FTP}
-- @tparam[opt] options opts as for @{ftplib.FTP}, with `opts.tls` (@{tls_options})
-- @treturn FTP the session, an @{FTP_TLS} object, connected and logged in as asked
-- @return[2] `nil, message, code`: the TLS context could not be made (an unreadable
-- `cafile`, say), or connecting or logging in failed; TLS failures have code `"tls"`
-- and OpenSSL's reason (@{errors.md|Errors})
-- @raise as @{ftplib.FTP}, and for an unknown or mistyped TLS option
-- @usage local ftps <close> = assert(ftplib.FTP_TLS("ftp.example.org", {
--   user = "me", passwd = "secret", tls = { cafile = "/etc/ssl/my-ca.pem" } }))
function ftplib.FTP_TLS(host, opts)
  return session.FTP_TLS(host, opts)
end

--- Sets where debug lines go for every session without a `debugfunc` of its own
-- (@{FTP:set_debugfunc}). The default writes each line to stderr. Lines look like
-- this (PASS and ACCT arguments masked, control characters escaped):
--
--     *cmd* 'USER me'
--     *resp* '331 Password required.'
--     *cmd* 'PASS ****'
--
-- @tparam function fn called with each line (a string)
function ftplib.set_debugfunc(fn)
  control.default_debugfunc = checks.check("set_debugfunc", 1, fn, "function")
end

--- Sets how long a wait for a reply or for data polls without sleeping before it sleeps
-- (default 250 µs). A small file waits five times; each sleep costs a wake-up, on a
-- virtual machine about 0.1 ms, and a short spin catches most of them awake: 1000 files
-- of 1 KiB from a local server take about half the time. It spends at most that much CPU
-- per wait, never on a machine with one CPU, and stops for a while after waits it did
-- not catch (a distant server). For the whole process; `0` turns it off.
-- @tparam number seconds from 0 to 0.01
-- @treturn number the busy-wait before
-- @raise for a value out of that range
function ftplib.set_busy_wait(seconds)
  checks.check("set_busy_wait", 1, seconds, "number")
  if seconds < 0 or seconds > 0.01 then
    checks.raise("set_busy_wait: seconds must be from 0 to 0.01")
  end
  return core.set_busy_wait(seconds)
end

-- The option tables of the constructors and the helpers, as copies (so that
-- nothing can change the checks through them): spec/package/reference_spec.lua checks
-- that the reference documents every key. By function name.
function ftplib._option_types()
  local copies = {}
  local function add(name, types)
    local copy = {}
    for key, value in pairs(types) do
      copy[key] = value
    end
    copies[name] = copy
  end
  add("FTP", session.option_types)
  add("FTP_TLS", session.option_types)
  add("tls", session.tls_option_types)
  for _, module in ipairs { "ftplib.protocol.transfer", "ftplib.ops.whole_files",
      "ftplib.ops.download_many", "ftplib.ops.list", "ftplib.ops.mirror", "ftplib.ops.copy",
      "ftplib.ops.url", "ftplib.ops.rmtree" } do
    for name, types in pairs(require(module).option_types) do
      add(name, types)
    end
  end
  return copies
end

return ftplib
