-- LuaSocket's ltn12 sinks and sources with the transfers, against a real server: a
-- wrapped sink (ftplib.ltn12_sink) gets every chunk and then nil, once, whatever
-- happened; a sink answering nil, err fails the transfer (returned, not raised) and the
-- session stays in step; ltn12 sources are taken as they are. ftplib.get with no target
-- gives the body.
local ftplib = require "ftplib"
local ltn12 = require "ltn12"
local servers = require "spec.support.servers"

local random_bytes = require("spec.support.proc").random_bytes

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local content = f:read("a")
  f:close()
  return content
end

local function login(s)
  return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
                                     timeout = 10 }))
end

-- An ltn12 sink recording its calls: chunks (as bytes) and its end calls.
local function recording_sink(fail_after)
  local log = { bytes = 0, chunks = 0, ends = {} }
  local function sink(chunk, err)
    if chunk == nil then
      log.ends[#log.ends + 1] = { err = err }
      return 1
    end
    log.chunks = log.chunks + 1
    log.bytes = log.bytes + #chunk
    if fail_after and log.chunks >= fail_after then
      return nil, "disk full (the sink says)"
    end
    return 1
  end
  return sink, log
end

-- The session is in step: a command's reply is its own, and a whole file comes.
local function assert_in_step(ftp, name, body)
  assert.truthy(ftp:pwd())
  local parts = {}
  assert.truthy(ftp:retrbinary("RETR " .. name, ftplib.ltn12_sink(ltn12.sink.table(parts))))
  assert.equal(body, table.concat(parts))
end

describe("ltn12 sinks and sources", function()
  local s
  local small = random_bytes(100000)
  local big = random_bytes(8 * 1024 * 1024)
  local tmp = os.tmpname()

  lazy_setup(function()
    s = servers.start(servers.kinds()[1])
    s:write("small.bin", small)
    s:write("big.bin", big)
  end)

  lazy_teardown(function()
    if s then s:stop() end
    os.remove(tmp)
  end)

  it("retrbinary fills ltn12.sink.table", function()
    local ftp = login(s)
    local parts = {}
    local text, code = ftp:retrbinary("RETR small.bin", ftplib.ltn12_sink(ltn12.sink.table(parts)))
    assert.truthy(text, code)
    assert.equal(226, code)
    assert.equal(small, table.concat(parts))
    ftp:quit()
  end)

  it("retrbinary ends ltn12.sink.file: the file is closed and whole", function()
    local ftp = login(s)
    local out = assert(io.open(tmp, "wb"))
    assert.truthy(ftp:retrbinary("RETR big.bin", ftplib.ltn12_sink(ltn12.sink.file(out))))
    assert.equal("closed file", io.type(out))
    assert.equal(big, read_file(tmp))
    ftp:quit()
  end)

  it("calls a wrapped sink once with nil at the end, after every chunk", function()
    local ftp = login(s)
    local sink, log = recording_sink()
    assert.truthy(ftp:retrbinary("RETR small.bin", ftplib.ltn12_sink(sink)))
    assert.equal(#small, log.bytes)
    assert.same({ { err = nil } }, log.ends)
    ftp:quit()
  end)

  it("stops on a sink's nil, err: returned as the error, the transfer aborted, the end"
    .. " call made", function()
    local ftp = login(s)
    local sink, log = recording_sink(2)
    local ok, err, code = ftp:retrbinary("RETR big.bin", ftplib.ltn12_sink(sink), 16384)
    assert.is_nil(ok)
    assert.equal("disk full (the sink says)", err)
    assert.equal("io", code)
    assert.equal(2, log.chunks) -- no chunk after the failure
    assert.equal(1, #log.ends)
    assert.equal("disk full (the sink says)", log.ends[1].err)
    assert_in_step(ftp, "small.bin", small)
    ftp:quit()
  end)

  it("closes ltn12.sink.file when the transfer fails (550)", function()
    local ftp = login(s)
    local out = assert(io.open(tmp, "wb"))
    local ok, err, code = ftp:retrbinary("RETR missing.bin",
      ftplib.ltn12_sink(ltn12.sink.file(out)))
    assert.is_nil(ok)
    assert.equal(550, code, err)
    assert.equal("closed file", io.type(out))
    assert_in_step(ftp, "small.bin", small)
    ftp:quit()
  end)

  it("ends a wrapped sink, then raises again, when the sink raises", function()
    local ftp = login(s)
    local ends = 0
    local sink = ftplib.ltn12_sink(function(chunk)
      if chunk == nil then
        ends = ends + 1
        return 1
      end
      error("sink exploded")
    end)
    assert.has_error(function() ftp:retrbinary("RETR big.bin", sink) end, nil)
    assert.equal(1, ends)
    assert_in_step(ftp, "small.bin", small)
    ftp:quit()
  end)

  it("stops on nil, err from a plain function sink too (an ltn12 sink unwrapped)", function()
    local ftp = login(s)
    local seen = 0
    local ok, err, code = ftp:retrbinary("RETR big.bin", function(chunk)
      seen = seen + #chunk
      return nil, "no room"
    end, 16384)
    assert.is_nil(ok)
    assert.equal("no room", err)
    assert.equal("io", code)
    assert.is_true(seen < #big)
    -- A callback answering nothing goes on, as always.
    local got = 0
    assert.truthy(ftp:retrbinary("RETR small.bin", function(chunk) got = got + #chunk end))
    assert.equal(#small, got)
    ftp:quit()
  end)

  it("storbinary takes ltn12.source.string and ltn12.source.file", function()
    local ftp = login(s)
    assert.truthy(ftp:storbinary("STOR from_string.bin", ltn12.source.string(small)))
    assert.equal(small, s:read("from_string.bin"))
    local f = assert(io.open(tmp, "wb"))
    f:write(big)
    f:close()
    local input = assert(io.open(tmp, "rb"))
    assert.truthy(ftp:storbinary("STOR from_file.bin", ltn12.source.file(input)))
    assert.equal("closed file", io.type(input)) -- source.file closes at its end
    assert.equal(big, s:read("from_file.bin"))
    ftp:quit()
  end)

  it("fails an upload on a source's nil, err, the session in step", function()
    local ftp = login(s)
    local calls = 0
    local ok, err, code = ftp:storbinary("STOR broken.bin", function()
      calls = calls + 1
      if calls > 3 then
        return nil, "read error (the source says)"
      end
      return ("x"):rep(65536)
    end)
    assert.is_nil(ok)
    assert.equal("read error (the source says)", err)
    assert.equal("io", code)
    assert_in_step(ftp, "small.bin", small)
    ftp:quit()
  end)

  it("ftplib.get with no target returns the body", function()
    assert.equal(small, ftplib.get(s:url("/small.bin")))
    assert.equal(big, ftplib.get(s:url("/big.bin")))
    local listing = assert(ftplib.get(s:url("/;type=d")))
    assert.truthy(listing:find("small.bin", 1, true))
    local ok, err, code = ftplib.get(s:url("/missing.bin"))
    assert.is_nil(ok)
    assert.equal(550, code, err)
  end)

  it("ftplib.get ends a wrapped ltn12 sink, also when no session could be opened",
    function()
    local out = assert(io.open(tmp, "wb"))
    assert.equal(#big, ftplib.get(s:url("/big.bin"), ftplib.ltn12_sink(ltn12.sink.file(out))))
    assert.equal("closed file", io.type(out))
    assert.equal(big, read_file(tmp))
    -- A port nobody listens on: refused, and the file is closed all the same.
    out = assert(io.open(tmp, "wb"))
    local ok, _, code = ftplib.get("ftp://127.0.0.1:1/x.bin",
      ftplib.ltn12_sink(ltn12.sink.file(out)), { timeout = 5 })
    assert.is_nil(ok)
    assert.equal("refused", code)
    assert.equal("closed file", io.type(out))
  end)

  it("ftplib.put takes an ltn12 source", function()
    assert.equal(#small, ftplib.put(s:url("/put_ltn12.bin"), ltn12.source.string(small)))
    assert.equal(small, s:read("put_ltn12.bin"))
  end)

  it("takes only a function to wrap", function()
    assert.has_error(function() ftplib.ltn12_sink({}) end,
      "bad argument #1 to 'ltn12_sink' (function expected, got table)")
  end)
end)
