-- Several transfers at once in one Lua state, run by examples/embed/host (the C host
-- with ftplib linked in) or by plain lua5.4:
--
--   build/embed/host examples/embed/parallel.lua HOST PORT USER PASSWD LOCALDIR NAME...
--
-- One task per NAME, each with its own session: it downloads NAME into LOCALDIR/NAME,
-- then uploads that copy back as NAME.back. The tasks run together under
-- ftplib.spawn/ftplib.run: while one waits for the server, the others move on.
-- Prints one line per transfer, then whether the tasks overlapped in time (they do
-- when the scheduler interleaves them; run one after another, they would not).
-- Exit status 1 when any transfer failed.
local ftplib = require "ftplib"
local now = require("ftplib.core").now

local host, port, user, passwd, localdir = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]
local names = table.move(arg, 6, #arg, 1, {})
if not (host and port and user and passwd and localdir and #names > 0) then
  io.stderr:write("usage: parallel.lua HOST PORT USER PASSWD LOCALDIR NAME...\n")
  os.exit(2)
end

-- Returns the byte count of a local file, or nil, message, "io".
local function size_of(path)
  local file, err = io.open(path, "rb")
  if not file then return nil, err, "io" end
  local size = file:seek("end")
  file:close()
  return size
end

local function download(ftp, name, path)
  local file, err = io.open(path, "wb")
  if not file then return nil, err, "io" end
  local ok, msg, code = ftp:retrbinary("RETR " .. name, file)
  file:close()
  if not ok then return nil, msg, code end
  return size_of(path)
end

local function upload(ftp, path, name)
  local file, err = io.open(path, "rb")
  if not file then return nil, err, "io" end
  local ok, msg, code = ftp:storbinary("STOR " .. name, file)
  file:close()
  if not ok then return nil, msg, code end
  return size_of(path)
end

-- One task: its own session, a download and an upload. Returns a list of report
-- lines, or nil and what failed.
local function round_trip(name)
  local ftp <close>, err, code = ftplib.FTP(host, { port = port, user = user, passwd = passwd })
  if not ftp then return nil, ("connect: %s (%s)"):format(err, code) end
  local path = localdir .. "/" .. name
  local got, gerr, gcode = download(ftp, name, path)
  if not got then return nil, ("RETR %s: %s (%s)"):format(name, gerr, gcode) end
  local sent, serr, scode = upload(ftp, path, name .. ".back")
  if not sent then return nil, ("STOR %s.back: %s (%s)"):format(name, serr, scode) end
  ftp:quit()
  return { ("downloaded %s %d"):format(name, got), ("uploaded %s.back %d"):format(name, sent) }
end

local results = {}
local function task(index, name)
  local started = now()
  -- pcall: a programming error in one task is reported like a failed transfer.
  local ok, lines, err = pcall(round_trip, name)
  if not ok then lines, err = nil, lines end
  results[index] = { lines = lines, err = err, started = started, ended = now() }
end

local t0 = now()
if ftplib.spawn then
  for index, name in ipairs(names) do ftplib.spawn(task, index, name) end
  ftplib.run()
else
  io.stderr:write("parallel.lua: no ftplib.spawn (scheduler missing): one after another\n")
  for index, name in ipairs(names) do task(index, name) end
end

local failed, last_start, first_end = false, -math.huge, math.huge
for index, name in ipairs(names) do
  local r = results[index]
  if not r then
    print(("failed %s: the task never finished"):format(name))
    failed = true
  elseif r.lines then
    for _, line in ipairs(r.lines) do print(line) end
  else
    print(("failed %s: %s"):format(name, tostring(r.err)))
    failed = true
  end
  if r then
    last_start, first_end = math.max(last_start, r.started), math.min(first_end, r.ended)
  end
end
-- All tasks were under way together when the last one started before the first ended.
print(("overlap: %s"):format(#names > 1 and last_start < first_end and "yes" or "no"))
print(("wall: %.3f s for %d tasks"):format(now() - t0, #names))
os.exit(failed and 1 or 0, true)
