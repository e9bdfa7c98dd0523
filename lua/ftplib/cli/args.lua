-- The command line of bin/ftplib: options anywhere, a command, its
-- arguments. A pure function of argv, tested on tables.
local utc = require "ftplib.base.utc"

local cliargs = {}

cliargs.USAGE = [[
Usage: ftplib [options] <command> [arguments]

Commands (URL: ftp://[user[:password]@]host[:port]/path or ftps://... for
implicit TLS; credentials from ~/.netrc when the URL has none):
  ls URL                  list a folder: type, size, time (UTC), name
  get URL [LOCAL]         download a file (LOCAL: a path or a folder)
  cat URL                 write a file to standard output
  put LOCAL URL           upload a file (a URL ending in / keeps the name)
  mirror URL LOCALDIR     make LOCALDIR a copy of the remote folder
  mirror -R LOCALDIR URL  make the remote folder a copy of LOCALDIR
  rm URL...               delete files
  rm -r URL...            delete files, links, and folders with all they hold
  rmdir URL               remove an empty folder
  mkdir URL               create a folder
  mv URL NEWPATH          rename or move on the server (into NEWPATH when it is
                          a folder or ends in /; NEWPATH: a path or a URL)
  chmod MODE URL...       change permissions (SITE CHMOD; MODE: octal, as 644)

Options:
  -q, --quiet             no progress bar and no report, errors only
  -v, --verbose           show the FTP dialogue (passwords masked)
  -c, --continue          resume a partial download or upload
  -R, --reverse           mirror: upload LOCALDIR to URL
      --delete            mirror: delete what the source no longer has
      --dry-run           mirror, rm -r: report what would be done, do nothing
  -r, --recursive         rm: delete folders and everything under them
  -P, --parallel N        mirror: N sessions at once
  -I, --include GLOB      mirror: only files matching GLOB (repeatable; * ? **,
                          a GLOB without / matches names at any depth); rm -r:
                          delete only what GLOB matches
  -X, --exclude GLOB      mirror, rm -r: leave GLOB alone, never sent nor
                          deleted (repeatable; GLOB/ matches folders only)
      --timezone TZ       the server's LIST times are in TZ: +0200, -05:30
                          or auto (found with MDTM)
      --retries N         reconnect and resume a dropped transfer N times
      --limit-rate RATE   get, put, cat, mirror: at most RATE bytes a second
                          (100K, 2M, 1G: 1024-based, as curl takes them), for
                          each file and each session of --parallel, --segments
      --verify-hash       get, put, mirror: compare each file with the server's
                          digest (HASH, XSHA256, ...); sent again on a mismatch
      --segments N        get: N sessions at once, each a range of the file, as
                          lftp's pget -n (1 to 32)
      --timeout SECONDS   give up on a silent server (default 60)
      --active            active mode (PORT/EPRT) instead of passive
      --tls               explicit TLS (AUTH TLS) on ftp:// URLs
      --cacert FILE       trust the certificates this CA file signed
      --insecure          do not verify TLS certificates
      --encoding NAME     the server's file name encoding (gbk, latin1, ...)
      --proxy URL         connect through a proxy: socks5://[user:pw@]host:port,
                          socks5h://... (the proxy resolves names), http://...
                          (HTTP CONNECT); passive mode only. No environment
                          variable is read: only this option sets one
  -p, --parents           mkdir: create the parent folders too
  -h, --help              this text
      --version           print the version and exit

A progress bar is drawn on a terminal only. Exit codes: 0 done, 1 usage,
2 network (refused, timeout, closed, proxy), 3 login refused, 4 the server
refused (4xx/5xx), 5 local file error, 6 TLS, 7 protocol error (also: no digest
command for --verify-hash, a file still differing), 8 mirror or rm -r finished
with failures.
]]

-- Options: long name -> { short letter, kind } where kind is "flag",
-- "number", "string" or "list" (a string, repeatable: the values in order).
local OPTIONS = {
  quiet = { "q", "flag" }, verbose = { "v", "flag" }, continue = { "c", "flag" },
  reverse = { "R", "flag" }, delete = { nil, "flag" }, ["dry-run"] = { nil, "flag" },
  parallel = { "P", "number" }, retries = { nil, "number" }, timeout = { nil, "number" },
  active = { nil, "flag" }, tls = { nil, "flag" }, cacert = { nil, "string" },
  insecure = { nil, "flag" }, encoding = { nil, "string" }, parents = { "p", "flag" },
  proxy = { nil, "string" },
  help = { "h", "flag" }, version = { nil, "flag" }, recursive = { "r", "flag" },
  ["limit-rate"] = { nil, "rate" }, ["verify-hash"] = { nil, "flag" },
  segments = { nil, "number" },
  include = { "I", "list" }, exclude = { "X", "list" }, timezone = { nil, "string" },
}

-- Suffixes of a rate, as curl's --limit-rate takes them.
local RATE_UNITS = { [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3 }

-- Bytes a second from "100K", "2M", "1.5m", "5000": an integer 1 or more, or nil.
local function parse_rate(text)
  local number, unit = tostring(text):match("^(%d+%.?%d*)([kKmMgG]?)$")
  local scale = number and RATE_UNITS[unit:lower()]
  local rate = scale and math.floor(tonumber(number) * scale)
  if rate and rate >= 1 then
    return rate
  end
end

-- For spec/cli/toolbox_cli_spec.lua: every option has its line in USAGE.
function cliargs._options()
  return OPTIONS
end

local BY_LETTER = {}
for long, spec in pairs(OPTIONS) do
  if spec[1] then
    BY_LETTER[spec[1]] = long
  end
end

-- The value of option `long` from its text, or nil, error.
local function option_value(long, text)
  local kind = OPTIONS[long][2]
  if kind == "rate" then
    local rate = text ~= nil and parse_rate(text)
    if not rate then
      return nil, "--" .. long .. " needs a rate such as 500K or 2M, got '" .. tostring(text)
        .. "'"
    end
    return rate
  end
  if kind == "number" then
    local n = tonumber(text)
    if not n or n < 0 then
      return nil, "--" .. long .. " needs a number, got '" .. tostring(text) .. "'"
    end
    return n
  end
  if text == nil then
    return nil, "--" .. long .. " needs a value"
  end
  return text
end

-- Takes option `long` (its value from `inline` or the next argument).
local function take(opts, long, inline, argv, i)
  local key = long:gsub("-", "_")
  if OPTIONS[long][2] == "flag" then
    if inline then
      return nil, "--" .. long .. " takes no value"
    end
    opts[key] = true
    return i
  end
  local text = inline
  if text == nil then
    i = i + 1
    text = argv[i]
  end
  local value, err = option_value(long, text)
  if value == nil then
    return nil, err
  elseif OPTIONS[long][2] == "list" then
    opts[key] = opts[key] or {}
    table.insert(opts[key], value)
  else
    opts[key] = value
  end
  return i
end

-- One argument starting with "-": returns the index of the last argument
-- used, or nil, error.
local function parse_option(opts, argv, i)
  local arg = argv[i]
  local long, inline = arg:match("^%-%-([^=]+)=(.*)$")
  long = long or arg:match("^%-%-(.+)$")
  if long then
    if not OPTIONS[long] then
      return nil, "unknown option --" .. long
    end
    return take(opts, long, inline, argv, i)
  end
  -- Short options, maybe grouped (-qc); one taking a value ends the group.
  for pos = 2, #arg do
    local name = BY_LETTER[arg:sub(pos, pos)]
    if not name then
      return nil, "unknown option -" .. arg:sub(pos, pos)
    end
    local rest = arg:sub(pos + 1)
    if OPTIONS[name][2] ~= "flag" then
      return take(opts, name, rest ~= "" and rest or nil, argv, i)
    end
    take(opts, name, nil, argv, i)
  end
  return i
end

-- {command=, args={...}, opts={...}} or nil, error. "--" ends the options.
function cliargs.parse(argv)
  local opts, words = {}, {}
  local i, options_done = 1, false
  while i <= #argv do
    local arg = argv[i]
    if options_done or arg == "-" or arg:sub(1, 1) ~= "-" then
      words[#words + 1] = arg
    elseif arg == "--" then
      options_done = true
    else
      local last, err = parse_option(opts, argv, i)
      if not last then
        return nil, err
      end
      i = last
    end
    i = i + 1
  end
  if opts.parallel and (opts.parallel < 1 or opts.parallel % 1 ~= 0) then
    return nil, "--parallel needs a whole number of sessions, 1 or more"
  end
  if opts.segments and (opts.segments < 1 or opts.segments > 32 or opts.segments % 1 ~= 0) then
    return nil, "--segments needs a whole number of sessions, 1 to 32"
  end
  if opts.timezone and opts.timezone ~= "auto" and not utc.parse_offset(opts.timezone) then
    return nil, "--timezone needs an offset like +0200 or -05:30, or auto"
  end
  if not words[1] and not opts.help and not opts.version then
    return nil, "no command given"
  end
  return { command = words[1], args = { table.unpack(words, 2) }, opts = opts }
end

return cliargs
