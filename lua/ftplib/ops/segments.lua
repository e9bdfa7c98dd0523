-- ftp:download(remote, localpath, {segments = N}): one big file over N
-- sessions at once, like lftp's pget -n. SIZE cuts the file into ranges
-- (segment_record.lua); the session of the call and N - 1 clones of it
-- (parallel.clone: same server, login, options, TLS settings and folder)
-- each take the next range left: REST to where it stands, RETR, its bytes
-- written in place into the .part through a file handle of its own, and
-- the transfer stopped (ABOR, protocol/abort.lua) once the range is full.
-- The last range is read to the end of the data: a server sending more
-- than SIZE said is caught there.
--
-- The .part carries the plan (which ranges, how much of each is on disk)
-- so that a later call with resume = true goes on where each range
-- stopped, and only for the same remote file (path, SIZE, MDTM). The file
-- gets its final name once every range is full, the .part has SIZE's
-- bytes, and SIZE and MDTM still answer what they did at the start (and,
-- with verify = "hash", the server's digest is the .part's).
--
-- What cannot be cut falls back, and says so in info.fallback: no SIZE or
-- a refused REST, one session (the plain download of whole_files.lua);
-- clones refused (421: too many connections), fewer sessions. A range
-- whose session fails is put back for any session to take, a bounded
-- number of times; a lost session is brought back (the clone made again).
-- Memory: one receive buffer and one chunk per session.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
local wait = require "ftplib.concurrency.wait"
local scheduler = require "ftplib.concurrency.scheduler"
local parallel = require "ftplib.ops.parallel"
local retry = require "ftplib.ops.retry"
local record = require "ftplib.ops.segment_record"
local verify = require "ftplib.ops.verify"
local lfs = checks.lazy_require("lfs", "ftp:download needs LuaFileSystem")

local spawn = scheduler.exports.spawn

local segments = {}

-- What download answers when the file cannot be cut: the caller downloads
-- it on one session, the second value saying why.
-- The largest file cut into ranges (2^53 bytes).
local MAX_SEGMENTED = 1 << 53

segments.FALLBACK = setmetatable({}, { __name = "segments.FALLBACK" })

segments.MAX = 32          -- sessions one download may open
local BLOCK = 256 * 1024   -- the largest chunk a session hands over
local RECORD_EVERY = 1024 * 1024 -- bytes written between two updates of the record
local DEFAULT_RETRIES = 2  -- more tries of one range, when opts.retries is not given

-- The number of segments opts.segments asks for: an integer from 1 to MAX.
function segments.count(value)
  local n = math.tointeger(value)
  if not n or n < 1 or n > segments.MAX then
    checks.raise(("'download' option segments must be an integer from 1 to %d"):format(
      segments.MAX))
  end
  return n
end

-- The remote file before any byte: ----------------------------------------

-- SIZE as an integer; nil, why when the server gives none (the caller falls
-- back); nil, msg, code when the session failed on the way.
local function remote_total(ftp, remote)
  local total, err, code = ftp:size(remote)
  if math.type(total) == "integer" then
    return total
  elseif total then
    return nil, "SIZE gave " .. tostring(total) .. ", not a byte count"
  elseif retry.transient(code) or math.type(code) ~= "integer" then
    return nil, err, code
  end
  return nil, "no SIZE (" .. tostring(err) .. ")"
end

-- The remote time and its precision: the caller's, else MDTM's; nil when
-- the server gives none; nil, msg, code when the session failed.
local function remote_time(ftp, job)
  if job.opts.modify then
    return job.opts.modify, job.opts.precision or 1
  end
  local mtime, err, code = ftp:mdtm(job.remote)
  if mtime then
    return mtime, 1
  elseif math.type(code) ~= "integer" then
    return nil, err, code
  end
  return nil
end

-- Whether REST works: false when it does, the refusal's text when not, or
-- nil, msg, code. REST 0 after the probe: a server keeps a restart point
-- until the next transfer (vsftpd), which must start where it asks.
local function rest_refusal(ftp, at)
  for _, offset in ipairs { at, 0 } do
    local code, text, errcode = ftp:_cmd("REST " .. offset)
    if not code then
      return nil, text, errcode
    elseif code ~= 350 then
      return text
    end
  end
  return false
end

-- The .part ---------------------------------------------------------------

local same_time = require("ftplib.base.utc").same_time

-- Why a recorded origin is not the remote file now, or nil when it is.
local function origin_differs(recorded, origin, remote)
  if recorded.remote_id ~= core.sha256(remote) then
    return "the .part was started from another remote file"
  elseif recorded.size ~= origin.size then
    return "the remote file changed size since the .part was started"
  elseif recorded.modify and not (origin.modify and same_time(origin.modify,
      origin.precision, recorded.modify, recorded.precision)) then
    return "the remote file changed since the .part was started"
  elseif origin.modify and not recorded.modify then
    return "the .part was started without the remote file's time, which it has now"
  end
end

-- The plan a .part records, when it may be continued: the same remote file
-- and no range claiming bytes past the .part's end. nil and why not (nil
-- alone when there is no .part).
local function recorded_plan(job, origin)
  local attributes = lfs.symlinkattributes(job.part)
  if not attributes then
    return nil
  elseif attributes.mode ~= "file" then
    return nil, "the .part is not a regular file"
  elseif attributes.nlink ~= 1 then
    return nil, "the .part has another name (a hard link): not written through"
  end
  local text, err = core.file_origin(job.part)
  if err then
    return nil, "its record cannot be read (" .. err .. ")"
  end
  local plan, recorded = record.parse(text)
  if not plan then
    return nil, text and "the .part was not started by a segmented download"
      or "the .part has no record (from another tool, or a file system without extended attributes)"
  end
  local why = origin_differs(recorded, origin, job.remote)
  if why then
    return nil, why
  end
  for _, range in ipairs(plan.ranges) do
    if range.done > 0 and range.from + range.done > attributes.size then
      return nil, "the .part is shorter than its record says"
    end
  end
  return plan
end

-- A fresh .part for plan, made exclusively (what had its name removed
-- first, never written through), its record written.
local function fresh_part(job, plan, origin)
  os.remove(job.part)
  local file, err, code = core.open_file(job.part, "new")
  if not file then
    return nil, err, code
  end
  file:close()
  core.file_origin(job.part, record.text(plan, origin)) -- no xattrs: no resume later
  return plan
end

-- The plan to follow: the recorded one when resuming it is safe, else a
-- fresh one (job.info.restarted says why a .part was not continued).
local function choose_plan(job, origin, n)
  if job.opts.resume then
    local plan, why = recorded_plan(job, origin)
    if plan then
      return plan
    end
    job.info.restarted = why
  end
  return fresh_part(job, record.plan(origin.size, n), origin)
end

local function write_record(state)
  state.unrecorded = 0
  core.file_origin(state.job.part, record.text(state.plan, state.origin))
end

-- One range on one session -----------------------------------------------

-- Bytes went to disk: the record now and then, and the caller's progress.
local function progressed(state, bytes)
  state.unrecorded = state.unrecorded + bytes
  if state.unrecorded >= RECORD_EVERY then
    write_record(state)
  end
  local progress = state.job.opts.progress
  if progress and progress(record.done(state.plan), state.plan.total) == false then
    state.stopped = true
  end
end

-- The range after `range` when no session has begun it: taken from the
-- queue, so that a session reaching the end of its range goes straight on
-- into the next one instead of stopping (one session with all the ranges
-- stops once, not at every range's end).
local function claim_next(state, range)
  local following = state.plan.ranges[range.index + 1]
  if not following or following.done > 0 then
    return nil
  end
  for i, queued in ipairs(state.queue) do
    if queued == following then
      table.remove(state.queue, i)
      return following
    end
  end
end

-- Writes chunk from byte `at` into the ranges from at.range on, going on
-- into the next ones while claim_next gives them: true, or false with
-- outcome.over when the data goes past SIZE (outcome.io: a write failed).
local function write_pieces(state, at, chunk, outcome)
  local first = 1
  while first <= #chunk do
    local range = at.range
    local room = range.to - range.from - range.done
    if room == 0 then
      local following = range.to < state.plan.total and claim_next(state, range)
      if not following then
        outcome.over = range.to == state.plan.total
        return false
      end
      at.range, range, room = following, following, following.to - following.from
    end
    local piece = (first == 1 and #chunk <= room) and chunk or chunk:sub(first, first + room - 1)
    local ok, err = at.file:write(piece)
    if not ok then
      outcome.io = err
      return false
    end
    range.done, first = range.done + #piece, first + #piece
    progressed(state, #piece)
  end
  return true
end

-- The sink of a session's ranges: writes what falls inside them, stops once
-- the range is full and the next is taken (the last range reads on, to see
-- the data end where SIZE said). A clone stopping with no range left in
-- the queue closes instead of ABOR (protocol/transfer.lua's _close_on_stop).
-- The file is unbuffered, so that the record never claims bytes not yet
-- written.
local function range_sink(state, session, at, outcome)
  local function write(_, chunk)
    if not write_pieces(state, at, chunk, outcome) then
      if not (outcome.io or outcome.over) then -- full, the chunk going past its end
        session._close_on_stop = session ~= state.ftp and #state.queue == 0
      end
      return false
    elseif state.stopped or state.failure then -- the download ends: a clone is of no more use
      session._close_on_stop = session ~= state.ftp
      return false
    end
    local range = at.range
    if range.to == state.plan.total or range.from + range.done < range.to then
      return true
    end
    local following = claim_next(state, range)
    if following then
      at.range = following
      return true
    end
    session._close_on_stop = session ~= state.ftp and #state.queue == 0
    return false
  end
  return { write = write }
end

-- What one RETR of a session's ranges came to: true, or nil, msg, code.
local function range_outcome(state, range, outcome, ok, err, code)
  local full = range.from + range.done == range.to
  local remote, total = state.job.remote, state.plan.total
  if outcome.io then
    return nil, tostring(outcome.io), "io"
  elseif outcome.over then
    return nil, ("%s: the server sent more than the %d bytes SIZE gave"):format(remote, total),
      "proto"
  elseif state.stopped then
    return nil, "download stopped by progress", "aborted"
  elseif full then
    return true -- stopped by us once full (ABOR, or the clone closed), or at the data's end
  elseif ok then
    return nil, ("%s: the data ended at byte %d, SIZE gave %d"):format(remote,
      range.from + range.done, total), "closed"
  end
  return nil, err, code
end

-- RETR from where the range stands, into its place in the .part. Answers
-- the range it ended in (ranges it went through on the way are full) and
-- true, or nil, msg, code.
local function fetch_range(session, state, range)
  local file <close>, err, code = core.open_file(state.job.part, "existing")
  if not file then
    return range, nil, err, code
  end
  file:setvbuf("no")
  local start = range.from + range.done
  local at_start, serr, scode = file:seek("set", start)
  if at_start ~= start then
    return range, nil, "cannot seek in " .. state.job.part .. ": " .. tostring(serr), scode or "io"
  end
  local outcome, at = {}, { range = range, file = file }
  session._announced_size = nil
  -- What one session learned about stopping this server's transfers (abort.lua)
  -- holds for the others: same server, same kind of transfer.
  session._abort_learned = session._abort_learned or state.abort_learned
  -- rate_limit holds each session's transfer, as lftp's limit holds each connection.
  local ok, rerr, rcode = session:retrbinary("RETR " .. state.job.remote,
    range_sink(state, session, at, outcome), BLOCK, start > 0 and start or nil,
    { rate_limit = state.job.opts.rate_limit })
  state.abort_learned = state.abort_learned or session._abort_learned
  if start == 0 and session._announced_size and session._announced_size ~= state.plan.total then
    return at.range, nil, ("%s: the 150 reply announced %d bytes, SIZE gave %d"):format(
      state.job.remote, session._announced_size, state.plan.total), "changed"
  end
  return at.range, range_outcome(state, at.range, outcome, ok, rerr, rcode)
end

-- The sessions -------------------------------------------------------------

-- A clone of ftp in folder whose SIZE agrees: the session, or nil, msg, code.
local function clone_session(ftp, state)
  local copy, err, code = parallel.clone(ftp, state.folder)
  if not copy then
    return nil, err, code
  end
  local total
  total, err, code = copy:size(state.job.remote)
  if total ~= state.plan.total then
    copy:close()
    if total or math.type(code) == "integer" then
      state.failure = state.failure or { ("%s: SIZE gave %d on one session, %s on another")
        :format(state.job.remote, state.plan.total, tostring(total or err)), "changed" }
    end
    return nil, err or "SIZE differs", code or "changed"
  end
  return copy
end

-- A lost session back: the call's own through retry.lua's _restore, a clone
-- made again. nil when it cannot be.
local function bring_back(ftp, session, state)
  if not session._close_on_stop then -- lost, not closed by us: give the server time
    wait.sleep(state.delay)
  end
  if #state.queue == 0 or state.failure or state.stopped then
    return session -- the others ended it meanwhile: no reconnection for nothing
  end
  if session == ftp then
    return ftp:_restore(state.folder) and ftp or nil
  end
  session:close()
  return clone_session(ftp, state)
end

-- A transient failure, or a 5xx after which the session is gone (vsftpd's
-- "500 OOPS" when its session process dies): as retry.lua judges them.
local function worth_again(session, code)
  return retry.transient(code) or (math.type(code) == "integer" and not session:_isopen())
end

-- A failed range: back in the queue for any session while tries are left,
-- else the download fails.
local function range_failed(state, session, range, err, code)
  range.tries = (range.tries or 0) + 1
  state.last_failure = { err, code }
  if worth_again(session, code) and range.tries <= state.retries then
    table.insert(state.queue, range)
  else
    state.failure = state.failure or { err, code }
  end
end

-- A session's loop: the next range left until none is, or the download
-- failed. Answers the session it ends with (nil when it was lost for good).
local function work(ftp, session, state)
  while #state.queue > 0 and not (state.failure or state.stopped) do
    if not session:_isopen() then
      session = bring_back(ftp, session, state)
      if not session then
        return nil
      end
    end
    -- Bringing a session back waits, and meanwhile the others may have
    -- taken the last range or ended the download.
    local queued = not (state.failure or state.stopped) and table.remove(state.queue, 1)
    if not queued then
      break
    end
    local range, ok, err, code = fetch_range(session, state, queued)
    if not ok then
      range_failed(state, session, range, err, code)
    end
  end
  return session
end

-- A task for one clone: made, counted, worked, said goodbye to.
local function clone_worker(ftp, state)
  local copy, err = clone_session(ftp, state)
  if not copy then
    state.refused[#state.refused + 1] = err
    return
  end
  state.sessions = state.sessions + 1
  copy = work(ftp, copy, state)
  if copy and copy:_isopen() then
    copy:quit()
  end
  if copy then
    copy:close()
  end
end

-- Runs the ranges left on ftp and up to n - 1 clones. A raise in one task
-- (the caller's progress) stops the others at their next range; the first
-- is raised again once all are done.
local function run_sessions(ftp, state, n)
  local function guarded(fn, ...)
    local ok, err = pcall(fn, ...)
    if not ok then
      state.failure = state.failure or { "raised", "raised" }
      error(err, 0)
    end
  end
  local tasks = { spawn(guarded, work, ftp, ftp, state) }
  for _ = 2, state.folder and math.min(n, #state.queue) or 1 do
    tasks[#tasks + 1] = spawn(guarded, clone_worker, ftp, state)
  end
  local first_error = parallel.join(tasks)
  write_record(state)
  if first_error ~= nil then
    error(first_error, 0)
  end
end

-- What info.fallback says when fewer sessions took part than asked for.
local function fewer_sessions(state, wanted)
  if not state.folder then
    return "PWD gave no folder for clones to go to: one session"
  elseif #state.refused > 0 then
    return ("%d of %d more sessions refused (%s): %d session%s"):format(#state.refused,
      wanted - 1, tostring(state.refused[1]), state.sessions, state.sessions > 1 and "s" or "")
  end
end

-- The end: checks, rename ---------------------------------------------------

-- Whether the remote file is still the one of the start (SIZE, MDTM when
-- it answered then): true, or nil, msg, code ("changed").
local function unchanged(ftp, state)
  if not ftp:_isopen() and not ftp:_restore(state.folder) then
    return nil, "the session was lost before the last checks", "closed"
  end
  local remote, origin = state.job.remote, state.origin
  local total, err, code = ftp:size(remote)
  if total ~= origin.size then
    if not total and math.type(code) ~= "integer" then
      return nil, err, code
    end
    return nil, ("%s changed during the download: SIZE gave %d, now %s"):format(remote,
      origin.size, tostring(total or err)), "changed"
  end
  if origin.modify and not state.job.opts.modify then
    local mtime
    mtime, err, code = ftp:mdtm(remote)
    if not mtime and math.type(code) ~= "integer" then
      return nil, err, code
    elseif not (mtime and same_time(mtime, 1, origin.modify, 1)) then
      return nil, ("%s changed during the download (MDTM)"):format(remote), "changed"
    end
  end
  return true
end

-- The .part has SIZE's bytes, every range is full: true or nil, msg, code.
local function whole(state)
  local size = lfs.attributes(state.job.part, "size") or 0
  if size ~= state.plan.total then
    return nil, ("%s: %d bytes on disk, SIZE gave %d"):format(state.job.remote, size,
      state.plan.total), size < state.plan.total and "closed" or "proto"
  end
  return true
end

-- With verify = "hash" (job.hash_algo, chosen by the caller before any
-- byte): the whole .part against the server's digest. One that differs is
-- removed (known bad: neither renamed nor resumed), "verify" telling the
-- caller to fetch every range again.
local function verified(ftp, state)
  local job = state.job
  if not job.hash_algo then
    return true
  end
  local ok, err, code = verify.compare(ftp, job.remote, job.part, state.plan.total,
    job.hash_algo)
  if ok then
    job.info.verified = job.hash_algo
  elseif code == "verify" then
    os.remove(job.part)
  end
  return ok, err, code
end

local function finish(state)
  local job = state.job
  if job.opts.preserve_time and state.origin.modify then
    local ok, err = lfs.touch(job.part, os.time(), state.origin.modify)
    if not ok then
      return nil, err, "io"
    end
  end
  core.file_origin(job.part, false) -- the whole file is no start of anything
  local renamed, err = os.rename(job.part, job.localpath)
  if not renamed then
    return nil, err, "io"
  end
  return true
end

-- The download ----------------------------------------------------------

-- The remote file's identity { size, modify, precision, remote }, or
-- FALLBACK, why, or nil, msg, code.
local function identify(ftp, job)
  local total, err, code = remote_total(ftp, job.remote)
  if not total then
    if code then
      return nil, err, code
    end
    return segments.FALLBACK, err
  end
  local modify, precision
  modify, precision, code = remote_time(ftp, job)
  if not modify and precision then
    return nil, precision, code
  end
  return { size = total, modify = modify, precision = modify and precision or nil,
    remote = job.remote }
end

-- A state for the sessions, or FALLBACK, why, or nil, msg, code.
local function prepare(ftp, job, n)
  local origin, err, code = identify(ftp, job)
  if origin == segments.FALLBACK or not origin then
    return origin, err, code
  elseif origin.size > MAX_SEGMENTED then
    -- Beyond what a file position holds exactly everywhere (a double's 2^53):
    -- a SIZE no disk holds is more likely a lie than a file.
    return segments.FALLBACK, "SIZE " .. origin.size .. " too large to cut: one session"
  end
  local plan
  plan, err, code = choose_plan(job, origin, n)
  if not plan then
    return nil, err, code
  end
  local kept = record.done(plan)
  if #plan.ranges > 1 or kept > 0 then
    local refusal
    refusal, err, code = rest_refusal(ftp, plan.ranges[#plan.ranges].from)
    if refusal == nil then
      return nil, err, code
    elseif refusal then
      return segments.FALLBACK, "REST refused (" .. refusal .. "): one session"
    end
  end
  local state = { ftp = ftp, job = job, plan = plan, origin = origin, queue = {}, refused = {},
    sessions = 1, unrecorded = 0, kept = kept, folder = ftp:_pwd_cached(),
    abort_learned = ftp._abort_learned,
    retries = job.opts.retries or DEFAULT_RETRIES, delay = job.opts.retry_delay or 1 }
  -- The last range first, for this session: read to the data's end, it
  -- needs no ABOR, and this session must stay in step for the caller.
  for i, range in ipairs(plan.ranges) do
    range.index = i
    if range.from + range.done < range.to then
      state.queue[#state.queue + 1] = range
    end
  end
  if state.queue[#state.queue] == plan.ranges[#plan.ranges] then
    table.insert(state.queue, 1, table.remove(state.queue))
  end
  return state
end

-- The bytes this call transferred and info, FALLBACK and why, or nil, msg,
-- code. A failure keeps the .part when it holds data, its record telling a
-- later resume where each range stands.
function segments.download(ftp, job, n)
  if ftp._mode_z_on then
    -- Each range would be a zlib stream from its offset to the file's end,
    -- cut by an abort where the range ends: the server compresses what is
    -- thrown away, and a compressed stream is seldom the bottleneck.
    return segments.FALLBACK, "MODE Z is in effect: one stream, no segments"
  end
  local state, err, code = prepare(ftp, job, n)
  if state == segments.FALLBACK or not state then
    return state, err, code
  end
  run_sessions(ftp, state, n)
  if #state.queue > 0 and not (state.failure or state.stopped) and ftp:_isopen() then
    work(ftp, ftp, state) -- ranges put back after this session's worker ended
  end
  local failure = state.failure or (#state.queue > 0 and state.last_failure)
    or (state.stopped and { "download stopped by progress", "aborted" })
  local ok
  if failure then
    ok, err, code = nil, failure[1], failure[2]
  else
    ok, err, code = whole(state)
  end
  if ok then
    ok, err, code = unchanged(ftp, state)
  end
  if ok then
    ok, err, code = verified(ftp, state)
  end
  if ok then
    ok, err, code = finish(state)
  end
  if not ok then
    if record.done(state.plan) == 0 then
      os.remove(job.part)
    end
    return nil, err, code
  end
  local info = job.info
  info.resumed, info.segments, info.sessions = state.kept, #state.plan.ranges, state.sessions
  info.fallback = fewer_sessions(state, math.min(n, #state.plan.ranges))
  return state.plan.total - state.kept, info
end

return segments
