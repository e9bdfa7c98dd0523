-- Pipelining: a transfer command sent right behind EPSV, without waiting for
-- EPSV's reply. It saves one round trip of the three a small file costs
-- (EPSV, RETR, then the final reply). RFC 959 has the client wait for each
-- reply, but RFC 1123 (4.1.2.10) lets one read hold several commands, and
-- servers read them in order. Some do not: they drop what follows the first
-- line of a read (lftp keeps a list), or a firewall's FTP helper on the way
-- does. So a session finds out before it pipelines: two NOOPs in one go,
-- and both answers must come (probe, below). This module decides whether a
-- transfer may go pipelined; data_channel.lua sends it.
--
-- Never pipelined: before EPSV has worked once in the session (a refused
-- EPSV would leave the command to run with no data connection set up: some
-- old servers then connect to the default data port), with REST (a refused
-- REST would leave the command to run from the start), in active mode, and
-- with the option pipelining = false.
--
-- A pipelined command the server refuses finds our data connection coming
-- after its refusal; a server may answer that connection too (pyftpdlib over
-- TLS sends a 226 once it closes): data_channel.lua resyncs after a refusal
-- and reads past such late replies before EPSV's own.
local wait = require "ftplib.concurrency.wait"
local resync = require "ftplib.protocol.resync"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local now = wait.now

-- Greetings of servers known to lose pipelined commands (lftp's list).
local LOSES_COMMANDS = { "Microsoft FTP Service", "MadGoat" }

-- How long the second NOOP's answer may come after the first's, at least:
-- a server that read both lines answers both at once (or one delay apart).
local PROBE_LAG = 1
-- Replies answering no NOOP passed over during the probe, at most.
local MAX_STRAYS = 4

local function loses_commands(welcome)
  for _, name in ipairs(LOSES_COMMANDS) do
    if (welcome or ""):find(name, 1, true) then
      return true
    end
  end
  return false
end

-- A reply if one comes before deadline: code, text; false when none came
-- (the session stays open); nil, msg, code when the connection failed.
local function reply_by(self, deadline)
  local code, text, errcode = wait.until_done(self, deadline, self._reply)
  if code == nil and errcode == "timeout" then
    return false
  end
  return self:_took_reply(code, text, errcode)
end

-- Two NOOPs in one write, as EPSV and its transfer command go: the session
-- pipelines once both answers came, the second soon after the first. A
-- reply that answers no NOOP (a 226 come late for an earlier transfer) is
-- passed over. When the second answer does not come soon, it was lost or is
-- late, and no count tells which: PWD settles it (resync.lua: only its 257
-- ends the read), and is the probe of later resyncs. true, or nil, msg, code
-- when the session was lost.
local function probe(self)
  self._pipelining = false -- until both answers came
  local ok, err, code = self:_check_in_step()
  if ok then
    ok, err, code = self:_putcmds("NOOP", "NOOP")
  end
  if not ok then
    return nil, err, code
  end
  local started, answers, by = now(), 0, self:_deadline()
  for _ = 1, 2 + MAX_STRAYS do
    local reply, text, errcode = reply_by(self, by)
    if reply == nil then
      return nil, text, errcode
    elseif reply == false then
      break
    elseif resync.answers_noop(reply) then
      answers = answers + 1
      if answers == 2 then
        self._pipelining = true
        return true
      end
      by = math.min(now() + math.max(PROBE_LAG, 2 * (now() - started)), self:_deadline())
    end
  end
  if answers == 0 then
    return self:_lose("no answer to NOOP within the timeout", "timeout")
  end
  self._sync_probe = "PWD"
  ok, err, code = self:_sync(1)
  if not ok then
    return nil, err, code
  end
  return true
end

-- Whether the transfer command may go out right behind EPSV: true or false;
-- nil, msg, code when finding out lost the session.
function FTP:_may_pipeline(rest)
  if rest or not self.passive or self.pipelining == false or not self.use_epsv
    or self._epsv_refused or not self._epsv_ok or self._pipelining_failed then
    return false
  end
  if self._pipelining == nil then
    if loses_commands(self.welcome) then
      self._pipelining = false
    else
      local ok, err, code = probe(self)
      if not ok then
        return nil, err, code
      end
    end
  end
  return self._pipelining
end

-- A pipelined transfer whose replies did not come (a timeout, a connection
-- lost): the server, or a firewall's FTP helper on the way, may lose a
-- command behind EPSV though two NOOPs came through. No pipelining to this
-- object's servers again, reconnected or not: a retry would lose the same way.
function FTP:_pipelined_reply_failed(code)
  if math.type(code) ~= "integer" then
    self._pipelining_failed = true
  end
end

return { FTP = FTP }
