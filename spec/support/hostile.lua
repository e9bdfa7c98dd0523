-- Driver for the hostile FTP server (spec/support/hostftp.lua): a made-up tree listed
-- as the scenario says, for the helpers' safety specs (spec/ops/hostile_*_spec.lua,
-- spec/cli/hostile_cli_spec.lua).
--
--   local hostile = require "spec.support.hostile"
--   local srv = hostile.start {
--     features = { "MLST type*;size*;modify*;", "SIZE", "MDTM" }, -- FEAT lines (none: LIST)
--     lists = { [""] = { lines = { hostile.ls("-", "a.txt", 5) } },       -- LIST by path
--               ["sub"] = { reply = "450 No files found" },               -- a refusal
--               ["gnu"] = { lines = { "ls: cannot access 'x'" }, final = "226 ok" } },
--     mlsd = { [""] = { lines = { hostile.mlsx("file", "a.txt", 5) } } },  -- MLSD by path
--     rules = { { pattern = "^deep", lines = { hostile.ls("d", "x") } } }, -- any path matching
--     files = { ["a.txt"] = { data = "hello", mdtm = "20200101000000", size = false,
--                             announce = 1000, send = "short" } },
--     -- announce = false: the 150 gives no size
--     -- size = false: SIZE refused; sizes = {a, b}: the 1st SIZE answers a, later ones b;
--     -- drop_after = n: the first RETR (any session) sends n bytes, then both of that
--     -- session's connections are dropped; announce: the 150's byte count; send: the
--     -- bytes actually sent (default data); sends = {...}: the nth RETR sends sends[n]
--     -- (the last one again after that); chunk, pause: send in chunks with pauses
--     hash_replies = { HASH = { "213 SHA-256 0-5 <hex> a.txt", ... }, XCRC = {...} },
--     -- the nth HASH (XCRC, XMD5, XSHA, XSHA1, XSHA256, XSHA512) received, any client
--     -- and path, gets the nth reply, the last one again after that; a verb without
--     -- replies: 502 (list HASH and the X commands in `features` for FEAT)
--     opts_hash = "501 no",      -- the reply to OPTS HASH (default: 200 OK, as any OPTS)
--     default_file = "EVIL",     -- RETR of any path not in files sends this
--     cwd = { ["sub"] = true },  -- CWD answers (default: a path with a listing is a folder)
--     hide_dotfiles = true,      -- LIST without -a leaves out dotfiles (vsftpd)
--     list_a = false,            -- LIST -a refused with 501
--     refuse_rest = true, refuse_appe = true,   -- no REST / no APPE (Twisted)
--     refuse_rename_over = "550 path already exists",  -- RNTO onto a file or folder (aioftp)
--     rnfr_refusals = { [2] = "550 no" },  -- the 2nd RNFR received (any session) refused
--     refuse_dele = { ["a.old"] = "550 Permission denied" },  -- DELE of that path refused
--     refuse_pwd = true,
--     greeting_delays = { [5] = 1.5 }, -- the 5th control connection is greeted 1.5 s late
--     mode_z = "504 no",         -- the reply to MODE Z (default 200; other modes: 200)
--     ignore_case = true,        -- "README" and "Readme" name one file (stored, deleted)
--     count/line: a rule may list `count` lines made from `line` with %d (big listings);
--     eol = "\r\r\n": its line ends
--   }
--   srv.host, srv.port; srv:session(opts) --> logged-in ftplib.FTP; srv:url(path)
--   srv:commands() --> lines received, all clients; srv:events(kind) --> "stored",
--   "deleted", "renamed", "removed", "made" values; srv:stop()
local proc = require "spec.support.proc"
local fake = require "spec.support.fake"

local hostile = {}

local SERVER = fake.beside("hostftp.lua")
local LUA = fake.LUA

--- A Unix ls -l line: kind "-", "d" or "l" (target for a link), a size, a date.
function hostile.ls(kind, name, size, date, target)
  local perm = kind == "d" and "drwxr-xr-x" or kind == "l" and "lrwxrwxrwx" or "-rw-r--r--"
  local line = ("%s    1 1000     1000     %8d %s %s"):format(perm, size or 4096,
    date or "Jan 16  2020", name)
  if target then line = line .. " -> " .. target end
  return line
end

--- The FEAT lines of a server with MLSD (its unique fact too), SIZE and MDTM.
hostile.MLST = { "MLST type*;size*;modify*;unique*;", "SIZE", "MDTM" }

--- An MLSD line: type ("file", "dir", "cdir", "OS.unix=slink:/x"...), name, size, modify.
function hostile.mlsx(kind, name, size, modify)
  return ("type=%s;size=%d;modify=%s; %s"):format(kind, size or 0, modify or "20200116000000",
    name)
end

local Server = {}
Server.__index = Server

function hostile.start(scenario)
  local dir = proc.tempdir("hostile")
  local paths = { scenario = dir .. "/scenario.lua", log = dir .. "/log",
    portfile = dir .. "/port", stderr = dir .. "/stderr" }
  proc.write_file(paths.scenario, "return " .. fake.serialize(scenario) .. "\n")
  local process = proc.spawn({ LUA, SERVER, paths.scenario, paths.log, paths.portfile },
    { log = paths.stderr, cleanup = dir })
  local port = proc.wait_for_file(paths.portfile, 10, function() return not process:alive() end)
  if not port then
    local report = proc.tail(paths.stderr)
    process:stop()
    error("hostile.start: the server did not start:\n" .. report, 2)
  end
  local srv = setmetatable({ host = "127.0.0.1", port = assert(tonumber(port:match("%d+"))),
    dir = dir, paths = paths, process = process }, Server)
  proc.register(srv)
  return srv
end

function Server:session(opts)
  local ftplib = require "ftplib"
  local options = { port = self.port, user = "anonymous", passwd = "guest", timeout = 10 }
  for key, value in pairs(opts or {}) do options[key] = value end
  return assert(ftplib.FTP(self.host, options))
end

function Server:url(path)
  return ("ftp://anonymous:guest@%s:%d/%s"):format(self.host, self.port, path or "")
end

function Server:records()
  local records = {}
  local text = self.final_log or proc.read_file(self.paths.log) or ""
  for kind, literal in text:gmatch("(%a+) ([^\n]*)\n") do
    local ok, value = pcall(load("return " .. literal, "=log", "t", {}))
    if ok then records[#records + 1] = { kind = kind, value = value } end
  end
  return records
end

function Server:events(kind)
  local values = {}
  for _, entry in ipairs(self:records()) do
    if entry.kind == kind then values[#values + 1] = entry.value end
  end
  return values
end

function Server:commands()
  return self:events("command")
end

--- Errors the server met (a Lua error in a client's coroutine, its stderr).
function Server:errors()
  local errors = self:events("error")
  local stderr = self.final_stderr or proc.read_file(self.paths.stderr) or ""
  if stderr ~= "" then errors[#errors + 1] = stderr end
  return errors
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  self.final_log = proc.read_file(self.paths.log)
  self.final_stderr = proc.read_file(self.paths.stderr)
  proc.unregister(self)
  self.process:stop()
  if proc.exists(self.dir) then proc.rmtree(self.dir) end
end

return hostile
