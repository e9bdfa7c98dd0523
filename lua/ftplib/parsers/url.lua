-- FTP URLs (RFC 1738, read as curl reads them): a pure parser, tested on
-- text. See lua/ftplib/ops/url.lua for what the parts mean to get and put.
local checks = require "ftplib.base.checks"

local urlparse = {}

-- Percent-decoding; a % not followed by two hex digits is an error.
local function unescape(text, what)
  if text:gsub("%%%x%x", ""):find("%", 1, true) then
    -- A password is not repeated in an error message.
    checks.raise("malformed percent-escape in the URL's " .. what
      .. (what == "password" and "" or ": " .. text))
  end
  local decoded = text:gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end)
  if decoded:find("[\r\n%z]") then
    checks.raise("the URL's " .. what .. " holds CR, LF or NUL")
  end
  return decoded
end

local DEFAULT_PORTS = { ftp = 21, ftps = 990 }

-- text with the password of any URL in it replaced by ***: for messages.
function urlparse.masked(text)
  return (tostring(text):gsub("(%a[%w+.-]*://[^/@%s:]*):[^/@%s]*@", "%1:***@"))
end

-- host and port of "host", "host:port", "[v6]" or "[v6]:port" (default:
-- the scheme's port).
local function host_port(text, scheme, default_ports)
  local host, rest = text:match("^%[([%x:.]+)%](.*)$")
  if not host then
    host, rest = text:match("^([^:]*)(.*)$")
  end
  local port = rest:match("^:(%d+)$")
  if host == "" or (rest ~= "" and not port and rest ~= ":") then
    checks.raise("malformed host in URL: " .. text)
  end
  port = math.tointeger(tonumber(port))
  if port and (port < 1 or port > 65535) then
    checks.raise("port out of range (1 to 65535) in URL: " .. text)
  end
  return host, port or (default_ports or DEFAULT_PORTS)[scheme]
end

-- The server path of the URL's path (after the / that ends the host).
local function server_path(raw)
  local segments, absolute = {}, false
  local first = true
  for segment in (raw .. "/"):gmatch("([^/]*)/") do
    if first and segment == "" and raw ~= "" then
      absolute = true
    elseif segment ~= "" then
      segments[#segments + 1] = unescape(segment, "path")
    end
    first = false
  end
  return (absolute and "/" or "") .. table.concat(segments, "/")
end

-- The parts of an ftp:// or ftps:// URL: scheme, user, password (nil when
-- absent), host, port, path (server path, "" for the login folder),
-- dir_only (the URL ends with /), type ("a", "i" or "d").
function urlparse.parse(text)
  local scheme, rest = text:match("^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and scheme:lower()
  if not DEFAULT_PORTS[scheme] then
    checks.raise("not an ftp:// or ftps:// URL: " .. urlparse.masked(text))
  end
  local authority, raw_path = rest:match("^([^/]*)/?(.*)$")
  local userinfo, hostport = authority:match("^(.*)@(.-)$")
  local parts = { scheme = scheme }
  parts.host, parts.port = host_port(hostport or authority, scheme)
  if userinfo and userinfo ~= "" then
    local user, password = userinfo:match("^([^:]*):(.*)$")
    parts.user = unescape(user or userinfo, "user")
    parts.password = password and unescape(password, "password")
  end
  local kind = raw_path:match(";[Tt][Yy][Pp][Ee]=(%a)$")
  raw_path = raw_path:gsub(";[Tt][Yy][Pp][Ee]=%a$", "")
  parts.type = kind and kind:lower() or "i"
  if not (parts.type == "a" or parts.type == "i" or parts.type == "d") then
    checks.raise("unknown ;type= in URL (a, i or d): " .. kind)
  end
  parts.path = server_path(raw_path)
  parts.dir_only = parts.path == "" or raw_path:sub(-1) == "/"
  return parts
end

-- Proxies: SOCKS5 (the client resolves names), SOCKS5 with names resolved by
-- the proxy, HTTP CONNECT; 1080 by default, as curl has it.
local PROXY_PORTS = { socks5 = 1080, socks5h = 1080, http = 1080 }

-- The parts of a proxy URL, "socks5://user:pass@host:port": scheme, host,
-- port, user and password (nil when absent), and the URL with its password
-- masked (for messages). Raises for another form: the URL is the script's.
function urlparse.parse_proxy(text)
  local scheme, authority, tail = text:match("^(%a[%w+.-]*)://([^/]*)(.*)$")
  scheme = scheme and scheme:lower()
  if not PROXY_PORTS[scheme] or (tail ~= "" and tail ~= "/") then
    checks.raise("not a socks5://, socks5h:// or http:// proxy URL: " .. urlparse.masked(text))
  end
  local userinfo, hostport = authority:match("^(.*)@(.-)$")
  local parts = { scheme = scheme }
  parts.host, parts.port = host_port(hostport or authority, scheme, PROXY_PORTS)
  local shown = ""
  if userinfo then
    local user, password = userinfo:match("^([^:]*):(.*)$")
    parts.user = unescape(user or userinfo, "user")
    parts.password = unescape(password or "", "password")
    shown = (user or userinfo) .. (password and ":***" or "") .. "@"
  end
  parts.masked = scheme .. "://" .. shown .. (hostport or authority)
  if scheme ~= "http" and parts.user and (#parts.user < 1 or #parts.user > 255
      or #parts.password > 255) then
    checks.raise("a SOCKS5 user name must have 1 to 255 bytes, a password at most 255: "
      .. parts.masked)
  end
  return parts
end

return urlparse
