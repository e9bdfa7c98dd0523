-- timezone = "auto" against a server that lies or refuses: no guess is ever made (an
-- MDTM refused, malformed, or more than 14 hours from LIST gives no offset, and says
-- why), a quarter-hour zone is found, MLSD and EPLF times are left alone, and a bad
-- option raises.
local ftplib = require "ftplib"
local hostile = require "spec.support.hostile"

-- A time of day yesterday, on a whole minute (true UTC), and its LIST form in a zone
-- `offset` seconds east of UTC.
local TRUE_UTC = (os.time() - 86400) // 60 * 60
local function ls_time(offset)
  return os.date("!%b %e %H:%M", TRUE_UTC + offset)
end
local function mdtm(t)
  return os.date("!%Y%m%d%H%M%S", t)
end

local function scenario(offset, mdtm_text, extra)
  local s = {
    lists = { [""] = { lines = {
      hostile.ls("-", "old.txt", 3, "Jan 16  2020"), -- a day only: no use for the offset
      hostile.ls("-", "a.txt", 5, ls_time(offset)),
    } } },
    files = { ["a.txt"] = { data = "hello", mdtm = mdtm_text } },
  }
  for key, value in pairs(extra or {}) do s[key] = value end
  return s
end

-- A hostile server stopped when the test ends.
local function started(spec)
  local srv = hostile.start(spec)
  finally(function() srv:stop() end)
  return srv
end

local function listed(ftp, name, path)
  for _, entry in ipairs(assert(ftp:list(path))) do
    if entry.name == name then return entry end
  end
end

local function mdtm_count(srv)
  local n = 0
  for _, line in ipairs(srv:commands()) do
    if line:find("^MDTM") then n = n + 1 end
  end
  return n
end

describe("timezone = \"auto\" against a hostile server", function()
  it("finds a quarter-hour zone (+05:45) despite MDTM's seconds", function()
    local srv = started(scenario(20700, mdtm(TRUE_UTC + 37)))
    local ftp <close> = srv:session { timezone = "auto" }
    assert.equal(TRUE_UTC, listed(ftp, "a.txt").modify)
    assert.same({ 20700, "auto" }, { ftp:server_timezone() })
    listed(ftp, "a.txt")
    assert.equal(1, mdtm_count(srv))
  end)

  it("takes no offset when MDTM is refused, and says why", function()
    local srv = started(scenario(7200, nil))
    local ftp <close> = srv:session { timezone = "auto" }
    assert.equal(TRUE_UTC + 7200, listed(ftp, "a.txt").modify) -- as LIST said
    local offset, why = ftp:server_timezone()
    assert.is_nil(offset)
    assert.matches("^MDTM a%.txt failed: 550", why)
    listed(ftp, "a.txt")
    assert.equal(1, mdtm_count(srv)) -- not asked again
  end)

  it("takes no offset from a malformed MDTM", function()
    local srv = started(scenario(7200, "2020X"))
    local ftp <close> = srv:session { timezone = "auto" }
    assert.equal(TRUE_UTC + 7200, listed(ftp, "a.txt").modify)
    local offset, why = ftp:server_timezone()
    assert.is_nil(offset)
    assert.matches("failed", why)
  end)

  it("takes no offset beyond 14 hours", function()
    local srv = started(scenario(15 * 3600, mdtm(TRUE_UTC)))
    local ftp <close> = srv:session { timezone = "auto" }
    assert.equal(TRUE_UTC + 15 * 3600, listed(ftp, "a.txt").modify)
    local offset, why = ftp:server_timezone()
    assert.is_nil(offset)
    assert.matches("beyond 14 hours", why)
  end)

  it("waits for a listing with a file's time of day, and asks about a plain name only",
    function()
      local srv = started {
        lists = {
          ["old"] = { lines = { hostile.ls("-", "x.txt", 3, "Jan 16  2020"),
            hostile.ls("d", "dir", 0, ls_time(3600)) } },
          ["new"] = { lines = { hostile.ls("-", "../../etc", 3, ls_time(3600)),
            hostile.ls("-", "b.txt", 3, ls_time(3600)) } },
        },
        files = { ["new/b.txt"] = { data = "abc", mdtm = mdtm(TRUE_UTC) } },
      }
      local ftp <close> = srv:session { timezone = "auto" }
      assert(ftp:list("old"))
      assert.is_nil((ftp:server_timezone()))
      assert.equal(0, mdtm_count(srv))
      assert.equal(TRUE_UTC, listed(ftp, "b.txt", "new").modify)
      assert.same({ 3600, "auto" }, { ftp:server_timezone() })
      assert.same({ "MDTM new/b.txt" }, (function()
        local found = {}
        for _, line in ipairs(srv:commands()) do
          if line:find("^MDTM") then found[#found + 1] = line end
        end
        return found
      end)())
    end)

  it("leaves MLSD and EPLF times alone, which are UTC", function()
    local srv = started {
      features = { "MLST type*;size*;modify*;" },
      mlsd = { [""] = { lines = { hostile.mlsx("file", "m.txt", 1, mdtm(TRUE_UTC)) } } },
    }
    local ftp <close> = srv:session { timezone = "+0200" }
    assert.equal(TRUE_UTC, listed(ftp, "m.txt").modify)
    local eplf = started {
      lists = { [""] = { lines = { "+i8388621.48594,m" .. TRUE_UTC .. ",r,s12,\te.txt",
        hostile.ls("-", "u.txt", 1, ls_time(7200)) } } },
    }
    local other <close> = eplf:session { timezone = "+0200" }
    assert.equal(TRUE_UTC, listed(other, "e.txt").modify)
    assert.equal(TRUE_UTC, listed(other, "u.txt").modify) -- the ls line is shifted
  end)

  it("learns anew on a new connection: another server, another zone", function()
    local refusing = started(scenario(7200, nil))
    local ftp <close> = refusing:session { timezone = "auto" }
    listed(ftp, "a.txt")
    assert.matches("^MDTM a%.txt failed: 550", select(2, ftp:server_timezone()))
    local answering = started(scenario(3600, mdtm(TRUE_UTC)))
    assert(ftp:connect(answering.host, answering.port))
    assert(ftp:login("anonymous", "guest"))
    assert.matches("^not found yet", select(2, ftp:server_timezone()))
    assert.equal(TRUE_UTC, listed(ftp, "a.txt").modify)
    assert.same({ 3600, "auto" }, { ftp:server_timezone() })
  end)

  it("raises for an offset of another form or beyond 14 hours", function()
    for _, bad in ipairs { "+2", "UTC", "+1500", 3600.5, 15 * 3600, "+02:75" } do
      assert.has_error(function() ftplib.FTP { timezone = bad } end)
    end
    assert.same({ 0, "unset" }, { ftplib.FTP():server_timezone() })
    assert.same({ -19800, "option" }, { ftplib.FTP({ timezone = "-05:30" }):server_timezone() })
  end)
end)

describe("timezone = \"auto\" when the MDTM is lost with the connection (spec/support/fake.lua)",
  function()
    local fake = require "spec.support.fake"

    -- A LIST of one file shown with its time of day `offset` seconds east of UTC.
    local function list_steps(offset)
      return fake.script(fake.type_steps("A"), fake.epsv_steps(), fake.sending_steps("^LIST",
        "150 here it comes", hostile.ls("-", "a.txt", 5, ls_time(offset)) .. "\r\n",
        "226 done"))
    end

    it("does not give up for the session: the next LIST asks again", function()
      local lost = fake.start(fake.script(fake.login_steps(), list_steps(7200),
        { { expect = "^MDTM a%.txt$" }, { close = true } }), { timeout = 20 })
      finally(function() lost:stop() end)
      local ftp <close> = assert(ftplib.FTP(lost.host, { port = lost.port, user = "anonymous",
        passwd = "guest", timeout = 10, timezone = "auto" }))
      assert.equal(TRUE_UTC + 7200, listed(ftp, "a.txt").modify) -- as LIST said: no guess
      local offset, why = ftp:server_timezone()
      assert.is_nil(offset)
      assert.matches("^not found yet: MDTM a%.txt failed: .*asked again", why)
      assert.is_true(lost:wait(5))
      assert.same({}, lost:errors())
      -- The session comes back (as a retry brings it back) and the next LIST asks again.
      local back = fake.start(fake.script(fake.login_steps(), list_steps(7200),
        fake.answer_steps("^MDTM a%.txt$", "213 " .. mdtm(TRUE_UTC))), { timeout = 20 })
      finally(function() back:stop() end)
      assert(ftp:connect(back.host, back.port))
      assert(ftp:login("anonymous", "guest"))
      assert.equal(TRUE_UTC, listed(ftp, "a.txt").modify)
      assert.same({ 7200, "auto" }, { ftp:server_timezone() })
      ftp:close()
      assert.is_true(back:wait(5))
      assert.same({}, back:errors())
    end)

    it("does not give up on an MDTM that timed out either", function()
      local slow = fake.start(fake.script(fake.login_steps(), list_steps(7200),
        { { expect = "^MDTM a%.txt$" }, { sleep = 3 } }), { timeout = 20 })
      finally(function() slow:stop() end)
      local ftp <close> = assert(ftplib.FTP(slow.host, { port = slow.port, user = "anonymous",
        passwd = "guest", timeout = 1, timezone = "auto" }))
      assert.equal(TRUE_UTC + 7200, listed(ftp, "a.txt").modify)
      local offset, why = ftp:server_timezone()
      assert.is_nil(offset)
      assert.matches("^not found yet: MDTM a%.txt failed: .*asked again", why)
    end)
  end)
