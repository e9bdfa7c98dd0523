-- The netrc parser (a pure function of the text) and lookup by host and login.
local netrc = require "ftplib.parsers.netrc"

local function tmpfile(text)
  local path = os.tmpname()
  local file = assert(io.open(path, "wb"))
  file:write(text)
  file:close()
  return path
end

describe("netrc.parse", function()
  it("reads entries on one line and across lines", function()
    local entries = netrc.parse(
      "machine a.example login alice password pw1\n"
        .. "machine b.example\n  login bob\n\tpassword pw2\n  account acc2\n")
    assert.same({
      { machine = "a.example", login = "alice", password = "pw1" },
      { machine = "b.example", login = "bob", password = "pw2", account = "acc2" },
    }, entries)
  end)

  it("reads the default entry", function()
    local entries = netrc.parse(
      "machine a login x password y\ndefault login anonymous password me@")
    assert.same({ default = true, login = "anonymous", password = "me@" }, entries[2])
  end)

  it("reads quoted tokens with blanks and escapes", function()
    local entries = netrc.parse(
      'machine h login "john doe" password "se cr\\"et\\\\x" account "a\\tb"\n')
    assert.equal("john doe", entries[1].login)
    assert.equal('se cr"et\\x', entries[1].password)
    assert.equal("a\tb", entries[1].account)
  end)

  it("keeps # inside a quoted token and a token's middle, skips comment lines", function()
    local entries = netrc.parse(
      "# my hosts\nmachine h # the main one\n login u password p#q\n"
        .. 'machine i login v password "#x"\n')
    assert.same({ machine = "h", login = "u", password = "p#q" }, entries[1])
    assert.equal("#x", entries[2].password)
  end)

  it("skips macdef bodies up to the empty line", function()
    local entries = netrc.parse(table.concat({
      "machine h login u password p",
      "macdef init",
      "cd /pub",
      "machine fake login evil password evil",
      "",
      "machine after login w password q",
    }, "\n"))
    assert.equal(2, #entries)
    assert.equal("h", entries[1].machine)
    assert.same({ machine = "after", login = "w", password = "q" }, entries[2])
  end)

  it("takes a macdef at the end of the file without an empty line", function()
    local entries = netrc.parse("machine h login u\nmacdef m\nls\nmachine x login y\n")
    assert.equal(1, #entries)
  end)

  it("handles CRLF line ends and an empty text", function()
    assert.same({}, netrc.parse(""))
    local entries = netrc.parse("machine h\r\nlogin u\r\npassword p\r\n")
    assert.same({ machine = "h", login = "u", password = "p" }, entries[1])
  end)

  it("ignores fields before any machine and unknown tokens", function()
    local entries = netrc.parse("login lost password lost\nmachine h port 21 login u\n")
    assert.same({ { machine = "h", login = "u" } }, entries)
  end)
end)

describe("netrc.find", function()
  local entries = netrc.parse(table.concat({
    "machine ftp.example login alice password a1",
    "machine FTP.example login bob password b1",
    "machine other password nologin",
    "default login anonymous password guest@",
  }, "\n"))

  it("gives the first entry for a host, without letter case", function()
    assert.equal("alice", netrc.find(entries, "Ftp.Example").login)
  end)

  it("gives the entry with the given login", function()
    assert.equal("b1", netrc.find(entries, "ftp.example", "bob").password)
  end)

  it("takes an entry without login for any login", function()
    assert.equal("nologin", netrc.find(entries, "other", "carol").password)
  end)

  it("falls back to default for other hosts", function()
    assert.equal("guest@", netrc.find(entries, "unknown.example").password)
    -- A login no entry has: no password for it, not someone else's.
    assert.is_nil(netrc.find(entries, "ftp.example", "carol"))
  end)

  it("gives nil without a match and without default", function()
    assert.is_nil(netrc.find(netrc.parse("machine a login b"), "z"))
  end)
end)

describe("netrc.lookup", function()
  it("reads the given file", function()
    local path = tmpfile("machine 127.0.0.1 login u password p\n")
    finally(function() os.remove(path) end)
    assert.same({ machine = "127.0.0.1", login = "u", password = "p" },
      netrc.lookup("127.0.0.1", nil, path))
    assert.is_nil(netrc.lookup("::1", nil, path))
  end)

  it("gives nil when the file is missing", function()
    assert.is_nil(netrc.lookup("h", nil, "/nonexistent/netrc"))
  end)
end)
