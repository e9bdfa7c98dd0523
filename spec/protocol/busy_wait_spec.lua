-- busy_wait: a wait for a read polls without sleeping for a short time first (C
-- busy_wait.c), bounded by the wait's own deadline, and it stops spinning for a while
-- after a run of waits the spin did not catch. A calm wait (a transfer past its first
-- 256 KiB: a stream) sleeps at once. The setting is the process's.
local ftplib = require "ftplib"
local core = require "ftplib.core"
local socket = require "socket"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"

-- A connected socket on loopback that never becomes readable, and its peer.
local function quiet_pair()
  local listener = assert(socket.bind("127.0.0.1", 0))
  local host, port = listener:getsockname()
  local client = assert(socket.connect(host, port))
  local peer = assert(listener:accept())
  listener:close()
  return client, peer
end

describe("ftplib.set_busy_wait", function()
  local default
  before_each(function() default = ftplib.set_busy_wait(0.00025) end)
  after_each(function() ftplib.set_busy_wait(default) end)

  it("answers the setting before and refuses what is out of range", function()
    assert.equal(0.00025, ftplib.set_busy_wait(0))
    assert.equal(0, ftplib.set_busy_wait(0.001))
    assert.has_error(function() ftplib.set_busy_wait(-1) end,
      "ftplib: set_busy_wait: seconds must be from 0 to 0.01")
    assert.has_error(function() ftplib.set_busy_wait(0.5) end,
      "ftplib: set_busy_wait: seconds must be from 0 to 0.01")
    assert.has_error(function() ftplib.set_busy_wait("fast") end)
    assert.equal(0.001, ftplib.set_busy_wait(0.00025))
  end)

  it("never waits past a deadline shorter than the spin", function()
    local client, peer = quiet_pair()
    finally(function() client:close(); peer:close() end)
    ftplib.set_busy_wait(0.01)
    local started = ftplib.now()
    assert.same({ nil, "timed out", "timeout" }, { core.wait(client:getfd(), "r", 0.001) })
    assert.is_true(ftplib.now() - started < 0.009, "took " .. (ftplib.now() - started))
  end)

  it("is woken by data already there, and still times out with no spin", function()
    local client, peer = quiet_pair()
    finally(function() client:close(); peer:close() end)
    ftplib.set_busy_wait(0.01)
    peer:send("x")
    assert.is_true(core.wait(client:getfd(), "r", 5))
    assert.equal("x", client:receive(1))
    ftplib.set_busy_wait(0)
    assert.same({ nil, "timed out", "timeout" }, { core.wait(client:getfd(), "r", 0.01) })
  end)

  it("stops spinning after waits it did not catch: CPU well below the waits' time", function()
    local client, peer = quiet_pair()
    finally(function() client:close(); peer:close() end)
    ftplib.set_busy_wait(0.01) -- each of these waits would spin 10 ms of its 20 ms
    local cpu0 = os.clock()
    for _ = 1, 24 do
      core.wait(client:getfd(), "r", 0.02)
    end
    local cpu = os.clock() - cpu0
    -- Spinning in every wait: 0.24 s; with the rest after 8 misses, at most 0.08 s.
    assert.is_true(cpu < 0.16, "used " .. cpu .. " s of CPU")
  end)

  it("sleeps at once in a calm wait", function()
    local client, peer = quiet_pair()
    finally(function() client:close(); peer:close() end)
    ftplib.set_busy_wait(0.01)
    -- First a wait that spins (one after the rest of an earlier run of misses ends):
    -- the spin is on, and the count of misses far from starting a rest.
    local spun = false
    for _ = 1, 80 do
      local cpu0 = os.clock()
      core.wait(client:getfd(), "r", 0.012)
      if os.clock() - cpu0 >= 0.005 then spun = true; break end
    end
    assert.is_true(spun, "no wait spun")
    local cpu0 = os.clock()
    for _ = 1, 6 do
      assert.same({ nil, "timed out", "timeout" }, { core.wait(client:getfd(), "r", 0.012, true) })
    end
    local cpu = os.clock() - cpu0
    -- Spinning, these six would take 0.06 s of CPU (too few misses for a rest).
    assert.is_true(cpu < 0.03, "used " .. cpu .. " s of CPU")
  end)

  it("spins in a small transfer's waits, not in a stream's", function()
    local STREAM = 256 * 1024 -- lua/ftplib/protocol/transfer.lua's STREAM_BYTES
    local pieces = {}
    for _ = 1, 4 do
      pieces[#pieces + 1] = { sleep = 0.1 }
      pieces[#pieces + 1] = { data_send = ("z"):rep(1000) }
    end
    local srv = fake.start(fake.script(fake.login_steps(), fake.type_steps("I"),
      fake.epsv_steps(), {
        -- The 150 held back: at least one wait before the stream, however slow the
        -- client (memcheck) that would otherwise find every reply already there.
        { expect = "^RETR f$" }, { sleep = 0.3 }, { send = "150 here\r\n" }, { accept = true },
        { data_send_size = STREAM + 1000 } }, pieces, {
        { data_close = true }, { send = "226 done\r\n" },
        { serve = { NOOP = "200 ok\r\n" }, last = "NOOP" } }), { timeout = 20 })
    finally(function() srv:stop() end)
    -- Every wait of the login and the download, with the bytes received when it began.
    local waits, received = {}, 0
    local wait = core.wait
    core.wait = function(fd, dir, timeout, calm)
      waits[#waits + 1] = { received = received, calm = calm and true or false }
      return wait(fd, dir, timeout, calm)
    end
    finally(function() core.wait = wait end)
    local ftp = assert(ftplib.FTP(srv.host, { port = srv.port, user = "anonymous",
                                           passwd = "guest", timeout = 5 }))
    finally(function() ftp:close() end)
    assert(ftp:retrbinary("RETR f", function(chunk) received = received + #chunk end))
    core.wait = wait
    assert.equal(STREAM + 5000, received)
    local early, late = 0, 0
    for _, w in ipairs(waits) do
      if w.received < STREAM then
        assert.is_false(w.calm, "a calm wait after " .. w.received .. " bytes")
        early = early + 1
      elseif w.received >= STREAM + 1000 then
        assert.is_true(w.calm, "a spinning wait after " .. w.received .. " bytes")
        late = late + 1
      end
    end
    assert.is_true(early >= 1, "no wait before the stream")
    assert.is_true(late >= 4, "the pauses between pieces were not waited for: " .. late)
    assert.equal("200 ok", (ftp:voidcmd("NOOP"))) -- the session is in step
  end)

  for _, seconds in ipairs { 0, 0.01 } do
    it(("leaves transfers whole with a busy-wait of %g s"):format(seconds), function()
      local s = servers.start(servers.kinds()[1])
      finally(function() s:stop() end)
      for i = 1, 20 do s:write(("f%02d"):format(i), tostring(i % 10):rep(i * 100)) end
      ftplib.set_busy_wait(seconds)
      local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user,
                                             passwd = s.passwd, timeout = 20 }))
      finally(function() ftp:close() end)
      for i = 1, 20 do
        local parts = {}
        assert(ftp:retrbinary(("RETR f%02d"):format(i), function(c) parts[#parts + 1] = c end))
        assert.equal(tostring(i % 10):rep(i * 100), table.concat(parts))
      end
    end)
  end
end)
