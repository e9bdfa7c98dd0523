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
local util = require "ftplib.util"
local netrc = require "ftplib.netrc"
local urlparse = require "ftplib.urlparse"
local urlio = require "ftplib.urlio"
local list = require "ftplib.list"

-- Options -----------------------------------------------------------------------

-- Options for the constructor, for ftp:download / ftp:upload, and the URL's own.
local SESSION_OPTIONS = {
  timeout = true, passive = true, debuglevel = true, debugfunc = true,
  source_address = true, use_epsv = true, trust_server_pasv_ipv4_address = true,
  maxline = true, maxreply = true, encoding = true, port_range = true,
  keepalive = true, tls = true,
}
local FILE_OPTIONS = {
  resume = true, progress = true, verify = true, preserve_time = true,
  retries = true, retry_delay = true, atomic = true,
}
local URL_OPTIONS = { netrc = "string|boolean", user = "string", passwd = "string",
  acct = "string", create_dirs = "boolean" }

-- Splits opts into the constructor's and ftp:download/upload's.
local function split_options(fname, opts)
  opts = util.check(fname, 3, opts or {}, "table")
  local session, file = {}, {}
  for key, value in pairs(opts) do
    if SESSION_OPTIONS[key] then
      session[key] = value
    elseif FILE_OPTIONS[key] then
      file[key] = value
    elseif URL_OPTIONS[key] then
      util.check(fname, 3, value, URL_OPTIONS[key])
    else
      util.raise(string.format("unknown option '%s' to '%s'", tostring(key), fname))
    end
  end
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
  local ftplib = require "ftplib"
  session_opts.port = parts.port
  session_opts.user, session_opts.passwd, session_opts.acct = credentials(parts, opts)
  if parts.scheme == "ftps" then
    local tls = {}
    for key, value in pairs(session_opts.tls or {}) do tls[key] = value end
    tls.implicit = true
    session_opts.tls = tls
    return ftplib.FTP_TLS(parts.host, session_opts)
  elseif session_opts.tls then
    return ftplib.FTP_TLS(parts.host, session_opts)
  end
  return ftplib.FTP(parts.host, session_opts)
end

local function check_target(target)
  local t = type(target)
  if t == "string" or t == "function" or io.type(target) == "file"
    or ((t == "table" or t == "userdata") and target.write) then
    return target
  end
  util.raise("bad argument #2 to 'get' (local path, function, file or object with a"
    .. " write method expected, got " .. t .. ")")
end

-- The file options go to ftp:download / ftp:upload: binary transfers from
-- or to a local path only.
local function check_file_options(fname, file_opts, local_binary)
  if not local_binary and next(file_opts) then
    util.raise(("option '%s' to '%s' needs a local path and binary type")
      :format(next(file_opts), fname))
  end
end

-- ftplib.get(url, target, opts) --> bytes, or nil, msg, code. target: a
-- local path (written through .part), or a sink as for retrbinary.
local function get(url_text, target, opts)
  util.check("get", 1, url_text, "string")
  check_target(target)
  local session_opts, file_opts
  opts, session_opts, file_opts = split_options("get", opts)
  local parts = urlparse.parse(url_text)
  if parts.dir_only and parts.type ~= "d" then
    util.raise("the URL names a folder, not a file (;type=d lists it): " .. url_text)
  end
  check_file_options("get", file_opts, type(target) == "string" and parts.type == "i")
  local ftp <close>, err, code = open_session(parts, opts, session_opts)
  if not ftp then
    return nil, err, code
  end
  if type(target) == "string" and parts.type == "i" then
    return ftp:download(parts.path, target, file_opts)
  end
  return urlio.get(ftp, parts, target)
end

local function check_source(source)
  local t = type(source)
  if t == "string" or t == "function" or io.type(source) == "file"
    or (t == "table" and type(source.data) == "string")
    or ((t == "table" or t == "userdata") and source.read) then
    return source
  end
  util.raise("bad argument #2 to 'put' (local path, {data = string}, function, file or"
    .. " object with a read method expected, got " .. t .. ")")
end

-- The remote path: the URL's, or for a URL ending in / the local file's name.
local function remote_path(parts, source, url_text)
  if not parts.dir_only then
    return parts.path
  elseif type(source) ~= "string" then
    util.raise("the URL names a folder: a file name is needed for this source: " .. url_text)
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
local function put(url_text, source, opts)
  util.check("put", 1, url_text, "string")
  check_source(source)
  local session_opts, file_opts
  opts, session_opts, file_opts = split_options("put", opts)
  local parts = urlparse.parse(url_text)
  if parts.type == "d" then
    util.raise("put cannot store to a ;type=d URL: " .. url_text)
  end
  local remote = remote_path(parts, source, url_text)
  local local_binary = type(source) == "string" and parts.type == "i"
  check_file_options("put", file_opts, local_binary)
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
  return urlio.put(ftp, parts, remote, source)
end

-- ftplib.open(url, opts) --> ftp, path: a logged-in session for the URL
-- (credentials as for get and put) and the server path it names, for
-- scripts and the command-line tool that do more than one transfer.
local function open(url_text, opts)
  util.check("open", 1, url_text, "string")
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

return { exports = { get = get, put = put, open = open } }
