-- MODE Z against a server that lies (spec/support/hostile.lua): a stream that is not
-- zlib, one corrupt inside, one cut short, bytes after its end, a bomb (1 GiB of
-- zeros in about 1 MB; FTPLIB_TEST_SCALE shrinks it) with and without a size in its
-- 150 reply, and a refused MODE Z.
-- Each transfer fails with a code, never a raise; download() leaves nothing under
-- the final name; the bomb costs time, never memory (the chunks stay small).
-- The zlib streams are made by Python's zlib, not by ftplib.
local lfs = require "lfs"
local hostile = require "spec.support.hostile"
local proc = require "spec.support.proc"
local scaled = require "spec.support.scale"

local CONTENT = string.rep("compressible line of a log file\n", 20000) -- 640 KB

-- Python's zlib.compress of the bytes of file `input`, or (for a bomb) of `zeros`
-- zero bytes, made in slices of 1 MiB.
local function python_zlib(input, zeros)
  local dir = proc.tempdir("mode-z-make")
  local out = dir .. "/out"
  local script = [[
import sys, zlib
c = zlib.compressobj()
with open(sys.argv[1], 'wb') as out:
    if sys.argv[2] != '-':
        out.write(c.compress(open(sys.argv[2], 'rb').read()))
    else:
        block = bytes(1 << 20)
        for _ in range(int(sys.argv[3]) >> 20):
            out.write(c.compress(block))
    out.write(c.flush())
]]
  proc.write_file(dir .. "/z.py", script)
  local source = "-"
  if input then
    source = dir .. "/in"
    proc.write_file(source, input)
  end
  assert(proc.run(("python3 %s %s %s %d"):format(proc.shell_quote(dir .. "/z.py"),
    proc.shell_quote(out), proc.shell_quote(source), zeros or 0)))
  local bytes = proc.read_file(out)
  proc.rmtree(dir)
  return bytes
end

-- Python's zlib.decompress of bytes (the check of what ftplib compressed).
local function python_unzlib(bytes)
  local dir = proc.tempdir("mode-z-check")
  proc.write_file(dir .. "/in", bytes)
  proc.write_file(dir .. "/z.py", [[
import sys, zlib
open(sys.argv[2], 'wb').write(zlib.decompress(open(sys.argv[1], 'rb').read()))
]])
  local ok = proc.run(("python3 %s %s %s"):format(proc.shell_quote(dir .. "/z.py"),
    proc.shell_quote(dir .. "/in"), proc.shell_quote(dir .. "/out")))
  local plain = ok and proc.read_file(dir .. "/out")
  proc.rmtree(dir)
  return plain
end

local STREAM = python_zlib(CONTENT)
local BOMB_SIZE = scaled(1 << 30) -- under valgrind (make valgrind) less
local BOMB = python_zlib(nil, BOMB_SIZE)

local FEATURES = { "MODE Z", "SIZE" }

local tmp, srv
before_each(function() tmp = proc.tempdir("hostile-mode-z") end)
after_each(function()
  if srv then srv:stop() end
  srv = nil
  proc.rmtree(tmp)
end)

local function start(file, extra)
  local scenario = { features = FEATURES, files = { ["data.bin"] = file } }
  for key, value in pairs(extra or {}) do scenario[key] = value end
  srv = hostile.start(scenario)
  return srv:session({ mode_z = true, timeout = 20 })
end

local function count(pattern)
  local n = 0
  for _, line in ipairs(srv:commands()) do
    if line:find(pattern) then n = n + 1 end
  end
  return n
end

local function exists(path)
  return lfs.symlinkattributes(path) ~= nil
end

-- download() in pcall: it must not raise. The target, then what download returned.
local function download(ftp)
  local target = tmp .. "/data.bin"
  local results = table.pack(pcall(ftp.download, ftp, "data.bin", target))
  assert(results[1], results[2])
  return target, table.unpack(results, 2, results.n)
end

-- retrbinary with a function sink in pcall: the chunks' count, total and largest,
-- then what retrbinary returned.
local function receive(ftp)
  local seen = { n = 0, total = 0, largest = 0 }
  local results = table.pack(pcall(ftp.retrbinary, ftp, "RETR data.bin", function(chunk)
    seen.n, seen.total = seen.n + 1, seen.total + #chunk
    seen.largest = math.max(seen.largest, #chunk)
  end))
  assert(results[1], results[2])
  return seen, table.unpack(results, 2, results.n)
end

describe("MODE Z from a hostile server", function()
  it("inflates an honest stream (the baseline of the cases below)", function()
    local ftp <close> = start({ data = CONTENT, send = STREAM })
    assert.equal("Z", (ftp:transfer_mode()))
    local target, bytes, err = download(ftp)
    assert.equal(#CONTENT, bytes, err)
    assert.equal(CONTENT, proc.read_file(target))
    assert.equal(1, count("^MODE Z$"))
  end)

  local cases = {
    { "bytes that are no zlib stream", CONTENT, "not a valid zlib stream" },
    { "a stream corrupt in its middle", -- read as it may: no valid stream
      STREAM:sub(1, 200) .. string.rep("\255", 64) .. STREAM:sub(265), "MODE Z: " },
    { "a stream whose check value is wrong", STREAM:sub(1, -5) .. "\0\0\0\0",
      "not a valid zlib stream" },
    { "a stream cut short", STREAM:sub(1, #STREAM // 2), "cut short" },
    { "bytes after the stream's end", STREAM .. "trailing", "after the end" },
  }
  for _, case in ipairs(cases) do
    local what, sent, message = case[1], case[2], case[3]
    it("fails with \"proto\" on " .. what .. ", leaving no file", function()
      local ftp <close> = start({ data = CONTENT, send = sent })
      local target, bytes, err, code = download(ftp)
      assert.is_nil(bytes)
      assert.equal("proto", code, err)
      assert.matches(message, err, 1, true)
      assert.is_false(exists(target), "nothing under the final name")
      assert.truthy(ftp:pwd(), "the session is still of use")
    end)
    it("fails with \"proto\" on " .. what .. " given to a function sink", function()
      local ftp <close> = start({ data = CONTENT, send = sent })
      local _, text, err, code = receive(ftp)
      assert.is_nil(text)
      assert.equal("proto", code, err)
    end)
  end

  it("stops a bomb at the size its 150 reply announced (\"limit\"), leaving no file", function()
    local ftp <close> = start({ data = CONTENT, send = BOMB, announce = 100000 })
    local started = os.time()
    local target, bytes, err, code = download(ftp)
    assert.is_nil(bytes)
    assert.equal("limit", code, err)
    assert.matches("inflates past the size the server announced", err, 1, true)
    assert.is_false(exists(target), "nothing under the final name")
    assert.is_true(os.time() - started < 10, "stopped early, not after 1 GiB")
  end)

  it("inflates a bomb without an announced size in bounded chunks and memory", function()
    local ftp <close> = start({ data = CONTENT, send = BOMB, announce = false })
    collectgarbage()
    local before = collectgarbage("count")
    local peak = before
    local seen = { total = 0, largest = 0, calls = 0 }
    local text, err = ftp:retrbinary("RETR data.bin", function(chunk)
      seen.total, seen.largest = seen.total + #chunk, math.max(seen.largest, #chunk)
      seen.calls = seen.calls + 1
      if seen.calls % 64 == 0 then
        -- What stays live counts; the chunks already passed are garbage, whose
        -- amount between collections is the collector's pace, not the library's.
        collectgarbage()
        peak = math.max(peak, collectgarbage("count"))
      end
    end, 1 << 20)
    assert.truthy(text, err)
    assert.equal(BOMB_SIZE, seen.total)
    assert.is_true(seen.largest <= 256 * 1024, "chunks of at most the core's 256 KiB")
    assert.is_true(peak - before < 64 * 1024, "the Lua heap grew by less than 64 MiB")
  end)

  it("stays in stream mode when MODE Z is refused, and says why", function()
    local ftp <close> = start({ data = CONTENT }, { mode_z = "504 Unable to handle MODE Z" })
    local mode, why = ftp:transfer_mode()
    assert.equal("S", mode)
    assert.matches("504 Unable to handle MODE Z", why, 1, true)
    local target, bytes, err = download(ftp)
    assert.equal(#CONTENT, bytes, err)
    assert.equal(CONTENT, proc.read_file(target))
    assert.equal(1, count("^MODE Z$"))
  end)

  it("sends MODE S before an upload unless mode_z_upload, and a valid stream with it", function()
    local ftp <close> = start({ data = CONTENT, send = STREAM })
    assert(ftp:storbinary("STOR plain.txt", CONTENT))
    assert.equal(1, count("^MODE S$"))
    assert(ftp:retrbinary("RETR data.bin", function() end)) -- MODE Z again first
    assert.equal(2, count("^MODE Z$"))
    ftp.mode_z_upload = true
    local path = tmp .. "/up.txt"
    proc.write_file(path, CONTENT)
    local source <close> = assert(io.open(path, "rb"))
    assert(ftp:storbinary("STOR chunks.z", CONTENT)) -- the callback path
    assert(ftp:storbinary("STOR file.z", source))    -- the file pump
    assert(ftp:storbinary("STOR empty.z", ""))
    assert.equal(1, count("^MODE S$"))
    -- What the server stored, fetched raw (stream mode), inflated by Python.
    local plain <close> = srv:session()
    assert.equal("S", (plain:transfer_mode()))
    for name, want in pairs({ ["chunks.z"] = CONTENT, ["file.z"] = CONTENT, ["empty.z"] = "" }) do
      local parts = {}
      assert(plain:retrbinary("RETR " .. name, function(chunk) parts[#parts + 1] = chunk end))
      local raw = table.concat(parts)
      assert.is_true(#raw < #want // 10 + 64, name .. " went compressed")
      assert.equal(want, python_unzlib(raw), name)
    end
  end)
end)
