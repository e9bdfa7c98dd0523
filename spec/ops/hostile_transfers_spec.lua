-- The helpers against a hostile server (spec/support/hostile.lua): a .part is resumed
-- only when it is the same file (origin records, MDTM, extended attributes), and every
-- size the client knows is checked against the bytes that came. Each scenario runs in a
-- sandbox (spec/support/sandbox.lua); after each one nothing outside the target changed.
local lfs = require "lfs"
local core = require "ftplib.core"
local hostile = require "spec.support.hostile"
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local ls = hostile.ls
local failed_paths, run_tool = sandbox.failed_paths, sandbox.run_tool

-- The test's sandbox, and the hostile server it started: checked and stopped after it.
local box, srv
before_each(function() box = sandbox.new() end)
after_each(function() srv = sandbox.finish(box, srv) end)

describe("5. resume only the same file", function()
  -- A first download cut short: the 150 announces 10 bytes, 4 arrive.
  local function cut_first(ftp)
    local bytes, err, code = ftp:download("f", box:path("f"), { resume = true })
    assert.is_nil(bytes)
    assert.are.equal("closed", code, err)
    assert.are.equal("0123", proc.read_file(box:path("f.part")))
  end

  it("a .part of a file changed since (same size, new time) starts over, and says so",
    function()
    srv = hostile.start { files = { f = { data = "0123456789", send = "0123",
      mdtm = "20200101000000" } } }
    lfs.mkdir(box.target)
    local ftp = srv:session()
    cut_first(ftp)
    ftp:close()
    srv:stop()
    srv = hostile.start { files = { f = { data = "ABCDEFGHIJ", mdtm = "20210101000000" } } }
    ftp = srv:session()
    local bytes, info = ftp:download("f", box:path("f"), { resume = true })
    ftp:close()
    assert.are.equal(10, bytes)
    assert.are.equal(0, info.resumed)
    assert.matches("changed since the %.part was started", info.restarted)
    assert.are.equal("ABCDEFGHIJ", proc.read_file(box:path("f")))
    box:assert_contained()
  end)

  it("a .part of the same file goes on from where it stopped", function()
    srv = hostile.start { files = { f = { data = "0123456789", send = "0123",
      mdtm = "20200101000000" } } }
    lfs.mkdir(box.target)
    local ftp = srv:session()
    cut_first(ftp)
    ftp:close()
    srv:stop()
    srv = hostile.start { files = { f = { data = "0123456789", mdtm = "20200101000000" } } }
    ftp = srv:session()
    local bytes, info = ftp:download("f", box:path("f"), { resume = true })
    ftp:close()
    assert.are.equal(6, bytes)
    assert.are.equal(4, info.resumed)
    assert.is_nil(info.restarted)
    assert.are.equal("0123456789", proc.read_file(box:path("f")))
  end)

  it("a .part with no origin record (another tool's) is never continued", function()
    srv = hostile.start { files = { f = { data = "ABCDEFGHIJ", mdtm = "20200101000000" } } }
    box:write("f.part", "0123") -- older than nothing: its time says nothing either
    lfs.touch(box:path("f.part"), os.time() + 3600, os.time() + 3600)
    local ftp = srv:session()
    local bytes, info = ftp:download("f", box:path("f"), { resume = true })
    ftp:close()
    assert.are.equal(10, bytes)
    assert.are.equal(0, info.resumed)
    assert.matches("nothing tells what the %.part is a start of: it has no origin record",
      info.restarted)
    assert.are.equal("ABCDEFGHIJ", proc.read_file(box:path("f")))
  end)

  -- A download without resume = true is cut at 450,000 of 600,000 bytes; the file then
  -- changes (same size, newer time). The .part recorded the time all the same.
  local function cut_then_changed(old, new)
    srv = hostile.start { files = { f = { data = old.data, send = old.data:sub(1, 450000),
      mdtm = old.mdtm } } }
    lfs.mkdir(box.target)
    local ftp = srv:session()
    local bytes, _, code = ftp:download("f", box:path("f"))
    ftp:close()
    srv:stop()
    assert.is_nil(bytes)
    assert.are.equal("closed", code)
    assert.are.equal(450000, lfs.attributes(box:path("f.part"), "size"))
    srv = hostile.start { files = { f = { data = new.data, mdtm = new.mdtm } } }
    ftp = srv:session()
    local info
    bytes, info = ftp:download("f", box:path("f"), { resume = true })
    ftp:close()
    return bytes, info
  end

  it("a .part begun without resume = true records the time: a changed file starts over",
    function()
    local bytes, info = cut_then_changed({ data = ("A"):rep(600000), mdtm = "20200101000000" },
      { data = ("B"):rep(600000), mdtm = "20210101000000" })
    assert.are.equal(600000, bytes)
    assert.are.equal(0, info.resumed)
    assert.matches("changed since the %.part was started", info.restarted)
    assert.is_true(proc.read_file(box:path("f")) == ("B"):rep(600000), "spliced")
  end)

  it("a .part begun where MDTM gave no time starts over once the server gives one",
    function()
    local bytes, info = cut_then_changed({ data = ("A"):rep(600000) },
      { data = ("B"):rep(600000), mdtm = "20210101000000" })
    assert.are.equal(600000, bytes)
    assert.matches("started without the remote file's time", info.restarted)
    assert.is_true(proc.read_file(box:path("f")) == ("B"):rep(600000), "spliced")
  end)

  it("a .part begun where MDTM gave no time goes on while there is none and the size agrees",
    function()
    local bytes, info = cut_then_changed({ data = ("A"):rep(600000) },
      { data = ("A"):rep(600000) })
    assert.are.equal(150000, bytes)
    assert.are.equal(450000, info.resumed)
    assert.is_true(proc.read_file(box:path("f")) == ("A"):rep(600000))
  end)

  -- What a file system without user extended attributes (vfat, exFAT, NFSv3, ramfs)
  -- gives: core.file_origin fails as the C function does there (ENOTSUP).
  local function without_xattrs(fn)
    local real = core.file_origin
    core.file_origin = function(path)
      return nil, path .. ": Operation not supported", "io", 95
    end
    local ok, err = pcall(fn)
    core.file_origin = real
    assert(ok, err)
  end

  it("without extended attributes a .part is never continued, and restarted says why",
    function()
    without_xattrs(function()
      cut_then_changed({ data = ("A"):rep(600000), mdtm = "20200101000000" },
        { data = ("A"):rep(600000), mdtm = "20200101000000" })
    end)
    -- The same file, but nothing could record it: it starts over, whole.
    srv:stop()
    srv = hostile.start { files = { f = { data = ("C"):rep(600000), mdtm = "20200101000000" } } }
    box:write("f.part", ("A"):rep(450000))
    local bytes, info
    without_xattrs(function()
      local ftp = srv:session()
      bytes, info = ftp:download("f", box:path("f"), { resume = true })
      ftp:close()
    end)
    assert.are.equal(600000, bytes)
    assert.matches("origin record cannot be read %(.*Operation not supported", info.restarted)
    assert.is_true(proc.read_file(box:path("f")) == ("C"):rep(600000), "spliced")
  end)

  -- The same on a real file system without user xattrs: ramfs (root only).
  it("on ramfs (no user xattrs) a .part is never continued", function()
    local ramfs = proc.tempdir("hostile-ramfs")
    local mounted = os.execute("mount -t ramfs ftplib-test " .. proc.shell_quote(ramfs)
      .. " 2>/dev/null")
    if not mounted then
      proc.rmtree(ramfs)
      pending("mount -t ramfs needs root: the ENOTSUP switch above runs the same code")
      return
    end
    finally(function()
      os.execute("umount " .. proc.shell_quote(ramfs))
      proc.rmtree(ramfs)
    end)
    srv = hostile.start { files = { f = { data = ("A"):rep(600000), send = ("A"):rep(450000),
      mdtm = "20200101000000" } } }
    local ftp = srv:session()
    assert.is_nil(ftp:download("f", ramfs .. "/f"))
    ftp:close()
    srv:stop()
    assert.are.equal(450000, lfs.attributes(ramfs .. "/f.part", "size"))
    srv = hostile.start { files = { f = { data = ("B"):rep(600000), mdtm = "20200101000000" } } }
    ftp = srv:session()
    local bytes, info = ftp:download("f", ramfs .. "/f", { resume = true })
    ftp:close()
    assert.are.equal(600000, bytes)
    assert.matches("origin record cannot be read", info.restarted)
    assert.is_true(proc.read_file(ramfs .. "/f") == ("B"):rep(600000), "spliced")
  end)

  it("get -c of a changed file starts over and says so", function()
    srv = hostile.start { files = { f = { data = "0123456789", send = "0123",
      mdtm = "20200101000000" } } }
    lfs.mkdir(box.target)
    local ftp = srv:session()
    cut_first(ftp)
    ftp:close()
    srv:stop()
    srv = hostile.start { files = { f = { data = "ABCDEFGHIJ", mdtm = "20210101000000" } } }
    local status, _, err = run_tool("bin/ftplib", "get", "-c", srv:url("f"), box:path("f"))
    assert.are.equal(0, status, err)
    assert.matches("started over: the remote file changed", err)
    assert.are.equal("ABCDEFGHIJ", proc.read_file(box:path("f")))
  end)

  it("download_folder.lua starts a changed file over", function()
    local function scenario(data, send, mdtm)
      return { lists = { [""] = { lines = { ls("-", "f", 10, "Jan 01  2020") } } },
        files = { f = { data = data, send = send, mdtm = mdtm } } }
    end
    srv = hostile.start(scenario("0123456789", "0123", "20200101000000"))
    local status = run_tool("examples/download_folder.lua", srv:url(""), box.target)
    assert.are.equal(1, status)
    assert.are.equal("0123", proc.read_file(box:path("f.part")))
    srv:stop()
    local changed = scenario("ABCDEFGHIJ", nil, "20210101000000")
    changed.lists[""].lines[1] = ls("-", "f", 10, "Jan 01  2021")
    srv = hostile.start(changed)
    local out
    status, out = run_tool("examples/download_folder.lua", srv:url(""), box.target)
    assert.are.equal(0, status, out)
    assert.matches("started over", out)
    assert.are.equal("ABCDEFGHIJ", proc.read_file(box:path("f")))
  end)
end)

describe("6. every known size is checked", function()
  local SHORT = {
    lists = { [""] = { lines = { ls("-", "f", 1000) } } },
    files = { f = { data = ("x"):rep(1000), send = ("x"):rep(500), size = false } },
  }

  it("download{size = 1000} of 500 bytes and a 226 (SIZE refused) is an error", function()
    srv = hostile.start(SHORT)
    lfs.mkdir(box.target)
    local ftp = srv:session()
    local bytes, err, code = ftp:download("f", box:path("f"), { size = 1000 })
    ftp:close()
    assert.is_nil(bytes)
    assert.are.equal("closed", code)
    assert.matches("500 bytes received", err)
    assert.is_nil(lfs.attributes(box:path("f")))
  end)

  it("the 150's size alone catches a short transfer", function()
    srv = hostile.start(SHORT)
    lfs.mkdir(box.target)
    local ftp = srv:session()
    local bytes, err = ftp:download("f", box:path("f"))
    ftp:close()
    assert.is_nil(bytes)
    assert.matches("the 150 reply says 1000", err)
  end)

  it("mirror reports the short file as failed", function()
    srv = hostile.start(SHORT)
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target))
    ftp:close()
    assert.are.same({ "f" }, failed_paths(report))
    assert.are.same({}, report.created)
    assert.is_nil(lfs.attributes(box:path("f")))
  end)
end)
