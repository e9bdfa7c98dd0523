-- The work of one thread of examples/embed/threads.c (its own Lua state):
--   ... = HOST PORT USER PASSWD CAFILE|- NAME
-- Logs in (explicit FTPS when CAFILE is not "-"), waits at the global sync() for the
-- other thread, then, ROUNDS times: downloads NAME into memory, checks it against the
-- first copy and against SIZE, and uploads it back as NAME.back. Returns a summary;
-- raises on any failure.
-- luacheck: globals sync
local host, port, user, passwd, cafile, name = ...
local ftplib = require "ftplib"

local ROUNDS = 4

local function connect()
  local opts = { port = tonumber(port), user = user, passwd = passwd, timeout = 30 }
  if cafile == "-" then return ftplib.FTP(host, opts) end
  opts.tls = { cafile = cafile }
  return ftplib.FTP_TLS(host, opts)
end

local function fetch(ftp)
  local chunks = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) chunks[#chunks + 1] = chunk end))
  return table.concat(chunks)
end

-- Both threads meet here even when a login failed: the other one must not wait forever.
local ftp, err, code = connect()
sync()
assert(ftp, ("%s: login failed: %s (%s)"):format(name, tostring(err), tostring(code)))

local size = assert(ftp:size(name))
local first
for round = 1, ROUNDS do
  local copy = fetch(ftp)
  first = first or copy
  if #copy ~= size or copy ~= first then
    error(("%s: round %d got %d bytes, not the %d of the first copy"):format(name, round,
      #copy, #first))
  end
  assert(ftp:storbinary("STOR " .. name .. ".back", copy))
end
ftp:quit()
return ("%d rounds of %d bytes down and up"):format(ROUNDS, size)
