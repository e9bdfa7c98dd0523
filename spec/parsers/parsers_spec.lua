-- The C parsers of reply texts, called directly.
local core = require "ftplib.core"

describe("PASV reply parser", function()
  it("finds the six numbers wherever they stand", function()
    assert.same({ "192.0.2.7", 1025 },
      { core.parse_pasv("227 Entering Passive Mode (192,0,2,7,4,1)") })
    assert.same({ "10.1.2.3", 65535 }, { core.parse_pasv("227 =10,1,2,3,255,255") })
    assert.same({ "127.0.0.1", 2 }, { core.parse_pasv("227 ok 127, 0, 0, 1, 0, 2.") })
  end)

  it("rejects numbers out of range, a zero port and missing numbers as 'proto'", function()
    for _, text in ipairs({
      "227 (256,0,0,1,4,1)", "227 (127,0,0,1,4,256)", "227 (127,0,0,1,0,0)",
      "227 (127,0,0,1,4)", "227 Entering Passive Mode", "227 (1,2,3,4,99999,1)", "",
    }) do
      local host, err, code = core.parse_pasv(text)
      assert.is_nil(host, text)
      assert.equal("proto", code)
      assert.matches("PASV", err)
    end
  end)
end)

describe("EPSV reply parser", function()
  it("reads the port between any repeated delimiter", function()
    assert.equal(6446, core.parse_epsv("229 Entering Extended Passive Mode (|||6446|)"))
    assert.equal(21, core.parse_epsv("229 (!!!21!)"))
  end)

  it("rejects malformed replies as 'proto'", function()
    for _, text in ipairs({ "229 (|||0|)", "229 (|||65536|)", "229 (||6446|)", "229 (|||6446)",
                            "229 (1116441)", "229 no parens", "229 (|||", "" }) do
      local port, _, code = core.parse_epsv(text)
      assert.is_nil(port, text)
      assert.equal("proto", code)
    end
  end)
end)

describe("257 path parser", function()
  it("undoubles quotes and keeps spaces", function()
    assert.equal('/a "b" c', core.parse_quoted('257 "/a ""b"" c" created'))
    assert.equal("", core.parse_quoted('257 "" odd'))
    assert.equal("/x y", core.parse_quoted('257 "/x y"'))
  end)

  it("rejects a missing or unterminated quote as 'proto'", function()
    assert.equal("proto", select(3, core.parse_quoted("257 /no/quotes")))
    assert.equal("proto", select(3, core.parse_quoted('257 "/open')))
    assert.equal("proto", select(3, core.parse_quoted('257 "/ends in doubled ""')))
    -- A quote in the name not doubled: no path, rather than "/x/q", a folder elsewhere.
    assert.equal("proto", select(3, core.parse_quoted('257 "/x/q"d" is the current folder')))
    assert.equal("/x", core.parse_quoted('257 "/x". ok'))
    assert.equal("/x", core.parse_quoted('257 "/x"'))
    assert.equal("/x", core.parse_quoted('257 "/x"\r\n'))
  end)
end)

describe("150 size parser", function()
  it("reads the size in '(N bytes)', in any case", function()
    assert.equal(1234,
      core.parse_150("150 Opening BINARY mode data connection for f (1234 bytes)."))
    assert.equal(0, core.parse_150("150 Opening data connection for empty (0 Bytes)"))
    assert.equal(1099511627776, core.parse_150("150 (x) big (1099511627776 bytes)"))
  end)

  it("gives nothing when there is no size", function()
    assert.is_nil(core.parse_150("150 Here comes the directory listing."))
    assert.is_nil(core.parse_150("150 (abc bytes)"))
    assert.is_nil(core.parse_150("150 (12 bytes"))
  end)
end)
