-- Several downloads at once under a host's own event loop (luv, libuv's Lua binding),
-- without ftplib's scheduler: each session runs in a coroutine made by ftplib.coroutine,
-- whose waits yield (ftplib.WAIT, fd, "r"|"w", timeout) to the luv adapter
-- (ftplib.concurrency.luv), which turns each into a uv poll handle on fd and a uv timer,
-- and resumes the coroutine when either fires.
--
--   lua5.4 examples/luv_parallel.lua HOST PORT USER PASSWD OUTDIR FILE...
--
-- Downloads every FILE, each in its own session, into OUTDIR. A 10 ms uv timer ticks
-- meanwhile, to show the loop stays free. Needs lua-luv (Debian: apt-get install lua-luv).
-- From a checkout: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local uv = require "luv"
local ftplib = require "ftplib"
local hostloop = require "ftplib.concurrency.luv"

local host, port, user, passwd, outdir = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]
local names = table.move(arg, 6, #arg, 1, {})
if not (host and port and user and passwd and outdir) or #names == 0 then
  io.stderr:write("usage: lua5.4 examples/luv_parallel.lua HOST PORT USER PASSWD OUTDIR FILE...\n")
  os.exit(2)
end

-- One session: log in, download name into outdir, quit. Runtime failures come back as
-- nil, message, code, as everywhere in ftplib.
local function download(name)
  local ftp, err, code = ftplib.FTP(host, { port = port, user = user, passwd = passwd,
                                            timeout = 30 })
  if not ftp then
    return nil, err, code
  end
  local file = assert(io.open(outdir .. "/" .. name:match("[^/]*$"), "wb"))
  local reply
  reply, err, code = ftp:retrbinary("RETR " .. name, file)
  file:close()
  ftp:quit()
  if not reply then
    return nil, err, code
  end
  return name
end

local t0 = ftplib.now()
local ticks = 0
local ticker = uv.new_timer()
ticker:start(10, 10, function() ticks = ticks + 1 end)

local pending, failed = #names, 0
for _, name in ipairs(names) do
  hostloop.start(download, function(ran, ok, err)
    if not ran then -- the coroutine raised: a bug, not a failed transfer
      error(ok)
    end
    if ok then
      print(string.format("%-24s done at %.2f s", name, ftplib.now() - t0))
    else
      failed = failed + 1
      print(string.format("%-24s failed: %s", name, err))
    end
    pending = pending - 1
    if pending == 0 then
      ticker:close()
    end
  end, name)
end

uv.run()
print(string.format("%d files (%d failed) in %.2f s; the loop ticked %d times meanwhile",
  #names, failed, ftplib.now() - t0, ticks))
os.exit(failed == 0 and 0 or 1)
