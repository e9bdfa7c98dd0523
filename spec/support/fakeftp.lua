-- A scripted fake FTP server, for replies and behaviours no real server produces.
--
--   lua5.4 spec/support/fakeftp.lua SCRIPT LOG PORTFILE
--
-- SCRIPT is a Lua file returning { steps = {...}, timeout = seconds, host = address }
-- (written by spec/support/fake.lua, which documents the steps). The server listens on
-- `host` with a port from the OS, writes that port to PORTFILE, serves ONE client
-- connection by running the steps in order, then answers every further line with
-- "502 fake: end of script" until the client closes. It exits by itself `timeout`
-- seconds after starting, whatever happens.
--
-- LOG receives one record per line: a word, a space, a Lua string literal (see record()).
-- It is appended and flushed record by record, so a reader sees every finished step.
--
-- Self-contained on purpose (LuaSocket only): it runs in its own process, whatever the
-- current folder and package.path are.
local socket = require "socket"

local script_path, log_path, portfile = ...
if not (script_path and log_path and portfile) then
  io.stderr:write("usage: lua5.4 fakeftp.lua SCRIPT LOG PORTFILE\n")
  os.exit(2)
end

local script = assert(loadfile(script_path, "t", {}))()
local started = socket.gettime()
local deadline = started + (script.timeout or 30)
local DEFAULT_STEP_TIMEOUT = 10 -- accept / connect: a missing client should not stall long
local CHUNK = 64 * 1024

local log = assert(io.open(log_path, "ab"))

-- A Lua string literal on one line: %q writes a newline as backslash + newline.
local function literal(value)
  return (string.format("%q", tostring(value)):gsub("\\\n", "\\n"))
end

local function record(kind, value)
  log:write(kind, " ", literal(value), "\n")
  log:flush()
end

local function fail(message)
  record("error", message)
end

local function remaining()
  return deadline - socket.gettime()
end

-- The deadline for one wait: the step's own timeout (or `default`), capped by the
-- server's overall deadline.
local function step_deadline(step, default)
  local limit = step.timeout or default
  if not limit then return deadline end
  return math.min(deadline, socket.gettime() + limit)
end

local function finish(reason)
  record("done", reason)
  log:close()
  os.exit(0)
end

-- Everything the steps share.
local state = {
  control = nil, -- the client's control connection
  buffer = "", -- bytes received on it but not yet cut into lines
  listener = nil, -- the passive-mode data listener
  pasv_host = nil,
  pasv_port = nil,
  data = nil, -- the current data connection
  commands = {}, -- lines received, for `connect` to find the last PORT/EPRT
}

-- Waits until `sock` has bytes to read (or EOF) before `until_time`.
local function wait_readable(sock, until_time)
  local left = until_time - socket.gettime()
  if left <= 0 then return false end
  local ready = socket.select({ sock }, nil, left)
  return ready[1] ~= nil
end

-- Reads what is available now: at least one byte, or "closed"/"timeout". Under TLS
-- (LuaSec) a readable socket may hold only part of a record: wait again.
local function read_some(sock, until_time)
  while true do
    if not wait_readable(sock, until_time) then return nil, "timeout" end
    sock:settimeout(0)
    local bytes, err, partial = sock:receive(CHUNK)
    bytes = bytes or partial
    if bytes and bytes ~= "" then return bytes end
    if err ~= "timeout" and err ~= "wantread" then return nil, "closed" end
  end
end

-- One control line without its terminator. A line not ending in CRLF is an error of
-- the client (RFC 959 says CRLF), so it is recorded as one.
local function read_line(until_time)
  while true do
    local newline = state.buffer:find("\n", 1, true)
    if newline then
      local line = state.buffer:sub(1, newline - 1)
      state.buffer = state.buffer:sub(newline + 1)
      if line:sub(-1) == "\r" then
        line = line:sub(1, -2)
      else
        fail("line not terminated by CRLF: " .. line)
      end
      state.commands[#state.commands + 1] = line
      record("command", line)
      return line
    end
    local bytes, err = read_some(state.control, until_time)
    if not bytes then
      if state.buffer ~= "" then
        fail("unterminated line before " .. err .. ": " .. state.buffer)
      end
      return nil, err
    end
    state.buffer = state.buffer .. bytes
  end
end

-- Sends all of `bytes` on `sock` before the deadline.
local function send_all(sock, bytes, until_time)
  local sent = 0
  while sent < #bytes do
    local left = until_time - socket.gettime()
    if left <= 0 then return nil, "timeout" end
    sock:settimeout(left)
    local last, err, partial_last = sock:send(bytes, sent + 1)
    if not last then
      if err ~= "timeout" then return nil, err end
      sent = partial_last
    else
      sent = last
    end
  end
  return true
end

-- Deterministic test bytes: 0, 1, ..., 250 repeated. The period 251 is prime, so a
-- chunk dropped, repeated or shifted shows up. spec/support/fake.lua's pattern() must
-- give the same bytes.
local PATTERN_UNIT = (function()
  local bytes = {}
  for i = 0, 250 do bytes[#bytes + 1] = string.char(i) end
  return table.concat(bytes)
end)()
local PATTERN_BLOCK = PATTERN_UNIT:rep(256) -- a whole number of periods: every block alike

local function host_bytes_for_pasv(host)
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return "0,0,0,0" end
  return table.concat({ a, b, c, d }, ",")
end

-- %PASV%, %PORT%, %P1%, %P2% and %HOST% in `send` texts describe the data listener.
local function substitute(text)
  if not text:find("%", 1, true) then return text end
  local port = state.pasv_port
  local p1, p2 = port and tostring(port // 256), port and tostring(port % 256)
  local values = {
    PASV = port and (host_bytes_for_pasv(state.pasv_host) .. "," .. p1 .. "," .. p2),
    PORT = port and tostring(port),
    P1 = p1,
    P2 = p2,
    HOST = state.pasv_host or script.host,
  }
  return (text:gsub("%%(%u%w*)%%", function(name)
    if values[name] then return values[name] end
    if port == nil and (name == "PASV" or name == "PORT" or name == "P1" or name == "P2") then
      fail("%" .. name .. "% used before a pasv step")
    end
    return nil -- leave unknown words as they are
  end))
end

local function is_loopback(host)
  return host:match("^127%.%d+%.%d+%.%d+$") ~= nil or host == "::1" or host == "0:0:0:0:0:0:0:1"
end

-- The address from the last PORT or EPRT command received, or nil and why.
local function last_active_address()
  for i = #state.commands, 1, -1 do
    local line = state.commands[i]
    local verb = (line:match("^(%a+)") or ""):upper()
    if verb == "PORT" then
      local a, b, c, d, p1, p2 = line:match("(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)")
      if not a then return nil, "malformed PORT: " .. line end
      return table.concat({ a, b, c, d }, "."), tonumber(p1) * 256 + tonumber(p2)
    elseif verb == "EPRT" then
      -- EPRT <d>proto<d>address<d>port<d>, <d> being any printable character.
      local argument = line:match("^%a+%s+(.*)$") or ""
      local delimiter = argument:sub(1, 1)
      if delimiter == "" then return nil, "malformed EPRT: " .. line end
      local escaped = delimiter:gsub("%p", "%%%0")
      local fields = {}
      for field in argument:sub(2):gmatch("([^" .. escaped .. "]*)" .. escaped) do
        fields[#fields + 1] = field
      end
      local host, port = fields[2], tonumber(fields[3])
      if not host or not port then return nil, "malformed EPRT: " .. line end
      return host, port
    end
  end
  return nil, "no PORT or EPRT command received"
end

-- A TLS data connection is ended with a bare FIN: LuaSec's close would send
-- close_notify, and the point of data_tls is a server that never does. Its
-- object is kept, never closed, so that no finalizer sends one later.
local function close_data()
  if state.data and state.data_tls then
    local raw = state.data_tls -- the TCP object LuaSec took the descriptor from
    raw:setfd(state.data:getfd())
    raw:shutdown("both")
    raw:setfd(socket._SOCKETINVALID)
    state.kept = state.kept or {}
    state.kept[#state.kept + 1] = state.data
  elseif state.data then
    state.data:close()
  end
  state.data, state.data_tls = nil, nil
end

local function need_control(step_name)
  if state.control then return true end
  fail(step_name .. ": the control connection is closed")
  return false
end

local function need_data(step_name)
  if state.data then return true end
  fail(step_name .. ": no data connection")
  return false
end

-- Each step returns nothing, or "stop" to end the script (the client went away).
local actions = {}

function actions.send(step)
  if not need_control("send") then return end
  local ok, err = send_all(state.control, substitute(step.send), step_deadline(step))
  if not ok then fail("send: " .. err); return "stop" end
end

local function receive_command(step, name)
  if not need_control(name) then return end
  local line, err = read_line(step_deadline(step))
  if not line then
    fail(name .. ": connection " .. err .. " while waiting for a command"
      .. (step.expect and (" matching " .. step.expect) or ""))
    return "stop"
  end
  return nil, line
end

-- The command word of a line in upper case, after any Telnet bytes before it (the
-- IP/Synch some clients send before ABOR).
local function verb_of(line)
  return ((line:gsub("^[\128-\255]+", "")):match("^(%a+)") or ""):upper()
end

-- With step.noops, NOOP lines that come before the expected one are answered with that
-- text and skipped (a client bringing its session back in step).
function actions.expect(step)
  while true do
    local stop, line = receive_command(step, "expect")
    if stop then return stop end
    if not (line and step.noops and verb_of(line) == "NOOP" and not line:find(step.expect)) then
      if line and not line:find(step.expect) then
        fail(("expect: %q does not match %q"):format(line, step.expect))
      end
      return
    end
    send_all(state.control, step.noops, step_deadline(step))
  end
end

-- Answers each line by its command word from the table step.serve ({ NOOP = "200 ok\r\n",
-- ... }) until the one named by step.last is answered. A word not in the table is an
-- error (answered "502 fake: not served").
function actions.serve(step)
  if not need_control("serve") then return end
  local until_time = step_deadline(step)
  while true do
    local line, err = read_line(until_time)
    if not line then
      fail("serve: connection " .. err .. " before " .. tostring(step.last))
      return "stop"
    end
    local verb = verb_of(line)
    local reply = step.serve[verb]
    if not reply then
      fail("serve: unexpected line " .. line)
      reply = "502 fake: not served\r\n"
    end
    send_all(state.control, substitute(reply), until_time)
    if verb == step.last then return end
  end
end

function actions.recv(step)
  return (receive_command(step, "recv"))
end

function actions.sleep(step)
  socket.sleep(math.max(0, math.min(step.sleep, remaining())))
end

function actions.close()
  if state.control then state.control:close() end
  state.control = nil
  record("note", "control connection closed by the script")
end

function actions.pasv(step)
  if state.listener then state.listener:close() end
  local host = type(step.pasv) == "string" and step.pasv or script.host
  if not is_loopback(host) then fail("pasv: refusing non-loopback address " .. host); return end
  local listener = assert(host:find(":") and socket.tcp6() or socket.tcp4())
  listener:setoption("reuseaddr", true)
  local ok, err = listener:bind(host, 0)
  if ok then ok, err = listener:listen(1) end
  if not ok then fail("pasv: cannot listen on " .. host .. ": " .. tostring(err)); return end
  local _, port = listener:getsockname()
  state.listener, state.pasv_host, state.pasv_port = listener, host, tonumber(port)
  record("note", "data listener on " .. host .. " port " .. port)
end

function actions.accept(step)
  if not state.listener then fail("accept: no pasv step before"); return end
  close_data()
  local until_time = step_deadline(step, DEFAULT_STEP_TIMEOUT)
  if not wait_readable(state.listener, until_time) then fail("accept: timeout"); return end
  state.listener:settimeout(0)
  local conn, err = state.listener:accept()
  if not conn then fail("accept: " .. tostring(err)); return end
  state.data = conn
  record("note", "data connection accepted from " .. tostring((conn:getpeername())))
end

function actions.connect(step)
  close_data()
  local host, port = last_active_address()
  if not host then fail("connect: " .. port); return end
  if not is_loopback(host) then fail("connect: refusing non-loopback address " .. host); return end
  local conn = assert(host:find(":") and socket.tcp6() or socket.tcp4())
  conn:settimeout(math.max(0, step_deadline(step, DEFAULT_STEP_TIMEOUT) - socket.gettime()))
  local ok, err = conn:connect(host, port)
  if not ok then fail(("connect: %s port %d: %s"):format(host, port, tostring(err))); return end
  state.data = conn
  record("note", ("data connection made to %s port %d"):format(host, port))
end

-- step.may_fail: the client may have closed the data connection (only noted).
function actions.data_send(step)
  if not need_data("data_send") then return end
  local ok, err = send_all(state.data, step.data_send, step_deadline(step))
  if not ok then
    if step.may_fail then record("note", "data_send: " .. err) else fail("data_send: " .. err) end
  end
end

function actions.data_send_size(step)
  if not need_data("data_send_size") then return end
  local left, until_time = step.data_send_size, step_deadline(step)
  while left > 0 do
    local chunk = left >= #PATTERN_BLOCK and PATTERN_BLOCK or PATTERN_BLOCK:sub(1, left)
    local ok, err = send_all(state.data, chunk, until_time)
    if not ok then fail("data_send_size: " .. err); return end
    left = left - #chunk
  end
end

function actions.data_recv(step)
  if not need_data("data_recv") then return end
  local parts, until_time = {}, step_deadline(step)
  while true do
    local bytes, err = read_some(state.data, until_time)
    if not bytes then
      if err == "timeout" then fail("data_recv: timeout before end of file") end
      break
    end
    parts[#parts + 1] = bytes
  end
  record("received", table.concat(parts))
end

function actions.data_close()
  close_data()
  record("note", "data connection closed by the script")
end

-- Keepalive NOOPs during a transfer: for `seconds`, every line received is
-- recorded and answered at once (answer_for, as pyftpdlib does) or counted
-- (queue_for), to be answered later by answer_queued (as vsftpd does, after
-- the transfer's final reply).
local function read_lines_for(seconds, on_line)
  local until_time = math.min(deadline, socket.gettime() + seconds)
  while true do
    local line = read_line(until_time)
    if not line then return end
    on_line(line)
  end
end

function actions.answer_for(step)
  if not need_control("answer_for") then return end
  read_lines_for(step.answer_for, function()
    send_all(state.control, "200 NOOP ok\r\n", deadline)
  end)
end

function actions.queue_for(step)
  if not need_control("queue_for") then return end
  state.queued = state.queued or 0
  read_lines_for(step.queue_for, function() state.queued = state.queued + 1 end)
end

function actions.answer_queued(step)
  if not need_control("answer_queued") then return end
  record("note", (state.queued or 0) .. " queued lines answered")
  send_all(state.control, substitute(step.answer_queued):rep(state.queued or 0), deadline)
  state.queued = 0
end

-- TLS with LuaSec, as a server: `tls` secures the control connection,
-- `data_tls` the data connection, each with the certificate named ("good":
-- for 127.0.0.1; "wrong": for wrong.example; "unknown": self-signed) from the
-- script's certs table. A data_close after data_tls sends no close_notify (see
-- close_data): a server that never sends one.
local function tls_wrap(step, sock, name)
  local ssl = require "ssl"
  local certs = script.certs or {}
  local which = step[name]
  local files = { good = "server", wrong = "wrong", unknown = "unknown" }
  local prefix = files[which]
  if not prefix or not certs[prefix .. "_cert"] then
    fail(name .. ": no certificate " .. tostring(which) .. " (fake.start opts.certs)")
    return nil
  end
  local conn, err = ssl.wrap(sock, { mode = "server", protocol = "any",
    certificate = certs[prefix .. "_cert"], key = certs[prefix .. "_key"] })
  if not conn then fail(name .. ": " .. tostring(err)); return nil end
  local until_time = step_deadline(step, DEFAULT_STEP_TIMEOUT)
  while true do
    conn:settimeout(math.max(0, until_time - socket.gettime()))
    local ok, herr = conn:dohandshake()
    if ok then break end
    if herr ~= "wantread" and herr ~= "wantwrite" or socket.gettime() >= until_time then
      record("note", name .. " handshake failed: " .. tostring(herr))
      conn:close()
      return nil
    end
  end
  record("note", name .. " handshake done")
  return conn
end

function actions.tls(step)
  if not need_control("tls") then return end
  local conn = tls_wrap(step, state.control, "tls")
  state.control = conn
  if not conn then return "stop" end
end

function actions.data_tls(step)
  if not need_data("data_tls") then return end
  local tcp = state.data
  state.data = tls_wrap(step, tcp, "data_tls")
  state.data_tls = state.data and tcp
end

local function step_name(step)
  for name in pairs(actions) do
    if step[name] ~= nil then return name end
  end
end

local function run_steps()
  for index, step in ipairs(script.steps) do
    local name = step_name(step)
    record("step", index .. " " .. tostring(name))
    if not name then
      fail("step " .. index .. ": no known action")
    elseif actions[name](step) == "stop" then
      return "client gone during step " .. index .. " (" .. name .. ")"
    end
    if remaining() <= 0 then
      fail("overall timeout during step " .. index .. " (" .. tostring(name) .. ")")
      return "overall timeout"
    end
  end
  record("finished", #script.steps)
end

-- After the script: every further line gets a 502, until the client leaves.
local function answer_leftovers()
  while state.control do
    local line, err = read_line(deadline)
    if not line then
      if err == "timeout" then fail("overall timeout after the script") end
      return "client " .. err .. " after the script"
    end
    send_all(state.control, "502 fake: end of script\r\n", deadline)
  end
  return "control connection closed by the script"
end

local function listen()
  local server = assert(script.host:find(":") and socket.tcp6() or socket.tcp4())
  server:setoption("reuseaddr", true)
  assert(server:bind(script.host, 0))
  assert(server:listen(1))
  local _, port = server:getsockname()
  record("listen", port)
  -- Written then renamed, so the driver never reads half a number.
  local tmp = portfile .. ".tmp"
  local file = assert(io.open(tmp, "w"))
  file:write(port, "\n")
  file:close()
  assert(os.rename(tmp, portfile))
  return server
end

local function main()
  local server = listen()
  if not wait_readable(server, deadline) then
    fail("no client connected before the overall timeout")
    finish("timeout")
  end
  server:settimeout(0)
  state.control = assert(server:accept())
  server:close() -- one client per fake server: later connections are refused
  record("connected", (state.control:getpeername()))
  local reason = run_steps() or answer_leftovers()
  close_data()
  if state.listener then state.listener:close() end
  if state.control then state.control:close() end
  finish(reason)
end

main()
