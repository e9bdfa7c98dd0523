-- The C host of examples/embed/: `make embed` (Lua 5.4 with the C core linked in,
-- running examples/embed/parallel.lua) and `make tsan-threads` (two OS threads with a
-- Lua state each, under ThreadSanitizer), built into a temporary BUILD folder and run
-- against real servers. Transferred files are compared byte for byte.
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local q = proc.shell_quote
-- A hung program is a failure, not a hung suite.
local RUN_TIMEOUT = 120

local build -- the temporary BUILD folder, made once

local function build_targets()
  if build then return build end
  build = proc.tempdir("embed")
  proc.run(("make -s --no-print-directory BUILD=%s embed tsan-threads"):format(q(build)))
  return build
end

-- Runs argv (env: extra variables) and returns its exit status, stdout and stderr.
local function run(argv, env)
  local words = {}
  for name, value in pairs(env or {}) do words[#words + 1] = name .. "=" .. q(value) end
  words[#words + 1] = "timeout " .. RUN_TIMEOUT
  for _, word in ipairs(argv) do words[#words + 1] = q(word) end
  local out, err = build .. "/stdout.txt", build .. "/stderr.txt"
  local _, _, status = os.execute(("%s >%s 2>%s"):format(table.concat(words, " "), q(out), q(err)))
  return status, proc.read_file(out) or "", proc.read_file(err) or ""
end

local random_bytes = proc.random_bytes

local function login_args(s)
  return { s.host, tostring(s.port), s.user, s.passwd }
end

teardown(function()
  if build then proc.rmtree(build) end
end)

describe("make embed: the C host", function()
  local host

  lazy_setup(function()
    host = build_targets() .. "/embed/host"
  end)

  it("links the core in, passes arg as lua does, and exits 1 with a traceback on error", function()
    local script = build .. "/probe.lua"
    proc.write_file(script, [[
      -- Registered by the host before the script runs: not loaded from a core.so.
      local core = package.loaded["ftplib.core"]
      print(type(core) == "table" and require("ftplib.core") == core and type(core.wait))
      print(type(require("ftplib").FTP), arg[0], arg[1], select("#", ...), ...)
      if arg[2] == "fail" then error("asked to fail") end
    ]])
    local status, out, err = run({ host, script, "one", "two" })
    assert.are.equal(0, status, err)
    assert.are.equal("function\nfunction\t" .. script .. "\tone\t2\tone\ttwo\n", out)
    status, out, err = run({ host, script, "x", "fail" })
    assert.are.equal("function\nfunction\t" .. script .. "\tx\t2\tx\tfail\n", out)
    assert.are.equal(1, status)
    assert.matches("asked to fail", err)
    assert.matches("stack traceback", err)
    status = run({ host })
    assert.are.equal(2, status)
  end)

  it("runs parallel.lua: several transfers at once, byte for byte", function()
    -- A reply delay makes each transfer take many round trips of waiting: tasks that
    -- are interleaved overlap in time, tasks run one after another do not.
    local s = servers.start("pyftpdlib", { delay = 0.05 })
    finally(function() s:stop() end)
    local sizes = { ["empty.bin"] = 0, ["small.txt"] = 5000, ["medium.bin"] = 300000,
      ["big.bin"] = 3 * 1024 * 1024 + 7 }
    local names, contents = {}, {}
    for name, size in pairs(sizes) do
      names[#names + 1] = name
      contents[name] = random_bytes(size)
      s:write(name, contents[name])
    end
    table.sort(names)
    local localdir = proc.tempdir("embed-down")
    finally(function() proc.rmtree(localdir) end)
    local argv = { host, "examples/embed/parallel.lua" }
    table.move(login_args(s), 1, 4, #argv + 1, argv)
    argv[#argv + 1] = localdir
    table.move(names, 1, #names, #argv + 1, argv)
    local status, out, err = run(argv)
    assert.are.equal(0, status, out .. err)
    for _, name in ipairs(names) do
      assert.matches(("downloaded %s %d\n"):format(name:gsub("%.", "%%."), sizes[name]), out)
      assert.are.equal(contents[name], proc.read_file(localdir .. "/" .. name), name)
      assert.are.equal(contents[name], s:read(name .. ".back"), name .. ".back")
    end
    assert.matches("overlap: yes", out)
  end)
end)

describe("make tsan-threads: two threads, two Lua states", function()
  local threads

  lazy_setup(function()
    threads = build_targets() .. "/tsan/threads"
  end)

  -- Each thread transfers its own file down and up several times on two sessions run
  -- by its own scheduler, both threads at once.
  local function check_threads(s, cafile)
    local contents = { random_bytes(2 * 1024 * 1024), random_bytes(3 * 1024 * 1024 + 11) }
    for i, content in ipairs(contents) do s:write(("thread%d.bin"):format(i), content) end
    local argv = { threads, "examples/embed/thread_job.lua" }
    table.move(login_args(s), 1, 4, #argv + 1, argv)
    argv[#argv + 1] = cafile or "-"
    -- verbosity=1: TSan says it runs, so a build without it cannot pass unnoticed.
    local status, out, err = run(argv, { TSAN_OPTIONS = "verbosity=1" })
    assert.are.equal(0, status, out .. err)
    assert.matches("Running under ThreadSanitizer", err)
    assert.is_nil(err:find("WARNING: ThreadSanitizer", 1, true), err)
    for i, content in ipairs(contents) do
      assert.matches(("thread %d: ok: 2 sessions x 4 rounds of %d bytes"):format(i, #content),
        out)
      for k = 1, 2 do
        assert.are.equal(content, s:read(("thread%d.bin.back%d"):format(i, k)))
      end
    end
  end

  it("transfer at the same time without interfering, clean under TSan", function()
    local kind = servers.available("vsftpd") and "vsftpd" or servers.kinds()[1]
    local s = servers.start(kind)
    finally(function() s:stop() end)
    check_threads(s)
  end)

  it("do the same over explicit FTPS (session resumption required), clean under TSan",
    function()
      local kind = servers.available("vsftpd", true) and "vsftpd" or "pyftpdlib"
      local s = servers.start(kind, { tls = { mode = "explicit" } })
      finally(function() s:stop() end)
      check_threads(s, s.ca)
    end)
end)
