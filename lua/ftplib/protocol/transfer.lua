-- Moving bytes: retrbinary, retrlines, storbinary, storlines and abort.
-- The C core moves file data itself (splice, sendfile); Lua sinks and
-- sources get one call per block.
local wait = require "ftplib.concurrency.wait"
local checks = require "ftplib.base.checks"
local tls = require "ftplib.protocol.tls"
local keepalive = require "ftplib.protocol.keepalive"
local ltn12 = require "ftplib.base.ltn12"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local DEFAULT_BLOCKSIZE = 65536

-- The options of retrbinary and storbinary (their last argument), for
-- ftplib._option_types (spec/reference_spec.lua).
local TRANSFER_OPTIONS = { rate_limit = "number" }

-- opts checked: the rate limit (bytes a second, nil for none).
local function rate_limit_of(fname, argn, opts)
  opts = checks.check_options(fname, argn, opts, TRANSFER_OPTIONS)
  return checks.check_rate(fname, opts.rate_limit)
end

-- Ending a transfer ------------------------------------------------------

-- The data is all through: close it and read the final reply, which must
-- be 2xx (a 426 after part of a file is a failure, never a success). A
-- transfer that failed there may have more to say (a reply nobody asked
-- for came first): the session is brought back in step (resync.lua).
function FTP:_finish_transfer(data)
  local whole, err, code = tls.check_download_end(data, self)
  data:close()
  self._data_open = nil
  local rcode, rtext, rerr = keepalive.final_reply(self)
  if not rcode then
    return nil, rtext, rerr
  end
  -- Either leaves the session in step or closes it: the transfer's own
  -- outcome is what the call reports.
  if rcode >= 300 then
    self:_sync()
    return nil, rtext, rcode
  end
  self:_settle()
  if not whole then
    return nil, err, code
  end
  return rtext, rcode
end

-- A transfer the sink or source stopped did not complete: say so, with the
-- server's answer to ABOR, so that a partial file is never taken as whole.
local function stopped(text, code, errcode)
  if not text then
    return nil, code, errcode
  end
  return nil, "transfer stopped by the sink or source (" .. text .. ")", "aborted"
end

-- lua.c's Ctrl-C: its signal hook raises "interrupted!" wherever the script is.
-- The user wants out now, not after an ABOR that a stalled server may take a
-- minute to answer: the session is closed at once instead.
local function interrupted(err)
  return type(err) == "string" and err:sub(-12) == "interrupted!"
end

-- A stopped transfer of a session that has no further use (_close_on_stop:
-- a segmented download's clone whose range is full, ops/segments.lua): the
-- data connection reset and the session closed, no ABOR. What the server
-- makes of it no longer matters, and ABOR costs servers that read no
-- command while they send (vsftpd, proftpd) a second or more.
local function drop_stopped(self, data)
  data:_close(true)
  self._data_open = nil
  self:_lose("closed after a transfer stopped by the sink, with nothing left to do", "closed")
  return nil, "transfer stopped by the sink or source (the session closed)", "aborted"
end

-- Ends a transfer the way its loop ended: "done" reads the final reply,
-- "stopped" (a sink said false) aborts, a failure aborts and reports the
-- failure, a raise aborts and re-raises (an interruption closes instead).
function FTP:_end_transfer(data, called, state, err, code)
  if not called then
    if interrupted(state) then
      data:_close(true)
      self:_lose("interrupted", "closed")
    else
      self:_abort_transfer(data)
    end
    error(state, 0)
  end
  if state == "done" then
    return self:_finish_transfer(data)
  elseif state == "stopped" and self._close_on_stop then
    return drop_stopped(self, data)
  elseif state == "stopped" then
    return stopped(self:_abort_transfer(data))
  end
  self:_abort_transfer(data)
  return nil, err, code
end

-- What _run_transfer's outer pcall gave, once keepalive is stopped.
local function transfer_ended(self, ok, ...)
  keepalive.stop(self)
  if not ok then
    error((...), 0)
  end
  return ...
end

-- Runs a transfer loop, with keepalive NOOPs while it waits (see
-- keepalive.lua): their replies are all read by the time it ends.
function FTP:_run_transfer(data, loop, ...)
  keepalive.start(self)
  return transfer_ended(self, pcall(self._end_transfer, self, data, pcall(loop, self, data, ...)))
end

-- Receiving --------------------------------------------------------------

-- How long the data connection may stay quiet before the control connection
-- is looked at (keepalive.early_failure): a server that fails a transfer
-- may say so there and leave the data connection open.
local CONTROL_LOOK = 1

-- Bytes after which a transfer is a stream whose waits sleep at once: a
-- busy-wait catches the next bytes sooner, but then each read finds fewer
-- of them, so a stream pays the spin's CPU and more reads for no time won
-- (1 GiB into a function: about 0.50 s spinning against 0.31 s sleeping).
-- A small file's waits, each a wake-up saved, still spin.
local STREAM_BYTES = 256 * 1024

-- The one place a transfer waits for its data connection, and so where
-- keepalive NOOPs go out: the wait is cut where they are due, and each
-- CONTROL_LOOK, its timeout still counting from its start.
local function wait_data(self, data, dir)
  local deadline = self:_deadline()
  local calm = data:_bytes() >= STREAM_BYTES
  while true do
    local cut = math.min(deadline, keepalive.due(self) or deadline, wait.now() + CONTROL_LOOK)
    local ok, err, code = wait.fd(data:_fd(), dir, cut, calm)
    if ok or code ~= "timeout" or cut >= deadline then
      return ok, err, code
    end
    ok, err, code = keepalive.tick(self)
    if ok then
      ok, err, code = keepalive.early_failure(self)
    end
    if not ok then
      return nil, err, code
    end
  end
end

-- A step the rate limit held back (`false, "pause", seconds`, see
-- rate_limit below): sleep that long, which under the scheduler lets the
-- other tasks run, keepalive NOOPs still going out when due.
local function pause(self, seconds)
  wait.sleep(seconds)
  return keepalive.tick(self)
end

-- Waits for what a step asked: its descriptor ready in dir, or the pause
-- the rate limit gave.
local function wait_step(self, data, dir, seconds)
  if dir == "pause" then
    return pause(self, seconds)
  end
  return wait_data(self, data, dir)
end

-- Repeats step(data, ...) while it answers `false, dir`, waiting in
-- wait_step (so keepalive NOOPs go out) in between: wait.until_done for a
-- transfer.
local function step_until_done(self, data, step, ...)
  while true do
    local a, b, c = step(data, ...)
    if a ~= false then
      return a, b, c
    end
    local ok, err, code = wait_step(self, data, b, c)
    if not ok then
      return nil, err, code
    end
  end
end

-- write(chunk) answers true to go on, false to stop, nil, err, code to fail.
-- A slow sink may keep the data from ever running dry, so that wait_data
-- is never reached: with keepalive on, each chunk also looks at the clock.
local function receive_chunks(self, data, write, blocksize)
  local ticking = self._ka ~= nil
  local pass = wait.passer()
  while true do
    local chunk, err, code = data:_recv(blocksize)
    if chunk == "" then
      return "done"
    elseif chunk then
      local go, werr, wcode = write(chunk)
      if go == false then
        return "stopped"
      elseif go == nil then
        return nil, werr, wcode
      elseif ticking then
        go, werr, wcode = keepalive.tick(self)
        if not go then
          return nil, werr, wcode
        end
      end
      pass() -- data may always be ready: let other sessions run
    elseif chunk == false then
      local ok, werr, wcode = wait_step(self, data, err, code)
      if not ok then
        return nil, werr, wcode
      end
    else
      return nil, err, code
    end
  end
end

-- Runs a C file pump (data._to_file or data._from_file) to the end,
-- waiting in the direction it asks for: under TLS a read may need to write.
-- "more": the step moved its share of ready data; others get a turn.
local function pump_file(self, data, pump, file)
  local pass = wait.passer()
  while true do
    local moved, state, code = pump(data, file)
    if not moved then
      return nil, state, code
    elseif state == "done" then
      return "done"
    elseif state == "more" then
      pass()
    else
      local ok, err, ecode = wait_step(self, data, state, code)
      if not ok then
        return nil, err, ecode
      end
    end
  end
end

local function receive_file(self, data, file)
  return pump_file(self, data, data._to_file, file)
end

-- A function sink answers false to stop, or nil, err to fail (as an ltn12
-- sink does: a plain callback answering nothing goes on); an object's
-- write answers nil, err (as Lua files do) to fail, or false to stop.
local function writer_for(sink)
  if type(sink) == "function" then
    return function(chunk)
      local r, err = sink(chunk)
      if r == nil and err ~= nil then
        return nil, tostring(err), "io"
      end
      return r ~= false
    end
  end
  return function(chunk)
    local r, err = sink:write(chunk)
    if r == nil and err ~= nil then
      return nil, tostring(err), "io"
    end
    return r ~= false
  end
end

local function check_sink(fname, sink)
  local t = type(sink)
  if t == "function" or io.type(sink) == "file" then
    return sink
  end
  if (t == "table" or t == "userdata") and sink.write then
    return sink
  end
  checks.raise(string.format(
    "bad argument #2 to '%s' (function, file or object with a write method expected, got %s)",
    fname, t))
end

-- Opens a transfer and runs it; once more when the server refused a spent
-- TLS session (see tls.worth_retry) and start(false) can begin again.
-- start(first) gives the loop and its arguments, or nil when the source
-- cannot be read again. rate: the rate limit (bytes a second) or nil.
function FTP:_transfer(cmd, rest, start, rate)
  local data, err, code = self:ntransfercmd(cmd, rest)
  if not data then
    return nil, err, code
  end
  if rate then
    data:_set_rate(rate)
  end
  local text
  text, err, code = self:_run_transfer(data, start(true))
  if text or not tls.worth_retry(data, code) then
    return text, err, code
  end
  local again = table.pack(start(false))
  if again.n == 0 or not again[1] then
    return nil, err, code
  end
  data, err, code = self:ntransfercmd(cmd, rest)
  if not data then
    return nil, err, code
  end
  if rate then
    data:_set_rate(rate)
  end
  return self:_run_transfer(data, table.unpack(again, 1, again.n))
end

-- A download in type kind ("I" or "A"), at most rate bytes a second
-- (nil: no limit). It starts again from nothing: the refused attempt sent
-- no byte.
function FTP:_download(kind, cmd, rest, rate, loop, ...)
  local ok, err, code = self:_settype(kind)
  if ok then
    ok, err, code = self:_mode_for(false) -- mode_z.lua: MODE Z when in use
  end
  if not ok then
    return nil, err, code
  end
  local args = table.pack(loop, ...)
  return self:_transfer(cmd, rest, function()
    return table.unpack(args, 1, args.n)
  end, rate)
end

-- How an upload source starts again: a string from its start, a Lua file
-- from where it stood; functions and objects cannot.
local function rewinder(source)
  if type(source) == "string" then
    return function() return true end
  end
  local pos = io.type(source) == "file" and source:seek()
  return function()
    return pos and source:seek("set", pos) ~= nil
  end
end

--- FTP methods: moving bytes.
-- @classmod FTP

--- Transfers.
-- @section transfers

--- Downloads in binary mode (TYPE I): runs `cmd` (`"RETR name"`) and gives the data to
-- `sink`. The transfer succeeds only on the final 2xx reply after a 1xx. If the sink
-- stops it or fails, the transfer is aborted and the session brought back in step;
-- if the sink raises, the same, and the error is raised again.
-- @tparam string cmd the command, `"RETR name"`
-- @tparam function|file|object sink where the data goes: a function called with each
-- chunk (returning `false` stops, `nil, err` fails with `"io"`); an open Lua file
-- (written by the C core, with no Lua call per chunk); an object with
-- `write(self, chunk)` (returning `false` stops, `nil, err` fails with `"io"`); or an
-- ltn12 sink wrapped by @{helpers.ltn12_sink|ftplib.ltn12_sink} (called with `nil` at
-- the end)
-- @tparam[opt=65536] number blocksize the largest chunk a function or object is given
-- @tparam[opt] number|string rest the offset to start from (REST), for a resume
-- @tparam[opt] table opts transfer options
-- @tparam[opt] number opts.rate_limit at most this many bytes a second (1 or more),
-- enforced by the C core with a small burst (an eighth of a second of data): between
-- steps the transfer sleeps, or under the scheduler lets the other tasks run; under
-- MODE Z (option `mode_z`) it counts the compressed bytes on the wire
-- @treturn string the final reply's text (226)
-- @treturn integer its code
-- @return[2] `nil, message, code`: code `"aborted"` when the sink stopped it (message
-- `"transfer stopped by the sink or source (...)"`), the server's reply (426 say), or
-- a code of @{errors.md|Errors}
-- @raise for a sink of another kind, CR, LF or NUL in `cmd`, and what the sink raised
-- @usage local out <close> = assert(io.open("README", "wb"))
-- assert(ftp:retrbinary("RETR README", out))
function FTP:retrbinary(cmd, sink, blocksize, rest, opts)
  checks.check_line("retrbinary", 1, cmd) -- before TYPE, EPSV or PASV go out
  check_sink("retrbinary", sink)
  blocksize = checks.check("retrbinary", 3, blocksize or DEFAULT_BLOCKSIZE, "number")
  local rate = rate_limit_of("retrbinary", 5, opts)
  if io.type(sink) == "file" then
    return self:_download("I", cmd, rest, rate, receive_file, sink)
  end
  return ltn12.ending(sink, self._download, self, "I", cmd, rest, rate, receive_chunks,
    writer_for(sink), blocksize)
end

-- Splits chunks into lines for callback: CRLF (or LF) stripped, each line
-- at most maxline bytes.
local function line_writer(callback, maxline)
  local partial = ""
  local function feed(chunk)
    local text = partial .. chunk
    local start = 1
    while true do
      local lf = text:find("\n", start, true)
      if not lf then
        break
      end
      local stop = text:byte(lf - 1) == 13 and lf - 2 or lf - 1
      if stop - start + 1 > maxline then
        return nil, "line over maxline (" .. maxline .. " bytes)", "limit"
      end
      if callback(text:sub(start, stop)) == false then
        return false
      end
      start = lf + 1
    end
    partial = text:sub(start)
    if #partial > maxline + 1 then
      return nil, "line over maxline (" .. maxline .. " bytes)", "limit"
    end
    return true
  end
  local function finish()
    if partial ~= "" then
      local last = partial:gsub("\r$", "")
      partial = ""
      return callback(last) ~= false
    end
    return true
  end
  return feed, finish
end

local function receive_lines(self, data, callback)
  local feed, finish = line_writer(callback, self.maxline)
  local state, err, code = receive_chunks(self, data, feed, 16384)
  if state == "done" and not finish() then
    return "stopped"
  end
  return state, err, code
end

--- Downloads line by line, in ASCII mode (TYPE A). It runs `cmd` (`"RETR name"`, or a
-- listing command such as `"LIST"`) and calls `callback` with each line, its CRLF or
-- LF removed. Ends, stops and fails as @{FTP:retrbinary}. Lines are not converted
-- with `encoding` (file contents are bytes).
-- @tparam string cmd the command
-- @tparam[opt=print] function callback called with each line; returning `false` stops
-- @treturn string the final reply's text
-- @treturn integer its code
-- @return[2] `nil, message, code`; `"limit"` for a line longer than `maxline`
-- @raise for CR, LF or NUL in `cmd`, and what the callback raised
function FTP:retrlines(cmd, callback)
  checks.check_line("retrlines", 1, cmd) -- before TYPE, EPSV or PASV go out
  callback = checks.check("retrlines", 2, callback or print, "function")
  return self:_download("A", cmd, nil, nil, receive_lines, callback)
end

-- Sending ------------------------------------------------------------------

local function send_file(self, data, file)
  return pump_file(self, data, data._from_file, file)
end

-- Sends all of chunk, waiting in wait_data (keepalive) when the socket is full.
local function send_all(self, data, chunk)
  local i = 1
  while i <= #chunk do
    local sent, err, code = step_until_done(self, data, data._send, chunk, i)
    if not sent then
      return nil, err, code
    end
    i = i + sent
  end
  return true
end

-- The end of an upload's data: under MODE Z the zlib stream's end goes
-- out (mode_z.lua; a file pump ends it itself).
local function end_upload(self, data)
  if data._mode_z then
    local ok, err, code = step_until_done(self, data, data._finish, true)
    if not ok then
      return nil, err, code
    end
  end
  return "done"
end

-- read() gives the next chunk, nil at the end, or nil, err on failure.
local function send_chunks(self, data, read, callback)
  local ticking = self._ka ~= nil
  local pass = wait.passer()
  while true do
    local chunk, rerr = read()
    if chunk == nil then
      if rerr ~= nil then
        return nil, tostring(rerr), "io"
      end
      return end_upload(self, data)
    end
    if type(chunk) ~= "string" then
      checks.raise("source gave a " .. type(chunk) .. ", not a string")
    end
    local ok, err, code = send_all(self, data, chunk)
    if ok and ticking then
      ok, err, code = keepalive.tick(self)
    end
    if not ok then
      return nil, err, code
    end
    if callback and callback(chunk) == false then
      return "stopped"
    end
    pass()
  end
end

local function string_reader(s, blocksize)
  local pos = 1
  return function()
    if pos > #s then
      return nil
    end
    local chunk = s:sub(pos, pos + blocksize - 1)
    pos = pos + blocksize
    return chunk
  end
end

local function chunk_reader(source, blocksize)
  if type(source) == "string" then
    return string_reader(source, blocksize)
  elseif type(source) == "function" then
    return source
  end
  return function()
    return source:read(blocksize)
  end
end

local function check_source(fname, source)
  local t = type(source)
  if t == "string" or t == "function" or io.type(source) == "file" then
    return source
  end
  if (t == "table" or t == "userdata") and source.read then
    return source
  end
  checks.raise(string.format(
    "bad argument #2 to '%s' (string, function, file or object with a read method expected,"
      .. " got %s)",
    fname, t))
end

-- An upload in type kind ("I" or "A"): make() gives the loop and its
-- arguments reading source from its start, for each attempt; rate as for
-- _download.
function FTP:_upload(kind, cmd, rest, source, make, rate)
  local ok, err, code = self:_settype(kind)
  if ok then
    ok, err, code = self:_mode_for(true) -- mode_z.lua: MODE S unless mode_z_upload
  end
  if not ok then
    return nil, err, code
  end
  local rewind = rewinder(source)
  return self:_transfer(cmd, rest, function(first)
    if first or rewind() then
      return make()
    end
  end, rate)
end

--- Uploads in binary mode (TYPE I): runs `cmd` (`"STOR name"`, `"APPE name"`) and
-- sends what `source` gives. The transfer succeeds only on the final 2xx reply.
-- @tparam string cmd the command, `"STOR name"`
-- @tparam string|file|object|function source what to send: a string; an open Lua file
-- (sent by the C core with `sendfile` when there is no `callback`); an object with
-- `read(self, n)`; or a function returning the next chunk, `nil` at the end (or
-- `nil, err` to fail with `"io"`): an ltn12 source (`ltn12.source.file`, ...) is one
-- @tparam[opt=65536] number blocksize the size of the chunks read from the source
-- @tparam[opt] function callback called with each chunk once sent; returning `false`
-- stops the upload (`"aborted"`)
-- @tparam[opt] number|string rest the offset the server writes from (REST)
-- @tparam[opt] table opts transfer options
-- @tparam[opt] number opts.rate_limit at most this many bytes a second, as for
-- @{FTP:retrbinary}
-- @treturn string the final reply's text (226)
-- @treturn integer its code
-- @return[2] `nil, message, code`
-- @raise for a source of another kind, a function source giving something else than a
-- string, CR, LF or NUL in `cmd`
-- @usage local notes <close> = assert(io.open("notes.txt", "rb"))
-- assert(ftp:storbinary("STOR notes.txt", notes))
function FTP:storbinary(cmd, source, blocksize, callback, rest, opts)
  checks.check_line("storbinary", 1, cmd) -- before TYPE, EPSV or PASV go out
  check_source("storbinary", source)
  blocksize = checks.check("storbinary", 3, blocksize or DEFAULT_BLOCKSIZE, "number")
  checks.check("storbinary", 4, callback, "function|nil")
  local rate = rate_limit_of("storbinary", 6, opts)
  return self:_upload("I", cmd, rest, source, function()
    if io.type(source) == "file" and not callback then
      return send_file, source
    end
    return send_chunks, chunk_reader(source, blocksize), callback
  end, rate)
end

-- Lines for storlines: from a file or object (read "L"), a string, or a
-- function giving one line a call.
local function line_reader(source)
  if type(source) == "string" then
    return source:gmatch("[^\n]*\n?"), true
  elseif type(source) == "function" then
    return source
  end
  return function()
    return source:read("L")
  end
end

-- Each line goes out with CRLF, whatever its line end was; lines are
-- gathered into blocks so that a send is not made for every line.
local function crlf_reader(source, callback)
  local next_line = line_reader(source)
  local done = false
  return function()
    if done then
      return nil
    end
    local block, size = {}, 0
    while size < DEFAULT_BLOCKSIZE do
      local line, err = next_line()
      if line == nil or line == "" then
        done = true
        if err ~= nil then
          return nil, err
        end
        break
      end
      if callback then
        callback(line)
      end
      local crlf = line:gsub("\r?\n$", "") .. "\r\n"
      block[#block + 1] = crlf
      size = size + #crlf
    end
    return #block > 0 and table.concat(block) or nil
  end
end

--- Uploads in ASCII mode (TYPE A): each line of `source` goes out ending in CRLF,
-- whatever its line end was.
-- @tparam string cmd the command, `"STOR name"`
-- @tparam string|file|object|function source the lines: a string, an open Lua file or an
-- object with `read(self, "L")`, or a function returning one line a call (`nil` at
-- the end)
-- @tparam[opt] function callback called with each line before it is sent (what it
-- returns is ignored)
-- @treturn string the final reply's text
-- @treturn integer its code
-- @return[2] `nil, message, code`
-- @raise as @{FTP:storbinary}
function FTP:storlines(cmd, source, callback)
  checks.check_line("storlines", 1, cmd) -- before TYPE, EPSV or PASV go out
  check_source("storlines", source)
  checks.check("storlines", 3, callback, "function|nil")
  return self:_upload("A", cmd, nil, source, function()
    return send_chunks, crlf_reader(source, callback)
  end)
end

return { FTP = FTP,
  option_types = { retrbinary = TRANSFER_OPTIONS, storbinary = TRANSFER_OPTIONS } }
