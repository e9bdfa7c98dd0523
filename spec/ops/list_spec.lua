-- ftp:list and ftp:walk against real servers: vsftpd has no MLSD (LIST parsed),
-- pyftpdlib and proftpd have it (MLSD facts).
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"

-- The kinds to run against: proftpd too whenever it can start here.
local KINDS = servers.kinds()
local function listed(kind)
  for _, name in ipairs(KINDS) do
    if name == kind then return true end
  end
  return false
end
if servers.available("proftpd") and not listed("proftpd") then
  KINDS[#KINDS + 1] = "proftpd"
end
local EXPECTED_COMMAND = { vsftpd = "LIST", pyftpdlib = "MLSD", proftpd = "MLSD" }

local function by_name(entries)
  local map = {}
  for _, entry in ipairs(entries) do
    map[entry.name] = entry
  end
  return map
end

local function sorted_names(entries)
  local names = {}
  for _, entry in ipairs(entries) do
    names[#names + 1] = entry.name
  end
  table.sort(names)
  return names
end

-- A session recording the commands it sends.
local function session(s)
  local sent = {}
  local ftp = assert(ftplib.FTP(s.host, {
    port = s.port, user = s.user, passwd = s.passwd, timeout = 20, debuglevel = 1,
    debugfunc = function(line)
      sent[#sent + 1] = line:match("^%*cmd%* '([^%s']+)")
    end,
  }))
  return ftp, sent
end

local function count(list, value)
  local n = 0
  for _, item in ipairs(list) do
    if item == value then
      n = n + 1
    end
  end
  return n
end

for _, kind in ipairs(KINDS) do
  describe("ftp:list and ftp:walk on " .. kind, function()
    local s

    lazy_setup(function()
      s = servers.start(kind)
      s:write("top/a.txt", "hello")
      s:write("top/my file.txt", "spaces in the name")
      s:write("top/sub/b.bin", string.rep("\0\1\2", 1000))
      s:write("top/sub/deeper/c.txt", "c")
      s:mkdir("top/empty")
      -- A link to a file, and a link back up the tree that a walk must not follow.
      assert(os.execute("ln -s a.txt " .. s:path("top/ln")))
      assert(os.execute("ln -s .. " .. s:path("top/sub/up")))
      -- Old enough that LIST shows a year instead of a time of day.
      assert(lfs.touch(s:path("top/a.txt"), 1262304000, 1262304000)) -- 2010-01-01
    end)

    lazy_teardown(function()
      if s then s:stop() end
    end)

    it("lists a folder with types, sizes and times, without . and ..", function()
      local ftp, sent = session(s)
      local entries = assert(ftp:list("top"))
      local names = sorted_names(entries)
      assert.are.same({ "a.txt", "empty", "ln", "my file.txt", "sub" }, names)
      local map = by_name(entries)
      assert.are.equal("file", map["a.txt"].type)
      assert.are.equal(5, map["a.txt"].size)
      assert.are.equal(18, map["my file.txt"].size)
      assert.are.equal("dir", map.sub.type)
      assert.are.equal("dir", map.empty.type)
      assert.are.equal(1262304000, map["a.txt"].modify)
      local mtime = lfs.attributes(s:path("top/my file.txt"), "modification")
      local precision = map["my file.txt"].precision
      assert.is_true(precision == 1 or precision == 60)
      assert.is_true(mtime - map["my file.txt"].modify >= 0
        and mtime - map["my file.txt"].modify < precision)
      for _, entry in ipairs(entries) do
        assert.is_string(entry.raw)
      end
      assert.are.equal(1, count(sent, EXPECTED_COMMAND[kind]))
      ftp:close()
    end)

    it("shows links as links, with their targets where the listing has them", function()
      local ftp = session(s)
      local ln = by_name(assert(ftp:list("top"))).ln
      if kind == "pyftpdlib" then
        -- pyftpdlib's MLSD follows links: a link to a file is that file.
        assert.are.equal("file", ln.type)
        assert.are.equal(5, ln.size)
      else
        assert.are.equal("link", ln.type)
        if kind == "vsftpd" then
          assert.are.equal("a.txt", ln.target)
        end
      end
      ftp:close()
    end)

    it("asks FEAT once per connection", function()
      local ftp, sent = session(s)
      assert(ftp:list("top"))
      assert(ftp:list("top/sub"))
      assert(ftp:list())
      assert.are.equal(1, count(sent, "FEAT"))
      assert.are.equal(3, count(sent, EXPECTED_COMMAND[kind]))
      ftp:close()
    end)

    it("lists the current folder without a path, and an empty folder as {}", function()
      local ftp = session(s)
      assert(ftp:cwd("top"))
      assert.are.same({ "a.txt", "empty", "ln", "my file.txt", "sub" },
        sorted_names(assert(ftp:list())))
      assert.are.same({}, assert(ftp:list("empty")))
      ftp:close()
    end)

    it("fails on a missing folder instead of listing it empty", function()
      local ftp = session(s)
      local entries, err, code = ftp:list("top/no-such-folder")
      assert.is_nil(entries)
      assert.is_string(err)
      -- 550 mostly; pyftpdlib's MLSD says 501.
      assert.is_true(math.type(code) == "integer" and code >= 450, "code " .. tostring(code))
      -- The session is still where it was.
      assert.are.same({ "top" }, sorted_names(assert(ftp:list())))
      ftp:close()
    end)

    it("walks top-down without following links", function()
      local ftp = session(s)
      local visited, files_of = {}, {}
      for dirpath, dirs, files in ftp:walk("top") do
        visited[#visited + 1] = dirpath
        files_of[dirpath] = sorted_names(files)
        assert.is_table(dirs)
      end
      assert.are.same({ "top", "top/empty", "top/sub", "top/sub/deeper" },
        (function()
          local copy = { table.unpack(visited) }
          table.sort(copy)
          return copy
        end)())
      assert.are.equal("top", visited[1])
      assert.are.same({ "a.txt", "ln", "my file.txt" }, files_of.top)
      assert.are.same({ "b.bin", "up" }, files_of["top/sub"])
      assert.are.same({ "c.txt" }, files_of["top/sub/deeper"])
      assert.are.same({}, files_of["top/empty"])
      ftp:close()
    end)

    it("lets the loop prune folders from dirs", function()
      local ftp = session(s)
      local visited = {}
      for dirpath, dirs in ftp:walk("top") do
        visited[#visited + 1] = dirpath
        for i = #dirs, 1, -1 do
          if dirs[i].name == "sub" then table.remove(dirs, i) end
        end
      end
      table.sort(visited)
      assert.are.same({ "top", "top/empty" }, visited)
      ftp:close()
    end)

    it("reports folders it cannot list to onerror and goes on", function()
      local ftp = session(s)
      local errors, visited = {}, {}
      for dirpath in ftp:walk("nothing-here", { onerror = function(path, err, code)
        errors[#errors + 1] = { path, err, code }
      end }) do
        visited[#visited + 1] = dirpath
      end
      assert.are.same({}, visited)
      assert.are.equal(1, #errors)
      assert.are.equal("nothing-here", errors[1][1])
      assert.is_string(errors[1][2])
      ftp:close()
    end)
  end)
end

describe("ftp:list arguments", function()
  it("raise on a wrong type", function()
    local ftp = ftplib.FTP()
    assert.has_error(function()
      ftp:list(42)
    end, "ftplib: bad argument #1 to 'list' (string or nil expected, got number)")
    assert.has_error(function()
      ftp:walk("x", { onerror = 1 })
    end, "ftplib: bad argument #2 to 'walk' (function or nil expected, got number)")
  end)
end)
