-- Replies no real server sends, from the scripted fake server: multi-line
-- edge cases, error codes, malformed and over-long replies, silence and
-- connections that drop.
local ftplib = require "ftplib"
local fake = require "spec.support.fake"
local wait = require "ftplib.concurrency.wait"

local GREETING = { send = "220 fake ready\r\n" }

-- Starts a fake server with steps and connects to it.
local function session(steps, opts)
  local srv = fake.start(steps, { timeout = 20 })
  opts = opts or {}
  opts.port = srv.port
  opts.timeout = opts.timeout or 5
  local ftp, err, code = ftplib.FTP(srv.host, opts)
  return ftp, srv, err, code
end

-- One command and its scripted reply after a plain greeting.
local function reply_to(cmd_pattern, reply, opts)
  local ftp, srv = session({ GREETING, { expect = cmd_pattern }, { send = reply } }, opts)
  assert.truthy(ftp)
  return ftp, srv
end

local function finish(ftp, srv)
  ftp:close()
  srv:wait()
  assert.same({}, srv:errors())
  srv:stop()
end

describe("multi-line replies", function()
  it("joins the lines of a reply with \\n, including indented code-like lines", function()
    local ftp, srv = reply_to("^NOOP$",
      "200-first line\r\n200-second line\r\n 200 indented, not the end\r\n200 last\r\n")
    local text, code = ftp:sendcmd("NOOP")
    assert.equal("200-first line\n200-second line\n 200 indented, not the end\n200 last", text)
    assert.equal(200, code)
    finish(ftp, srv)
  end)

  it("keeps continuation lines that begin with digits", function()
    local ftp, srv = reply_to("^STAT$",
      "211-status\r\n123-looks like a code\r\n2026 a year\r\n12 short\r\n211 end\r\n")
    local text, code = ftp:sendcmd("STAT")
    assert.equal(211, code)
    assert.equal("211-status\n123-looks like a code\n2026 a year\n12 short\n211 end", text)
    finish(ftp, srv)
  end)

  it("ends at a last line whose code differs from the first, with the last code", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^NOOP$" }, { send = "200-start\r\n more\r\n250 different end\r\n" },
      { expect = "^PWD$" }, { send = '257 "/" is here\r\n' },
    })
    local text, code = ftp:sendcmd("NOOP")
    assert.equal(250, code)
    assert.equal("200-start\n more\n250 different end", text)
    assert.equal("/", ftp:pwd()) -- the next reply is read in step
    finish(ftp, srv)
  end)

  it("accepts bare LF line ends and a code with no text", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^NOOP$" }, { send = "200-a\n200 b\n" },
      { expect = "^NOOP$" }, { send = "200\r\n" },
    })
    assert.equal("200-a\n200 b", (ftp:sendcmd("NOOP")))
    assert.equal("200", (ftp:sendcmd("NOOP")))
    finish(ftp, srv)
  end)

  it("reads two replies that arrive in one packet one at a time", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^NOOP$" }, { send = "200 one\r\n200 two\r\n" },
    })
    assert.equal("200 one", (ftp:sendcmd("NOOP")))
    assert.equal("200 two", (ftp:getresp()))
    finish(ftp, srv)
  end)
end)

describe("greetings", function()
  it("waits through 120 for the 220", function()
    local ftp, srv = session({
      { send = "120 ready in 1 minute\r\n" }, { sleep = 0.2 }, { send = "220 now ready\r\n" },
    })
    assert.truthy(ftp)
    assert.equal("220 now ready", ftp:getwelcome())
    finish(ftp, srv)
  end)

  it("reports 421 at the greeting as an error with code 421", function()
    local ftp, srv, err, code = session({ { send = "421 too many users\r\n" } })
    assert.is_nil(ftp)
    assert.equal("421 too many users", err)
    assert.equal(421, code)
    srv:stop()
  end)

  it("reports a garbage greeting as 'proto'", function()
    local ftp, srv, err, code = session({ { send = "SSH-2.0-OpenSSH_9.2\r\n" } })
    assert.is_nil(ftp)
    assert.equal("proto", code)
    assert.matches("malformed", err)
    srv:stop()
  end)

  it("reports a binary greeting as 'proto'", function()
    local ftp, srv, _, code = session({ { send = "\0\1\2\255\254\r\n" } })
    assert.is_nil(ftp)
    assert.equal("proto", code)
    srv:stop()
  end)
end)

describe("error replies", function()
  it("gives 4xx and 5xx replies as nil, text, code and stays usable", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^CWD busy$" }, { send = "450 directory busy\r\n" },
      { expect = "^CWD gone$" }, { send = "550 no such directory\r\n" },
      { expect = "^NOOP$" }, { send = "200 ok\r\n" },
    })
    assert.same({ nil, "450 directory busy", 450 }, { ftp:cwd("busy") })
    assert.same({ nil, "550 no such directory", 550 }, { ftp:cwd("gone") })
    assert.equal("200 ok", (ftp:noop()))
    finish(ftp, srv)
  end)

  it("gives a 3xx reply to voidcmd as an error and to sendcmd as an answer", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^REST 5$" }, { send = "350 restarting\r\n" },
      { expect = "^REST 6$" }, { send = "350 restarting\r\n" },
    })
    assert.same({ nil, "350 restarting", 350 }, { ftp:voidcmd("REST 5") })
    assert.same({ "350 restarting", 350 }, { ftp:sendcmd("REST 6") })
    finish(ftp, srv)
  end)

  it("sends ACCT when the server asks for it", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^USER bob$" }, { send = "331 password\r\n" },
      { expect = "^PASS pw$" }, { send = "332 account please\r\n" },
      { expect = "^ACCT acc$" }, { send = "230 in\r\n" },
    })
    assert.equal("230 in", (ftp:login("bob", "pw", "acc")))
    finish(ftp, srv)
  end)

  it("does not send RNTO when RNFR is not answered 350", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^RNFR a$" }, { send = "250 odd\r\n" },
      { expect = "^NOOP$" }, { send = "200 ok\r\n" },
    })
    assert.same({ nil, "250 odd", 250 }, { ftp:rename("a", "b") })
    assert.truthy(ftp:noop())
    finish(ftp, srv)
  end)
end)

describe("reply texts", function()
  it("parses 257 paths with doubled quotes", function()
    local ftp, srv = session({
      GREETING,
      { expect = '^MKD a "b" c$' }, { send = '257 "/a ""b"" c" created\r\n' },
      { expect = "^PWD$" }, { send = '257 "/with ""quotes""" is current\r\n' },
    })
    assert.equal('/a "b" c', ftp:mkd('a "b" c'))
    assert.equal('/with "quotes"', ftp:pwd())
    finish(ftp, srv)
  end)

  it("reports a 257 without a quoted path as 'proto'", function()
    local ftp, srv = reply_to("^PWD$", "257 somewhere\r\n")
    local path, err, code = ftp:pwd()
    assert.is_nil(path)
    assert.equal("proto", code)
    assert.matches("257 somewhere", err, 1, true)
    finish(ftp, srv)
  end)

  it("reads MDTM as UTC, with or without fractions", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^MDTM a$" }, { send = "213 20240102030405\r\n" },
      { expect = "^MDTM b$" }, { send = "213 20240102030405.123\r\n" },
      { expect = "^MDTM c$" }, { send = "213 yesterday\r\n" },
    })
    assert.equal(1704164645, ftp:mdtm("a"))
    assert.equal(1704164645, ftp:mdtm("b"))
    assert.same({ nil, "malformed 213 reply: 213 yesterday", "proto" }, { ftp:mdtm("c") })
    finish(ftp, srv)
  end)

  it("sends TYPE I once before SIZE, and reports a malformed size as 'proto'", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^TYPE I$" }, { send = "200 binary\r\n" },
      { expect = "^SIZE a$" }, { send = "213 1099511627776\r\n" },
      { expect = "^SIZE b$" }, { send = "213 big\r\n" },
    })
    assert.equal(1099511627776, ftp:size("a"))
    local _, _, code = ftp:size("b")
    assert.equal("proto", code)
    finish(ftp, srv)
  end)

  it("gives an empty feature table when FEAT is not understood", function()
    local ftp, srv = reply_to("^FEAT$", "500 unknown command\r\n")
    assert.same({}, ftp:feat())
    finish(ftp, srv)
  end)

  it("parses FEAT lines into names and parameters", function()
    local ftp, srv = reply_to("^FEAT$",
      "211-Features:\r\n MDTM\r\n MLST type*;size*;modify*;\r\n REST STREAM\r\n utf8\r\n"
        .. "211 End\r\n")
    assert.same({ MDTM = true, MLST = "type*;size*;modify*;", REST = "STREAM", UTF8 = true },
      ftp:feat())
    finish(ftp, srv)
  end)

  it("falls back from CDUP to CWD .. when CDUP is unknown", function()
    local ftp, srv = session({
      GREETING,
      { expect = "^CDUP$" }, { send = "500 CDUP not understood\r\n" },
      { expect = "^CWD %.%.$" }, { send = "250 ok\r\n" },
    })
    assert.equal("250 ok", (ftp:cwd("..")))
    finish(ftp, srv)
  end)
end)

describe("broken replies and connections", function()
  it("reports a reply line over maxline as 'limit' and closes the connection", function()
    local ftp, srv = reply_to("^NOOP$", "200 " .. string.rep("x", 300) .. "\r\n",
      { maxline = 100 })
    local ok, err, code = ftp:noop()
    assert.is_nil(ok)
    assert.equal("limit", code)
    assert.matches("limit", err)
    local again, _, again_code = ftp:noop()
    assert.is_nil(again)
    assert.equal("closed", again_code)
    srv:stop()
  end)

  it("reports a line over maxline that never ends as 'limit'", function()
    local ftp, srv = reply_to("^NOOP$", "200 " .. string.rep("y", 5000), { maxline = 1000 })
    assert.same("limit", select(3, ftp:noop()))
    srv:stop()
  end)

  it("reports a multi-line reply that never ends as 'limit'", function()
    local lines = { "211-start\r\n" }
    for i = 1, 400 do
      lines[#lines + 1] = " line " .. i .. "\r\n"
    end
    local ftp, srv = reply_to("^STAT$", table.concat(lines), { maxline = 100, maxreply = 2000 })
    assert.same("limit", select(3, ftp:sendcmd("STAT")))
    srv:stop()
  end)

  it("times out, within the timeout plus a second, when the server stops answering", function()
    local ftp, srv = session({ GREETING, { expect = "^NOOP$" }, { sleep = 10 } },
      { timeout = 1 })
    local started = wait.now()
    local ok, err, code = ftp:noop()
    local elapsed = wait.now() - started
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.matches("timed out", err)
    assert.is_true(elapsed >= 0.9 and elapsed < 2, "took " .. elapsed .. " s")
    srv:stop()
  end)

  it("times out in the middle of a reply", function()
    local ftp, srv = session({ GREETING, { expect = "^NOOP$" }, { send = "200-part" },
      { sleep = 10 } }, { timeout = 1 })
    assert.equal("timeout", select(3, ftp:noop()))
    srv:stop()
  end)

  it("reports a connection closed in the middle of a reply as 'closed'", function()
    local ftp, srv = session({ GREETING, { expect = "^NOOP$" }, { send = "200-part\r\n more" },
      { close = true } })
    local ok, err, code = ftp:noop()
    assert.is_nil(ok)
    assert.equal("closed", code)
    assert.matches("closed", err)
    srv:stop()
  end)

  it("reports a connection dropped between commands as 'closed', then stays closed", function()
    local ftp, srv = session({ GREETING, { expect = "^NOOP$" }, { send = "200 ok\r\n" },
      { close = true } })
    assert.truthy(ftp:noop())
    srv:wait()
    assert.equal("closed", select(3, ftp:pwd()))
    assert.equal("closed", select(3, ftp:pwd()))
    srv:stop()
  end)

  it("connects again on the same object after a drop", function()
    local ftp, srv = session({ GREETING, { close = true } })
    srv:wait()
    assert.equal("closed", select(3, ftp:noop()))
    local srv2 = fake.start({ { send = "220 second\r\n" }, { expect = "^NOOP$" },
      { send = "200 back\r\n" } })
    assert.equal("220 second", (ftp:connect(srv2.host, srv2.port)))
    assert.equal("200 back", (ftp:noop()))
    finish(ftp, srv2)
    srv:stop()
  end)
end)

describe("a command the socket cannot take at once", function()
  it("is sent once, the rest flushed, not queued again", function()
    local long = "NOOP " .. string.rep("x", 4 * 1024 * 1024)
    local ftp, srv = session({ GREETING, { sleep = 0.5 }, { expect = "^NOOP x+$" },
      { send = "200 ok\r\n" }, { expect = "^PWD$" }, { send = '257 "/"\r\n' } })
    assert.equal("200 ok", (ftp:sendcmd(long)))
    assert.equal("/", ftp:pwd())
    finish(ftp, srv)
    assert.equal(2, #srv:commands())
  end)
end)

describe("commands with CR, LF or NUL", function()
  it("are refused before anything is sent", function()
    local ftp, srv = session({ GREETING, { expect = "^NOOP$" }, { send = "200 ok\r\n" } })
    for _, bad in ipairs({ "NOOP\r\nDELE x", "NOOP\nDELE x", "NOOP\rDELE x", "NOOP\0DELE x" }) do
      local ok, err = pcall(ftp.sendcmd, ftp, bad)
      assert.is_false(ok)
      assert.matches("CR, LF or NUL", err)
    end
    assert.has_error(function() ftp:cwd("a\r\nDELE b") end)
    assert.has_error(function() ftp:login("user\r\nDELE b", "x") end)
    assert.has_error(function() ftp:delete("x\0y") end)
    assert.equal("200 ok", (ftp:noop()))
    ftp:close()
    srv:wait()
    assert.same({ "NOOP" }, srv:commands())
    srv:stop()
  end)
end)
