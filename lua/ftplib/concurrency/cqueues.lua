-- Sessions under cqueues (Debian's lua-cqueues) instead of ftplib's scheduler: a host
-- adapter, the twin of ftplib.concurrency.luv. Each function runs in a coroutine made
-- by ftplib.coroutine, whose waits yield (ftplib.WAIT, fd, "r"|"w", timeout); the
-- adapter drives it from a cqueues coroutine (cq:wrap) and turns each wait into
-- cqueues.poll on fd with that timeout (cqueues.sleep for a plain sleep), so that the
-- controller runs the other coroutines, the loop's own timers and sockets meanwhile.
-- cqueues' own yields from inside the function (cqueues.sleep, its sockets) are passed
-- up to the controller as they are: such code works in a session's function too.
local cqueues = require "cqueues"
local scheduler = require "ftplib.concurrency.scheduler"

local WAIT = scheduler.exports.WAIT
local host_coroutine = scheduler.exports.coroutine
-- What cqueues.poll yields inside a controller (see cqueues.lua: core.poll).
local CQUEUES_POLL = cqueues._POLL

--- Sessions in a cqueues controller.
--
-- `require "ftplib.concurrency.cqueues"` (needs lua-cqueues) gives `wrap`, which runs a
-- function in a controller (`cqueues.new()`) beside its other coroutines: each wait of
-- the library (connect, reply, data, a rate limit's pause, `ftplib.sleep`) becomes a
-- `cqueues.poll` on the descriptor with its timeout, so the controller's timers and
-- sockets keep running during transfers. The function may also use cqueues itself
-- (`cqueues.sleep`, cqueues sockets): those yields go up to the controller. The host
-- runs the controller as it likes (`cq:loop()`, `cq:step()`).
-- @module ftplib.concurrency.cqueues
-- @usage local cqueues = require "cqueues"
-- local hostloop = require "ftplib.concurrency.cqueues"
-- local cq = cqueues.new()
-- for _, name in ipairs { "a.iso", "b.iso" } do
--   hostloop.wrap(cq, function()
--     local ftp <close> = assert(ftplib.FTP(host, { user = "me", passwd = "pw" }))
--     local out <close> = assert(io.open(name, "wb"))
--     return assert(ftp:retrbinary("RETR " .. name, out))
--   end, function(ok, result) print(name, ok, result) end)
-- end
-- assert(cq:loop())
local hostloop = {}

-- A library wait as cqueues sees it: a pollable object (pollfd, events), or
-- none for a plain sleep; timeout 0 gives the others a turn. cqueues keeps a
-- descriptor in its kernel queue after the poll, and fails its next step once
-- the library has closed it (a data connection ends): each is cancelled
-- (taken out) when its wait is over.
local function wait_in_cqueues(fd, dir, timeout)
  if fd then
    cqueues.poll({ pollfd = fd, events = dir }, timeout)
    cqueues.cancel(fd)
  else
    cqueues.sleep(timeout)
  end
end

-- Resumes co with the values given until it ends, inside the cqueues coroutine
-- running this: library waits are waited here, cqueues' own yields go up to the
-- controller and their results back down. Counts the library waits in state.
local function drive(co, state, ...)
  local results = table.pack(coroutine.resume(co, ...))
  while coroutine.status(co) ~= "dead" do
    local what = results[2]
    if what == WAIT then
      state.waits = state.waits + 1
      wait_in_cqueues(results[3], results[4], results[5])
      results = table.pack(coroutine.resume(co))
    elseif what == CQUEUES_POLL then
      results = table.pack(coroutine.resume(co,
        coroutine.yield(table.unpack(results, 2, results.n))))
    else
      error("ftplib.concurrency.cqueues: the coroutine yielded something else than a"
        .. " library wait or a cqueues poll", 0)
    end
  end
  return results
end

--- Runs `fn(...)` in controller `cq`, from its next step until `fn` ends.
-- @tparam userdata cq a cqueues controller (`cqueues.new()`)
-- @tparam function fn the work: sessions, transfers, anything the library does
-- @tparam[opt] function done called at the end with what `coroutine.resume` gave:
-- `true` and `fn`'s results, or `false` and the error `fn` raised
-- @param ... `fn`'s arguments
-- @treturn table the run's state: `waits` (library waits so far) and, once `fn` ended,
-- `results` (`coroutine.resume`'s values, packed)
-- @raise (inside the controller: `cq:loop()` returns it) when the function yields
-- something else than a library wait or a cqueues poll
function hostloop.wrap(cq, fn, done, ...)
  local co = host_coroutine(fn)
  local state = { waits = 0 }
  cq:wrap(function(...)
    state.results = drive(co, state, ...)
    if done then
      done(table.unpack(state.results, 1, state.results.n))
    end
  end, ...)
  return state
end

return hostloop
