-- ftp:hash and verify = "hash" against real servers: proftpd with mod_digest (HASH,
-- OPTS HASH, XSHA512, XSHA256, XSHA1, XMD5, XCRC), whose digests must be the local ones
-- (core.file_digest); files changed between the transfer and the digest, which must be
-- caught and transferred again; and pyftpdlib, which has no digest command: verify fails
-- before any byte moves.
local ftplib = require "ftplib"
local core = require "ftplib.core"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local whole_files = require "ftplib.ops.whole_files"

local ALGOS = { "sha512", "sha256", "sha1", "md5", "crc32" }

-- 300 KB: several blocks of the transfer and of the digest.
local CONTENT = string.rep("0123456789abcdef", 300 * 64)
local OTHER = string.rep("fedcba9876543210", 300 * 64) -- as long, other bytes

local tmp
before_each(function() tmp = proc.tempdir("hash") end)
after_each(function() proc.rmtree(tmp) end)

-- A session logging its commands into `sent` (without PASS).
local function session(s, sent)
  return assert(ftplib.FTP(s.host, {
    port = s.port, user = s.user, passwd = s.passwd, timeout = 10, debuglevel = 1,
    debugfunc = function(line)
      local command = line:match("^%*cmd%* '(.*)'$")
      if command and sent then sent[#sent + 1] = command end
    end,
  }))
end

local function local_file(name, bytes)
  local path = tmp .. "/" .. name
  proc.write_file(path, bytes)
  return path
end

local function count(list, pattern)
  local n = 0
  for _, item in ipairs(list) do
    if item:find(pattern) then n = n + 1 end
  end
  return n
end

local function exists(path)
  return lfs.symlinkattributes(path) ~= nil
end

-- A progress function calling change() once, when the transfer's last byte has gone.
local function once_at_end(change)
  local changed = false
  return function(done, total)
    if done == total and not changed then
      changed = true
      change()
    end
  end
end

if not servers.available("proftpd") then
  describe("ftp:hash on proftpd", function()
    pending("proftpd is not unpacked here: run `make test-env` (scripts/setup-test-env.sh)")
  end)
else
  describe("ftp:hash on proftpd (mod_digest)", function()
    local s
    setup(function() s = servers.start("proftpd", { digest = true }) end)
    teardown(function() if s then s:stop() end end)

    it("gives each algorithm's digest, the local one, through HASH", function()
      s:write("data.bin", CONTENT)
      local reference = local_file("data.bin", CONTENT)
      local ftp <close> = session(s)
      for _, algo in ipairs(ALGOS) do
        local digest, used, range_end = ftp:hash("data.bin", algo)
        assert.equal(core.file_digest(reference, algo), digest, algo)
        assert.equal(algo, used)
        assert.equal(#CONTENT, range_end, "mod_digest's range ends at the size")
      end
    end)

    it("takes the strongest algorithm by default, and sends OPTS HASH only to change it", function()
      s:write("a.txt", "hello world\n")
      local sent = {}
      local ftp <close> = session(s, sent)
      local digest, algo = ftp:hash("a.txt")
      assert.equal("sha512", algo)
      assert.equal(core.file_digest(local_file("a.txt", "hello world\n"), "sha512"), digest)
      assert(ftp:hash("a.txt"))
      assert(ftp:hash("a.txt", "sha512"))
      assert(ftp:hash("a.txt", "md5"))
      assert(ftp:hash("a.txt", "md5"))
      assert.same({ "OPTS HASH SHA-512", "OPTS HASH MD5" },
        (function()
          local opts = {}
          for _, line in ipairs(sent) do
            if line:find("^OPTS HASH") then opts[#opts + 1] = line end
          end
          return opts
        end)())
      assert.equal(5, count(sent, "^HASH "))
      assert.equal(1, count(sent, "^FEAT$"))
    end)

    it("selects again after a script's own OPTS HASH", function()
      s:write("a.txt", "hello world\n")
      local ftp <close> = session(s)
      assert.equal("sha256", select(2, ftp:hash("a.txt", "sha256")))
      assert(ftp:sendcmd("OPTS HASH MD5"))
      local digest, algo = ftp:hash("a.txt", "sha256")
      assert.equal("sha256", algo)
      assert.equal(core.file_digest(local_file("a.txt", "hello world\n"), "sha256"), digest)
    end)

    it("uses the X commands where FEAT lists no HASH", function()
      s:write("data.bin", CONTENT)
      local reference = local_file("data.bin", CONTENT)
      local sent = {}
      local ftp <close> = session(s, sent)
      local features = {}
      for name, value in pairs(assert(ftp:feat())) do features[name] = value end
      features.HASH = nil
      ftp.features = features -- as a server offering only the X commands answers FEAT
      for _, algo in ipairs(ALGOS) do
        assert.equal(core.file_digest(reference, algo), ftp:hash("data.bin", algo), algo)
      end
      assert.equal(0, count(sent, "^HASH "))
      for _, command in ipairs { "XSHA512", "XSHA256", "XSHA1", "XMD5", "XCRC" } do
        assert.equal(1, count(sent, "^" .. command .. " data%.bin$"), command)
      end
    end)

    it("returns the server's refusal: no such file, a folder, an empty file for XCRC", function()
      s:write("empty", "")
      local ftp <close> = session(s)
      local ok, err, code = ftp:hash("missing.txt")
      assert.is_nil(ok)
      assert.equal(550, code)
      assert.truthy(err:find("missing.txt", 1, true))
      ok, err, code = ftp:hash("/")
      assert.is_nil(ok, err)
      assert.equal(553, code)
      assert.equal("da39a3ee5e6b4b0d3255bfef95601890afd80709", ftp:hash("empty", "sha1"))
      ftp.features = { XCRC = true }
      assert.equal(501, select(3, ftp:hash("empty", "crc32")))
      assert(ftp:noop(), "the session is still in step")
    end)

    it("raises for an unknown algorithm and a name with CR or LF", function()
      local ftp <close> = session(s)
      assert.has_error(function() ftp:hash("a", "sha3") end,
        "ftplib: bad argument #2 to 'hash' (one of sha512, sha256, sha1, md5, crc32 expected, "
        .. "got 'sha3')")
      assert.has_error(function() ftp:hash("a\r\nDELE b") end)
      assert.has_error(function() ftp:hash(nil) end)
    end)
  end)

  describe("download with verify = \"hash\" on proftpd", function()
    local s
    setup(function() s = servers.start("proftpd", { digest = true }) end)
    teardown(function() if s then s:stop() end end)

    it("downloads, compares with the strongest digest and says which", function()
      s:write("data.bin", CONTENT)
      local target = tmp .. "/data.bin"
      local ftp <close> = session(s)
      local bytes, info = ftp:download("data.bin", target, { verify = "hash" })
      assert.equal(#CONTENT, bytes)
      assert.equal("sha512", info.verified)
      assert.equal(0, info.verify_retries)
      assert.equal(CONTENT, proc.read_file(target))
      assert.is_false(exists(target .. ".part"))
    end)

    it("takes verify_algo", function()
      s:write("data.bin", CONTENT)
      local sent = {}
      local ftp <close> = session(s, sent)
      local _, info = assert(ftp:download("data.bin", tmp .. "/d", { verify = "hash",
        verify_algo = "crc32" }))
      assert.equal("crc32", info.verified)
      assert.equal(1, count(sent, "^OPTS HASH CRC32$"))
    end)

    it("downloads again when the file changed between the transfer and the digest", function()
      s:write("data.bin", CONTENT)
      local target = tmp .. "/data.bin"
      local sent = {}
      local ftp <close> = session(s, sent)
      local bytes, info = ftp:download("data.bin", target, { verify = "hash",
        progress = once_at_end(function()
          s:write("data.bin", OTHER) -- the same size: only the digest tells
        end) })
      assert.equal(#OTHER, bytes, info)
      assert.equal(1, info.verify_retries)
      assert.equal(OTHER, proc.read_file(target))
      assert.equal(2, count(sent, "^RETR data%.bin$"))
      assert.equal(0, count(sent, "^REST"), "the second transfer starts from byte 0")
    end)

    it("fails with \"verify\" when they still differ, leaving nothing under the name", function()
      s:write("data.bin", CONTENT)
      local target = local_file("data.bin", "the old file")
      local ftp <close> = session(s)
      local ok, err, code = ftp:download("data.bin", target, { verify = "hash",
        verify_retries = 0, progress = once_at_end(function()
          s:write("data.bin", OTHER)
        end) })
      assert.is_nil(ok)
      assert.equal("verify", code)
      assert.truthy(err:find("differs", 1, true), err)
      assert.equal("the old file", proc.read_file(target))
      assert.is_false(exists(target .. ".part"), "the bad .part is removed")
      assert(ftp:noop())
    end)

    it("catches a resumed .part whose bytes are not the remote file's", function()
      s:write("data.bin", CONTENT)
      local target = tmp .. "/data.bin"
      local ftp <close> = session(s)
      -- A start of the file as a cut download leaves it, with wrong bytes in it.
      local part = local_file("data.bin.part", OTHER:sub(1, 100000))
      assert(core.file_origin(part, whole_files._origin_text { size = #CONTENT,
        modify = assert(ftp:mdtm("data.bin")), precision = 1, remote = "data.bin" }))
      local _, info = assert(ftp:download("data.bin", target, { verify = "hash",
        resume = true }))
      assert.equal(1, info.verify_retries)
      assert.equal(CONTENT, proc.read_file(target))
    end)

    it("verifies an empty file by SIZE where the X command refuses it", function()
      s:write("empty", "")
      local ftp <close> = session(s)
      assert(ftp:feat())
      ftp.features = { XCRC = true, SIZE = true }
      local bytes, info = assert(ftp:download("empty", tmp .. "/empty", { verify = "hash" }))
      assert.equal(0, bytes)
      assert.equal("crc32", info.verified)
    end)
  end)

  describe("verify = \"hash\" over FTPS (proftpd, explicit TLS)", function()
    local s
    setup(function() s = servers.start("proftpd", { digest = true, tls = {} }) end)
    teardown(function() if s then s:stop() end end)

    it("verifies a download and an upload on a protected session", function()
      s:write("data.bin", CONTENT)
      local ftps <close> = assert(ftplib.FTP_TLS(s.host, { port = s.port, user = s.user,
        passwd = s.passwd, timeout = 10, tls = { cafile = s.ca } }))
      local target = tmp .. "/data.bin"
      local _, info = assert(ftps:download("data.bin", target, { verify = "hash" }))
      assert.equal("sha512", info.verified)
      _, info = assert(ftps:upload(target, "back.bin", { verify = "hash", atomic = true }))
      assert.equal("sha512", info.verified)
      assert.equal(CONTENT, s:read("back.bin"))
    end)
  end)

  describe("verify = \"hash\" in tasks of the scheduler", function()
    local s
    setup(function() s = servers.start("proftpd", { digest = true }) end)
    teardown(function() if s then s:stop() end end)

    it("verifies two downloads at once, a third task running beside them", function()
      local big = string.rep(CONTENT, 30) -- 9 MB: the local digest takes several slices
      s:write("one.bin", big)
      s:write("two.bin", big:reverse())
      local function fetch(name)
        return ftplib.spawn(function()
          local ftp <close> = session(s)
          return ftp:download(name, tmp .. "/" .. name, { verify = "hash" })
        end)
      end
      local one, two = fetch("one.bin"), fetch("two.bin")
      local ticks, done = 0, false
      ftplib.spawn(function()
        while not done do
          ticks = ticks + 1
          ftplib.sleep(0.001)
        end
      end)
      ftplib.spawn(function()
        one:result()
        two:result()
        done = true
      end)
      assert.is_true(ftplib.run())
      assert.equal(#big, one:result())
      assert.equal(#big, two:result())
      assert.equal("sha512", select(2, one:result()).verified)
      assert.equal(big:reverse(), proc.read_file(tmp .. "/two.bin"))
      assert.is_true(ticks > 2, "the third task ran meanwhile")
    end)
  end)

  describe("download_many with verify = \"hash\" on proftpd", function()
    local s
    setup(function() s = servers.start("proftpd", { digest = true }) end)
    teardown(function() if s then s:stop() end end)

    it("verifies each file, on parallel sessions", function()
      s:write("one.bin", CONTENT)
      s:write("two.bin", OTHER)
      local ftp <close> = session(s)
      local report = ftp:download_many({ "one.bin", "two.bin" }, { dir = tmp, parallel = 2,
        verify = "hash", verify_algo = "sha256" })
      assert.same({}, report.failed)
      assert.same({ "one.bin", "two.bin" }, report.done)
      assert.equal(CONTENT, proc.read_file(tmp .. "/one.bin"))
      assert.equal(OTHER, proc.read_file(tmp .. "/two.bin"))
      assert.has_error(function() ftp:download_many({ "one.bin" }, { verify = "md5" }) end,
        "ftplib: 'download_many' option verify must be true, false or \"hash\", got 'md5'")
    end)
  end)

  describe("upload with verify = \"hash\" on proftpd", function()
    local s
    setup(function() s = servers.start("proftpd", { digest = true }) end)
    teardown(function() if s then s:stop() end end)

    it("uploads and compares, atomic or not", function()
      local source = local_file("up.bin", CONTENT)
      local ftp <close> = session(s)
      for _, atomic in ipairs { false, true } do
        local name = atomic and "atomic.bin" or "plain.bin"
        local bytes, info = ftp:upload(source, name, { verify = "hash", atomic = atomic })
        assert.equal(#CONTENT, bytes, info)
        assert.equal("sha512", info.verified)
        assert.equal(CONTENT, s:read(name))
      end
    end)

    it("sends the whole file again when the copy differs", function()
      local source = local_file("up.bin", CONTENT)
      local sent = {}
      local ftp <close> = session(s, sent)
      local bytes, info = ftp:upload(source, "again.bin", { verify = "hash", resume = true,
        progress = once_at_end(function()
          proc.write_file(source, OTHER) -- after the bytes went: the copy is the old one
        end) })
      assert.equal(#OTHER, bytes, info)
      assert.equal(1, info.verify_retries)
      assert.equal(OTHER, s:read("again.bin"))
      assert.equal(2, count(sent, "^STOR again%.bin$"))
      assert.equal(0, count(sent, "^REST"))
    end)

    it("fails with \"verify\"; an atomic upload leaves the old file and no temporary", function()
      s:write("kept.bin", "the old file")
      local source = local_file("up.bin", CONTENT)
      local ftp <close> = session(s)
      local ok, err, code = ftp:upload(source, "kept.bin", { verify = "hash", atomic = true,
        verify_retries = 0, progress = once_at_end(function()
          proc.write_file(source, OTHER)
        end) })
      assert.is_nil(ok)
      assert.equal("verify", code, err)
      assert.equal("the old file", s:read("kept.bin"))
      assert.is_nil(s:read("kept.bin.part"))
    end)
  end)
end

describe("verify = \"hash\" on a server without digest commands (pyftpdlib)", function()
  local s
  setup(function() s = servers.start("pyftpdlib") end)
  teardown(function() if s then s:stop() end end)

  it("has ftp:hash answer \"unsupported\"", function()
    s:write("a.txt", "x")
    local ftp <close> = session(s)
    local ok, err, code = ftp:hash("a.txt")
    assert.is_nil(ok)
    assert.equal("unsupported", code)
    assert.truthy(err:find("FEAT lists no HASH", 1, true), err)
    assert.equal("unsupported", select(3, ftp:hash("a.txt", "md5")))
  end)

  it("fails download and upload before any byte is transferred", function()
    s:write("a.txt", CONTENT)
    local sent = {}
    local ftp <close> = session(s, sent)
    local target = tmp .. "/a.txt"
    local ok, err, code = ftp:download("a.txt", target, { verify = "hash" })
    assert.is_nil(ok)
    assert.equal("unsupported", code)
    assert.truthy(err:find("^verify = \"hash\": "), err)
    assert.is_false(exists(target))
    assert.is_false(exists(target .. ".part"))
    ok, err, code = ftp:upload(local_file("up.bin", CONTENT), "up.bin", { verify = "hash" })
    assert.is_nil(ok)
    assert.equal("unsupported", code, err)
    assert.is_nil(s:read("up.bin"))
    assert.equal(0, count(sent, "^RETR") + count(sent, "^STOR") + count(sent, "^[EP][PA]SV"))
    local report = ftp:download_many({ "a.txt" }, { dir = tmp, verify = "hash" })
    assert.equal("unsupported", report.failed[1] and report.failed[1].code)
    assert.equal(0, count(sent, "^RETR"))
    assert(ftp:download("a.txt", target), "without verify the download works")
  end)
end)
