-- Sessions under luv (libuv's Lua binding, Debian's lua-luv) instead of ftplib's
-- scheduler: a host adapter. Each function runs in a coroutine made by ftplib.coroutine,
-- whose waits yield (ftplib.WAIT, fd, "r"|"w", timeout); each wait becomes a uv poll
-- handle on fd (none for a plain sleep) and a uv timer, and the coroutine is resumed
-- when either fires. The host runs the loop (uv.run) as it likes.
--
--   local hostloop = require "ftplib.concurrency.luv"
--   hostloop.start(function(name) ... ftp:retrbinary(...) ... end, function(ok, result)
--     print(ok, result)
--   end, "file.bin")
--   uv.run()
local uv = require "luv"
local scheduler = require "ftplib.concurrency.scheduler"

local WAIT = scheduler.exports.WAIT
local host_coroutine = scheduler.exports.coroutine

--- Sessions in a luv (libuv) loop.
--
-- `require "ftplib.concurrency.luv"` (needs lua-luv) gives `start`, which runs a
-- function in a coroutine the uv loop drives: each wait of the library becomes a uv
-- poll handle on the descriptor and a uv timer, so the loop's other handles keep
-- running during transfers. The host runs the loop (`uv.run()`) as it likes.
-- examples/luv_parallel.lua uses it.
-- @module ftplib.concurrency.luv
-- @usage local uv = require "luv"
-- local hostloop = require "ftplib.concurrency.luv"
-- hostloop.start(function(name)
--   local ftp <close> = assert(ftplib.FTP(host, { user = "me", passwd = "pw" }))
--   local out <close> = assert(io.open(name, "wb"))
--   return assert(ftp:retrbinary("RETR " .. name, out))
-- end, function(ok, result) print(ok, result) end, "file.bin")
-- uv.run()
local hostloop = {}

-- Calls step(true) once fd is ready in dir, or step(false) after timeout
-- seconds (0: once the loop has had a turn), whichever comes first.
local function wake_on(step, fd, dir, timeout)
  local timer, poll = uv.new_timer(), fd and uv.new_poll(fd)
  local function wake(ready)
    timer:close()
    if poll then
      poll:close()
    end
    step(ready)
  end
  timer:start(math.ceil(timeout * 1000), 0, function() wake(false) end)
  if poll then
    poll:start(dir, function() wake(true) end)
  end
end

--- Runs `fn(...)` in a coroutine driven by the uv loop, from now until it ends.
-- @tparam function fn the work: sessions, transfers, anything the library does
-- @tparam[opt] function done called at the end with what `coroutine.resume` gave:
-- `true` and `fn`'s results, or `false` and the error `fn` raised
-- @param ... `fn`'s arguments
-- @treturn table the run's state: `waits` (library waits so far) and, once `fn` ended,
-- `results` (`coroutine.resume`'s values, packed)
-- @raise (from the uv callback that resumed it) when the coroutine yields something
-- other than a library wait: a host adapter must not swallow another protocol's yields
function hostloop.start(fn, done, ...)
  local co = host_coroutine(fn)
  local state = { waits = 0 }
  local function step(...)
    local results = table.pack(coroutine.resume(co, ...))
    if coroutine.status(co) == "dead" then
      state.results = results
      if done then
        done(table.unpack(results, 1, results.n))
      end
      return
    end
    local what, fd, dir, timeout = table.unpack(results, 2, 5)
    if what ~= WAIT then
      error("ftplib.concurrency.luv: the coroutine yielded something else than a library wait",
        0)
    end
    state.waits = state.waits + 1
    wake_on(step, fd, dir, timeout)
  end
  step(...)
  return state
end

return hostloop
