-- Pipelining (lua/ftplib/protocol/pipelining.lua): RETR and LIST right behind EPSV,
-- once EPSV worked in the session and two NOOPs sent together were both answered.
-- Against every server of the harness, plain and FTPS, a session comes to pipeline and
-- every file comes whole; the scripted fake server plays the servers that lose a
-- pipelined command, answer it late, or refuse the EPSV in front of it.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local wait = require "ftplib.concurrency.wait"

local function variants()
  local list = {}
  local kinds = servers.kinds()
  for _, kind in ipairs(servers.odd_kinds()) do kinds[#kinds + 1] = kind end
  for _, kind in ipairs(kinds) do list[#list + 1] = { name = kind .. " plain", kind = kind } end
  for _, variant in ipairs(servers.tls_kinds()) do list[#list + 1] = variant end
  for _, variant in ipairs(servers.odd_tls_kinds()) do list[#list + 1] = variant end
  return list
end

-- The session's commands and replies in the order they went out and came in.
local function traced(opts)
  local trace = {}
  opts.debuglevel = 1
  opts.debugfunc = function(line)
    local kind, text = line:match("^%*(%a+)%* '(.-)'")
    if kind then trace[#trace + 1] = kind .. " " .. text end
  end
  return opts, trace
end

-- Whether `command` went out before EPSV's 229 came, for each time it went out.
local function sent_before_229(trace, command)
  local answers, epsv_pending = {}, false
  for _, entry in ipairs(trace) do
    if entry == "cmd EPSV" then
      epsv_pending = true
    elseif entry:match("^resp 229") then
      epsv_pending = false
    elseif entry:sub(1, #command + 4) == "cmd " .. command then
      answers[#answers + 1] = epsv_pending
    end
  end
  return answers
end

local function session(s, extra)
  local opts, trace = traced({ port = s.port, user = s.user, passwd = s.passwd, timeout = 10 })
  for key, value in pairs(extra or {}) do opts[key] = value end
  if not s.tls then
    return assert(ftplib.FTP(s.host, opts)), trace
  end
  opts.tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" }
  return assert(ftplib.FTP_TLS(s.host, opts)), trace
end

local function download(ftp, name)
  local parts = {}
  local ok, err, code = ftp:retrbinary("RETR " .. name, function(chunk)
    parts[#parts + 1] = chunk
  end)
  if not ok then return nil, err, code end
  return table.concat(parts)
end

describe("pipelining against real servers", function()
  for _, variant in ipairs(variants()) do
    it(variant.name .. ": RETR and LIST follow EPSV at once, and every file comes whole",
      function()
        local s = servers.start(variant.kind, { tls = variant.tls })
        finally(function() s:stop() end)
        local contents = {}
        for i = 1, 6 do
          contents[i] = ("file %d "):format(i):rep(200 * i)
          s:write(("p/f%d"):format(i), contents[i])
        end
        local ftp, trace = session(s)
        for i = 1, 6 do
          assert.equal(contents[i], assert(download(ftp, ("p/f%d"):format(i))))
        end
        local lines = {}
        assert(ftp:dir("p", function(line) lines[#lines + 1] = line end))
        assert.is_true(#lines >= 6)
        assert.equal("/", (ftp:pwd()):sub(1, 1))
        ftp:quit()
        if ftp._epsv_refused then
          -- Twisted has no EPSV: PASV, whose reply the command must wait for.
          assert.is_nil(ftp._pipelining)
          return
        end
        assert.is_true(ftp._pipelining)
        -- The first RETR waits for EPSV (nothing is known yet), the rest do not.
        assert.are.same({ false, true, true, true, true, true }, sent_before_229(trace, "RETR"))
        assert.are.same({ true }, sent_before_229(trace, "LIST"))
      end)
  end

  it("pipelining = false: EPSV's reply comes before every RETR, and no probe", function()
    local s = servers.start(servers.kinds()[1])
    finally(function() s:stop() end)
    s:write("a", "aaa")
    local ftp, trace = session(s, { pipelining = false })
    for _ = 1, 3 do assert.equal("aaa", assert(download(ftp, "a"))) end
    ftp:quit()
    assert.are.same({ false, false, false }, sent_before_229(trace, "RETR"))
    for _, entry in ipairs(trace) do assert.not_equal("cmd NOOP", entry) end
  end)

  it("a resumed download (REST) waits for EPSV's reply", function()
    local s = servers.start(servers.kinds()[1])
    finally(function() s:stop() end)
    s:write("a", "0123456789")
    local ftp, trace = session(s)
    assert.equal("0123456789", assert(download(ftp, "a")))
    assert.equal("0123456789", assert(download(ftp, "a")))
    local data = assert(ftp:transfercmd("RETR a", 4))
    local parts = {}
    repeat
      local chunk = assert(data:recv(100))
      parts[#parts + 1] = chunk
    until chunk == ""
    data:close()
    assert(ftp:voidresp())
    ftp:quit()
    assert.equal("456789", table.concat(parts))
    assert.are.same({ false, true, false }, sent_before_229(trace, "RETR"))
  end)
end)

describe("pipelining against the scripted server", function()
  local function retr(name, payload)
    return {
      { expect = "^EPSV$" }, { pasv = true },
      { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" },
      { expect = "^RETR " .. name .. "$" }, { send = "150 here it comes\r\n" },
      { accept = true }, { data_send = payload }, { data_close = true },
      { send = "226 done\r\n" },
    }
  end
  local TYPE_I = { { expect = "^TYPE I$" }, { send = "200 type set\r\n" } }
  local QUIT = { { expect = "^QUIT$" }, { send = "221 bye\r\n" } }

  local function run(script, extra)
    local srv = fake.start(script, { timeout = 20 })
    finally(function() srv:stop() end)
    local opts, trace = traced({ port = srv.port, user = "anonymous", passwd = "guest",
      timeout = 5 })
    for key, value in pairs(extra or {}) do opts[key] = value end
    return srv, assert(ftplib.FTP(srv.host, opts)), trace
  end

  it("a server that loses the second NOOP: no pipelining, in step, within seconds", function()
    local srv, ftp, trace = run(fake.script(fake.login_steps(), TYPE_I, retr("a", "one"),
      { { expect = "^NOOP$" }, { expect = "^NOOP$" }, { send = "200 ok\r\n" },
        { expect = "^PWD$" }, { send = '257 "/" here\r\n' } },
      retr("b", "two"), retr("c", "three"), QUIT))
    assert.equal("one", assert(download(ftp, "a")))
    local started = wait.now()
    assert.equal("two", assert(download(ftp, "b")))
    assert.is_true(wait.now() - started < 3, "took " .. (wait.now() - started) .. " s")
    assert.equal("three", assert(download(ftp, "c")))
    assert.is_false(ftp._pipelining)
    ftp:quit()
    assert.is_true(srv:wait(5))
    assert.are.same({}, srv:errors())
    assert.are.same({ false, false, false }, sent_before_229(trace, "RETR"))
  end)

  it("a server that answers the second NOOP late: no pipelining, the late 200 taken",
    function()
      local srv, ftp, trace = run(fake.script(fake.login_steps(), TYPE_I, retr("a", "one"),
        { { expect = "^NOOP$" }, { expect = "^NOOP$" }, { send = "200 ok\r\n" },
          { sleep = 1.5 }, { send = "200 late\r\n" },
          { expect = "^PWD$" }, { send = '257 "/" here\r\n' } },
        retr("b", "two"), { { expect = "^PWD$" }, { send = '257 "/x" is it\r\n' } }, QUIT))
      assert.equal("one", assert(download(ftp, "a")))
      assert.equal("two", assert(download(ftp, "b")))
      assert.equal("/x", assert(ftp:pwd()))
      assert.is_false(ftp._pipelining)
      ftp:quit()
      assert.is_true(srv:wait(5))
      assert.are.same({}, srv:errors())
      assert.are.same({ false, false }, sent_before_229(trace, "RETR"))
    end)

  it("EPSV refused in front of a pipelined RETR: its reply is dropped, PASV for good",
    function()
      local srv, ftp = run(fake.script(fake.login_steps(), TYPE_I, retr("a", "one"),
        fake.pipelining_probe(), retr("b", "two"),
        { { expect = "^EPSV$" }, { send = "500 EPSV? not any more\r\n" },
          { expect = "^RETR c$" }, { send = "503 Use PORT or PASV first\r\n" },
          { expect = "^NOOP$" }, { send = "200 ok\r\n" },
          { expect = "^PASV$" }, { pasv = true },
          { send = "227 Entering Passive Mode (%PASV%)\r\n" },
          { expect = "^RETR c$" }, { send = "150 here\r\n" }, { accept = true },
          { data_send = "three" }, { data_close = true }, { send = "226 done\r\n" },
          { expect = "^PASV$" }, { pasv = true },
          { send = "227 Entering Passive Mode (%PASV%)\r\n" },
          { expect = "^RETR d$" }, { send = "150 here\r\n" }, { accept = true },
          { data_send = "four" }, { data_close = true }, { send = "226 done\r\n" } },
        QUIT))
      assert.equal("one", assert(download(ftp, "a")))
      assert.equal("two", assert(download(ftp, "b")))
      assert.equal("three", assert(download(ftp, "c")))
      assert.equal("four", assert(download(ftp, "d")))
      ftp:quit()
      assert.is_true(srv:wait(5))
      assert.are.same({}, srv:errors())
    end)

  it("EPSV failing (425) in front of a pipelined RETR: the error, and the session in step",
    function()
      local srv, ftp = run(fake.script(fake.login_steps(), TYPE_I, retr("a", "one"),
        fake.pipelining_probe(),
        { { expect = "^EPSV$" }, { send = "425 no passive port free\r\n" },
          { expect = "^RETR b$" }, { send = "425 Use PORT or PASV first\r\n" },
          { expect = "^NOOP$" }, { send = "200 ok\r\n" },
          { expect = "^PWD$" }, { send = '257 "/y" it is\r\n' } },
        retr("c", "three"), QUIT))
      assert.equal("one", assert(download(ftp, "a")))
      local ok, err, code = download(ftp, "b")
      assert.is_nil(ok)
      assert.equal(425, code, err)
      assert.equal("/y", assert(ftp:pwd()))
      assert.equal("three", assert(download(ftp, "c")))
      ftp:quit()
      assert.is_true(srv:wait(5))
      assert.are.same({}, srv:errors())
    end)

  it("a pipelined RETR to a port nobody listens on fails within the timeout", function()
    local srv, ftp = run(fake.script(fake.login_steps(), TYPE_I, retr("a", "one"),
      fake.pipelining_probe(),
      { { expect = "^EPSV$" }, { send = "229 Entering Extended Passive Mode (|||1|)\r\n" },
        { expect = "^RETR b$" }, { send = "425 no data connection came\r\n" },
        { expect = "^NOOP$" }, { send = "200 ok\r\n" } },
      retr("c", "three"), QUIT))
    assert.equal("one", assert(download(ftp, "a")))
    local started = wait.now()
    local ok = download(ftp, "b")
    assert.is_nil(ok)
    assert.is_true(wait.now() - started < 5, "took " .. (wait.now() - started) .. " s")
    assert.equal("three", assert(download(ftp, "c")))
    ftp:quit()
    assert.is_true(srv:wait(5))
    assert.are.same({}, srv:errors())
  end)

  -- Two NOOPs came through, the RETR behind EPSV did not (a firewall's FTP helper that
  -- acts on EPSV, say): the transfer times out once, and the object never pipelines
  -- again, not after a reconnect either (a retry would lose the same way).
  it("a RETR lost behind EPSV: one timeout, then no pipelining, reconnected too", function()
    local srv, ftp = run(fake.script(fake.login_steps(), TYPE_I, retr("a", "one"),
      fake.pipelining_probe(),
      { { expect = "^EPSV$" }, { pasv = true },
        { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" },
        { expect = "^RETR b$" }, { sleep = 4 } }), { timeout = 1 })
    assert.equal("one", assert(download(ftp, "a")))
    local ok, _, code = download(ftp, "b")
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.is_true(ftp._pipelining_failed)
    srv:stop()
    local again = fake.start(fake.script(fake.login_steps(), TYPE_I, retr("b", "two"),
      retr("c", "three"), QUIT), { timeout = 20 })
    finally(function() again:stop() end)
    assert(ftp:connect(again.host, again.port))
    assert(ftp:login("anonymous", "guest"))
    assert.equal("two", assert(download(ftp, "b")))
    assert.equal("three", assert(download(ftp, "c")))
    ftp:quit()
    assert.is_true(again:wait(5))
    assert.are.same({}, again:errors())
  end)

  it("a server known to lose pipelined commands is never probed", function()
    local login = fake.login_steps()
    login[1] = { send = "220 Microsoft FTP Service\r\n" }
    local srv, ftp, trace = run(fake.script(login, TYPE_I, retr("a", "one"), retr("b", "two"),
      retr("c", "three"), QUIT))
    for _, name in ipairs({ "a", "b", "c" }) do assert(download(ftp, name)) end
    ftp:quit()
    assert.is_true(srv:wait(5))
    assert.are.same({}, srv:errors())
    assert.are.same({ false, false, false }, sent_before_229(trace, "RETR"))
  end)
end)
