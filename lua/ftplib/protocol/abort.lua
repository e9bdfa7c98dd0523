-- Stopping a transfer under way: ABOR while the data connection is still
-- open, the data drained (bounded) until the server answers, then closed,
-- and the control connection brought back in step with NOOP (resync.lua).
--
-- What servers do with an ABOR in band during a transfer (measured):
--   pyftpdlib answers at once; aioftp once its writes block (when the
--   client stops reading);
--   vsftpd, proftpd and Twisted read no command while they send: ABOR is
--   answered once the transfer ends, the file sent to its end or the data
--   connection closed by the client (their writes then fail, harmlessly);
--   BSD-derived ftpd (GNU inetutils, netkit) reads none either unless the
--   Telnet IP/Synch with TCP urgent data wakes it (SIGURG), and may exit on
--   SIGPIPE when the client closes the data connection under it (with a
--   FIN its next writes hit EPIPE; a reset fails the write at once);
--   aioftp drops the session on any byte that is not UTF-8 (the Telnet
--   bytes) and when the data connection is closed under it.
-- No one order suits them all, so the client finds out, step by step:
--   1. ABOR in band; the data is read while at most DRAIN_BYTES come,
--      for QUIET seconds, waiting for an answer (a transfer near its end
--      simply ends);
--   2. no answer: the data is no longer read (a server whose writes block
--      looks at its commands) for QUIET more;
--   3. still none, on a plain connection with no proxy only: ABOR again with Telnet
--      IP/Synch before it (urgent data cannot go through TLS), for URGENT
--      seconds;
--   4. the data connection is reset (a protected one after our
--      close_notify), NOOP sent, every reply read up to NOOP's answer: the
--      transfer's own, one per ABOR, then NOOP's.
-- A session remembers what its server needed (_abort_learned): "urgent"
-- goes from 1 to 3 at once, "close" (nothing woke the server) from 1 to 4.
-- The Telnet bytes thus never reach a server that answers without them
-- (aioftp), and a BSD server is interrupted before its data connection
-- closes.
local wait = require "ftplib.concurrency.wait"
local control = require "ftplib.protocol.control"
local keepalive = require "ftplib.protocol.keepalive"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)
local now = wait.now

local DRAIN_BYTES = 4 * 1024 * 1024
local QUIET = 0.5
local URGENT = 0.25
local DRAIN_CHUNK = 65536

-- A wait of `seconds`, never more than a quarter of the session's timeout.
local function pause(self, seconds)
  return now() + math.min(seconds, self.timeout / 4)
end

-- Sends ABOR, with Telnet IP/Synch before it when urgent (and the control
-- connection is plain: the core never sends urgent data beside TLS).
-- true, or nil, msg, code.
function FTP:_send_abor(urgent)
  local ok, err, code = self:_usable()
  if not ok then
    return nil, err, code
  end
  self:_debug(1, "cmd", urgent and "ABOR (after Telnet IP/Synch)" or "ABOR")
  return self:_sent(self:_send_abort(urgent))
end

-- Reads data and drops it: "more" (go on), "spent" (budget used up),
-- "eof" (the server ended it, or it failed: nothing more to drain), or
-- false, dir (nothing ready).
local function drain_step(data, budget)
  local chunk, dir = data:_recv(DRAIN_CHUNK)
  if chunk == false then
    return false, dir
  elseif not chunk or chunk == "" then
    return "eof"
  end
  budget.left = budget.left - #chunk
  return budget.left > 0 and "more" or "spent"
end

-- Waits for the server's answer to ABOR: a final reply beyond the
-- `noops` keepalive answers still owed. Replies are kept in `seen` (1xx
-- dropped). With a budget the data is drained meanwhile. Returns
-- "answered", "eof", "spent", "quiet" (deadline passed), or nil, msg,
-- code when the control connection failed.
local function await_answer(self, data, seen, noops, deadline, budget)
  local pass = wait.passer()
  while true do
    local code, text, errcode = self:_reply_now()
    if code == nil then
      return nil, text, errcode
    elseif code then
      if code >= 200 then
        seen[#seen + 1] = { code = code, text = text }
        if #seen > noops then
          return "answered"
        end
      end
    else
      local state, dir = false, "r"
      if budget then
        state, dir = drain_step(data, budget)
        if state == "eof" or state == "spent" then
          return state
        end
      end
      if state == "more" then
        pass()
      else
        local ok, err, ecode
        if budget then
          ok, err, ecode = wait.either(self:_fd(), "r", data:_fd(), dir, deadline)
        else
          ok, err, ecode = wait.fd(self:_fd(), "r", deadline)
        end
        if not ok then
          if ecode == "timeout" then
            return "quiet"
          end
          return nil, err, ecode
        end
      end
    end
    if now() >= deadline then
      return "quiet"
    end
  end
end

-- Step 3, after a wait in vain on a plain connection: the Telnet form.
-- Returns await_answer's state, or nil, msg, code.
local function urgent_abor(self, data, seen, noops)
  local ok, err, code = self:_send_abor(true)
  if not ok then
    return nil, err, code
  end
  local state
  state, err, code = await_answer(self, data, seen, noops, pause(self, URGENT))
  if state == "answered" then
    self._abort_learned = "urgent"
  end
  return state, err, code
end

-- Steps 1 to 3 above. Returns how many ABOR went out, or nil, msg, code
-- when the control connection failed.
local function interrupt(self, data, seen, noops)
  local ok, err, code = self:_send_abor(false)
  if not ok then
    return nil, err, code
  elseif data:_fd() < 0 then -- closed, or still only listening (active mode)
    return 1
  end
  local learned, abors = self._abort_learned, 1
  local state
  state, err, code = await_answer(self, data, seen, noops, pause(self, QUIET),
    { left = DRAIN_BYTES })
  if (state == "spent" or state == "quiet") and learned == nil then
    state, err, code = await_answer(self, data, seen, noops, pause(self, QUIET))
  end
  -- Sent this late, never while the server is still starting the transfer:
  -- BSD ftpd ignores a SIGURG that comes before it is sending.
  -- Nor through a proxy: it relays bytes, not TCP urgent data, so the
  -- Synch's IAC would reach the server as a plain byte or not at all.
  local waiting = state == "spent" or state == "quiet"
  if waiting and learned ~= "close" and not self:_secured() and not self._proxy then
    abors = 2
    state, err, code = urgent_abor(self, data, seen, noops)
    waiting = state == "quiet"
  end
  if waiting then
    -- Nothing woke it: close at once next time. (GNU inetutils ftpd takes
    -- one Synch per session: it leaves its SIGURG handler by longjmp, so the
    -- signal stays blocked from then on; it survives the data connection
    -- reset under it, with a 426.)
    self._abort_learned = "close"
  end
  if not state then
    return nil, err, code
  end
  return abors
end

-- Closes an aborted data connection with a reset: a server writing to it
-- gets ECONNRESET from that write, never the SIGPIPE of a later one (GNU
-- inetutils ftpd dies of it: 3 aborts in 40 with a FIN, none in 150 with a
-- reset). A protected one first sends our close_notify (one step, no wait
-- for the server's): a TLS connection freed without it makes OpenSSL drop
-- its session, and servers that want data connections to resume the
-- control connection's session (vsftpd, proftpd) would refuse every later
-- one ("522 ... session reuse required").
local function close_aborted(data)
  if data:_fd() >= 0 and data:_secured() then
    data:_shutdown_tls()
  end
  data:_close(true)
end

-- Reads the replies owed after ABOR (the transfer's, one per ABOR, the
-- keepalive answers) into `seen`, waiting at most QUIET for them, before
-- NOOP goes out: a server that runs commands side by side may answer an
-- unknown NOOP before ABOR (aioftp), and its 502 would be taken for ABOR's.
-- true, or nil, msg, code when the control connection failed.
local function collect_owed(self, seen, owed)
  local deadline = pause(self, QUIET)
  while #seen < owed do
    local code, text, errcode = self:_reply_now()
    if code == nil then
      return nil, text, errcode
    elseif code == false then
      local ok, err, ecode = wait.fd(self:_fd(), text, deadline)
      if not ok then
        if ecode == "timeout" then
          return true -- fewer replies than owed: the NOOP round tells the rest
        end
        return self:_lose(err, ecode)
      end
    elseif code >= 200 then
      seen[#seen + 1] = { code = code, text = text }
    end
  end
  return true
end

-- ABOR's replies, then the NOOP round (resync.lua): ABOR's reply (the last
-- before NOOP's answer), or nil, msg, code.
local function sync_after_abor(self, owed, noops, seen)
  local ok, err, code = collect_owed(self, seen, owed)
  if not ok then
    return nil, err, code
  end
  return self:_sync(owed, noops, seen)
end

-- Stops a transfer and brings the control connection back in step.
-- Returns ABOR's reply (the last before NOOP's answer), or nil, msg, code.
function FTP:_abort_transfer(data)
  self._data_open = nil
  local noops, own_read = keepalive.owed(self)
  local seen = {}
  local abors, err, code = interrupt(self, data, seen, noops)
  close_aborted(data)
  if not abors then
    return nil, err, code
  end
  return sync_after_abor(self, noops + abors + (own_read and 0 or 1), noops, seen)
end

-- Brings the control connection back in step after a failed exchange
-- that had no data connection of ours (FXP, ops/copy.lua): ABOR first when a
-- transfer command was accepted, then NOOP. ABOR's reply, or nil, msg, code.
function FTP:_resync(send_abor)
  if not send_abor then
    return self:_sync()
  end
  local ok, err, code = self:_send_abor(false)
  if not ok then
    return nil, err, code
  end
  return sync_after_abor(self, 2, 0, {})
end

--- FTP methods: stopping a transfer.
-- @classmod FTP

--- Transfers.
-- @section transfers

--- Stops the transfer under way and brings the control connection back in step.
-- For a transfer opened with @{FTP:transfercmd}: ABOR while the data connection is
-- open, the data drained (at most 4 MiB, about a second) until the server answers,
-- the data connection reset, then NOOP, reading every reply up to its answer. Under
-- TLS ABOR goes in band; on plain connections a server that stays silent gets ABOR
-- again with Telnet IP/Synch (what a server needed is remembered for the session).
-- With no transfer under way it sends ABOR and reads its reply.
-- @treturn string ABOR's reply (during a transfer whatever its code: 225, 226, 426)
-- @treturn integer its code
-- @return[2] `nil, message, code` when the control connection failed (the session is
-- then closed); without a transfer, also `nil, text, code` for a reply other than 2xx
function FTP:abort()
  if self._data_open then
    return self:_abort_transfer(self._data_open)
  end
  local ok, err, code = self:_send_abor(false)
  if not ok then
    return nil, err, code
  end
  return control.only_2xx(self:_readreply())
end

return { FTP = FTP }
