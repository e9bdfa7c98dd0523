-- A short tour of ftplib: connect, list, upload a file, download it, check the copy.
--
--   lua5.4 examples/demo.lua HOST [PORT [USER [PASSWD]]]
--   FTP_HOST=127.0.0.1 FTP_PORT=2121 FTP_USER=me FTP_PASSWD=secret lua5.4 examples/demo.lua
--
-- Without a user it logs in anonymously (and then skips the upload, which anonymous
-- servers usually refuse). `make demo` runs it against a throw-away local server.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"

local host = arg[1] or os.getenv("FTP_HOST") or "127.0.0.1"
local port = tonumber(arg[2] or os.getenv("FTP_PORT") or "21")
local user = arg[3] or os.getenv("FTP_USER")
local passwd = arg[4] or os.getenv("FTP_PASSWD")

-- Sub-second timing when LuaSocket is there; whole seconds otherwise.
local has_socket, socket = pcall(require, "socket")
local now = has_socket and socket.gettime or os.time

local REMOTE_NAME = "ftplib-demo.bin"
local DEMO_SIZE = 4 * 1024 * 1024

local function say(fmt, ...)
  io.write(string.format(fmt, ...), "\n")
end

local temp_files = {}

-- The library's errors are nil, message, code: stop there with a clear word.
local function check(ok, message, code, ...)
  if ok == nil then
    say("  failed: %s (%s)", tostring(message), tostring(code))
    for _, path in ipairs(temp_files) do os.remove(path) end
    os.exit(1, true) -- true: close the Lua state, so the connection is closed too
  end
  return ok, message, code, ...
end

local function human_size(bytes)
  if bytes >= 1024 * 1024 then
    return string.format("%.1f MiB", bytes / (1024 * 1024))
  elseif bytes >= 1024 then
    return string.format("%.1f KiB", bytes / 1024)
  end
  return bytes .. " bytes"
end

local function rate(bytes, seconds)
  if seconds <= 0 then return "too fast to time" end
  return string.format("%.2f s, %s/s", seconds, human_size(bytes / seconds))
end

-- Some bytes worth checking: text lines, then every byte value in a shifting order, so
-- that a line-end conversion, a lost block or a swapped block all show.
local function demo_content(size)
  local parts = { "ftplib demo file\r\nsecond line\nthird line\r\n" }
  local length = #parts[1]
  local seed = 12345
  while length < size do
    local block = {}
    for i = 1, 4096 do
      seed = (seed * 1103515245 + 12345) % 2147483648
      block[i] = string.char((seed >> 16) & 0xff)
    end
    local chunk = table.concat(block)
    parts[#parts + 1] = chunk
    length = length + #chunk
  end
  return table.concat(parts):sub(1, size)
end

local function write_local(path, content)
  local file = assert(io.open(path, "wb"))
  assert(file:write(content))
  assert(file:close())
end

local function read_local(path)
  local file = assert(io.open(path, "rb"))
  local content = file:read("a")
  file:close()
  return content
end

local function first_difference(a, b)
  for i = 1, math.min(#a, #b) do
    if a:byte(i) ~= b:byte(i) then return i end
  end
  return math.min(#a, #b) + 1
end

say("ftplib demo: %s port %d, %s", host, port, user and ("user " .. user) or "anonymous")

-- `<close>` sends QUIT (or just closes) when the block ends, even after an error.
local ftp <close> = check(ftplib.FTP(host, {
  port = port, user = user or "anonymous", passwd = passwd, timeout = 30,
}))
say("  connected; the server says: %s", ftp:getwelcome():match("^[^\r\n]*"))
local cwd = check(ftp:pwd())
say("  logged in; working directory: %s", cwd)

local names = check(ftp:nlst())
say("  listing %s: %d %s", cwd, #names, #names == 1 and "entry" or "entries")
check(ftp:dir(function(line) say("      %s", line) end))

if not user then
  say("  anonymous login: skipping the upload and download")
  say("  bye: %s", (check(ftp:quit())))
  return
end

local content = demo_content(DEMO_SIZE)
local upload_path, download_path = os.tmpname(), os.tmpname()
temp_files = { upload_path, download_path }
write_local(upload_path, content)

local source = assert(io.open(upload_path, "rb"))
local started = now()
local reply = check(ftp:storbinary("STOR " .. REMOTE_NAME, source))
source:close()
say("  uploaded %s (%s) as %s: %s", upload_path, human_size(#content), REMOTE_NAME, reply)
say("      (%s)", rate(#content, now() - started))

local remote_size = check(ftp:size(REMOTE_NAME))
say("  the server says %s is %d bytes", REMOTE_NAME, remote_size)

local sink = assert(io.open(download_path, "wb"))
started = now()
reply = check(ftp:retrbinary("RETR " .. REMOTE_NAME, sink))
sink:close()
say("  downloaded it back to %s: %s", download_path, reply)
say("      (%s)", rate(#content, now() - started))

local copy = read_local(download_path)
os.remove(upload_path)
os.remove(download_path)
local same = copy == content and remote_size == #content
if same then
  say("  verified: the copy is byte for byte the file sent (%d bytes)", #copy)
else
  say("  MISMATCH: sent %d bytes, got %d back, first difference at byte %d",
    #content, #copy, first_difference(content, copy))
end

check(ftp:delete(REMOTE_NAME))
say("  removed %s from the server", REMOTE_NAME)
say("  bye: %s", (check(ftp:quit())))
if not same then os.exit(1) end
