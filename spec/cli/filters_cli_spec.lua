-- bin/ftplib mirror -I/--include, -X/--exclude (repeatable) and --timezone: parsed, shown
-- in --help, and run through the real executable against a real server.
local cliargs = require "ftplib.cli.args"
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

describe("cliargs.parse of the filter options", function()
  it("keeps every -I and -X, in order, short and long", function()
    local parsed = assert(cliargs.parse { "mirror", "-I", "*.c", "--include=*.h",
      "-X", "gen/", "--exclude", "*.o", "-Xtmp", "u", "d" })
    assert.same({ "*.c", "*.h" }, parsed.opts.include)
    assert.same({ "gen/", "*.o", "tmp" }, parsed.opts.exclude)
    assert.same({ "u", "d" }, parsed.args)
  end)

  it("takes --timezone as an offset or auto, and refuses anything else", function()
    assert.equal("+0200", assert(cliargs.parse { "--timezone", "+0200", "ls", "u" })
      .opts.timezone)
    assert.equal("auto", assert(cliargs.parse { "--timezone=auto", "ls", "u" }).opts.timezone)
    assert.same({ nil, "--timezone needs an offset like +0200 or -05:30, or auto" },
      { cliargs.parse { "--timezone", "3600", "ls", "u" } })
    assert.same({ nil, "--include needs a value" }, { cliargs.parse { "mirror", "-I" } })
  end)

  it("shows them in --help", function()
    assert.matches("%-I, %-%-include GLOB", cliargs.USAGE)
    assert.matches("%-X, %-%-exclude GLOB", cliargs.USAGE)
    assert.matches("%-%-timezone TZ", cliargs.USAGE)
  end)
end)

describe("ftplib mirror with -I and -X against pyftpdlib", function()
  local s

  setup(function()
    s = servers.start("pyftpdlib")
    tmp = proc.tempdir("cli-filters")
    for _, rel in ipairs { "a.c", "b.o", "gen/x.c", "src/y.c", "src/z.txt" } do
      s:write("t/" .. rel, rel)
    end
  end)

  teardown(function()
    s:stop()
    proc.rmtree(tmp)
  end)

  it("mirrors only what the options take, and leaves excluded local files", function()
    local dest = tmp .. "/down"
    assert(lfs.mkdir(dest))
    proc.write_file(dest .. "/keep.o", "local")
    local status, _, err = ftplib_cli("mirror", "-q", "--delete", "-I", "*.c", "-X", "gen/",
      "-X", "*.o", s:url("/t"), dest)
    assert.equal(0, status, err)
    assert.equal("a.c", proc.read_file(dest .. "/a.c"))
    assert.equal("src/y.c", proc.read_file(dest .. "/src/y.c"))
    assert.equal("local", proc.read_file(dest .. "/keep.o"))
    assert.is_nil(lfs.attributes(dest .. "/gen"))
    assert.is_nil(lfs.attributes(dest .. "/b.o"))
    assert.is_nil(lfs.attributes(dest .. "/src/z.txt"))
  end)

  it("mirrors up with -R and -X, the server's excluded files kept", function()
    local source = tmp .. "/up"
    assert(lfs.mkdir(source))
    proc.write_file(source .. "/one.txt", "1")
    proc.write_file(source .. "/two.tmp", "2")
    s:write("up/theirs.tmp", "theirs")
    local status, _, err = ftplib_cli("mirror", "-q", "-R", "--delete", "--exclude", "*.tmp",
      source, s:url("/up"))
    assert.equal(0, status, err)
    assert.equal("1", s:read("up/one.txt"))
    assert.is_nil(s:read("up/two.tmp"))
    assert.equal("theirs", s:read("up/theirs.tmp"))
  end)
end)
