-- bin/ftplib --limit-rate: its values (curl's suffixes) on tables, its line in --help,
-- and get, put and cat held to it against a real server through the real executable.
local cliargs = require "ftplib.cli.args"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local cli_runner = require "spec.support.cli_runner"

local tmp

-- Runs bin/ftplib with argv; returns its exit code, stdout, stderr and the seconds.
local function ftplib_cli(...)
  return cli_runner.run(tmp, ...)
end

describe("--limit-rate", function()
  it("takes bytes a second with curl's suffixes, 1024-based", function()
    local cases = { ["5000"] = 5000, ["100K"] = 102400, ["100k"] = 102400,
      ["2M"] = 2097152, ["1.5m"] = 1572864, ["1G"] = 1073741824 }
    for text, rate in pairs(cases) do
      local parsed = assert(cliargs.parse { "--limit-rate", text, "get", "ftp://h/f" })
      assert.equal(rate, parsed.opts.limit_rate, text)
    end
    assert.equal(65536, cliargs.parse({ "--limit-rate=64K", "cat", "ftp://h/f" })
      .opts.limit_rate)
    for _, bad in ipairs { "0", "-5K", "fast", "2X", "K", "" } do
      local parsed, err = cliargs.parse { "--limit-rate", bad, "get", "ftp://h/f" }
      assert.is_nil(parsed, bad)
      assert.matches("^%-%-limit%-rate needs a rate", err)
    end
    local parsed, err = cliargs.parse { "get", "ftp://h/f", "--limit-rate" }
    assert.is_nil(parsed)
    assert.matches("needs a rate", err)
  end)

  it("is in the usage", function()
    assert.matches("\n      %-%-limit%-rate RATE  ", cliargs.USAGE)
  end)

  describe("against a real server", function()
    local s
    local SIZE = 1024 * 1024
    local content

    setup(function()
      tmp = proc.tempdir("cli-rate")
      s = servers.start(servers.kinds()[1])
      content = string.rep("0123456789abcdef", SIZE // 16)
      s:write("rate/src.bin", content)
    end)

    teardown(function()
      if s then s:stop() end
      proc.rmtree(tmp)
    end)

    -- 1 MiB at 512 KiB/s, less the burst: about 1.9 s; the tool's start-up on top.
    local function assert_limited(seconds, what)
      assert.is_true(seconds >= 1.6 and seconds <= 3.5,
        ("%s took %.2f s at 512K for 1 MiB"):format(what, seconds))
    end

    it("holds get, put and cat to it", function()
      local status, out, err, took = ftplib_cli("--limit-rate", "512K", "get",
        s:url("/rate/src.bin"), tmp .. "/got.bin")
      assert.are.equal(0, status, err)
      assert.are.equal("", out .. err)
      assert.are.equal(content, proc.read_file(tmp .. "/got.bin"))
      assert_limited(took, "get")

      status, out, err, took = ftplib_cli("--limit-rate=512K", "put", tmp .. "/got.bin",
        s:url("/rate/"))
      assert.are.equal(0, status, err)
      assert.are.equal("", out .. err)
      assert.are.equal(content, s:read("rate/got.bin"))
      assert_limited(took, "put")

      status, out, err, took = ftplib_cli("--limit-rate", "512k", "cat",
        s:url("/rate/src.bin"))
      assert.are.equal(0, status, err)
      assert.are.equal(content, out)
      assert_limited(took, "cat")
    end)

    it("leaves a transfer without it at full speed", function()
      local status, _, err, took = ftplib_cli("get", s:url("/rate/src.bin"),
        tmp .. "/fast.bin")
      assert.are.equal(0, status, err)
      assert.is_true(took < 1.5, ("an unlimited get of 1 MiB took %.2f s"):format(took))
    end)
  end)
end)
