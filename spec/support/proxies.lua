-- Real proxies for the specs of the `proxy` option: started on 127.0.0.1 with a port
-- picked at run time, their files in a temporary folder, stopped by the specs (and
-- when the Lua state closes, like the servers of spec/support/servers.lua).
--
--   local proxies = require "spec.support.proxies"
--   proxies.available("socks5")        --> whether microsocks is installed
--   proxies.available("http")          --> whether tinyproxy is installed
--   local p = proxies.start("socks5", { auth = true })  -- raises, with its log, on failure
--   p.kind, p.host, p.port, p.user, p.passwd
--   p:url()                            --> "socks5://user:pw@127.0.0.1:port" (no login
--                                      --   unless started with auth)
--   p:url({ scheme = "socks5h", user = "x", passwd = "y" })  -- another scheme, login
--   p:log([max_lines])                 --> its log (the last lines only, with max_lines)
--   p:stop()                           -- idempotent
--   local f = proxies.start_fake("http-stall")  -- spec/support/fake_proxy.py: a
--                                      --   hostile proxy answering as the mode says
--   f:url()                            --> "http://..." or "socks5://..." after the mode
--
-- Kinds: "socks5" is microsocks (SOCKS5, with user and password when opts.auth),
-- "http" is tinyproxy (HTTP CONNECT to any port, Basic authentication when opts.auth).
-- Both from Debian (scripts/setup.sh installs them).
local socket = require "socket"
local proc = require "spec.support.proc"

local proxies = {}

-- The login a proxy started with opts.auth wants. Public: loopback only.
proxies.USER, proxies.PASSWD = "proxyuser", "proxy-pw"

local READY_TIMEOUT = 10

local BINARIES = { socks5 = "/usr/bin/microsocks", http = "/usr/bin/tinyproxy" }
local SCHEMES = { socks5 = "socks5", http = "http" }

function proxies.available(kind)
  local file = BINARIES[kind] and io.open(BINARIES[kind])
  if file then
    file:close()
    return true
  end
  return false
end

local function tinyproxy_config(p, auth)
  -- No ConnectPort line: CONNECT is allowed to any port (FTP's data ports are
  -- the server's choice).
  local lines = {
    "Port " .. p.port, "Listen 127.0.0.1", "Timeout 30", "MaxClients 64",
    "LogFile \"" .. p.log_file .. ".tinyproxy\"", "LogLevel Info",
    "PidFile \"" .. p.dir .. "/tinyproxy.pid\"", "Allow 127.0.0.1",
  }
  if auth then
    lines[#lines + 1] = ("BasicAuth %s %s"):format(proxies.USER, proxies.PASSWD)
  end
  local path = p.dir .. "/tinyproxy.conf"
  proc.write_file(path, table.concat(lines, "\n") .. "\n")
  return path
end

local function command(p, auth)
  if p.kind == "http" then
    return { BINARIES.http, "-d", "-c", tinyproxy_config(p, auth) }
  end
  local argv = { BINARIES.socks5, "-i", "127.0.0.1", "-p", tostring(p.port) }
  if auth then
    table.move({ "-u", proxies.USER, "-P", proxies.PASSWD }, 1, 4, #argv + 1, argv)
  end
  return argv
end

local Proxy = {}
Proxy.__index = Proxy

--- The proxy's URL: its scheme (or opts.scheme), the login it was started with (or
-- opts.user and opts.passwd; opts.user = false: none), its address.
function Proxy:url(opts)
  opts = opts or {}
  local user, passwd = self.user, self.passwd
  if opts.user ~= nil then -- false: none
    user, passwd = opts.user, opts.passwd
  end
  local login = user and (user .. ":" .. passwd .. "@") or ""
  return ("%s://%s%s:%d"):format(opts.scheme or SCHEMES[self.kind], login, self.host, self.port)
end

-- Its logs (stdout and stderr; tinyproxy's own file), whole, or the last max_lines
-- lines of each.
function Proxy:log(max_lines)
  local parts = {}
  for _, path in ipairs { self.log_file, self.log_file .. ".tinyproxy" } do
    if proc.exists(path) then
      parts[#parts + 1] = max_lines and proc.tail(path, max_lines) or proc.read_file(path)
    end
  end
  return table.concat(parts, "\n")
end

function Proxy:stop()
  if self.stopped then return end
  self.stopped = true
  proc.unregister(self)
  if self.process then self.process:stop() end
  if proc.exists(self.dir) then proc.rmtree(self.dir) end
end

local function listening(p)
  local sock = socket.tcp4()
  sock:settimeout(0.5)
  local ok = sock:connect(p.host, p.port)
  sock:close()
  return ok == 1
end

-- One start on a port free a moment ago: the proxy, or nil and its log (another
-- process may have taken the port meanwhile: the proxy then exits).
local function try_start(kind, opts)
  local dir = proc.tempdir("proxy-" .. kind)
  local p = setmetatable({
    kind = kind, host = "127.0.0.1", port = proc.free_port("127.0.0.1"), dir = dir,
    log_file = dir .. "/proxy.log",
  }, Proxy)
  if opts.auth then
    p.user, p.passwd = proxies.USER, proxies.PASSWD
  end
  p.process = proc.spawn(command(p, opts.auth), { log = p.log_file, cleanup = dir })
  proc.register(p)
  local deadline = socket.gettime() + READY_TIMEOUT
  while not (listening(p) and p.process:alive()) do
    if socket.gettime() > deadline or not p.process:alive() then
      local log = p:log(40)
      p:stop()
      return nil, log
    end
    socket.sleep(0.05)
  end
  return p
end

--- Starts a proxy of `kind` ("socks5" or "http"); opts.auth = true: it wants
-- proxies.USER and proxies.PASSWD. Raises, with its log, if it does not listen.
function proxies.start(kind, opts)
  assert(proxies.available(kind), "proxies.start: no " .. tostring(kind) .. " proxy here")
  local log
  for _ = 1, 3 do
    local p
    p, log = try_start(kind, opts or {})
    if p then return p end
  end
  error("proxies.start(\"" .. kind .. "\"): not listening:\n" .. log, 2)
end

local FAKE_PROXY = debug.getinfo(1, "S").source:gsub("^@", ""):gsub("[^/]*$", "")
  .. "fake_proxy.py"

--- Starts spec/support/fake_proxy.py in `mode` (see there). Raises if it does not start.
function proxies.start_fake(mode)
  local dir = proc.tempdir("fake-proxy")
  local p = setmetatable({
    kind = mode:match("^http") and "http" or "socks5", host = "127.0.0.1", dir = dir,
    log_file = dir .. "/proxy.log",
  }, Proxy)
  local portfile = dir .. "/port"
  p.process = proc.spawn({ "python3", FAKE_PROXY, mode, portfile },
    { log = p.log_file, cleanup = dir })
  proc.register(p)
  local port = proc.wait_for_file(portfile, READY_TIMEOUT,
    function() return not p.process:alive() end)
  if not port then
    local log = p:log(40)
    p:stop()
    error("proxies.start_fake(\"" .. mode .. "\"): did not start:\n" .. log, 2)
  end
  p.port = tonumber(port)
  return p
end

return proxies
