-- bin/ftplib's commands for files on the server: rm -r (and --dry-run), rmdir, mv, chmod,
-- run as the real executable against real servers, with their exit codes.
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local cli_runner = require "spec.support.cli_runner"

local tmp

-- Runs bin/ftplib with argv; returns its exit code, stdout, stderr.
local function ftplib_cli(...)
  local status, out, err = cli_runner.run(tmp, ...)
  return status, out, err
end

describe("bin/ftplib --help", function()
  setup(function() tmp = proc.tempdir("cli-files") end)
  teardown(function() proc.rmtree(tmp) end)

  it("lists rm -r, rmdir, mv and chmod", function()
    local status, out = ftplib_cli("--help")
    assert.are.equal(0, status)
    for _, line in ipairs { "\n  rm %-r URL", "\n  rmdir URL", "\n  mv URL NEWPATH",
        "\n  chmod MODE URL", "%-r, %-%-recursive" } do
      assert.matches(line, out)
    end
  end)
end)

local KINDS = { "vsftpd", "pyftpdlib" }
if servers.available("proftpd") then
  KINDS[#KINDS + 1] = "proftpd"
end

for _, kind in ipairs(KINDS) do
  describe("bin/ftplib rm -r, rmdir, mv, chmod against " .. kind, function()
    local s

    setup(function()
      tmp = proc.tempdir("cli-files")
      s = servers.start(kind)
    end)

    teardown(function()
      if s then s:stop() end
      proc.rmtree(tmp)
    end)

    it("rm -r --dry-run lists what it would delete; rm -r deletes it", function()
      s:write("tree/a.txt", "A")
      s:write("tree/sub/b.txt", "B")
      local status, out, err = ftplib_cli("rm", "-r", "--dry-run", s:url("/tree"))
      assert.are.equal(0, status, err)
      assert.matches("would delete tree/sub/b%.txt\n", out)
      assert.matches("would delete tree\n", out)
      assert.matches("4 to delete, 0 failed, 0 kept\n", out)
      assert.are.equal("B", s:read("tree/sub/b.txt"))

      status, out, err = ftplib_cli("rm", "-r", s:url("/tree"))
      assert.are.equal(0, status, err)
      assert.are.equal("", out .. err)
      assert.is_nil(lfs.attributes(s:path("tree")))

      status, _, err = ftplib_cli("rm", "-r", s:url("/tree"))
      assert.are.equal(4, status)
      assert.matches("^ftplib: rm .-: ", err)
    end)

    it("rmdir removes an empty folder and refuses a full one", function()
      s:mkdir("empty")
      s:write("full/x.txt", "x")
      local status, _, err = ftplib_cli("rmdir", s:url("/empty"))
      assert.are.equal(0, status, err)
      assert.is_nil(lfs.attributes(s:path("empty")))
      status, _, err = ftplib_cli("rmdir", s:url("/full"))
      assert.are.equal(4, status)
      assert.matches("^ftplib: rmdir .-: 5%d%d", err)
      assert.are.equal("x", s:read("full/x.txt"))
    end)

    it("mv renames, moves into a folder, takes a URL of the same server only", function()
      s:write("mv/a.txt", "a")
      s:mkdir("mv/dir")
      local status, _, err = ftplib_cli("mv", s:url("/mv/a.txt"), "mv/b.txt")
      assert.are.equal(0, status, err)
      assert.are.equal("a", s:read("mv/b.txt"))
      status, _, err = ftplib_cli("mv", s:url("/mv/b.txt"), s:url("/mv/dir"))
      assert.are.equal(0, status, err)
      assert.are.equal("a", s:read("mv/dir/b.txt"))
      status, _, err = ftplib_cli("mv", s:url("/mv/dir/b.txt"),
        ("ftp://127.0.0.1:%d/mv/c.txt"):format(proc.free_port("127.0.0.1")))
      assert.are.equal(1, status)
      assert.matches("moves within one server", err)
      assert.are.equal("a", s:read("mv/dir/b.txt"))
    end)

    it("chmod sets the mode of each URL and refuses a mode that is not octal", function()
      s:write("c1.txt", "1")
      s:write("c2.txt", "2")
      local status, _, err = ftplib_cli("chmod", "640", s:url("/c1.txt"), s:url("/c2.txt"))
      assert.are.equal(0, status, err)
      assert.are.equal("rw-r-----", lfs.attributes(s:path("c1.txt"), "permissions"))
      assert.are.equal("rw-r-----", lfs.attributes(s:path("c2.txt"), "permissions"))
      status, _, err = ftplib_cli("chmod", "u+x", s:url("/c1.txt"))
      assert.are.equal(1, status)
      assert.matches("octal", err)
    end)

    if kind == "vsftpd" then
      -- vsftpd runs the session as the test account: a folder it may not write keeps its
      -- file, so rm -r is not whole (exit 8) and says what stayed.
      it("rm -r exits 8 and names what stayed when a delete is refused", function()
        s:write("locked/in/x.txt", "x")
        s:write("locked/y.txt", "y")
        assert(os.execute("chmod 555 " .. s:path("locked/in")))
        local status, _, err = ftplib_cli("rm", "-r", s:url("/locked"))
        assert(os.execute("chmod 755 " .. s:path("locked/in")))
        assert.are.equal(8, status, err)
        assert.matches("ftplib: rm: locked/in/x%.txt: 550", err)
        assert.matches("ftplib: rm: locked: not removed", err)
        assert.are.equal("x", s:read("locked/in/x.txt"))
        assert.is_nil(s:read("locked/y.txt"))
      end)
    end
  end)
end
