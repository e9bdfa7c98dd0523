-- Retrying a helper (download, upload, mirror) after the session dropped:
-- which failures are worth another try, the backoff between tries, and
-- bringing the session back (connect, log in again, same folder).
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local retry = {}

local MAX_DELAY = 30 -- seconds: the backoff doubles up to this

-- Transport failures and 4xx replies (RFC 959: transient negative
-- completion) are worth another try; 5xx replies, local file errors,
-- malformed replies, limits and stops by the caller are not.
local TRANSIENT = { closed = true, timeout = true, refused = true, tls = true }

function retry.transient(code)
  if TRANSIENT[code] then
    return true
  end
  return math.type(code) == "integer" and code >= 400 and code < 500
end

-- Whether a failure is worth another try: a transient one, or a 5xx after
-- which the session no longer answers (vsftpd's "500 OOPS: ..." when its
-- session processes fail, or are killed, is a dropped connection).
local function worth_retry(ftp, code)
  if retry.transient(code) then
    return true
  end
  return math.type(code) == "integer" and not (ftp:_isopen() and ftp:voidcmd("NOOP"))
end

-- Brings the session back: a connection that still answers NOOP goes on;
-- otherwise connect to the same host and port, log in as before and return
-- to `folder` (when known). A failure leaves the object closed, remembering
-- why, as any lost connection does.
function FTP:_restore(folder)
  if self:_isopen() and self:voidcmd("NOOP") then
    return true
  end
  self:close()
  local ok, err, code = self:connect(self.host, self.port)
  -- login keeps what it logged in with; for FTP_TLS it also secures the
  -- session again (AUTH TLS, PROT P).
  local credentials = self._login_args
  if ok and credentials then
    ok, err, code = self:login(table.unpack(credentials, 1, 3))
  end
  if ok and folder then
    ok, err, code = self:cwd(folder)
  end
  if not ok then
    return self:_lose(err, code)
  end
  return true
end

-- Runs attempt(n) for n = 1, 2, ... until it answers a result, fails for
-- good, or opts.retries more tries are spent. Between tries: wait
-- opts.retry_delay seconds (default 1), doubling up to 30, then restore the
-- session. Answers the last try's result or failure.
function retry.run(ftp, opts, attempt)
  local tries = opts.retries or 0
  local delay = opts.retry_delay or 1
  local folder = tries > 0 and ftp:_pwd_cached() or nil
  local result, err, code = attempt(1)
  for n = 2, tries + 1 do
    if result or not worth_retry(ftp, code) then
      break
    end
    ftp:_debug(1, "retry", string.format("%s; try %d of %d in %g s", err, n, tries + 1, delay))
    wait.sleep(delay)
    delay = math.min(delay * 2, MAX_DELAY)
    result, err, code = ftp:_restore(folder)
    if result then
      result, err, code = attempt(n)
    end
  end
  return result, err, code
end

-- Checks the retries and retry_delay options of helper fname.
function retry.check_options(fname, opts)
  local tries = opts.retries
  if tries ~= nil and (math.type(tries) ~= "integer" or tries < 0) then
    checks.raise(string.format("'%s' option retries must be a non-negative integer", fname))
  end
  local delay = opts.retry_delay
  if delay ~= nil and delay < 0 then
    checks.raise(string.format("'%s' option retry_delay must not be negative", fname))
  end
end

retry.FTP = FTP

return retry
