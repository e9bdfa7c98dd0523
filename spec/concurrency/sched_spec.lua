-- Many sessions in one thread: ftplib.spawn and ftplib.run against real servers
-- (pyftpdlib with a reply delay, to make round trips long; vsftpd or pyftpdlib without
-- one for bulk data), the fake server for a server that never answers, and FTPS.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"

local DELAY = 0.2
local BIG_SIZE = 32 * 1024 * 1024

local random_bytes = require("spec.support.proc").random_bytes

local function login(s, opts)
  opts = opts or {}
  return ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
                              timeout = opts.timeout or 10 })
end

-- Connects, logs in, downloads name into a string and quits; event(what) notes
-- the steps. The same function serves inside and outside the scheduler.
local function fetch(s, name, event)
  event = event or function() end
  local ftp = assert(login(s))
  event("logged in")
  local chunks = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) chunks[#chunks + 1] = chunk end))
  event("downloaded")
  ftp:quit()
  return table.concat(chunks)
end

-- The bulk server: vsftpd when it runs here, else pyftpdlib.
local function bulk_kind()
  local kinds = servers.kinds()
  for _, kind in ipairs(kinds) do
    if kind == "vsftpd" then
      return kind
    end
  end
  return kinds[1]
end

describe("the scheduler without sessions", function()
  it("runs tasks, returns their results and sleeps them side by side", function()
    local t0 = ftplib.now()
    local order = {}
    local tasks = {}
    -- Wake-ups at 0.1, 0.2 (task 1), 0.3, 0.6 (task 2), 0.5, 1.0 (task 3): at
    -- least 0.1 s apart, so a slow machine cannot swap two of them.
    local naps = { 0.1, 0.3, 0.5 }
    for i = 1, 3 do
      tasks[i] = ftplib.spawn(function(n)
        for _ = 1, 2 do
          ftplib.sleep(naps[n])
          order[#order + 1] = n
        end
        return n * 10, "x"
      end, i)
    end
    assert.is_true(ftplib.run())
    local wall = ftplib.now() - t0
    -- One after another they would take 1.8 s.
    assert.is_true(wall >= 1.0 and wall < 1.6, "wall " .. wall)
    assert.same({ 1, 1, 2, 3, 2, 3 }, order)
    for i, task in ipairs(tasks) do
      assert.equal("done", task.status)
      assert.same({ i * 10, "x" }, { task:result() })
    end
  end)

  it("lets a task wait for another one's result", function()
    local outer = ftplib.spawn(function()
      local inner = ftplib.spawn(function()
        ftplib.sleep(0.05)
        return 41
      end)
      return inner:result() + 1
    end)
    assert.equal(42, outer:result()) -- outside a task: runs the scheduler until done
    assert.is_true(ftplib.run())
  end)

  it("stops at run's timeout and goes on at the next run", function()
    local task = ftplib.spawn(function()
      ftplib.sleep(0.4)
      return "late"
    end)
    local ok, err, code = ftplib.run(0.1)
    assert.is_nil(ok)
    assert.equal("timed out", err)
    assert.equal("timeout", code)
    assert.equal("waiting", task.status)
    assert.is_true(ftplib.run())
    assert.equal("late", task:result())
  end)

  it("refuses a run inside a task", function()
    local task = ftplib.spawn(function()
      return pcall(ftplib.run)
    end)
    ftplib.run()
    local ok, err = task:result()
    assert.is_false(ok)
    assert.matches("already running", err)
  end)

  it("sleeps by blocking outside a task", function()
    local t0 = ftplib.now()
    ftplib.sleep(0.15)
    assert.is_true(ftplib.now() - t0 >= 0.15)
  end)
end)

describe("sessions in tasks", function()
  local slow, bulk
  local small = random_bytes(100000)
  local big = random_bytes(BIG_SIZE)

  lazy_setup(function()
    slow = servers.start("pyftpdlib", { delay = DELAY })
    slow:write("small.bin", small)
    bulk = servers.start(bulk_kind())
    bulk:write("small.bin", small)
    bulk:write("big.bin", big)
  end)

  lazy_teardown(function()
    if slow then slow:stop() end
    if bulk then bulk:stop() end
  end)

  it("outside a scheduler the same code blocks and works", function()
    local t0 = ftplib.now()
    assert.equal(small, fetch(slow, "small.bin"))
    -- greeting, USER, PASS, TYPE, EPSV, RETR, 226, QUIT: each reply delayed
    assert.is_true(ftplib.now() - t0 >= 7 * DELAY)
  end)

  it("four sessions against a slow server take about one session's time", function()
    local t0 = ftplib.now()
    assert.equal(small, fetch(slow, "small.bin"))
    local one = ftplib.now() - t0
    local events, tasks = {}, {}
    t0 = ftplib.now()
    for i = 1, 4 do
      tasks[i] = ftplib.spawn(fetch, slow, "small.bin", function(what)
        events[#events + 1] = what .. " " .. i
      end)
    end
    assert.is_true(ftplib.run())
    local wall = ftplib.now() - t0
    for i = 1, 4 do
      assert.equal(small, tasks[i]:result())
    end
    -- One after another would take 4x; pyftpdlib greets one connection at a time
    -- (DELAY each), the rest overlaps.
    assert.is_true(wall < one * 2, ("4 sessions %.2f s, one alone %.2f s"):format(wall, one))
    -- Every session logged in before any had downloaded: they went together.
    for k = 1, 4 do
      assert.matches("^logged in", events[k])
      assert.matches("^downloaded", events[k + 4])
    end
  end)

  it("shares the thread between big transfers, to files and to functions", function()
    local ticks = 0
    local transfers_done = 0
    local ticker = ftplib.spawn(function()
      while transfers_done < 4 do
        ftplib.sleep(0.002)
        ticks = ticks + 1
      end
    end)
    local owners = {}
    local logged_in = 0
    -- All four transfers start together, whatever the login times.
    local function login_all()
      local ftp = assert(login(bulk))
      logged_in = logged_in + 1
      while logged_in < 4 do
        ftplib.sleep(0.001)
      end
      return ftp
    end
    local function to_function(i)
      local ftp = login_all()
      local size = 0
      for _ = 1, 2 do
        assert(ftp:retrbinary("RETR big.bin", function(chunk)
          size = size + #chunk
          if owners[#owners] ~= i then
            owners[#owners + 1] = i
          end
        end))
      end
      ftp:quit()
      transfers_done = transfers_done + 1
      return size
    end
    local function to_file()
      local ftp = login_all()
      local file = assert(io.tmpfile())
      local ticks_before = ticks
      for _ = 1, 3 do
        file:seek("set")
        assert(ftp:retrbinary("RETR big.bin", file))
      end
      ftp:quit()
      transfers_done = transfers_done + 1
      file:seek("set")
      local same = file:read("a") == big
      file:close()
      return same, ticks - ticks_before
    end
    local a = ftplib.spawn(to_function, 1)
    local b = ftplib.spawn(to_function, 2)
    local c = ftplib.spawn(to_file)
    local d = ftplib.spawn(to_file)
    assert.is_true(ftplib.run())
    assert.equal(2 * BIG_SIZE, a:result())
    assert.equal(2 * BIG_SIZE, b:result())
    for _, task in ipairs { c, d } do
      local same, ticks_during = task:result()
      assert.is_true(same)
      assert.is_true(ticks_during >= 3,
        "ticker ran " .. ticks_during .. " times during a file download")
    end
    assert.is_true(#owners > 3, "chunk owners switched only " .. (#owners - 1) .. " times")
    assert.equal("done", ticker.status)
  end)

  it("fires a timeout inside the scheduler while another task transfers", function()
    local srv = fake.start({ { sleep = 5 } }) -- accepts, and never greets
    local transfers_while_waiting = 0
    local waiting = false
    local hung = ftplib.spawn(function()
      local ftp = ftplib.FTP { timeout = 1 }
      local t0 = ftplib.now()
      waiting = true
      local ok, err, code = ftp:connect(srv.host, srv.port)
      waiting = false
      return ftplib.now() - t0, ok, err, code
    end)
    local busy = ftplib.spawn(function()
      local ftp = assert(login(bulk))
      local t0 = ftplib.now()
      while ftplib.now() - t0 < 1.5 do
        local chunks = {}
        assert(ftp:retrbinary("RETR small.bin", function(c) chunks[#chunks + 1] = c end))
        assert.equal(small, table.concat(chunks))
        if waiting then
          transfers_while_waiting = transfers_while_waiting + 1
        end
      end
      ftp:quit()
    end)
    assert.is_true(ftplib.run())
    busy:result()
    local waited, ok, err, code = hung:result()
    srv:stop()
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.matches("timed out", err)
    assert.is_true(waited >= 1 and waited < 1.8, "timeout after " .. waited .. " s")
    assert.is_true(transfers_while_waiting >= 5,
      transfers_while_waiting .. " transfers during the wait")
  end)

  it("keeps the others going when one task raises", function()
    local failing = ftplib.spawn(function()
      local ftp = assert(login(slow))
      ftp:close()
      error("boom in a task")
    end)
    local others = {}
    for i = 1, 2 do
      others[i] = ftplib.spawn(fetch, slow, "small.bin")
    end
    local ok, err = pcall(ftplib.run)
    assert.is_false(ok)
    assert.matches("boom in a task", err)
    for i = 1, 2 do
      assert.equal("done", others[i].status)
      assert.equal(small, others[i]:result())
    end
    assert.equal("failed", failing.status)
    assert.matches("boom in a task", failing.traceback)
    assert.has_error(function() failing:result() end)
    assert.is_true(ftplib.run()) -- the error was reported once
  end)

  it("reports runtime failures in a task as values, like outside", function()
    local task = ftplib.spawn(function()
      local ftp = assert(login(slow))
      local r = table.pack(ftp:size("no-such-file"))
      ftp:quit()
      return table.unpack(r, 1, r.n)
    end)
    assert.is_true(ftplib.run())
    local ok, err, code = task:result()
    assert.is_nil(ok)
    assert.matches("^550", err)
    assert.equal(550, code)
  end)
end)

for _, variant in ipairs(servers.tls_kinds()) do
  describe("FTPS sessions in tasks on " .. variant.name, function()
    local s
    local payload = random_bytes(2 * 1024 * 1024 + 5)

    setup(function()
      s = servers.start(variant.kind, { tls = variant.tls })
      s:write("payload.bin", payload)
    end)

    teardown(function()
      s:stop()
    end)

    it("logs in, downloads and uploads in three tasks at once", function()
      local function session(i)
        local ftp = assert(ftplib.FTP_TLS(s.host, {
          port = s.port, user = s.user, passwd = s.passwd, timeout = 10,
          tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" },
        }))
        local file = assert(io.tmpfile())
        assert(ftp:retrbinary("RETR payload.bin", file))
        file:seek("set")
        local got = file:read("a")
        file:close()
        assert(ftp:storbinary("STOR up" .. i .. ".bin", got))
        local names = assert(ftp:nlst())
        ftp:quit()
        return got == payload, names
      end
      local tasks = {}
      for i = 1, 3 do
        tasks[i] = ftplib.spawn(session, i)
      end
      assert.is_true(ftplib.run())
      for i = 1, 3 do
        local same, names = tasks[i]:result()
        assert.is_true(same)
        assert.is_table(names)
        assert.equal(payload, s:read("up" .. i .. ".bin"))
      end
    end)
  end)
end
