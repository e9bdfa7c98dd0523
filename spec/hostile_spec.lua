-- The helpers against a hostile server (spec/support/hostile.lua): names that climb
-- out, listings that lie or cannot be read, trees without end, changed files, short
-- transfers, names with control bytes. Each scenario runs in a sandbox folder holding
-- the target a few levels down and files beside it; after each one nothing outside the
-- target exists or changed, nothing local that should stay was deleted, and the call
-- returned within its bounds with a clear error. One `describe` per invariant of the
-- README's promises.
local ftplib = require "ftplib"
local lfs = require "lfs"
local core = require "ftplib.core"
local hostile = require "spec.support.hostile"
local proc = require "spec.support.proc"

local ls, mlsx = hostile.ls, hostile.mlsx
local MLST = { "MLST type*;size*;modify*;unique*;", "SIZE", "MDTM" }

local ROOT = lfs.currentdir()
local CPATH = package.cpath:match("^([^;]+)")
if CPATH:sub(1, 1) ~= "/" then CPATH = ROOT .. "/" .. CPATH end
local ENV = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(
  proc.shell_quote(ROOT .. "/lua/?.lua;;"), proc.shell_quote(CPATH .. ";;"))

-- Everything under dir: rel -> content, "<dir>" or "<link to X>".
local function snapshot(dir, rel, into)
  into = into or {}
  local path = rel and (dir .. "/" .. rel) or dir
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then
      local child = rel and (rel .. "/" .. name) or name
      local full = dir .. "/" .. child
      local mode = lfs.symlinkattributes(full, "mode")
      if mode == "link" then
        into[child] = "<link to " .. tostring(lfs.symlinkattributes(full, "target")) .. ">"
      elseif mode == "directory" then
        into[child] = "<dir>"
        snapshot(dir, child, into)
      else
        into[child] = proc.read_file(full) or ("<" .. tostring(mode) .. ">")
      end
    end
  end
  return into
end

-- A sandbox: box/up/down/target is the target; box/victim.txt and box/up/keep.txt
-- stand beside it. `box:outside()` is what lies outside the target.
local Box = {}
Box.__index = Box

local function sandbox()
  local dir = proc.tempdir("hostile-box")
  assert(lfs.mkdir(dir .. "/up"))
  assert(lfs.mkdir(dir .. "/up/down"))
  proc.write_file(dir .. "/victim.txt", "victim")
  proc.write_file(dir .. "/up/keep.txt", "keep")
  local box = setmetatable({ dir = dir, target = dir .. "/up/down/target" }, Box)
  box.before = box:outside()
  return box
end

function Box:outside()
  local all = snapshot(self.dir)
  for rel in pairs(all) do
    if rel == "up/down/target" or rel:sub(1, #"up/down/target/") == "up/down/target/" then
      all[rel] = nil
    end
  end
  return all
end

function Box:path(rel)
  return self.target .. "/" .. rel
end

function Box:write(rel, content)
  local path = self:path(rel)
  local parent = path:match("^(.*)/[^/]*$")
  os.execute("mkdir -p " .. proc.shell_quote(parent))
  proc.write_file(path, content)
  return path
end

function Box:inside()
  if lfs.attributes(self.target, "mode") ~= "directory" then return {} end
  return snapshot(self.target)
end

-- The invariant checked after every scenario: nothing outside the target changed.
function Box:assert_contained()
  assert.are.same(self.before, self:outside())
end

function Box:remove()
  proc.rmtree(self.dir)
end

local function failed_paths(report)
  local paths = {}
  for _, failure in ipairs(report.failed) do paths[#paths + 1] = failure.path end
  table.sort(paths)
  return paths
end

local function failure_of(report, path)
  for _, failure in ipairs(report.failed) do
    if failure.path == path then return failure end
  end
  return nil
end

-- Runs fn, asserting it returned within `seconds`; returns what it returned.
local function within(seconds, fn)
  local started = core.now()
  local results = table.pack(fn())
  local took = core.now() - started
  assert.is_true(took < seconds, ("took %.1f s, bound %d s"):format(took, seconds))
  return table.unpack(results, 1, results.n)
end

local function run_tool(script, ...)
  local words = {}
  for i, word in ipairs { ... } do words[i] = proc.shell_quote(word) end
  local dir = proc.tempdir("hostile-tool")
  local out, err = dir .. "/stdout", dir .. "/stderr"
  local _, _, status = os.execute(("%s HOME=%s lua5.4 %s %s > %s 2> %s < /dev/null"):format(
    ENV, proc.shell_quote(dir), proc.shell_quote(ROOT .. "/" .. script),
    table.concat(words, " "), out, err))
  local stdout, stderr = proc.read_file(out), proc.read_file(err)
  proc.rmtree(dir)
  return status, stdout, stderr
end

local box, srv
before_each(function()
  box = sandbox()
end)
-- Whatever a scenario asserts, nothing outside its target may exist or change.
after_each(function()
  if srv then srv:stop() end
  srv = nil
  local outside = box:outside()
  box:remove()
  assert.are.same(box.before, outside, "something outside the target changed")
end)

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
  -- x, x.part and x.1 downloaded side by side: spec/untrusted_servers_spec.lua, on
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

describe("3. a listing that cannot be trusted is not an empty folder", function()
  local function local_copy()
    box:write("keep/a.txt", "mine a")
    box:write("keep/deeper/b.txt", "mine b")
    box:write("top.txt", "top")
    return box:inside()
  end

  -- Mirrors with delete = true and checks that the local copy is whole.
  local function mirror_keeps(scenario, root)
    srv = hostile.start(scenario)
    local before = local_copy()
    local ftp = srv:session()
    local report, err, code = within(20, function()
      return ftp:mirror(root or "", box.target, { delete = true })
    end)
    ftp:close()
    box:assert_contained()
    local after = box:inside()
    for rel, content in pairs(before) do
      assert.are.equal(content, after[rel], rel .. " changed or deleted")
    end
    return report, err, code
  end

  local TOP = { ls("-", "top.txt", 3), ls("d", "keep") }

  it("a subfolder whose LIST is refused with 450 (CWD works) keeps its local files",
    function()
    local report = mirror_keeps { lists = { [""] = { lines = TOP },
      keep = { reply = "450 No files found" } }, files = { ["top.txt"] = { data = "top" } } }
    assert.are.same({ "keep" }, failed_paths(report))
    assert.are.equal(450, report.failed[1].code)
    assert.are.same({}, report.deleted)
  end)

  it("a root whose LIST is refused with 550 (CWD works) fails the mirror, deletes nothing",
    function()
    local report, err, code = mirror_keeps(
      { lists = { site = { reply = "550 Permission denied" } } }, "site")
    assert.is_nil(report)
    assert.matches("^550", err)
    assert.are.equal(550, code)
  end)

  it("a folder listed as itself only (vsftpd, mode 0711) is unreadable, not a file",
    function()
    local self_line = "drwx--x--x    2 0        0            4096 Dec 02 02:24 keep"
    local report = mirror_keeps { lists = {
      [""] = { lines = { ls("-", "top.txt", 3), self_line } },
      keep = { lines = { self_line } } }, files = { ["top.txt"] = { data = "top" } } }
    assert.are.same({ "keep" }, failed_paths(report))
    assert.matches("only the folder itself", report.failed[1].err)
    assert.is_nil(lfs.attributes(box:path("keep/keep")))
  end)

  it("a mistyped root on GNU ls servers (150, 'ls: cannot access', 226) deletes nothing",
    function()
    local report, err, code = mirror_keeps({ lists = { ["mistyped"] = {
      preliminary = "150 Opening ASCII mode data connection for '/bin/ls'.",
      lines = { "ls: cannot access 'mistyped': No such file or directory" },
      final = "226 Transfer complete." } } }, "mistyped")
    assert.is_nil(report)
    assert.matches("listing not understood: ls: cannot access", err)
    assert.are.equal("proto", code)
  end)

  it("a subfolder answered with an error line only keeps its local files", function()
    local report = mirror_keeps { lists = { [""] = { lines = TOP },
      keep = { lines = { "ls: cannot open directory 'keep': Permission denied" } } },
      files = { ["top.txt"] = { data = "top" } } }
    assert.are.same({ "keep" }, failed_paths(report))
    assert.are.same({}, report.deleted)
  end)

  it("lines no parser reads (months in French) keep the local files of their folder",
    function()
    local report = mirror_keeps { lists = {
      [""] = { lines = { ls("-", "top.txt", 3), ls("d", "keep") } },
      keep = { lines = { "-rw-r--r--    1 1000  1000  6 janv. 16  2020 a.txt",
        ls("-", "new.txt", 3) } } },
      files = { ["top.txt"] = { data = "top" }, ["keep/new.txt"] = { data = "new" } } }
    assert.are.same({}, report.deleted)
    assert.are.same({ "keep/new.txt" }, report.created)
  end)

  it("a remote link keeps what lies under its name locally", function()
    local report = mirror_keeps { lists = {
      [""] = { lines = { ls("-", "top.txt", 3), ls("l", "keep", 10, nil, "/elsewhere") } } },
      files = { ["top.txt"] = { data = "top" } } }
    assert.are.same({}, report.deleted)
    assert.are.same({ "keep" }, report.skipped)
  end)

  it("an empty MLSD answer for a folder CWD cannot enter is an error", function()
    local report, err = mirror_keeps({ features = MLST, mlsd = { gone = { lines = {} } },
      cwd = { gone = false } }, "gone")
    assert.is_nil(report)
    assert.matches("^550", err)
  end)

  it("vsftpd's '226 Transfer done (but failed to open directory)' is a failure", function()
    local report = mirror_keeps { lists = { [""] = { lines = TOP },
      keep = { lines = {}, final = "226 Transfer done (but failed to open directory)." } },
      files = { ["top.txt"] = { data = "top" } } }
    assert.are.same({ "keep" }, failed_paths(report))
    assert.matches("failed to open directory", report.failed[1].err)
  end)

  it("a mistyped root that is a file (LIST shows the file) is no folder", function()
    local report, err, code = mirror_keeps({ lists = {
      [""] = { lines = { ls("-", "r", 1) } }, r = { lines = { ls("-", "r", 1) } } },
      cwd = { r = false }, files = { r = { data = "r" } } }, "r")
    assert.is_nil(report)
    assert.matches("not a folder", err)
    assert.are.equal("proto", code)
  end)

  it("deletes nothing when the remote root cannot be entered to check it", function()
    local report = mirror_keeps({ lists = { r = { lines = { ls("-", "y.txt", 1),
      ls("-", "z.txt", 1) } } }, cwd = { r = false },
      files = { ["r/y.txt"] = { data = "y" }, ["r/z.txt"] = { data = "z" } } }, "r")
    assert.are.same({}, report.deleted)
    assert.are.same({ "keep", "keep/a.txt", "keep/deeper", "keep/deeper/b.txt", "top.txt" },
      failed_paths(report))
    assert.matches("^not deleted: a root folder cannot be checked", report.failed[1].err)
    assert.are.same({ "y.txt", "z.txt" }, (function()
      table.sort(report.created)
      return report.created
    end)())
  end)
end)

describe("4. hidden files are files", function()
  local DOTS = {
    hide_dotfiles = true,
    lists = {
      [""] = { lines = { ls("-", ".htaccess", 4), ls("d", ".well-known"), ls("-", "index", 5) } },
      [".well-known"] = { lines = { ls("-", "security.txt", 3) } },
    },
    files = { [".htaccess"] = { data = "deny" }, index = { data = "index" },
      [".well-known/security.txt"] = { data = "sec" } },
  }

  it("mirror copies dotfiles from a server that shows them with LIST -a only", function()
    srv = hostile.start(DOTS)
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target, { delete = true }))
    ftp:close()
    assert.are.same({}, report.failed)
    assert.are.same({ [".htaccess"] = "deny", [".well-known"] = "<dir>",
      [".well-known/security.txt"] = "sec", index = "index" }, box:inside())
  end)

  it("learns once per session whether LIST -a works", function()
    srv = hostile.start(DOTS)
    local ftp = srv:session()
    assert(ftp:mirror("", box.target))
    assert(ftp:list(""))
    ftp:close()
    local with_a, plain = 0, 0
    for _, command in ipairs(srv:commands()) do
      if command:match("^LIST %-a") then with_a = with_a + 1 end
      if command:match("^LIST") and not command:match("^LIST %-a") then plain = plain + 1 end
    end
    assert.are.equal(3, with_a)
    assert.are.equal(0, plain)
  end)

  it("falls back to plain LIST where -a is refused, once", function()
    local scenario = { list_a = false, lists = DOTS.lists, files = DOTS.files }
    srv = hostile.start(scenario)
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target))
    ftp:close()
    assert.are.same({}, report.failed)
    assert.are.equal("index", proc.read_file(box:path("index")))
    local with_a = 0
    for _, command in ipairs(srv:commands()) do
      if command:match("^LIST %-a") then with_a = with_a + 1 end
    end
    assert.are.equal(1, with_a)
  end)

  it("a plain LIST after a refused LIST -a vouches for no dotfile: local ones are kept",
    function()
    srv = hostile.start { list_a = false, hide_dotfiles = true, lists = DOTS.lists,
      files = DOTS.files }
    box:write(".mine", "local dotfile")
    box:write(".git/config", "local dot-folder")
    box:write("gone.txt", "really gone")
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target, { delete = true }))
    ftp:close()
    assert.are.same({}, report.failed)
    assert.are.same({ "gone.txt" }, report.deleted)
    assert.are.same({ [".mine"] = "local dotfile", [".git"] = "<dir>",
      [".git/config"] = "local dot-folder", index = "index" }, box:inside())
    assert.are.equal(2, #report.kept)
    assert.are.equal(".git", report.kept[1].path)
    assert.are.equal(".mine", report.kept[2].path)
    assert.matches("^not deleted: a dotfile, and its folder's listing %(a plain LIST",
      report.kept[2].reason)
  end)

  it("a plain LIST that shows dotfiles vouches for them", function()
    srv = hostile.start { list_a = false, lists = DOTS.lists, files = DOTS.files }
    box:write(".mine", "local dotfile")
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target, { delete = true }))
    ftp:close()
    assert.are.same({}, report.failed)
    assert.are.same({ ".mine" }, report.deleted)
    assert.are.same({}, report.kept)
    assert.are.equal("deny", proc.read_file(box:path(".htaccess")))
  end)

  it("hidden = false leaves dotfiles out on both sides, and deletes none", function()
    srv = hostile.start(DOTS)
    box:write(".mine", "local dotfile")
    local ftp = srv:session()
    local report = assert(ftp:mirror("", box.target, { delete = true, hidden = false }))
    ftp:close()
    assert.are.same({}, report.failed)
    assert.are.same({ [".mine"] = "local dotfile", index = "index" }, box:inside())
  end)
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

describe("7. bounded walks", function()
  it("an endless tree stops at max_depth, reported, within bounds", function()
    srv = hostile.start { rules = { { pattern = "^deep", lines = { ls("d", "x", 4096,
      "Jan 01  2020"), ls("-", "f", 1) } } }, default_file = "f" }
    local ftp = srv:session()
    local errors, folders = {}, 0
    within(60, function()
      for _ in ftp:walk("deep", { max_depth = 20, onerror = function(path, err, code)
        errors[#errors + 1] = { path, err, code }
      end }) do
        folders = folders + 1
      end
    end)
    assert.are.equal(21, folders)
    assert.are.equal(1, #errors)
    assert.are.equal("limit", errors[1][3])
    local report = within(120, function() return assert(ftp:mirror("deep", box.target)) end)
    ftp:close()
    assert.are.equal(1, #report.failed)
    assert.matches("max_depth %(256%)", report.failed[1].err)
    box:assert_contained()
  end)

  -- Every folder holds folders a and b: 2^256 folders within max_depth.
  local BINARY = { rules = { { pattern = "", lines = { ls("d", "a"), ls("d", "b") } } } }

  it("an endless binary tree ends at max_entries, each folder not listed reported", function()
    srv = hostile.start(BINARY)
    local ftp = srv:session()
    local errors, folders = {}, 0
    within(30, function()
      for _, dirs in ftp:walk("", { max_entries = 200, onerror = function(path, err, code, stopped)
        errors[#errors + 1] = { path = path, err = err, code = code, stopped = stopped }
      end }) do
        folders = folders + 1
        assert.are.equal(2, #dirs)
      end
    end)
    assert.are.equal(100, folders) -- 2 entries each: the 101st passes 200
    assert.is_true(#errors >= 2)
    for _, e in ipairs(errors) do
      assert.are.equal("limit", e.code)
      assert.is_true(e.stopped)
      assert.matches("more than max_entries %(200%) entries listed", e.err)
    end
    ftp:close()
  end)

  it("mirror of an endless binary tree ends at max_entries and deletes nothing", function()
    srv = hostile.start(BINARY)
    box:write("keep.txt", "mine")
    box:write("a/b/keep.txt", "mine too")
    local ftp = srv:session()
    local report = within(30, function()
      return assert(ftp:mirror("", box.target, { delete = true, max_entries = 60 }))
    end)
    ftp:close()
    assert.are.same({}, report.deleted)
    assert.are.equal("mine", proc.read_file(box:path("keep.txt")))
    assert.are.equal("mine too", proc.read_file(box:path("a/b/keep.txt")))
    local nothing_deleted = failure_of(report, "")
    assert.matches("^nothing deleted: the walk stopped: more than max_entries %(60%)",
      nothing_deleted.err)
    assert.are.equal("limit", nothing_deleted.code)
    assert.is_true(#report.failed > 2)
    assert.has_error(function() ftp:mirror("", box.target, { max_entries = -1 }) end)
    box:assert_contained()
  end)

  it("a folder that lists itself is entered once", function()
    local self_line = ls("d", "loop", 4096, "Jan 01  2020")
    srv = hostile.start { lists = { [""] = { lines = { self_line } } },
      rules = { { pattern = "^loop", lines = { self_line } } } }
    local ftp = srv:session()
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    local root_report, err = ftp:mirror("loop", box.target)
    ftp:close()
    assert.are.same({ "loop" }, failed_paths(report))
    assert.matches("only the folder itself", report.failed[1].err)
    assert.is_nil(root_report)
    assert.matches("only the folder itself", err)
  end)

  it("an MLSD entry with an empty name (or .) is rejected, not its parent again", function()
    srv = hostile.start { features = MLST, rules = { { kind = "MLSD", pattern = "",
      lines = { "type=dir; ", "type=dir; .", "type=dir;unique=1; ..", mlsx("file", "f", 1) } } },
      files = { f = { data = "f" } } }
    local ftp = srv:session()
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    ftp:close()
    assert.are.same({ "f" }, report.created)
    assert.are.equal(1, #report.failed)
    assert.matches("empty name", report.failed[1].err)
  end)

  it("MLSD's unique fact stops a loop through a folder shown twice", function()
    srv = hostile.start { features = MLST, mlsd = {
      [""] = { lines = { "type=dir;unique=A; a", "type=dir;unique=A; b" } },
      a = { lines = { "type=dir;unique=A; again" } },
      b = { lines = { "type=file;size=0; z" } } } }
    local ftp = srv:session()
    local paths = {}
    within(20, function()
      for dirpath in ftp:walk("") do paths[#paths + 1] = dirpath end
    end)
    ftp:close()
    assert.are.same({ "", "a" }, paths)
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

describe("10. the command-line tool", function()
  it("never shows a URL's password, even in errors", function()
    srv = hostile.start { lists = { [""] = { reply = "550 refused" } } }
    local url = ("ftp://me:S3cr%%21t@127.0.0.1:%d/"):format(srv.port)
    local status, out, err = run_tool("bin/ftplib", "ls", url)
    assert.are.equal(4, status)
    assert.is_nil((out .. err):find("S3cr", 1, true), err)
    assert.matches("me:%*%*%*@", err)
    local _
    status, _, err = run_tool("bin/ftplib", "ls", "ftp://me:pa%zzword@127.0.0.1:1/")
    assert.are.equal(1, status)
    assert.is_nil(err:find("pa%zz", 1, true), err)
  end)

  it("refuses ports above 65535 instead of wrapping them", function()
    local status, _, err = run_tool("bin/ftplib", "ls", "ftp://127.0.0.1:65557/")
    assert.are.equal(1, status)
    assert.matches("port out of range", err)
  end)

  it("escapes control characters of listed names on a terminal", function()
    srv = hostile.start { features = MLST, mlsd = { [""] = { lines = {
      mlsx("file", "evil\27]0;owned\7name", 1) } } } }
    local out, err = {}, {}
    local function sink(list)
      return { write = function(self, ...) for _, s in ipairs { ... } do list[#list + 1] = s end
        return self end, flush = function() end }
    end
    local status = require("ftplib.cli.main").main({ "ls", srv:url("") },
      { stdout = sink(out), stderr = sink(err), stdout_terminal = true })
    assert.are.equal(0, status, table.concat(err))
    local text = table.concat(out)
    assert.is_nil(text:find("\27", 1, true))
    assert.matches("evil\\x1b%]0;owned\\x07name", text)
  end)

  -- Runs `ftplib get` of remote file `name` from srv, sends it SIGINT once the .part
  -- has data, and answers its exit status and stderr; within `bound` seconds.
  local function interrupt_get(name, bound)
    lfs.mkdir(box.target)
    local dir = proc.tempdir("hostile-int")
    local script = dir .. "/run.sh"
    -- A shell that waits for the .part to grow, then sends SIGINT to the tool.
    proc.write_file(script, ([[
%s lua5.4 %s get %s %s 2> %s/err &
pid=$!
for i in $(seq 1 100); do
  [ -s %s ] && break
  sleep 0.05
done
sleep 0.2
kill -INT $pid
wait $pid
echo $? > %s/status
]]):format(ENV, proc.shell_quote(ROOT .. "/bin/ftplib"), proc.shell_quote(srv:url(name)),
      proc.shell_quote(box:path(name)), dir, proc.shell_quote(box:path(name .. ".part")), dir))
    within(bound, function() os.execute("bash " .. proc.shell_quote(script)) end)
    local status = tonumber(proc.read_file(dir .. "/status"))
    local err = proc.read_file(dir .. "/err")
    proc.rmtree(dir)
    return status, err
  end

  it("exits 130 on Ctrl-C and names the .part it kept", function()
    srv = hostile.start { files = { slow = { data = ("s"):rep(200000), chunk = 1000,
      pause = 0.05, mdtm = "20200101000000" } } }
    local status, err = interrupt_get("slow", 30)
    assert.are.equal(130, status, err)
    assert.matches("interrupted; the partial download is kept in .*slow%.part", err)
    assert.is_true(lfs.attributes(box:path("slow.part"), "size") > 0)
  end)

  it("exits on Ctrl-C at once while the server stalls (not at the next byte)", function()
    -- One block, then 40 s of silence: the tool's timeout (60 s) is far away.
    srv = hostile.start { files = { stalled = { data = ("s"):rep(4000), chunk = 1000,
      pause = 40, mdtm = "20200101000000" } } }
    local status, err = interrupt_get("stalled", 15)
    assert.are.equal(130, status, err)
    assert.matches("interrupted; the partial download is kept in .*stalled%.part", err)
  end)
end)

describe("odd servers (issue 12)", function()
  it("strips the CRs of lines ending in CR CR LF (Globus GridFTP)", function()
    srv = hostile.start { features = MLST,
      mlsd = { [""] = { eol = "\r\r\n", lines = { mlsx("file", "f", 1) } } },
      lists = { [""] = { eol = "\r\r\n", lines = { ls("-", "f", 1) } } },
      files = { f = { data = "f" } } }
    local ftp = srv:session()
    local entries = assert(ftp:list(""))
    assert.are.equal("f", entries[1].name)
    assert.are.same({ "f" }, assert(ftp:nlst("")))
    local report = assert(ftp:mirror("", box.target))
    ftp:close()
    assert.are.same({ "f" }, report.created)
    assert.are.same({}, report.failed)
  end)

  it("sends a name listed raw (not GBK, but valid UTF-8) back as it came", function()
    local RAW = "\228\184\173" -- UTF-8 for U+4E2D; as GBK, a pair and a lone lead byte
    local GBK_DIR, UTF8_DIR = "\206\196", "\230\150\135" -- U+6587 in GBK, in UTF-8
    local lines, files, expected = {}, {}, { [UTF8_DIR] = "<dir>" }
    for i = 1, 4 do
      local name = i .. RAW
      lines[i] = ls("-", name, 1)
      -- Slow, so that the clone of a parallel mirror takes some of them.
      files[GBK_DIR .. "/" .. name] = { data = tostring(i), chunk = 1, pause = 0.2 }
      expected[UTF8_DIR .. "/" .. name] = tostring(i)
    end
    files[RAW], expected[RAW] = { data = "raw" }, "raw"
    srv = hostile.start { lists = { [""] = { lines = { ls("-", RAW, 3), ls("d", GBK_DIR) } },
      [GBK_DIR] = { lines = lines } }, files = files }
    local ftp = srv:session { encoding = "gbk" }
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    assert.are.same({}, report.failed)
    assert.are.same(expected, box:inside())
    -- The same from the clones of a parallel mirror, and from download and delete.
    for i = 1, 4 do os.remove(box:path(UTF8_DIR .. "/" .. i .. RAW)) end
    report = assert(ftp:mirror("", box.target, { parallel = 3 }))
    assert.are.same({}, report.failed)
    assert.are.equal(4, #report.created)
    assert.are.same(expected, box:inside())
    assert.are.equal(3, ftp:download(RAW, box:path("again")))
    assert(ftp:delete(RAW))
    ftp:close()
    srv:stop()
    assert.are.same({ RAW }, srv:events("deleted"))
    local users = 0
    for _, command in ipairs(srv:commands()) do
      if command:match("^USER") then users = users + 1 end
    end
    assert.is_true(users > 1, "no clone logged in")
  end)

  it("list and walk send a path starting with - as ./path (ls takes it so); nlst, dir and"
    .. " mlsd send what the caller wrote (Python's dir('-la'))", function()
    srv = hostile.start { features = MLST, lists = { ["-d"] = { lines = { ls("-", "a", 1) } } },
      mlsd = { ["-d"] = { lines = { mlsx("file", "a", 1) } } } }
    local ftp = srv:session()
    -- What these answer is the server's business (hostftp, as ls, reads "-d" as an
    -- option): only what they send is checked.
    ftp:nlst("-d")
    ftp:dir("-d", function() end)
    local entries = ftp:mlsd("-d")
    if entries then for _ in entries do end end
    assert.are.equal("a", assert(ftp:list("-d"))[1].name)
    for _ in ftp:walk("-d") do end
    ftp:close()
    local sent = {}
    for _, command in ipairs(srv:commands()) do
      if command:match("^%u+ .*%-d") then sent[#sent + 1] = command end
    end
    assert.are.same({ "NLST -d", "LIST -d", "MLSD -d", "MLSD ./-d", "MLST ./-d",
      "MLSD ./-d" }, sent)
  end)

  it("upload resume without REST or APPE starts over and says so (Twisted)", function()
    srv = hostile.start { refuse_rest = true, refuse_appe = true,
      files = { up = { data = "half" } } }
    local source = box:write("source", "half and the rest")
    local ftp = srv:session()
    local bytes, info = ftp:upload(source, "up", { resume = true })
    ftp:close()
    assert.are.equal(17, bytes, info)
    assert.matches("neither REST %+ STOR nor APPE", info.restarted)
    assert.are.same({ "up 17" }, srv:events("stored"))
  end)

  it("atomic upload replaces a file where RNTO onto it is refused (aioftp)", function()
    srv = hostile.start { refuse_rename_over = "550 path already exists",
      files = { up = { data = "old" } } }
    local source = box:write("source", "new version")
    local ftp = srv:session()
    local bytes, info = ftp:upload(source, "up", { atomic = true })
    ftp:close()
    assert.are.equal(11, bytes, info)
    assert.matches("moved aside, then deleted", info.replaced)
    assert.are.same({ "up -> up.part.old", "up.part -> up" }, srv:events("renamed"))
    assert.are.same({ "up.part.old" }, srv:events("deleted"))
  end)
end)

describe("atomic uploads never lose the remote file", function()
  local function upload(scenario)
    srv = hostile.start(scenario)
    local source = box:write("source", "new version")
    local ftp = srv:session()
    local bytes, info, code = within(20, function()
      return ftp:upload(source, "up", { atomic = true })
    end)
    ftp:close()
    srv:stop()
    return bytes, info, code
  end

  it("keeps the old file when every rename is refused, even where DELE works", function()
    local bytes, err, code = upload { rnfr_refusals = { "550 Rename refused", "550 Rename refused",
      "550 Rename refused", "550 Rename refused" }, files = { up = { data = "old" } } }
    assert.is_nil(bytes)
    assert.are.equal(550, code, err)
    assert.are.same({}, srv:events("renamed"))
    assert.are.same({ "up.part" }, srv:events("deleted")) -- the temporary only
  end)

  it("keeps the old file when RNTO is refused for another reason than the name", function()
    local bytes, err, code = upload { refuse_rename_over = "553 Permission denied",
      files = { up = { data = "old" } } }
    assert.is_nil(bytes)
    assert.are.equal(553, code)
    assert.matches("Permission denied", err)
    assert.are.same({}, srv:events("renamed"))
    assert.are.same({ "up.part" }, srv:events("deleted"))
  end)

  it("says so when the old file, moved aside, cannot be deleted", function()
    local bytes, info = upload { refuse_rename_over = "550 path already exists",
      refuse_dele = { ["up.part.old"] = "550 Permission denied" },
      files = { up = { data = "old" } } }
    assert.are.equal(11, bytes, info)
    assert.matches("moved aside to up%.part%.old, which could not be deleted %(550 Permission",
      info.replaced)
    assert.are.same({ "up -> up.part.old", "up.part -> up" }, srv:events("renamed"))
    assert.are.same({}, srv:events("deleted"))
  end)

  it("keeps both files when neither can take the name after the old one moved aside",
    function()
    local bytes, err = upload { refuse_rename_over = "550 path already exists",
      rnfr_refusals = { [3] = "550 Rename refused", [4] = "550 Rename refused" },
      files = { up = { data = "old" } } }
    assert.is_nil(bytes)
    assert.matches("up was moved aside to up%.part%.old, then neither the new file %(up%.part%) "
      .. "nor the old one could take its name .*: both kept", err)
    assert.are.same({ "up -> up.part.old" }, srv:events("renamed"))
    assert.are.same({}, srv:events("deleted")) -- the new file is kept
  end)

  it("never replaces a folder that has the name (aioftp's refusal)", function()
    local bytes, err, code = upload { refuse_rename_over = "550 path already exists",
      cwd = { up = true } }
    assert.is_nil(bytes)
    assert.are.equal(550, code)
    assert.matches("^up: a folder has that name, not replaced", err)
    assert.are.same({}, srv:events("renamed"))
    assert.are.same({ "up.part" }, srv:events("deleted"))
  end)
end)

describe("a protected empty listing without close_notify (spec/support/fake.lua)", function()
  local fake = require "spec.support.fake"
  local certs = require "spec.support.certs"

  -- pyftpdlib ends empty listings so; an attacker cutting the data connection too.
  it("is taken as empty, but mirror deletes nothing on its strength", function()
    local fake_srv = fake.start(fake.script({
      { send = "220 fake ready\r\n" },
      { expect = "^AUTH TLS$" }, { send = "234 go ahead\r\n" }, { tls = "good" },
      { expect = "^USER anonymous$" }, { send = "331 password\r\n" },
      { expect = "^PASS " }, { send = "230 in\r\n" },
      { expect = "^PBSZ 0$" }, { send = "200 PBSZ=0\r\n" },
      { expect = "^PROT P$" }, { send = "200 protected\r\n" },
      { expect = "^FEAT$" }, { send = "211-Features:\r\n MLST type*;size*;\r\n211 End\r\n" },
      { pasv = true },
      { serve = { MLST = "550 no MLST here\r\n", TYPE = "200 ok\r\n",
        EPSV = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" }, last = "EPSV" },
      { expect = "^MLSD d$" }, { send = "150 listing\r\n" },
      { accept = true }, { data_tls = "good" }, { data_close = true },
      { send = "226 done\r\n" },
      { serve = { PWD = '257 "/" is the folder\r\n', CWD = "250 ok\r\n",
        NOOP = "200 ok\r\n", QUIT = "221 bye\r\n" }, last = "QUIT" },
    }), { timeout = 20, certs = certs.get() })
    finally(function() fake_srv:stop() end)
    box:write("keep.txt", "mine")
    box:write(".dot", "mine, dot")
    box:write("sub/a.txt", "mine a")
    local before = box:inside()
    local ftp = assert(ftplib.FTP_TLS(fake_srv.host, { port = fake_srv.port, user = "anonymous",
      passwd = "guest", timeout = 5, tls = { cafile = certs.get().ca } }))
    local report = within(20, function()
      return assert(ftp:mirror("d", box.target, { delete = true }))
    end)
    ftp:quit()
    assert.is_true(fake_srv:wait(5))
    assert.are.same({}, fake_srv:errors())
    assert.are.same(before, box:inside())
    assert.are.same({}, report.deleted)
    assert.are.same({ ".dot", "keep.txt", "sub" }, (function()
      local paths = {}
      for _, kept in ipairs(report.kept) do paths[#paths + 1] = kept.path end
      return paths
    end)())
    assert.matches("^not deleted: its folder's listing may have been cut %(the protected "
      .. "listing ended without TLS close_notify", report.kept[1].reason)
  end)
end)

describe("GNU inetutils ftpd, step by step (spec/support/fake.lua)", function()
  local fake = require "spec.support.fake"

  -- LIST of a missing folder as GNU inetutils and netkit ftpd answer it: a 150, the
  -- error of ls on the data connection, a 226.
  local function gnu_answer(command)
    return {
      { expect = "^EPSV$" }, { pasv = true },
      { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" },
      { expect = "^" .. command:gsub("%p", "%%%0") .. "$" },
      { send = "150 Opening ASCII mode data connection for '/bin/ls'.\r\n" },
      { accept = true },
      { data_send = "ls: cannot access 'missing': No such file or directory\r\n" },
      { data_close = true },
      { send = "226 Transfer complete.\r\n" },
    }
  end

  it("walk takes the answer for a folder it cannot read, asking plain LIST once", function()
    local fake_srv = fake.start(fake.script(fake.login_steps(),
      { { expect = "^TYPE A$" }, { send = "200 ok\r\n" } },
      gnu_answer("LIST -a missing"), fake.pipelining_probe(), gnu_answer("LIST missing"),
      -- A listing of lines no parser reads: list asks whether the folder is there.
      { { expect = "^PWD$" }, { send = "257 \"/\" is the current directory.\r\n" },
        { expect = "^CWD missing$" },
        { send = "550 missing: No such file or directory.\r\n" } }), { timeout = 20 })
    finally(function() fake_srv:stop() end)
    local ftp = assert(ftplib.FTP(fake_srv.host, { port = fake_srv.port, user = "anonymous",
      passwd = "guest", timeout = 10 }))
    local errors, folders = {}, 0
    for _ in ftp:walk("missing", { onerror = function(path, err, code)
      errors[#errors + 1] = { path = path, err = err, code = code }
    end }) do
      folders = folders + 1
    end
    ftp:close()
    assert.is_true(fake_srv:wait(5))
    assert.are.same({}, fake_srv:errors())
    assert.are.equal(0, folders)
    assert.are.same({ { path = "missing", code = 550,
      err = "550 missing: No such file or directory." } }, errors)
    -- Nothing is learnt about LIST -a from an answer nobody can read.
    assert.is_nil(ftp._list_a)
  end)
end)
