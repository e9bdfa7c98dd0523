-- on_error = "continue" | "stop" for download_many, mirror and mirror_up, against real
-- servers: "stop" ends the run at the first failure, the report says which and lists
-- what was not done, and nothing half-made is left under a final name.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local scaled = require "spec.support.scale"
local lfs = require "lfs"

local function login(s)
  return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
    timeout = 20 }))
end

-- rel, written first, made unreadable by the server: mode 000 (vsftpd runs as the test
-- account), or a link to a path outside its root (pyftpdlib lists it and refuses it).
local function unreadable(s, rel)
  local path = s:path(rel)
  if s.kind == "pyftpdlib" then
    local outside = s.dir .. "/outside-" .. rel:gsub("/", "_")
    assert(os.execute(("mv %s %s && ln -s %s %s"):format(proc.shell_quote(path),
      proc.shell_quote(outside), proc.shell_quote(outside), proc.shell_quote(path))))
  else
    assert(os.execute("chmod 000 " .. proc.shell_quote(path)))
  end
end

local function exists(path)
  return lfs.attributes(path) ~= nil
end

for _, kind in ipairs { "vsftpd", "pyftpdlib" } do
  describe("on_error against " .. kind, function()
    local s, tmp

    setup(function()
      s = servers.start(kind)
      tmp = proc.tempdir("on_error")
    end)

    teardown(function()
      s:stop()
      proc.rmtree(tmp)
    end)

    local function fresh(name)
      local dir = tmp .. "/" .. name .. "-" .. kind
      proc.run("mkdir -p " .. proc.shell_quote(dir))
      return dir
    end

    it("download_many goes on by default and stops at the first failure with stop",
      function()
        for i = 1, 3 do s:write("dm/f" .. i, ("%d"):format(i):rep(100)) end
        local files = { "dm/f1", "dm/missing", "dm/f2", "dm/f3" }
        local ftp <close> = login(s)
        local report = ftp:download_many(files, { dir = fresh("dm-continue") })
        assert.same({ "dm/f1", "dm/f2", "dm/f3" }, report.done)
        assert.is_nil(report.stopped)
        assert.same({}, report.pending)
        local dir = fresh("dm-stop")
        report = ftp:download_many(files, { dir = dir, on_error = "stop" })
        assert.same({ "dm/f1" }, report.done)
        assert.equal("dm/missing", report.stopped.path)
        assert.equal(550, report.stopped.code)
        assert.same({ report.stopped }, report.failed)
        assert.same({ "dm/f2", "dm/f3" }, report.pending)
        assert.is_false(exists(dir .. "/missing"))
        assert.is_false(exists(dir .. "/f2"))
      end)

    it("download_many with parallel sessions starts nothing after the failure", function()
      local files = {}
      for i = 1, 10 do
        files[i] = "dmp/f" .. i
        s:write(files[i], ("x"):rep(1000 * i))
      end
      -- The first file fails on the session already logged in, while the clone
      -- is still logging in (a file placed later could let the clone finish
      -- several small ones while the failing call is under way, on a loaded
      -- machine): after the failure, at most the clone's first one is done.
      files[1] = "dmp/missing"
      local ftp <close> = login(s)
      local report = ftp:download_many(files, { dir = fresh("dmp"), parallel = 2,
        on_error = "stop" })
      assert.equal("dmp/missing", report.stopped.path)
      assert.equal(10, #report.done + #report.failed + #report.pending)
      assert.equal(1, #report.failed)
      -- Under memcheck the failing call is slow enough for the clone to finish a few.
      local clone_done = scaled.seconds(1, 3)
      assert.is_true(#report.done <= clone_done, #report.done .. " done")
      assert.is_true(#report.pending >= 9 - clone_done, #report.pending .. " pending")
    end)

    it("mirror stops at a file it cannot download, leaving none under its name", function()
      s:write("md/a.txt", "a")
      s:write("md/b.txt", "b")
      s:write("md/c.txt", "c")
      unreadable(s, "md/b.txt")
      local dest = tmp .. "/md-" .. kind
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("md", dest, { on_error = "stop" }))
      assert.same({ "a.txt" }, report.created)
      assert.equal("b.txt", report.stopped.path)
      assert.same({ "c.txt" }, report.pending)
      assert.is_false(exists(dest .. "/b.txt"))
      assert.is_false(exists(dest .. "/c.txt"))
      -- The default goes on.
      report = assert(ftp:mirror("md", dest))
      assert.same({ "c.txt" }, report.created)
      assert.equal(1, #report.failed)
      assert.is_nil(report.stopped)
    end)

    it("mirror with parallel sessions starts no transfer after the failure", function()
      for i = 1, 10 do s:write(("mpar/f%02d"):format(i), ("p"):rep(1000 * i)) end
      unreadable(s, "mpar/f02")
      local dest = tmp .. "/mpar-" .. kind
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("mpar", dest, { on_error = "stop", parallel = 2 }))
      assert.equal("f02", report.stopped.path)
      assert.equal(1, #report.failed)
      assert.equal(10, #report.created + #report.failed + #report.pending)
      assert.is_true(#report.pending >= 7, #report.pending .. " pending")
      for _, rel in ipairs(report.pending) do
        assert.is_false(exists(dest .. "/" .. rel))
      end
      assert.is_false(exists(dest .. "/f02"))
    end)

    it("mirror with stop does nothing when reading the trees failed", function()
      s:write("mt/a.txt", "a")
      s:write("mt/locked/x.txt", "x")
      unreadable(s, "mt/locked")
      local dest = tmp .. "/mt-" .. kind
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("mt", dest, { on_error = "stop", delete = true }))
      assert.equal("locked", report.stopped.path)
      assert.same({}, report.created)
      assert.same({ "locked", "a.txt" }, report.pending) -- its mkdir, then the file
      assert.is_false(exists(dest .. "/a.txt"))
    end)

    it("mirror_up stops at an upload cut short, leaving nothing under its name", function()
      local source = fresh("mu-src")
      proc.write_file(source .. "/a.txt", "a")
      proc.write_file(source .. "/big.bin", ("b"):rep(1 << 20))
      proc.write_file(source .. "/c.txt", "c")
      local ftp <close> = login(s)
      local report = assert(ftp:mirror_up(source, "mu", { on_error = "stop",
        progress = function(done, _, path)
          if path == "big.bin" and done > 0 then return false end
        end }))
      assert.same({ "a.txt" }, report.created)
      assert.equal("big.bin", report.stopped.path)
      assert.equal("aborted", report.stopped.code)
      assert.same({ "c.txt" }, report.pending)
      assert.is_nil(s:read("mu/big.bin"))
      assert.is_nil(s:read("mu/big.bin.part"))
      assert.is_nil(s:read("mu/c.txt"))
    end)

    it("mirror with stop keeps a cut download in its .part only", function()
      s:write("mp/big.bin", ("z"):rep(1 << 20))
      s:write("mp/z.txt", "z")
      local dest = tmp .. "/mp-" .. kind
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("mp", dest, { on_error = "stop",
        progress = function(done, _, path)
          if path == "big.bin" and done > 0 then return false end
        end }))
      assert.equal("big.bin", report.stopped.path)
      assert.same({ "z.txt" }, report.pending)
      assert.is_false(exists(dest .. "/big.bin"))
      assert.is_false(exists(dest .. "/z.txt"))
    end)

    it("raises for an on_error of another value", function()
      local ftp <close> = login(s)
      assert.has_error(function() ftp:mirror("md", tmp .. "/x", { on_error = "halt" }) end,
        "ftplib: 'mirror' option on_error must be \"continue\" or \"stop\"")
      assert.has_error(function() ftp:download_many({}, { on_error = true }) end)
    end)
  end)
end
