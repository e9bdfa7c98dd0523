-- Files on the server against real servers: ftp:stat, exists, makedirs, move, chmod,
-- site and rmtree on vsftpd (LIST, no MLST), pyftpdlib and proftpd (MLST), and the odd
-- ones: GNU inetutils ftpd, Twisted and aioftp (no FEAT: neither MLST nor SIZE).
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"

-- Every kind that can start here: the plain ones, proftpd, the odd ones.
local function all_kinds()
  local list, listed = {}, {}
  local function add(kind)
    if not listed[kind] then
      listed[kind], list[#list + 1] = true, kind
    end
  end
  for _, kind in ipairs(servers.kinds()) do add(kind) end
  if servers.available("proftpd") then add("proftpd") end
  for _, kind in ipairs(servers.odd_kinds()) do add(kind) end
  return list
end

-- SITE CHMOD where the server has it (Twisted and aioftp have no SITE).
local HAS_SITE = { vsftpd = true, pyftpdlib = true, proftpd = true, inetutils = true }
-- Twisted and aioftp list a link as what it points to (they stat, not lstat): no
-- client can tell a link there, so the link cases are for the others.
local SHOWS_LINKS = { vsftpd = true, pyftpdlib = true, proftpd = true, inetutils = true }
-- GNU inetutils ftpd's DELE stats the path (following a link) and calls rmdir for a
-- folder: a link to a folder cannot be deleted there.
local DELETES_DIR_LINKS = { vsftpd = true, pyftpdlib = true, proftpd = true }

local JAN_2020 = 1577836800 -- 2020-01-01 00:00:00 UTC

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

for _, kind in ipairs(all_kinds()) do
  describe("files on the server, on " .. kind, function()
    local s, ftp

    lazy_setup(function()
      s = servers.start(kind)
      s:write("f/a.txt", "hello")
      s:mkdir("f/sub")
      assert(lfs.touch(s:path("f/a.txt"), JAN_2020, JAN_2020))
      if SHOWS_LINKS[kind] then
        assert(os.execute("ln -s a.txt " .. s:path("f/ln")))
      end
    end)

    lazy_teardown(function()
      if s then s:stop() end
    end)

    before_each(function()
      ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
        timeout = 20 }))
    end)

    after_each(function()
      ftp:close()
    end)

    it("stat tells a file (size, time where the server gives one) from a folder", function()
      local file = assert(ftp:stat("f/a.txt"))
      assert.are.equal("a.txt", file.name)
      assert.are.equal("file", file.type)
      assert.are.equal(5, file.size)
      if file.modify then
        assert.are.equal(JAN_2020, file.modify)
      else
        assert.is_true(servers.lacks(kind, "mdtm")) -- aioftp: neither MLST nor MDTM
      end
      local folder = assert(ftp:stat("f/sub"))
      assert.are.same({ "sub", "dir" }, { folder.name, folder.type })
      assert.are.equal("dir", assert(ftp:stat("f/sub/")).type)
    end)

    it("stat and exists say 550 / false only for what is not there", function()
      local entry, err, code = ftp:stat("f/missing.txt")
      assert.is_nil(entry)
      assert.are.equal(550, code, err)
      assert.is_false(ftp:exists("f/missing.txt"))
      assert.is_false(ftp:exists("no-such-folder/x"))
      assert.is_true(ftp:exists("f/a.txt"))
      assert.is_true(ftp:exists("f/sub"))
      if SHOWS_LINKS[kind] then
        assert.is_true(ftp:exists("f/ln"))
      end
      -- The probes came back to the folder they started in.
      assert.are.equal(assert(ftp:pwd()), assert(ftp:pwd()))
      assert(ftp:cwd("f"))
      assert.is_true(ftp:exists("a.txt"))
      assert.matches("/f$", assert(ftp:pwd()))
    end)

    it("makedirs makes each level, takes existing folders, and refuses a file in the way",
      function()
        assert.are.equal("m/n/o", ftp:makedirs("m/n/o"))
        assert.are.equal("directory", lfs.attributes(s:path("m/n/o"), "mode"))
        assert.are.equal("m/n/o/p", ftp:makedirs("m/n/o/p"))
        assert.are.equal("m/./n//q", ftp:makedirs("m/./n//q"))
        assert.are.equal("directory", lfs.attributes(s:path("m/n/q"), "mode"))
        local ok, err, code = ftp:makedirs("f/a.txt/x")
        assert.is_nil(ok)
        assert.matches("^f/a%.txt: a file is in the way", err)
        assert.is_true(math.type(code) == "integer" and code >= 400, tostring(code))
        assert.are.equal("hello", s:read("f/a.txt"))
      end)

    it("move renames, moves into a folder (existing, or named with a /)", function()
      s:write("mv/one.txt", "1")
      s:mkdir("mv/into")
      assert.are.equal("mv/two.txt", ftp:move("mv/one.txt", "mv/two.txt"))
      assert.are.equal("1", s:read("mv/two.txt"))
      assert.are.equal("mv/into/two.txt", ftp:move("mv/two.txt", "mv/into"))
      assert.are.equal("1", s:read("mv/into/two.txt"))
      assert.are.equal("mv/two.txt", ftp:move("mv/into/two.txt", "mv/"))
      assert.are.equal("1", s:read("mv/two.txt"))
      local ok, _, code = ftp:move("mv/none.txt", "mv/other.txt")
      assert.is_nil(ok)
      assert.is_true(math.type(code) == "integer" and code >= 400)
    end)

    it("chmod and site where the server has SITE, a 5xx where it has not", function()
      s:write("perm.txt", "p")
      local text, code = ftp:chmod("perm.txt", 600)
      if HAS_SITE[kind] then
        assert.are.equal(200, code, text)
        assert.are.equal("rw-------", lfs.attributes(s:path("perm.txt"), "permissions"))
        assert(ftp:chmod("perm.txt", "0640"))
        assert.are.equal("rw-r-----", lfs.attributes(s:path("perm.txt"), "permissions"))
        local help, help_code = ftp:site("HELP")
        assert.matches("CHMOD", help)
        assert.are.equal(2, help_code // 100)
      else
        assert.is_nil(text)
        local _, site_err, site_code = ftp:site("HELP")
        assert.is_true(site_code >= 500, site_err)
      end
    end)

    it("rmtree deletes a tree, a dry run first, links as links, nothing outside", function()
      s:write("t/a.txt", "A")
      s:write("t/deep/er/b.txt", "B")
      s:mkdir("t/empty")
      s:write("outside/keep.txt", "K")
      local expected = { "t/a.txt", "t/deep/er/b.txt", "t/deep/er", "t/deep", "t/empty", "t" }
      if SHOWS_LINKS[kind] then
        assert(os.execute("ln -s ../outside " .. s:path("t/dirlink")))
        assert(os.execute("ln -s ../outside/keep.txt " .. s:path("t/filelink")))
        expected[#expected + 1] = "t/dirlink"
        expected[#expected + 1] = "t/filelink"
      end

      local dry = assert(ftp:rmtree("t", { dry_run = true }))
      assert.are.same(sorted(expected), sorted(dry.deleted))
      assert.are.same({}, dry.failed)
      assert.are.equal("A", s:read("t/a.txt"))
      -- Folders after everything under them.
      local at = {}
      for i, path in ipairs(dry.deleted) do at[path] = i end
      assert.is_true(at["t/deep/er/b.txt"] < at["t/deep/er"] and at["t/deep/er"] < at["t/deep"])
      assert.are.equal(#dry.deleted, at.t)

      local report = assert(ftp:rmtree("t"))
      assert.are.equal("K", s:read("outside/keep.txt"))
      if SHOWS_LINKS[kind] and not DELETES_DIR_LINKS[kind] then
        -- The link stays, reported, and so does the folder holding it.
        assert.are.same({ "t/dirlink" }, { report.failed[1] and report.failed[1].path })
        assert.are.same({ "t" }, { report.kept[1] and report.kept[1].path })
        assert.is_nil(lfs.attributes(s:path("t/a.txt")))
      else
        assert.are.same({}, report.failed)
        assert.are.same(sorted(expected), sorted(report.deleted))
        assert.is_nil(lfs.symlinkattributes(s:path("t")))
      end
    end)

    it("rmtree of a file or a link deletes just it; of nothing, 550", function()
      s:write("r/one.txt", "1")
      s:write("r/target/keep.txt", "k")
      assert.are.same({ "r/one.txt" }, assert(ftp:rmtree("r/one.txt")).deleted)
      assert.is_nil(s:read("r/one.txt"))
      if SHOWS_LINKS[kind] and DELETES_DIR_LINKS[kind] then
        assert(os.execute("ln -s target " .. s:path("r/lnk")))
        assert.are.same({ "r/lnk" }, assert(ftp:rmtree("r/lnk")).deleted)
        assert.is_nil(lfs.symlinkattributes(s:path("r/lnk")))
        assert.are.equal("k", s:read("r/target/keep.txt"))
      end
      local report, err, code = ftp:rmtree("r/none")
      assert.is_nil(report)
      assert.are.equal(550, code, err)
    end)
  end)
end

describe("ftp:chmod and ftp:rmtree arguments", function()
  local ftp = ftplib.FTP()

  it("chmod takes three or four octal digits, as a number or a string", function()
    for _, bad in ipairs { 9, 800, -1, 77777, 6.5, "rw-r--r--", "u+x", "64", "08", "" } do
      assert.has_error(function() ftp:chmod("x", bad) end)
    end
    assert.has_error(function() ftp:chmod("x\r\nDELE y", 644) end)
  end)

  it("rmtree refuses a path without a last name and bad bounds", function()
    for _, bad in ipairs { "", ".", "/", "..", "a/..", "a/." } do
      assert.has_error(function() ftp:rmtree(bad) end)
    end
    assert.has_error(function() ftp:rmtree("a", { max_depth = -1 }) end)
    assert.has_error(function() ftp:rmtree("a", { dry = true }) end)
  end)
end)

-- Over FTPS (protected listings, the probes on the secured control connection): the
-- first variant of each kind that has one.
local function one_tls_variant_per_kind()
  local list, seen = {}, {}
  for _, variant in ipairs(servers.tls_kinds()) do
    if not seen[variant.kind] then
      seen[variant.kind], list[#list + 1] = true, variant
    end
  end
  return list
end

for _, variant in ipairs(one_tls_variant_per_kind()) do
  describe("files on the server over FTPS, on " .. variant.name, function()
    local s

    lazy_setup(function()
      s = servers.start(variant.kind, { tls = variant.tls })
    end)

    lazy_teardown(function()
      if s then s:stop() end
    end)

    it("stat, exists, makedirs, move and rmtree", function()
      s:write("tls/a.txt", "hello")
      local ftp = assert(ftplib.FTP_TLS(s.host, { port = s.port, user = s.user,
        passwd = s.passwd, timeout = 20,
        tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" } }))
      finally(function() ftp:close() end)
      assert.are.same({ "file", 5 }, { assert(ftp:stat("tls/a.txt")).type,
        assert(ftp:stat("tls/a.txt")).size })
      assert.is_false(ftp:exists("tls/none"))
      assert(ftp:makedirs("tls/x/y"))
      assert.are.equal("tls/x/y/a.txt", ftp:move("tls/a.txt", "tls/x/y"))
      local report = assert(ftp:rmtree("tls"))
      assert.are.same({}, report.failed)
      assert.are.same({ "tls/x/y/a.txt", "tls/x/y", "tls/x", "tls" }, report.deleted)
      assert.is_nil(lfs.attributes(s:path("tls")))
    end)
  end)
end
