-- core.file_digest and core.file_digester (src/digest.c, src/core_digest.c): the
-- digests of local files that verify = "hash" compares with the server's. Known
-- vectors, the system's sha*sum/md5sum on a file larger than the read block, the same
-- digest however the file is sliced, and failures returned, not raised.
local core = require "ftplib.core"
local proc = require "spec.support.proc"

local ALGOS = { "sha512", "sha256", "sha1", "md5", "crc32" }

-- "123456789" is the check string of CRC catalogues (CRC-32: cbf43926).
local VECTORS = {
  [""] = {
    sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    md5 = "d41d8cd98f00b204e9800998ecf8427e",
    crc32 = "00000000",
  },
  ["123456789"] = {
    sha256 = "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
    sha1 = "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    md5 = "25f9e794323b453885f5181f1b624d0b",
    crc32 = "cbf43926",
  },
  ["hello world\n"] = {
    sha512 = "db3974a97f2407b7cae1ae637c0030687a11913274d578492558e39c16c017de"
      .. "84eacdc8c62fe34ee4e12b4b1428817f09b6a2760c3f8a664ceae94d2434a593",
    crc32 = "af083b2d",
  },
}

local dir
before_each(function() dir = proc.tempdir("digest") end)
after_each(function() proc.rmtree(dir) end)

local function file_with(bytes)
  local path = dir .. "/f"
  proc.write_file(path, bytes)
  return path
end

-- 3 MiB and a few bytes of varied content: several read blocks, a partial last one.
local function big_content()
  local parts = {}
  for i = 1, 3 * 1024 * 1024 // 64 + 1 do
    parts[i] = string.format("%063d\n", i * 7919)
  end
  return table.concat(parts) .. "tail"
end

describe("core.file_digest", function()
  it("gives the known digests, in lower-case hex", function()
    for bytes, digests in pairs(VECTORS) do
      local path = file_with(bytes)
      for algo, hex in pairs(digests) do
        assert.equal(hex, core.file_digest(path, algo), algo .. " of " .. ("%q"):format(bytes))
      end
    end
  end)

  it("agrees with sha512sum, sha256sum, sha1sum and md5sum over several read blocks", function()
    local path = file_with(big_content())
    for _, algo in ipairs { "sha512", "sha256", "sha1", "md5" } do
      local tool = algo .. "sum " .. proc.shell_quote(path)
      local expected = proc.run(tool):match("^(%x+)")
      assert.equal(expected, core.file_digest(path, algo), tool)
    end
  end)

  it("agrees with zlib's crc32 (Python's) over several read blocks", function()
    local path = file_with(big_content())
    local expected = proc.run("python3 -c " .. proc.shell_quote(
      "import sys, zlib; print('%08x' % zlib.crc32(open(sys.argv[1], 'rb').read()))")
      .. " " .. proc.shell_quote(path)):match("^(%x+)")
    assert.equal(8, #expected)
    assert.equal(expected, core.file_digest(path, "crc32"))
  end)

  it("returns the failure for a missing file, a folder, a FIFO and a path with a NUL", function()
    local missing = { core.file_digest(dir .. "/none", "sha256") }
    assert.same({ nil, dir .. "/none: No such file or directory", "io", 2 }, missing)
    local folder = { core.file_digest(dir, "sha256") }
    assert.equal("io", folder[3])
    assert.equal(21, folder[4]) -- EISDIR
    assert(os.execute("mkfifo " .. proc.shell_quote(dir .. "/fifo")))
    local fifo = { core.file_digest(dir .. "/fifo", "md5") } -- opened without blocking
    assert.equal("io", fifo[3])
    assert.equal(22, fifo[4]) -- EINVAL: not a regular file
    local nul = { core.file_digest(dir .. "/f\0x", "md5") }
    assert.equal("io", nul[3])
  end)

  it("raises for an algorithm it does not know (the library picks them)", function()
    local path = file_with("x")
    assert.has_error(function() core.file_digest(path, "sha3") end)
    assert.has_error(function() core.file_digest(path) end)
  end)
end)

describe("core.file_digester", function()
  it("gives the same digest however many bytes each step reads", function()
    local content = big_content()
    local path = file_with(content)
    for _, algo in ipairs(ALGOS) do
      local whole = core.file_digest(path, algo)
      for _, slice in ipairs { 1000, 65536, 65537, 1024 * 1024, #content, #content + 1 } do
        local digester <close> = assert(core.file_digester(path, algo))
        local steps, hex = 0
        repeat
          steps = steps + 1
          local result, err = digester:step(slice)
          assert(result ~= nil, err)
          hex = result or nil -- false: more to read
        until hex
        assert.equal(whole, hex, algo .. " in slices of " .. slice)
        assert.is_true(steps >= #content // slice, "one step reads at most its bytes")
      end
    end
  end)

  it("is spent after the end: another step raises, close is idempotent", function()
    local digester = assert(core.file_digester(file_with("abc"), "sha1"))
    assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", digester:step(10))
    assert.has_error(function() digester:step(10) end)
    digester:close()
    digester:close()
  end)

  it("raises for a step of no bytes", function()
    local digester <close> = assert(core.file_digester(file_with("abc"), "md5"))
    assert.has_error(function() digester:step(0) end)
  end)

  it("reads the file as it is when each step runs (a file growing meanwhile is read on)", function()
    local path = file_with(string.rep("a", 100))
    local digester <close> = assert(core.file_digester(path, "crc32"))
    assert.is_false(digester:step(50))
    local file = assert(io.open(path, "ab"))
    file:write(string.rep("a", 100))
    file:close()
    local hex = assert(digester:step(1000))
    assert.equal(core.file_digest(path, "crc32"), hex)
  end)
end)
