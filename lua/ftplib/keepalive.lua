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
local wait = require "ftplib.wait"

local now = wait.now

local keepalive = {}

-- What a server may answer to NOOP (RFC 959 4.2: 200, or 500-502 when it
-- will not take commands during a transfer). A transfer that got its 1xx
-- ends with none of these but 200 ("transfer OK" from an odd server),
-- which the count still keeps in step.
local function is_noop_answer(code)
  return code == 200 or (code >= 500 and code <= 502)
end
keepalive.is_noop_answer = is_noop_answer

-- Starts the bookkeeping for one transfer; nothing when keepalive is off.
function keepalive.start(self)
  local interval = self.keepalive
  if interval and interval > 0 then
    self._ka = { interval = interval, due = now() + interval, sent = 0, replies = {} }
  else
    self._ka = nil
  end
end

function keepalive.stop(self)
  self._ka = nil
end

-- A reply already in the buffer or the socket, without waiting: code, text;
-- false when none is complete yet; nil, msg, errcode when the connection failed.
local function reply_now(self)
  local ok, err, errcode = self:_usable()
  if not ok then
    return nil, err, errcode
  end
  local code, text
  code, text, errcode = self:_reply()
  if code == false then
    return false
  end
  return self:_took_reply(code, text, errcode)
end

-- Takes the replies already there, never more than this transfer is owed:
-- its own final reply and one per NOOP sent.
local function take_ready_replies(self, ka)
  while #ka.replies < ka.sent + 1 do
    local code, text, errcode = reply_now(self)
    if code == false then
      return true
    elseif not code then
      return nil, text, errcode
    end
    ka.replies[#ka.replies + 1] = { code = code, text = text }
  end
  return true
end

-- Sends a NOOP when one is due: true, or nil, msg, code when the control
-- connection failed (it is then closed).
function keepalive.tick(self)
  local ka = self._ka
  if not ka or now() < ka.due then
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
  if not ka then
    return self:_readreply()
  end
  local replies = ka.replies
  while #replies < ka.sent + 1 do
    local code, text, errcode = self:_readreply()
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

-- How many NOOPs sent are still unanswered (for ABOR, which must read past
-- their replies to reach its own NOOP's). A 500-502 answers a NOOP as a 200
-- does.
function keepalive.unanswered(self)
  local ka = self._ka
  if not ka then
    return 0
  end
  local answered = 0
  for _, reply in ipairs(ka.replies) do
    if is_noop_answer(reply.code) then
      answered = answered + 1
    end
  end
  return math.max(0, ka.sent - answered)
end

return keepalive
