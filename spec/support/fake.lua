-- Driver for the scripted fake FTP server (spec/support/fakeftp.lua), for replies and
-- behaviours no real server produces.
--
--   local fake = require "spec.support.fake"
--   local srv = fake.start({
--     { send = "220 hello\r\n" },        -- raw bytes, exactly as given (include CRLF)
--     { expect = "^USER anonymous$" },   -- read one line (no CRLF), record it, match a Lua pattern
--     { send = "331 pw\r\n" },
--     { recv = true },                   -- read one line, record it, no check
--     { sleep = 2 },                     -- seconds, fractions allowed
--     { close = true },                  -- close the control connection
--     { pasv = true },                   -- data listener on the server's address
--                                        --   ({ pasv = "127.0.0.2" }: another loopback
--                                        --   address); later sends may use %PASV%
--                                        --   (h1,h2,h3,h4,p1,p2), %PORT%, %P1%, %P2%, %HOST%
--     { accept = true },                 -- accept one data connection on it (10 s)
--     { connect = true },                -- active mode: connect to the address of the
--                                        --   last PORT/EPRT command received (10 s)
--     { data_send = "bytes" },           -- send bytes on the data connection
--     { data_send_size = 1048576 },      -- send N bytes of fake.pattern()
--     { data_recv = true },              -- read the data connection to EOF (see srv:received())
--     { data_close = true },             -- close the data connection
--     { answer_for = 0.5 },              -- for 0.5 s, answer each line "200 NOOP ok" at once
--     { queue_for = 0.5 },               -- for 0.5 s, count the lines received (no answer)
--     { answer_queued = "200 ok\r\n" },  -- send that text once per line counted, then reset
--     { tls = "good" },                  -- TLS server handshake on the control connection
--                                        --   ("good" | "wrong" | "unknown" certificate, see
--                                        --   spec/support/certs.lua; needs opts.certs)
--     { data_tls = "good" },             -- the same on the data connection; a data_close
--                                        --   after it sends a bare FIN, no close_notify
--     { serve = { NOOP = "200 ok\r\n", PWD = "257 \"/\"\r\n" }, last = "PWD" },
--                                        -- answer each line by its command word until
--                                        --   the `last` one is answered; other words
--                                        --   are errors
--   }, { timeout = 30, ipv6 = false, certs = certs.get() })
--
-- Any step may also carry `timeout = seconds` to bound its own wait; an `expect` step
-- `noops = "200 ok\r\n"` to answer (and skip) NOOPs met before its line; a data_send
-- `may_fail = true` when the client may have closed the connection. A mismatch or a
-- failed step is recorded (srv:errors()) and the script goes on; the script stops when
-- the client closes the control connection. After the last step every further line is
-- answered "502 fake: end of script". One client connection per fake server; the server
-- process exits by itself after opts.timeout seconds (default 30).
--
-- srv.host, srv.port
-- srv:wait(timeout)  --> true once the server process has exited (default 10 s), else false
-- srv:commands()     --> lines received on the control connection, in order
-- srv:errors()       --> mismatches and step failures; {} when the script ran as written
-- srv:received()     --> one string per data_recv step, in order
-- srv:records()      --> every log record { kind = ..., value = ... }, for debugging
-- srv:stop()         --> kill and clean up; idempotent. Results stay readable after it.
--
-- Call srv:wait() before reading results: the server may still be working.
local proc = require "spec.support.proc"

local fake = {}

local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
if HERE:sub(1, 1) ~= "/" then HERE = require("lfs").currentdir() .. "/" .. HERE end

--- The absolute path of a file of spec/support (a server script run as a process).
function fake.beside(name)
  return HERE .. "/" .. name
end

--- The interpreter the server scripts run under.
fake.LUA = os.getenv("FTPLIB_TEST_LUA") or "lua5.4"

local FAKEFTP = fake.beside("fakeftp.lua")
local LUA = fake.LUA

-- The step actions fakeftp.lua knows, each with the type of value it takes.
local STEP_TYPES = {
  send = "string",
  expect = "string",
  recv = "boolean",
  sleep = "number",
  close = "boolean",
  pasv = "boolean|string",
  accept = "boolean",
  connect = "boolean",
  data_send = "string",
  data_send_size = "number",
  data_recv = "boolean",
  data_close = "boolean",
  answer_for = "number",
  queue_for = "number",
  answer_queued = "string",
  tls = "string",
  data_tls = "string",
  serve = "table",
}

-- Keys that modify a step's action rather than name one, with their types.
local MODIFIER_TYPES = {
  timeout = "number", -- bound the step's own wait
  noops = "string", -- expect: answer NOOPs met before the expected line with this
  last = "string", -- serve: the command word after whose answer the step ends
  may_fail = "boolean", -- data_send: the client may have closed the connection
}

--- `n` bytes of the deterministic pattern that `data_send_size` sends.
-- Must stay in step with PATTERN_BLOCK in fakeftp.lua: 0..250 repeated.
function fake.pattern(n)
  local bytes = {}
  for i = 0, 250 do bytes[#bytes + 1] = string.char(i) end
  local unit = table.concat(bytes)
  return unit:rep(n // #unit) .. unit:sub(1, n % #unit)
end

--- The usual opening: greeting, USER, PASS, 230, and the FEAT that ftp:login sends after
-- it (answered with no features, so no OPTS UTF8 ON follows; `features`: FEAT lines to
-- list instead, e.g. { "UTF8", "MLST type*;size*;" }). Splice into a script with
-- fake.script().
function fake.login_steps(user, features)
  user = user or "anonymous"
  return fake.script({
    { send = "220 fake server ready\r\n" },
    { expect = "^USER " .. user:gsub("%p", "%%%0") .. "$" },
    { send = "331 send password\r\n" },
    { expect = "^PASS " },
    { send = "230 logged in\r\n" },
  }, fake.feat_steps(features))
end

--- The FEAT that ftp:login sends after its 230: answered with no features, or with the
-- FEAT lines `features` (e.g. { "UTF8", "MLST type*;size*;" }).
function fake.feat_steps(features)
  local feat = "211 no features\r\n"
  if features and #features > 0 then
    feat = "211-Features:\r\n " .. table.concat(features, "\r\n ") .. "\r\n211 End\r\n"
  end
  return { { expect = "^FEAT$" }, { send = feat } }
end

--- The FTPS opening of ftplib.FTP_TLS with user anonymous: greeting, AUTH TLS, the
-- handshake with the fake's certificate `cert` ("good" by default: needs opts.certs),
-- USER, PASS, PBSZ 0, PROT P, then the FEAT (fake.feat_steps(features)).
function fake.tls_login_steps(cert, features)
  return fake.script({
    { send = "220 fake ready\r\n" },
    { expect = "^AUTH TLS$" }, { send = "234 go ahead\r\n" }, { tls = cert or "good" },
    { expect = "^USER anonymous$" }, { send = "331 password\r\n" },
    { expect = "^PASS " }, { send = "230 in\r\n" },
    { expect = "^PBSZ 0$" }, { send = "200 PBSZ=0\r\n" },
    { expect = "^PROT P$" }, { send = "200 protected\r\n" },
  }, fake.feat_steps(features))
end

--- A line matching the Lua pattern `expected`, answered with `reply` (no CRLF).
function fake.answer_steps(expected, reply)
  return { { expect = expected }, { send = reply .. "\r\n" } }
end

--- TYPE `kind` ("I", "A") answered with `reply` (default "200 type set").
function fake.type_steps(kind, reply)
  return fake.answer_steps("^TYPE " .. kind .. "$", reply or "200 type set")
end

--- EPSV answered with the port of a data listener the fake opens first; `accept`: then
-- accept the client's data connection too.
function fake.epsv_steps(accept)
  local steps = { { expect = "^EPSV$" }, { pasv = true },
    { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" } }
  if accept then steps[#steps + 1] = { accept = true } end
  return steps
end

--- A transfer to the client over the data listener of an EPSV or PASV before it: the
-- command (a Lua pattern of its line), its 1xx `preliminary`, the accepted connection,
-- `data` (a string, or a count of fake.pattern() bytes), the close, the `final` reply.
-- Replies are given without their CRLF.
function fake.sending_steps(command, preliminary, data, final)
  return {
    { expect = command },
    { send = preliminary .. "\r\n" },
    { accept = true },
    math.type(data) == "integer" and { data_send_size = data } or { data_send = data },
    { data_close = true },
    { send = final .. "\r\n" },
  }
end

--- Flattens lists of steps into one script: fake.script(fake.login_steps(), {...}, ...).
-- The probe a session sends once, before its first pipelined transfer (the
-- second transfer after EPSV answered 229: lua/ftplib/protocol/pipelining.lua):
-- two NOOPs without waiting, both answered with `answer` (default 200).
function fake.pipelining_probe(answer)
  answer = answer or "200 ok\r\n"
  return {
    { expect = "^NOOP$" }, { expect = "^NOOP$" }, { send = answer }, { send = answer },
  }
end

function fake.script(...)
  local steps = {}
  for _, list in ipairs({ ... }) do
    for _, step in ipairs(list) do steps[#steps + 1] = step end
  end
  return steps
end

-- Raises at the spec's line for a step fakeftp.lua would not understand: a typo in a
-- step name must not turn into a silently skipped step.
local function check_steps(steps)
  if type(steps) ~= "table" then error("fake.start: steps must be a list", 3) end
  for index, step in ipairs(steps) do
    local action
    for key, value in pairs(step) do
      local wanted = STEP_TYPES[key]
      if MODIFIER_TYPES[key] then
        wanted = MODIFIER_TYPES[key]
      elseif not wanted then
        error(("fake.start: step %d: unknown key %q"):format(index, tostring(key)), 3)
      elseif action then
        error(("fake.start: step %d: both %s and %s (one action per step)")
          :format(index, action, key), 3)
      else
        action = key
      end
      if not wanted:find(type(value), 1, true) then
        error(("fake.start: step %d: %s must be %s"):format(index, key, wanted), 3)
      end
    end
    if not action then error(("fake.start: step %d: no action"):format(index), 3) end
    if step.expect and not pcall(string.find, "", step.expect) then
      error(("fake.start: step %d: bad Lua pattern %q"):format(index, step.expect), 3)
    end
  end
end

--- Lua source for a value made of strings, numbers, booleans and tables.
local function serialize(value, seen)
  local kind = type(value)
  if kind == "string" then
    return string.format("%q", value)
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      error("serialize: cannot write " .. tostring(value))
    end
    if math.type(value) == "integer" then return string.format("%d", value) end
    return string.format("%.17g", value)
  elseif kind == "boolean" then
    return tostring(value)
  elseif kind == "table" then
    seen = seen or {}
    if seen[value] then error("serialize: table cycle") end
    seen[value] = true
    local parts = {}
    for _, item in ipairs(value) do parts[#parts + 1] = serialize(item, seen) end
    for key, item in pairs(value) do
      local in_sequence = math.type(key) == "integer" and key >= 1 and key <= #value
      if not in_sequence then
        parts[#parts + 1] = "[" .. serialize(key, seen) .. "]=" .. serialize(item, seen)
      end
    end
    seen[value] = nil
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("serialize: cannot write a " .. kind)
end
fake.serialize = serialize

-- Reads the LOG written by fakeftp.lua: lines "kind <Lua string literal>". A line still
-- being written (no newline yet) is skipped.
local function parse_log(text)
  local records = {}
  for kind, literal in (text or ""):gmatch("(%a+) ([^\n]*)\n") do
    local chunk = load("return " .. literal, "=fake log", "t", {})
    local ok, value = pcall(chunk or error)
    if ok and type(value) == "string" then
      records[#records + 1] = { kind = kind, value = value }
    end
  end
  return records
end

local Fake = {}
Fake.__index = Fake

--- Starts a fake server running `steps`. opts.timeout: seconds before it exits by
-- itself (30); opts.ipv6: listen on ::1 instead of 127.0.0.1.
function fake.start(steps, opts)
  check_steps(steps)
  opts = opts or {}
  local host = opts.ipv6 and "::1" or "127.0.0.1"
  local dir = proc.tempdir("fake")
  local paths = {
    script = dir .. "/script.lua",
    log = dir .. "/fake.log",
    portfile = dir .. "/port",
    stderr = dir .. "/stderr.log",
  }
  proc.write_file(paths.script,
    "return " .. serialize({ steps = steps, timeout = opts.timeout or 30, host = host,
      certs = opts.certs and {
        server_cert = opts.certs.server_cert, server_key = opts.certs.server_key,
        wrong_cert = opts.certs.wrong_cert, wrong_key = opts.certs.wrong_key,
        unknown_cert = opts.certs.unknown_cert, unknown_key = opts.certs.unknown_key,
      } }) .. "\n")
  local process = proc.spawn({ LUA, FAKEFTP, paths.script, paths.log, paths.portfile },
    { log = paths.stderr, cleanup = dir })
  local port = proc.wait_for_file(paths.portfile, 10, function() return not process:alive() end)
  if not port then
    local report = proc.tail(paths.stderr)
    process:stop()
    error("fake.start: the fake server did not start:\n" .. report, 2)
  end
  local srv = setmetatable({
    host = host,
    port = assert(tonumber(port:match("%d+"))),
    dir = dir,
    paths = paths,
    process = process,
  }, Fake)
  proc.register(srv)
  return srv
end

function Fake:wait(timeout)
  if self.stopped then return true end
  return proc.wait_until(function() return not self.process:alive() end, timeout or 10) == true
end

function Fake:records()
  if self.final_records then return self.final_records end
  return parse_log(proc.read_file(self.paths.log))
end

local function values_of(records, kind)
  local values = {}
  for _, entry in ipairs(records) do
    if entry.kind == kind then values[#values + 1] = entry.value end
  end
  return values
end

function Fake:commands()
  return values_of(self:records(), "command")
end

function Fake:received()
  return values_of(self:records(), "received")
end

--- Step failures, plus two ways a script can fail to run as written: the fake server
-- crashed (it exited without its final "done" record: a Lua error, whose message is in
-- its stderr), or srv:stop() killed it before its last step.
function Fake:errors()
  local records = self:records()
  local errors = values_of(records, "error")
  if self.killed then
    if #values_of(records, "finished") == 0 then
      local steps = values_of(records, "step")
      errors[#errors + 1] = "stopped before the end of the script, in step "
        .. (steps[#steps] or "(none: no client connected)")
    end
  elseif (self.stopped or not self.process:alive()) and #values_of(records, "done") == 0 then
    errors[#errors + 1] = "fake server ended without finishing: "
      .. (self.final_stderr or proc.tail(self.paths.stderr))
  end
  return errors
end

--- Stops the server (if still running) and removes its folder; the results stay readable.
function Fake:stop()
  if self.stopped then return end
  self.killed = self.process:alive()
  self.final_records = parse_log(proc.read_file(self.paths.log))
  self.final_stderr = proc.tail(self.paths.stderr)
  self.stopped = true
  proc.unregister(self)
  self.process:stop()
  if proc.exists(self.dir) then proc.rmtree(self.dir) end
end

return fake
