-- Run by spec/protocol/recv_buffer_spec.lua in a lua5.4 of its own (the plain core, no
-- sanitizer runtime, whose quarantine and shadow memory would be counted): downloads
-- NAME COUNT times in one session, each over a new data connection, and prints the
-- resident set (from /proc/self/statm) after the first WARMUP and after all of them,
-- and the Lua heap likewise.
--   lua5.4 recv_memory.lua HOST PORT USER PASSWD NAME COUNT [CAFILE]
-- Output: "rss_kib=<after warm-up> <at the end> lua_kib=<after warm-up> <at the end>"
local ftplib = require "ftplib"

local host, port, user, passwd, name, count, cafile = table.unpack(arg, 1, 7)
count = tonumber(count)
local WARMUP = 5
assert(count and count > WARMUP, "COUNT must be above " .. WARMUP)

local function rss_kib()
  local f = assert(io.open("/proc/self/statm"))
  local pages = f:read("n")
  local resident = f:read("n")
  f:close()
  assert(pages)
  return resident * 4 -- 4 KiB pages (x86_64, arm64 Linux defaults)
end

local function lua_kib()
  collectgarbage("collect")
  return collectgarbage("count")
end

local opts = { port = tonumber(port), user = user, passwd = passwd, timeout = 20 }
local ftp
if cafile then
  opts.tls = { cafile = cafile }
  ftp = assert(ftplib.FTP_TLS(host, opts))
else
  ftp = assert(ftplib.FTP(host, opts))
end

local rss, heap = {}, {}
for i = 1, count do
  local bytes = 0
  assert(ftp:retrbinary("RETR " .. name, function(chunk) bytes = bytes + #chunk end))
  assert(bytes > 0)
  if i == WARMUP or i == count then
    heap[#heap + 1] = lua_kib()
    rss[#rss + 1] = rss_kib()
  end
end
ftp:quit()
io.write(("rss_kib=%d %d lua_kib=%.0f %.0f\n"):format(rss[1], rss[2], heap[1], heap[2]))
