-- ftp:mirror and ftp:mirror_up against real servers (vsftpd: LIST; pyftpdlib and
-- proftpd: MLSD, MFMT; and the odd ones, servers.odd_kinds: GNU inetutils ftpd's LIST,
-- Twisted's LIST without MLSD, aioftp's MLSD and "257 " to MKD): nested and empty
-- folders, changed and deleted files, dry runs, second runs that skip everything, and a
-- failed file that does not stop the rest.
-- The servers serve a local folder, so both sides are checked byte for byte on disk.
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local now = require("ftplib.concurrency.wait").now
local KINDS = servers.kinds()
do
  local listed = false
  for _, kind in ipairs(KINDS) do listed = listed or kind == "proftpd" end
  if not listed and servers.available("proftpd") then KINDS[#KINDS + 1] = "proftpd" end
  for _, kind in ipairs(servers.odd_kinds()) do KINDS[#KINDS + 1] = kind end
end

local OLD_TIME = 1262304000 -- 2010-01-01

local function random_bytes(n)
  local bytes = {}
  for i = 1, n do bytes[i] = string.char(math.random(0, 255)) end
  return table.concat(bytes)
end

local read_file, write_file = proc.read_file, proc.write_file

-- Everything under root: { ["a/b.txt"] = content, ["a"] = true (a folder) }.
local function snapshot(root, rel, into)
  into = into or {}
  local path = rel and (root .. "/" .. rel) or root
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then
      local child = rel and (rel .. "/" .. name) or name
      local mode = lfs.symlinkattributes(root .. "/" .. child, "mode")
      if mode == "directory" then
        into[child] = true
        snapshot(root, child, into)
      elseif mode == "file" then
        into[child] = read_file(root .. "/" .. child)
      end
    end
  end
  return into
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

local function failed_paths(report)
  local paths = {}
  for _, failure in ipairs(report.failed) do paths[#paths + 1] = failure.path end
  return sorted(paths)
end

local function assert_nothing_done(report)
  assert.are.same({}, report.created)
  assert.are.same({}, report.updated)
  assert.are.same({}, report.deleted)
  assert.are.same({}, report.failed)
end

local function session(s)
  return assert(ftplib.FTP(s.host,
    { port = s.port, user = s.user, passwd = s.passwd, timeout = 20 }))
end

-- A remote file the server lists but neither sends nor overwrites. vsftpd and proftpd
-- run sessions as the test user: mode 000 does it. pyftpdlib runs as root: a link to a
-- file outside its root, which it lists (following the link) and refuses to touch.
local function make_untouchable(s, rel, content)
  local path = s:path(rel)
  if s.kind == "pyftpdlib" then
    local outside = s.dir .. "/outside-" .. rel:gsub("/", "_")
    write_file(outside, content)
    os.remove(path)
    assert(os.execute("ln -s " .. proc.shell_quote(outside) .. " " .. proc.shell_quote(path)))
  else
    s:write(rel, content)
    assert(os.execute("chmod 000 " .. proc.shell_quote(path)))
  end
end

local function temp_dir()
  return (proc.run("mktemp -d /tmp/ftplib-mirror.XXXXXX"):gsub("%s+$", ""))
end

for _, kind in ipairs(KINDS) do
  describe("mirror on " .. kind, function()
    local s, tmp
    local BIN = random_bytes(200000)

    lazy_setup(function()
      s = servers.start(kind)
      tmp = temp_dir()
    end)

    lazy_teardown(function()
      if s then s:stop() end
      if tmp then os.execute("rm -rf " .. proc.shell_quote(tmp)) end
    end)

    describe("down (ftp:mirror)", function()
      local ftp, target

      lazy_setup(function()
        s:write("down/a.txt", "alpha")
        s:write("down/my file.txt", "spaces")
        s:write("down/nested/b.bin", BIN)
        s:write("down/nested/deeper/c.txt", "charlie")
        s:mkdir("down/empty")
        s:mkdir("down/nested/emptier")
        ftp = session(s)
        target = tmp .. "/down"
      end)

      lazy_teardown(function()
        if ftp then ftp:close() end
      end)

      it("copies a tree with nested and empty folders, byte for byte", function()
        local progress = {}
        local report = assert(ftp:mirror("down", target, {
          progress = function(done, total, path)
            progress[path] = { done, total }
          end,
        }))
        assert.are.same({ "a.txt", "empty", "my file.txt", "nested", "nested/b.bin",
          "nested/deeper", "nested/deeper/c.txt", "nested/emptier" }, sorted(report.created))
        assert.are.same({}, report.failed)
        assert.are.same(snapshot(s:path("down")), snapshot(target))
        assert.are.equal("directory", lfs.attributes(target .. "/nested/emptier", "mode"))
        assert.are.same({ #BIN, #BIN }, progress["nested/b.bin"])
      end)

      it("skips everything on a second run", function()
        local report = assert(ftp:mirror("down", target))
        assert_nothing_done(report)
        assert.are.same({ "a.txt", "my file.txt", "nested/b.bin", "nested/deeper/c.txt" },
          sorted(report.skipped))
      end)

      it("reports changes and deletions in a dry run without making them", function()
        s:write("down/nested/b.bin", BIN .. "more") -- size changed
        s:write("down/a.txt", "ALPHA") -- same size, older time
        assert(lfs.touch(s:path("down/a.txt"), OLD_TIME, OLD_TIME))
        os.remove(s:path("down/nested/deeper/c.txt"))
        write_file(target .. "/local-only.txt", "x")
        assert(lfs.mkdir(target .. "/old"))
        write_file(target .. "/old/gone.txt", "y")
        local before = snapshot(target)
        local report = assert(ftp:mirror("down", target, { delete = true, dry_run = true }))
        assert.are.same({ "a.txt", "nested/b.bin" }, sorted(report.updated))
        assert.are.same({ "local-only.txt", "nested/deeper/c.txt", "old", "old/gone.txt" },
          sorted(report.deleted))
        assert.are.same({}, report.created)
        assert.are.same(before, snapshot(target))
      end)

      it("updates changed files and, with delete, removes what the server no longer has",
        function()
          local report = assert(ftp:mirror("down", target, { delete = true }))
          assert.are.same({ "a.txt", "nested/b.bin" }, sorted(report.updated))
          -- Deepest first: the file in old/ before old/ itself.
          local deleted = report.deleted
          local file_at, dir_at
          for i, path in ipairs(deleted) do
            if path == "old/gone.txt" then file_at = i elseif path == "old" then dir_at = i end
          end
          assert.is_true(file_at < dir_at)
          assert.are.same({}, report.failed)
          assert.are.same(snapshot(s:path("down")), snapshot(target))
          assert.are.equal(OLD_TIME, lfs.attributes(target .. "/a.txt", "modification"))
          assert_nothing_done(assert(ftp:mirror("down", target, { delete = true })))
        end)

      it("leaves local files newer than the server's alone with newer_only", function()
        write_file(target .. "/a.txt", "local edit")
        local report = assert(ftp:mirror("down", target, { newer_only = true }))
        assert.are.same({}, report.updated)
        assert.are.equal("local edit", read_file(target .. "/a.txt"))
        report = assert(ftp:mirror("down", target))
        assert.are.same({ "a.txt" }, report.updated)
        assert.are.equal("ALPHA", read_file(target .. "/a.txt"))
      end)

      it("goes on past a file it cannot download", function()
        make_untouchable(s, "down/nested/secret.txt", "secret")
        s:write("down/nested/z-after.txt", "after")
        s:write("down/a-before.txt", "before")
        local started = now()
        local report = assert(ftp:mirror("down", target))
        -- aioftp answers "451 file system error" and leaves the data connection open:
        -- the reply is seen while the data is quiet, not after the 20 s timeout.
        assert.is_true(now() - started < 10)
        assert.are.same({ "nested/secret.txt" }, failed_paths(report))
        assert.is_string(report.failed[1].err)
        assert.are.same({ "a-before.txt", "nested/z-after.txt" }, sorted(report.created))
        assert.are.equal("after", read_file(target .. "/nested/z-after.txt"))
        -- Neither the file nor its partial download is left behind under the final name.
        assert.is_nil(lfs.attributes(target .. "/nested/secret.txt"))
        assert(os.execute("rm -f " .. proc.shell_quote(s:path("down/nested/secret.txt"))))
      end)

      it("refuses to put a file where a folder is, unless delete is set", function()
        s:write("down/clash", "a file on the server")
        assert(lfs.mkdir(target .. "/clash"))
        write_file(target .. "/clash/inside.txt", "local")
        local report = assert(ftp:mirror("down", target))
        assert.are.same({ "clash" }, failed_paths(report))
        report = assert(ftp:mirror("down", target, { delete = true }))
        assert.are.same({}, report.failed)
        assert.are.same({ "clash" }, report.updated)
        assert.are.same({ "clash", "clash/inside.txt" }, sorted(report.deleted))
        assert.are.equal("a file on the server", read_file(target .. "/clash"))
      end)

      it("answers nil, msg, code when the remote folder cannot be listed", function()
        local report, err, code = ftp:mirror("no-such-folder", tmp .. "/never")
        assert.is_nil(report)
        assert.is_string(err)
        assert.is_true(math.type(code) == "integer" and code >= 450, tostring(code))
        -- Nothing is deleted on the strength of it (GNU inetutils ftpd lists a missing
        -- folder as 226 and one line of ls's error message).
        local kept = tmp .. "/kept"
        assert(lfs.mkdir(kept))
        write_file(kept .. "/mine.txt", "mine")
        report, err, code = ftp:mirror("no-such-folder", kept, { delete = true })
        assert.is_nil(report)
        assert.is_true(math.type(code) == "integer" and code >= 450, tostring(err))
        assert.are.equal("mine", read_file(kept .. "/mine.txt"))
      end)
    end)

    describe("up (ftp:mirror_up)", function()
      local ftp, source

      lazy_setup(function()
        source = tmp .. "/up-source"
        for _, dir in ipairs { "", "/nested", "/nested/deeper", "/empty", "/nested/emptier" } do
          assert(lfs.mkdir(source .. dir))
        end
        write_file(source .. "/a.txt", "alpha")
        write_file(source .. "/my file.txt", "spaces")
        write_file(source .. "/nested/b.bin", BIN)
        write_file(source .. "/nested/deeper/c.txt", "charlie")
        ftp = session(s)
      end)

      lazy_teardown(function()
        if ftp then ftp:close() end
      end)

      it("makes the remote folder and copies the tree, byte for byte", function()
        local report = assert(ftp:mirror_up(source, "up"))
        assert.are.same({ "a.txt", "empty", "my file.txt", "nested", "nested/b.bin",
          "nested/deeper", "nested/deeper/c.txt", "nested/emptier" }, sorted(report.created))
        assert.are.same({}, report.failed)
        assert.are.same(snapshot(source), snapshot(s:path("up")))
      end)

      it("skips everything on a second run", function()
        local report = assert(ftp:mirror_up(source, "up"))
        assert_nothing_done(report)
        assert.are.equal(4, #report.skipped)
      end)

      it("reports in a dry run, then updates and deletes", function()
        write_file(source .. "/nested/b.bin", "short now")
        os.remove(source .. "/nested/deeper/c.txt")
        assert(lfs.rmdir(source .. "/nested/deeper"))
        write_file(source .. "/new.txt", "new")
        local before = snapshot(s:path("up"))
        local report = assert(ftp:mirror_up(source, "up", { delete = true, dry_run = true }))
        assert.are.same({ "nested/b.bin" }, report.updated)
        assert.are.same({ "new.txt" }, report.created)
        assert.are.same({ "nested/deeper/c.txt", "nested/deeper" }, report.deleted)
        assert.are.same(before, snapshot(s:path("up")))

        report = assert(ftp:mirror_up(source, "up", { delete = true }))
        assert.are.same({ "nested/b.bin" }, report.updated)
        assert.are.same({ "new.txt" }, report.created)
        assert.are.same({ "nested/deeper/c.txt", "nested/deeper" }, report.deleted)
        assert.are.same({}, report.failed)
        assert.are.same(snapshot(source), snapshot(s:path("up")))
        assert_nothing_done(assert(ftp:mirror_up(source, "up", { delete = true })))
      end)

      it("refuses to put a folder where a file is, unless delete is set", function()
        s:write("up/clash", "a file on the server")
        assert(lfs.mkdir(source .. "/clash"))
        write_file(source .. "/clash/inside.txt", "inside")
        local report = assert(ftp:mirror_up(source, "up"))
        assert.are.same({ "clash" }, failed_paths(report))
        assert.are.same({}, report.created)
        report = assert(ftp:mirror_up(source, "up", { delete = true }))
        assert.are.same({}, report.failed)
        assert.are.same({ "clash" }, report.deleted)
        assert.are.same({ "clash/inside.txt" }, report.created)
        assert.are.same({ "clash" }, report.updated)
        assert.are.equal("inside", s:read("up/clash/inside.txt"))
      end)

      it("goes on past a file the server refuses", function()
        make_untouchable(s, "up/a.txt", "server's own")
        write_file(source .. "/a.txt", "a longer local version")
        write_file(source .. "/my file.txt", "changed too")
        local report = assert(ftp:mirror_up(source, "up"))
        assert.are.same({ "a.txt" }, failed_paths(report))
        assert.are.same({ "my file.txt" }, report.updated)
        assert.are.equal("changed too", s:read("up/my file.txt"))
      end)
    end)
  end)
end

describe("mirror_up from a missing local folder", function()
  it("answers nil, msg, 'io' before any command", function()
    local ftp = ftplib.FTP()
    local report, err, code = ftp:mirror_up("/nonexistent/ftplib-mirror", "x")
    assert.is_nil(report)
    assert.matches("nonexistent", err)
    assert.are.equal("io", code)
  end)
end)

describe("mirror arguments", function()
  it("raise on wrong types", function()
    local ftp = ftplib.FTP()
    assert.has_error(function()
      ftp:mirror(1, "x")
    end, "ftplib: bad argument #1 to 'mirror' (string expected, got number)")
    assert.has_error(function()
      ftp:mirror_up("x", "y", { delete = "yes" })
    end, "ftplib: bad argument #3 to 'mirror_up' (boolean expected, got string)")
    assert.has_error(function()
      ftp:mirror("x", "y", { dryrun = true })
    end, "ftplib: unknown option 'dryrun' to 'mirror'")
  end)
end)
