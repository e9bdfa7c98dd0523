-- ftplib.get and ftplib.put: the URL parser on text, then real servers (vsftpd and
-- pyftpdlib, IPv4 and IPv6, implicit FTPS on vsftpd) with escapes, absolute paths,
-- ;type=a and ;type=d, every kind of sink and source, and credentials from netrc
-- (opts.netrc, and $HOME/.netrc in a child process with a temporary HOME).
local ftplib = require "ftplib"
local urlparse = require "ftplib.parsers.url"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local function read_file(path)
  return proc.read_file(path)
end

describe("URL parsing", function()
  local parse = urlparse.parse

  it("reads user, password, host, port and path", function()
    local p = parse("ftp://alice:s3cret@ftp.example:2121/pub/file.txt")
    assert.same({ scheme = "ftp", user = "alice", password = "s3cret", host = "ftp.example",
      port = 2121, path = "pub/file.txt", type = "i", dir_only = false }, p)
  end)

  it("takes the default ports, and no credentials", function()
    local p = parse("ftp://h/f")
    assert.equal(21, p.port)
    assert.is_nil(p.user)
    assert.is_nil(p.password)
    assert.equal(990, parse("FTPS://h/f").port)
  end)

  it("decodes percent-escapes in user, password and path", function()
    local p = parse("ftp://us%40er:p%3Aw%2Fd%25@h/a%20dir/f%3Bx%23.txt")
    assert.equal("us@er", p.user)
    assert.equal("p:w/d%", p.password)
    assert.equal("a dir/f;x#.txt", p.path)
  end)

  it("splits the user at the last @ and the password at the first :", function()
    local p = parse("ftp://a@b:c:d@h/f")
    assert.equal("a@b", p.user)
    assert.equal("c:d", p.password)
  end)

  it("reads bracketed IPv6 hosts, with and without a port", function()
    local p = parse("ftp://[::1]:2121/f")
    assert.same({ "::1", 2121 }, { p.host, p.port })
    assert.equal("fe80::1", parse("ftp://u:p@[fe80::1]/f").host)
    assert.equal(21, parse("ftp://[::1]/f").port)
  end)

  it("makes paths relative to the login folder, absolute with // or %2F (as curl)", function()
    assert.equal("pub/f", parse("ftp://h/pub/f").path)
    assert.equal("/tmp/f", parse("ftp://h//tmp/f").path)
    assert.equal("/tmp/f", parse("ftp://h/%2Ftmp/f").path)
    assert.equal("a/b", parse("ftp://h/a//b").path)
    assert.equal("a/b/c", parse("ftp://h/a%2Fb/c").path)
  end)

  it("reads ;type=a, ;type=i and ;type=d", function()
    assert.equal("a", parse("ftp://h/f.txt;type=a").type)
    assert.equal("f.txt", parse("ftp://h/f.txt;type=A").path)
    assert.equal("i", parse("ftp://h/f;type=i").type)
    local d = parse("ftp://h/dir/;type=d")
    assert.equal("d", d.type)
    assert.is_true(d.dir_only)
  end)

  it("knows a URL that names a folder", function()
    assert.is_true(parse("ftp://h").dir_only)
    assert.is_true(parse("ftp://h/").dir_only)
    assert.is_true(parse("ftp://h/dir/").dir_only)
    assert.is_false(parse("ftp://h/dir").dir_only)
  end)

  it("raises for other schemes, bad escapes, CR/LF, bad hosts and types", function()
    assert.has_error(function() parse("http://h/f") end,
      "ftplib: not an ftp:// or ftps:// URL: http://h/f")
    assert.has_error(function() parse("ftp://h/a%2") end)
    assert.has_error(function() parse("ftp://h/a%zz") end)
    assert.has_error(function() parse("ftp://h/a%0D%0ADELE%20x") end)
    assert.has_error(function() parse("ftp://h:port/f") end)
    assert.has_error(function() parse("ftp:///f") end)
    assert.has_error(function() parse("ftp://h/f;type=x") end)
  end)
end)

describe("ftplib.get and ftplib.put", function()
  local tmp

  lazy_setup(function()
    tmp = proc.tempdir("url-spec")
  end)

  lazy_teardown(function()
    if tmp then proc.rmtree(tmp) end
  end)

  local counter = 0
  local function temp_path(tag)
    counter = counter + 1
    return ("%s/%s.%d"):format(tmp, tag, counter)
  end

  local function collector()
    local parts = {}
    return function(chunk) parts[#parts + 1] = chunk end, function() return table.concat(parts) end
  end

  for _, kind in ipairs(servers.kinds()) do
    describe("on " .. kind, function()
      local s

      lazy_setup(function()
        s = servers.start(kind)
      end)

      lazy_teardown(function()
        if s then s:stop() end
      end)

      it("gets into a function, a file and an object, giving the byte count", function()
        local content = string.rep("0123456789", 30000)
        s:write("g/data.bin", content)
        local sink, got = collector()
        assert.equal(#content, assert(ftplib.get(s:url("/g/data.bin"), sink)))
        assert.equal(content, got())

        local file = assert(io.tmpfile())
        file:write("header:")
        assert.equal(#content, assert(ftplib.get(s:url("/g/data.bin"), file)))
        file:seek("set")
        assert.equal("header:" .. content, file:read("a"))
        file:close()

        local object = { parts = {} }
        function object:write(chunk) self.parts[#self.parts + 1] = chunk; return true end
        assert.equal(#content, assert(ftplib.get(s:url("/g/data.bin"), object)))
        assert.equal(content, table.concat(object.parts))
      end)

      it("gets to a local path through .part, and leaves nothing when it fails", function()
        s:write("g/local.bin", "local bytes")
        local path = temp_path("local")
        assert.equal(11, assert(ftplib.get(s:url("/g/local.bin"), path)))
        assert.equal("local bytes", read_file(path))
        assert.is_nil(read_file(path .. ".part"))

        local missing = temp_path("missing")
        local bytes, err, code = ftplib.get(s:url("/g/no-such.bin"), missing)
        assert.is_nil(bytes)
        assert.equal(550, code)
        assert.is_string(err)
        assert.is_nil(read_file(missing))
        assert.is_nil(read_file(missing .. ".part"))
      end)

      it("decodes escapes in the path and in the login", function()
        s:write("g/a b@c;d#e%.txt", "escaped name")
        local url = ("ftp://%s:%s@%s:%d/g/a%%20b%%40c%%3Bd%%23e%%25.txt"):format(
          s.user, s.passwd:gsub("%-", "%%2D"), s.host, s.port)
        local sink, got = collector()
        assert(ftplib.get(url, sink))
        assert.equal("escaped name", got())
      end)

      it("reads an absolute path given with // and with %2F", function()
        s:write("abs/file.txt", "absolute")
        -- vsftpd shows the real file system (no chroot); pyftpdlib's root is "/".
        local root = kind == "vsftpd" and s.root or ""
        for _, prefix in ipairs { "//", "/%2F" } do
          local url = ("ftp://%s:%s@%s:%d%s%sabs/file.txt"):format(s.user, s.passwd, s.host,
            s.port, prefix, root:gsub("^/", "") .. (root ~= "" and "/" or ""))
          local sink, got = collector()
          assert(ftplib.get(url, sink))
          assert.equal("absolute", got())
        end
      end)

      it("gets ;type=a as lines joined with \\n, into a sink and a local path", function()
        s:write("t/lines.txt", "one\r\ntwo\r\nthree")
        local sink, got = collector()
        assert.equal(14, assert(ftplib.get(s:url("/t/lines.txt;type=a"), sink)))
        assert.equal("one\ntwo\nthree\n", got())
        local path = temp_path("ascii")
        assert.equal(14, assert(ftplib.get(s:url("/t/lines.txt;type=a"), path)))
        assert.equal("one\ntwo\nthree\n", read_file(path))
      end)

      it("lists a folder with ;type=d", function()
        s:write("list/x.txt", "x")
        s:write("list/y.txt", "y")
        local sink, got = collector()
        assert(ftplib.get(s:url("/list/;type=d"), sink))
        local names = {}
        for line in got():gmatch("[^\n]+") do names[#names + 1] = line:match("[^/]+$") end
        table.sort(names)
        assert.same({ "x.txt", "y.txt" }, names)
      end)

      it("puts {data = ...}, a function, a file and an object", function()
        s:mkdir("p")
        assert.equal(5, assert(ftplib.put(s:url("/p/data.bin"), { data = "bytes" })))
        assert.equal("bytes", s:read("p/data.bin"))

        local chunks = { "ab", "cd", "e" }
        local i = 0
        assert.equal(5, assert(ftplib.put(s:url("/p/fn.bin"), function()
          i = i + 1
          return chunks[i]
        end)))
        assert.equal("abcde", s:read("p/fn.bin"))

        local file = assert(io.tmpfile())
        file:write("skip:file content")
        file:seek("set", 5)
        assert.equal(12, assert(ftplib.put(s:url("/p/file.bin"), file)))
        file:close()
        assert.equal("file content", s:read("p/file.bin"))

        local object = { text = "object content", pos = 1 }
        function object:read(n)
          if self.pos > #self.text then return nil end
          local chunk = self.text:sub(self.pos, self.pos + math.min(n, 4) - 1)
          self.pos = self.pos + #chunk
          return chunk
        end
        assert.equal(14, assert(ftplib.put(s:url("/p/object.bin"), object)))
        assert.equal("object content", s:read("p/object.bin"))
      end)

      it("puts a local path (a string is always a path), to a file or a folder URL", function()
        s:mkdir("p/into")
        local path = temp_path("upload")
        proc.write_file(path, "from disk")
        assert.equal(9, assert(ftplib.put(s:url("/p/disk.txt"), path)))
        assert.equal("from disk", s:read("p/disk.txt"))
        assert.equal(9, assert(ftplib.put(s:url("/p/into/"), path)))
        assert.equal("from disk", s:read("p/into/" .. path:match("[^/]+$")))
        local bytes, _, code = ftplib.put(s:url("/p/x.txt"), tmp .. "/no-such-file")
        assert.is_nil(bytes)
        assert.equal("io", code)
      end)

      it("makes the folders above with opts.create_dirs", function()
        assert(ftplib.put(s:url("/made/deep/er/f.txt"), { data = "deep" }, { create_dirs = true }))
        assert.equal("deep", s:read("made/deep/er/f.txt"))
        -- Again: the folders exist now, which is no failure.
        assert(ftplib.put(s:url("/made/deep/er/g.txt"), { data = "g" }, { create_dirs = true }))
        assert.equal("g", s:read("made/deep/er/g.txt"))
      end)

      it("puts ;type=a with CRLF on the wire", function()
        s:mkdir("p")
        assert(ftplib.put(s:url("/p/ascii.txt;type=a"), { data = "x\ny\nlast" }))
        local stored = s:read("p/ascii.txt")
        -- vsftpd stores the wire bytes; pyftpdlib turns CRLF back into \n.
        local wire = kind == "vsftpd" and "x\r\ny\r\nlast\r\n" or "x\ny\nlast\n"
        assert.equal(wire, stored)
        local chunks, i = { "a\nb", "c\n", "d" }, 0
        assert(ftplib.put(s:url("/p/ascii2.txt;type=a"), function()
          i = i + 1
          return chunks[i]
        end))
        assert.equal("a\nbc\nd\n", s:read("p/ascii2.txt"):gsub("\r\n", "\n"))
      end)

      it("logs in as anonymous without credentials, and reports failures", function()
        s:write("anon/f.txt", "for anyone")
        local sink, got = collector()
        assert(ftplib.get(s:url("/anon/f.txt", { anonymous = true }), sink, { netrc = false }))
        assert.equal("for anyone", got())
        -- Anonymous may not write.
        local bytes, err, code = ftplib.put(s:url("/anon/w.txt", { anonymous = true }),
          { data = "x" }, { netrc = false })
        assert.is_nil(bytes)
        assert.is_true(code == 550 or code == 553, tostring(err))
        -- A wrong password.
        bytes, _, code = ftplib.get(("ftp://%s:wrong@%s:%d/anon/f.txt"):format(s.user, s.host,
          s.port), sink)
        assert.is_nil(bytes)
        assert.equal(530, code)
      end)

      it("takes credentials from the netrc file given by opts.netrc", function()
        local netrc = temp_path("netrc")
        proc.write_file(netrc, ("machine %s\n  login %s\n  password \"%s\"\n"):format(
          s.host, s.user, s.passwd))
        local url = s:url("/n/put.txt", { anonymous = true })
        assert.equal(3, assert(ftplib.put(url, { data = "via" },
          { netrc = netrc, create_dirs = true })))
        assert.equal("via", s:read("n/put.txt"))
        -- The URL's user with no password: the password from the entry for that login.
        local with_user = ("ftp://%s@%s:%d/n/put2.txt"):format(s.user, s.host, s.port)
        assert(ftplib.put(with_user, { data = "user" }, { netrc = netrc }))
        assert.equal("user", s:read("n/put2.txt"))
      end)
    end)
  end

  it("takes credentials from $HOME/.netrc (a child process with its own HOME)", function()
    local s = servers.start("vsftpd")
    finally(function() s:stop() end)
    local home = temp_path("home")
    assert(require("lfs").mkdir(home))
    proc.write_file(home .. "/.netrc",
      ("default login %s password %s\n"):format(s.user, s.passwd))
    local script = ([[
      package.path = "lua/?.lua;" .. package.path
      package.cpath = "build/?.so;" .. package.cpath
      local ftplib = require "ftplib"
      io.write(assert(ftplib.put(%q, { data = "home netrc" })))
    ]]):format(s:url("/home.txt", { anonymous = true }))
    local out = proc.run("HOME=" .. proc.shell_quote(home) .. " lua5.4 -e "
      .. proc.shell_quote(script))
    assert.equal("10", out)
    assert.equal("home netrc", s:read("home.txt"))
  end)

  it("works over IPv6 ([::1] in the URL)", function()
    if not servers.ipv6_available() then
      pending("no IPv6 loopback on this machine")
      return
    end
    local s = servers.start("pyftpdlib", { ipv6 = true })
    finally(function() s:stop() end)
    assert.matches("^ftp://[^@]+@%[::1%]:", s:url("/v6.txt"))
    assert.equal(2, assert(ftplib.put(s:url("/v6.txt"), { data = "v6" })))
    local sink, got = collector()
    assert(ftplib.get(s:url("/v6.txt"), sink))
    assert.equal("v6", got())
  end)

  it("gets and puts ftps:// (implicit TLS, certificate checked against the CA)", function()
    local s = servers.start("vsftpd", { tls = { mode = "implicit" } })
    finally(function() s:stop() end)
    s:write("secure.txt", "over TLS")
    local url = s:url("/secure.txt")
    assert.matches("^ftps://", url)
    local sink, got = collector()
    assert.equal(8, assert(ftplib.get(url, sink, { tls = { cafile = s.ca } })))
    assert.equal("over TLS", got())
    assert.equal(4, assert(ftplib.put(s:url("/up.txt"), { data = "back" },
      { tls = { cafile = s.ca } })))
    assert.equal("back", s:read("up.txt"))
    -- Without the CA the certificate is not trusted.
    local bytes, _, code = ftplib.get(url, sink)
    assert.is_nil(bytes)
    assert.equal("tls", code)
  end)

  it("uses explicit FTPS for ftp:// when opts.tls is given", function()
    local s = servers.start("vsftpd", { tls = { mode = "explicit" } })
    finally(function() s:stop() end)
    s:write("explicit.txt", "AUTH TLS")
    local sink, got = collector()
    assert(ftplib.get(s:url("/explicit.txt"), sink, { tls = { cafile = s.ca } }))
    assert.equal("AUTH TLS", got())
  end)

  it("raises for wrong arguments and options", function()
    assert.has_error(function() ftplib.get("ftp://h/f", 42) end)
    assert.has_error(function() ftplib.put("ftp://h/f", 42) end)
    assert.has_error(function() ftplib.get("ftp://h/f", print, { nosuch = 1 }) end,
      "ftplib: unknown option 'nosuch' to 'get'")
    assert.has_error(function() ftplib.get("ftp://h/dir/", print) end)
    assert.has_error(function() ftplib.put("ftp://h/dir/", { data = "x" }) end)
    assert.has_error(function() ftplib.get("ftp://h/f", print, { resume = true }) end,
      "ftplib: option 'resume' to 'get' needs a local path and binary type")
    -- Before any connection: port 1 on loopback would answer "refused" otherwise.
    assert.has_error(function() ftplib.get("ftp://127.0.0.1:1/f", "/tmp/f", { atomic = true }) end,
      "ftplib: option 'atomic' is for 'put', not 'get'")
    assert.has_error(function()
      ftplib.put("ftp://127.0.0.1:1/f", { data = "x" }, { verify = true })
    end,
      "ftplib: 'put' option verify must be \"hash\", got 'true'")
    assert.has_error(function()
      ftplib.put("ftp://127.0.0.1:1/f", "/tmp/f", { segments = 2 })
    end,
      "ftplib: option 'segments' is for 'get', not 'put'")
    assert.has_error(function() ftplib.open("ftp://127.0.0.1:1/f", { create_dirs = true }) end,
      "ftplib: option 'create_dirs' is for 'put', not 'open'")
  end)
end)
