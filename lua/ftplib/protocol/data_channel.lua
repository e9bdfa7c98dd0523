-- Opening data connections: passive (EPSV, then PASV for good once EPSV is
-- refused) or active (PORT on IPv4, EPRT on IPv6), and transfercmd on top.
local core = require "ftplib.core"
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"
local control = require "ftplib.protocol.control"
local tls = require "ftplib.protocol.tls"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

-- The proxy module, loaded by the first session that has a proxy: most
-- never do, and it is the largest of the protocol modules.
local function proxy()
  return require "ftplib.protocol.proxy"
end
local Data = {} -- the methods this module gives the Data class
local now = wait.now

-- Public face of a data connection -------------------------------------

--- FTP methods: data connections.
-- @classmod FTP

--- A data connection: what @{FTP:transfercmd} and @{FTP:ntransfercmd} give, for a
-- transfer run by hand. Read or write it, close it, then read the transfer's final
-- reply with @{FTP:voidresp} (or stop it with @{FTP:abort}). A protected (PROT P)
-- data connection is TLS, resuming the control connection's session. In a `<close>`
-- variable it is closed when the scope ends. Its methods return `nil, message, code`
-- on failure (@{errors.md|Errors}).
-- @type Data
-- @usage local data = assert(ftp:transfercmd("RETR notes.txt"))
-- local parts = {}
-- repeat
--   local chunk = assert(data:recv(65536))
--   parts[#parts + 1] = chunk
-- until chunk == ""
-- data:close()
-- assert(ftp:voidresp())

--- Sets the timeout of this connection's waits (default: the session's timeout when
-- it was opened).
-- @tparam number seconds
-- @raise for a number not above 0
function Data:settimeout(seconds)
  checks.check("settimeout", 1, seconds, "number")
  if seconds <= 0 then
    checks.raise("timeout must be a positive number of seconds")
  end
  self.timeout = seconds
end

function Data:_deadline()
  return now() + (self.timeout or 60)
end

-- Up to n bytes; "" at the end of the data, as Python's recv gives b"".

--- Receives data, waiting at most the timeout for some.
-- @tparam number n the most bytes wanted
-- @treturn string up to `n` bytes; `""` at the end of the data
-- @return[2] `nil, message, code`
function Data:recv(n)
  checks.check("recv", 1, n, "number")
  return wait.until_done(self, self:_deadline(), self._recv, n)
end

-- Sends all of s. Returns #s or nil, msg, code.

--- Sends all of `s`, waiting at most the timeout for each part to go.
-- @tparam string s
-- @treturn integer `#s`
-- @return[2] `nil, message, code`
function Data:send(s)
  checks.check("send", 1, s, "string")
  local i = 1
  while i <= #s do
    local sent, err, code = wait.until_done(self, self:_deadline(), self._send, s, i)
    if not sent then
      return nil, err, code
    end
    i = i + sent
  end
  return #s
end

--- Closes the connection (it may be called again). On a protected one it first reads
-- what the server still sent and sends `close_notify`, waiting at most 2 s for the
-- server's.
function Data:close()
  if self._mode_z and self:_fd() >= 0 then
    -- An upload's zlib stream ends here (a download's needs nothing).
    wait.until_done(self, self:_deadline(), self._finish)
  end
  if self:_isopen() and self:_secured() then
    tls.end_data(self)
  end
  self:_close()
end

-- Opening ---------------------------------------------------------------

-- A data connection to sa (an address as core.resolve gives), host and port
-- naming it in a failure's message (host nil: the server's).
local function connect_sa(self, sa, host, port)
  local data = core.Data_new()
  data.timeout = self.timeout
  local ok, err, code = data:_connect(sa)
  if ok == false then
    ok, err, code = wait.until_done(data, self:_deadline(), data._connected)
  end
  if not ok then
    data:_close()
    return nil, string.format("data connection to %s port %d: %s",
      host or self:_server_host(), port, err), code
  end
  return data
end

local function connect_data(self, host, port)
  if self._proxy then
    return proxy().connect_data(self, host, port)
  end
  local addrs, err, code = core.resolve(host, tostring(port))
  if not addrs then
    return nil, err, code
  end
  return connect_sa(self, addrs[1].sa, host, port)
end

-- The data connection an EPSV reply points to: the server's own address at
-- that port (through a proxy, the host the proxy was asked for).
local function connect_epsv(self, port)
  if self._proxy then
    return proxy().connect_data(self, self:_server_host(), port)
  end
  return connect_sa(self, self:_peer_at(port), nil, port)
end

-- Replies that end a transfer, which no EPSV or PASV is answered with:
-- before their own reply, they came late for an earlier transfer (pyftpdlib
-- over TLS answers the data connection of a refused transfer with a 226
-- once it sees it close, which may be after the NOOP that was to bring the
-- session in step).
local LATE_TRANSFER_REPLY = { [225] = true, [226] = true, [426] = true }
local MAX_LATE = 4

-- The reply to EPSV or PASV (code, text, errcode), read past late ones.
local function passive_reply(self, code, text, errcode)
  for _ = 1, MAX_LATE do
    if not LATE_TRANSFER_REPLY[code] then
      break
    end
    code, text, errcode = self:_readreply()
  end
  return code, text, errcode
end

-- The port from EPSV, or nil when the server refuses it (then PASV for good).
function FTP:_epsv()
  if not self.use_epsv or self._epsv_refused then
    return nil
  end
  local code, text, errcode = passive_reply(self, self:_cmd("EPSV"))
  if not code then
    return nil, text, errcode
  end
  if code ~= 229 then
    if code >= 500 then
      self._epsv_refused = true
      return nil
    end
    return nil, text, code
  end
  self._epsv_ok = true -- pipelining.lua: a transfer command may now follow EPSV at once
  return core.parse_epsv(text)
end

function FTP:_pasv()
  local code, text, errcode = passive_reply(self, self:_cmd("PASV"))
  if not code then
    return nil, text, errcode
  end
  if code ~= 227 then
    return nil, text, code
  end
  local host, port = core.parse_pasv(text)
  if not host then
    return nil, port .. ": " .. text, "proto"
  end
  -- The address in a 227 reply is often wrong (NAT) and can be hostile
  -- (FTP bounce): use the control connection's peer unless told otherwise.
  if not self.trust_server_pasv_ipv4_address then
    host = self:_server_host()
  end
  return host, port
end

function FTP:_passive_data()
  local port, err, code = self:_epsv()
  if port then
    return connect_epsv(self, port)
  elseif err then
    return nil, err, code
  elseif self.af == "inet6" then
    return nil, "server refused EPSV, and PASV cannot reach IPv6", "proto"
  end
  local host
  host, port, code = self:_pasv()
  if not host then
    return nil, port, code
  end
  return connect_data(self, host, port)
end

-- The command that tells the server where to connect: host, port and
-- family of the listening socket. EPRT |2| for IPv6; for IPv4, EPRT |1|
-- when the server's own connection is IPv6 (target_af: ftplib.copy's
-- target), else PORT.
local function port_command(host, port, family, target_af)
  if family == "inet6" then
    return string.format("EPRT |2|%s|%d|", host, port)
  elseif target_af == "inet6" then
    return string.format("EPRT |1|%s|%d|", host, port)
  end
  return string.format("PORT %s,%d,%d", host:gsub("%.", ","), port // 256, port % 256)
end

-- Listens on the control connection's local address: never on every
-- interface, and always an address the server can route back to.
function FTP:_active_data()
  if self._proxy then -- SOCKS5 BIND is not done; HTTP CONNECT has no such thing
    return nil, "active mode (PORT, EPRT) cannot go through a proxy: use passive mode", "proxy"
  end
  local _, _, local_sa = self:_local()
  local data = core.Data_new()
  data.timeout = self.timeout
  local range = self.port_range or {}
  local host, port, family = data:_listen(local_sa, range[1], range[2])
  if not host then
    return nil, "cannot listen for the data connection: " .. port, family
  end
  local text, code, errcode = self:voidcmd(port_command(host, port, family))
  if not text then
    data:_close()
    return nil, code, errcode
  end
  return data
end

-- Waits for the server's connection to our listening socket; connections
-- from any other host are refused by the core.
local function accept_data(self, data)
  local _, _, server_sa = self:_peer()
  local deadline = self:_deadline()
  while true do
    local ok, err, code = data:_accept(server_sa)
    if ok then
      return data
    end
    if ok == nil then
      return nil, err, code
    end
    ok, err, code = wait.fd(data:_listen_fd(), "r", deadline)
    if not ok then
      return nil, "server did not open the data connection: " .. err, code
    end
  end
end

function FTP:_open_data()
  if self.passive then
    return self:_passive_data()
  end
  return self:_active_data()
end

-- EPSV and cmd sent together (pipelining.lua says when): the data
-- connection to EPSV's port, with cmd's reply still to read. When EPSV did
-- not answer 229, cmd went out with no data connection set up: its reply is
-- read and dropped with any other it caused (resync), and after a refusal
-- (5xx) false tells the caller to open the connection the usual way (PASV).
-- When the connection to that port fails, cmd's reply says why when it is
-- a refusal (proftpd answers a missing file's RETR at once and closes the
-- port): resync reads it, waiting at most one timeout.
local function pipelined_data(self, cmd)
  local ok, err, code = self:_check_in_step()
  if ok then
    ok, err, code = self:_putcmds("EPSV", cmd)
  end
  if not ok then
    return nil, err, code
  end
  local reply, text, errcode = passive_reply(self, self:_readreply())
  if not reply then
    self:_pipelined_reply_failed(errcode)
    return nil, text, errcode
  end
  local port, perr, pcode
  if reply == 229 then
    port, perr, pcode = core.parse_epsv(text)
  end
  local data
  if port then
    data, perr, pcode = connect_epsv(self, port)
    if data then
      return data
    end
  end
  ok, err, code = self:_sync(1)
  if not ok then
    return nil, err, code
  elseif port and math.type(err) == "integer" and err >= 400 then
    return nil, ok, err -- cmd's refusal, the reason the port was closed
  elseif perr then
    return nil, perr, pcode
  elseif reply >= 500 then
    self._epsv_refused = true
    return false
  end
  return nil, text, reply
end

-- The data connection for cmd: pipelined (true), the usual way (false), or
-- nil, msg, code.
local function data_for(self, cmd, rest)
  local pipelined, err, code = self:_may_pipeline(rest)
  if pipelined == nil then
    return nil, err, code
  end
  local data
  if pipelined then
    data, err, code = pipelined_data(self, cmd)
    if data ~= false then
      return data, err, code, data and true
    end
  end
  data, err, code = self:_open_data()
  return data, err, code, false
end

-- The commands whose data is a listing, those that send data.
local LISTINGS = { LIST = true, NLST = true, MLSD = true }
local STORES = { STOR = true, APPE = true, STOU = true }

local function verb_of(cmd)
  return (cmd:match("^%s*(%a+)") or ""):upper()
end

-- The preliminary reply of a transfer command: 1xx, anything else fails.
local function expect_1xx(code, text, errcode)
  if code and code >= 200 and code < 400 then
    return nil, "server answered without opening a data connection: " .. text, "proto"
  end
  return control.answer(code, text, errcode)
end

--- Transfers.
-- @section transfers

--- Opens a data connection and sends a transfer command, for a transfer run by hand.
-- REST goes first when `rest` is given. On return the command's 1xx reply has come;
-- read the final reply with @{FTP:voidresp} after @{Data:close} (or stop the transfer
-- with @{FTP:abort}). Passive or active as set (@{FTP:set_pasv}).
-- @tparam string cmd the transfer command, `"RETR name"`, `"STOR name"`, `"LIST"`
-- @tparam[opt] number|string rest the offset for REST
-- @treturn userdata the data connection: a `Data` object (Class Data, below)
-- @treturn ?integer the size the 150 reply announced, `nil` when it gave none
-- @return[2] `nil, message, code` (no data connection is left open)
-- @raise for CR, LF or NUL in `cmd` or `rest`
function FTP:ntransfercmd(cmd, rest)
  checks.check_line("ntransfercmd", 1, cmd) -- before EPSV/PASV/PORT go out
  checks.check("ntransfercmd", 2, rest, "number|string|nil")
  if type(rest) == "string" then
    checks.check_line("ntransfercmd", 2, rest)
  end
  -- A session the library closed answers as every method does; one the
  -- script closed raises (control.lua's _usable).
  local data, err, code = self:_usable()
  local pipelined
  if data then
    data, err, code, pipelined = data_for(self, cmd, rest)
  end
  if not data then
    return nil, err, code
  end
  if self._mode_z_on and self._mode_z_now == "Z" then -- mode_z.lua: a zlib stream
    data._mode_z = true
    data:_set_mode_z(true)
  end
  local text
  if rest then
    local rcode
    rcode, text, code = self:_cmd("REST " .. tostring(rest))
    if rcode ~= 350 then
      data:_close()
      return nil, text, rcode or code
    end
  end
  if pipelined then
    text, err, code = expect_1xx(self:_readreply())
    if not text then
      self:_pipelined_reply_failed(code)
    end
  else
    text, err, code = expect_1xx(self:_cmd(cmd))
  end
  if text and not self.passive then
    local accepted
    accepted, err, code = accept_data(self, data)
    if not accepted then
      -- The server has begun a transfer (1xx): ABOR brings the control
      -- connection back in step, or its late 425 would answer our next command.
      self:_abort_transfer(data)
      return nil, err, code
    end
  end
  if not text then
    data:_close()
    if code == "proto" or (self.passive and math.type(code) == "integer") then
      -- A 2xx or 3xx where a 1xx was due: the server may still open the
      -- transfer, or answer again (a reply nobody asked for came first). A
      -- refusal after our data connection came: the server may answer that
      -- connection too (pyftpdlib over TLS sends a 226 once it closes).
      local synced, serr, scode = self:_sync()
      if not synced and code ~= "proto" then
        return nil, serr, scode
      end
    end
    return nil, err, code
  end
  self._data_open = data -- its final reply is still to come
  if self._prot_p then
    local ok
    ok, err, code = self:_secure_data(data)
    if not ok then
      return nil, err, code
    end
  end
  data._size = core.parse_150(text)
  if data._mode_z and data._size and not STORES[verb_of(cmd)] then
    -- A zlib stream may inflate to any size: no more than announced.
    data:_set_expect(data._size)
  end
  self._announced_size = data._size -- for download's size checks (ops/whole_files.lua)
  data._listing = LISTINGS[verb_of(cmd)] -- see tls.check_download_end
  return data, data._size
end

--- As @{FTP:ntransfercmd}, without the size.
-- @tparam string cmd
-- @tparam[opt] number|string rest
-- @treturn userdata the data connection: a `Data` object (Class Data, below)
-- @return[2] `nil, message, code`
function FTP:transfercmd(cmd, rest)
  local data, err, code = self:ntransfercmd(cmd, rest)
  if not data then
    return nil, err, code
  end
  return data
end

--- Connection and login.
-- @section connection

--- Chooses passive or active data connections (the `passive` option). Passive tries
-- EPSV, then PASV once EPSV is refused; PASV's address is ignored unless
-- `trust_server_pasv_ipv4_address` is set. Active sends PORT (EPRT on IPv6) for a
-- socket listening on the control connection's local address, and takes the data
-- connection only from the server's address.
-- @tparam boolean passive `true`: passive (the default); `false`: active
function FTP:set_pasv(passive)
  self.passive = checks.check("set_pasv", 1, passive, "boolean")
end

return { FTP = FTP, Data = Data, port_command = port_command }
