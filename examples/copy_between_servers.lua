-- Copy a file from one FTP server to another and say how it travelled. Shows
-- ftplib.copy: FXP first (the target connects straight to the source; the bytes never
-- pass through this machine), and when a server refuses that (many do), a relay through
-- the client, one 64 KiB block at a time. --relay skips the FXP attempt.
--
--   lua5.4 examples/copy_between_servers.lua [--relay] \
--     ftp://user:pass@127.0.0.1:2121/pub/big.iso ftp://user:pass@127.0.0.1:2122/incoming/
--
-- A target URL ending in / (or naming the login folder) keeps the source's file name.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"

local relay_only = arg[1] == "--relay"
local src_url, dst_url = table.unpack(arg, relay_only and 2 or 1)
if not (src_url and dst_url) then
  io.stderr:write("usage: lua5.4 examples/copy_between_servers.lua [--relay] SRC_URL DST_URL\n")
  os.exit(1)
end

local function check(ok, message, ...)
  if not ok then
    io.stderr:write("copy_between_servers: ", tostring(message), "\n")
    os.exit(1, true)
  end
  return ok, message, ...
end

-- Two sessions: ftplib.open logs in and gives the server path the URL names.
local src <close>, src_path = check(ftplib.open(src_url))
local dst <close>, dst_path = check(ftplib.open(dst_url))
if dst_path == "" or dst_url:sub(-1) == "/" then
  local name = src_path:match("([^/]+)$")
  dst_path = dst_path == "" and name or dst_path:gsub("/$", "") .. "/" .. name
end

local result = check(ftplib.copy(src, src_path, dst, dst_path, { fxp = not relay_only }))
print(string.format("copied %s to %s: %s bytes by %s", src_path, dst_path,
  result.bytes or "?", result.method))
if result.reason then
  print("relayed because " .. result.reason)
end
src:quit()
dst:quit()
