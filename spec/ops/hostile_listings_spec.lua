-- The helpers against a hostile server (spec/support/hostile.lua, and the scripted fake
-- server for two step-by-step cases): listings that cannot be trusted are not empty
-- folders, hidden files are files, walks through endless or looping trees are bounded.
-- Each scenario runs in a sandbox (spec/support/sandbox.lua); after each one nothing
-- outside the target exists or changed, and nothing local that should stay was deleted.
local ftplib = require "ftplib"
local lfs = require "lfs"
local hostile = require "spec.support.hostile"
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local ls, mlsx = hostile.ls, hostile.mlsx
local MLST = hostile.MLST
local failed_paths, failure_of, within = sandbox.failed_paths, sandbox.failure_of, sandbox.within

-- The test's sandbox, and the hostile server it started: checked and stopped after it.
local box, srv
before_each(function() box = sandbox.new() end)
after_each(function() srv = sandbox.finish(box, srv) end)

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

describe("a protected empty listing without close_notify (spec/support/fake.lua)", function()
  local fake = require "spec.support.fake"
  local certs = require "spec.support.certs"

  -- pyftpdlib ends empty listings so; an attacker cutting the data connection too.
  it("is taken as empty, but mirror deletes nothing on its strength", function()
    local fake_srv = fake.start(fake.script(fake.tls_login_steps("good", { "MLST type*;size*;" }), {
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
    return fake.script(fake.epsv_steps(), fake.sending_steps(
      "^" .. command:gsub("%p", "%%%0") .. "$",
      "150 Opening ASCII mode data connection for '/bin/ls'.",
      "ls: cannot access 'missing': No such file or directory\r\n", "226 Transfer complete."))
  end

  it("walk takes the answer for a folder it cannot read, asking plain LIST once", function()
    local fake_srv = fake.start(fake.script(fake.login_steps(),
      fake.type_steps("A", "200 ok"),
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
