-- The untrusted-listing invariants against real servers: dotfiles on a server that
-- lists them only with LIST -a (vsftpd), a folder one may enter but not read (mode
-- 0711, owned by root) under delete = true, and a mistyped remote folder under
-- delete = true, which must never delete the local copy.
--
-- Each server kind is one row of SERVER_KINDS (GNU inetutils ftpd among them: it
-- answers LIST of a missing folder with ls's error line); a new kind needs only a
-- row: `unreadable_0711` when its
-- sessions run as the test user (so that mode 0711 keeps them out), `list_only` when it
-- has no MLSD (its LIST must show dotfiles through -a).
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local SERVER_KINDS = {
  { kind = "vsftpd", list_only = true, unreadable_0711 = true },
  { kind = "pyftpdlib" }, -- runs as root: mode 0711 does not keep it out
  { kind = "proftpd", unreadable_0711 = true },
  { kind = "inetutils", list_only = true, unreadable_0711 = true },
}

local function snapshot(dir, rel, into)
  into = into or {}
  local path = rel and (dir .. "/" .. rel) or dir
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then
      local child = rel and (rel .. "/" .. name) or name
      if lfs.attributes(dir .. "/" .. child, "mode") == "directory" then
        into[child] = "<dir>"
        snapshot(dir, child, into)
      else
        into[child] = proc.read_file(dir .. "/" .. child)
      end
    end
  end
  return into
end

local function write(path, content)
  os.execute("mkdir -p " .. proc.shell_quote(path:match("^(.*)/[^/]*$")))
  proc.write_file(path, content)
end

for _, row in ipairs(SERVER_KINDS) do
  if servers.available(row.kind) then
    describe("untrusted listings on " .. row.kind, function()
      local s, tmp, ftp

      lazy_setup(function()
        s = servers.start(row.kind)
        tmp = proc.tempdir("untrusted")
        s:write("site/index.html", "index")
        s:write("site/.htaccess", "deny from all")
        s:write("site/.well-known/security.txt", "contact")
        s:write("site/locked/secret.txt", "secret")
        -- Owned by root, mode 0711: the test user may enter, not read.
        assert(os.execute("chown -R root:root " .. proc.shell_quote(s:path("site/locked"))
          .. " && chmod 0711 " .. proc.shell_quote(s:path("site/locked"))))
      end)

      lazy_teardown(function()
        if s then s:stop() end
        if tmp then proc.rmtree(tmp) end
      end)

      before_each(function()
        ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
          timeout = 20 }))
      end)

      after_each(function()
        if ftp then ftp:close() end
      end)

      it("mirrors dotfiles and dot-folders", function()
        local target = tmp .. "/dots"
        local report = assert(ftp:mirror("site", target))
        assert.are.equal("deny from all", proc.read_file(target .. "/.htaccess"))
        assert.are.equal("contact", proc.read_file(target .. "/.well-known/security.txt"))
        assert.are.equal("index", proc.read_file(target .. "/index.html"))
        local created = {}
        for _, path in ipairs(report.created) do created[path] = true end
        assert.is_true(created[".htaccess"] and created[".well-known/security.txt"])
        if row.list_only then
          assert.is_true(ftp._list_a, "LIST -a learnt")
        end
      end)

      it("keeps local dotfiles under delete = true, and leaves them out with hidden = false",
        function()
        local target = tmp .. "/dots-delete"
        assert(ftp:mirror("site", target))
        write(target .. "/.mine", "local only, dot")
        local report = assert(ftp:mirror("site", target, { delete = true, hidden = false }))
        assert.are.same({}, report.deleted)
        assert.are.equal("local only, dot", proc.read_file(target .. "/.mine"))
        report = assert(ftp:mirror("site", target, { delete = true }))
        assert.are.same({ ".mine" }, report.deleted) -- hidden files are files
        assert.are.equal("deny from all", proc.read_file(target .. "/.htaccess"))
      end)

      if row.unreadable_0711 then
        it("keeps the local copy of a folder it may enter but not read (0711)", function()
          local target = tmp .. "/locked"
          write(target .. "/locked/secret.txt", "my copy")
          write(target .. "/locked/deeper/more.txt", "more")
          local before = snapshot(target .. "/locked")
          local report = assert(ftp:mirror("site", target, { delete = true }))
          local failed = {}
          for _, failure in ipairs(report.failed) do failed[failure.path] = failure.err end
          assert.is_string(failed.locked, "the folder is reported unreadable")
          assert.are.same(before, snapshot(target .. "/locked"))
          assert.is_nil(lfs.attributes(target .. "/locked/locked"), "no bogus file")
          for _, path in ipairs(report.deleted) do
            assert.is_nil(path:find("^locked"), "deleted " .. path)
          end
        end)

        it("fails a mirror of the unreadable folder itself, deleting nothing", function()
          local target = tmp .. "/locked-root"
          write(target .. "/secret.txt", "my copy")
          local report, err = ftp:mirror("site/locked", target, { delete = true })
          assert.is_nil(report)
          assert.is_string(err)
          assert.are.equal("my copy", proc.read_file(target .. "/secret.txt"))
        end)
      end

      -- GNU inetutils passes LIST's argument to ls: "LIST -a -d" lists "." and
      -- "LIST -a -t" the parent, so "-d" looked empty and "-t" held itself forever.
      it("lists folders named like ls options (-d, -t) as folders, from the root", function()
        s:write("dash/-d/a", "remote a")
        s:write("dash/-t/x", "remote x")
        s:write("dash/top", "top")
        local target = tmp .. "/dash"
        write(target .. "/-d/a", "local a")
        assert(ftp:cwd("dash"))
        local report = assert(ftp:mirror("", target, { delete = true, max_depth = 4 }))
        assert(ftp:cwd(".."))
        assert.are.same({}, report.failed)
        assert.are.same({}, report.deleted)
        assert.are.same({ ["-d"] = "<dir>", ["-d/a"] = "remote a", ["-t"] = "<dir>",
          ["-t/x"] = "remote x", top = "top" }, snapshot(target))
      end)

      it("an atomic upload onto a folder's name fails and leaves the folder alone", function()
        s:write("atomic-dir/f/inside.txt", "inside")
        local source = tmp .. "/atomic-source"
        write(source, "new")
        local bytes, err = ftp:upload(source, "atomic-dir/f", { atomic = true })
        assert.is_nil(bytes)
        assert.matches("^atomic%-dir/f: a folder has that name, not replaced", err)
        assert.are.equal("inside", s:read("atomic-dir/f/inside.txt"))
        assert.are.same({ f = "<dir>", ["f/inside.txt"] = "inside" },
          snapshot(s:path("atomic-dir")))
      end)

      it("deletes nothing when the remote folder is mistyped", function()
        local target = tmp .. "/mistyped"
        write(target .. "/a.txt", "mine")
        write(target .. "/sub/b.txt", "mine too")
        local before = snapshot(target)
        local report, err, code = ftp:mirror("sitte", target, { delete = true })
        assert.is_nil(report)
        assert.is_string(err)
        assert.is_not_nil(code)
        assert.are.same(before, snapshot(target))
      end)
    end)
  end
end

-- Temporaries of downloads running side by side: remote x, x.part and x.1 once gave
-- x and x.1 the same x.1.part (x failed: x.1's download removed its .part; with equal
-- sizes a file could take another's bytes). vsftpd with a rate limit, so that the
-- parallel downloads overlap.
if servers.available("vsftpd") then
  describe("temporaries of parallel downloads (vsftpd)", function()
    local s, tmp
    local SIZE = 150000 -- 1.5 s at 100 kB/s

    lazy_setup(function()
      s = servers.start("vsftpd", { max_rate = 100000 })
      tmp = proc.tempdir("untrusted-parts")
      for name, byte in pairs { x = "x", ["x.part"] = "p", ["x.1"] = "1" } do
        s:write("three/" .. name, byte:rep(SIZE))
      end
    end)

    lazy_teardown(function()
      if s then s:stop() end
      if tmp then proc.rmtree(tmp) end
    end)

    local function assert_three(dir)
      assert.are.same({ x = ("x"):rep(SIZE), ["x.part"] = ("p"):rep(SIZE),
        ["x.1"] = ("1"):rep(SIZE) }, snapshot(dir))
    end

    it("mirror gives x, x.part and x.1 temporaries of their own (parallel = 3)", function()
      local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
        timeout = 20 }))
      local report = assert(ftp:mirror("three", tmp .. "/mirror", { parallel = 3 }))
      ftp:close()
      assert.are.same({}, report.failed)
      assert_three(tmp .. "/mirror")
    end)

    it("download_many gives x, x.part and x.1 temporaries of their own (parallel = 3)",
      function()
      local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
        timeout = 20 }))
      assert(lfs.mkdir(tmp .. "/many"))
      local report = ftp:download_many({ "three/x", "three/x.part", "three/x.1" },
        { dir = tmp .. "/many", parallel = 3 })
      ftp:close()
      assert.are.same({}, report.failed)
      assert_three(tmp .. "/many")
    end)
  end)
end
