-- include / exclude / filter for walk, mirror, mirror_up and download_many, against
-- real servers: what the filters leave out is never listed, entered, sent, replaced or
-- deleted, and names that look like globs ("*", "[a]", "%d") are only text.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local function login(s)
  return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
    timeout = 20 }))
end

-- The remote tree every test starts from (under s.root/<top>/).
local TREE = {
  ["keep.txt"] = "keep", ["skip.tmp"] = "skip", ["*"] = "star", ["[a]"] = "bracket",
  ["%d.txt"] = "percent", ["src/a.c"] = "a.c", ["src/b.h"] = "b.h",
  ["src/deep/c.c"] = "c.c", ["doc/readme.txt"] = "readme", ["cache/x.txt"] = "x",
  ["sub/cache/y.txt"] = "y",
}

local function write_tree(s, top)
  for rel, content in pairs(TREE) do
    s:write(top .. "/" .. rel, content)
  end
end

local function write_local(root, rel, content)
  local dir = (root .. "/" .. rel):match("^(.*)/[^/]*$")
  proc.run("mkdir -p " .. proc.shell_quote(dir))
  local file = assert(io.open(root .. "/" .. rel, "wb"))
  file:write(content)
  file:close()
end

-- Every file under root: relative path -> content.
local function local_files(root, rel, found)
  found = found or {}
  for name in lfs.dir(rel and root .. "/" .. rel or root) do
    if name ~= "." and name ~= ".." then
      local child = rel and rel .. "/" .. name or name
      local path = root .. "/" .. child
      if lfs.attributes(path, "mode") == "directory" then
        local_files(root, child, found)
      else
        found[child] = proc.read_file(path)
      end
    end
  end
  return found
end

local function sorted(list)
  table.sort(list)
  return list
end

-- What a walk shows: the folders entered and the files, relative to top.
local function walked(ftp, top, opts)
  local dirs, files = {}, {}
  for dirpath, _, entries in ftp:walk(top, opts) do
    dirs[#dirs + 1] = dirpath
    local rel = dirpath:sub(#top + 2)
    for _, entry in ipairs(entries) do
      files[#files + 1] = rel == "" and entry.name or rel .. "/" .. entry.name
    end
  end
  return sorted(dirs), sorted(files)
end

for _, kind in ipairs { "vsftpd", "pyftpdlib" } do
  describe("filters against " .. kind, function()
    local s, tmp

    setup(function()
      s = servers.start(kind)
      tmp = proc.tempdir("filters")
      write_tree(s, "tree")
    end)

    teardown(function()
      s:stop()
      proc.rmtree(tmp)
    end)

    it("walk enters only the folders an include could match below", function()
      local ftp <close> = login(s)
      local dirs, files = walked(ftp, "tree", { include = { "src/**/*.c" } })
      assert.same({ "tree", "tree/src", "tree/src/deep" }, dirs)
      assert.same({ "src/a.c", "src/deep/c.c" }, files)
    end)

    it("walk does not enter an excluded folder and lists no excluded file", function()
      local ftp <close> = login(s)
      local dirs, files = walked(ftp, "tree", { exclude = { "cache/", "*.tmp", "src" } })
      assert.same({ "tree", "tree/doc", "tree/sub" }, dirs)
      assert.same({ "%d.txt", "*", "[a]", "doc/readme.txt", "keep.txt" }, files)
    end)

    it("matches names that look like globs or Lua patterns as text", function()
      local ftp <close> = login(s)
      local _, files = walked(ftp, "tree", { include = { "\\*", "[a]", "%d.txt" } })
      assert.same({ "%d.txt", "*", "[a]" }, files)
      _, files = walked(ftp, "tree", { exclude = { "\\*", "[a]" }, max_depth = 0 })
      assert.same({ "%d.txt", "keep.txt", "skip.tmp" }, files)
    end)

    it("enters folders named like globs by name, and excludes them by name", function()
      for _, rel in ipairs { "*/in-star", "[a]/in-bracket", "a/in-a", "%a/in-percent" } do
        s:write("globdirs/" .. rel, rel)
      end
      local ftp <close> = login(s)
      local dirs, files = walked(ftp, "globdirs", { exclude = { "\\*/" } })
      assert.same({ "globdirs", "globdirs/%a", "globdirs/[a]", "globdirs/a" }, dirs)
      assert.same({ "%a/in-percent", "[a]/in-bracket", "a/in-a" }, files)
      _, files = walked(ftp, "globdirs", { include = { "/[a]/*", "\\*" } })
      assert.same({ "*/in-star", "[a]/in-bracket" }, files)
      local dest = tmp .. "/globdirs-" .. kind
      local report = assert(ftp:mirror("globdirs", dest, { exclude = { "a/" } }))
      assert.same({}, report.failed)
      assert.equal("*/in-star", proc.read_file(dest .. "/*/in-star"))
      assert.equal("[a]/in-bracket", proc.read_file(dest .. "/[a]/in-bracket"))
      assert.is_nil(lfs.attributes(dest .. "/a"))
    end)

    it("walk reports a filter that raises to onerror and goes on", function()
      local ftp <close> = login(s)
      local errors = {}
      local _, files = walked(ftp, "tree", {
        include = { "*.txt" },
        filter = function(rel)
          if rel == "doc" then error("cannot judge " .. rel) end
          return true
        end,
        onerror = function(path, err, code) errors[#errors + 1] = { path, err, code } end,
      })
      assert.same({ "%d.txt", "cache/x.txt", "keep.txt", "sub/cache/y.txt" }, files)
      assert.equal(1, #errors)
      assert.equal("tree/doc", errors[1][1])
      assert.matches("the filter raised: .*cannot judge doc", errors[1][2])
      assert.equal("filter", errors[1][3])
    end)

    it("mirror with delete keeps what exclude matches, and folders holding it", function()
      local dest = tmp .. "/down-" .. kind
      write_local(dest, "local-only.tmp", "mine")      -- excluded, not on the server
      write_local(dest, "gone.txt", "old")             -- not excluded, gone: deleted
      write_local(dest, "cache/old.txt", "cached")     -- in an excluded folder
      write_local(dest, "olddir/keep.tmp", "k")        -- excluded, in a gone folder
      write_local(dest, "olddir/x.txt", "x")           -- gone
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("tree", dest, { delete = true,
        exclude = { "*.tmp", "cache/", "\\*" } }))
      assert.same({}, report.failed)
      assert.same({
        ["%d.txt"] = "percent", ["[a]"] = "bracket", ["keep.txt"] = "keep",
        ["src/a.c"] = "a.c", ["src/b.h"] = "b.h", ["src/deep/c.c"] = "c.c",
        ["doc/readme.txt"] = "readme", ["local-only.tmp"] = "mine",
        ["cache/old.txt"] = "cached", ["olddir/keep.tmp"] = "k",
      }, local_files(dest))
      assert.same({ "gone.txt", "olddir/x.txt" }, sorted(report.deleted))
      assert.same({ { path = "olddir",
        reason = "not deleted: it holds entries the filters leave out" } }, report.kept)
      -- The second run has nothing to do.
      report = assert(ftp:mirror("tree", dest, { delete = true,
        exclude = { "*.tmp", "cache/", "\\*" } }))
      assert.same({}, report.created)
      assert.same({}, report.updated)
      assert.same({}, report.deleted)
    end)

    it("mirror with include takes those files only and deletes only among them", function()
      local dest = tmp .. "/include-" .. kind
      write_local(dest, "notes.md", "not included: kept")
      write_local(dest, "src/old.c", "gone: deleted")
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("tree", dest, { delete = true,
        include = { "src/**/*.c" } }))
      assert.same({}, report.failed)
      assert.same({ "src/a.c", "src/deep", "src/deep/c.c" }, sorted(report.created))
      assert.same({ "src/old.c" }, report.deleted)
      assert.same({ ["notes.md"] = "not included: kept", ["src/a.c"] = "a.c",
        ["src/deep/c.c"] = "c.c" }, local_files(dest))
    end)

    it("mirror reports a raising filter in failed and leaves that path alone", function()
      local dest = tmp .. "/raise-" .. kind
      write_local(dest, "doc/readme.txt", "local version")
      write_local(dest, "keep.txt", "stale")
      local ftp <close> = login(s)
      local report = assert(ftp:mirror("tree", dest, { delete = true, filter = function(rel)
        if rel == "doc/readme.txt" then error("boom") end
        return rel ~= "src"
      end }))
      assert.equal(1, #report.failed)
      assert.equal("doc/readme.txt", report.failed[1].path)
      assert.equal("filter", report.failed[1].code)
      assert.matches("boom", report.failed[1].err)
      assert.equal("local version", proc.read_file(dest .. "/doc/readme.txt"))
      assert.equal("keep", proc.read_file(dest .. "/keep.txt"))
      assert.is_nil(lfs.attributes(dest .. "/src"))
      assert.equal("star", proc.read_file(dest .. "/*"))
    end)

    it("mirror_up sends only what the filters take and keeps excluded remote files",
      function()
        local source = tmp .. "/up-" .. kind
        write_local(source, "a.txt", "a")
        write_local(source, "b.tmp", "b")
        write_local(source, "[x]/c.txt", "c")
        write_local(source, "build/out.o", "o")
        s:write("up-" .. kind .. "/remote-only.tmp", "theirs")
        s:write("up-" .. kind .. "/remote-gone.txt", "gone")
        local ftp <close> = login(s)
        local report = assert(ftp:mirror_up(source, "up-" .. kind, { delete = true,
          exclude = { "*.tmp", "/build" } }))
        assert.same({}, report.failed)
        assert.same({ "[x]", "[x]/c.txt", "a.txt" }, sorted(report.created))
        assert.same({ "remote-gone.txt" }, report.deleted)
        assert.equal("theirs", s:read("up-" .. kind .. "/remote-only.tmp"))
        assert.equal("c", s:read("up-" .. kind .. "/[x]/c.txt"))
        assert.is_nil(s:read("up-" .. kind .. "/b.tmp"))
        assert.is_nil(s:read("up-" .. kind .. "/build/out.o"))
      end)

    it("download_many skips what the filters leave out and fails a raising filter alone",
      function()
        local dir = tmp .. "/many-" .. kind
        proc.run("mkdir -p " .. proc.shell_quote(dir))
        local ftp <close> = login(s)
        local report = ftp:download_many(
          { "tree/keep.txt", "tree/skip.tmp", "tree/*", "/tree/src/a.c", "tree/[a]" },
          { dir = dir, exclude = { "*.tmp", "/tree/src/" }, filter = function(remote)
            if remote == "tree/[a]" then error("no") end
            return true
          end })
        assert.same({ "tree/keep.txt", "tree/*" }, report.done)
        assert.same({ "tree/skip.tmp", "/tree/src/a.c" }, report.skipped)
        assert.equal(1, #report.failed)
        assert.equal("filter", report.failed[1].code)
        assert.equal("star", proc.read_file(dir .. "/*"))
        assert.is_nil(lfs.attributes(dir .. "/skip.tmp"))
        assert.is_nil(lfs.attributes(dir .. "/[a]"))
      end)
  end)
end
