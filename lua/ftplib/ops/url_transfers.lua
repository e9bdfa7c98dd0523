-- The transfers behind ftplib.get and ftplib.put when they are not a
-- plain ftp:download / ftp:upload: sinks and sources in memory, ASCII
-- (;type=a) and name lists (;type=d), each counting the bytes it moved.
local core = require "ftplib.core"

local url_transfers = {}

-- Local files ---------------------------------------------------------------

-- Fills path through path .. ".part", renamed once fill(file) succeeded:
-- never a cut file under the final name.
local function into_local_file(path, fill)
  local part = path .. ".part"
  -- Made exclusively, never through a link planted under its name.
  os.remove(part)
  local file, err = core.open_file(part, "new")
  if not file then
    return nil, err, "io"
  end
  local called, ok, ferr, fcode = pcall(fill, file)
  local closed, cerr = file:close()
  if called and ok and not closed then
    ok, ferr, fcode = nil, cerr, "io"
  end
  if called and ok then
    local renamed, rerr = os.rename(part, path)
    if renamed then
      return ok
    end
    ok, ferr, fcode = nil, rerr, "io"
  end
  os.remove(part)
  if not called then
    error(ok, 0)
  end
  return nil, ferr, fcode
end

-- Writes text to a sink (function, file or object): true or nil, msg, "io".
local function write_to(sink, text)
  if type(sink) == "function" then
    if sink(text) == false then
      return nil, "stopped by the sink", "aborted"
    end
    return true
  end
  local r, err = sink:write(text)
  if r == nil and err ~= nil then
    return nil, tostring(err), "io"
  end
  return true
end

-- Getting -------------------------------------------------------------------------

-- A sink that counts what passes to target: the sink, and a function
-- giving the count. A seekable file stays a file (written by C).
local function counted_sink(target)
  if io.type(target) == "file" then
    local start = target:seek()
    if start then
      return target, function() return target:seek() - start end
    end
  end
  local count = 0
  local function counted() return count end
  if type(target) == "function" then
    return function(chunk)
      count = count + #chunk
      return target(chunk)
    end, counted
  end
  return { write = function(_, chunk)
    count = count + #chunk
    return target:write(chunk)
  end }, counted
end

local function get_binary(ftp, path, target, rate)
  local sink, counted = counted_sink(target)
  local ok, err, code = ftp:retrbinary("RETR " .. path, sink, nil, nil, { rate_limit = rate })
  if not ok then
    return nil, err, code
  end
  return counted()
end

-- ASCII: each line, with "\n", to target. A sink's own failure is the
-- error given, not the transfer's "aborted".
local function get_lines(ftp, path, target)
  local count, failure = 0, nil
  local ok, err, code = ftp:retrlines("RETR " .. path, function(line)
    local written, werr, wcode = write_to(target, line .. "\n")
    if not written then
      failure = { werr, wcode }
      return false
    end
    count = count + #line + 1
  end)
  if not ok then
    if failure then
      return nil, failure[1], failure[2]
    end
    return nil, err, code
  end
  return count
end

local function get_names(ftp, path, target)
  local names, err, code = ftp:nlst(path)
  if not names then
    return nil, err, code
  end
  local text = #names > 0 and (table.concat(names, "\n") .. "\n") or ""
  local ok
  ok, err, code = write_to(target, text)
  if not ok then
    return nil, err, code
  end
  return #text
end

local GETTERS = { a = get_lines, d = get_names }

-- Gets parts.path into target: a local path (through .part) or a sink;
-- rate: a binary transfer's rate limit (nil: none).
function url_transfers.get(ftp, parts, target, rate)
  local getter = GETTERS[parts.type] or get_binary
  if type(target) == "string" then
    return into_local_file(target, function(file)
      return getter(ftp, parts.path, file, rate)
    end)
  end
  return getter(ftp, parts.path, target, rate)
end

-- Putting ---------------------------------------------------------------------

local BLOCKSIZE = 65536

-- A reader of chunks from a function, a file or an object with read(n),
-- counting them: read, and a function giving the count.
local function counted_reader(source)
  local count = 0
  local read = type(source) == "function" and source
    or function() return source:read(BLOCKSIZE) end
  return function()
    local chunk, err = read()
    if type(chunk) == "string" then
      count = count + #chunk
    end
    return chunk, err
  end, function() return count end
end

-- Lines, one a call, from a chunk reader: for storlines. The lines of a
-- chunk are taken by position (pending[pos..] is what is left); pending is
-- cut only when the next chunk is appended, not copied once per line.
local function line_splitter(read)
  local pending, pos, ended = "", 1, false
  return function()
    local line_end = pending:find("\n", pos, true)
    while not ended and not line_end do
      local chunk, err = read()
      if chunk == nil then
        if err ~= nil then
          return nil, err
        end
        ended = true
      else
        local kept = pending:sub(pos) -- holds no "\n"
        pending, pos = kept .. chunk, 1
        line_end = pending:find("\n", #kept + 1, true)
      end
    end
    if pos > #pending then
      return nil
    end
    line_end = line_end or #pending
    local line = pending:sub(pos, line_end)
    pos = line_end + 1
    return line
  end
end

-- The bytes left in a seekable file, or nil.
local function bytes_left(file)
  local start = file:seek()
  local size = start and file:seek("end")
  if not size then
    return nil
  end
  file:seek("set", start)
  return size - start
end

-- A source for storbinary or storlines (the reader split into lines when
-- `lines`) and a function giving the bytes sent.
local function upload_source(source, lines)
  if type(source) == "table" and type(source.data) == "string" then
    return source.data, function() return #source.data end
  end
  local left = io.type(source) == "file" and not lines and bytes_left(source)
  if left then
    return source, function() return left end
  end
  local read, counted = counted_reader(source)
  return lines and line_splitter(read) or read, counted
end

-- Stores source (a local path or any source) to remote; rate as for get.
function url_transfers.put(ftp, parts, remote, source, rate)
  local lines = parts.type == "a"
  local opened
  if type(source) == "string" then
    local err
    opened, err = io.open(source, "rb")
    if not opened then
      return nil, err, "io"
    end
    source = opened
  end
  local from, counted = upload_source(source, lines)
  local ok, err, code
  if lines then
    ok, err, code = ftp:storlines("STOR " .. remote, from)
  else
    ok, err, code = ftp:storbinary("STOR " .. remote, from, nil, nil, nil, { rate_limit = rate })
  end
  if opened then
    opened:close()
  end
  if not ok then
    return nil, err, code
  end
  return counted()
end

return url_transfers
