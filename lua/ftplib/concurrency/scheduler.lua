-- Many sessions at once in one thread: ftplib.spawn(fn, ...) makes a task,
-- ftplib.run() runs the tasks until all are done. Inside a task every wait
-- of the library yields (see wait.lua) and run() waits for all the tasks'
-- descriptors and deadlines in one poll().
--
-- A task that raises does not stop the others: run() finishes them, then
-- raises the first such error (task:result() re-raises a task's own error,
-- and an error seen that way is not raised again by run()).
--
-- Hosts with their own event loop use ftplib.coroutine(fn) instead: a
-- coroutine whose waits yield wait.WAIT, fd, dir, timeout to its resumer.
local core = require "ftplib.core"
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"

local now = wait.now
local WAIT = wait.WAIT

--- The scheduler: many sessions at once in one thread. `ftplib.spawn(fn, ...)` makes a
-- task; `ftplib.run()` runs the tasks until all are done. Inside a task every wait of
-- the library (connect, reply, accept, TLS handshake, data, `ftplib.sleep`) yields, and
-- `run` waits for all the tasks' descriptors and deadlines in one `poll()`. Outside a
-- task the same code blocks as before. Timeouts fire as usual; a long fast transfer
-- gives the others a turn every 10 ms. Not a module of its own: these are functions
-- of `ftplib`.
--
-- One session belongs to one task at a time. A coroutine the library did not make
-- (`coroutine.wrap` inside a task) blocks in its waits: correct, not concurrent. Hosts
-- with an event loop of their own use @{ftplib.coroutine} instead of `run`.
-- @module scheduler
-- @usage local tasks = {}
-- for i, name in ipairs { "a.iso", "b.iso", "c.iso" } do
--   tasks[i] = ftplib.spawn(function()
--     local ftp <close> = assert(ftplib.FTP(host, { user = "me", passwd = "pw" }))
--     local file <close> = assert(io.open(name, "wb"))
--     return ftp:retrbinary("RETR " .. name, file)
--   end)
-- end
-- assert(ftplib.run()) -- all three at once, in this one thread
-- print(tasks[2]:result()) -- what the task's function returned

-- What a task yields to wait for another task's end (task:result()).
local JOIN = {}

-- A task: task.status is "ready", "waiting", "joining" (another task's
-- end), "done" or "failed"; task.error and task.traceback tell a failure.
local Task = {}
Task.__index = Task

-- The tasks not yet finished, in the order they were spawned, and the tasks
-- by coroutine (to know whether the running coroutine is one of ours).
local live = {}
local by_coroutine = setmetatable({}, { __mode = "k" })
-- Failed tasks whose error nobody has seen yet: run() raises the first.
local unseen_failures = {}
local running = false

local function current_task()
  local co, main = coroutine.running()
  if not main then
    return by_coroutine[co]
  end
end

-- The task's function under xpcall, keeping the traceback of an error.
local function body(task, fn, ...)
  return xpcall(fn, function(err)
    task.traceback = debug.traceback(tostring(err), 2)
    return err
  end, ...)
end

--- Makes a task that runs `fn(...)` under the scheduler: it starts at the next
-- @{ftplib.run} (or a `task:result()` outside a task). It may be called inside a task.
-- @function ftplib.spawn
-- @tparam function fn
-- @param ... its arguments
-- @treturn table the task (Class Task, below)
local function spawn(fn, ...)
  checks.check("spawn", 1, fn, "function")
  local task = setmetatable({ status = "ready" }, Task)
  local args = table.pack(...)
  task.co = wait.mark(coroutine.create(function()
    return body(task, fn, table.unpack(args, 1, args.n))
  end))
  by_coroutine[task.co] = task
  live[#live + 1] = task
  return task
end

local function finish(task, results)
  if results[2] then
    task.status, task.results = "done", table.pack(table.unpack(results, 3, results.n))
  else
    task.status, task.error = "failed", results[3]
    unseen_failures[#unseen_failures + 1] = task
  end
  for _, joiner in ipairs(task.joiners or {}) do
    joiner.status, joiner.wake_value = "ready", nil
  end
  task.joiners = nil
end

-- What the task yielded says what it waits for.
local function note_wait(task, what, a, b, c)
  if what == WAIT then
    task.fd, task.dir, task.wake_at = a, b, now() + c
    task.status = "waiting"
  elseif what == JOIN then
    task.status, task.fd, task.wake_at = "joining", nil, nil
    a.joiners = a.joiners or {}
    table.insert(a.joiners, task)
  else -- a plain coroutine.yield(): the others get a turn
    task.status = "ready"
  end
end

-- What coroutine.resume gave: the results are packed only when the task
-- finished.
local function resumed(task, ok, ...)
  if coroutine.status(task.co) ~= "dead" then
    note_wait(task, ...)
  elseif ok then
    finish(task, table.pack(ok, ...))
  else -- outside body's xpcall: should not happen
    finish(task, { n = 3, true, false, (...) })
  end
end

local function resume(task)
  local value = task.wake_value
  task.wake_value, task.fd, task.dir, task.wake_at = nil, nil, nil, nil
  resumed(task, coroutine.resume(task.co, value))
end

-- Resumes every task ready at the start of the round, once (tasks spawned
-- during the round are appended to live, after the round's end).
local function run_ready()
  local finished = false
  for i = 1, #live do
    local task = live[i]
    if task.status == "ready" then
      resume(task)
    end
    finished = finished or task.status == "done" or task.status == "failed"
  end
  if finished then
    local kept = {}
    for _, task in ipairs(live) do
      if task.status ~= "done" and task.status ~= "failed" then
        kept[#kept + 1] = task
      end
    end
    live = kept
  end
end

-- One poll() for every waiting task, bounded by the nearest deadline (and
-- by stop_at); then wakes the tasks whose descriptor or time has come.
local function poll_waiting(stop_at)
  local fds, dirs, owners = {}, {}, {}
  local nearest = stop_at or math.huge
  for _, task in ipairs(live) do
    if task.status == "ready" then
      nearest = 0
    elseif task.status == "waiting" then
      nearest = math.min(nearest, task.wake_at)
      if task.fd then
        fds[#fds + 1], dirs[#dirs + 1], owners[#owners + 1] = task.fd, task.dir, task
      end
    end
  end
  if nearest == math.huge then
    error("ftplib.run: every task waits for another task", 0)
  end
  local ready, err = core.poll(fds, dirs, math.max(nearest - now(), 0))
  if not ready then
    error("ftplib.run: poll failed: " .. err, 0)
  end
  for _, i in ipairs(ready) do
    owners[i].status, owners[i].wake_value = "ready", true
  end
  local t = now()
  for _, task in ipairs(live) do
    if task.status == "waiting" and task.wake_at <= t then
      task.status = "ready"
    end
  end
end

-- Raises the first error no one has seen, saying how many others failed.
local function raise_failures()
  local first = table.remove(unseen_failures, 1)
  if not first then
    return
  end
  local others = #unseen_failures
  unseen_failures = {}
  local err = first.error
  if others > 0 and type(err) == "string" then
    err = string.format("%s (and %d more failed task%s)", err, others, others > 1 and "s" or "")
  end
  error(err, 0)
end

-- Drives the tasks until done() is true, or until stop_at: true when done.
local function drive(done, stop_at)
  if running then
    checks.raise("ftplib.run is already running (inside a task, use task:result())")
  end
  running = true
  local ok, err = pcall(function()
    while not done() do
      run_ready()
      if done() or (stop_at and now() >= stop_at) then
        break
      end
      poll_waiting(stop_at)
    end
  end)
  running = false
  if not ok then
    error(err, 0)
  end
  return done()
end

-- ftplib.run([timeout]): runs the spawned tasks until all are done. true,
-- or nil, "timed out", "timeout" when timeout seconds passed first (the
-- tasks left go on at the next run). A task's unseen error is raised once
-- all the others are done (or the timeout passed).

--- Runs the spawned tasks until all are done. A task that raises does not stop the
-- others: once they are done (or the timeout passed), `run` raises the first error
-- nobody saw through @{Task:result}, saying how many more tasks failed.
-- @function ftplib.run
-- @tparam[opt] number timeout seconds to run at most
-- @treturn boolean `true` when every task is done
-- @return[2] `nil, "timed out", "timeout"` when the timeout passed first (the tasks left
-- go on at the next `run`)
-- @raise a task's error; also when called inside a task (use @{Task:result}) or while
-- every task waits for another
local function run(timeout)
  checks.check("run", 1, timeout, "number|nil")
  local finished = drive(function() return #live == 0 end, timeout and now() + timeout)
  raise_failures()
  if not finished then
    return nil, "timed out", "timeout"
  end
  return true
end

-- task:result(): the values the task's function returned, once it is done;
-- re-raises its error if it raised. Inside a task it waits for the other
-- task; outside, it runs the scheduler until that task is done.

--- A task, as @{ftplib.spawn} makes it.
-- @type Task

--- What the task is doing: `"ready"`, `"waiting"` (for a descriptor or a time),
-- `"joining"` (for another task's end), `"done"` or `"failed"`. A string.
-- @field status

--- What the task's function raised, once `status` is `"failed"`.
-- @field error

--- The traceback of that error, a string.
-- @field traceback

--- The values the task's function returned, once it is done. Inside another task it
-- waits for this one; outside, it runs the scheduler until this task is done.
-- @return what the function returned
-- @raise the task's error, if it raised (which @{ftplib.run} then does not raise
-- again); also when a task asks for its own result
function Task:result()
  if self.status ~= "done" and self.status ~= "failed" then
    local me = current_task()
    if me == self then
      checks.raise("a task cannot wait for its own result")
    elseif me then
      coroutine.yield(JOIN, self)
    else
      drive(function() return self.status == "done" or self.status == "failed" end)
    end
  end
  if self.status == "failed" then
    for i, task in ipairs(unseen_failures) do
      if task == self then
        table.remove(unseen_failures, i)
        break
      end
    end
    error(self.error, 0)
  end
  return table.unpack(self.results, 1, self.results.n)
end

-- ftplib.coroutine(fn): a coroutine whose library waits yield to a host's
-- event loop (see wait.lua for what it yields and how to resume it).

--- The end of Task.
-- @section end

--- Makes a coroutine for a host's event loop: its waits yield
-- `ftplib.WAIT, fd, dir, timeout` to whoever resumes it. Resume it once `fd` is ready
-- for `dir` (`"r"` or `"w"`) or after `timeout` seconds, whichever comes first (`fd`
-- and `dir` are nil for a sleep; `timeout` 0: soon, after the others had a turn). An
-- early resume is harmless. See `examples/luv_parallel.lua`.
-- @function ftplib.coroutine
-- @tparam function fn the coroutine's body
-- @treturn thread the coroutine (start it with `coroutine.resume`)
-- @usage local co = ftplib.coroutine(function() return ftp:noop() end)
-- local ok, what, fd, dir, timeout = coroutine.resume(co)
-- while what == ftplib.WAIT do
--   host_wait(fd, dir, timeout) -- the host's own wait: fd ready, or timeout passed
--   ok, what, fd, dir, timeout = coroutine.resume(co)
-- end
local function host_coroutine(fn)
  checks.check("coroutine", 1, fn, "function")
  return wait.mark(coroutine.create(fn))
end

--- The value a coroutine of @{ftplib.coroutine} yields first when it waits:
-- `coroutine.yield(ftplib.WAIT, fd, dir, timeout)`. A string.
-- @field ftplib.WAIT

-- ftplib.lua copies these into the ftplib table.
return {
  exports = {
    spawn = spawn,
    run = run,
    --- Sleeps: inside a task (or a host's coroutine) it yields, so that the others run;
    -- elsewhere it blocks.
    -- @function ftplib.sleep
    -- @tparam number seconds
    sleep = function(seconds)
      wait.sleep(checks.check("sleep", 1, seconds, "number"))
    end,
    --- The clock of every timeout and deadline of the library: monotonic, not the time
    -- of day.
    -- @function ftplib.now
    -- @treturn number seconds, with a fraction
    now = now,
    coroutine = host_coroutine,
    WAIT = WAIT,
  },
}
