-- FTPS (RFC 4217): securing the control connection (AUTH TLS, or implicit
-- TLS at connect), protected data connections that resume the control
-- connection's TLS session, close_notify at the end of each transfer, CCC.
local core = require "ftplib.core"
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)
local now = wait.now

-- How long to wait for the peer's close_notify once ours is sent.
local CLOSE_NOTIFY_WAIT = 2

local tls = {}

--- An FTPS session: the object @{ftplib.FTP_TLS} makes (RFC 4217). It is an @{FTP}
-- object, with every method of that class, and these methods besides, which raise on
-- an FTP object without TLS. Its TLS options are @{ftplib.tls_options}.
--
-- Explicit FTPS secures the control connection at login (AUTH TLS before USER);
-- implicit FTPS (`tls.implicit`) at connect. Certificates are verified, with the host
-- name checked, unless `tls.verify = false`. After login, data connections are
-- protected (PBSZ 0, PROT P); each resumes a TLS session of the control connection,
-- as vsftpd and proftpd require, and ends with `close_notify` both ways (a protected
-- download that ends without the server's `close_notify` fails with `"tls"` unless the
-- size announced came whole). TLS failures answer `nil, reason, "tls"` with
-- OpenSSL's reason (`certificate verify failed: hostname mismatch`).
-- @classmod FTP_TLS
-- @usage local ftps <close> = assert(ftplib.FTP_TLS("ftp.example.org", {
--   user = "me", passwd = "secret", tls = { cafile = "/etc/ssl/my-ca.pem" } }))
-- assert(ftps:retrbinary("RETR report.pdf", assert(io.open("report.pdf", "wb"))))

local function require_tls(self, fname)
  if not self._tls_ctx then
    checks.raise(fname .. " needs an FTP_TLS object")
  end
end

function FTP:_servername()
  return self._tls_servername or self.host
end

-- Runs a handshake step to the end.
local function handshake(conn, deadline)
  return wait.until_done(conn, deadline, conn._handshake)
end

-- Sends our close_notify and waits a bounded time for the peer's. A peer
-- that never answers, or just closes, is tolerated: the data is through.
local function close_notify(conn)
  local deadline = now() + CLOSE_NOTIFY_WAIT
  while true do
    local ok, dir = conn:_shutdown_tls()
    if ok ~= false then
      return
    end
    if not wait.fd(conn:_fd(), dir, deadline) then
      return
    end
  end
end

function FTP:_secure_control()
  local ok, err, code = self:_starttls(self._tls_ctx, self:_servername())
  if ok then
    ok, err, code = handshake(self, self:_deadline())
  end
  if not ok then
    return self:_lose(err, code)
  end
  return true
end

--- Secures the control connection: AUTH TLS (which must answer 234), then the TLS
-- handshake. @{FTP_TLS:login} does it when needed.
-- @function auth
-- @treturn string the 234 reply's text
-- @treturn integer 234
-- @return[2] `nil, text, code` when the server refused; `nil, message, "tls"` when the
-- handshake failed (the session is then closed)
-- @raise on a session without TLS, or one already secured
function FTP:auth()
  require_tls(self, "auth")
  if self:_secured() then
    checks.raise("the control connection is already secured")
  end
  local code, text, errcode = self:_cmd("AUTH TLS")
  if not code then
    return nil, text, errcode
  elseif code ~= 234 then
    return nil, text, code
  end
  local ok, err, ecode = self:_secure_control()
  if not ok then
    return nil, err, ecode
  end
  return text, code
end

--- Logs in as @{FTP:login}, securing the connection first: AUTH TLS unless it is
-- secured already (implicit FTPS, or @{FTP_TLS:auth}); a refused AUTH ends the login
-- with no USER or PASS sent. Then PBSZ 0 and PROT P, unless @{FTP_TLS:prot_c} chose
-- clear data. (The one login of control.lua, whose steps _secure_channel and
-- _protect_data are defined here.)
-- @function login
-- @tparam[opt] string user
-- @tparam[opt] string passwd
-- @tparam[opt] string acct
-- @treturn string the login's final reply text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`: AUTH, the login or PROT P failed

-- Login's first step: AUTH TLS before USER, unless there is no TLS to set
-- up or it is set up already. true, or nil, msg, code.
function FTP:_secure_channel()
  if not self._tls_ctx or self:_secured() then
    return true
  end
  local text, err, code = self:auth()
  if not text then
    return nil, err, code
  end
  return true
end

-- Login's step after USER and PASS: protected data connections from then on,
-- unless prot_c chose clear ones. true, or nil, msg, code.
function FTP:_protect_data()
  if not (self._tls_ctx and self._want_prot_p) then
    return true
  end
  local text, err, code = self:prot_p()
  if not text then
    return nil, err, code
  end
  return true
end

--- Protects the data connections from now on: PBSZ 0, then PROT P (login does it).
-- @function prot_p
-- @treturn string PROT P's reply text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
-- @raise on a session without TLS
function FTP:prot_p()
  require_tls(self, "prot_p")
  local text, code, errcode = self:voidcmd("PBSZ 0")
  if text then
    text, code, errcode = self:voidcmd("PROT P")
  end
  if text then
    self._prot_p, self._want_prot_p = true, true
  end
  return text, code, errcode
end

--- Clear data connections from now on (PROT C), also after a later login.
-- @function prot_c
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
-- @raise on a session without TLS
function FTP:prot_c()
  require_tls(self, "prot_c")
  local text, code, errcode = self:voidcmd("PROT C")
  if text then
    self._prot_p, self._want_prot_p = false, false
  end
  return text, code, errcode
end

-- Clears the control connection (RFC 4217 section 6): both sides end TLS
-- with close_notify and go on in plain text. Data protection stays as set.

--- Clears the control connection (CCC): TLS ends with `close_notify` both ways and
-- commands go on in plain text, for firewalls that read them. Data protection stays
-- as set.
-- @function ccc
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
-- @raise on a session without TLS
function FTP:ccc()
  require_tls(self, "ccc")
  local text, code, errcode = self:voidcmd("CCC")
  if not text then
    return nil, code, errcode
  end
  close_notify(self)
  self:_drop_tls()
  return text, code
end

-- The data connection's handshake, after the 1xx reply. The client is the
-- TLS client in both modes (RFC 4217 section 7). When the server refuses
-- (vsftpd's "522 ... session reuse required"), its reply is read so that
-- the control connection stays in step, and shown.
function FTP:_secure_data(data)
  local ctx = self._tls_ctx
  data._tls_ctx = ctx
  data._offered_spent = core.TLS_sessions(ctx) == 0
  local ok, err, code = data:_starttls(ctx, self:_servername())
  if ok then
    ok, err, code = handshake(data, self:_deadline())
  end
  if ok then
    return true
  end
  data:_close()
  self._data_open = nil
  local rcode, text = self:_readreply()
  if rcode then
    err = err .. " (server: " .. text .. ")"
  end
  return nil, err, code
end

-- Whether a failed transfer is worth one more try: no unused session was
-- left, so a spent one was offered; the server refused it with a 4xx (so
-- stored nothing and, for a download, sent nothing); and the full handshake
-- it did instead brought fresh tickets. proftpd, for one, issues no ticket
-- on upload data connections and accepts each ticket once.
function tls.worth_retry(data, code)
  return data._offered_spent and math.type(code) == "integer"
    and code >= 400 and code < 500 and core.TLS_sessions(data._tls_ctx) > 0
end

-- At the end of a protected download: a TLS stream that stopped without
-- close_notify was cut, not finished, unless the size the server announced
-- came whole. With no size known there is no telling: an error, never a
-- silent loss. One exception: an empty listing (pyftpdlib ends those
-- without close_notify, all but its first), taken, but marked on the session
-- (ftp._listing_unverified, read by listing.lua): a cut data connection
-- looks the same, so mirror deletes nothing on its strength.
function tls.check_download_end(data, ftp)
  if not data:_unclean_eof() then
    return true
  end
  local got, size = data:_bytes(), data._size
  if size and got >= size then
    return true
  elseif got == 0 and data._listing then
    if ftp then
      ftp._listing_unverified = true
    end
    return true
  end
  local of = size and (" of " .. size) or ""
  return nil, string.format("data connection ended without TLS close_notify after %d%s bytes",
    got, of), "tls"
end

-- The end of a protected data connection (Data:close, data_channel.lua): before
-- our close_notify, what the server sent is read. OpenSSL ignores what
-- arrives after it, and the session tickets the server issued on this
-- connection are needed (servers that accept each ticket once want a fresh
-- one for every data connection).
function tls.end_data(data)
  data:_drain_tls()
  close_notify(data)
end

tls.FTP = FTP

return tls
