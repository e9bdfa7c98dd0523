-- LuaFileSystem is needed only by the helpers with a local side (download, upload,
-- mirror): a script that uses the FTP methods alone runs where lfs is not installed.
-- A child lua5.4 makes `require "lfs"` fail (a searcher placed before all the others),
-- then uses the library against a real server; the helpers that need lfs then raise a
-- clear error at the script's line, and the session stays usable.
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local ROOT = lfs.currentdir()
-- The module the specs load (the first entry of package.cpath: $(BUILD)/?.so).
local CPATH = package.cpath:match("^([^;]+)")
if CPATH:sub(1, 1) ~= "/" then
  CPATH = ROOT .. "/" .. CPATH
end

-- Run by the child with HOST PORT USER PASSWD DIR; prints one "key value" line per check.
local CHILD = [=[
local asked = 0
table.insert(package.searchers, 1, function(name)
  if name == "lfs" then
    asked = asked + 1
    error("lfs hidden by spec/package/lfs_optional_spec.lua", 0)
  end
end)
assert(not pcall(require, "lfs"), "the searcher trick did not hide lfs")
asked = 0

local host, port, user, passwd, dir = table.unpack(arg)
local ftplib = require "ftplib"
local ftp = assert(ftplib.FTP(host, { port = tonumber(port), user = user, passwd = passwd }))
print("version", ftplib._VERSION)
print("nlst", table.concat(assert(ftp:nlst()), ","))
local entries = assert(ftp:list())
print("list", #entries, entries[1] and entries[1].name, entries[1] and entries[1].size)
local chunks = {}
assert(ftp:retrbinary("RETR hello.txt", function(chunk) chunks[#chunks + 1] = chunk end))
print("retr", table.concat(chunks))
local file = assert(io.open(dir .. "/copy.txt", "wb"))
assert(ftp:retrbinary("RETR hello.txt", file))
assert(file:close())
assert(ftp:storbinary("STOR up.txt", "uploaded without lfs"))
print("size", assert(ftp:size("up.txt")))
print("loaded", asked, tostring(package.loaded.lfs))

local ok, err = pcall(ftp.mirror, ftp, "/", dir .. "/mirror")
print("mirror", ok, (tostring(err):gsub("\n", " ")))
ok, err = pcall(ftp.mirror_up, ftp, dir, "/up")
print("mirror_up", ok, (tostring(err):gsub("\n", " ")))
print("after", assert(ftp:pwd()))
assert(ftp:quit())
]=]

local function lines_of(output)
  local result = {}
  for key, rest in output:gmatch("(%S+)\t?([^\n]*)\n") do result[key] = rest end
  return result
end

describe("without LuaFileSystem", function()
  local server, tmp

  setup(function()
    tmp = proc.tempdir("lfs-optional")
    local kind = servers.available("pyftpdlib") and "pyftpdlib" or servers.kinds()[1]
    server = servers.start(kind)
    server:write("hello.txt", "hello, no lfs\n")
  end)

  teardown(function()
    if server then server:stop() end
    if tmp then proc.rmtree(tmp) end
  end)

  it("the FTP methods list and transfer; mirror raises a clear error", function()
    local script = tmp .. "/child.lua"
    proc.write_file(script, CHILD)
    local command = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s lua5.4 %s %s %d %s %s %s 2>&1"):format(
      proc.shell_quote(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
      proc.shell_quote(CPATH .. ";;"), proc.shell_quote(script), server.host, server.port,
      proc.shell_quote(server.user), proc.shell_quote(server.passwd), proc.shell_quote(tmp))
    local pipe = assert(io.popen(command, "r"))
    local output = pipe:read("a")
    local ok = pipe:close()
    assert(ok, "the child failed:\n" .. output)
    local got = lines_of(output)

    assert.are.equal(require("ftplib")._VERSION, got.version)
    assert.matches("hello%.txt", got.nlst)
    assert.matches("^%d+\t", got.list)
    assert.are.equal("hello, no lfs", got.retr)
    assert.are.equal("hello, no lfs\n", proc.read_file(tmp .. "/copy.txt"))
    assert.are.equal("uploaded without lfs", server:read("up.txt"))
    assert.are.equal(tostring(#"uploaded without lfs"), got.size)
    -- Nothing asked for lfs, and it is not loaded.
    assert.are.equal("0\tnil", got.loaded)

    -- A raised error naming what is missing, at the child script's line.
    assert.matches("^false\t[^\t]*child%.lua:%d+: ftplib: ftp:mirror and ftp:mirror_up need "
      .. "LuaFileSystem %(lfs hidden by spec/package/lfs_optional_spec%.lua%)$", got.mirror)
    assert.matches("^false\t[^\t]*child%.lua:%d+: ftplib: ftp:mirror and ftp:mirror_up need "
      .. "LuaFileSystem", got.mirror_up)
    assert.is_false(proc.exists(tmp .. "/mirror"), "mirror made its target without lfs")
    assert.is_nil(server:read("up/up.txt"), "mirror_up sent files")
    -- The session is still in step.
    assert.matches("^/", got.after)
  end)
end)
