-- The helpers against a hostile server (spec/support/hostile.lua): names that climb out
-- of the target, links planted where a file goes, temporaries that could collide, names
-- that differ only in case, names and paths too long for the file system, names with
-- control bytes. Each scenario runs in a sandbox (spec/support/sandbox.lua); after each
-- one nothing outside the target exists or changed. One `describe` per invariant of the
-- README's promises (the others: hostile_listings_spec, hostile_transfers_spec,
-- hostile_servers_spec, spec/cli/hostile_cli_spec).
local ftplib = require "ftplib"
local lfs = require "lfs"
local hostile = require "spec.support.hostile"
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local ls, mlsx = hostile.ls, hostile.mlsx
local MLST = hostile.MLST
local failure_of, within, run_tool = sandbox.failure_of, sandbox.within, sandbox.run_tool

-- The test's sandbox, and the hostile server it started: checked and stopped after it.
local box, srv
before_each(function() box = sandbox.new() end)
after_each(function() srv = sandbox.finish(box, srv) end)

-- The tree climbing out: names and folders with "..", a slash, absolute paths.
local TRAVERSAL = {
  lists = {
    [""] = { lines = {
      ls("-", "good.txt", 4), ls("-", "../../evil.txt", 4), ls("-", "a/../../x", 4),
      ls("d", "../../d"), ls("-", "/abs.txt", 4), ls("d", "sub"),
    } },
    ["sub"] = { lines = { ls("-", "../../../sub-evil.txt", 4), ls("-", "ok.txt", 2) } },
    ["../../d"] = { lines = { ls("-", "planted.txt", 4) } },
  },
  files = { ["good.txt"] = { data = "good" }, ["sub/ok.txt"] = { data = "ok" } },
  default_file = "EVIL",
}

describe("1. containment", function()
  it("mirror writes nothing outside the target for names with .., / and absolute paths",
    function()
    srv = hostile.start(TRAVERSAL)
    local ftp = srv:session()
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    ftp:close()
    box:assert_contained()
    assert.are.same({ ["good.txt"] = "good", sub = "<dir>", ["sub/ok.txt"] = "ok" }, box:inside())
    assert.are.equal(5, #report.failed)
    for _, failure in ipairs(report.failed) do
      assert.matches("^not mirrored: ", failure.err)
      assert.are.equal("proto", failure.code)
    end
    assert.matches("separator", failure_of(report, "../../evil.txt").err)
    for _, command in ipairs(srv:commands()) do
      assert.is_nil(command:find("..", 1, true), "sent: " .. command)
    end
  end)

  it("mirror with parallel sessions writes nothing outside the target either", function()
    srv = hostile.start(TRAVERSAL)
    local ftp = srv:session()
    local report = within(20, function()
      return assert(ftp:mirror("", box.target, { parallel = 3 }))
    end)
    ftp:close()
    box:assert_contained()
    assert.are.equal(5, #report.failed)
    assert.are.same({ ["good.txt"] = "good", sub = "<dir>", ["sub/ok.txt"] = "ok" }, box:inside())
  end)

  it("ftplib mirror exits 8 (failures), not 0, and writes nothing outside", function()
    srv = hostile.start(TRAVERSAL)
    local status, _, err = run_tool("bin/ftplib", "mirror", srv:url(""), box.target)
    box:assert_contained()
    assert.are.equal(8, status, err)
    assert.matches("evil%.txt: not mirrored", err)
  end)

  it("examples/download_folder.lua fails and writes nothing outside", function()
    srv = hostile.start(TRAVERSAL)
    local status, out = run_tool("examples/download_folder.lua", srv:url(""), box.target)
    box:assert_contained()
    assert.are.equal(1, status)
    assert.matches("FAILED", out)
    assert.are.equal("good", proc.read_file(box:path("good.txt")))
  end)

  it("download_many with a listed name that climbs out fails that file alone", function()
    srv = hostile.start(TRAVERSAL)
    lfs.mkdir(box.target)
    local ftp = srv:session()
    local report = within(20, function()
      return ftp:download_many({ "good.txt", "..", "sub/..", "a/../../x/.." }, { dir = box.target })
    end)
    ftp:close()
    box:assert_contained()
    assert.are.same({ "good.txt" }, report.done)
    assert.are.equal(3, #report.failed)
    assert.matches("^not downloaded: ", report.failed[1].err)
  end)

  it("safe_join takes plain names only", function()
    assert.are.equal("/t", ftplib.safe_join("/t", "")) -- "" is the folder itself
    for _, bad in ipairs { "..", ".", "a\\b", "a\0b", "a\rb", "a\nb", "\27[2J",
        "/etc", "a/../b", "a//b" } do
      assert.is_nil(ftplib.safe_join("/t", bad), bad)
    end
    assert.are.equal("/t/a/b c/.d", ftplib.safe_join("/t", "a/b c/.d"))
    assert.are.equal("/t/x", ftplib.safe_join("/t/", "x"))
    assert.are.equal("x", ftplib.safe_join("", "x"))
  end)
end)

describe("2. no link followed", function()
  local SIMPLE = {
    lists = { [""] = { lines = { ls("-", "file", 5), ls("-", "other", 5) } } },
    files = { file = { data = "fresh", mdtm = "20200101000000" },
      other = { data = "other", mdtm = "20200101000000" } },
  }

  it("download removes a link planted as the .part instead of writing through it", function()
    srv = hostile.start(SIMPLE)
    lfs.mkdir(box.target)
    assert(lfs.link(box.dir .. "/victim.txt", box:path("file.part"), true))
    local ftp = srv:session()
    assert.are.equal(5, ftp:download("file", box:path("file")))
    ftp:close()
    box:assert_contained()
    assert.are.equal("file", lfs.symlinkattributes(box:path("file"), "mode"))
    assert.are.equal("fresh", proc.read_file(box:path("file")))
  end)

  it("resume does not continue a .part that is a link, nor one with a second name",
    function()
    srv = hostile.start(SIMPLE)
    lfs.mkdir(box.target)
    assert(lfs.link(box.dir .. "/victim.txt", box:path("file.part"), true))
    assert(os.execute("ln " .. proc.shell_quote(box.dir .. "/up/keep.txt") .. " "
      .. proc.shell_quote(box:path("other.part"))))
    local ftp = srv:session()
    local bytes, info = ftp:download("file", box:path("file"), { resume = true })
    assert.are.equal(5, bytes)
    assert.matches("not a regular file", info.restarted)
    bytes, info = ftp:download("other", box:path("other"), { resume = true })
    assert.are.equal(5, bytes, info)
    ftp:close()
    box:assert_contained()
    assert.are.equal("fresh", proc.read_file(box:path("file")))
    assert.are.equal("other", proc.read_file(box:path("other")))
  end)

  it("mirror never writes through a link planted where a .part goes", function()
    srv = hostile.start(SIMPLE)
    lfs.mkdir(box.target)
    assert(lfs.link(box.dir .. "/victim.txt", box:path("file.part"), true))
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target))
    ftp:close()
    box:assert_contained()
    assert.are.same({}, report.failed)
    assert.are.equal("fresh", proc.read_file(box:path("file")))
    assert.are.equal("file", lfs.symlinkattributes(box:path("file"), "mode"))
  end)

  it("a remote x.part beside x is a file of its own, never x's temporary", function()
    srv = hostile.start {
      lists = { [""] = { lines = { ls("-", "x", 8), ls("-", "x.part", 10) } } },
      files = { x = { data = "x, new 2" }, ["x.part"] = { data = "the x.part" } },
    }
    lfs.mkdir(box.target)
    box:write("x", "x, old") -- a changed x is downloaded again beside a mirrored x.part
    -- x.part as mirrored before: the listing's size and time, so it is left alone.
    local listed_time = os.time { year = 2020, month = 1, day = 16, hour = 0 }
      + (os.time() - os.time(os.date("!*t")))
    lfs.touch(box:write("x.part", "the x.part"), listed_time, listed_time)
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target, { delete = true }))
    ftp:close()
    box:assert_contained()
    assert.are.same({}, report.failed)
    assert.are.same({ x = "x, new 2", ["x.part"] = "the x.part" }, box:inside())
  end)
end)

describe("2b. temporaries never collide", function()
  -- x, x.part and x.1 downloaded side by side: spec/ops/untrusted_servers_spec.lua, on
  -- vsftpd (this server serves one transfer at a time).
  local function slow(text)
    local data = text:rep(20000 // #text)
    return { data = data, chunk = 2000, pause = 0.02 }
  end

  for _, parallel in ipairs { 1, 2 } do
    it(("download_many fails a local path given twice, after the first (parallel = %d)")
      :format(parallel), function()
      srv = hostile.start { files = { ["a/x"] = slow("a"), ["b/x"] = slow("b"),
        c = { data = "c" } } }
      lfs.mkdir(box.target)
      local ftp = srv:session()
      local report = within(30, function()
        return ftp:download_many({ "a/x", "b/x", { "c", box.target .. "//./x" }, "c" },
          { dir = box.target, parallel = parallel })
      end)
      ftp:close()
      assert.are.same({ "a/x", "c" }, report.done)
      assert.are.equal(2, #report.failed)
      assert.are.equal("b/x", report.failed[1].path)
      assert.are.equal("io", report.failed[1].code)
      assert.matches("^not downloaded: its local path .*/x is also that of a/x$",
        report.failed[1].err)
      assert.are.equal("c", report.failed[2].path)
      assert.are.same({ x = slow("a").data, c = "c" }, box:inside())
    end)
  end
end)

describe("4b. names that differ only in case", function()
  it("mirror_up never deletes the file it just sent where names ignore case", function()
    -- Readme renamed README locally; the server holds Readme, and ignores case.
    srv = hostile.start { ignore_case = true,
      lists = { [""] = { lines = { ls("-", "Readme", 3), ls("d", "Docs"), ls("-", "old", 3) } },
        Docs = { lines = { ls("-", "a.txt", 3) } } },
      files = { Readme = { data = "old" }, ["Docs/a.txt"] = { data = "aaa" },
        old = { data = "old" } } }
    box:write("README", "new readme")
    box:write("docs/a.txt", "new a")
    local ftp = srv:session()
    local report = within(20, function()
      return assert(ftp:mirror_up(box.target, "", { delete = true }))
    end)
    ftp:close()
    srv:stop()
    assert.are.same({}, report.failed)
    assert.are.same({ "old" }, srv:events("deleted")) -- not Readme, not Docs/a.txt
    assert.are.same({}, srv:events("removed")) -- nor the folder Docs
    local kept = {}
    for _, entry in ipairs(report.kept) do kept[#kept + 1] = entry.path end
    assert.are.same({ "Docs", "Docs/a.txt", "Readme" }, kept)
    assert.matches("^its name differs only in case from README, sent in this run",
      report.kept[3].reason)
  end)

  it("mirror keeps a local file whose name differs only in case from one it downloads",
    function()
    srv = hostile.start { lists = { [""] = { lines = { ls("-", "README", 3) } } },
      files = { README = { data = "new" } } }
    box:write("Readme", "old")
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target, { delete = true }))
    ftp:close()
    assert.are.same({ "README" }, report.created)
    assert.are.same({}, report.deleted)
    assert.are.equal("Readme", report.kept[1].path)
    -- On a file system that ignores case, README replaced Readme: one file, whole.
    assert.are.equal("new", proc.read_file(box:path("README")))
  end)
end)

describe("5b. long names and paths", function()
  it("download of a remote path over 4096 bytes does not raise", function()
    srv = hostile.start { default_file = "long" }
    lfs.mkdir(box.target)
    local ftp = srv:session()
    local remote = ("d"):rep(200) .. "/" .. ("e"):rep(4000)
    local bytes, info = within(20, function()
      return ftp:download(remote, box:path("x"), { resume = true })
    end)
    ftp:close()
    assert.are.equal(4, bytes, info)
    assert.are.equal("long", proc.read_file(box:path("x")))
  end)

  it("mirror of a remote root whose paths pass 4096 bytes downloads its files", function()
    local parts = {}
    for i = 1, 18 do parts[i] = ("%02d"):format(i) .. ("d"):rep(238) end
    local root = table.concat(parts, "/")
    srv = hostile.start { lists = { [root] = { lines = { ls("-", "f", 4) } } },
      files = { [root .. "/f"] = { data = "deep" } } }
    local ftp = srv:session()
    local report = within(20, function() return assert(ftp:mirror(root, box.target)) end)
    ftp:close()
    assert.are.same({}, report.failed)
    assert.are.same({ f = "deep" }, box:inside())
  end)

  it("names of 251 to 255 bytes are downloaded (their temporary is shorter)", function()
    local names, lines, files = {}, {}, {}
    for length = 251, 255 do
      local name = ("n"):rep(length - 4) .. ("%04d"):format(length)
      names[#names + 1] = name
      lines[#lines + 1] = ls("-", name, 4)
      files[name] = { data = tostring(length):sub(1, 3) .. "!" }
    end
    -- Two names of 255 bytes sharing their first 250: temporaries of their own.
    local twin = ("n"):rep(251) .. "twin"
    lines[#lines + 1] = ls("-", twin, 4)
    files[twin] = { data = "twin" }
    srv = hostile.start { lists = { [""] = { lines = lines } }, files = files }
    local ftp = srv:session()
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    assert.are.same({}, report.failed)
    assert.are.equal(6, #report.created)
    for _, name in ipairs(names) do
      assert.are.equal(files[name].data, proc.read_file(box:path(name)), #name)
    end
    assert.are.equal("twin", proc.read_file(box:path(twin)))
    os.remove(box:path(names[5]))
    assert.are.equal(4, ftp:download(names[5], box:path(names[5]), { resume = true }))
    ftp:close()
    assert.are.equal("255!", proc.read_file(box:path(names[5])))
    box:assert_contained()
  end)
end)

describe("9. one bad entry fails alone", function()
  local BAD = {
    features = MLST,
    mlsd = { [""] = { lines = {
      mlsx("file", "ok", 2), mlsx("file", "cr\rname", 2), mlsx("file", "nul\0name", 2),
      mlsx("file", "esc\27[31mred", 2), mlsx("dir", "d\rir"),
    } } },
    files = { ok = { data = "ok" } },
    default_file = "EVIL",
  }

  it("mirror goes on past names with CR, NUL and escapes, and leaves no stray file",
    function()
    srv = hostile.start(BAD)
    local ftp = srv:session()
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    ftp:close()
    assert.are.same({ ok = "ok" }, box:inside())
    assert.are.same({ "ok" }, report.created)
    assert.are.equal(4, #report.failed)
    for _, failure in ipairs(report.failed) do
      assert.is_nil(failure.path:find("%c"), "a control byte in a report: " .. failure.path)
    end
    box:assert_contained()
  end)

  it("walk yields such names as rejected, and does not raise", function()
    srv = hostile.start(BAD)
    local ftp = srv:session()
    for _, _, files, rejected in ftp:walk("") do
      assert.are.equal(1, #files)
      assert.are.equal(4, #rejected)
    end
    ftp:close()
  end)

  it("download_many fails a name with CR alone", function()
    srv = hostile.start(BAD)
    lfs.mkdir(box.target)
    local ftp = srv:session()
    local names = assert(ftp:nlst(""))
    local report = ftp:download_many({ "ok", "cr\rname", "x\nRMD /" }, { dir = box.target })
    ftp:close()
    assert.is_table(names)
    assert.are.same({ "ok" }, report.done)
    assert.are.equal(2, #report.failed)
    assert.are.same({ ok = "ok" }, box:inside())
  end)
end)
