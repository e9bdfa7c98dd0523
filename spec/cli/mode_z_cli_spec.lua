-- bin/ftplib --mode-z (-z): the flag on tables, its line in --help, and get, ls and
-- put through the real executable against proftpd with mod_deflate (compressed: the
-- dialogue under -v shows MODE Z) and vsftpd (no MODE Z offered: stream mode).
local cliargs = require "ftplib.cli.args"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local ROOT = lfs.currentdir()
-- The module the specs load (the first entry of package.cpath: $(BUILD)/?.so).
local CPATH = package.cpath:match("^([^;]+)")
if CPATH:sub(1, 1) ~= "/" then
  CPATH = ROOT .. "/" .. CPATH
end
local ENV = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(
  proc.shell_quote(ROOT .. "/lua/?.lua;;"), proc.shell_quote(CPATH .. ";;"))
local TOOL = ROOT .. "/bin/ftplib"

local tmp

-- Runs bin/ftplib with argv; returns its exit code, stdout and stderr.
local function ftplib_cli(...)
  local words = {}
  for i, word in ipairs { ... } do
    words[i] = proc.shell_quote(word)
  end
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(("%s HOME=%s lua5.4 %s %s > %s 2> %s < /dev/null"):format(
    ENV, proc.shell_quote(tmp), TOOL, table.concat(words, " "), out, err))
  return status, proc.read_file(out), proc.read_file(err)
end

local CONTENT = string.rep("a line of text that compresses well\n", 30000)

describe("--mode-z", function()
  it("is a flag, -z for short, off by default", function()
    assert.is_true(assert(cliargs.parse { "--mode-z", "get", "ftp://h/f" }).opts.mode_z)
    assert.is_true(assert(cliargs.parse { "-z", "ls", "ftp://h/" }).opts.mode_z)
    assert.is_nil(assert(cliargs.parse { "get", "ftp://h/f" }).opts.mode_z)
    local parsed, err = cliargs.parse { "--mode-z=yes", "get", "ftp://h/f" }
    assert.is_nil(parsed)
    assert.matches("takes no value", err)
  end)

  it("is in the usage", function()
    assert.matches("\n  %-z, %-%-mode%-z            compress", cliargs.USAGE)
  end)

  local kinds = { { "proftpd", { deflate = true }, "Z" }, { "vsftpd", {}, "S" } }
  for _, case in ipairs(kinds) do
    local kind, opts, mode = case[1], case[2], case[3]
    if servers.available(kind) then
      describe("against " .. kind, function()
        local s
        setup(function()
          tmp = proc.tempdir("cli-mode-z")
          s = servers.start(kind, opts)
          s:write("z/src.txt", CONTENT)
        end)
        teardown(function()
          if s then s:stop() end
          proc.rmtree(tmp)
        end)

        it("gets, lists and puts " .. (mode == "Z" and "in MODE Z" or "in stream mode"), function()
          local status, out, err = ftplib_cli("-v", "--mode-z", "get", s:url("/z/src.txt"),
            tmp .. "/got.txt")
          assert.are.equal(0, status, err)
          assert.are.equal(CONTENT, proc.read_file(tmp .. "/got.txt"))
          local dialogue = out .. err
          if mode == "Z" then
            assert.matches("'MODE Z'", dialogue, 1, true)
          else
            assert.is_nil(dialogue:find("'MODE ", 1, true), dialogue)
            assert.matches("FEAT does not offer MODE Z", dialogue, 1, true)
          end
          status, out, err = ftplib_cli("-z", "ls", s:url("/z/"))
          assert.are.equal(0, status, err)
          assert.matches("src.txt", out, 1, true)
          status, out, err = ftplib_cli("-z", "put", tmp .. "/got.txt", s:url("/z/"))
          assert.are.equal(0, status, err .. out)
          assert.are.equal(CONTENT, s:read("z/got.txt"))
        end)
      end)
    end
  end
end)
