-- Keeping the control connection in step with the server: one rule for
-- replies nobody asked for, wherever they come (a second 150, a 226 twice,
-- a stray 425, an error before the real reply). The session is brought
-- back in step (the replies already there are read, then NOOP, and every
-- reply up to NOOP's answer) or closed; never half in step.
--
-- Where it applies: before each command of the library's own, when no
-- transfer is under way (replies already there then answer nothing we
-- sent); after a transfer that failed after its 1xx, or that got a 2xx
-- where a 1xx was due; after a successful transfer when more replies are
-- already there; and after ABOR (abort.lua). putcmd, getresp and voidresp
-- stay raw: a script that pipelines by hand reads its own replies.

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local resync = {}

-- Replies nobody asked for that are read in one go, at most; more and the
-- session is given up as out of step.
local MAX_STRAY = 32
-- Rounds of NOOP while replies keep arriving after NOOP's answer.
local MAX_ROUNDS = 3

-- What a server may answer to NOOP: 200, or 500-502 when it will not take
-- it (aioftp has no NOOP; some servers refuse commands during a transfer),
-- or 530 before login (Twisted).
function resync.answers_noop(code)
  return code == 200 or (code >= 500 and code <= 502) or code == 530
end

-- Reads the replies already there, without waiting, keeping those that are
-- not 1xx in `into` (when given): how many were read, or nil, msg, code
-- (the session is then closed).
local function take_pending(self, into)
  for taken = 0, MAX_STRAY do
    local code, text, errcode = self:_reply_now()
    if code == false then
      return taken
    elseif not code then
      return nil, text, errcode
    elseif into and code >= 200 then
      into[#into + 1] = { code = code, text = text }
    end
  end
  return self:_lose("control connection out of step: too many replies nobody asked for",
    "proto")
end

-- The probe that ends a resync is NOOP, until a 500-502 came while replies
-- were still owed: that may be NOOP refused (aioftp has no NOOP) or one of
-- the owed replies, and no count tells which. PWD then settles it, and is
-- the probe for the rest of the session: its 257 answers nothing else the
-- library has in flight, so it ends a resync however many replies came.
local function probe_answer(self, code)
  return self._sync_probe == "PWD" and code == 257
end

-- After the ambiguous 500-502: PWD goes out, and only its 257 ends the read.
local function send_pwd_probe(self)
  self._sync_probe = "PWD"
  return self:putcmd("PWD")
end

-- Reads replies up to the probe's answer. `owed` replies come before it (a
-- transfer's final reply, ABOR's, and `noops` of them answer keepalive
-- NOOPs); `seen` holds those of them already read (no 1xx: a preliminary
-- reply owes nothing and answers nothing). A 500-502 answers our NOOP once
-- every owed reply came; a 200 also sooner, once a reply beyond the
-- keepalive answers came (a server that answers ABOR and the transfer with
-- one reply). Returns the last reply before the probe's answer (ABOR's), or
-- the probe's answer when nothing came before it, as text, code; nil, msg,
-- code when the session was lost. One timeout for them all: a server that
-- sends a reply just before each timeout would otherwise hold it 30 times
-- as long.
local function read_to_noop(self, owed, noops, seen)
  local count, last = #seen, seen[#seen]
  local deadline = self:_deadline()
  local pwd_sent = false
  for _ = 1, owed + MAX_STRAY do
    local code, text, errcode = self:_readreply(deadline)
    if not code then
      return nil, text, errcode
    end
    if code >= 200 then
      local all_came = count >= owed
      local noop_answer = resync.answers_noop(code)
        and (all_came or (code == 200 and count > noops))
      if probe_answer(self, code) or (noop_answer and not pwd_sent) then
        if last then
          return last.text, last.code
        end
        return text, code
      end
      if code >= 500 and code <= 502 and not self._sync_probe then
        local ok, err, ecode = send_pwd_probe(self)
        if not ok then
          return nil, err, ecode
        end
        pwd_sent = true
      else
        count = count + 1
        last = { code = code, text = text }
      end
    end
  end
  return self:_lose("control connection out of step: no answer to NOOP", "proto")
end

-- The replies already there (they came before NOOP went out, so none of
-- them answers it), NOOP, and every reply up to its answer (read_to_noop);
-- then, while more replies are already there (a server that sent some
-- twice), once more. Returns what the first round gave (text, code), or
-- nil, msg, code (the session is then closed).
function FTP:_sync(owed, noops, seen)
  local text, code
  for round = 1, MAX_ROUNDS + 1 do
    local here = round == 1 and (seen or {}) or {}
    local ok, perr, pcode = take_pending(self, here)
    if ok and round > 1 and ok == 0 then
      return text, code
    end
    if ok then
      ok, perr, pcode = self:putcmd(self._sync_probe or "NOOP")
    end
    if ok then
      ok, perr, pcode = read_to_noop(self, round == 1 and owed or 0, round == 1 and noops or 0,
        here)
    end
    if not ok then
      return nil, perr, pcode
    end
    if round == 1 then
      text, code = ok, perr
    end
  end
  return self:_lose("control connection out of step: replies keep coming", "proto")
end

-- After a transfer's final 2xx: more replies already there mean the
-- server sent more than one; in step again before anything else goes out.
-- true, or nil, msg, code.
function FTP:_settle()
  local taken, err, code = take_pending(self)
  if taken and taken > 0 then
    taken, err, code = self:_sync()
  end
  if not taken then
    return nil, err, code
  end
  return true
end

-- Before a command of the library's own: with no transfer under way, a
-- reply already there answers nothing we sent, and would answer this
-- command instead.
function FTP:_check_in_step()
  if self._data_open then
    return true
  end
  return self:_settle()
end

resync.FTP = FTP

return resync
