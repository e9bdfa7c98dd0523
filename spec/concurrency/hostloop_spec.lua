-- A host's own event loop drives sessions: coroutines made by ftplib.coroutine yield
-- (ftplib.WAIT, fd, "r"|"w", timeout) at every wait, and the host resumes them. Shown with
-- luv (libuv), Debian's lua-luv, through the adapter ftplib.concurrency.luv, and with
-- examples/luv_parallel.lua run as a script.
local ftplib = require "ftplib"
local uv = require "luv"
local hostloop = require "ftplib.concurrency.luv"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local proc = require "spec.support.proc"

local DELAY = 0.2

local random_bytes = proc.random_bytes

-- Drives fn(...) from the uv loop (the shipped adapter, ftplib.concurrency.luv): each
-- wait becomes a poll handle on its descriptor and a timer; the first to fire resumes
-- the coroutine. Returns a table that gets results = { coroutine.resume's values } at
-- the end, and waits = how many waits.
local function start(fn, ...)
  return hostloop.start(fn, nil, ...)
end

local function login(s, timeout)
  return ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
                              timeout = timeout or 10 })
end

local function fetch(s, name)
  local ftp = assert(login(s))
  local chunks = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) chunks[#chunks + 1] = chunk end))
  ftp:quit()
  return table.concat(chunks)
end

describe("a host event loop (luv)", function()
  local slow, fast
  local small = random_bytes(200000)

  lazy_setup(function()
    slow = servers.start("pyftpdlib", { delay = DELAY })
    slow:write("small.bin", small)
    fast = servers.start(servers.kinds()[1])
    fast:write("small.bin", small)
  end)

  lazy_teardown(function()
    if slow then slow:stop() end
    if fast then fast:stop() end
  end)

  it("sees what a wait yields: the descriptor, the direction and the time left", function()
    local co = ftplib.coroutine(function()
      local ftp = assert(login(fast, 7))
      ftp:close()
      ftplib.sleep(0.25)
      return "over"
    end)
    local seen_fd, seen_sleep = false, false
    while true do
      local ok, what, fd, dir, timeout = coroutine.resume(co)
      assert.is_true(ok, what)
      if coroutine.status(co) == "dead" then
        assert.equal("over", what)
        break
      end
      assert.equal(ftplib.WAIT, what)
      if fd then
        assert.equal("integer", math.type(fd))
        assert.is_true(dir == "r" or dir == "w")
        assert.is_true(timeout > 0 and timeout <= 7)
        seen_fd = true
        assert(ftplib._core.poll({ fd }, { dir }, timeout))
      else
        assert.is_nil(dir)
        assert.is_true(timeout > 0.2 and timeout <= 0.25)
        seen_sleep = true
        ftplib._core.poll({}, {}, timeout)
      end
    end
    assert.is_true(seen_fd)
    assert.is_true(seen_sleep)
  end)

  it("runs several sessions at once under uv.run, the loop staying free", function()
    local t0 = ftplib.now()
    assert.equal(small, fetch(slow, "small.bin")) -- one alone, blocking
    local one = ftplib.now() - t0
    local ticks = 0
    local ticker = uv.new_timer()
    ticker:start(10, 10, function() ticks = ticks + 1 end)
    t0 = ftplib.now()
    local states = {}
    for i = 1, 3 do
      states[i] = start(fetch, slow, "small.bin")
    end
    local guard = uv.new_timer()
    guard:start(30000, 0, function() uv.stop() end)
    while not (states[1].results and states[2].results and states[3].results) do
      uv.run("once")
    end
    guard:close()
    ticker:close()
    uv.run("nowait")
    local wall = ftplib.now() - t0
    for i = 1, 3 do
      assert.is_true(states[i].results[1], states[i].results[2])
      assert.equal(small, states[i].results[2])
      assert.is_true(states[i].waits > 5)
    end
    -- One after another would take 3x; pyftpdlib greets one at a time.
    assert.is_true(wall < one * 2, ("3 sessions %.2f s, one alone %.2f s"):format(wall, one))
    assert.is_true(ticks > wall * 30, ticks .. " ticks of 10 ms in " .. wall .. " s")
  end)

  it("times out under the host loop while another session works", function()
    local srv = fake.start({ { sleep = 5 } }) -- accepts, never greets
    local hung = start(function()
      local ftp = ftplib.FTP { timeout = 1 }
      local t0 = ftplib.now()
      local ok, err, code = ftp:connect(srv.host, srv.port)
      return ftplib.now() - t0, ok, err, code
    end)
    local busy = start(function()
      local n = 0
      local t0 = ftplib.now()
      while ftplib.now() - t0 < 1.2 do
        assert.equal(small, fetch(fast, "small.bin"))
        n = n + 1
      end
      return n
    end)
    while not (hung.results and busy.results) do
      uv.run("once")
    end
    srv:stop()
    local _, waited, ok, err, code = table.unpack(hung.results, 1, 5)
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.matches("timed out", err)
    assert.is_true(waited >= 1 and waited < 1.8, "timed out after " .. waited .. " s")
    assert.is_true(busy.results[1], busy.results[2])
    assert.is_true(busy.results[2] >= 3, busy.results[2] .. " downloads meanwhile")
  end)

  it("takes early resumes in its stride", function()
    -- A careless host that resumes at once, every time, without waiting at all.
    local co = ftplib.coroutine(function()
      local ftp = assert(login(fast))
      local chunks = {}
      assert(ftp:retrbinary("RETR small.bin", function(c) chunks[#chunks + 1] = c end))
      assert(ftp:storbinary("STOR copy.bin", table.concat(chunks)))
      ftp:quit()
      return table.concat(chunks)
    end)
    local resumes = 0
    local ok, result
    repeat
      ok, result = coroutine.resume(co)
      assert.is_true(ok, result)
      resumes = resumes + 1
    until coroutine.status(co) == "dead"
    assert.equal(small, result)
    assert.equal(small, fast:read("copy.bin"))
    assert.is_true(resumes > 2)
  end)

  it("blocks as before in a coroutine it did not make", function()
    local co = coroutine.wrap(function()
      local t0 = ftplib.now()
      ftplib.sleep(0.1)
      local data = fetch(fast, "small.bin")
      return ftplib.now() - t0, data
    end)
    local waited, data = co() -- runs to its end: no yield
    assert.is_true(waited >= 0.1)
    assert.equal(small, data)
  end)

  it("runs examples/luv_parallel.lua", function()
    local out = proc.tempdir("luvex")
    for i = 1, 3 do
      slow:write("ex" .. i .. ".bin", small:sub(1, 1000 * i))
    end
    -- The module the specs load: the first entry of package.cpath ($(BUILD)/?.so).
    local command = ("LUA_PATH='lua/?.lua;;' LUA_CPATH='%s;;' lua5.4 "
      .. "examples/luv_parallel.lua %s %d %s %s %s ex1.bin ex2.bin ex3.bin 2>&1")
      :format(package.cpath:match("^([^;]+)"), slow.host, slow.port, slow.user, slow.passwd,
        proc.shell_quote(out))
    local text = proc.run(command)
    for i = 1, 3 do
      assert.matches("ex" .. i .. ".bin%s+done at", text)
      assert.equal(small:sub(1, 1000 * i), proc.read_file(out .. "/ex" .. i .. ".bin"))
    end
    assert.matches("3 files %(0 failed%)", text)
    proc.rmtree(out)
  end)
end)
