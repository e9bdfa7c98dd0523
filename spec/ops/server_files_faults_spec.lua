-- ftp:exists, stat, makedirs and move when the server cannot or will not tell: a 421, a
-- dropped connection, a refused or unreadable listing of the parent, names that cannot
-- be used. "Not there" (false, 550) only when the server said so; anything else is
-- nil, message, code. Scripted servers: spec/support/fake.lua (one reply after another)
-- and spec/support/hostile.lua (a made-up tree).
local ftplib = require "ftplib"
local fake = require "spec.support.fake"
local hostile = require "spec.support.hostile"

local ls = hostile.ls

local MLST = { "MLST type*;size*;modify*;" }

-- A session on a scripted server, logged in as anonymous.
local function fake_session(steps)
  local srv = fake.start(steps, { timeout = 20 })
  local ftp = assert(ftplib.FTP(srv.host, { port = srv.port, user = "anonymous",
    passwd = "guest", timeout = 5 }))
  return ftp, srv
end

describe("ftp:exists when the server cannot tell", function()
  it("answers nil and the 421, not false, when MLST gets a 421", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps("anonymous", MLST), {
      { expect = "^MLST x%.txt$" }, { send = "421 Service not available, closing\r\n" },
      { close = true },
    }))
    finally(function() ftp:close(); srv:stop() end)
    local answer, err, code = ftp:exists("x.txt")
    assert.is_nil(answer)
    assert.are.equal(421, code, err)
    assert.is_true(srv:wait())
    assert.are.same({}, srv:errors())
  end)

  it("answers nil and \"closed\" when the connection drops under MLST", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps("anonymous", MLST), {
      { expect = "^MLST x%.txt$" }, { close = true },
    }))
    finally(function() ftp:close(); srv:stop() end)
    local answer, err, code = ftp:exists("x.txt")
    assert.is_nil(answer)
    assert.are.equal("closed", code, err)
  end)

  it("stops at a 421 to the CWD probe (no MLST)", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps(), {
      { expect = "^PWD$" }, { send = "257 \"/\" is the current folder\r\n" },
      { expect = "^CWD x%.txt$" }, { send = "421 Timeout, closing\r\n" }, { close = true },
    }))
    finally(function() ftp:close(); srv:stop() end)
    local answer, err, code = ftp:exists("x.txt")
    assert.is_nil(answer)
    assert.are.equal(421, code, err)
    assert.is_true(srv:wait())
    assert.are.same({}, srv:errors())
  end)

  it("reads MLST's fact line for stat, 550 as absent", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps("anonymous", MLST), {
      { expect = "^MLST pub/a%.txt$" },
      { send = "250-Listing pub/a.txt\r\n type=file;size=42;modify=20200101000000; "
        .. "/pub/a.txt\r\n250 End\r\n" },
      { expect = "^MLST pub/none$" }, { send = "550 No such file\r\n" },
    }))
    finally(function() ftp:close(); srv:stop() end)
    local entry = assert(ftp:stat("pub/a.txt"))
    assert.are.same({ "a.txt", "file", 42, 1577836800 },
      { entry.name, entry.type, entry.size, entry.modify })
    assert.is_false(ftp:exists("pub/none"))
  end)
end)

describe("ftp:exists and ftp:stat from the parent's listing (no MLST, no SIZE answer)",
  function()
    local srv

    after_each(function()
      if srv then srv:stop() end
      srv = nil
    end)

    local function exists_on(lists, path)
      srv = hostile.start { lists = lists }
      local ftp = srv:session()
      local answer, err, code = ftp:exists(path)
      ftp:close()
      return answer, err, code
    end

    it("is false when a readable listing lacks the name", function()
      assert.is_false(exists_on({ [""] = { lines = { ls("-", "other.txt") } } }, "x.txt"))
    end)

    it("is true for a name only the listing shows (a device, say)", function()
      local lists = { [""] = { lines = { "crw-rw-rw-    1 0  0  1,   3 Jan 16  2020 null" } } }
      assert.is_true(exists_on(lists, "null"))
    end)

    it("cannot tell when the listing is refused (450)", function()
      local answer, err, code = exists_on({ [""] = { reply = "450 Busy, try later" } }, "x.txt")
      assert.is_nil(answer)
      assert.are.equal(450, code, err)
    end)

    it("cannot tell when no parser reads the listing", function()
      local answer, err, code = exists_on({ [""] = { lines = { "??? x.txt ???" } } }, "x.txt")
      assert.is_nil(answer)
      assert.are.equal("proto", code, err)
    end)

    it("cannot tell when the listing holds names that cannot be used", function()
      local answer, err, code = exists_on({ [""] = { lines = { ls("-", "../x.txt"),
        ls("-", "a/b") } } }, "x.txt")
      assert.is_nil(answer)
      assert.are.equal("proto", code, err)
      assert.matches("names that cannot be used", err)
    end)
  end)

describe("ftp:makedirs and ftp:move on scripted servers", function()
  it("makedirs stops at a dropped connection with its code", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps(), {
      { expect = "^MKD a$" }, { send = "257 \"/a\" created\r\n" },
      { expect = "^MKD a/b$" }, { close = true },
    }))
    finally(function() ftp:close(); srv:stop() end)
    local ok, err, code = ftp:makedirs("a/b/c")
    assert.is_nil(ok)
    assert.are.equal("closed", code, err)
  end)

  it("move finds a folder from the listing when PWD is refused", function()
    local srv = hostile.start {
      refuse_pwd = true,
      lists = { [""] = { lines = { ls("d", "dir"), ls("-", "a.txt", 1) } },
        ["dir"] = { lines = {} } },
      files = { ["a.txt"] = { data = "a" } },
    }
    finally(function() srv:stop() end)
    local ftp = srv:session()
    assert.are.equal("dir/a.txt", ftp:move("a.txt", "dir"))
    ftp:close()
    assert.are.same({ "a.txt -> dir/a.txt" }, srv:events("renamed"))
  end)
end)
