-- verify = "hash" against a server that lies about digests (spec/support/hostile.lua):
-- wrong digests, replies that are no digest (malformed, of the wrong length, algorithm
-- or range, huge, over the line limit), data corrupted on the way. A wrong digest:
-- the transfer is done again as many times as verify_retries allow, and a download
-- that still fails leaves nothing under its name. A reply holding no digest of the
-- whole file says nothing of the bytes: it fails at once, the .part kept. Nothing
-- raises.
local core = require "ftplib.core"
local lfs = require "lfs"
local hostile = require "spec.support.hostile"
local proc = require "spec.support.proc"

local CONTENT = string.rep("hostile but honest bytes\n", 4000) -- 100 KB
local CORRUPT = CONTENT:sub(1, 5000) .. "X" .. CONTENT:sub(5002) -- one byte changed
local GOOD = core.sha256(CONTENT)
local BAD = core.sha256(CORRUPT)
local FEATURES = { "SIZE", "MDTM", "HASH SHA-256*;MD5", "XSHA256" }

local function hash_reply(hex, algo)
  return ("213 %s 0-%d %s data.bin"):format(algo or "SHA-256", #CONTENT, hex)
end

local tmp, srv
before_each(function() tmp = proc.tempdir("hostile-hash") end)
after_each(function()
  if srv then
    local errors = srv:errors()
    srv:stop()
    srv = nil
    assert.same({}, errors)
  end
  proc.rmtree(tmp)
end)

local function start(hash_replies, extra)
  local scenario = {
    features = FEATURES, hash_replies = hash_replies,
    files = { ["data.bin"] = { data = CONTENT, mdtm = "20200101000000" } },
  }
  for key, value in pairs(extra or {}) do scenario[key] = value end
  srv = hostile.start(scenario)
  return srv:session()
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

-- download(...) in pcall: it must not raise, whatever the server sent.
local function download(ftp, opts)
  local target = tmp .. "/data.bin"
  local results = table.pack(pcall(ftp.download, ftp, "data.bin", target, opts))
  assert(results[1], results[2])
  return target, table.unpack(results, 2, results.n)
end

local function assert_left_nothing(target)
  assert.is_false(exists(target), "nothing under the final name")
  assert.is_false(exists(target .. ".part"), "no .part of known-bad bytes")
end

describe("download with verify = \"hash\" from a lying server", function()
  it("downloads again after one wrong digest", function()
    local ftp <close> = start({ HASH = { hash_reply(BAD), hash_reply(GOOD) } })
    local target, bytes, info = download(ftp, { verify = "hash" })
    assert.equal(#CONTENT, bytes, info)
    assert.equal(1, info.verify_retries)
    assert.equal("sha256", info.verified)
    assert.equal(CONTENT, proc.read_file(target))
    assert.equal(2, count("^RETR data%.bin$"))
  end)

  it("fails with \"verify\" after verify_retries when the digest is always wrong", function()
    for _, retries in ipairs { 0, 1, 3 } do
      local ftp <close> = start({ HASH = { hash_reply(BAD) } })
      local target, ok, err, code = download(ftp, { verify = "hash", verify_retries = retries })
      assert.is_nil(ok)
      assert.equal("verify", code)
      assert.truthy(err:find(BAD, 1, true) and err:find(GOOD, 1, true), err)
      assert.equal(retries + 1, count("^RETR data%.bin$"), "retries " .. retries)
      assert_left_nothing(target)
      assert(ftp:noop(), "the session is still usable")
      srv:stop()
      srv = nil
    end
  end)

  it("catches data corrupted on the way, and gets it right the second time", function()
    local ftp <close> = start({ HASH = { hash_reply(GOOD) } },
      { files = { ["data.bin"] = { data = CONTENT, sends = { CORRUPT, CONTENT } } } })
    local target, bytes, info = download(ftp, { verify = "hash" })
    assert.equal(#CONTENT, bytes, info)
    assert.equal(1, info.verify_retries)
    assert.equal(CONTENT, proc.read_file(target))
  end)

  it("fails at once, keeping the .part, on a reply holding no digest of the whole file",
      function()
    local lies = {
      "213 garbage",
      "213 SHA-256 0-100000 " .. GOOD:sub(2) .. " data.bin",
      "213 SHA-256 0-100000 " .. GOOD .. "0 data.bin",
      "213 SHA-256 0-100000 " .. GOOD:sub(2) .. "z data.bin",
      "213 SHA-256 10-100000 " .. GOOD .. " data.bin",
      "213 SHA-256 0-99999999999999999999 " .. GOOD .. " data.bin",
      "250 " .. GOOD,
      "150 " .. GOOD,
      hash_reply(core.sha256(""):sub(1, 32), "MD5"), -- another algorithm, after OPTS HASH too
    }
    for _, lie in ipairs(lies) do
      local ftp <close> = start({ HASH = { lie } })
      local target, ok, err, code = download(ftp, { verify = "hash" })
      assert.is_nil(ok, lie)
      assert.equal("proto", code, lie .. ": " .. tostring(err))
      assert.equal(1, count("^RETR data%.bin$"), lie)
      assert.is_false(exists(target))
      assert.equal(CONTENT, proc.read_file(target .. ".part"), "the bytes may be fine: kept")
      srv:stop()
      srv = nil
    end
  end)

  it("takes no digest of part of the file for the whole file's (HASH's range end)", function()
    -- GOOD is the whole file's digest, but the server says it covers bytes 0-1024.
    for _, range in ipairs { "0-1024", "0-100001", "0-99998" } do
      local ftp <close> = start({ HASH = { ("213 SHA-256 %s %s data.bin"):format(range, GOOD) } })
      local target, ok, err, code = download(ftp, { verify = "hash" })
      assert.is_nil(ok, range)
      assert.equal("proto", code, range .. ": " .. tostring(err))
      assert.truthy(err:find("not of the whole file", 1, true), err)
      assert.equal(1, count("^RETR data%.bin$"), range)
      assert.equal(CONTENT, proc.read_file(target .. ".part"))
      srv:stop()
      srv = nil
    end
    -- The size (proftpd) and the last byte's offset both cover it.
    for _, range in ipairs { "0-100000", "0-99999" } do
      local ftp <close> = start({ HASH = { ("213 SHA-256 %s %s data.bin"):format(range, GOOD) } })
      local target, bytes, info = download(ftp, { verify = "hash" })
      assert.equal(#CONTENT, bytes, range .. ": " .. tostring(info))
      assert.equal("sha256", info.verified)
      assert.equal(CONTENT, proc.read_file(target))
      srv:stop()
      srv = nil
    end
  end)

  it("reads an old server's \"250 MD5 of file is <hex>\", and a wrong one is a mismatch",
      function()
    local function md5(bytes)
      proc.write_file(tmp .. "/md5-of", bytes)
      return core.file_digest(tmp .. "/md5-of", "md5")
    end
    local ftp <close> = start({ XMD5 = { "250 MD5 of file is " .. md5(CORRUPT),
      "250 MD5 of file is " .. md5(CONTENT):upper() } }, { features = { "SIZE", "XMD5" } })
    local target, bytes, info = download(ftp, { verify = "hash" })
    assert.equal(#CONTENT, bytes, tostring(info))
    assert.equal("md5", info.verified)
    assert.equal(1, info.verify_retries)
    assert.equal(CONTENT, proc.read_file(target))
    assert.equal(2, count("^XMD5 data%.bin$"))
  end)

  it("reads a huge multi-line reply; one over maxline fails with \"limit\", the .part kept",
      function()
    local huge = string.rep("213-Computing, computing, computing\r\n", 20000) .. hash_reply(BAD)
    local over = "213 SHA-256 0-100000 " .. string.rep("f", 100000) .. " data.bin"
    local ftp <close> = start({ HASH = { huge, over, hash_reply(GOOD) } })
    local target, ok, err, code = download(ftp, { verify = "hash", verify_retries = 2 })
    assert.is_nil(ok)
    assert.equal("limit", code, err)
    assert.equal(2, count("^RETR data%.bin$"), "again after the huge reply's wrong digest")
    assert.is_false(exists(target))
    assert.equal(CONTENT, proc.read_file(target .. ".part"))
  end)

  it("keeps the .part when the server refuses the digest (450): nothing known bad", function()
    local ftp <close> = start({ HASH = { "450 File busy, try later" } })
    local target, ok, err, code = download(ftp, { verify = "hash" })
    assert.is_nil(ok)
    assert.equal(450, code, err)
    assert.is_false(exists(target))
    assert.equal(CONTENT, proc.read_file(target .. ".part"), "whole, unverified: kept")
    assert.equal(1, count("^RETR"))
  end)

  it("falls back to XSHA256 when OPTS HASH is refused, and checks its reply too", function()
    local ftp <close> = start({ XSHA256 = { "250 0x" .. BAD:upper(), "250 " .. GOOD } },
      { opts_hash = "501 Unsupported algorithm", features = { "SIZE", "HASH MD5*;SHA-256",
        "XSHA256" } })
    local target, bytes, info = download(ftp, { verify = "hash" })
    assert.equal(#CONTENT, bytes, info)
    assert.equal(1, info.verify_retries)
    assert.equal(CONTENT, proc.read_file(target))
    assert.equal(0, count("^HASH "))
    assert.equal(2, count("^XSHA256 data%.bin$"))
  end)

  it("fails fast with \"unsupported\" when FEAT lists no digest command", function()
    local ftp <close> = start({ HASH = { hash_reply(GOOD) } }, { features = { "SIZE" } })
    local target, ok, err, code = download(ftp, { verify = "hash" })
    assert.is_nil(ok)
    assert.equal("unsupported", code, err)
    assert.equal(0, count("^RETR"))
    assert_left_nothing(target)
  end)

  it("fails fast when FEAT does not offer verify_algo", function()
    local ftp <close> = start({ HASH = { hash_reply(GOOD) } })
    local _, ok, err, code = download(ftp, { verify = "hash", verify_algo = "sha1" })
    assert.is_nil(ok)
    assert.equal("unsupported", code)
    assert.truthy(err:find("sha1", 1, true), err)
    assert.equal(0, count("^RETR"))
  end)
end)

describe("upload with verify = \"hash\" to a lying server", function()
  local function source()
    local path = tmp .. "/up.bin"
    proc.write_file(path, CONTENT)
    return path
  end

  local function upload(ftp, remote, opts)
    local results = table.pack(pcall(ftp.upload, ftp, source(), remote, opts))
    assert(results[1], results[2])
    return table.unpack(results, 2, results.n)
  end

  it("sends the whole file again after a wrong digest", function()
    local ftp <close> = start({ HASH = { hash_reply(BAD), hash_reply(GOOD) } })
    local bytes, info = upload(ftp, "up.bin", { verify = "hash", resume = true })
    assert.equal(#CONTENT, bytes, info)
    assert.equal(1, info.verify_retries)
    assert.same({ "up.bin 100000", "up.bin 100000" }, srv:events("stored"))
    assert.equal(0, count("^REST"), "not resumed from the copy that differed")
  end)

  it("deletes an atomic upload's temporary when the digest stays wrong", function()
    local ftp <close> = start({ HASH = { hash_reply(BAD) } })
    local ok, err, code = upload(ftp, "up.bin", { verify = "hash", atomic = true })
    assert.is_nil(ok)
    assert.equal("verify", code, err)
    assert.same({ "up.bin.part 100000", "up.bin.part 100000" }, srv:events("stored"))
    assert.same({}, srv:events("renamed"), "never renamed to the final name")
    assert.same({ "up.bin.part", "up.bin.part" }, srv:events("deleted"))
    assert.equal(2, count("^DELE "), "each known-bad temporary deleted once")
  end)

  it("fails at once with \"proto\" on a reply holding no digest: not sent again", function()
    local ftp <close> = start({ HASH = { "213 SHA-256 0-1 nonsense up.bin", hash_reply(GOOD) } })
    local ok, err, code = upload(ftp, "up.bin", { verify = "hash" })
    assert.is_nil(ok)
    assert.equal("proto", code, err)
    assert.same({ "up.bin 100000" }, srv:events("stored"))
    assert.same({}, srv:events("deleted"), "a non-atomic upload's file stays")
  end)
end)
