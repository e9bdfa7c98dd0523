-- Connections through a proxy (the `proxy` option): the tunnel a SOCKS5
-- proxy (RFC 1928, user and password as RFC 1929) or an HTTP proxy (CONNECT)
-- opens to the server, for the control connection and the passive data
-- connections. The handshake runs on the connected socket before it carries
-- FTP or TLS (core.raw_send, core.raw_recv), so TLS runs end to end through
-- the tunnel. The proxy is untrusted like a server: its bytes are read in
-- bounded pieces, never past its reply, within the deadline, and a refusal
-- or garbage is an error "proxy", never raised.
local core = require "ftplib.core"
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"

local proxy = {}

-- The largest HTTP reply header taken from a proxy.
local HTTP_HEADER_MAX = 16384
-- The most peeked at once while looking for the end of that header.
local PEEK = 4096

local function send_step(obj, text, i)
  return core.raw_send(obj:_fd(), text, i)
end

local function recv_step(obj, n, peek)
  return core.raw_recv(obj:_fd(), n, peek)
end

local function failure(p, why, code)
  return nil, string.format("proxy %s: %s", p.masked, why), code or "proxy"
end

local function send_all(obj, p, text, deadline)
  local i = 1
  while i <= #text do
    local sent, err, code = wait.until_done(obj, deadline, send_step, text, i)
    if not sent then
      return failure(p, "sending the handshake: " .. err, code)
    end
    i = i + sent
  end
  return true
end

-- Exactly n bytes of the proxy's reply: the bytes after it are the server's.
local function recv_exact(obj, p, n, deadline)
  local parts, have = {}, 0
  while have < n do
    local chunk, err, code = wait.until_done(obj, deadline, recv_step, n - have)
    if not chunk then
      return failure(p, "waiting for its reply: " .. err, code)
    end
    if chunk == "" then
      return failure(p, "closed the connection during its reply")
    end
    parts[#parts + 1] = chunk
    have = have + #chunk
  end
  return table.concat(parts)
end

-- Addresses as SOCKS5 sends them -------------------------------------------

local function ipv4_bytes(text)
  local parts = { text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
  if #parts ~= 4 then
    return nil
  end
  for i, part in ipairs(parts) do
    parts[i] = tonumber(part)
    if parts[i] > 255 then
      return nil
    end
  end
  return string.char(table.unpack(parts))
end

-- The 16-bit groups of "a:b:c", {} for "", nil when one is not hex.
local function hex_groups(text)
  local groups = {}
  if text == "" then
    return groups
  end
  for group in (text .. ":"):gmatch("([^:]*):") do
    if not group:match("^%x%x?%x?%x?$") then
      return nil
    end
    groups[#groups + 1] = tonumber(group, 16)
  end
  return groups
end

local function ipv6_bytes(text)
  text = text:gsub("%%.*$", "") -- a zone (fe80::1%eth0) is the proxy's business
  local head, v4 = text:match("^(.*:)(%d+%.%d+%.%d+%.%d+)$")
  if v4 then
    local b = ipv4_bytes(v4)
    if not b then
      return nil
    end
    text = head .. string.format("%x:%x", b:byte(1) * 256 + b:byte(2), b:byte(3) * 256 + b:byte(4))
  end
  local left, right = text:match("^(.-)::(.*)$")
  local groups, after = hex_groups(left or text), hex_groups(right or "")
  if not text:find(":", 1, true) or not groups or not after then
    return nil
  end
  local missing = 8 - #groups - #after
  if missing < (left and 1 or 0) or (not left and missing ~= 0) then
    return nil
  end
  for _ = 1, missing do
    groups[#groups + 1] = 0
  end
  table.move(after, 1, #after, #groups + 1, groups)
  return string.pack(">" .. string.rep("I2", 8), table.unpack(groups))
end

-- ATYP and DST.ADDR: an IP as one, a name for the proxy to resolve.
local function socks5_address(host)
  local v4 = ipv4_bytes(host)
  if v4 then
    return "\1" .. v4
  end
  local v6 = ipv6_bytes(host)
  if v6 then
    return "\4" .. v6
  end
  if #host > 255 then
    return nil
  end
  return "\3" .. string.char(#host) .. host
end

-- SOCKS5 -----------------------------------------------------------------------

-- RFC 1928's reply codes.
local SOCKS5_REPLIES = {
  [1] = "general SOCKS server failure", [2] = "connection not allowed by ruleset",
  [3] = "network unreachable", [4] = "host unreachable", [5] = "connection refused",
  [6] = "TTL expired", [7] = "command not supported", [8] = "address type not supported",
}

-- Sends message, then reads the n bytes of the proxy's answer: them, or
-- nil, msg, code.
local function exchange(obj, p, message, n, deadline)
  local ok, err, code = send_all(obj, p, message, deadline)
  if not ok then
    return nil, err, code
  end
  return recv_exact(obj, p, n, deadline)
end

local function socks5_password(obj, p, deadline)
  local reply, err, code = exchange(obj, p, string.pack("Bs1s1", 1, p.user, p.password), 2,
    deadline)
  if not reply then
    return nil, err, code
  end
  if reply:byte(1) ~= 1 then
    return failure(p, "malformed answer to the user name and password")
  end
  if reply:byte(2) ~= 0 then
    return failure(p, "refused the user name and password")
  end
  return true
end

-- The method negotiation: none, or user and password when the URL has them.
local function socks5_auth(obj, p, deadline)
  local methods = p.user and "\0\2" or "\0"
  local reply, err, code = exchange(obj, p, "\5" .. string.char(#methods) .. methods, 2,
    deadline)
  if not reply then
    return nil, err, code
  end
  local version, method = reply:byte(1, 2)
  if version ~= 5 then
    return failure(p, string.format("not a SOCKS5 proxy (version %d)", version))
  elseif method == 0 then
    return true
  elseif method == 2 and p.user then
    return socks5_password(obj, p, deadline)
  elseif method == 0xff then
    return failure(p, p.user and "accepts no authentication method we offer"
      or "wants authentication (user:password in the proxy URL)")
  end
  return failure(p, string.format("chose an authentication method not offered (%d)", method))
end

-- The reply to CONNECT, read to its end: VER REP RSV ATYP BND.ADDR BND.PORT.
local function socks5_reply(obj, p, deadline)
  local head, err, code = recv_exact(obj, p, 5, deadline) -- up to BND.ADDR's first byte
  if not head then
    return nil, err, code
  end
  local version, reply, _, atyp, first = head:byte(1, 5)
  if version ~= 5 then
    return failure(p, string.format("malformed SOCKS5 reply (version %d)", version))
  end
  if reply ~= 0 then
    return failure(p, string.format("SOCKS5 reply %d: %s", reply,
      SOCKS5_REPLIES[reply] or "unknown failure"))
  end
  local rest = ({ [1] = 4 - 1 + 2, [4] = 16 - 1 + 2, [3] = first + 2 })[atyp]
  if not rest then
    return failure(p, string.format("malformed SOCKS5 reply (address type %d)", atyp))
  end
  local tail
  tail, err, code = recv_exact(obj, p, rest, deadline)
  if not tail then
    return nil, err, code
  end
  return true
end

local function socks5_connect(obj, p, host, port, deadline)
  local address = socks5_address(host)
  if not address then
    return failure(p, "host name over 255 bytes, too long for SOCKS5")
  end
  local ok, err, code = socks5_auth(obj, p, deadline)
  if ok then
    ok, err, code = send_all(obj, p, "\5\1\0" .. address .. string.pack(">I2", port), deadline)
  end
  if ok then
    ok, err, code = socks5_reply(obj, p, deadline)
  end
  return ok, err, code
end

-- HTTP CONNECT ------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(text)
  return (text:gsub("..?.?", function(group)
    local a, b, c = group:byte(1, 3)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local out = {}
    for i = 1, 4 do
      local index = (n >> (6 * (4 - i))) & 63
      out[i] = i <= #group + 1 and B64:sub(index + 1, index + 1) or "="
    end
    return table.concat(out)
  end))
end

local function http_request(p, host, port)
  local target = (host:find(":", 1, true) and "[" .. host .. "]" or host) .. ":" .. port
  local lines = { "CONNECT " .. target .. " HTTP/1.1", "Host: " .. target }
  if p.user then
    lines[#lines + 1] = "Proxy-Authorization: Basic " .. base64(p.user .. ":" .. p.password)
  end
  lines[#lines + 1] = "\r\n"
  return table.concat(lines, "\r\n")
end

-- The reply header, up to and with the empty line that ends it, and not a
-- byte more: what the proxy sends after it is the server's. Peeked first,
-- then taken: all that was peeked when the end is not in it, so that the
-- next wait is for new bytes.
local function http_header(obj, p, deadline)
  local got = ""
  while true do
    local peeked, err, code = wait.until_done(obj, deadline, recv_step, PEEK, true)
    if not peeked then
      return failure(p, "waiting for its reply: " .. err, code)
    elseif peeked == "" then
      return failure(p, "closed the connection during its reply")
    end
    local _, stop = (got .. peeked):find("\n\r?\n", math.max(1, #got - 2))
    local want = stop and stop - #got or #peeked
    local taken
    taken, err, code = wait.until_done(obj, deadline, recv_step, want)
    if not taken then
      return failure(p, "waiting for its reply: " .. err, code)
    end
    got = got .. taken
    if stop and #taken == want then
      return got
    elseif #got > HTTP_HEADER_MAX then
      return failure(p, string.format("reply header over %d bytes", HTTP_HEADER_MAX), "limit")
    end
  end
end

local function http_connect(obj, p, host, port, deadline)
  local ok, err, code = send_all(obj, p, http_request(p, host, port), deadline)
  if not ok then
    return nil, err, code
  end
  local header
  header, err, code = http_header(obj, p, deadline)
  if not header then
    return nil, err, code
  end
  local status_line = checks.escape(header:match("^[^\r\n]*"):sub(1, 200))
  local status = tonumber(status_line:match("^HTTP/1%.[01] (%d%d%d)"))
  if not status then
    return failure(p, "not an HTTP reply: " .. status_line)
  elseif status == 407 or status == 401 then -- tinyproxy answers 401
    return failure(p, (p.user and "refused the user name and password: "
      or "wants authentication (user:password in the proxy URL): ") .. status_line)
  elseif status // 100 ~= 2 then
    return failure(p, "refused the tunnel: " .. status_line)
  end
  return true
end

-- The tunnel -----------------------------------------------------------------

-- Asks the proxy p (a table from parsers/url.lua's parse_proxy) that obj (an FTP
-- or Data object, connected to the proxy) is connected on to host:port:
-- true once the tunnel is open, or nil, msg, code ("proxy" for a refusal
-- or garbage, "limit", "timeout", "closed").
function proxy.tunnel(obj, p, host, port, deadline)
  if host:find("[%c%s]") then
    return failure(p, "host name with spaces or control characters: " .. checks.escape(host))
  end
  if p.scheme == "http" then
    return http_connect(obj, p, host, port, deadline)
  end
  return socks5_connect(obj, p, host, port, deadline)
end

-- What to ask the proxy for, in turn: { {host=, family=}, ... }. socks5
-- resolves the name here and asks for each address; socks5h and http pass
-- the name on, the proxy resolves it.
function proxy.targets(p, host, port)
  if p.scheme ~= "socks5" then
    return { { host = host, family = host:find(":", 1, true) and "inet6" or "inet" } }
  end
  local addrs, err, code = core.resolve(host, tostring(port))
  if not addrs then
    return nil, string.format("cannot resolve %s: %s", host, err), code
  end
  return addrs
end

-- A passive data connection of session ftp through its proxy, to
-- host:port: a Data object, or nil, msg, code.
function proxy.connect_data(ftp, host, port)
  local data = core.Data_new()
  data.timeout = ftp.timeout
  local deadline = ftp:_deadline()
  local ok, err, code = data:_connect(ftp._proxy_sa)
  if ok == false then
    ok, err, code = wait.until_done(data, deadline, data._connected)
  end
  if not ok then
    err = string.format("cannot connect to proxy %s: %s", ftp._proxy.masked, err)
  else
    ok, err, code = proxy.tunnel(data, ftp._proxy, host, port, deadline)
  end
  if not ok then
    data:_close()
    return nil, string.format("data connection to %s port %d: %s", host, port, err), code
  end
  return data
end

return proxy
