-- The command-line tool against a hostile server (spec/support/hostile.lua): passwords
-- never shown, ports checked, control characters of listed names escaped on a terminal,
-- Ctrl-C answered at once with the .part kept. Each scenario runs in a sandbox
-- (spec/support/sandbox.lua); after each one nothing outside the target changed.
local lfs = require "lfs"
local hostile = require "spec.support.hostile"
local sandbox = require "spec.support.sandbox"
local proc = require "spec.support.proc"

local mlsx = hostile.mlsx
local MLST = hostile.MLST
local ROOT, ENV, within, run_tool = sandbox.ROOT, sandbox.ENV, sandbox.within, sandbox.run_tool

-- The test's sandbox, and the hostile server it started: checked and stopped after it.
local box, srv
before_each(function() box = sandbox.new() end)
after_each(function() srv = sandbox.finish(box, srv) end)

describe("10. the command-line tool", function()
  it("never shows a URL's password, even in errors", function()
    srv = hostile.start { lists = { [""] = { reply = "550 refused" } } }
    local url = ("ftp://me:S3cr%%21t@127.0.0.1:%d/"):format(srv.port)
    local status, out, err = run_tool("bin/ftplib", "ls", url)
    assert.are.equal(4, status)
    assert.is_nil((out .. err):find("S3cr", 1, true), err)
    assert.matches("me:%*%*%*@", err)
    local _
    status, _, err = run_tool("bin/ftplib", "ls", "ftp://me:pa%zzword@127.0.0.1:1/")
    assert.are.equal(1, status)
    assert.is_nil(err:find("pa%zz", 1, true), err)
  end)

  it("refuses ports above 65535 instead of wrapping them", function()
    local status, _, err = run_tool("bin/ftplib", "ls", "ftp://127.0.0.1:65557/")
    assert.are.equal(1, status)
    assert.matches("port out of range", err)
  end)

  it("escapes control characters of listed names on a terminal", function()
    srv = hostile.start { features = MLST, mlsd = { [""] = { lines = {
      mlsx("file", "evil\27]0;owned\7name", 1) } } } }
    local out, err = {}, {}
    local function sink(list)
      return { write = function(self, ...) for _, s in ipairs { ... } do list[#list + 1] = s end
        return self end, flush = function() end }
    end
    local status = require("ftplib.cli.main").main({ "ls", srv:url("") },
      { stdout = sink(out), stderr = sink(err), stdout_terminal = true })
    assert.are.equal(0, status, table.concat(err))
    local text = table.concat(out)
    assert.is_nil(text:find("\27", 1, true))
    assert.matches("evil\\x1b%]0;owned\\x07name", text)
  end)

  -- Runs `ftplib get` of remote file `name` from srv, sends it SIGINT once the .part
  -- has data, and answers its exit status and stderr; within `bound` seconds.
  local function interrupt_get(name, bound)
    lfs.mkdir(box.target)
    local dir = proc.tempdir("hostile-int")
    local script = dir .. "/run.sh"
    -- A shell that waits for the .part to grow, then sends SIGINT to the tool.
    proc.write_file(script, ([[
%s lua5.4 %s get %s %s 2> %s/err &
pid=$!
for i in $(seq 1 100); do
  [ -s %s ] && break
  sleep 0.05
done
sleep 0.2
kill -INT $pid
wait $pid
echo $? > %s/status
]]):format(ENV, proc.shell_quote(ROOT .. "/bin/ftplib"), proc.shell_quote(srv:url(name)),
      proc.shell_quote(box:path(name)), dir, proc.shell_quote(box:path(name .. ".part")), dir))
    within(bound, function() os.execute("bash " .. proc.shell_quote(script)) end)
    local status = tonumber(proc.read_file(dir .. "/status"))
    local err = proc.read_file(dir .. "/err")
    proc.rmtree(dir)
    return status, err
  end

  it("exits 130 on Ctrl-C and names the .part it kept", function()
    srv = hostile.start { files = { slow = { data = ("s"):rep(200000), chunk = 1000,
      pause = 0.05, mdtm = "20200101000000" } } }
    local status, err = interrupt_get("slow", 30)
    assert.are.equal(130, status, err)
    assert.matches("interrupted; the partial download is kept in .*slow%.part", err)
    assert.is_true(lfs.attributes(box:path("slow.part"), "size") > 0)
  end)

  it("exits on Ctrl-C at once while the server stalls (not at the next byte)", function()
    -- One block, then 40 s of silence: the tool's timeout (60 s) is far away.
    srv = hostile.start { files = { stalled = { data = ("s"):rep(4000), chunk = 1000,
      pause = 40, mdtm = "20200101000000" } } }
    local status, err = interrupt_get("stalled", 15)
    assert.are.equal(130, status, err)
    assert.matches("interrupted; the partial download is kept in .*stalled%.part", err)
  end)
end)
