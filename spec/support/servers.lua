-- Real FTP servers for the specs: started on a loopback address with a port picked at
-- run time, serving a fresh temporary folder, stopped and removed by the specs.
--
--   local servers = require "spec.support.servers"
--   servers.kinds()                   --> {"vsftpd", "pyftpdlib"}: those usable here
--   local s = servers.start(kind, opts)  -- raises, with the server's log tail, on failure
--   -- opts.ipv6 = true: listen on ::1 only; opts.delay = seconds: every reply delayed
--   -- (pyftpdlib only, for latency benchmarks); opts.tls: reserved, not yet supported
--   s.kind, s.host, s.port, s.root, s.user, s.passwd, s.greeting
--   s:path("a/b.txt")                 --> absolute path inside s.root
--   s:write("a/b.txt", bytes)         -- create a file (and its folders) as the FTP user would
--   s:mkdir("a/c")                    -- create folders as the FTP user would
--   s:read("a/b.txt")                 --> content, or nil when missing
--   s:url("/a/b.txt", {anonymous = true}) --> "ftp://user:passwd@127.0.0.1:port/a/b.txt"
--   s:log()                           --> tails of the server's logs, for failure messages
--   s:stop()                          -- stop server and children, remove the folder; idempotent
--
-- Logins: s.user / s.passwd may read and write everything under s.root; "anonymous"
-- (any password) may read it. Servers left running are stopped when the Lua state closes,
-- and by their spawn wrapper if the Lua process dies (see proc.spawn).
--
-- Adding a kind (proftpd, a TLS variant): give it an entry in `kinds` below and a place
-- in KIND_ORDER. Start, readiness, retries, stop and clean-up are shared.
local socket = require "socket"
local lfs = require "lfs"
local proc = require "spec.support.proc"

local servers = {}

-- The account scripts/setup-test-env.sh creates for vsftpd (PAM checks real accounts).
-- Public on purpose: the servers listen on loopback only.
servers.USER = "ftplibtest"
servers.PASSWD = "ftplibtest-pw"

local VSFTPD = "/usr/sbin/vsftpd"
-- Debian's python, which has python3-pyftpdlib; `python3` on PATH may be another one.
local PYTHON = "/usr/bin/python3"
local VSFTPD_PAM_SERVICE = "ftplibtest-vsftpd"
local READY_TIMEOUT = 10
local START_ATTEMPTS = 3

local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local SUPPORT_DIR = HERE:sub(1, 1) == "/" and HERE or (lfs.currentdir() .. "/" .. HERE)

local function is_executable(path)
  return lfs.attributes(path, "mode") == "file"
    and os.execute("test -x " .. proc.shell_quote(path)) == true
end

local function account_exists(name)
  local passwd = proc.read_file("/etc/passwd") or ""
  return passwd:find("\n" .. name .. ":", 1, true) ~= nil or passwd:sub(1, #name + 1) == name .. ":"
end

local function write_lines(path, lines)
  proc.write_file(path, table.concat(lines, "\n") .. "\n")
end

local function chown(path, owner)
  proc.run("chown " .. proc.shell_quote(owner .. ":" .. owner) .. " " .. proc.shell_quote(path))
end

-- Each kind: available() (usable on this machine), check() (raise when a prerequisite
-- is missing), configure(s, opts) (files in s.dir), command(s) (argv), features it
-- supports, the system account owning s.root (nil: the server's own, root), and the
-- files in s.dir worth showing when it fails.
local kinds = {}
local KIND_ORDER = { "vsftpd", "pyftpdlib" }

kinds.vsftpd = {
  features = { ipv6 = true },
  owner = servers.USER,
  -- vsftpd exits silently (status 2) on a bad configuration or a port taken: the
  -- configuration itself is the best clue.
  failure_files = { "vsftpd.log", "vsftpd.conf" },
}

function kinds.vsftpd.available()
  return is_executable(VSFTPD)
end

function kinds.vsftpd.check()
  if proc.run("id -u"):match("%d+") ~= "0" then
    error("servers.start(\"vsftpd\"): vsftpd must be started as root", 0)
  end
  local pam_file = "/etc/pam.d/" .. VSFTPD_PAM_SERVICE
  local missing = not account_exists(servers.USER) and ("the account " .. servers.USER)
    or not proc.exists(pam_file) and pam_file
  if missing then
    error("servers.start(\"vsftpd\"): " .. missing
      .. " is missing: run scripts/setup-test-env.sh as root", 0)
  end
end

function kinds.vsftpd.configure(s, opts)
  -- Owned by the FTP user so uploads work. The folder above is root's and 0755, and the
  -- root must not be writable by the anonymous `ftp` account: vsftpd refuses a writable
  -- anonymous chroot.
  chown(s.root, servers.USER)
  -- vsftpd's own empty chroot for its unprivileged helper; /var/run/vsftpd/empty may
  -- be missing on a machine where vsftpd never ran as a service.
  local empty = s.dir .. "/empty"
  assert(lfs.mkdir(empty))
  local listen = opts.ipv6
      and { "listen=NO", "listen_ipv6=YES", "listen_address6=" .. s.host }
      or { "listen=YES", "listen_ipv6=NO", "listen_address=" .. s.host }
  local lines = {
    "listen_port=" .. s.port,
    "background=NO",
    -- Containers: no new network namespace per session, no seccomp filter (its rules
    -- break on some kernels and libc versions).
    "isolate=NO",
    "isolate_network=NO",
    "seccomp_sandbox=NO",
    "secure_chroot_dir=" .. empty,
    -- Local user: real PAM check, through a service that admits this account only.
    "local_enable=YES",
    "pam_service_name=" .. VSFTPD_PAM_SERVICE,
    "userlist_enable=NO",
    "local_root=" .. s.root,
    "chroot_local_user=NO",
    "write_enable=YES",
    -- Uploaded files readable by anonymous and by the specs.
    "local_umask=022",
    -- Anonymous: read-only on the same folder, no password asked.
    "anonymous_enable=YES",
    "no_anon_password=YES",
    "anon_root=" .. s.root,
    "anon_upload_enable=NO",
    "anon_mkdir_write_enable=NO",
    "allow_writeable_chroot=YES",
    -- Both data connection modes; PORT/EPRT from an unprivileged port, as root is not
    -- needed for that and port 20 may be taken.
    "pasv_enable=YES",
    "port_enable=YES",
    "connect_from_port_20=NO",
    -- A failed login costs no time in specs.
    "delay_failed_login=0",
    "ssl_enable=NO",
    "xferlog_enable=YES",
    "xferlog_file=" .. s.dir .. "/xferlog",
    "vsftpd_log_file=" .. s.dir .. "/vsftpd.log",
    "dual_log_enable=YES",
    "log_ftp_protocol=YES",
  }
  table.move(lines, 1, #lines, #listen + 1, listen)
  s.config = s.dir .. "/vsftpd.conf"
  write_lines(s.config, listen)
end

function kinds.vsftpd.command(s)
  return { VSFTPD, s.config }
end

kinds.pyftpdlib = {
  features = { ipv6 = true, delay = true },
  failure_files = {},
}

local pyftpdlib_usable -- cached: the import check takes a tenth of a second
function kinds.pyftpdlib.available()
  if pyftpdlib_usable == nil then
    pyftpdlib_usable = is_executable(PYTHON)
      and os.execute(PYTHON .. " -c 'import pyftpdlib' >/dev/null 2>&1") == true
  end
  return pyftpdlib_usable
end

function kinds.pyftpdlib.check() end

function kinds.pyftpdlib.configure() end

function kinds.pyftpdlib.command(s, opts)
  local argv = {
    PYTHON, SUPPORT_DIR .. "/pyftpd_server.py",
    "--host", s.host, "--port", tostring(s.port), "--root", s.root,
    "--user", s.user, "--passwd", s.passwd,
  }
  if opts.delay then
    table.move({ "--delay", tostring(opts.delay) }, 1, 2, #argv + 1, argv)
  end
  return argv
end

--- The kinds of server usable on this machine, in a fixed order. The environment
-- variable FTPLIB_TEST_SERVERS (e.g. "pyftpdlib") narrows the list.
function servers.kinds()
  local wanted = os.getenv("FTPLIB_TEST_SERVERS")
  wanted = wanted and (" " .. wanted:gsub(",", " ") .. " ")
  local list = {}
  for _, name in ipairs(KIND_ORDER) do
    local selected = not wanted or wanted:find(" " .. name .. " ", 1, true)
    if selected and kinds[name].available() then list[#list + 1] = name end
  end
  return list
end

--- True when this machine can listen on ::1.
function servers.ipv6_available()
  local sock = socket.tcp6()
  if not sock then return false end
  local ok = sock:bind("::1", 0)
  sock:close()
  return ok == 1 or ok == true
end

local Server = {}
Server.__index = Server

function Server:path(relative)
  relative = (relative or ""):gsub("^/+", "")
  if relative == "" then return self.root end
  return self.root .. "/" .. relative
end

-- Makes the folders of `relative` (itself included when `include_last`), owned like
-- the server's own files.
function Server:_make_dirs(relative, include_last)
  local parts = {}
  for part in relative:gmatch("[^/]+") do parts[#parts + 1] = part end
  if not include_last then parts[#parts] = nil end
  local path = self.root
  for _, part in ipairs(parts) do
    path = path .. "/" .. part
    if not proc.exists(path) then
      assert(lfs.mkdir(path))
      if self.owner then chown(path, self.owner) end
    end
  end
end

function Server:mkdir(relative)
  self:_make_dirs(relative, true)
  return self:path(relative)
end

function Server:write(relative, content)
  self:_make_dirs(relative, false)
  local path = self:path(relative)
  proc.write_file(path, content)
  if self.owner then chown(path, self.owner) end
  return path
end

function Server:read(relative)
  return proc.read_file(self:path(relative))
end

--- An ftp:// URL for `path` on this server, with the test user's credentials unless
-- opts.anonymous.
function Server:url(path, opts)
  local host = self.host:find(":") and ("[" .. self.host .. "]") or self.host
  local login = (opts and opts.anonymous) and "" or (self.user .. ":" .. self.passwd .. "@")
  path = path or "/"
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  return ("ftp://%s%s:%d%s"):format(login, host, self.port, path)
end

--- Tails of the server's logs: its stdout/stderr and the kind's own files.
function Server:log(max_lines)
  local parts = { "--- " .. self.log_file .. "\n" .. proc.tail(self.log_file, max_lines) }
  for _, name in ipairs(kinds[self.kind].failure_files) do
    local path = self.dir .. "/" .. name
    parts[#parts + 1] = "--- " .. path .. "\n" .. proc.tail(path, max_lines)
  end
  return table.concat(parts, "\n")
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  proc.unregister(self)
  if self.process then self.process:stop() end
  if proc.exists(self.dir) then proc.rmtree(self.dir) end
end

-- Reads the first line in short slices, checking in between that the server still
-- runs: whatever accepted the connection may not be our server (another process may
-- have taken the port), and a server made slow with opts.delay greets late.
local function read_greeting(s, sock)
  local deadline = socket.gettime() + READY_TIMEOUT
  local partial = ""
  sock:settimeout(0.2)
  while true do
    local line, err, received = sock:receive("*l", partial)
    if line then return line end
    if err ~= "timeout" then return nil, err end
    partial = received
    if not s.process:alive() then return false, "the server process exited" end
    if socket.gettime() > deadline then return nil, "no greeting line" end
  end
end

-- Connects and reads the greeting. Returns the greeting line; nil and a reason to keep
-- waiting; or false and a reason to give up (the process died or greeted with an error).
local function probe(s)
  if not s.process:alive() then return false, "the server process exited" end
  local sock = s.host:find(":") and socket.tcp6() or socket.tcp4()
  sock:settimeout(1)
  local ok, err = sock:connect(s.host, s.port)
  if not ok then
    sock:close()
    return nil, err
  end
  local line, read_err = read_greeting(s, sock)
  sock:close()
  if not line then return line, read_err end
  if line:match("^220") then return line end
  return false, "the server greeted with: " .. line
end

local function wait_ready(s)
  local deadline = socket.gettime() + READY_TIMEOUT
  local reason
  repeat
    local greeting
    greeting, reason = probe(s)
    if greeting then return greeting end
    if greeting == false then return nil, reason end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return nil, "no greeting within " .. READY_TIMEOUT .. " s (last: " .. tostring(reason) .. ")"
end

local function new_server(kind, opts)
  local host = opts.ipv6 and "::1" or "127.0.0.1"
  local dir = proc.tempdir(kind)
  local s = setmetatable({
    kind = kind,
    host = host,
    port = proc.free_port(host),
    dir = dir,
    root = dir .. "/root",
    user = servers.USER,
    passwd = servers.PASSWD,
    owner = kinds[kind].owner,
    log_file = dir .. "/server.log",
  }, Server)
  assert(lfs.mkdir(s.root))
  return s
end

-- Whether nobody listens on `port` now: after a failed start, tells a port taken by
-- another process since proc.free_port (worth another try) from any other failure.
local function port_is_free(host, port)
  local sock = host:find(":") and socket.tcp6() or socket.tcp4()
  sock:setoption("reuseaddr", true) -- a TIME_WAIT left by the probes is no listener
  local ok = sock:bind(host, port)
  sock:close()
  return ok == 1
end

-- One start on one port. Returns the server, or nil, a report, and whether the failure
-- looks like a port taken meanwhile (worth another port).
local function try_start(kind, opts)
  local definition = kinds[kind]
  local s = new_server(kind, opts)
  local ok, err = pcall(definition.configure, s, opts)
  if ok then
    ok, err = pcall(function()
      s.process = proc.spawn(definition.command(s, opts), { log = s.log_file, cleanup = s.dir })
    end)
  end
  if not ok then
    s:stop()
    return nil, tostring(err), false
  end
  local greeting, reason = wait_ready(s)
  if greeting then
    s.greeting = greeting
    proc.register(s)
    return s
  end
  local report = reason .. "\n" .. s:log(60)
  s:stop()
  return nil, report, not port_is_free(s.host, s.port)
end

local function check_options(kind, opts)
  local definition = kinds[kind]
  if not definition then
    error("servers.start: unknown kind " .. tostring(kind), 3)
  end
  if not definition.available() then
    error("servers.start: " .. kind .. " is not installed on this machine", 3)
  end
  for _, feature in ipairs({ "ipv6", "tls", "delay" }) do
    if opts[feature] and not definition.features[feature] then
      error(("servers.start: %s does not support opts.%s yet"):format(kind, feature), 3)
    end
  end
  definition.check()
end

--- Starts a server of `kind`. Raises, with the server's log tail, if it cannot.
function servers.start(kind, opts)
  opts = opts or {}
  check_options(kind, opts)
  local report
  for attempt = 1, START_ATTEMPTS do
    local s, err, port_taken = try_start(kind, opts)
    if s then return s end
    report = ("attempt %d: %s"):format(attempt, err)
    if not port_taken then break end
  end
  error("servers.start(\"" .. kind .. "\"): the server did not start: " .. report, 2)
end

return servers
