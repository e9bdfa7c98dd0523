-- NOOP on the control connection during a long transfer, so that a
-- firewall or NAT box does not drop it for being idle (the keepalive
-- option: seconds between NOOPs; nil or 0: none).
--
-- Servers answer those NOOPs at once (pyftpdlib, proftpd) or only after
-- the transfer's final reply (vsftpd), or in between. So the replies are
-- counted, not matched by position: after a transfer with n NOOPs sent,
-- exactly n + 1 replies belong to it, whatever their order. Replies that
-- are already there are taken whenever a NOOP is due, so that they do not
-- pile up; the transfer's own reply is the one that is not a NOOP answer.
local wait = require "ftplib.concurrency.wait"
local resync = require "ftplib.protocol.resync"

local now = wait.now

local keepalive = {}

-- What a server may answer to NOOP (RFC 959 4.2: 200, or 500-502 when it
-- will not take commands during a transfer). A transfer that got its 1xx
-- ends with none of these but 200 ("transfer OK" from an odd server),
-- which the count still keeps in step.
local is_noop_answer = resync.answers_noop
keepalive.is_noop_answer = is_noop_answer

-- 1xx replies after a transfer's own 1xx (a server that sends "150" again
-- after the data) are skipped, this many at most, all within one timeout.
local MAX_PRELIMINARY = 16

-- Starts the bookkeeping for one transfer. Without keepalive (no NOOP ever
-- due) it still holds the replies read while the data connection is quiet
-- (keepalive.early_failure).
function keepalive.start(self)
  local interval = self.keepalive
  local due = interval and interval > 0 and now() + interval or nil
  self._ka = { interval = interval, due = due, sent = 0, replies = {}, preliminary = 0 }
end

function keepalive.stop(self)
  self._ka = nil
end

-- Takes the replies already there, never more than this transfer is owed:
-- its own final reply and one per NOOP sent. A 1xx is no final reply; a
-- server that keeps sending them loses the session (as in final_or_error).
local function take_ready_replies(self, ka)
  while #ka.replies < ka.sent + 1 do
    local code, text, errcode = self:_reply_now()
    if code == false then
      return true
    elseif not code then
      return nil, text, errcode
    end
    if code >= 200 then
      ka.replies[#ka.replies + 1] = { code = code, text = text }
    else
      ka.preliminary = ka.preliminary + 1
      if ka.preliminary > MAX_PRELIMINARY then
        return self:_lose("more than " .. MAX_PRELIMINARY .. " preliminary (1xx) replies", "proto")
      end
    end
  end
  return true
end

-- The next reply that is not a 1xx, before deadline: code, text, or nil,
-- msg, errcode ("proto", the session closed, after too many 1xx).
local function final_or_error(self, deadline)
  for _ = 1, MAX_PRELIMINARY + 1 do
    local code, text, errcode = self:_readreply(deadline)
    if not code or code >= 200 then
      return code, text, errcode
    end
  end
  return self:_lose("more than " .. MAX_PRELIMINARY .. " preliminary (1xx) replies", "proto")
end

-- Sends a NOOP when one is due: true, or nil, msg, code when the control
-- connection failed (it is then closed).
function keepalive.tick(self)
  local ka = self._ka
  if not ka or not ka.due or now() < ka.due then
    return true
  end
  local ok, err, code = take_ready_replies(self, ka)
  if ok then
    ok, err, code = self:putcmd("NOOP")
  end
  if not ok then
    return nil, err, code
  end
  ka.sent = ka.sent + 1
  ka.due = now() + ka.interval
  return true
end

-- When the next NOOP is due, or nil when keepalive is off.
function keepalive.due(self)
  return self._ka and self._ka.due
end

-- The transfer's own reply among those read: the first that is not a NOOP
-- answer, else the last.
local function transfer_reply(replies)
  for _, reply in ipairs(replies) do
    if not is_noop_answer(reply.code) then
      return reply
    end
  end
  return replies[#replies]
end

-- The transfer's final reply, once every reply owed (its own and one per
-- NOOP) is read: code, text, or nil, msg, errcode. When the transfer's
-- reply came but a NOOP's did not, the transfer's reply is given and the
-- connection is left closed (it is out of step).
function keepalive.final_reply(self)
  local ka = self._ka
  local deadline = self:_deadline()
  if not ka then
    return final_or_error(self, deadline)
  end
  local replies = ka.replies
  while #replies < ka.sent + 1 do
    local code, text, errcode = final_or_error(self, deadline)
    if not code then
      local reply = transfer_reply(replies)
      if reply and not is_noop_answer(reply.code) then
        return reply.code, reply.text
      end
      return nil, text, errcode
    end
    replies[#replies + 1] = { code = code, text = text }
  end
  local reply = transfer_reply(replies)
  self.lastresp = reply.code
  return reply.code, reply.text
end

-- Looks at the control connection while the data connection is quiet: a
-- server may fail a transfer there and leave the data connection open
-- (aioftp: "451 file system error"), which would otherwise wait out the
-- whole timeout. true to go on; nil, text, code when the transfer's own
-- reply came and is a failure (the abort that follows knows it was read);
-- nil, msg, errcode when the control connection failed.
function keepalive.early_failure(self)
  local ka = self._ka
  if not ka then
    return true
  end
  local ok, err, code = take_ready_replies(self, ka)
  if not ok then
    return nil, err, code
  end
  for _, reply in ipairs(ka.replies) do
    if not is_noop_answer(reply.code) and reply.code >= 400 then
      return nil, reply.text, reply.code
    end
  end
  return true
end

-- What an abort still has to read of this transfer's replies: how many
-- keepalive NOOPs are unanswered (a 500-502 answers one as a 200 does),
-- and whether the transfer's own final reply is among those already read.
function keepalive.owed(self)
  local ka = self._ka
  if not ka then
    return 0, false
  end
  local answered, own_read = 0, false
  for _, reply in ipairs(ka.replies) do
    if is_noop_answer(reply.code) then
      answered = answered + 1
    else
      own_read = true
    end
  end
  return math.max(0, ka.sent - answered), own_read
end

return keepalive
