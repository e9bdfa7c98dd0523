-- A hostile FTP server for the helpers' specs (spec/ops/hostile_*_spec.lua,
-- spec/cli/hostile_cli_spec.lua): it serves a made-up tree, listing whatever the scenario
-- says, to any number of clients.
--
--   lua5.4 spec/support/hostftp.lua SCENARIO LOG PORTFILE
--
-- SCENARIO is a Lua file returning a table (written by spec/support/hostile.lua, which
-- documents the fields). The server listens on 127.0.0.1 with a port from the OS,
-- writes that port to PORTFILE and serves clients, one coroutine each, until it has
-- been idle for `idle` seconds or `timeout` seconds have passed since it started.
-- LOG gets one line per event: a word, a space, a Lua string literal ("command" lines
-- received, "stored" uploads, "note"s).
--
-- Paths are looked up as the client wrote them, joined to the current folder (CWD):
-- leading "/" and "./", doubled and trailing slashes dropped, and nothing else: ".."
-- stays as it is, so that a client climbing out of its folder shows in the log (and
-- gets `default_file`, when the scenario has one).
local socket = require "socket"

local scenario_path, log_path, portfile = ...
local scenario = assert(loadfile(scenario_path, "t", {}))()
local started = socket.gettime()
local deadline = started + (scenario.timeout or 60)
local IDLE = scenario.idle or 30
local DATA_TIMEOUT = 5

local log = assert(io.open(log_path, "ab"))
local function record(kind, value)
  log:write(kind, " ", (string.format("%q", tostring(value)):gsub("\\\n", "\\n")), "\n")
  log:flush()
end

local function normalize(path)
  path = path:gsub("/+", "/"):gsub("^/", ""):gsub("^%./", ""):gsub("/$", "")
  if path == "." then return "" end
  return path
end

-- Uploaded and renamed files, by path: scenario.files plus what clients stored. With
-- scenario.ignore_case, paths differing in case name one file (Windows, macOS, vfat).
local files = {}
if scenario.ignore_case then
  local store = {}
  files = setmetatable({}, {
    __index = function(_, path) return store[path:lower()] end,
    __newindex = function(_, path, file) store[path:lower()] = file end,
  })
end
for path, file in pairs(scenario.files or {}) do files[normalize(path)] = file end

-- The listing rule for a path of a kind ("LIST" or "MLSD"): the scenario's table for
-- that kind, an entry by path, else the first pattern rule that matches.
local function listing_for(kind, path)
  local by_path = kind == "MLSD" and scenario.mlsd or scenario.lists
  local rule = by_path and by_path[path]
  if rule then return rule end
  for _, pattern_rule in ipairs(scenario.rules or {}) do
    if (pattern_rule.kind or "LIST") == kind and path:find(pattern_rule.pattern) then
      return pattern_rule
    end
  end
  return nil
end

local function is_folder(path)
  if path == "" then return true end
  if scenario.cwd and scenario.cwd[path] ~= nil then return scenario.cwd[path] end
  return listing_for("LIST", path) ~= nil or listing_for("MLSD", path) ~= nil
end

-- Sockets of every coroutine, waiting to read.
local waiting = {}
local sleepers = {} -- client -> when its sleep ends (Client:sleep)
local accepted = 0 -- control connections so far: the next one's number

local Client = {}
Client.__index = Client

-- One control line, yielding while none is there. nil when the client went away.
function Client:line()
  while true do
    local newline = self.buffer:find("\n", 1, true)
    if newline then
      local line = self.buffer:sub(1, newline - 1):gsub("\r$", "")
      self.buffer = self.buffer:sub(newline + 1)
      record("command", line)
      return line
    end
    waiting[self.sock] = self
    coroutine.yield()
    self.sock:settimeout(0)
    local bytes, err, partial = self.sock:receive(65536)
    bytes = bytes or partial
    if bytes and bytes ~= "" then
      self.buffer = self.buffer .. bytes
    elseif err == "closed" then
      return nil
    end
  end
end

-- Holds this session back for `seconds` while the others go on (the main
-- loop resumes it once the time has passed).
function Client:sleep(seconds)
  sleepers[self] = socket.gettime() + seconds
  coroutine.yield()
end

function Client:send(text)
  self.sock:settimeout(10)
  self.sock:send(text)
end

function Client:reply(text)
  self:send(text:find("\r\n$") and text or text .. "\r\n")
end

-- The data connection: the client connects to the listener opened by EPSV/PASV.
function Client:open_data()
  if not self.listener then return nil end
  self.listener:settimeout(DATA_TIMEOUT)
  local conn = self.listener:accept()
  self.listener:close()
  self.listener = nil
  return conn
end

function Client:listen()
  if self.listener then self.listener:close() end
  local listener = assert(socket.tcp4())
  assert(listener:bind("127.0.0.1", 0))
  assert(listener:listen(1))
  self.listener = listener
  local _, port = listener:getsockname()
  return tonumber(port)
end

function Client:path(argument)
  argument = argument or ""
  if argument:sub(1, 1) == "/" then return normalize(argument) end
  return normalize(self.cwd .. "/" .. argument)
end

-- Sends bytes on a data connection in chunks, `pause` seconds between them.
local function send_data(conn, bytes, chunk, pause)
  conn:settimeout(DATA_TIMEOUT)
  chunk = chunk or #bytes
  local i = 1
  while i <= #bytes do
    local last = conn:send(bytes, i, math.min(i + chunk - 1, #bytes))
    if not last then return false end
    i = last + 1
    if pause then socket.sleep(pause) end
  end
  return true
end

-- A listing: rule.reply alone (a refusal), or rule.preliminary (150), the lines
-- (rule.lines, or rule.count lines made from rule.line with %d), rule.final (226).
function Client:send_listing(rule, hide_dotfiles)
  if rule.reply then return self:reply(rule.reply) end
  self:reply(rule.preliminary or "150 Here comes the listing")
  local conn = self:open_data()
  if not conn then return self:reply("425 no data connection") end
  local eol = rule.eol or "\r\n"
  if rule.count then
    local parts = {}
    for i = 1, rule.count do
      parts[#parts + 1] = rule.line:format(i) .. eol
      if #parts == 4096 then
        send_data(conn, table.concat(parts))
        parts = {}
      end
    end
    send_data(conn, table.concat(parts))
  else
    local parts = {}
    for _, line in ipairs(rule.lines or {}) do
      local name = line:match("(%S+)$") or ""
      if not (hide_dotfiles and name:sub(1, 1) == ".") then
        parts[#parts + 1] = line .. eol
      end
    end
    send_data(conn, table.concat(parts))
  end
  conn:close()
  self:reply(rule.final or "226 Directory send OK.")
end

local commands = {}

function commands.USER(c) c:reply("331 Please specify the password.") end
function commands.PASS(c) c:reply("230 Login successful.") end
function commands.SYST(c) c:reply("215 UNIX Type: L8") end
function commands.NOOP(c) c:reply("200 NOOP ok.") end
function commands.TYPE(c) c:reply("200 Type set.") end
function commands.OPTS(c, argument)
  if scenario.opts_hash and (argument or ""):upper():find("^HASH") then
    return c:reply(scenario.opts_hash)
  end
  c:reply("200 OK")
end
function commands.ABOR(c) c:reply("226 ABOR ok.") end

function commands.FEAT(c)
  local features = scenario.features or {}
  if #features == 0 then return c:reply("211 no features") end
  c:reply("211-Features:\r\n " .. table.concat(features, "\r\n ") .. "\r\n211 End")
end

function commands.PWD(c)
  if scenario.refuse_pwd then return c:reply("550 no PWD here") end
  c:reply('257 "/' .. c.cwd .. '" is the current directory')
end

function commands.CWD(c, argument)
  local path = c:path(argument)
  if not is_folder(path) then return c:reply("550 Failed to change directory.") end
  c.cwd = path
  c:reply("250 Directory successfully changed.")
end

function commands.CDUP(c)
  c.cwd = c.cwd:match("^(.*)/[^/]*$") or ""
  c:reply("250 Directory successfully changed.")
end

function commands.EPSV(c)
  c:reply(("229 Entering Extended Passive Mode (|||%d|)"):format(c:listen()))
end

function commands.PASV(c)
  local port = c:listen()
  c:reply(("227 Entering Passive Mode (127,0,0,1,%d,%d)."):format(port // 256, port % 256))
end

local function list_command(kind)
  return function(c, argument)
    argument = argument or ""
    local options = argument:match("^(%-%a+)%s*") or argument:match("^(%-%a+)$")
    if options then
      if kind == "LIST" and scenario.list_a == false then
        return c:reply("501 Unknown option " .. options)
      end
      argument = argument:sub(#options + 1):gsub("^%s+", "")
    end
    local rule = listing_for(kind, c:path(argument))
    if not rule then
      if kind == "MLSD" then return c:reply("550 No such directory.") end
      -- vsftpd's answer for a missing folder: an empty listing.
      rule = { lines = {} }
    end
    -- Without -a a Unix server shows no dotfiles (scenario.hide_dotfiles).
    local hide = kind == "LIST" and scenario.hide_dotfiles and not (options or ""):find("a")
    c:send_listing(rule, hide)
  end
end
commands.LIST = list_command("LIST")
commands.MLSD = list_command("MLSD")

function commands.NLST(c, argument)
  local rule = listing_for("LIST", c:path(argument)) or { lines = {} }
  local names = {}
  for _, line in ipairs(rule.lines or {}) do names[#names + 1] = line:match("(%S+)$") end
  c:send_listing({ lines = names, reply = rule.reply })
end

local function file_for(path)
  local file = files[path]
  if not file and scenario.default_file then
    return { data = scenario.default_file }
  end
  return file
end

-- file.sizes: the k-th SIZE of the file (any session) answers sizes[k], the last one after.
function commands.SIZE(c, argument)
  local file = file_for(c:path(argument))
  if not file or file.size == false then return c:reply("550 Could not get file size.") end
  local size = file.size
  if file.sizes then
    file.size_asked = (file.size_asked or 0) + 1
    size = file.sizes[math.min(file.size_asked, #file.sizes)]
  end
  c:reply("213 " .. (size or #file.data))
end

function commands.MDTM(c, argument)
  local file = file_for(c:path(argument))
  if not file or not file.mdtm then return c:reply("550 Could not get file modification time.") end
  c:reply("213 " .. file.mdtm)
end

function commands.REST(c, argument)
  if scenario.refuse_rest then return c:reply("502 Command 'REST' not implemented") end
  c.rest = tonumber(argument) or 0
  c:reply("350 Restart position accepted (" .. c.rest .. ").")
end

-- The bytes the nth RETR of a file sends: file.sends[n] (the last one again after
-- that), else file.send, else its data.
local function bytes_to_send(file)
  file.retrieved = (file.retrieved or 0) + 1
  local sends = file.sends
  return sends and sends[math.min(file.retrieved, #sends)] or file.send or file.data
end

function commands.RETR(c, argument)
  local file = file_for(c:path(argument))
  local offset = c.rest or 0
  c.rest = nil
  if not file then return c:reply("550 Failed to open file.") end
  local sent = bytes_to_send(file):sub(offset + 1)
  local announce = file.announce
  if announce == nil then announce = #file.data end
  if announce == false then
    c:reply(("150 Opening BINARY mode data connection for %s."):format(argument))
  else
    c:reply(("150 Opening BINARY mode data connection for %s (%d bytes)."):format(argument,
      announce))
  end
  local conn = c:open_data()
  if not conn then return c:reply("425 no data connection") end
  -- file.drop_after = n: the first RETR of the file (any session) sends n bytes, then
  -- the server drops both connections of that session (a session process that died).
  if file.drop_after and not file.dropped then
    file.dropped = true
    send_data(conn, sent:sub(1, file.drop_after), file.chunk, file.pause)
    record("note", "dropped a session")
    conn:close()
    return "quit"
  end
  send_data(conn, sent, file.chunk, file.pause)
  conn:close()
  c:reply("226 Transfer complete.")
end

local function store(c, argument, append)
  local path = c:path(argument)
  local offset = c.rest or 0
  c.rest = nil
  c:reply("150 Ok to send data.")
  local conn = c:open_data()
  if not conn then return c:reply("425 no data connection") end
  conn:settimeout(DATA_TIMEOUT)
  local bytes = conn:receive("*a") or ""
  conn:close()
  local old = files[path] and files[path].data or ""
  local data = append and old .. bytes or old:sub(1, offset) .. bytes
  files[path] = { data = data }
  record("stored", path .. " " .. #data)
  c:reply("226 Transfer complete.")
end

function commands.STOR(c, argument) store(c, argument, false) end
function commands.APPE(c, argument)
  if scenario.refuse_appe then return c:reply("502 Command 'APPE' not implemented") end
  store(c, argument, true)
end

-- HASH and the X digest commands answer what scenario.hash_replies[VERB] lists: the
-- nth such command (any client, any path) the nth reply, the last one again after
-- that. A verb the scenario gives no replies is not implemented.
local hash_counts = {}
local function hash_command(verb)
  return function(c)
    local replies = scenario.hash_replies and scenario.hash_replies[verb]
    if not replies then return c:reply("502 Command not implemented.") end
    hash_counts[verb] = (hash_counts[verb] or 0) + 1
    c:reply(replies[math.min(hash_counts[verb], #replies)])
  end
end
for _, verb in ipairs { "HASH", "XCRC", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512" } do
  commands[verb] = hash_command(verb)
end

function commands.DELE(c, argument)
  local path = c:path(argument)
  local refusal = scenario.refuse_dele and scenario.refuse_dele[path]
  if refusal then return c:reply(refusal) end
  if not files[path] then return c:reply("550 Delete operation failed.") end
  files[path] = nil
  record("deleted", path)
  c:reply("250 Delete operation successful.")
end

function commands.RMD(c, argument)
  record("removed", c:path(argument))
  c:reply("250 Remove directory operation successful.")
end

function commands.MKD(c, argument)
  local path = c:path(argument)
  record("made", path)
  c:reply('257 "/' .. path .. '" created')
end

local rnfr_count = 0
function commands.RNFR(c, argument)
  local path = c:path(argument)
  rnfr_count = rnfr_count + 1
  local refusal = scenario.rnfr_refusals and scenario.rnfr_refusals[rnfr_count]
  if refusal then return c:reply(refusal) end
  if not files[path] then return c:reply("550 RNFR command failed.") end
  c.rename_from = path
  c:reply("350 Ready for RNTO.")
end

function commands.RNTO(c, argument)
  local from, to = c.rename_from, c:path(argument)
  c.rename_from = nil
  if not from then return c:reply("503 RNFR required first.") end
  if (files[to] or to ~= "" and is_folder(to)) and scenario.refuse_rename_over then
    return c:reply(scenario.refuse_rename_over)
  end
  if is_folder(to) then return c:reply("550 Rename failed.") end -- rename(2): EISDIR
  files[to], files[from] = files[from], nil
  record("renamed", from .. " -> " .. to)
  c:reply("250 Rename successful.")
end

-- MODE Z answered as scenario.mode_z says (default 200), any other mode 200: the
-- bytes sent are the scenario's either way (a "send" may be a zlib stream).
function commands.MODE(c, argument)
  if (argument or ""):upper() == "Z" then
    return c:reply(scenario.mode_z or "200 MODE Z ok")
  end
  c:reply("200 MODE " .. tostring(argument) .. " ok")
end

function commands.QUIT(c)
  c:reply("221 Goodbye.")
  return "quit"
end

local function serve(c)
  local delay = (scenario.greeting_delays or {})[c.number]
  if delay then c:sleep(delay) end
  c:reply(scenario.greeting or "220 hostile server ready")
  while true do
    local line = c:line()
    if not line then break end
    local verb, argument = line:match("^(%S+)%s?(.*)$")
    local handler = commands[(verb or ""):upper()]
    if not handler then
      c:reply("502 Command not implemented.")
    elseif handler(c, argument ~= "" and argument or nil) == "quit" then
      break
    end
  end
  waiting[c.sock] = nil
  c.sock:close()
end

-- How long select may wait: at most `longest`, less when a sleeper is due.
local function next_wake(longest)
  local now = socket.gettime()
  for _, wake in pairs(sleepers) do
    longest = math.min(longest, math.max(0, wake - now))
  end
  return longest
end

local function wake_sleepers()
  local now, due = socket.gettime(), {}
  for c, wake in pairs(sleepers) do
    if wake <= now then due[#due + 1] = c end
  end
  for _, c in ipairs(due) do -- resumed after the walk: a resumed one may sleep again
    sleepers[c] = nil
    local ok, err = coroutine.resume(c.co)
    if not ok then record("error", err) end
  end
end

local function main()
  local server = assert(socket.tcp4())
  server:setoption("reuseaddr", true)
  assert(server:bind("127.0.0.1", 0))
  assert(server:listen(16))
  local _, port = server:getsockname()
  local tmp = portfile .. ".tmp"
  local file = assert(io.open(tmp, "w"))
  file:write(port, "\n")
  file:close()
  assert(os.rename(tmp, portfile))
  local last_activity = socket.gettime()
  while socket.gettime() < deadline and socket.gettime() - last_activity < IDLE do
    local watch = { server }
    for sock in pairs(waiting) do watch[#watch + 1] = sock end
    local ready = socket.select(watch, nil, next_wake(0.5))
    wake_sleepers()
    for _, sock in ipairs(ready) do
      last_activity = socket.gettime()
      if sock == server then
        server:settimeout(0)
        local conn = server:accept()
        if conn then
          conn:setoption("tcp-nodelay", true) -- replies go out at once, one per command
          accepted = accepted + 1
          local c = setmetatable({ sock = conn, buffer = "", cwd = "", number = accepted },
            Client)
          c.co = coroutine.create(serve)
          assert(coroutine.resume(c.co, c))
        end
      elseif waiting[sock] then
        local c = waiting[sock]
        waiting[sock] = nil
        local ok, err = coroutine.resume(c.co)
        if not ok then record("error", err) end
      end
    end
  end
  record("done", "exit")
  log:close()
end

main()
