-- bin/ftplib, the command-line tool: its argument parser on tables, every
-- command against real servers through the real executable, its exit codes,
-- and its progress bar in a terminal (tmux).
local cliargs = require "ftplib.cli.args"
local progressbar = require "ftplib.cli.progressbar"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local cli_runner = require "spec.support.cli_runner"
local ROOT, ENV, TOOL = cli_runner.ROOT, cli_runner.ENV, cli_runner.TOOL

local tmp

-- Runs bin/ftplib with argv; returns its exit code, stdout, stderr.
local function ftplib_cli(...)
  local status, out, err = cli_runner.run(tmp, ...)
  return status, out, err
end

local function read(path)
  return proc.read_file(path)
end

describe("cliargs.parse", function()
  it("takes options before, between and after the words", function()
    local parsed = assert(cliargs.parse { "-q", "get", "--retries", "3", "ftp://h/f", "-c" })
    assert.are.equal("get", parsed.command)
    assert.are.same({ "ftp://h/f" }, parsed.args)
    assert.are.same({ quiet = true, retries = 3, continue = true }, parsed.opts)
  end)

  it("reads --name=value, grouped short flags and a short option's value", function()
    local parsed = assert(cliargs.parse { "mirror", "-qRP4", "--timeout=5", "a", "b" })
    assert.are.same({ quiet = true, reverse = true, parallel = 4, timeout = 5 }, parsed.opts)
    assert.are.same({ "a", "b" }, parsed.args)
  end)

  it("keeps words after -- as words", function()
    local parsed = assert(cliargs.parse { "rm", "--", "-odd-name" })
    assert.are.same({ "-odd-name" }, parsed.args)
  end)

  it("refuses unknown options, missing values, bad numbers and no command", function()
    assert.are.same({ nil, "unknown option --frobnicate" }, { cliargs.parse { "--frobnicate" } })
    assert.are.same({ nil, "unknown option -x" }, { cliargs.parse { "-x", "ls" } })
    assert.are.same({ nil, "--cacert needs a value" }, { cliargs.parse { "ls", "--cacert" } })
    assert.is_nil((cliargs.parse { "ls", "--retries", "many" }))
    assert.is_nil((cliargs.parse { "mirror", "-P", "0", "a", "b" }))
    assert.are.same({ nil, "no command given" }, { cliargs.parse {} })
    assert.are.same({ nil, "--quiet takes no value" }, { cliargs.parse { "--quiet=1", "ls" } })
  end)
end)

describe("progressbar", function()
  it("draws a bar, a percentage and the amounts within the width", function()
    local bar = progressbar.new("file.bin", io.stderr, 80)
    local line = bar:line(512 * 1024, 1024 * 1024, 1)
    assert.matches("^file%.bin %[=+>%s+%]  50%%", line)
    assert.matches("512%.0 KiB", line)
    assert.is_true(#line <= 80)
    assert.matches("%[=+%] 100%%", bar:line(1024, 1024, 1))
  end)

  it("shows the amount and rate alone when the size is unknown", function()
    local line = progressbar.new("x", io.stderr, 60):line(3 * 1024 * 1024, nil, 2)
    assert.matches("^x%s+3%.0 MiB%s+1%.5 MiB/s$", line)
  end)
end)

local KINDS = { "vsftpd", "pyftpdlib" }
if servers.available("proftpd") then
  KINDS[#KINDS + 1] = "proftpd"
end

for _, kind in ipairs(KINDS) do
  describe("bin/ftplib against " .. kind, function()
    local s

    setup(function()
      tmp = proc.tempdir("cli")
      s = servers.start(kind)
    end)

    teardown(function()
      if s then s:stop() end
      proc.rmtree(tmp)
    end)

    it("ls lists a folder with types, sizes and names", function()
      s:write("ls/a.txt", "hello")
      s:mkdir("ls/sub")
      local status, out, err = ftplib_cli("ls", s:url("/ls/"))
      assert.are.equal(0, status, err)
      assert.matches("\n?%- +5 %d%d%d%d%-%d%d%-%d%d %d%d:%d%d a%.txt\n", out)
      assert.matches("d +%d* *%S+ %S+ sub\n", out)
      assert.are.equal("", err)
    end)

    it("get and put move files byte for byte, quietly when not on a terminal", function()
      local content = string.rep("0123456789abcdef", 40000)
      s:write("up/src.bin", content)
      local status, out, err = ftplib_cli("get", s:url("/up/src.bin"), tmp .. "/got.bin")
      assert.are.equal(0, status, err)
      assert.are.equal("", out .. err)
      assert.are.equal(content, read(tmp .. "/got.bin"))

      status, _, err = ftplib_cli("put", tmp .. "/got.bin", s:url("/up/"))
      assert.are.equal(0, status, err)
      assert.are.equal(content, s:read("up/got.bin"))
    end)

    it("cat writes the file to standard output", function()
      s:write("cat.txt", "line one\nline two\n")
      local status, out = ftplib_cli("cat", s:url("/cat.txt"))
      assert.are.equal(0, status)
      assert.are.equal("line one\nline two\n", out)
    end)

    it("mkdir -p, rm and their failures", function()
      local status, _, err = ftplib_cli("mkdir", "-p", s:url("/m/n/o"))
      assert.are.equal(0, status, err)
      assert.are.equal("directory", lfs.attributes(s:path("m/n/o"), "mode"))
      status = ftplib_cli("mkdir", "-p", s:url("/m/n/o"))
      assert.are.equal(0, status)

      s:write("m/gone.txt", "x")
      status, _, err = ftplib_cli("rm", s:url("/m/gone.txt"))
      assert.are.equal(0, status, err)
      assert.is_nil(s:read("m/gone.txt"))
      status, _, err = ftplib_cli("rm", s:url("/m/gone.txt"))
      assert.are.equal(4, status)
      assert.matches("^ftplib: rm .-: 550", err)
    end)

    it("mirror both ways and reports failures with exit code 8", function()
      s:write("tree/a.txt", "A")
      s:write("tree/deep/b.txt", "BB")
      s:mkdir("tree/empty")
      local dest = tmp .. "/mirror-down"
      local status, _, err = ftplib_cli("mirror", s:url("/tree"), dest)
      assert.are.equal(0, status, err)
      assert.are.equal("BB", read(dest .. "/deep/b.txt"))
      assert.are.equal("directory", lfs.attributes(dest .. "/empty", "mode"))

      assert(io.open(dest .. "/new.txt", "w")):write("new"):close()
      status, _, err = ftplib_cli("mirror", "-R", dest, s:url("/tree-up"))
      assert.are.equal(0, status, err)
      assert.are.equal("new", s:read("tree-up/new.txt"))
      assert.are.equal("A", s:read("tree-up/a.txt"))

      local out
      status, out = ftplib_cli("mirror", "--dry-run", "--delete", s:url("/tree"), tmp .. "/dry")
      assert.are.equal(0, status)
      assert.matches("created deep/b%.txt", out)
      assert.is_nil(lfs.attributes(tmp .. "/dry/a.txt"))
    end)

    it("exits 4 for a missing file, 3 for a wrong password, 1 for usage", function()
      local status, _, err = ftplib_cli("get", s:url("/no/such/file"), tmp .. "/none")
      assert.are.equal(4, status)
      assert.matches("^ftplib: get .-: 550", err)
      assert.is_nil(lfs.attributes(tmp .. "/none"))

      local bad = s:url("/x"):gsub(":[^:@/]*@", ":wrong-password@")
      status = ftplib_cli("ls", bad)
      assert.are.equal(3, status)

      status, _, err = ftplib_cli("get")
      assert.are.equal(1, status)
      assert.matches("wrong number of arguments to get", err)
      status, _, err = ftplib_cli("ls", "http://example/")
      assert.are.equal(1, status)
      assert.matches("not an ftp:// or ftps:// URL", err)
    end)
  end)
end

describe("bin/ftplib", function()
  setup(function()
    tmp = tmp or proc.tempdir("cli")
    if not lfs.attributes(tmp) then tmp = proc.tempdir("cli") end
  end)

  it("exits 2 when nothing listens on the port", function()
    local port = proc.free_port("127.0.0.1")
    local status, _, err = ftplib_cli("--timeout", "5", "ls",
      ("ftp://127.0.0.1:%d/"):format(port))
    assert.are.equal(2, status)
    assert.matches("^ftplib: ftp://127%.0%.0%.1:%d+/: ", err)
  end)

  it("prints its usage with --help", function()
    local status, out = ftplib_cli("--help")
    assert.are.equal(0, status)
    assert.matches("^Usage: ftplib %[options%] <command>", out)
    assert.matches("Exit codes:", out)
  end)

  it("prints the library's version with --version, and nothing else", function()
    local status, out, err = ftplib_cli("--version")
    assert.are.equal(0, status)
    assert.are.equal("ftplib 0.1.0\n", out)
    assert.are.equal(require("ftplib")._VERSION .. "\n", out)
    assert.are.equal("", err)
    assert.matches("%-%-version", select(2, ftplib_cli("--help")))
  end)
end)

-- The progress bar, as a person sees it: the tool runs in a tmux pane and the
-- pane's text is read back.
local has_tmux = os.execute("command -v tmux > /dev/null") == true
describe("bin/ftplib in a terminal (tmux)", function()
  local s, session

  setup(function()
    if not has_tmux then
      error("tmux is not installed: scripts/setup.sh installs it")
    end
    tmp = proc.tempdir("cli-tty")
    s = servers.start("pyftpdlib")
    session = ("ftplib-cli-%d"):format(math.random(1, 1e9))
  end)

  teardown(function()
    os.execute("tmux kill-session -t " .. session .. " 2> /dev/null")
    if s then s:stop() end
    proc.rmtree(tmp)
  end)

  it("draws a progress bar that ends at 100% with the file's size", function()
    local size = 24 * 1024 * 1024
    proc.run(("head -c %d /dev/urandom > %s"):format(size, proc.shell_quote(s:path("big.bin"))))
    local command = ("cd %s && %s lua5.4 %s get %s %s/big.bin; echo EXIT=$?; sleep 60"):format(
      proc.shell_quote(ROOT), ENV, TOOL, proc.shell_quote(s:url("/big.bin")), tmp)
    assert(os.execute(("tmux new-session -d -s %s -x 100 -y 8 %s"):format(
      session, proc.shell_quote(command))))
    local pane = ""
    proc.wait_until(function()
      pane = io.popen("tmux capture-pane -p -t " .. session):read("a")
      return pane:find("EXIT=%d") ~= nil
    end, 60, 0.2)
    assert.matches("EXIT=0", pane)
    assert.matches("big%.bin %[=+%] 100%%%s+24%.0 MiB%s+[%d.]+ %a+/s", pane)
    assert.are.equal(size, lfs.attributes(tmp .. "/big.bin", "size"))
  end)
end)
