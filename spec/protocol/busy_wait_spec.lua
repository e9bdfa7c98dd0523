-- busy_wait: a wait for a read polls without sleeping for a short time first (C
-- busy_wait.c), bounded by the wait's own deadline, and it stops spinning for a while
-- after a run of waits the spin did not catch. The setting is the process's.
local ftplib = require "ftplib"
local core = require "ftplib.core"
local socket = require "socket"
local servers = require "spec.support.servers"

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
