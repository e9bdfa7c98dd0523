-- The benchmark client for LuaSocket's socket.ftp, with its default block size
-- (2 KiB, socket.BLOCKSIZE). Same arguments as bench/clients/ftplib.lua:
--   lua5.4 bench/clients/luasocket.lua HOST PORT USER PASSWD MODE ARGS...
local ftp = require "socket.ftp"
local ltn12 = require "ltn12"

local host, port, user, passwd, mode = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]

-- socket.ftp.get/put raise nothing: they answer nil, err.
local function request(remote, extra)
  local t = { host = host, port = port, user = user, password = passwd, path = "/" .. remote,
    type = "i" }
  for k, v in pairs(extra) do t[k] = v end
  return t
end

local modes = {}

function modes.get_func(remote)
  local bytes = 0
  assert(ftp.get(request(remote, { sink = function(chunk)
    if chunk then bytes = bytes + #chunk end
    return 1
  end })))
  io.stderr:write(bytes, " bytes\n")
end

function modes.get_file(remote, localpath)
  local file = assert(io.open(localpath, "wb"))
  assert(ftp.get(request(remote, { sink = ltn12.sink.file(file) })))
end

function modes.put_file(localpath, remote)
  local file = assert(io.open(localpath, "rb"))
  assert(ftp.put(request(remote, { source = ltn12.source.file(file) })))
end

-- ftp.get opens a session per call: the low-level API keeps one for all files.
function modes.many(dir, count, localdir)
  local f = ftp.open(host, port)
  f:greet()
  f:login(user, passwd)
  f:type("i")
  for i = 1, tonumber(count) do
    local name = string.format("f%04d", i)
    local file = assert(io.open(localdir .. "/" .. name, "wb"))
    f:epsv()
    f:receive({ path = dir .. "/" .. name, sink = ltn12.sink.file(file) })
  end
  f:quit()
  f:close()
end

function modes.many_mem(dir, count)
  local f = ftp.open(host, port)
  f:greet()
  f:login(user, passwd)
  f:type("i")
  local bytes = 0
  for i = 1, tonumber(count) do
    local chunks = {}
    f:epsv()
    f:receive({ path = string.format("%s/f%04d", dir, i), sink = ltn12.sink.table(chunks) })
    bytes = bytes + #table.concat(chunks)
  end
  f:quit()
  f:close()
  io.stderr:write(bytes, " bytes\n")
end

local run = assert(modes[(mode or ""):gsub("-", "_")], "unknown mode " .. tostring(mode))
run(table.unpack(arg, 6))
