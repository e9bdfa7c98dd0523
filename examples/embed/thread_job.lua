-- The work of one thread of examples/embed/threads.c (its own Lua state):
--   ... = HOST PORT USER PASSWD CAFILE|- NAME
-- Opens SESSIONS sessions (explicit FTPS when CAFILE is not "-"), waits at the global
-- sync() for the other thread, then runs one task per session under ftplib.spawn/run:
-- ROUNDS times, download NAME into memory, check it against SIZE and the task's first
-- copy, and upload it back as NAME.back<k>. So each thread has its scheduler polling
-- two sessions while the other thread does the same. Returns a summary; raises on any
-- failure.
-- luacheck: globals sync
local host, port, user, passwd, cafile, name = ...
local ftplib = require "ftplib"

local SESSIONS = 2
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

local function rounds(ftp, size, back)
  local first
  for round = 1, ROUNDS do
    local copy = fetch(ftp)
    first = first or copy
    if #copy ~= size or copy ~= first then
      error(("%s: round %d got %d bytes, not the %d of SIZE and the first copy"):format(name,
        round, #copy, size))
    end
    assert(ftp:storbinary("STOR " .. back, copy))
  end
  ftp:quit()
end

-- Both threads meet at sync() even when a login failed: the other one must not wait
-- there forever.
local sessions, failure = {}, nil
for k = 1, SESSIONS do
  local ftp, err, code = connect()
  sessions[k] = ftp
  failure = failure or not ftp and ("%s: login failed: %s (%s)"):format(name, tostring(err),
    tostring(code))
end
sync()
assert(not failure, failure)

local size = assert(sessions[1]:size(name))
for k, ftp in ipairs(sessions) do ftplib.spawn(rounds, ftp, size, name .. ".back" .. k) end
ftplib.run() -- raises the first error of a task
return ("%d sessions x %d rounds of %d bytes down and up"):format(SESSIONS, ROUNDS, size)
