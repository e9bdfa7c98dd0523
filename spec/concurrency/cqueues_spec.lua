-- Sessions inside a cqueues controller (Debian's lua-cqueues) through the adapter
-- ftplib.concurrency.cqueues, against real servers: several at once beside the
-- controller's own timers, which keep firing during the transfers; a rate-limited
-- transfer whose pauses leave the controller free; cqueues' own yields from inside a
-- session's function; a timeout while another session works.
local ftplib = require "ftplib"
local cqueues = require "cqueues"
local hostloop = require "ftplib.concurrency.cqueues"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"

local DELAY = 0.2

local random_bytes = require("spec.support.proc").random_bytes

local function login(s, timeout)
  return ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
                              timeout = timeout or 10 })
end

local function fetch(s, name, opts)
  local ftp = assert(login(s))
  local chunks = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) chunks[#chunks + 1] = chunk end,
    nil, nil, opts))
  ftp:quit()
  return table.concat(chunks)
end

-- A cqueues timer: counts its ticks every `every` seconds until stopped.
local function ticker(cq, every)
  local t = { ticks = 0, running = true }
  cq:wrap(function()
    while t.running do
      cqueues.sleep(every)
      t.ticks = t.ticks + 1
    end
  end)
  return t
end

-- Steps cq until every state has its results (at most `limit` seconds).
local function run_until(cq, states, limit)
  local deadline = ftplib.now() + limit
  local function all_done()
    for _, state in ipairs(states) do
      if not state.results then
        return false
      end
    end
    return true
  end
  while not all_done() do
    assert(ftplib.now() < deadline, "the sessions did not end in " .. limit .. " s")
    assert(cq:step(0.05))
  end
end

describe("a cqueues controller", function()
  local slow, fast
  local small = random_bytes(200000)
  local two_mib = random_bytes(2 * 1024 * 1024)

  lazy_setup(function()
    slow = servers.start("pyftpdlib", { delay = DELAY })
    slow:write("small.bin", small)
    fast = servers.start(servers.kinds()[1])
    fast:write("small.bin", small)
    fast:write("two.bin", two_mib)
  end)

  lazy_teardown(function()
    if slow then slow:stop() end
    if fast then fast:stop() end
  end)

  it("runs several sessions at once, its timers firing all along", function()
    local t0 = ftplib.now()
    assert.equal(small, fetch(slow, "small.bin")) -- one alone, blocking
    local one = ftplib.now() - t0
    local cq = cqueues.new()
    local timer = ticker(cq, 0.01)
    local states, ended = {}, {}
    for i = 1, 3 do
      states[i] = hostloop.wrap(cq, fetch, function(ok, result)
        ended[i] = { ok, result, timer.ticks }
      end, slow, "small.bin")
    end
    t0 = ftplib.now()
    run_until(cq, states, 30)
    local wall = ftplib.now() - t0
    local ticks = timer.ticks
    timer.running = false
    assert(cq:loop())
    for i = 1, 3 do
      assert.is_true(states[i].results[1], states[i].results[2])
      assert.equal(small, states[i].results[2])
      assert.is_true(ended[i][1])
      assert.is_true(states[i].waits > 5)
    end
    -- One after another would take 3x; pyftpdlib greets one at a time.
    assert.is_true(wall < one * 2, ("3 sessions %.2f s, one alone %.2f s"):format(wall, one))
    -- A 10 ms timer: about wall * 100 ticks if never held up; at least a third of that.
    assert.is_true(ticks > wall * 30, ticks .. " ticks of 10 ms in " .. wall .. " s")
  end)

  it("keeps its timers firing during a fast transfer and a rate-limited one", function()
    local cq = cqueues.new()
    local timer = ticker(cq, 0.01)
    local states = {
      hostloop.wrap(cq, fetch, nil, fast, "two.bin"),
      hostloop.wrap(cq, fetch, nil, fast, "two.bin", { rate_limit = 1024 * 1024 }),
    }
    local t0 = ftplib.now()
    run_until(cq, states, 30)
    local wall = ftplib.now() - t0
    local ticks = timer.ticks
    timer.running = false
    assert(cq:loop())
    for i = 1, 2 do
      assert.is_true(states[i].results[1], states[i].results[2])
      assert.equal(two_mib, states[i].results[2])
    end
    assert.is_true(wall >= 1.6 and wall < 3, ("the limited transfer took %.2f s"):format(wall))
    assert.is_true(ticks > wall * 30, ticks .. " ticks of 10 ms in " .. wall .. " s")
  end)

  it("passes cqueues' own yields from a session's function to the controller", function()
    local cq = cqueues.new()
    local state = hostloop.wrap(cq, function()
      local t0 = cqueues.monotime()
      cqueues.sleep(0.1) -- cqueues' sleep, not ftplib's
      local slept = cqueues.monotime() - t0
      return slept, fetch(fast, "small.bin")
    end)
    assert(cq:loop())
    assert.is_true(state.results[1], state.results[2])
    assert.is_true(state.results[2] >= 0.1)
    assert.equal(small, state.results[3])
  end)

  it("times out a silent server while another session works", function()
    local srv = fake.start({ { sleep = 5 } }) -- accepts, never greets
    local cq = cqueues.new()
    local hung = hostloop.wrap(cq, function()
      local ftp = ftplib.FTP { timeout = 1 }
      local t0 = ftplib.now()
      local ok, err, code = ftp:connect(srv.host, srv.port)
      return ftplib.now() - t0, ok, err, code
    end)
    local busy = hostloop.wrap(cq, function()
      local n = 0
      local t0 = ftplib.now()
      while ftplib.now() - t0 < 1.2 do
        assert.equal(small, fetch(fast, "small.bin"))
        n = n + 1
      end
      return n
    end)
    run_until(cq, { hung, busy }, 20)
    srv:stop()
    local _, waited, ok, err, code = table.unpack(hung.results, 1, 5)
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.matches("timed out", err)
    assert.is_true(waited >= 1 and waited < 1.8, "timed out after " .. waited .. " s")
    assert.is_true(busy.results[1], busy.results[2])
    assert.is_true(busy.results[2] >= 3, busy.results[2] .. " downloads meanwhile")
  end)

  it("gives done the error a session's function raised", function()
    local cq = cqueues.new()
    local seen
    hostloop.wrap(cq, function()
      assert(login(fast)):quit()
      error("a script's own error", 0)
    end, function(ok, err) seen = { ok, err } end)
    assert(cq:loop())
    assert.same({ false, "a script's own error" }, seen)
  end)
end)
