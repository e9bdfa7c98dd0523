-- bin/ftplib where the toolbox meets: --help names every command and option (and each
-- option the parser takes is in it); --verify-hash and --segments on tables; and through
-- the real executable against real servers: mirror held to --limit-rate, get --segments
-- with --verify-hash, put and mirror with --verify-hash on proftpd (mod_digest), a server
-- without digest commands refused, rm -r with -X and -I.
local cliargs = require "ftplib.cli.args"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local cli_runner = require "spec.support.cli_runner"
local lfs = require "lfs"

local tmp

-- Runs bin/ftplib with argv; returns its exit code, stdout, stderr and the seconds.
local function ftplib_cli(...)
  return cli_runner.run(tmp, ...)
end

local function count(text, pattern)
  return select(2, text:gsub(pattern, ""))
end

describe("ftplib --help", function()
  setup(function() tmp = proc.tempdir("cli-toolbox") end)
  teardown(function() proc.rmtree(tmp) end)

  it("names every command and every option, from the executable", function()
    local status, help, err = ftplib_cli("--help")
    assert.are.equal(0, status, err)
    assert.are.equal(cliargs.USAGE, help)
    local commands = { "ls URL", "get URL", "cat URL", "put LOCAL URL", "mirror URL LOCALDIR",
      "mirror %-R LOCALDIR URL", "rm URL", "rm %-r URL", "rmdir URL", "mkdir URL",
      "mv URL NEWPATH", "chmod MODE URL" }
    for _, usage in ipairs(commands) do
      assert.matches("\n  " .. usage, help, 1)
    end
    local options = { "%-I, %-%-include GLOB", "%-X, %-%-exclude GLOB", "%-%-timezone TZ",
      "%-%-proxy URL", "%-%-limit%-rate RATE", "%-%-verify%-hash", "%-%-segments N",
      "%-r, %-%-recursive", "%-%-dry%-run", "%-p, %-%-parents", "%-P, %-%-parallel N" }
    for _, option in ipairs(options) do
      assert.matches("\n  [ %-%a,]*" .. option, help)
    end
    for _, verb in ipairs { "get, put, cat, mirror: at most RATE", "get, put, mirror: compare",
      "mirror, rm %-r: leave GLOB alone", "lftp's pget %-n" } do
      assert.matches(verb, help)
    end
    -- Each option the parser takes has its line: none is undocumented.
    for long in pairs(cliargs._options()) do
      assert.matches("%-%-" .. long:gsub("%-", "%%-") .. "[ \n]", help, 1, long)
    end
    for line in help:gmatch("[^\n]+") do
      assert.is_true(#line <= 80, "longer than 80 columns: " .. line)
    end
  end)

  it("takes --verify-hash as a flag and --segments from 1 to 32", function()
    local parsed = assert(cliargs.parse { "--verify-hash", "--segments", "4", "get", "ftp://h/f" })
    assert.is_true(parsed.opts.verify_hash)
    assert.are.equal(4, parsed.opts.segments)
    for _, bad in ipairs { "0", "33", "2.5", "many" } do
      local none, err = cliargs.parse { "--segments", bad, "get", "ftp://h/f" }
      assert.is_nil(none, bad)
      assert.matches("%-%-segments needs", err)
    end
    assert.is_nil(cliargs.parse { "--verify-hash=yes", "get", "ftp://h/f" })
  end)
end)

describe("ftplib's toolbox against real servers", function()
  setup(function() tmp = proc.tempdir("cli-toolbox") end)
  teardown(function() proc.rmtree(tmp) end)

  describe("on " .. servers.kinds()[1], function()
    local s
    local SIZE = 256 * 1024
    setup(function()
      s = servers.start(servers.kinds()[1])
      s:write("m/a.bin", string.rep("a", SIZE))
      s:write("m/b.bin", string.rep("b", SIZE))
    end)
    teardown(function() if s then s:stop() end end)

    -- 2 x 256 KiB at 256 KiB/s, less the bursts: about 1.75 s; the tool's start-up on top.
    it("holds mirror to --limit-rate, and -R too", function()
      local status, _, err, took = ftplib_cli("--limit-rate", "256K", "mirror", s:url("/m"),
        tmp .. "/m")
      assert.are.equal(0, status, err)
      assert.are.equal(string.rep("b", SIZE), proc.read_file(tmp .. "/m/b.bin"))
      assert.is_true(took >= 1.4 and took <= 4.5, ("mirror took %.2f s"):format(took))
      status, _, err, took = ftplib_cli("--limit-rate=256K", "mirror", "-R", tmp .. "/m",
        s:url("/m-up"))
      assert.are.equal(0, status, err)
      assert.are.equal(string.rep("a", SIZE), s:read("m-up/a.bin"))
      assert.is_true(took >= 1.4 and took <= 4.5, ("mirror -R took %.2f s"):format(took))
    end)

    it("rm -r keeps what -X matches and deletes only what -I matches", function()
      for _, rel in ipairs { "t/a.txt", "t/b.tmp", "t/sub/c.tmp", "t/sub/d.txt" } do
        s:write(rel, rel)
      end
      local status, _, err = ftplib_cli("rm", "-r", "-X", "*.txt", s:url("/t"))
      assert.are.equal(0, status, err)
      assert.is_nil(s:read("t/b.tmp"))
      assert.is_nil(s:read("t/sub/c.tmp"))
      assert.are.equal("t/a.txt", s:read("t/a.txt"))
      assert.are.equal("t/sub/d.txt", s:read("t/sub/d.txt"))
      s:write("t/e.tmp", "e")
      status, _, err = ftplib_cli("rm", "-r", "-I", "*.tmp", s:url("/t"))
      assert.are.equal(0, status, err)
      assert.is_nil(s:read("t/e.tmp"))
      assert.are.equal("t/a.txt", s:read("t/a.txt"))
    end)
  end)

  if not servers.available("proftpd") then
    pending("proftpd is not unpacked here: run `make test-env` (scripts/setup-test-env.sh)")
  else
    describe("on proftpd (mod_digest)", function()
      local s
      local BIG = string.rep("0123456789abcdef", 1024 * 1024 // 16)
      setup(function()
        s = servers.start("proftpd", { digest = true })
        s:write("h/big.bin", BIG)
        s:write("h/small.txt", "small\n")
        s:mkdir("up")
      end)
      teardown(function() if s then s:stop() end end)

      it("get --segments --verify-hash fetches on several sessions and checks the file",
        function()
          local status, _, err = ftplib_cli("-v", "--segments", "3", "--verify-hash", "get",
            s:url("/h/big.bin"), tmp .. "/big.bin")
          assert.are.equal(0, status, err)
          assert.are.equal(BIG, proc.read_file(tmp .. "/big.bin"))
          assert.are.equal(1, count(err, "%*cmd%* 'HASH h/big%.bin'"), err)
          assert.is_true(count(err, "%*cmd%* 'RETR h/big%.bin'") >= 2, err)
        end)

      it("put and mirror --verify-hash check each file", function()
        local status, _, err = ftplib_cli("-v", "--verify-hash", "put", tmp .. "/big.bin",
          s:url("/up/"))
        assert.are.equal(0, status, err)
        assert.are.equal(BIG, s:read("up/big.bin"))
        assert.are.equal(1, count(err, "%*cmd%* 'HASH up/big%.bin'"), err)
        status, _, err = ftplib_cli("-v", "--verify-hash", "mirror", s:url("/h"), tmp .. "/h")
        assert.are.equal(0, status, err)
        assert.are.equal("small\n", proc.read_file(tmp .. "/h/small.txt"))
        assert.are.equal(2, count(err, "%*cmd%* 'HASH "), err)
      end)
    end)
  end

  describe("on pyftpdlib (no digest command)", function()
    local s
    setup(function()
      s = servers.start("pyftpdlib")
      s:write("f.txt", "f")
    end)
    teardown(function() if s then s:stop() end end)

    it("get --verify-hash fails before any byte, saying why", function()
      local status, _, err = ftplib_cli("--verify-hash", "get", s:url("/f.txt"),
        tmp .. "/nohash.txt")
      assert.are.equal(7, status, err)
      assert.matches("no digest command", err)
      assert.is_nil(lfs.attributes(tmp .. "/nohash.txt"))
      assert.is_nil(lfs.attributes(tmp .. "/nohash.txt.part"))
    end)
  end)
end)
