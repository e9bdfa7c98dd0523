-- Bugs the fuzz targets (fuzz/) found, replayed through the module as a user meets them.
-- (Findings in code Lua cannot reach alone keep a regression seed in fuzz/corpus/.)
local core = require "ftplib.core"

describe("a name converter (fuzz_iconv)", function()
  -- glibc's UTF-16 and UTF-32 decoders keep the byte order of the first BOM they see,
  -- even across iconv's reset: each string must still start afresh.
  it("answers the same for a string whatever it converted before", function()
    local to_utf32 = core.iconv_open("UTF-32", "UTF-8")
    local little_endian = assert(to_utf32:convert("abc"))
    local from_utf32 = core.iconv_open("UTF-8", "UTF-32")
    assert.equal("x", from_utf32:convert("\0\0\xfe\xff\0\0\0x")) -- big-endian BOM first
    assert.equal("abc", from_utf32:convert(little_endian))

    local from_utf16 = core.iconv_open("UTF-8", "UTF-16")
    assert.equal("x", from_utf16:convert("\xfe\xff\0x"))
    assert.equal("y", from_utf16:convert("\xff\xfey\0"))
  end)

  it("refuses an encoding name too long to be one, as a programming error", function()
    local ok, err = pcall(core.iconv_open, ("x"):rep(70), "UTF-8")
    assert.is_false(ok)
    assert.matches("bad argument #1 to '.*iconv_open' %(encoding name too long%)", err)
  end)
end)
