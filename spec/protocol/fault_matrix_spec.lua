-- The fault matrix: what a server or the network may do wrong, one row each, from the
-- scripted fake server (spec/support/fake.lua). Every row asserts the exact error code
-- and the state the session is left in:
--   "usable": the next command gets its own reply (the script answers one more NOOP);
--   "closed": later calls answer nil, "not connected: ...", "closed".
-- Rows run a scenario: the fake server's steps, the client's options, and `act`, the
-- call that meets the fault (none: the fault is met by connect itself).
local ftplib = require "ftplib"
local fake = require "spec.support.fake"
local certs = require "spec.support.certs"
local stranger_watcher = require("spec.support.stranger").watcher
local wait = require "ftplib.concurrency.wait"

local S = fake.script
local GREETING = { { send = "220 fake ready\r\n" } }
local LOGIN = fake.login_steps()
local STILL_HERE = fake.answer_steps("^NOOP$", "200 still here")
-- The NOOP the library sends itself to be sure it is in step again, after a transfer
-- that failed after its 1xx or got a 2xx where a 1xx was due (spec/protocol/in_step_spec.lua).
local IN_STEP = fake.answer_steps("^NOOP$", "200 NOOP ok")
local type_steps, epsv_steps = fake.type_steps, fake.epsv_steps

-- RETR f after TYPE I and EPSV, up to the 150 and the accepted data connection.
local function retr_open(extra_150)
  return S(type_steps("I"), epsv_steps(), {
    { expect = "^RETR f$" },
    { send = "150 Opening BINARY mode data connection for f" .. (extra_150 or "") .. "\r\n" },
    { accept = true },
  })
end

-- ABOR (sent with Telnet IP/Synch before it) answered as servers do, then the
-- library's NOOP that brings the control connection back in step.
local ABOR_ANSWERED = {
  { expect = "ABOR$" }, { data_close = true },
  { send = "426 Transfer aborted\r\n226 ABOR successful\r\n" },
  { expect = "^NOOP$" }, { send = "200 NOOP ok\r\n" },
}

local function sink() return function() end end

local function retr(ftp) return ftp:retrbinary("RETR f", sink()) end

-- FTPS: AUTH TLS, the handshake with the fake's certificate `cert`, and the login.
local tls_login = fake.tls_login_steps

local long_reply = { "211-start\r\n" }
for i = 1, 400 do long_reply[#long_reply + 1] = " line " .. i .. "\r\n" end
long_reply = table.concat(long_reply)

-- name, steps, opts, act, want (error code, or "ok"), after ("usable" | "closed").
-- `login`: log in with fake.login_steps() first (steps then follow it).
local MATRIX = {
  -- Greetings ----------------------------------------------------------------------------
  { name = "garbage greeting", steps = { { send = "SSH-2.0-OpenSSH_9.2\r\n" } },
    want = "proto", after = "closed" },
  { name = "binary greeting", steps = { { send = "\0\1\2\255\254\r\n" } },
    want = "proto", after = "closed" },
  { name = "421 at the greeting", steps = { { send = "421 Too many users\r\n" } },
    want = 421, after = "closed" },
  { name = "120 then 220", steps = S({ { send = "120 ready in 1 minute\r\n" }, { sleep = 0.2 },
      { send = "220 now ready\r\n" } }, STILL_HERE),
    want = "ok", after = "usable" },
  { name = "silence instead of a greeting", steps = { { sleep = 1.5 } },
    want = "timeout", after = "closed" },
  { name = "connection closed before the greeting", steps = { { close = true } },
    want = "closed", after = "closed" },

  -- Replies ------------------------------------------------------------------------------
  { name = "a reply line over maxline", opts = { maxline = 100 },
    steps = S(GREETING, { { expect = "^NOOP$" }, { send = "200 " .. ("x"):rep(300) .. "\r\n" } }),
    act = function(ftp) return ftp:noop() end, want = "limit", after = "closed" },
  { name = "a multi-line reply that never ends (maxreply)",
    opts = { maxline = 100, maxreply = 2000 },
    steps = S(GREETING, { { expect = "^STAT$" }, { send = long_reply } }),
    act = function(ftp) return ftp:sendcmd("STAT") end, want = "limit", after = "closed" },
  { name = "a server that stops in the middle of a reply",
    steps = S(GREETING, { { expect = "^NOOP$" }, { send = "200-part" }, { sleep = 1.5 } }),
    act = function(ftp) return ftp:noop() end, want = "timeout", after = "closed" },
  { name = "a server that closes in the middle of a reply",
    steps = S(GREETING, { { expect = "^NOOP$" }, { send = "200-part\r\n more" },
      { close = true } }),
    act = function(ftp) return ftp:noop() end, want = "closed", after = "closed" },
  { name = "a server dropping the connection between commands",
    steps = S(GREETING, { { expect = "^NOOP$" }, { send = "200 ok\r\n" }, { close = true } }),
    act = function(ftp, srv)
      assert(ftp:noop())
      srv:wait()
      return ftp:pwd()
    end, want = "closed", after = "closed" },
  { name = "a reply code out of range (600)",
    steps = S(GREETING, { { expect = "^NOOP$" }, { send = "600 what\r\n" } }),
    act = function(ftp) return ftp:noop() end, want = "proto", after = "closed" },
  { name = "a reply with no code",
    steps = S(GREETING, { { expect = "^NOOP$" }, { send = "hello there\r\n" } }),
    act = function(ftp) return ftp:noop() end, want = "proto", after = "closed" },
  { name = "a reply of the wrong class (3xx to voidcmd)",
    steps = S(GREETING, { { expect = "^SITE X$" }, { send = "350 pending\r\n" } }, STILL_HERE),
    act = function(ftp) return ftp:voidcmd("SITE X") end, want = 350, after = "usable" },

  -- PASV and EPSV --------------------------------------------------------------------------
  { name = "a malformed PASV reply", login = true, opts = { use_epsv = false },
    steps = S(type_steps("I"), { { expect = "^PASV$" }, { send = "227 no numbers here\r\n" } },
      STILL_HERE),
    act = retr, want = "proto", after = "usable" },
  { name = "a PASV reply out of range", login = true, opts = { use_epsv = false },
    steps = S(type_steps("I"), { { expect = "^PASV$" },
      { send = "227 Entering Passive Mode (127,0,0,1,256,1).\r\n" } }, STILL_HERE),
    act = retr, want = "proto", after = "usable" },
  { name = "a PASV reply pointing at another host (ignored by default)", login = true,
    opts = { use_epsv = false },
    steps = S(type_steps("I"), { { expect = "^PASV$" }, { pasv = true },
      { send = "227 Entering Passive Mode (127,0,0,2,%P1%,%P2%).\r\n" },
      { expect = "^RETR f$" }, { send = "150 here\r\n" }, { accept = true },
      { data_send = "from the control peer" }, { data_close = true },
      { send = "226 done\r\n" } }, STILL_HERE),
    act = function(ftp)
      local parts = {}
      local ok, err, code = ftp:retrbinary("RETR f", function(c) parts[#parts + 1] = c end)
      assert.equal("from the control peer", table.concat(parts))
      return ok, err, code
    end, want = "ok", after = "usable" },
  { name = "a malformed EPSV reply", login = true,
    steps = S(type_steps("I"), { { expect = "^EPSV$" }, { send = "229 ok (|||abc|)\r\n" } },
      STILL_HERE),
    act = retr, want = "proto", after = "usable" },
  { name = "an EPSV reply out of range", login = true,
    steps = S(type_steps("I"), { { expect = "^EPSV$" }, { send = "229 ok (|||70000|)\r\n" } },
      STILL_HERE),
    act = retr, want = "proto", after = "usable" },
  { name = "an EPSV reply naming another host", login = true,
    steps = S(type_steps("I"), { { expect = "^EPSV$" },
      { send = "229 ok (|1|127.0.0.2|2121|)\r\n" } }, STILL_HERE),
    act = retr, want = "proto", after = "usable" },

  -- Data connections -----------------------------------------------------------------------
  { name = "a data connection refused", login = true,
    steps = S(type_steps("I"), { { expect = "^EPSV$" },
      { send = "229 Entering Extended Passive Mode (|||1|)\r\n" } }, STILL_HERE),
    act = retr, want = "refused", after = "usable" },
  { name = "an active-mode connection from another address (refused, the server's taken)",
    login = true, opts = { passive = false },
    steps = S(type_steps("I"), {
      { expect = "^PORT 127,0,0,1,%d+,%d+$" }, { send = "200 PORT ok\r\n" },
      { expect = "^RETR f$" }, { send = "150 here\r\n" }, { sleep = 0.3 },
      { connect = true }, { data_send = "the server's data" }, { data_close = true },
      { send = "226 done\r\n" } }, STILL_HERE),
    setup = function(opts)
      local stranger = stranger_watcher()
      opts.debuglevel, opts.debugfunc = 1, stranger.debugfunc
      return stranger
    end,
    act = function(ftp, _, stranger)
      local parts = {}
      local ok, err, code = ftp:retrbinary("RETR f", function(c) parts[#parts + 1] = c end)
      assert.equal("the server's data", table.concat(parts))
      assert.truthy(stranger.connected, "the stranger could not reach the listener")
      local got, rerr, partial = stranger.sock:receive("*a")
      assert.equal("", got or partial) -- closed without a byte
      assert.is_not.equal("timeout", rerr)
      stranger.sock:close()
      return ok, err, code
    end, want = "ok", after = "usable" },
  { name = "an active-mode server that never connects after its 150", login = true,
    opts = { passive = false },
    steps = S(type_steps("I"), {
      { expect = "^PORT " }, { send = "200 PORT ok\r\n" },
      { expect = "^RETR f$" }, { send = "150 here\r\n" },
      { expect = "ABOR$" }, { send = "425 Cannot open data connection\r\n226 ABOR ok\r\n" },
      { expect = "^NOOP$" }, { send = "200 NOOP ok\r\n" } }, STILL_HERE),
    act = retr, want = "timeout", after = "usable" },
  { name = "a data connection that closes early with no 226 (silence)", login = true,
    steps = S(retr_open(), { { data_send = "part" }, { data_close = true }, { sleep = 1.5 } }),
    act = retr, want = "timeout", after = "closed" },
  { name = "a data connection that closes early, then the control connection", login = true,
    steps = S(retr_open(), { { data_send = "part" }, { data_close = true },
      { close = true } }),
    act = retr, want = "closed", after = "closed" },
  { name = "a 426 after part of a file", login = true,
    steps = S(retr_open(" (1000000 bytes)"), { { data_send_size = 5000 }, { data_close = true },
      { send = "426 Connection closed; transfer aborted.\r\n" } }, IN_STEP, STILL_HERE),
    act = retr, want = 426, after = "usable" },
  { name = "a 1xx then a 5xx", login = true,
    steps = S(retr_open(), { { data_close = true }, { send = "550 file vanished\r\n" } },
      IN_STEP, STILL_HERE),
    act = retr, want = 550, after = "usable" },
  { name = "150 and then silence, ABOR answered", login = true,
    steps = S(retr_open(), ABOR_ANSWERED, STILL_HERE),
    act = retr, want = "timeout", after = "usable" },
  { name = "150 and then silence, ABOR unanswered", login = true,
    steps = S(retr_open(), { { sleep = 2.5 } }),
    act = retr, want = "timeout", after = "closed" },
  { name = "a stall in the middle of the data", login = true,
    steps = S(retr_open(), { { data_send_size = 100000 } }, ABOR_ANSWERED, STILL_HERE),
    act = retr, want = "timeout", after = "usable" },
  { name = "a 226 without a data connection", login = true,
    steps = S(type_steps("I"), epsv_steps(), { { expect = "^RETR f$" },
      { send = "226 Transfer complete.\r\n" } }, IN_STEP, STILL_HERE),
    act = retr, want = "proto", after = "usable" },
  { name = "a REST answered with an error", login = true,
    steps = S(type_steps("I"), epsv_steps(), { { expect = "^REST 10$" },
      { send = "501 no restarts here\r\n" } }, STILL_HERE),
    act = function(ftp) return ftp:retrbinary("RETR f", sink(), nil, 10) end,
    want = 501, after = "usable" },

  -- The client's own side of a transfer ------------------------------------------------------
  { name = "a callback that raises in the middle of a transfer", login = true,
    steps = S(retr_open(), { { data_send_size = 1000 } }, ABOR_ANSWERED, STILL_HERE),
    act = function(ftp)
      local ok, err = pcall(ftp.retrbinary, ftp, "RETR f", function() error("sink broke") end)
      assert.is_false(ok)
      assert.matches("sink broke", err)
      return nil, err, "raised"
    end, want = "raised", after = "usable" },
  { name = "a sink that stops the transfer", login = true,
    steps = S(retr_open(), { { data_send_size = 1000 } }, ABOR_ANSWERED, STILL_HERE),
    act = function(ftp) return ftp:retrbinary("RETR f", function() return false end) end,
    want = "aborted", after = "usable" },
  { name = "a listing over maxlisting", login = true, opts = { maxlisting = 1000 },
    steps = S(type_steps("A"), epsv_steps(), { { expect = "^NLST$" }, { send = "150 list\r\n" },
      { accept = true }, { data_send = ("a-file-name\r\n"):rep(200) } }, ABOR_ANSWERED,
      STILL_HERE),
    act = function(ftp) return ftp:nlst() end, want = "limit", after = "usable" },
  { name = "a listing line over maxline", login = true, opts = { maxline = 100 },
    steps = S(type_steps("A"), epsv_steps(), { { expect = "^NLST$" }, { send = "150 list\r\n" },
      { accept = true }, { data_send = ("n"):rep(500) .. "\r\n" } }, ABOR_ANSWERED,
      STILL_HERE),
    act = function(ftp) return ftp:nlst() end, want = "limit", after = "usable" },
  { name = "keepalive NOOPs answered around the 226", login = true, opts = { keepalive = 0.3 },
    steps = S(retr_open(), { { data_send = "one" }, { answer_for = 0.45 }, { queue_for = 0.3 },
      { data_send = "two" }, { data_close = true }, { send = "226 done\r\n" },
      { answer_queued = "200 NOOP late\r\n" } }, STILL_HERE),
    act = function(ftp)
      local parts = {}
      local ok, err, code = ftp:retrbinary("RETR f", function(c) parts[#parts + 1] = c end)
      assert.equal("onetwo", table.concat(parts))
      assert.equal("226 done", ok)
      return ok, err, code
    end, want = "ok", after = "usable" },
  -- The first 500 is read when the second NOOP is due, the 501 only after ABOR: both
  -- answer a NOOP, so ABOR's own NOOP is the 200 after 426 and 226.
  { name = "keepalive NOOPs refused with 500 and 501, then an abort", login = true,
    opts = { keepalive = 0.3 },
    steps = S(retr_open(), { { expect = "^NOOP$" }, { send = "500 not during a transfer\r\n" },
      { expect = "^NOOP$" }, { send = "501 still not\r\n" }, { data_send = "one" } },
      ABOR_ANSWERED, STILL_HERE),
    act = function(ftp) return ftp:retrbinary("RETR f", function() return false end) end,
    want = "aborted", after = "usable" },

  -- FTPS ---------------------------------------------------------------------------------
  { name = "a server that never sends TLS close_notify (whole file)", tls = true, login = true,
    steps = S(tls_login("good"), retr_open(" (11 bytes)"), { { data_tls = "good" },
      { data_send = "hello world" }, { data_close = true }, { send = "226 done\r\n" } },
      STILL_HERE),
    act = function(ftp)
      local parts = {}
      local ok, err, code = ftp:retrbinary("RETR f", function(c) parts[#parts + 1] = c end)
      assert.equal("hello world", table.concat(parts))
      return ok, err, code
    end, want = "ok", after = "usable" },
  { name = "a server that never sends TLS close_notify (cut short)", tls = true, login = true,
    steps = S(tls_login("good"), retr_open(" (1000 bytes)"), { { data_tls = "good" },
      { data_send = "hello" }, { data_close = true }, { send = "226 done\r\n" } }, STILL_HERE),
    act = retr, want = "tls", after = "usable" },
  { name = "a TLS handshake that fails", tls = true, login = true,
    steps = S(GREETING, { { expect = "^AUTH TLS$" }, { send = "234 go ahead\r\n" },
      { send = "this is not TLS\r\n" }, { sleep = 0.5 } }),
    -- the fake reads our ClientHello as command "lines": not CRLF-terminated
    want = "tls", after = "closed", no_credentials = true, fake_errors_ok = true },
  { name = "a certificate for another name", tls = true, login = true,
    steps = S(GREETING, { { expect = "^AUTH TLS$" }, { send = "234 go ahead\r\n" },
      { tls = "wrong" } }),
    want = "tls", after = "closed", no_credentials = true, message = "mismatch" },
  { name = "a certificate no trusted CA signed", tls = true, login = true,
    steps = S(GREETING, { { expect = "^AUTH TLS$" }, { send = "234 go ahead\r\n" },
      { tls = "unknown" } }),
    want = "tls", after = "closed", no_credentials = true, message = "verify failed" },
  { name = "AUTH TLS refused", tls = true, login = true,
    steps = S(GREETING, { { expect = "^AUTH TLS$" }, { send = "502 no TLS here\r\n" } },
      STILL_HERE),
    want = 502, after = "usable", no_credentials = true },
}

local function check_code(row, results)
  local want = row.want
  if want == "ok" then
    assert.is_truthy(results[1], ("expected success, got %s, %s"):format(
      tostring(results[2]), tostring(results[3])))
    return
  end
  assert.is_nil(results[1], "expected a failure, got " .. tostring(results[1]))
  assert.is_string(results[2])
  assert.equal(want, results[3], "message: " .. tostring(results[2]))
  if row.message then assert.matches(row.message, results[2], 1, true) end
end

local function check_after(row, ftp)
  if row.after == "usable" then
    assert.same({ "200 still here", 200 }, { ftp:noop() })
    return
  end
  for _ = 1, 2 do
    local ok, err, code = ftp:noop()
    assert.is_nil(ok)
    assert.matches("^not connected", err)
    assert.equal("closed", code)
  end
  assert.equal("closed", select(3, ftp:pwd()))
end

local function run(row)
  local srv = fake.start(row.steps, { timeout = 20, certs = row.tls and certs.get() or nil })
  finally(function() srv:stop() end)
  local opts = { timeout = 1 }
  for key, value in pairs(row.opts or {}) do opts[key] = value end
  local context = row.setup and row.setup(opts)
  local ftp
  if row.tls then
    opts.tls = { cafile = certs.get().ca }
    ftp = assert(ftplib.FTP_TLS(nil, opts))
  else
    ftp = ftplib.FTP(nil, opts)
  end
  local started = wait.now()
  local results = table.pack(ftp:connect(srv.host, srv.port))
  if row.login and results[1] then
    results = table.pack(ftp:login("anonymous", "secret-pw"))
  end
  if row.act then
    assert.is_truthy(results[1], "connect/login failed: " .. tostring(results[2]))
    results = table.pack(row.act(ftp, srv, context))
  end
  check_code(row, results)
  -- bounded time: the client timeout is 1 s; a failed transfer waits once for the
  -- data and once for ABOR's replies
  assert.is_true(wait.now() - started < 5, "took " .. (wait.now() - started) .. " s")
  check_after(row, ftp)
  ftp:close()
  assert.is_true(srv:wait(5), "the fake server did not finish")
  if not row.fake_errors_ok then assert.same({}, srv:errors()) end
  if row.no_credentials then
    for _, line in ipairs(srv:commands()) do
      assert.not_matches("^USER", line)
      assert.not_matches("secret-pw", line, 1, true)
    end
  end
end

describe("fault matrix", function()
  for _, row in ipairs(MATRIX) do
    if row.login and not row.tls then
      row.steps = S(LOGIN, row.steps)
    end
    local label = row.want == "ok" and "succeeds" or ("fails with " .. tostring(row.want))
    it(("%s: %s, session %s"):format(row.name, label, row.after), function()
      run(row)
    end)
  end

  it("has at least 30 rows", function()
    assert.is_true(#MATRIX >= 30, #MATRIX .. " rows")
  end)
end)
