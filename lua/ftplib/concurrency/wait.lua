-- Every wait of the library passes through here. The C core only takes
-- non-blocking steps; this module decides how to wait between them.
--
-- Two modes, one API. In a plain call (the main thread, or any coroutine
-- not marked below) a wait blocks in poll(). In a coroutine marked as
-- yielding (the tasks of ftplib.run, or a host's ftplib.coroutine) a wait
-- yields instead:
--
--   coroutine.yield(wait.WAIT, fd, dir, timeout)
--
-- fd: the descriptor to watch, dir: "r" or "w" (both nil for a plain
-- sleep or a turn given to others), timeout: seconds from now after which
-- the coroutine wants to be resumed anyway (0: as soon as others had a
-- turn). Whoever drives the coroutine resumes it once fd is ready or the
-- time is up, whichever comes first; no values are needed. A resume too
-- early is harmless: the step that asked for the wait runs again and, not
-- ready, asks again for the time left (every wait is followed by a
-- non-blocking step that tells for itself whether it can go on).
local core = require "ftplib.core"

local wait = {}

local now = core.now

wait.now = now
wait.WAIT = "ftplib.wait"

-- How long a yielding coroutine may move ready data before it gives the
-- others a turn (see wait.passer).
local SLICE = 0.01

-- Coroutines whose waits yield, each with when it was last resumed from a
-- wait (false until then). Weak keys: they are forgotten with them.
local slice_start = setmetatable({}, { __mode = "k" })

-- Marks co: its waits yield from now on. Returns co.
function wait.mark(co)
  if slice_start[co] == nil then
    slice_start[co] = false
  end
  return co
end

-- The running coroutine when its waits should yield; nil when they block.
-- A marked coroutine inside a C call that cannot yield (a metamethod or
-- callback of some C function) blocks: correct, if not concurrent.
local function yielder()
  local co, main = coroutine.running()
  if not main and slice_start[co] ~= nil and coroutine.isyieldable() then
    return co
  end
end

local function yield_wait(co, fd, dir, timeout)
  local ready = coroutine.yield(wait.WAIT, fd, dir, math.max(timeout, 0))
  slice_start[co] = now()
  return ready
end

-- Waits until fd is ready for dir ("r" or "w") or the deadline passes:
-- true, or nil, "timed out", "timeout". calm: sleep at once, without the
-- busy-wait a blocking read's wait starts with (ftplib.set_busy_wait).
function wait.fd(fd, dir, deadline, calm)
  local left = deadline - now()
  if left <= 0 then
    return nil, "timed out", "timeout"
  end
  local co = yielder()
  if not co then
    return core.wait(fd, dir, left, calm)
  end
  -- Resumed with true (ready) or before the deadline: let the step look.
  if yield_wait(co, fd, dir, left) or now() < deadline then
    return true
  end
  return nil, "timed out", "timeout"
end

-- How long a yielding coroutine waits on the first of two descriptors
-- before it looks at the second (the protocol of yields has one).
local EITHER_SLICE = 0.02

-- Waits until fd1 is ready for dir1 or fd2 for dir2, or the deadline
-- passes: true (one may be ready: the caller's steps look), or nil,
-- "timed out", "timeout". Blocking: one poll over both. Yielding: a
-- short wait on fd1, so that fd2 is looked at again soon.
function wait.either(fd1, dir1, fd2, dir2, deadline)
  local left = deadline - now()
  if left <= 0 then
    return nil, "timed out", "timeout"
  end
  local co = yielder()
  if not co then
    local ready, err, code = core.poll({ fd1, fd2 }, { dir1, dir2 }, left)
    if not ready then
      return nil, err, code
    end
    return true
  end
  yield_wait(co, fd1, dir1, math.min(left, EITHER_SLICE))
  return true
end

-- Sleeps for the given seconds (retry backoff).
function wait.sleep(seconds)
  if seconds <= 0 then
    return
  end
  local deadline = now() + seconds
  local co = yielder()
  if not co then
    repeat -- a signal ends a wait early
      core.wait(-1, "r", deadline - now())
    until now() >= deadline
    return
  end
  repeat
    yield_wait(co, nil, nil, deadline - now())
  until now() >= deadline
end

local function no_pass() end

-- A function to call between chunks of a transfer whose data is always
-- ready (a fast server on loopback): in a yielding coroutine that has run
-- for its slice, it gives the others a turn; elsewhere it does nothing.
-- Taken once per transfer loop, where the caller runs: the loop does not
-- move between coroutines, so which coroutine it is is looked up once.
function wait.passer()
  local co = yielder()
  if not co then
    return no_pass
  end
  return function()
    local started = slice_start[co]
    if not started then
      slice_start[co] = now()
    elseif now() - started >= SLICE then
      yield_wait(co, nil, nil, 0)
    end
  end
end

-- Repeats step(obj, ...) while it answers `false, dir`, waiting on obj's
-- descriptor in between, and returns what it finally answered. `false,
-- "pause", seconds` (a data connection's rate limit, data:_set_rate) sleeps
-- that long: a wait of our own making, not the peer's silence, so it does not
-- count against the deadline.
function wait.until_done(obj, deadline, step, ...)
  while true do
    local a, b, c = step(obj, ...)
    if a ~= false then
      return a, b, c
    end
    local ok, err, code = true, nil, nil
    if b == "pause" then
      local slept = now()
      wait.sleep(c)
      deadline = deadline + (now() - slept)
    else
      ok, err, code = wait.fd(obj:_fd(), b, deadline)
    end
    if not ok then
      return nil, err, code
    end
  end
end

return wait
