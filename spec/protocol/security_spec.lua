-- Security: what a script or a hostile server can never make the library do, from the
-- scripted fake server (spec/support/fake.lua): a command with CR, LF or NUL, whichever
-- method or name encoding builds it; PASS or ACCT arguments in debug output; a TLS
-- certificate taken unverified; USER or PASS in clear when AUTH fails.
local ftplib = require "ftplib"
local fake = require "spec.support.fake"
local certs = require "spec.support.certs"

local S = fake.script
local GREETING = { { send = "220 fake ready\r\n" } }
local STILL_HERE = fake.answer_steps("^NOOP$", "200 still here")

describe("security", function()
  local function finished(srv)
    assert.is_true(srv:wait(5), "the fake server did not finish")
    return srv:commands()
  end

  it("never sends a command with CR, LF or NUL, whichever method builds it", function()
    local srv = fake.start(S(GREETING, STILL_HERE), { timeout = 20 })
    finally(function() srv:stop() end)
    local ftp = assert(ftplib.FTP(srv.host, { port = srv.port, timeout = 2 }))
    local bad = { "a\r\nDELE b", "a\nDELE b", "a\rDELE b", "a\0b" }
    local calls = {
      function(x) return ftp:sendcmd("NOOP " .. x) end,
      function(x) return ftp:voidcmd(x) end,
      function(x) return ftp:putcmd(x) end,
      function(x) return ftp:cwd(x) end,
      function(x) return ftp:mkd(x) end,
      function(x) return ftp:rmd(x) end,
      function(x) return ftp:delete(x) end,
      function(x) return ftp:rename(x, "b") end,
      function(x) return ftp:size(x) end,
      function(x) return ftp:mdtm(x) end,
      function(x) return ftp:nlst(x) end,
      function(x) return ftp:dir(x, print) end,
      function(x) return ftp:mlsd(x) end,
      function(x) return ftp:retrbinary("RETR " .. x, print) end,
      function(x) return ftp:storbinary("STOR " .. x, "data") end,
      function(x) return ftp:login(x, "pw") end,
      function(x) return ftp:login("bob", x) end, -- refused before USER goes out
      function(x) return ftp:login("bob", "pw", x) end,
      function(x) return ftp:transfercmd("RETR " .. x) end, -- before EPSV goes out
      function(x) return ftp:ntransfercmd("RETR f", x) end, -- the REST argument
      function(x) return ftp:_send(x) end, -- the C core refuses too, whatever Lua let by
    }
    for i, call in ipairs(calls) do
      for _, text in ipairs(bad) do
        local ok = pcall(call, text)
        assert.is_false(ok, ("call %d with %q did not raise"):format(i, text))
      end
    end
    assert.same({ "200 still here", 200 }, { ftp:noop() })
    ftp:close()
    assert.same({ "NOOP" }, finished(srv))
  end)

  it("never sends NUL, CR or LF even when the name encoding would make them", function()
    local srv = fake.start(S(GREETING, STILL_HERE), { timeout = 20 })
    finally(function() srv:stop() end)
    local made, ftp = pcall(ftplib.FTP, srv.host, { port = srv.port, timeout = 2,
      encoding = "UTF-16LE" })
    if made and ftp then
      -- UTF-16 gives a NUL beside every ASCII character of "caf\u{e9}": refused as a
      -- name the encoding cannot carry (README: "proto"), nothing sent
      local ok, err, code = ftp:cwd("caf\u{e9}")
      assert.same({ nil, "proto" }, { ok, code }, err)
      assert.same({ "200 still here", 200 }, { ftp:noop() })
      ftp:close()
    end
    for _, line in ipairs(finished(srv)) do
      assert.not_matches("[%z\r\n]", line)
    end
  end)

  it("never shows PASS or ACCT arguments in debug output, at any level", function()
    local srv = fake.start(S(GREETING, {
      { expect = "^USER bob$" }, { send = "331 password\r\n" },
      { expect = "^PASS pw%-secret$" }, { send = "332 account\r\n" },
      { expect = "^ACCT acct%-secret$" }, { send = "230 in\r\n" },
    }, fake.feat_steps(), {
      { expect = "^pass pw%-secret$" }, { send = "503 again?\r\n" },
      { expect = "^  AcCt acct%-secret$" }, { send = "202 fine\r\n" },
    }), { timeout = 20 })
    finally(function() srv:stop() end)
    local lines = {}
    local ftp = assert(ftplib.FTP(srv.host, { port = srv.port, timeout = 2, debuglevel = 3,
      debugfunc = function(line) lines[#lines + 1] = line end }))
    assert(ftp:login("bob", "pw-secret", "acct-secret"))
    ftp:sendcmd("pass pw-secret")
    ftp:sendcmd("  AcCt acct-secret")
    lines[#lines + 1] = tostring(ftp)
    ftp:close()
    finished(srv)
    assert.same({}, srv:errors())
    local all = table.concat(lines, "\n")
    assert.not_matches("secret", all, 1, true)
    assert.matches("*cmd* 'PASS ****'", all, 1, true)
    assert.matches("*cmd* 'ACCT ****'", all, 1, true)
    assert.matches("*cmd* 'USER bob'", all, 1, true)
  end)

  it("verifies TLS certificates by default (no tls options: the system's CAs)", function()
    local srv = fake.start(S(GREETING, { { expect = "^AUTH TLS$" },
      { send = "234 go ahead\r\n" }, { tls = "good" } }), { timeout = 20, certs = certs.get() })
    finally(function() srv:stop() end)
    local ftp, err, code = ftplib.FTP_TLS(srv.host, { port = srv.port, timeout = 2,
      user = "bob", passwd = "pw-secret" })
    assert.is_nil(ftp)
    assert.equal("tls", code)
    assert.matches("certificate verify failed", err, 1, true)
    assert.same({ "AUTH TLS" }, finished(srv))
  end)

  it("never sends USER or PASS in clear when AUTH fails, however often login is called",
    function()
      local srv = fake.start(S(GREETING,
        { { expect = "^AUTH TLS$" }, { send = "502 no TLS\r\n" } },
        { { expect = "^AUTH TLS$" }, { send = "431 not now\r\n" } }, STILL_HERE),
        { timeout = 20 })
      finally(function() srv:stop() end)
      local ftp = assert(ftplib.FTP_TLS(nil, { timeout = 2, tls = { cafile = certs.get().ca } }))
      assert(ftp:connect(srv.host, srv.port))
      assert.same({ nil, "502 no TLS", 502 }, { ftp:login("bob", "pw-secret") })
      assert.same({ nil, "431 not now", 431 }, { ftp:login("bob", "pw-secret") })
      assert.same({ "200 still here", 200 }, { ftp:noop() })
      ftp:close()
      assert.same({ "AUTH TLS", "AUTH TLS", "NOOP" }, finished(srv))
    end)
end)
