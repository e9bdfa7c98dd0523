-- rate_limit: a transfer held to a number of bytes a second by the C pumps (a token
-- bucket with a small burst), sleeping between steps, or under the scheduler letting the
-- other tasks run. Against a real server (the first plain kind here), on loopback, where
-- an unlimited transfer of these sizes takes a few milliseconds.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"

local MiB = 1024 * 1024
local RATE = MiB -- bytes a second
local SIZE = 2 * MiB
-- 2 MiB at 1 MiB/s, less the burst (an eighth of a second): about 1.9 s. The bounds
-- leave room for a loaded machine, and fail a limit that is not applied (a few ms) or
-- that stalls.
local LOW, HIGH = 1.6, 3

local random_bytes = require("spec.support.proc").random_bytes

local function login(s)
  return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
                                     timeout = 20 }))
end

-- The CPU time the last timed call took (os.clock: this process only, not the
-- server's): a limit kept by spinning would use about all of its wall time.
local last_cpu

local function timed(fn, ...)
  local t0, cpu0 = ftplib.now(), os.clock()
  local a, b, c = fn(...)
  last_cpu = os.clock() - cpu0
  return ftplib.now() - t0, a, b, c
end

-- The wall time within the bounds, and no busy loop meanwhile.
local function assert_within(seconds, what)
  assert.is_true(seconds >= LOW and seconds <= HIGH,
    ("%s took %.2f s, expected %.1f to %.1f s"):format(what, seconds, LOW, HIGH))
  assert.is_true(last_cpu < 0.5,
    ("%s used %.2f s of CPU in %.2f s: a busy wait"):format(what, last_cpu, seconds))
end

describe("rate_limit", function()
  local s, body
  local tmp = os.tmpname()

  lazy_setup(function()
    body = random_bytes(SIZE)
    s = servers.start(servers.kinds()[1])
    s:write("two.bin", body)
  end)

  lazy_teardown(function()
    if s then s:stop() end
    os.remove(tmp)
    os.remove(tmp .. ".up")
  end)

  it("holds retrbinary into a Lua file (the C pump) to the rate", function()
    local ftp = login(s)
    local out = assert(io.open(tmp, "wb"))
    local took, ok, err = timed(ftp.retrbinary, ftp, "RETR two.bin", out, nil, nil,
      { rate_limit = RATE })
    out:close()
    assert.truthy(ok, err)
    assert_within(took, "RETR into a file")
    local f = assert(io.open(tmp, "rb"))
    assert.equal(body, f:read("a"))
    f:close()
    ftp:quit()
  end)

  it("holds retrbinary into a function sink (data:_recv) to the rate", function()
    local ftp = login(s)
    local chunks, biggest = {}, 0
    local took, ok, err = timed(ftp.retrbinary, ftp, "RETR two.bin", function(chunk)
      chunks[#chunks + 1] = chunk
      biggest = math.max(biggest, #chunk)
    end, nil, nil, { rate_limit = RATE })
    assert.truthy(ok, err)
    assert_within(took, "RETR into a function")
    assert.equal(body, table.concat(chunks))
    assert.is_true(biggest <= RATE / 8, "a chunk of " .. biggest .. " bytes: over the burst")
    ftp:quit()
  end)

  it("holds a slow limit evenly: a burst of at most a second's worth", function()
    s:write("slow.bin", body:sub(1, 5000))
    local ftp = login(s)
    local chunks, biggest = {}, 0
    local t0, cpu0 = ftplib.now(), os.clock()
    assert.truthy(ftp:retrbinary("RETR slow.bin", function(chunk)
      chunks[#chunks + 1] = chunk
      biggest = math.max(biggest, #chunk)
    end, nil, nil, { rate_limit = 2000 }))
    local took, cpu = ftplib.now() - t0, os.clock() - cpu0
    assert.equal(body:sub(1, 5000), table.concat(chunks))
    -- 2000 bytes at once, then 3000 at 2000 a second: 1.5 s.
    assert.is_true(took >= 1.2 and took <= 2.5, ("5000 bytes at 2000/s in %.2f s"):format(took))
    assert.is_true(biggest <= 2000, "a chunk of " .. biggest .. " bytes")
    assert.is_true(cpu < 0.3, ("%.2f s of CPU"):format(cpu))
    ftp:quit()
  end)

  it("holds download and upload (files: splice and sendfile) to the rate", function()
    local ftp = login(s)
    os.remove(tmp)
    local took, bytes, err = timed(ftp.download, ftp, "two.bin", tmp, { rate_limit = RATE })
    assert.equal(SIZE, bytes, err)
    assert_within(took, "download")
    took, bytes, err = timed(ftp.upload, ftp, tmp, "up.bin", { rate_limit = RATE })
    assert.equal(SIZE, bytes, err)
    assert_within(took, "upload")
    assert.equal(body, s:read("up.bin"))
    ftp:quit()
  end)

  it("holds storbinary from a string (data:_send) to the rate", function()
    local ftp = login(s)
    local took, ok, err = timed(ftp.storbinary, ftp, "STOR str.bin", body, nil, nil, nil,
      { rate_limit = RATE })
    assert.truthy(ok, err)
    assert_within(took, "STOR of a string")
    assert.equal(body, s:read("str.bin"))
    ftp:quit()
  end)

  it("holds ftplib.get and ftplib.put to the rate", function()
    local took, got, err = timed(ftplib.get, s:url("/two.bin"), nil, { rate_limit = RATE })
    assert.equal(body, got, err)
    assert_within(took, "ftplib.get")
    local f = assert(io.open(tmp .. ".up", "wb"))
    f:write(body)
    f:close()
    local bytes
    took, bytes, err = timed(ftplib.put, s:url("/put.bin"), tmp .. ".up",
      { rate_limit = RATE })
    assert.equal(SIZE, bytes, err)
    assert_within(took, "ftplib.put")
    assert.equal(body, s:read("put.bin"))
  end)

  it("lets two limited sessions under the scheduler progress side by side", function()
    local progress = { {}, {} }
    local tasks = {}
    for i = 1, 2 do
      tasks[i] = ftplib.spawn(function()
        local ftp = login(s)
        local got = 0
        local ok, err = ftp:retrbinary("RETR two.bin", function(chunk)
          got = got + #chunk
          progress[i][#progress[i] + 1] = { ftplib.now(), got }
        end, nil, nil, { rate_limit = RATE })
        ftp:quit()
        return ok, err, got
      end)
    end
    local wall, ran, run_err = timed(ftplib.run)
    assert.truthy(ran, run_err)
    local t0 = ftplib.now() - wall
    for i = 1, 2 do
      local ok, err, got = tasks[i]:result()
      assert.truthy(ok, err)
      assert.equal(SIZE, got)
    end
    -- Each at its own rate at once: about as long as one, not two one after the other.
    assert_within(wall, "two limited sessions at once")
    -- Halfway through the wall time, each had moved a good part, not all or nothing.
    local half = t0 + wall / 2
    for i = 1, 2 do
      local at_half = 0
      for _, point in ipairs(progress[i]) do
        if point[1] <= half then
          at_half = point[2]
        end
      end
      assert.is_true(at_half > SIZE / 5 and at_half < SIZE * 4 / 5,
        ("session %d had %d of %d bytes halfway"):format(i, at_half, SIZE))
    end
  end)

  it("holds an FTPS download and upload (TLS records) to the rate", function()
    local variant = servers.tls_kinds()[1]
    assert(variant, "no FTPS server here")
    local tls_server = servers.start(variant.kind, { tls = variant.tls })
    finally(function() tls_server:stop() end)
    tls_server:write("two.bin", body)
    local ftps = assert(ftplib.FTP_TLS(tls_server.host, { port = tls_server.port,
      user = tls_server.user, passwd = tls_server.passwd, timeout = 20,
      tls = { cafile = tls_server.ca, implicit = tls_server.tls.mode == "implicit" } }))
    local out = assert(io.open(tmp, "wb"))
    local took, ok, err = timed(ftps.retrbinary, ftps, "RETR two.bin", out, nil, nil,
      { rate_limit = RATE })
    out:close()
    assert.truthy(ok, err)
    assert_within(took, "RETR over TLS")
    local input = assert(io.open(tmp, "rb"))
    took, ok, err = timed(ftps.storbinary, ftps, "STOR back.bin", input, nil, nil, nil,
      { rate_limit = RATE })
    input:close()
    assert.truthy(ok, err)
    assert_within(took, "STOR over TLS")
    assert.equal(body, tls_server:read("back.bin"))
    ftps:quit()
  end)

  it("takes no rate limit below 1 byte a second, nor of another type", function()
    local ftp = login(s)
    assert.has_error(function()
      ftp:retrbinary("RETR two.bin", function() end, nil, nil, { rate_limit = 0 })
    end)
    assert.has_error(function()
      ftp:storbinary("STOR x", "x", nil, nil, nil, { rate_limit = "fast" })
    end)
    assert.has_error(function()
      ftp:download("two.bin", tmp, { rate_limit = -5 })
    end)
    assert.has_error(function()
      ftplib.get(s:url("/two.bin;type=a"), nil, { rate_limit = RATE })
    end)
    -- The session is still in step: nothing was sent for the refused calls.
    assert.truthy(ftp:pwd())
    ftp:quit()
  end)
end)
