-- The session stays in step with the server whatever replies come, or is closed; never
-- half in step (lua/ftplib/protocol/resync.lua). From the scripted fake server: replies nobody
-- asked for, injected at every point of a transfer; a greeting that never ends; a TLS
-- download cut without close_notify when no size is known; 257 replies without a path;
-- and what every method answers once the library has closed a session.
local ftplib = require "ftplib"
local fake = require "spec.support.fake"
local scaled = require "spec.support.scale"
local certs = require "spec.support.certs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local wait = require "ftplib.concurrency.wait"

local S = fake.script
local OK = "200 NOOP ok\r\n"
local SERVED_PWD = "/in/step"
-- The end of every script: NOOPs (the library's own syncs) answered, and the spec's
-- PWD, whose own reply shows that the session is in step.
local SERVE_TO_PWD = {
  { serve = { NOOP = OK, PWD = '257 "' .. SERVED_PWD .. '" is the folder\r\n',
    ABOR = "225 no transfer\r\n" }, last = "PWD" },
}

local function session(srv, opts)
  local options = { port = srv.port, user = "anonymous", passwd = "guest", timeout = 3 }
  for key, value in pairs(opts or {}) do options[key] = value end
  return assert(ftplib.FTP(srv.host, options))
end

local function finish(srv, ftp)
  ftp:close()
  assert.is_true(srv:wait(5), "the fake server did not finish")
  assert.same({}, srv:errors())
end

-- Replies nobody asked for -----------------------------------------------------------

-- One of each class, and a 200 that looks like NOOP's answer.
local EXTRAS = {
  ["1xx"] = "150 one more preliminary reply",
  ["2xx"] = "226 one more success",
  ["200"] = "200 looks like NOOP's answer",
  ["4xx"] = "450 one more failure",
  ["5xx"] = "502 one more refusal",
}

local function extras(class, count)
  return (EXTRAS[class] .. "\r\n"):rep(count)
end

-- Where the extra replies come: after EPSV's 229 (before RETR), instead of the 1xx
-- (before it), after the 150, after the data (before the 226), after the 226, and
-- after the 426 and 226 that answer ABOR.
local POINTS = { "after EPSV", "before the 150", "after the 150", "before the 226",
  "after the 226", "after ABOR's replies" }

local function transfer_script(point, more)
  local function at(name) return point == name and more or "" end
  local data_end = {
    { data_send = "hello", may_fail = true },
    { send = at("before the 226") .. "226 done\r\n" .. at("after the 226") },
    { sleep = 0.05 }, -- the replies are there before the data ends
    { data_close = true },
  }
  if point == "after ABOR's replies" then
    data_end = {
      { data_send_size = 200000, may_fail = true },
      { expect = "ABOR$" },
      { send = "426 transfer aborted\r\n226 ABOR done\r\n" .. more },
    }
  end
  return S(fake.login_steps(), {
    { expect = "^TYPE I$", noops = OK }, { send = "200 type set\r\n" },
    { expect = "^EPSV$", noops = OK }, { pasv = true },
    { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" .. at("after EPSV") },
    { expect = "^RETR f$", noops = OK },
    { send = at("before the 150") .. "150 here it comes\r\n" .. at("after the 150") },
    { accept = true },
  }, data_end, SERVE_TO_PWD)
end

-- What the transfer itself answers: the data when the extra replies cannot be taken
-- for its own (a 1xx never is a final reply), else whatever they made of it.
local function expected_outcome(point, class)
  if point == "after ABOR's replies" then return "aborted" end
  if point == "after EPSV" or point == "after the 226" or class == "1xx" then return "ok" end
  if point == "before the 150" and (class == "2xx" or class == "200") then return "proto" end
  if class == "2xx" or class == "200" then return "ok" end
  return tonumber(EXTRAS[class]:sub(1, 3))
end

describe("replies nobody asked for", function()
  for _, point in ipairs(POINTS) do
    for _, class in ipairs({ "1xx", "2xx", "200", "4xx", "5xx" }) do
      for _, count in ipairs({ 1, 3 }) do
        local want = expected_outcome(point, class)
        it(("%d extra %s %s: the transfer is %s, the next command gets its own reply")
          :format(count, class, point, tostring(want)), function()
          local srv = fake.start(transfer_script(point, extras(class, count)), { timeout = 20 })
          finally(function() srv:stop() end)
          local ftp = session(srv)
          local parts = {}
          local started = wait.now()
          local ok, err, code = ftp:retrbinary("RETR f", function(chunk)
            parts[#parts + 1] = chunk
            return point ~= "after ABOR's replies"
          end)
          if want == "ok" then
            assert(ok, ("transfer: %s, %s"):format(tostring(err), tostring(code)))
            assert.equal("hello", table.concat(parts))
          else
            assert.is_nil(ok)
            assert.equal(want, code, err)
          end
          assert.equal(SERVED_PWD, ftp:pwd())
          assert.is_true(wait.now() - started < 6, "took " .. (wait.now() - started) .. " s")
          finish(srv, ftp)
        end)
      end
    end
  end

  it("a reply nobody asked for between two commands is dropped, then NOOP", function()
    local srv = fake.start(S(fake.login_steps(), {
      { expect = "^SITE ONE$" }, { send = "200 one\r\n226 stray\r\n200 stray too\r\n" },
      { sleep = 0.05 },
    }, SERVE_TO_PWD), { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = session(srv)
    assert.equal("200 one", (ftp:sendcmd("SITE ONE")))
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
    assert.same({ "USER anonymous", "PASS guest", "FEAT", "SITE ONE", "NOOP", "PWD" },
      srv:commands())
  end)

  it("the NOOP that brings a session back in step waits one timeout in all", function()
    local trickle = {}
    for i = 1, 8 do
      trickle[#trickle + 1] = { send = "226 stray " .. i .. "\r\n" }
      trickle[#trickle + 1] = { sleep = 0.8 }
    end
    local srv = fake.start(S(fake.login_steps(), {
      { expect = "^SITE ONE$" }, { send = "200 one\r\n226 stray\r\n" }, { sleep = 0.05 },
      { expect = "^NOOP$" },
    }, trickle, { { send = OK } }), { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = session(srv, { timeout = 2 })
    assert.equal("200 one", (ftp:sendcmd("SITE ONE")))
    local started = wait.now()
    local ok, err, code = ftp:pwd()
    assert.is_nil(ok)
    assert.equal("timeout", code, err)
    assert.is_true(wait.now() - started < 4, "took " .. (wait.now() - started) .. " s")
    local _, _, after = ftp:pwd()
    assert.equal("closed", after)
    srv:stop()
  end)

  -- aioftp answers NOOP with 502 and, when ABOR meets a transfer already at its end,
  -- answers both with one 226: the 502 cannot be told from a reply still owed, so PWD
  -- settles it, and is the probe for the rest of the session.
  it("a server without NOOP that answers ABOR and the transfer with one reply", function()
    local function aborted_download(probe_steps)
      return S(fake.epsv_steps(), {
        { expect = "^RETR f$" }, { send = "150 here it comes\r\n" }, { accept = true },
        { data_send_size = 200000, may_fail = true },
        { expect = "ABOR$" }, { send = "226 data transfer done\r\n" },
        probe_steps[1], probe_steps[2], probe_steps[3], probe_steps[4],
        { expect = "^PWD$" }, { send = '257 "' .. SERVED_PWD .. '" is the folder\r\n' },
      })
    end
    local PROBE_ANSWER = { send = '257 "/" the probe\r\n' }
    local srv = fake.start(S(fake.login_steps(), {
      { expect = "^TYPE I$" }, { send = "200 type set\r\n" },
    }, aborted_download({ { expect = "^NOOP$" }, { send = "502 'noop' not implemented\r\n" },
      { expect = "^PWD$" }, PROBE_ANSWER }),
    fake.pipelining_probe("502 'noop' not implemented\r\n"),
    aborted_download({ { expect = "^PWD$" }, PROBE_ANSWER, { sleep = 0 }, { sleep = 0 } })),
    { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = session(srv)
    for round = 1, 2 do
      local started = wait.now()
      local ok, _, code = ftp:retrbinary("RETR f", function() return false end)
      assert.is_nil(ok)
      assert.equal("aborted", code)
      assert.equal(SERVED_PWD, ftp:pwd())
      assert.is_true(wait.now() - started < 2,
        ("round %d took %.1f s"):format(round, wait.now() - started))
    end
    finish(srv, ftp)
  end)

  it("a server that keeps sending replies is given up: closed, never half in step",
    function()
      local storm = {}
      for i = 1, 40 do storm[i] = "226 stray " .. i .. "\r\n" end
      local srv = fake.start(S(fake.login_steps(), {
        { expect = "^SITE ONE$" }, { send = "200 one\r\n" .. table.concat(storm) },
        { sleep = 0.05 },
      }), { timeout = 20 })
      finally(function() srv:stop() end)
      local ftp = session(srv)
      assert.equal("200 one", (ftp:sendcmd("SITE ONE")))
      local path, err, code = ftp:pwd()
      assert.is_nil(path)
      assert.equal("proto", code, err)
      assert.same({ nil, "not connected: " .. err, "closed" }, { ftp:noop() })
      ftp:close()
    end)
end)

-- The greeting -------------------------------------------------------------------------

-- A reply on the control connection while the data connection is quiet: a server
-- may fail a transfer there and keep the data connection open (aioftp's "451 file
-- system error"); the transfer ends with that reply, not after the whole timeout.
local function quiet_data_script(cmd, replies_then)
  return S(fake.login_steps(), {
    { expect = "^TYPE I$", noops = OK }, { send = "200 type set\r\n" },
    { expect = "^EPSV$", noops = OK }, { pasv = true },
    { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" },
    { expect = "^" .. cmd .. " f$", noops = OK }, { send = "150 here it comes\r\n" },
    { accept = true },
  }, replies_then, SERVE_TO_PWD)
end

describe("a reply while the data connection is quiet", function()
  local function failed_at_once(cmd, run)
    local srv = fake.start(quiet_data_script(cmd, {
      { sleep = 0.3 }, { send = "451 file system error\r\n" },
      { expect = "ABOR$", timeout = 15 }, { send = "225 no transfer\r\n" },
      { data_close = true },
    }), { timeout = 40 })
    finally(function() srv:stop() end)
    local ftp = session(srv, { timeout = 20 })
    local started = wait.now()
    local ok, err, code = run(ftp)
    assert.is_nil(ok)
    assert.equal(451, code, err)
    -- Below the session's 20 s timeout either way: the reply ended it, not a wait.
    assert.is_true(wait.now() - started < scaled.seconds(6, 15), "took "
      .. (wait.now() - started) .. " s")
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end

  it("a 451 during a download ends it with that reply, in step", function()
    failed_at_once("RETR", function(ftp)
      return ftp:retrbinary("RETR f", function() return true end)
    end)
  end)

  it("a 451 during an upload the server stopped reading ends it with that reply", function()
    failed_at_once("STOR", function(ftp)
      return ftp:storbinary("STOR f", ("x"):rep(64 * 1024 * 1024))
    end)
  end)

  it("a 226 that comes before the data ends is kept for the end", function()
    local srv = fake.start(quiet_data_script("RETR", {
      { send = "226 all sent\r\n" }, { sleep = 1.5 }, { data_send = "late bytes" },
      { data_close = true },
    }), { timeout = 40 })
    finally(function() srv:stop() end)
    local ftp = session(srv, { timeout = 20 })
    local parts = {}
    assert.equal("226 all sent", (ftp:retrbinary("RETR f", function(chunk)
      parts[#parts + 1] = chunk
    end)))
    assert.equal("late bytes", table.concat(parts))
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end)

  it("endless 1xx replies while the data is quiet close the session", function()
    local srv = fake.start(quiet_data_script("RETR", {
      { send = ("150 still coming\r\n"):rep(40) }, { sleep = 10 },
    }), { timeout = 40 })
    finally(function() srv:stop() end)
    local ftp = session(srv, { timeout = 20 })
    local started = wait.now()
    local ok, err, code = ftp:retrbinary("RETR f", function() return true end)
    assert.is_nil(ok)
    assert.equal("proto", code, err)
    assert.is_true(wait.now() - started < 6, "took " .. (wait.now() - started) .. " s")
    local _, _, after = ftp:pwd()
    assert.equal("closed", after)
  end)
end)

describe("the greeting", function()
  it("is bounded by one timeout, however many 120 replies come before it", function()
    local steps = {}
    for _ = 1, 40 do
      steps[#steps + 1] = { send = "120 ready in a minute\r\n" }
      steps[#steps + 1] = { sleep = 0.25 }
    end
    local srv = fake.start(steps, { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = ftplib.FTP(nil, { timeout = 1 })
    local started = wait.now()
    local ok, err, code = ftp:connect(srv.host, srv.port)
    local took = wait.now() - started
    assert.is_nil(ok)
    assert.equal("timeout", code, err)
    assert.is_true(took < 2, "took " .. took .. " s")
    assert.equal("closed", select(3, ftp:noop()))
  end)
end)

-- FTPS downloads cut without close_notify -------------------------------------------------

describe("a protected download cut without close_notify", function()
  -- opts.command ("RETR f"), opts.type ("I"), opts.data ("hello"): the transfer.
  local function tls_script(reply_150, size_reply, opts)
    opts = opts or {}
    local size_steps = {}
    if size_reply then
      -- download() asks MDTM too, for the .part's origin record.
      size_steps = { { expect = "^SIZE f$" }, { send = size_reply },
        { expect = "^MDTM f$" }, { send = "550 no MDTM here\r\n" } }
    end
    return S(fake.tls_login_steps(), fake.type_steps(opts.type or "I"), size_steps,
      fake.epsv_steps(), {
      { expect = "^" .. (opts.command or "RETR f") .. "$" }, { send = reply_150 },
      { accept = true }, { data_tls = "good" }, { data_send = opts.data or "hello" },
      { data_close = true },
      { send = "226 done\r\n" },
    }, SERVE_TO_PWD)
  end

  local function tls_session(srv)
    return assert(ftplib.FTP_TLS(srv.host, { port = srv.port, user = "anonymous",
      passwd = "guest", timeout = 3, tls = { cafile = certs.get().ca } }))
  end

  it("is \"tls\" when the 150 gave no size", function()
    local srv = fake.start(tls_script("150 here\r\n"), { timeout = 20, certs = certs.get() })
    finally(function() srv:stop() end)
    local ftp = tls_session(srv)
    local ok, err, code = ftp:retrbinary("RETR f", function() end)
    assert.is_nil(ok)
    assert.equal("tls", code, err)
    assert.matches("without TLS close_notify after 5 bytes", err, 1, true)
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end)

  it("is \"tls\" for a file cut before its first byte", function()
    local srv = fake.start(tls_script("150 here\r\n", nil, { data = "" }),
      { timeout = 20, certs = certs.get() })
    finally(function() srv:stop() end)
    local ftp = tls_session(srv)
    local ok, err, code = ftp:retrbinary("RETR f", function() end)
    assert.is_nil(ok)
    assert.equal("tls", code, err)
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end)

  it("is an empty listing when it brought no byte (pyftpdlib ends those so)", function()
    local srv = fake.start(tls_script("150 listing\r\n", nil,
      { command = "NLST d", type = "A", data = "" }), { timeout = 20, certs = certs.get() })
    finally(function() srv:stop() end)
    local ftp = tls_session(srv)
    assert.same({}, ftp:nlst("d"))
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end)

  it("fails download() when SIZE is refused too, leaving no file", function()
    local srv = fake.start(tls_script("150 here\r\n", "550 no SIZE here\r\n"),
      { timeout = 20, certs = certs.get() })
    finally(function() srv:stop() end)
    local dir = proc.tempdir("in-step")
    finally(function() proc.rmtree(dir) end)
    local ftp = tls_session(srv)
    local ok, err, code = ftp:download("f", dir .. "/f")
    assert.is_nil(ok)
    assert.equal("tls", code, err)
    assert.is_false(proc.exists(dir .. "/f"))
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end)
end)

-- 257 without a quoted path ----------------------------------------------------------------

describe("mkd", function()
  for _, reply in ipairs({ "257 Operation successful", "257 ", "257 \"unterminated" }) do
    it(("takes %q (no quoted path) as made, answering the name given"):format(reply),
      function()
        local srv = fake.start(S(fake.login_steps(), {
          { expect = "^MKD new dir$" }, { send = reply .. "\r\n" },
        }, SERVE_TO_PWD), { timeout = 20 })
        finally(function() srv:stop() end)
        local ftp = session(srv)
        assert.same({ "new dir" }, { ftp:mkd("new dir") })
        assert.equal(SERVED_PWD, ftp:pwd())
        finish(srv, ftp)
      end)
  end

  it("still gives the quoted path when there is one, and refusals as errors", function()
    local srv = fake.start(S(fake.login_steps(), {
      { expect = "^MKD a$" }, { send = '257 "/x/a" created\r\n' },
      { expect = "^MKD b$" }, { send = "550 exists\r\n" },
    }, SERVE_TO_PWD), { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = session(srv)
    assert.equal("/x/a", ftp:mkd("a"))
    assert.same({ nil, "550 exists", 550 }, { ftp:mkd("b") })
    assert.equal(SERVED_PWD, ftp:pwd())
    finish(srv, ftp)
  end)

  if servers.available("aioftp") then
    it("against aioftp (\"257 \") answers the name given", function()
      local s = servers.start("aioftp")
      finally(function() s:stop() end)
      local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
        timeout = 10 }))
      assert.equal("made", ftp:mkd("made"))
      assert.equal("directory", require("lfs").attributes(s:path("made"), "mode"))
      ftp:close()
    end)
  end
end)

-- A session the library closed ----------------------------------------------------------

-- Every method, with arguments that would be fine on a live session.
local function method_calls(dir)
  return {
    { "pwd" }, { "cwd", "x" }, { "mkd", "x" }, { "rmd", "x" }, { "delete", "x" },
    { "rename", "a", "b" }, { "size", "x" }, { "mdtm", "x" }, { "feat" }, { "nlst" },
    { "dir", nil, function() end }, { "mlsd" }, { "noop" }, { "quit" }, { "abort" },
    { "retrbinary", "RETR x", function() end }, { "retrlines", "RETR x", function() end },
    { "storbinary", "STOR x", "data" }, { "storlines", "STOR x", "data" },
    { "transfercmd", "RETR x" }, { "ntransfercmd", "RETR x" },
    { "sendcmd", "NOOP" }, { "voidcmd", "NOOP" }, { "putcmd", "NOOP" },
    { "getresp" }, { "voidresp" }, { "login", "u", "p" },
    { "list", "." }, { "download", "x", dir .. "/x" }, { "upload", dir .. "/up", "x" },
    { "mirror", ".", dir .. "/mirror" },
  }
end

describe("a session the library closed", function()
  for _, passive in ipairs({ true, false }) do
    it(("answers nil, \"not connected: ...\", \"closed\" from every method (%s mode)")
      :format(passive and "passive" or "active"), function()
      local dir = proc.tempdir("in-step")
      finally(function() proc.rmtree(dir) end)
      proc.write_file(dir .. "/up", "a file to upload")
      for _, call in ipairs(method_calls(dir)) do
        local srv = fake.start(S(fake.login_steps(), {
          { expect = "^TYPE I$" }, { send = "200 type set\r\n" },
          { expect = "^NOOP$" }, { close = true },
        }), { timeout = 20 })
        local ftp = session(srv, { passive = passive })
        assert(ftp:voidcmd("TYPE I"))
        ftp._type = "I" -- known: a transfer sends no TYPE, and meets the closed session later
        assert.equal("closed", select(3, ftp:noop()))
        local results = table.pack(pcall(ftp[call[1]], ftp, table.unpack(call, 2)))
        assert.is_true(results[1], call[1] .. " raised: " .. tostring(results[2]))
        assert.is_nil(results[2], call[1])
        assert(tostring(results[3]):match("^not connected: "),
          call[1] .. ": " .. tostring(results[3]))
        assert.equal("closed", results[4], call[1])
        ftp:close()
        srv:stop()
      end
    end)
  end

  it("but a session the script closed, or never opened, raises", function()
    local srv = fake.start(S(fake.login_steps(), SERVE_TO_PWD), { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = session(srv)
    assert.equal(SERVED_PWD, ftp:pwd())
    ftp:close()
    for _, object in ipairs({ ftp, ftplib.FTP() }) do
      object._type = "I"
      assert.has_error(function() object:pwd() end)
      assert.has_error(function() object:retrbinary("RETR x", function() end) end)
      assert.has_error(function() object:transfercmd("RETR x") end)
      assert.has_error(function() object:abort() end)
    end
  end)
end)
