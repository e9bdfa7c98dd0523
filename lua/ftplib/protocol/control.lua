-- The control connection: connect, commands out, replies in, debug output,
-- quit and close; login and its steps. Its methods are assembled into the
-- FTP class by class.lua.
local core = require "ftplib.core"
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

-- The proxy module, loaded by the first session that has a proxy: most
-- never do, and it is the largest of the protocol modules.
local function proxy()
  return require "ftplib.protocol.proxy"
end
local now = wait.now

--- An FTP session: the object @{ftplib.FTP} makes. Its methods follow Python's
-- `ftplib`; the @{helpers} (`list`, `walk`, `download`, `upload`, `download_many`,
-- `mirror`, `mirror_up`) are methods too. An @{FTP_TLS} session is an FTP object
-- with TLS, and has every method here.
--
-- Runtime failures return `nil, message, code` (@{errors.md|Errors}); a method
-- answering a reply returns its text and code (`"250 OK."`, 250). Methods raise for
-- wrong argument types, for CR, LF or NUL in a command or name (nothing is sent), and
-- when called on a session that was never connected or was closed with
-- @{FTP:close}. After a failure of the control connection itself (timeout, drop,
-- malformed or over-long reply) the session is closed, and later calls answer
-- `nil, "not connected: ...", "closed"` until @{FTP:connect}.
--
-- In a `<close>` variable a session sends QUIT (waiting at most 5 s) and closes when
-- the scope ends; `tostring(ftp)` shows the peer, or that it is closed.
-- @classmod FTP
-- @usage local ftp <close> = assert(ftplib.FTP("ftp.example.org", { user = "me", passwd = "pw" }))
-- for _, name in ipairs(assert(ftp:nlst("pub"))) do print(name) end

--- Connection and login.
-- @section connection

--- Commands and replies.
-- @section commands

--- Debug output and timeouts.
-- @section debug

local control = {}

-- Debug lines go to this function unless the object has its own.
function control.default_debugfunc(line)
  io.stderr:write(line, "\n")
end

-- PASS and ACCT arguments never reach debug output, in any letter case.
local function mask(line)
  local verb = line:match("^%s*(%a+)")
  if verb and (verb:upper() == "PASS" or verb:upper() == "ACCT") then
    return verb .. " ****"
  end
  return line
end

function FTP:_debug(level, what, text)
  if (self.debuglevel or 0) >= level then
    local out = self.debugfunc or control.default_debugfunc
    out(string.format("*%s* '%s'", what, checks.escape(text)))
  end
end

--- Sets the debug level, as in Python's ftplib: 0 shows nothing; 1 every command
-- (`*cmd*`) and reply (`*resp*`); 2 or more also each line as it goes out (`*put*`,
-- with its CRLF) and each reply line as it came (`*get*`). PASS and ACCT arguments
-- are masked at every level. Lines go to the session's debug function
-- (@{FTP:set_debugfunc}).
-- @tparam number level
function FTP:set_debuglevel(level)
  self.debuglevel = checks.check("set_debuglevel", 1, level, "number")
end

--- The same as @{FTP:set_debuglevel} (Python's name).
-- @function debug
-- @tparam number level
FTP.debug = FTP.set_debuglevel

--- Sets where this session's debug lines go.
-- @tparam ?function fn called with each line; `nil`: the module's default
-- (@{ftplib.set_debugfunc})
function FTP:set_debugfunc(fn)
  self.debugfunc = checks.check("set_debugfunc", 1, fn, "function|nil")
end

--- Sets the timeout of every later wait of this session (connect, replies, data):
-- the `timeout` option.
-- @tparam number seconds above 0
-- @raise when `seconds` is not above 0
function FTP:settimeout(seconds)
  checks.check("settimeout", 1, seconds, "number")
  if seconds <= 0 then
    checks.raise("timeout must be a positive number of seconds")
  end
  self.timeout = seconds
end

--- The session's timeout.
-- @treturn number seconds
function FTP:gettimeout()
  return self.timeout
end

-- A transport failure leaves the control connection out of step with the
-- server: close it, and remember why for the calls that follow.
function FTP:_lose(msg, code)
  self:_close()
  self._lost = msg
  return nil, msg, code
end

-- true when the connection is open; nil, msg, "closed" when the server or
-- the network lost it; raises when the script closed it or never opened it.
function FTP:_usable()
  if self:_isopen() then
    return true
  end
  if self._lost then
    return nil, "not connected: " .. self._lost, "closed"
  end
  checks.raise("FTP object is not connected (call connect first)")
end

function FTP:_deadline()
  return now() + self.timeout
end

-- Completes a send step: _send and _send_abort queue their line once and
-- answer false, "w" when the socket took only part of it; the rest goes out
-- with _flush, never by queueing the line again.
function FTP:_sent(ok, err, code)
  if ok == false then
    ok, err, code = wait.until_done(self, self:_deadline(), self._flush)
  end
  if not ok then
    return self:_lose(err, code)
  end
  return true
end

-- Commands after which the current folder may differ (any letter case).
local FOLDER_CHANGERS = {
  CWD = true, CDUP = true, XCWD = true, XCUP = true, SMNT = true, USER = true, REIN = true,
}

--- Commands and replies.
-- @section commands

--- Sends a command line and reads no reply: read it with @{FTP:getresp} or
-- @{FTP:voidresp}. A TYPE sent this way makes the library send its own TYPE again
-- before its next transfer.
-- @tparam string line the command, without CRLF
-- @treturn boolean `true` once sent
-- @return[2] `nil, message, code`
-- @raise for CR, LF or NUL in `line`
function FTP:putcmd(line)
  checks.check_line("putcmd", 1, line)
  local wire, err, code = self:_wire_of(line)
  if not wire then
    return nil, err, code
  end
  return self:_sent(self:_send(wire))
end

-- Two commands in one write (pipelining: one segment, one wakeup of the
-- server). Both are checked and encoded before either is queued, so a
-- refused second leaves nothing behind to go out with a later command.
function FTP:_putcmds(first, second)
  local wire1, err, code = self:_wire_of(first)
  local wire2
  if wire1 then
    wire2, err, code = self:_wire_of(second)
  end
  if not wire2 then
    return nil, err, code
  end
  self:_send(wire1, true)
  return self:_sent(self:_send(wire2))
end

-- The bytes of a command line as they go to the server (encoding.lua), once
-- the session can take it; what it changes of the library's own state is
-- forgotten (TYPE, the folder); it is shown at debuglevel 1 and 2.
function FTP:_wire_of(line)
  local ok, err, code = self:_usable()
  if not ok then
    return nil, err, code
  end
  if line:match("^%s*[Tt][Yy][Pp][Ee]") then
    self._type = nil -- the script changes the type itself: stop trusting ours
  end
  if FOLDER_CHANGERS[(line:match("^%s*(%a+)") or ""):upper()] then
    self._folder = nil -- the PWD answer pwd keeps (commands.lua) may be stale
  end
  local wire
  wire, err, code = self:_to_server(line)
  if not wire then
    return nil, err, code
  elseif wire:find("[\r\n%z]") then -- checked here, before anything is queued
    if line:find("[\r\n%z]") then
      checks.raise("command contains CR, LF or NUL")
    end
    return nil, ("%s: the name in %s holds CR, LF or NUL"):format(
      line:match("%S+") or "", tostring(self.encoding)), "proto"
  end
  if (self.debuglevel or 0) >= 1 then -- masked only when shown: a transfer's every command
    self:_debug(1, "cmd", mask(line))
    self:_debug(2, "put", mask(line) .. "\r\n")
  end
  return wire
end

-- What a reply step gave (code, text, or nil, msg, errcode), taken as the
-- next reply: a failure loses the connection; a reply's text is decoded
-- (encoding.lua's _from_server), shown and its code kept in lastresp.
function FTP:_took_reply(code, text, errcode)
  if not code then
    return self:_lose(text, errcode)
  end
  text = self:_from_server(text)
  if (self.debuglevel or 0) >= 2 then
    for reply_line in text:gmatch("[^\n]+") do
      self:_debug(2, "get", reply_line .. "\r\n")
    end
  end
  self:_debug(1, "resp", text)
  self.lastresp = code
  return code, text
end

-- The next reply, whatever its code: code, text or nil, msg, errcode.
-- It must come before deadline (default: timeout from now).
function FTP:_readreply(deadline)
  local ok, err, errcode = self:_usable()
  if not ok then
    return nil, err, errcode
  end
  return self:_took_reply(wait.until_done(self, deadline or self:_deadline(), self._reply))
end

-- A reply already complete in the buffer or the socket, without waiting:
-- code, text; false, dir when none is (dir: what a wait for one would wait
-- on, "r", or "w" under TLS); nil, msg, errcode when the connection failed.
function FTP:_reply_now()
  local ok, err, errcode = self:_usable()
  if not ok then
    return nil, err, errcode
  end
  local code, text
  code, text, errcode = self:_reply()
  if code == false then
    return false, text
  end
  return self:_took_reply(code, text, errcode)
end

-- Reply classes: code, text (or nil, msg, errcode for a transport failure)
-- becomes the public text, code or nil, text, code.
local function answer(code, text, errcode)
  if not code then
    return nil, text, errcode
  end
  if code >= 400 then
    return nil, text, code
  end
  return text, code
end

control.answer = answer

local function only_2xx(code, text, errcode)
  if code and (code < 200 or code >= 300) then
    return nil, text, code
  end
  return answer(code, text, errcode)
end
control.only_2xx = only_2xx

-- Sends a command and reads its reply: code, text or nil, msg, errcode.
-- Replies already there answer nothing of ours: the session is brought
-- back in step first (resync.lua), so that this command gets its own.
function FTP:_cmd(line)
  local ok, err, errcode = self:_check_in_step()
  if ok then
    ok, err, errcode = self:putcmd(line)
  end
  if not ok then
    return nil, err, errcode
  end
  return self:_readreply()
end

-- A final reply read by hand (after transfercmd) ends the transfer: an
-- abort() after it has no transfer to stop.
local function read_by_hand(self)
  local code, text, errcode = self:_readreply()
  if code and code >= 200 then
    self._data_open = nil
  end
  return code, text, errcode
end

-- 1xx, 2xx and 3xx replies are answers; 4xx and 5xx are errors.

--- Reads the next reply, waiting at most the timeout. A 1xx, 2xx or 3xx reply is an
-- answer; 4xx and 5xx are failures. After @{FTP:transfercmd}, the final reply read
-- here ends the transfer.
-- @treturn string the reply's text (all its lines)
-- @treturn integer its code
-- @return[2] `nil, text, code` for a 4xx or 5xx reply, `nil, message, code` when none
-- came (@{errors.md|Errors})
function FTP:getresp()
  return answer(read_by_hand(self))
end

--- Reads the next reply, which must be 2xx: as @{FTP:getresp}, but 1xx and 3xx
-- replies are failures too (`nil, text, code`).
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:voidresp()
  return only_2xx(read_by_hand(self))
end

--- Sends a command and reads its reply. Replies already waiting, which answer
-- nothing sent since, are read first (with a NOOP round), so that the command gets
-- its own.
-- @tparam string cmd the command line, without CRLF
-- @treturn string the reply's text, for a 1xx, 2xx or 3xx reply
-- @treturn integer its code
-- @return[2] `nil, text, code` for a 4xx or 5xx reply, `nil, message, code` when the
-- command or reply failed
-- @raise for CR, LF or NUL in `cmd`
-- @usage print(assert(ftp:sendcmd("SYST")))
function FTP:sendcmd(cmd)
  return answer(self:_cmd(cmd))
end

--- Sends a command whose reply must be 2xx: as @{FTP:sendcmd}, but 1xx and 3xx
-- replies are failures too.
-- @tparam string cmd the command line, without CRLF
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
-- @raise for CR, LF or NUL in `cmd`
function FTP:voidcmd(cmd)
  return only_2xx(self:_cmd(cmd))
end

local function source_for(family, source_address)
  if source_address == nil then
    return nil
  end
  local host, port = source_address, 0
  if type(source_address) == "table" then
    host, port = source_address[1], source_address[2] or 0
  end
  local addrs, err, code = core.resolve(host, tostring(port), family)
  if not addrs then
    return nil, "bad source_address: " .. err, code
  end
  return addrs[1].sa
end

local function connect_one(self, addr, source_address)
  local src, err, code = source_for(addr.family, source_address)
  if source_address ~= nil and not src then
    return nil, err, code
  end
  local ok
  ok, err, code = self:_connect(addr.sa, src)
  if ok == false then
    ok, err, code = wait.until_done(self, self:_deadline(), self._connected)
  end
  if not ok then
    self:_close()
  end
  return ok, err, code
end

-- Tries each address host resolves to: true, or nil, msg, code.
local function connect_direct(self, host, port, source_address)
  local addrs, err, code = core.resolve(host, tostring(port))
  if not addrs then
    return nil, string.format("cannot resolve %s: %s", host, err), code
  end
  for _, addr in ipairs(addrs) do
    local ok
    ok, err, code = connect_one(self, addr, source_address)
    if ok then
      self.af = addr.family
      self._proxy_sa, self._proxy_target = nil, nil
      return true
    end
  end
  return nil, string.format("cannot connect to %s port %s: %s", host, port, err), code
end

-- A connection to the session's proxy (its first address that answers).
local function connect_to_proxy(self, source_address)
  local p = self._proxy
  local addrs, err, code = core.resolve(p.host, tostring(p.port))
  if not addrs then
    return nil, string.format("cannot resolve proxy %s: %s", p.masked, err), code
  end
  for _, addr in ipairs(addrs) do
    local ok
    ok, err, code = connect_one(self, addr, source_address)
    if ok then
      return addr.sa
    end
  end
  return nil, string.format("cannot connect to proxy %s: %s", p.masked, err), code
end

-- Through the proxy (protocol/proxy.lua), to each address it is to be asked
-- for in turn: true, or nil, msg, code. The data connections go through it
-- too, to the host it was asked for (_server_host).
local function connect_proxied(self, host, port, source_address)
  local port_number = math.tointeger(tonumber(port))
  if not port_number then -- a service name: the proxy is asked for a number
    return nil, string.format("a port number is needed through a proxy, not %q", port), "proxy"
  end
  local targets, err, code = proxy().targets(self._proxy, host, port)
  if not targets then
    return nil, err, code
  end
  for _, target in ipairs(targets) do
    local proxy_sa
    proxy_sa, err, code = connect_to_proxy(self, source_address)
    if not proxy_sa then
      return nil, err, code
    end
    local ok
    ok, err, code = proxy().tunnel(self, self._proxy, target.host, port_number, self:_deadline())
    if ok then
      self.af, self._proxy_sa, self._proxy_target = target.family, proxy_sa, target.host
      return true
    end
    self:_close()
  end
  return nil, string.format("cannot connect to %s port %s: %s", host, port, err), code
end

-- The server's host as data connections reach it: the control connection's
-- peer, or through a proxy the host the proxy was asked for.
function FTP:_server_host()
  return self._proxy_target or (self:_peer())
end

-- The greeting: 120 ("ready in n minutes") may come before the 220, all of
-- it within one timeout: a server sending 120 after 120 is not waited for
-- longer than one that sends nothing.
function FTP:_greeting()
  local deadline = self:_deadline()
  local code, text, errcode
  repeat
    code, text, errcode = self:_readreply(deadline)
    if not code then
      return nil, text, errcode
    end
  until code >= 200
  if code ~= 220 then
    return self:_lose(text, code) -- later calls: nil, "not connected: 421 ...", "closed"
  end
  self.welcome = text
  return text
end

-- A port given as a number (or digits) must be one: the socket layer would take
-- 70000 as 4464. Other strings are service names ("ftp"), left to the resolver.
local function check_port(port)
  if type(port) == "string" and not port:match("^%s*%d+%s*$") then
    return
  end
  local number = math.tointeger(tonumber(port))
  if not number or number < 1 or number > 65535 then
    checks.raise("port must be a whole number from 1 to 65535, got " .. tostring(port))
  end
end

local function check_connect_args(host, port, timeout)
  checks.check("connect", 1, host, "string")
  checks.check("connect", 2, port, "number|string|nil")
  check_port(port)
  checks.check("connect", 3, timeout, "number|nil")
  if timeout and timeout <= 0 then
    checks.raise("timeout must be a positive number of seconds")
  end
end

--- Connection and login.
-- @section connection

--- Connects and reads the greeting. A 120 "ready in n minutes" may come first; all
-- of it must come within one timeout. Every address the name resolves to is tried
-- in turn. With the `proxy` option the connection goes to the proxy, which is asked
-- for `host` and `port` (@{ftplib.options}). An implicit @{FTP_TLS} session does its
-- TLS handshake first. An open connection is closed first, and the features and
-- welcome it had are forgotten.
-- @tparam[opt] string host the server (default: the session's host)
-- @tparam[opt] number|string port its port (default: the session's, else 21)
-- @tparam[opt] number timeout a new timeout for the session, in seconds
-- @tparam[opt] string|table source_address as the option of that name
-- @treturn string the welcome text (the 220 reply)
-- @return[2] `nil, message, code`: resolving or connecting failed (`"proxy"`: the
-- proxy refused), or the greeting was not 220 (its text and code, 421 say)
-- @raise for a `timeout` not above 0
function FTP:connect(host, port, timeout, source_address)
  host = host or self.host
  port = port or self.port or 21
  check_connect_args(host, port, timeout)
  self.host, self.port = host, port
  self.timeout = timeout or self.timeout
  source_address = source_address or self.source_address
  self:_close()
  self._lost, self._type, self.features, self.welcome = nil, nil, nil, nil
  self._folder, self._abort_learned, self._data_open = nil, nil, nil
  self._epsv_ok, self._pipelining = nil, nil
  if self.timezone == "auto" then -- another server, maybe: its zone is learnt anew
    self._tz_offset, self._tz_note = nil, nil
  end
  self:_limits(self.maxline, self.maxreply)
  local ok, err, code
  if self._proxy then
    ok, err, code = connect_proxied(self, host, port, source_address)
  else
    ok, err, code = connect_direct(self, host, port, source_address)
  end
  if not ok then
    return nil, err, code
  end
  if self._tls_implicit then
    ok, err, code = self:_secure_control()
    if not ok then
      return nil, err, code
    end
  end
  return self:_greeting()
end

--- The welcome text of the last @{FTP:connect}.
-- @treturn ?string the 220 reply's text, or `nil` before one came
function FTP:getwelcome()
  return self.welcome
end

--- Logs in: USER, then PASS and ACCT when the server asks for them (3xx). The
-- defaults are the session's `user`, `passwd` and `acct` options, else anonymous
-- (an anonymous login with no password, or `"-"`, sends `"anonymous@"`). All three
-- are checked before USER goes out. After login the session sends FEAT (kept for the
-- session) and, when the server offers UTF8 and no other `encoding` is set,
-- `OPTS UTF8 ON` (a refusal of either is ignored). An @{FTP_TLS} session secures the
-- connection first: see @{FTP_TLS:login}.
-- @tparam[opt] string user
-- @tparam[opt] string passwd
-- @tparam[opt] string acct
-- @treturn string the final reply's text (2xx)
-- @treturn integer its code
-- @return[2] `nil, text, code` when the server refused (530 say), `nil, message, code`
-- @raise for CR, LF or NUL in an argument
function FTP:login(user, passwd, acct)
  -- All three checked before anything goes out: a bad password must not
  -- leave the server waiting for one.
  user = checks.check_line("login", 1, user or self.user or "anonymous")
  passwd = checks.check_line("login", 2, passwd or self.passwd or "")
  acct = checks.check_line("login", 3, acct or self.acct or "")
  -- The steps, in this order; each is a method of the module named. A user
  -- who asked for TLS never sends USER and PASS in clear: a failed AUTH ends
  -- the login there.
  local ok, err, code = self:_secure_channel() -- tls.lua: AUTH TLS for FTP_TLS
  if not ok then
    return nil, err, code
  end
  local text, rcode, errcode = self:_log_in(user, passwd, acct) -- here: USER, PASS, ACCT
  if not text then
    return nil, rcode, errcode
  end
  ok, err, code = self:_protect_data() -- tls.lua: PBSZ 0, PROT P for FTP_TLS
  if ok then
    ok, err, code = self:_negotiate_names() -- encoding.lua: FEAT, OPTS UTF8 ON
  end
  if ok then
    ok, err, code = self:_negotiate_mode_z() -- mode_z.lua: MODE Z when asked and offered
  end
  if not ok then
    return nil, err, code
  end
  return text, rcode
end

-- The login step proper: USER, then PASS and ACCT when asked for (3xx).
function FTP:_log_in(user, passwd, acct)
  if user:lower() == "anonymous" and (passwd == "" or passwd == "-") then
    passwd = "anonymous@" -- what servers expect of anonymous users
  end
  local code, text, errcode = self:_cmd("USER " .. user)
  if code and code // 100 == 3 then
    code, text, errcode = self:_cmd("PASS " .. passwd)
  end
  if code and code // 100 == 3 then
    code, text, errcode = self:_cmd("ACCT " .. acct)
  end
  if code and code // 100 == 2 then
    -- For clones (ops/parallel.lua) and reconnects (ops/retry.lua).
    self._login_args = { user, passwd, acct }
  end
  return only_2xx(code, text, errcode)
end

--- Closes the connection without QUIT. It may be called more than once; the session
-- can @{FTP:connect} again. Methods called on a closed session raise.
function FTP:close()
  self._lost = nil
  self:_close()
end

--- Sends QUIT, reads its reply and closes the connection (whatever the reply).
-- @treturn string the reply's text (221)
-- @treturn integer its code
-- @return[2] `nil, message, code`; the connection is closed all the same
function FTP:quit()
  local ok, err, code = self:_usable()
  if not ok then
    return nil, err, code
  end
  local text
  text, err, code = self:voidcmd("QUIT")
  self:close()
  return text, err, code
end

-- Scope end: say goodbye if we can, briefly, then close whatever happens.
function control.close_at_scope_end(self)
  if self:_isopen() then
    local saved = self.timeout
    self.timeout = math.min(saved, 5)
    pcall(self.quit, self)
    self.timeout = saved
  end
  self:close()
end

control.FTP = FTP

return control
