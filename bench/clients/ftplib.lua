-- The benchmark client for this library. Run from anywhere:
--   lua5.4 bench/clients/ftplib.lua [--tls CAFILE] HOST PORT USER PASSWD MODE ARGS...
-- --tls CAFILE: explicit FTPS (FTP_TLS: AUTH TLS, PROT P), trusting the CA in CAFILE.
-- MODE: get-func REMOTE            retrbinary into a Lua function that counts bytes
--       get-file REMOTE LOCAL      retrbinary into an open Lua file (written by C)
--       put-file LOCAL REMOTE      storbinary from an open Lua file (sendfile)
--       many DIR COUNT LOCALDIR    DIR/f0001..COUNT, one session, each into a file
--       many-mem DIR COUNT         the same, each into a string (chunks gathered by a function)
--       mirror DIR LOCALDIR [N]    ftp:mirror(DIR, LOCALDIR), with parallel = N when given
--                                  (writes "N created, M failed" to stderr)
--       download REMOTE LOCAL [N]  ftp:download(REMOTE, LOCAL), with segments = N when given
--                                  (writes the bytes and the sessions used to stderr)
-- Loads the module of this checkout: lua/ and $FTPLIB_BUILD (default build/).
local root = (arg[0]:match("^(.*)/bench/clients/[^/]*$") or ".")
local build = os.getenv("FTPLIB_BUILD") or "build"
if build:sub(1, 1) ~= "/" then build = root .. "/" .. build end
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local ftplib = require "ftplib"

local args = { table.unpack(arg, 1) }
local cafile
if args[1] == "--tls" then
  cafile, args = args[2], { table.unpack(args, 3) }
end
local host, port, user, passwd, mode = args[1], tonumber(args[2]), args[3], args[4], args[5]
local opts = { port = port, user = user, passwd = passwd }
local ftp
if cafile then
  opts.tls = { cafile = cafile }
  ftp = assert(ftplib.FTP_TLS(host, opts))
else
  ftp = assert(ftplib.FTP(host, opts))
end

local modes = {}

function modes.get_func(remote)
  local bytes = 0
  assert(ftp:retrbinary("RETR " .. remote, function(chunk) bytes = bytes + #chunk end))
  io.stderr:write(bytes, " bytes\n")
end

function modes.get_file(remote, localpath)
  local file = assert(io.open(localpath, "wb"))
  assert(ftp:retrbinary("RETR " .. remote, file))
  assert(file:close())
end

function modes.put_file(localpath, remote)
  local file = assert(io.open(localpath, "rb"))
  assert(ftp:storbinary("STOR " .. remote, file))
  file:close()
end

function modes.many(dir, count, localdir)
  for i = 1, tonumber(count) do
    local name = string.format("f%04d", i)
    local file = assert(io.open(localdir .. "/" .. name, "wb"))
    assert(ftp:retrbinary("RETR " .. dir .. "/" .. name, file))
    assert(file:close())
  end
end

function modes.many_mem(dir, count)
  local bytes = 0
  for i = 1, tonumber(count) do
    local chunks = {}
    assert(ftp:retrbinary(string.format("RETR %s/f%04d", dir, i), function(chunk)
      chunks[#chunks + 1] = chunk
    end))
    bytes = bytes + #table.concat(chunks)
  end
  io.stderr:write(bytes, " bytes\n")
end

function modes.mirror(dir, localdir, parallel)
  local report = assert(ftp:mirror(dir, localdir, { parallel = tonumber(parallel) }))
  io.stderr:write(("%d created, %d failed\n"):format(#report.created, #report.failed))
  for _, failure in ipairs(report.failed) do
    io.stderr:write(("failed %s: %s\n"):format(failure.path, tostring(failure.err)))
  end
  if #report.failed > 0 then os.exit(1) end
end

function modes.download(remote, localpath, segments)
  local bytes, info = assert(ftp:download(remote, localpath, { segments = tonumber(segments) }))
  io.stderr:write(("%d bytes, %d sessions%s\n"):format(bytes, info.sessions or 1,
    info.fallback and (" (" .. info.fallback .. ")") or ""))
end

local run = assert(modes[(mode or ""):gsub("-", "_")], "unknown mode " .. tostring(mode))
run(table.unpack(args, 6))
ftp:quit()
