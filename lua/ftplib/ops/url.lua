-- One-call transfers on URLs: ftplib.get(url, target, opts) and
-- ftplib.put(url, source, opts), each on its own session (connect, log in,
-- transfer, QUIT).
--
-- URLs (RFC 1738, as curl reads them):
--   ftp://[user[:password]@]host[:port]/path[;type=a|i|d]
--   ftps://...   implicit TLS, port 990 by default (opts.tls: cafile, ...)
--   ftp://... with opts.tls: explicit FTPS (AUTH TLS) on port 21
-- host may be an IPv6 address in brackets ([::1]). user, password and path
-- are percent-decoded (%40 for @, %3A for :, %2F for a / inside a name).
-- The path is relative to the login folder: ftp://h/pub/f is "pub/f".
-- As with curl, a path that starts with a / after decoding is absolute:
-- ftp://h//tmp/f and ftp://h/%2Ftmp/f both name "/tmp/f". Empty segments
-- elsewhere (a//b) are skipped. The path goes to the server whole, in one
-- command (curl's --ftp-method nocwd): no CWD per folder.
-- ;type=i (the default) is binary; ;type=a is ASCII (lines with CRLF on
-- the wire, "\n" locally); ;type=d lists the folder's names (NLST) on get.
--
-- Login: the URL's user (its password from the URL, or from netrc for that
-- user), else opts.user/opts.passwd, else the netrc entry for the host
-- ($HOME/.netrc; opts.netrc = another path, or false for none), else
-- anonymous.
--
-- ftplib.put's source: a string is always a local path; in-memory data is
-- given as {data = "bytes"}, or as a function returning chunks (nil at the
-- end), a file or an object with read(n). opts.create_dirs makes the
-- folders above the remote file. Both return the bytes moved (local bytes
-- for ;type=a).
local checks = require "ftplib.base.checks"
local ltn12 = require "ftplib.base.ltn12"
local sessions = require "ftplib.protocol.session"
local netrc = require "ftplib.parsers.netrc"
local urlparse = require "ftplib.parsers.url"
local url_transfers = require "ftplib.ops.url_transfers"
local list = require "ftplib.ops.list"
local verify = require "ftplib.ops.verify"

--- Helpers: one-call transfers on URLs.
-- @module helpers

--- URLs.
-- @section urls

--- The options of @{ftplib.get}, @{ftplib.put} and @{ftplib.open}. Not a field of the
-- module. An unknown key, or a value of another type, raises.
-- @table url_options
-- @tfield[opt] string user the login when the URL names none (then `passwd`, `acct`)
-- @tfield[opt] string passwd the password for `user`
-- @tfield[opt] string acct the account for `user`
-- @tfield[opt] string|boolean netrc another netrc file than `$HOME/.netrc`, or `false` to
-- read none
-- @tfield[opt=false] boolean create_dirs `ftplib.put`: make the folders above the remote
-- file first (MKD of each; a failure, such as one that exists, is ignored)
-- @tfield[opt] table tls the @{ftplib.tls_options}: with `ftp://`, explicit FTPS; with
-- `ftps://`, implicit FTPS in any case
-- @tfield[opt] number timeout as in @{ftplib.options}
-- @tfield[opt] boolean passive as in @{ftplib.options}
-- @tfield[opt] number debuglevel as in @{ftplib.options}
-- @tfield[opt] function debugfunc as in @{ftplib.options}
-- @tfield[opt] string|table source_address as in @{ftplib.options}
-- @tfield[opt] boolean use_epsv as in @{ftplib.options}
-- @tfield[opt] boolean pipelining as in @{ftplib.options}
-- @tfield[opt] boolean trust_server_pasv_ipv4_address as in @{ftplib.options}
-- @tfield[opt] number maxline as in @{ftplib.options}
-- @tfield[opt] number maxreply as in @{ftplib.options}
-- @tfield[opt] string encoding as in @{ftplib.options}
-- @tfield[opt] table port_range as in @{ftplib.options}
-- @tfield[opt] number keepalive as in @{ftplib.options}
-- @tfield[opt] number|string timezone as in @{ftplib.options}
-- @tfield[opt] string proxy as in @{ftplib.options}
-- @tfield[opt] boolean resume as for @{FTP:download} (`get`) and @{FTP:upload} (`put`):
-- like the file options below, only for a binary transfer (`;type=i`) from or to a local
-- path; elsewhere (and in `ftplib.open`) a file option raises
-- @tfield[opt] function progress as for @{FTP:download} and @{FTP:upload}
-- @tfield[opt] boolean preserve_time as for @{FTP:download} and @{FTP:upload}
-- @tfield[opt] number retries as for @{FTP:download} and @{FTP:upload}
-- @tfield[opt] number retry_delay as for @{FTP:download} and @{FTP:upload}
-- @tfield[opt] boolean|string verify as for @{FTP:download} (`get`: `true`, `false` or
-- `"hash"`) and @{FTP:upload} (`put`: `"hash"` only): `"hash"` compares the server's
-- digest of the file with the local one's, and transfers it again on a mismatch
-- @tfield[opt=1] number verify_retries with `verify = "hash"`: as for @{FTP:download}
-- @tfield[opt] string verify_algo with `verify = "hash"`: as for @{FTP:download}
-- @tfield[opt=1] number segments `get` only: download on this many sessions at once, as
-- for @{FTP:download} (lftp's `pget -n`); with `verify = "hash"` the whole file is
-- checked before it takes its name
-- @tfield[opt] boolean atomic `put` only: as for @{FTP:upload} (`get` and `open` raise for
-- `put`-only options, `put` and `open` for `segments`, and `put` for a `verify` other than
-- `"hash"`, before any connection)
-- @tfield[opt] number rate_limit `get` and `put`: at most this many bytes a second, as for
-- @{FTP:retrbinary}, whatever the target or source; binary transfers only (`;type=i`)

-- Options -----------------------------------------------------------------------

-- Options for the constructor, for ftp:download / ftp:upload, and the URL's own.
local SESSION_OPTIONS = {
  timeout = true, passive = true, debuglevel = true, debugfunc = true,
  source_address = true, use_epsv = true, trust_server_pasv_ipv4_address = true,
  pipelining = true, maxline = true, maxreply = true, encoding = true, port_range = true,
  keepalive = true, tls = true, timezone = true, proxy = true,
}
local FILE_OPTIONS = {
  resume = true, progress = true, verify = true, preserve_time = true,
  retries = true, retry_delay = true, atomic = true, verify_retries = true,
  verify_algo = true, segments = true,
}
local URL_OPTIONS = { netrc = "string|boolean", user = "string", passwd = "string",
  acct = "string", create_dirs = "boolean" }
-- Options of the binary transfer itself, to any target or source (get and put).
local TRANSFER_OPTIONS = { rate_limit = "number" }
-- Options only one of the functions takes: refused by the others before any
-- connection is made, instead of an error from ftp:download after the login.
local ONLY_FOR = { atomic = "put", create_dirs = "put", segments = "get" }

local function takes(fname, key)
  return ONLY_FOR[key] == nil or ONLY_FOR[key] == fname
end

-- Splits opts into the constructor's and ftp:download/upload's.
local function split_options(fname, opts)
  opts = checks.check(fname, 3, opts or {}, "table")
  local session, file = {}, {}
  for key, value in pairs(opts) do
    if not takes(fname, key) then
      checks.raise(string.format("option '%s' is for '%s', not '%s'", tostring(key),
        ONLY_FOR[key], fname))
    elseif SESSION_OPTIONS[key] then
      session[key] = value
    elseif FILE_OPTIONS[key] then
      file[key] = value
    elseif URL_OPTIONS[key] then
      checks.check(fname, 3, value, URL_OPTIONS[key])
    elseif TRANSFER_OPTIONS[key] and fname ~= "open" then
      checks.check(fname, 3, value, TRANSFER_OPTIONS[key])
      checks.check_rate(fname, value)
    else
      checks.raise(string.format("unknown option '%s' to '%s'", tostring(key), fname))
    end
  end
  verify.check_options(fname, file) -- put: "hash" only; before any connection
  return opts, session, file
end

-- Sessions --------------------------------------------------------------------

local function netrc_entry(opts, host, login)
  if opts.netrc == false then
    return nil
  end
  local path = type(opts.netrc) == "string" and opts.netrc or nil
  return netrc.lookup(host, login, path)
end

-- user, passwd, acct for the login (see the top of this file).
local function credentials(parts, opts)
  if parts.user then
    local entry = {}
    if not parts.password then
      entry = netrc_entry(opts, parts.host, parts.user) or entry
    end
    return parts.user, parts.password or entry.password, entry.account
  elseif opts.user then
    return opts.user, opts.passwd, opts.acct
  end
  local entry = netrc_entry(opts, parts.host)
  if entry and entry.login then
    return entry.login, entry.password, entry.account
  end
  return "anonymous", nil, nil
end

-- A logged-in session for the URL: ftp, or nil, msg, code.
local function open_session(parts, opts, session_opts)
  session_opts.port = parts.port
  session_opts.user, session_opts.passwd, session_opts.acct = credentials(parts, opts)
  if parts.scheme == "ftps" then
    local tls = {}
    for key, value in pairs(session_opts.tls or {}) do tls[key] = value end
    tls.implicit = true
    session_opts.tls = tls
    return sessions.FTP_TLS(parts.host, session_opts)
  elseif session_opts.tls then
    return sessions.FTP_TLS(parts.host, session_opts)
  end
  return sessions.FTP(parts.host, session_opts)
end

local function check_target(target)
  local t = type(target)
  if t == "nil" or t == "string" or t == "function" or io.type(target) == "file"
    or ((t == "table" or t == "userdata") and target.write) then
    return target
  end
  checks.raise("bad argument #2 to 'get' (local path, function, file or object with a"
    .. " write method expected, got " .. t .. ")")
end

-- The file options go to ftp:download / ftp:upload: binary transfers from
-- or to a local path only.
local function check_file_options(fname, file_opts, local_binary)
  if not local_binary and next(file_opts) then
    checks.raise(("option '%s' to '%s' needs a local path and binary type")
      :format(next(file_opts), fname))
  end
end

-- rate_limit goes with binary transfers, to ftp:download/upload's options for a
-- local path, else to the transfer's.
local function check_rate_option(fname, opts, parts, file_opts, local_binary)
  if opts.rate_limit and parts.type ~= "i" then
    checks.raise(("option 'rate_limit' to '%s' needs a binary transfer (;type=i)")
      :format(fname))
  end
  if local_binary then
    file_opts.rate_limit = opts.rate_limit
  end
  return opts.rate_limit
end

local get

-- ftplib.get with no target: the body, gathered in memory.
local function get_body(url_text, opts)
  local chunks = {}
  local bytes, err, code = get(url_text, function(chunk)
    chunks[#chunks + 1] = chunk
  end, opts)
  if not bytes then
    return nil, err, code
  end
  return table.concat(chunks)
end

local function get_into(url_text, target, opts)
  local session_opts, file_opts
  opts, session_opts, file_opts = split_options("get", opts)
  local parts = urlparse.parse(url_text)
  if parts.dir_only and parts.type ~= "d" then
    checks.raise("the URL names a folder, not a file (;type=d lists it): " .. url_text)
  end
  local local_binary = type(target) == "string" and parts.type == "i"
  check_file_options("get", file_opts, local_binary)
  local rate = check_rate_option("get", opts, parts, file_opts, local_binary)
  local ftp <close>, err, code = open_session(parts, opts, session_opts)
  if not ftp then
    return nil, err, code
  end
  if local_binary then
    return ftp:download(parts.path, target, file_opts)
  end
  return url_transfers.get(ftp, parts, target, rate)
end

-- ftplib.get(url, target, opts) --> bytes, or nil, msg, code. target: a
-- local path (written through .part), or a sink as for retrbinary; none:
-- --> the body.

--- Downloads what a URL names, on a session of its own (connect, log in, transfer,
-- QUIT). URLs: `ftp://[user[:password]@]host[:port]/path[;type=a|i|d]`; `ftps://` is
-- implicit FTPS (port 990); `[::1]` hosts. User, password and path are
-- percent-decoded. The path is relative to the login folder; as in curl, `//` or `%2F`
-- after the host makes it absolute (`ftp://h//tmp/f` and `ftp://h/%2Ftmp/f` are
-- `/tmp/f`); it is sent whole, with no CWD per folder. `;type=i` (the default) is
-- binary, `;type=a` lines (`\n` locally), `;type=d` the folder's names (NLST). The
-- login: the URL's user (its password from the URL, else from netrc), else
-- `opts.user`, else the netrc entry for the host, else anonymous.
-- @function ftplib.get
-- @tparam string url
-- @tparam[opt] string|function|file|object target a local path (always, for a string),
-- written through a `.part` (by @{FTP:download} for `;type=i`); a sink as for
-- @{FTP:retrbinary} (an ltn12 sink wrapped by @{ftplib.ltn12_sink} is called with `nil`
-- at the end, also when the session could not be opened); `nil`: the body is returned
-- as a string
-- @tparam[opt] table opts the @{url_options}
-- @treturn integer|string the bytes moved (local bytes for `;type=a`); with no target,
-- the body
-- @return[2] `nil, message, code`
-- @raise for a malformed URL, a URL naming a folder (ending in `/`) without `;type=d`,
-- an unknown or mistyped option, a file option where it does not apply
-- @usage assert(ftplib.get("ftp://me:s%40cret@ftp.example.org/pub/README", "README"))
function get(url_text, target, opts)
  checks.check("get", 1, url_text, "string")
  check_target(target)
  if target == nil then
    return get_body(url_text, opts)
  end
  return ltn12.ending(target, get_into, url_text, target, opts)
end

local function check_source(source)
  local t = type(source)
  if t == "string" or t == "function" or io.type(source) == "file"
    or (t == "table" and type(source.data) == "string")
    or ((t == "table" or t == "userdata") and source.read) then
    return source
  end
  checks.raise("bad argument #2 to 'put' (local path, {data = string}, function, file or"
    .. " object with a read method expected, got " .. t .. ")")
end

-- The remote path: the URL's, or for a URL ending in / the local file's name.
local function remote_path(parts, source, url_text)
  if not parts.dir_only then
    return parts.path
  elseif type(source) ~= "string" then
    checks.raise("the URL names a folder: a file name is needed for this source: " .. url_text)
  end
  return list.join(parts.path, source:match("([^/]+)$"))
end

-- opts.create_dirs (curl's --ftp-create-dirs): the folders above remote
-- are made first; MKD of one that exists fails, which is of no concern.
local function create_dirs(ftp, remote)
  local absolute = remote:sub(1, 1) == "/"
  local prefix = ""
  for segment in remote:gmatch("([^/]+)/") do
    prefix = prefix .. segment
    ftp:mkd((absolute and "/" or "") .. prefix)
    prefix = prefix .. "/"
  end
end

-- ftplib.put(url, source, opts) --> bytes, or nil, msg, code. source: a
-- local path (a string is always a path), {data = "bytes"}, a function
-- giving chunks, a file or an object with read(n).

--- Uploads to what a URL names, on a session of its own: URLs and login as for
-- @{ftplib.get}. A URL ending in `/` names a folder: the file keeps the local file's
-- name.
-- @function ftplib.put
-- @tparam string url
-- @tparam string|table|function|file|object source a local path (always, for a string;
-- sent by @{FTP:upload} for `;type=i`); in-memory data as `{data = "bytes"}`; a
-- function giving chunks (`nil` at the end); an open file; an object with
-- `read(self, n)`
-- @tparam[opt] table opts the @{url_options}
-- @treturn integer the bytes moved (local bytes for `;type=a`)
-- @return[2] `nil, message, code`
-- @raise for a malformed URL, a `;type=d` URL, a folder URL with a source that is not a
-- local path, an unknown or mistyped option, a file option where it does not apply
-- @usage assert(ftplib.put("ftps://ftp.example.org/in/notes.txt;type=a", { data = "a\nb\n" },
--   { tls = { cafile = "ca.pem" } }))
local function put(url_text, source, opts)
  checks.check("put", 1, url_text, "string")
  check_source(source)
  local session_opts, file_opts
  opts, session_opts, file_opts = split_options("put", opts)
  local parts = urlparse.parse(url_text)
  if parts.type == "d" then
    checks.raise("put cannot store to a ;type=d URL: " .. url_text)
  end
  local remote = remote_path(parts, source, url_text)
  local local_binary = type(source) == "string" and parts.type == "i"
  check_file_options("put", file_opts, local_binary)
  local rate = check_rate_option("put", opts, parts, file_opts, local_binary)
  local ftp <close>, err, code = open_session(parts, opts, session_opts)
  if not ftp then
    return nil, err, code
  end
  if opts.create_dirs then
    create_dirs(ftp, remote)
  end
  if local_binary then
    return ftp:upload(source, remote, file_opts)
  end
  return url_transfers.put(ftp, parts, remote, source, rate)
end

-- ftplib.open(url, opts) --> ftp, path: a logged-in session for the URL
-- (credentials as for get and put) and the server path it names, for
-- scripts and the command-line tool that do more than one transfer.

--- Opens a logged-in session for a URL (URLs and login as for @{ftplib.get}), for
-- scripts that do more than one transfer.
-- @function ftplib.open
-- @tparam string url
-- @tparam[opt] table opts the @{url_options} (file options raise here)
-- @treturn FTP the session (@{FTP_TLS} for `ftps://` or with `opts.tls`)
-- @treturn string the path the URL names
-- @return[2] `nil, message, code`
-- @raise for a malformed URL, an unknown or mistyped option
-- @usage local ftp, path = assert(ftplib.open("ftp://me@ftp.example.org/pub"))
-- for _, e in ipairs(assert(ftp:list(path))) do print(e.name) end
-- ftp:quit()
local function open(url_text, opts)
  checks.check("open", 1, url_text, "string")
  local session_opts, file_opts
  opts, session_opts, file_opts = split_options("open", opts)
  check_file_options("open", file_opts, false)
  local parts = urlparse.parse(url_text)
  local ftp, err, code = open_session(parts, opts, session_opts)
  if not ftp then
    return nil, err, code
  end
  return ftp, parts.path
end

-- For ftplib._option_types: every key each function takes.
local function keys_of(fname, ...)
  local all = {}
  for _, set in ipairs { ... } do
    for key in pairs(set) do
      all[key] = takes(fname, key) or nil
    end
  end
  return all
end
local option_types = {
  get = keys_of("get", SESSION_OPTIONS, FILE_OPTIONS, URL_OPTIONS, TRANSFER_OPTIONS),
  put = keys_of("put", SESSION_OPTIONS, FILE_OPTIONS, URL_OPTIONS, TRANSFER_OPTIONS),
  open = keys_of("open", SESSION_OPTIONS, URL_OPTIONS),
}

return { exports = { get = get, put = put, open = open }, option_types = option_types }
