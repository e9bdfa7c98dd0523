-- The digest replies of servers (lua/ftplib/parsers/digest_reply.lua): FEAT's HASH
-- line, HASH's 213 and the X commands' 2xx, as proftpd and others send them, and what a
-- lying or broken server sends instead: each is a value or a reason, never a raise.
local digest_reply = require "ftplib.parsers.digest_reply"

local SHA256 = digest_reply.algorithm("sha256")
local CRC32 = digest_reply.algorithm("crc32")
local MD5 = digest_reply.algorithm("md5")
local HEX256 = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"

describe("digest_reply.hash_feature", function()
  it("reads proftpd's list, its selected algorithm marked with *", function()
    local offered, selected = digest_reply.hash_feature("CRC32;MD5;SHA-1*;SHA-256;SHA-512;")
    assert.same({ crc32 = true, md5 = true, sha1 = true, sha256 = true, sha512 = true }, offered)
    assert.equal("sha1", selected)
  end)

  it("leaves out algorithms it has no local digest of, and takes names in any case", function()
    local offered, selected = digest_reply.hash_feature("sha-256*;SHA-384;TIGER;md5")
    assert.same({ sha256 = true, md5 = true }, offered)
    assert.equal("sha256", selected)
  end)

  it("gives nothing for a HASH line without parameters, or garbage", function()
    assert.same({}, (digest_reply.hash_feature(true)))
    assert.same({}, (digest_reply.hash_feature(";;**;")))
    assert.is_nil(select(2, digest_reply.hash_feature("")))
  end)
end)

describe("digest_reply.parse_hash", function()
  it("reads a multi-line 213: the digest in lower case, and the range's end", function()
    local text = "213-Computing SHA-256 digest\n213 SHA-256 0-12 " .. HEX256:upper() .. " a.txt"
    assert.same({ HEX256, 12 }, { digest_reply.parse_hash(text, SHA256) })
  end)

  it("refuses a range end past any file size, and says whether an end covers a file",
      function()
    local digest, why = digest_reply.parse_hash("213 SHA-256 0-99999999999999999999 " .. HEX256
      .. " a.txt", SHA256)
    assert.is_nil(digest)
    assert.truthy(why:find("range end", 1, true), why)
    -- proftpd writes the size; a last byte's offset is one less; nothing else covers it.
    assert.is_true(digest_reply.covers_file(100000, 100000))
    assert.is_true(digest_reply.covers_file(99999, 100000))
    assert.is_true(digest_reply.covers_file(0, 0))
    assert.is_false(digest_reply.covers_file(1024, 100000))
    assert.is_false(digest_reply.covers_file(100001, 100000))
    assert.is_false(digest_reply.covers_file(99998, 100000))
  end)

  it("takes a name with spaces, or none", function()
    assert.equal(HEX256, digest_reply.parse_hash("213 SHA-256 0-12 " .. HEX256 .. " a b c",
      SHA256))
    assert.equal(HEX256, digest_reply.parse_hash("213 SHA-256 0-12 " .. HEX256, SHA256))
  end)

  it("refuses a digest of another algorithm, of part of the file, of another length", function()
    local cases = {
      ["213 SHA-1 0-12 22596363b3de40b06f981fb85d82312e8c0ed511 a.txt"] = "another algorithm",
      ["213 SHA-256 5-12 " .. HEX256 .. " a.txt"] = "part of the file",
      ["213 SHA-256 0-12 " .. HEX256:sub(2) .. " a.txt"] = "64 hex digits expected",
      ["213 SHA-256 0-12 " .. HEX256 .. "00 a.txt"] = "64 hex digits expected",
      ["213 SHA-256 0-12 " .. HEX256:sub(2) .. "g a.txt"] = "64 hex digits expected",
      ["213 SHA-256 0-12"] = "not a HASH reply",
      ["213 SHA-256 twelve " .. HEX256] = "not a HASH reply",
      ["213 " .. HEX256] = "not a HASH reply",
      [""] = "not a HASH reply",
      ["213-SHA-256 0-12 " .. HEX256 .. " a.txt\n213 End"] = "not a HASH reply",
    }
    for text, why in pairs(cases) do
      local digest, reason = digest_reply.parse_hash(text, SHA256)
      assert.is_nil(digest, text)
      assert.truthy(reason:find(why, 1, true), text .. ": " .. reason)
    end
  end)

  it("names the other algorithm a digest is of, when it knows it", function()
    local text = "213 MD5 0-12 6f5902ac237024bdd0c176cb93063dc4 a.txt"
    assert.same({ nil, "a digest of another algorithm than SHA-256", "md5" },
      { digest_reply.parse_hash(text, SHA256) })
    assert.is_nil(select(3, digest_reply.parse_hash("213 TIGER 0-1 ab a", SHA256)))
  end)

  it("answers a huge line with a reason, quickly", function()
    local digest, why = digest_reply.parse_hash("213 SHA-256 0-1 " .. string.rep("a", 1e6), SHA256)
    assert.is_nil(digest)
    assert.truthy(why:find("64 hex digits", 1, true))
  end)
end)

describe("digest_reply.parse_x", function()
  it("reads proftpd's 250 with upper-case hex, and 213 with a name after", function()
    assert.equal(HEX256, digest_reply.parse_x("250-Computing SHA256 digest\n250 "
      .. HEX256:upper(), SHA256))
    assert.equal(HEX256, digest_reply.parse_x("213 " .. HEX256 .. " a.txt", SHA256))
  end)

  it("takes the word of the last line that is hex of the algorithm's length", function()
    local md5 = "6f5902ac237024bdd0c176cb93063dc4"
    assert.equal(md5, digest_reply.parse_x("250 MD5 of file is " .. md5:upper(), MD5))
    assert.equal(md5, digest_reply.parse_x("250 MD5 of file is " .. md5 .. ".", MD5))
    assert.equal(HEX256, digest_reply.parse_x("213 data.bin " .. HEX256, SHA256))
    assert.equal("0000beef", digest_reply.parse_x("250 CRC32 of file is BEEF", CRC32))
    -- Two short hex words (the name "a" and the digest): which is the CRC-32 is a guess.
    assert.is_nil(digest_reply.parse_x("250 CRC32 of a is BEEF", CRC32))
    assert.is_nil(digest_reply.parse_x("250 MD5 of file is " .. HEX256, MD5))
  end)

  it("drops a 0x and gives a short CRC-32 its leading zeros", function()
    assert.equal("af083b2d", digest_reply.parse_x("250 0xAF083B2D", CRC32))
    assert.equal("0000beef", digest_reply.parse_x("250 BEEF", CRC32))
  end)

  it("refuses the wrong length, non-hex and an empty reply", function()
    for _, text in ipairs { "250 " .. HEX256:sub(3), "250 " .. HEX256 .. "ab", "250 0x",
        "250 xyz", "250", "", "250 123456789" } do
      local algorithm = text == "250 0x" and CRC32 or text == "250 123456789" and CRC32
        or SHA256
      local digest, why = digest_reply.parse_x(text, algorithm)
      assert.is_nil(digest, text)
      assert.is_string(why)
    end
  end)
end)
