-- LuaSocket's ltn12 conventions for transfers. An ltn12 sink is a function
-- sink(chunk, err) answering 1 to go on or nil, err to fail, and called once
-- with nil at the end (ltn12.sink.file closes its file then). A plain
-- function sink of ours is called with chunks only and stops on false, so
-- the two cannot be told apart by looking: ltn12 sinks come wrapped. ltn12
-- sources need no wrapper: a function giving chunks, nil at the end and
-- nil, err on failure is already what storbinary and ftplib.put take.
-- Needs no ltn12 module itself: only its conventions.
local ltn12 = {}

-- The metatable of wrapped sinks: an object sink (write) to the transfers.
local Sink = {}
Sink.__index = Sink

-- A falsy answer is a failure, as ltn12.pump takes it.
function Sink:write(chunk)
  local ok, err = self.sink(chunk)
  if not ok then
    return nil, err ~= nil and tostring(err) or "the ltn12 sink failed"
  end
  return true
end

--- ltn12.
-- @module helpers

--- LuaSocket's ltn12.
-- @section ltn12

--- Wraps an ltn12 sink (LuaSocket's `ltn12.sink.file`, `ltn12.sink.table`, a chain...)
-- for @{FTP:retrbinary} and @{ftplib.get}. The sink is called with each chunk; an
-- answer of `nil, err` (any falsy answer) fails the transfer with `err` and code
-- `"io"` (the transfer is aborted and the session kept in step, as when a sink object's
-- `write` fails). When the transfer is over, whatever happened, the sink is called
-- once more with `nil` (`ltn12.sink.file` closes its file then): `sink(nil)` after a
-- success, `sink(nil, message)` after a failure. A failure of that last call (a file
-- that does not close) fails the transfer with `"io"`. ltn12 sources need no wrapper:
-- @{FTP:storbinary} and @{ftplib.put} take a function giving chunks, `nil` at the end,
-- `nil, err` to fail.
-- @function ftplib.ltn12_sink
-- @tparam function sink an ltn12 sink, `sink(chunk, err)`
-- @treturn table a sink object for @{FTP:retrbinary} and @{ftplib.get}
-- @raise when `sink` is not a function
-- @usage local ltn12 = require "ltn12"
-- local parts = {}
-- assert(ftp:retrbinary("RETR README", ftplib.ltn12_sink(ltn12.sink.table(parts))))
-- print(table.concat(parts))
function ltn12.sink(sink)
  if type(sink) ~= "function" then
    error("bad argument #1 to 'ltn12_sink' (function expected, got " .. type(sink) .. ")", 2)
  end
  return setmetatable({ sink = sink }, Sink)
end

-- The ltn12 sink's last call, with what the transfer gave (ok, err, code):
-- the transfer's results, or its own failure after a success.
local function ended(sink, ok, err, ...)
  local closed, close_err = sink.sink(nil, not ok and tostring(err) or nil)
  if ok and not closed then
    return nil, close_err ~= nil and tostring(close_err) or "the ltn12 sink failed at its end",
      "io"
  end
  return ok, err, ...
end

-- Runs fn(...), a transfer into sink, and when sink is a wrapped ltn12 sink
-- ends it (also when fn raises, before the error goes on).
function ltn12.ending(sink, fn, ...)
  if getmetatable(sink) ~= Sink then
    return fn(...)
  end
  local results = table.pack(pcall(fn, ...))
  if not results[1] then
    pcall(sink.sink, nil, tostring(results[2]))
    error(results[2], 0)
  end
  return ended(sink, table.unpack(results, 2, results.n))
end

return { exports = { ltn12_sink = ltn12.sink }, ending = ltn12.ending }
