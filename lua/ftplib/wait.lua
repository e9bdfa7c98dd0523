-- Every wait of the library passes through here. The C core only takes
-- non-blocking steps; this module decides how to wait between them, so that
-- a scheduler can later make the same steps yield instead of block.
local core = require "ftplib.core"

local wait = {}

local now = core.now

wait.now = now

-- Waits until fd is ready for dir ("r" or "w") or the deadline passes.
function wait.fd(fd, dir, deadline)
  local left = deadline - now()
  if left <= 0 then
    return nil, "timed out", "timeout"
  end
  return core.wait(fd, dir, left)
end

-- Sleeps for the given seconds (retry backoff); a scheduler yields here too.
function wait.sleep(seconds)
  if seconds > 0 then
    core.wait(-1, "r", seconds)
  end
end

-- Repeats step(obj, ...) while it answers `false, dir`, waiting on obj's
-- descriptor in between, and returns what it finally answered.
function wait.until_done(obj, deadline, step, ...)
  while true do
    local a, b, c = step(obj, ...)
    if a ~= false then
      return a, b, c
    end
    local ok, err, code = wait.fd(obj:_fd(), b, deadline)
    if not ok then
      return nil, err, code
    end
  end
end

return wait
