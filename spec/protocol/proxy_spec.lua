-- The `proxy` option against real proxies from Debian on loopback (microsocks for
-- SOCKS5, tinyproxy for HTTP CONNECT) and real servers (vsftpd, pyftpdlib): listings,
-- downloads and uploads through each, FTPS through the tunnel, the proxy's login right
-- and wrong, a proxy that is down, active mode refused, the URL helpers and the CLI.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proxies = require "spec.support.proxies"
local proc = require "spec.support.proc"
local socket = require "socket"

local random_bytes = proc.random_bytes

local function download(ftp, name)
  local chunks = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) chunks[#chunks + 1] = chunk end))
  return table.concat(chunks)
end

-- The proxies and the URL each test uses: scheme, whether it wants a login.
local VARIANTS = {
  { name = "SOCKS5", kind = "socks5", scheme = "socks5" },
  { name = "SOCKS5 with a login", kind = "socks5", scheme = "socks5", auth = true },
  { name = "SOCKS5, names resolved by the proxy", kind = "socks5", scheme = "socks5h",
    auth = true },
  { name = "HTTP CONNECT", kind = "http", scheme = "http" },
  { name = "HTTP CONNECT with a login", kind = "http", scheme = "http", auth = true },
}

-- The ports the proxy was asked to connect to, from its log.
local function tunnelled_ports(p)
  local ports = {}
  for port in p:log():gmatch("connected to [^\n]-:(%d+)") do -- microsocks
    ports[#ports + 1] = tonumber(port)
  end
  for port in p:log():gmatch("CONNECT [^\n]-:(%d+) HTTP") do -- tinyproxy
    ports[#ports + 1] = tonumber(port)
  end
  return ports
end

local payload = random_bytes(300 * 1024 + 7)

for _, kind in ipairs(servers.kinds()) do
  if kind == "vsftpd" or kind == "pyftpdlib" then
    describe("through proxies to " .. kind, function()
      local s
      local started = {}

      setup(function()
        s = servers.start(kind)
        s:write("pub/payload.bin", payload)
        s:write("pub/small.txt", "small\n")
      end)

      teardown(function()
        for _, p in pairs(started) do p:stop() end
        s:stop()
      end)

      local function proxy_for(variant)
        local key = variant.kind .. (variant.auth and "+auth" or "")
        started[key] = started[key] or proxies.start(variant.kind, { auth = variant.auth })
        return started[key]
      end

      for v, variant in ipairs(VARIANTS) do
        if proxies.available(variant.kind) then
          it("lists, downloads and uploads through " .. variant.name, function()
            -- A proxy of its own: its log shows this test's connections only.
            local p = proxies.start(variant.kind, { auth = variant.auth })
            finally(function() p:stop() end)
            local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user,
              passwd = s.passwd, timeout = 10, proxy = p:url { scheme = variant.scheme } }))
            local _, peer_port = ftp:_peer()
            assert.equal(p.port, peer_port) -- the control connection is the proxy's
            local names = assert(ftp:nlst("pub"))
            table.sort(names)
            assert.same({ "payload.bin", "small.txt" }, (function()
              local base = {}
              for i, name in ipairs(names) do base[i] = name:match("[^/]+$") end
              return base
            end)())
            local entries = assert(ftp:list("pub"))
            assert.equal(2, #entries)
            assert.equal(payload, download(ftp, "pub/payload.bin"))
            local upload = random_bytes(70 * 1024 + 3)
            assert(ftp:storbinary("STOR up-" .. v .. ".bin", upload))
            assert.equal(upload, s:read("up-" .. v .. ".bin"))
            assert.matches("^221", (ftp:quit()))
            -- The transfers after the first went pipelined (protocol/pipelining.lua):
            -- their data connections too go to the server's host as the proxy knows it.
            assert.is_true(ftp._pipelining)
            -- The proxy carried the control connection and the data connections, to
            -- the ports EPSV or PASV named.
            local ports = tunnelled_ports(p)
            local to_server, to_data = 0, 0
            for _, port in ipairs(ports) do
              if port == s.port then to_server = to_server + 1 else to_data = to_data + 1 end
            end
            assert.is_true(to_server >= 1, p:log(40))
            assert.is_true(to_data >= 4, p:log(40)) -- NLST, MLSD or LIST, RETR, STOR
          end)
        end
      end

      if proxies.available("socks5") then
        it("passes a host name to a socks5h proxy, which resolves it", function()
          local p = proxy_for(VARIANTS[3])
          -- "localhost" is ::1 first on some systems (a bare chroot without
          -- /etc/hosts): the server listens where the name leads first, as the
          -- proxy resolves it on this same system.
          local first = (require("ftplib.core").resolve("localhost", "21") or {})[1]
          local named = s
          if not first then
            -- No name resolves here (a bare chroot: no /etc/hosts, no DNS): the name
            -- still goes to the proxy, unresolved by us, and the proxy's refusal
            -- comes back as "proxy", not a local "cannot resolve".
            local ftp, err, code = ftplib.FTP("localhost", { port = s.port, timeout = 10,
              proxy = p:url { scheme = "socks5h" } })
            assert.is_nil(ftp)
            assert.equal("proxy", code, err)
            assert.matches("SOCKS5 reply", err)
            return
          elseif first.family == "inet6" then
            named = servers.start(kind, { ipv6 = true })
            finally(function() named:stop() end)
            named:write("pub/small.txt", "small\n")
          end
          local ftp = assert(ftplib.FTP("localhost", { port = named.port, user = named.user,
            passwd = named.passwd, timeout = 10, proxy = p:url { scheme = "socks5h" } }))
          assert.equal("small\n", download(ftp, "pub/small.txt"))
          ftp:close()
          assert.matches("connected to localhost:" .. named.port, p:log())
        end)

        it("refuses a wrong SOCKS5 login with \"proxy\", the password masked", function()
          local p = proxy_for(VARIANTS[2])
          local ftp, err, code = ftplib.FTP(s.host, { port = s.port, timeout = 5,
            proxy = p:url { user = proxies.USER, passwd = "wrong-secret" } })
          assert.is_nil(ftp)
          assert.equal("proxy", code)
          assert.matches("refused the user name and password", err)
          assert.is_nil(err:find("wrong-secret", 1, true))
          assert.matches(proxies.USER .. ":***@", err, 1, true)
          ftp, err, code = ftplib.FTP(s.host, { port = s.port, timeout = 5,
            proxy = p:url { user = false } })
          assert.is_nil(ftp)
          assert.equal("proxy", code)
          assert.matches("wants authentication", err)
        end)

        it("names the SOCKS5 reply when the server's port is closed", function()
          local p = proxy_for(VARIANTS[1])
          local ftp, err, code = ftplib.FTP(s.host, { port = proc.free_port(), timeout = 5,
            proxy = p:url() })
          assert.is_nil(ftp)
          assert.equal("proxy", code)
          assert.matches("SOCKS5 reply 5: connection refused", err)
        end)

        it("stops a download midway through the proxy and stays in step", function()
          local p = proxy_for(VARIANTS[1])
          local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user,
            passwd = s.passwd, timeout = 10, proxy = p:url() }))
          local chunks = 0
          local ok, _, code = ftp:retrbinary("RETR pub/payload.bin", function()
            chunks = chunks + 1
            return false
          end, 4096)
          assert.is_nil(ok)
          assert.equal("aborted", code)
          assert.equal(1, chunks)
          assert.matches("^257", (ftp:sendcmd("PWD")))
          assert.equal("small\n", download(ftp, "pub/small.txt"))
          ftp:close()
        end)

        it("refuses active mode through a proxy with \"proxy\"", function()
          local p = proxy_for(VARIANTS[1])
          local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user,
            passwd = s.passwd, timeout = 5, proxy = p:url(), passive = false }))
          local data, err, code = ftp:transfercmd("LIST")
          assert.is_nil(data)
          assert.equal("proxy", code)
          assert.matches("active mode", err)
          assert.matches("^257", (ftp:sendcmd("PWD"))) -- still in step
          ftp:close()
        end)
      end

      if proxies.available("http") then
        it("refuses a wrong HTTP proxy login with \"proxy\", the password masked", function()
          local p = proxy_for(VARIANTS[5])
          local ftp, err, code = ftplib.FTP(s.host, { port = s.port, timeout = 5,
            proxy = p:url { user = proxies.USER, passwd = "wrong-secret" } })
          assert.is_nil(ftp)
          assert.equal("proxy", code)
          assert.matches("refused the user name and password: HTTP/1%.%d 40[17]", err)
          assert.is_nil(err:find("wrong-secret", 1, true))
          ftp, err, code = ftplib.FTP(s.host, { port = s.port, timeout = 5,
            proxy = p:url { user = false } })
          assert.is_nil(ftp)
          assert.equal("proxy", code)
          assert.matches("HTTP/1%.%d 407", err)
        end)

        it("gives the HTTP status line when the server's port is closed", function()
          local p = proxy_for(VARIANTS[4])
          local ftp, err, code = ftplib.FTP(s.host, { port = proc.free_port(), timeout = 5,
            proxy = p:url() })
          assert.is_nil(ftp)
          assert.equal("proxy", code)
          assert.matches("refused the tunnel: HTTP/1%.%d 5%d%d", err)
        end)
      end
    end)
  end
end

describe("a proxy that is down", function()
  it("fails fast with \"refused\", naming the proxy", function()
    local port = proc.free_port()
    for _, scheme in ipairs { "socks5", "http" } do
      local started = socket.gettime()
      local ftp, err, code = ftplib.FTP("127.0.0.1", { port = 21, timeout = 10,
        proxy = ("%s://someone:hidden@127.0.0.1:%d"):format(scheme, port) })
      assert.is_nil(ftp)
      assert.equal("refused", code)
      assert.matches("cannot connect to proxy " .. scheme .. "://someone:%*%*%*@", err)
      assert.is_nil(err:find("hidden", 1, true))
      assert.is_true(socket.gettime() - started < 5) -- well inside the 10 s timeout
    end
  end)
end)

describe("the proxy option", function()
  it("raises for a URL of another form, without its password", function()
    local ok, err = pcall(ftplib.FTP, "127.0.0.1", { proxy = "ftp://u:secret@h:1" })
    assert.is_false(ok)
    assert.matches("not a socks5://, socks5h:// or http:// proxy URL", err)
    assert.is_nil(err:find("secret", 1, true))
    ok, err = pcall(ftplib.FTP, "127.0.0.1", { proxy = "socks5://h:99999" })
    assert.is_false(ok)
    assert.matches("port out of range", err)
    ok, err = pcall(ftplib.FTP, "127.0.0.1", { proxy = "socks5://" .. ("u"):rep(256) .. ":p@h" })
    assert.is_false(ok)
    assert.matches("1 to 255 bytes", err)
    ok = pcall(ftplib.FTP, "127.0.0.1", { proxy = 1080 })
    assert.is_false(ok)
  end)

  it("is parsed as curl reads it: percent-escapes, IPv6, port 1080 by default", function()
    local parse = require("ftplib.parsers.url").parse_proxy
    local parts = parse("SOCKS5H://us%40er:p%3Ass@[::1]:9050/")
    assert.same({ scheme = "socks5h", user = "us@er", password = "p:ss", host = "::1",
      port = 9050, masked = "socks5h://us%40er:***@[::1]:9050" }, parts)
    parts = parse("http://proxy.example")
    assert.same({ scheme = "http", host = "proxy.example", port = 1080,
      masked = "http://proxy.example" }, parts)
    assert.equal("", parse("http://only-user@h").password)
  end)

  it("is listed with the options and in the CLI's --help", function()
    assert.equal("string", ftplib._option_types().FTP.proxy)
    assert.matches("%-%-proxy URL", require("ftplib.cli.args").USAGE)
  end)
end)

if servers.ipv6_available() and proxies.available("socks5") and proxies.available("http") then
  describe("through proxies to a server on ::1", function()
    local s, socks, http

    setup(function()
      s = servers.start("vsftpd", { ipv6 = true })
      s:write("six.txt", "over IPv6\n")
      socks, http = proxies.start("socks5"), proxies.start("http")
    end)

    teardown(function()
      socks:stop()
      http:stop()
      s:stop()
    end)

    it("asks for the IPv6 address (SOCKS5 address type 4, HTTP [::1]:port)", function()
      for _, p in ipairs { socks, http } do
        local ftp = assert(ftplib.FTP("::1", { port = s.port, user = s.user,
          passwd = s.passwd, timeout = 10, proxy = p:url() }))
        assert.equal("inet6", ftp.af)
        assert.equal("over IPv6\n", download(ftp, "six.txt"))
        ftp:close()
      end
      assert.matches("connected to [^\n]*" .. s.port, socks:log())
      assert.matches("CONNECT %[::1%]:" .. s.port, http:log())
    end)
  end)
end

-- FTPS through the tunnel: the certificate is checked against the server's name.
for _, variant in ipairs(servers.tls_kinds()) do
  if (variant.kind == "vsftpd" or variant.kind == "pyftpdlib") and proxies.available("socks5")
      and proxies.available("http") then
    describe("FTPS to " .. variant.name .. " through proxies", function()
      local s, socks, http

      setup(function()
        s = servers.start(variant.kind, { tls = variant.tls })
        s:write("small.txt", "over TLS through a tunnel\n")
        s:write("payload.bin", payload)
        socks, http = proxies.start("socks5"), proxies.start("http")
      end)

      teardown(function()
        socks:stop()
        http:stop()
        s:stop()
      end)

      local function connect(p, host, extra_tls)
        local tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" }
        for k, v in pairs(extra_tls or {}) do tls[k] = v end
        return ftplib.FTP_TLS(host, { port = s.port, user = s.user, passwd = s.passwd,
          timeout = 10, tls = tls, proxy = p:url() })
      end

      it("downloads and uploads with verified TLS through SOCKS5 and HTTP", function()
        for _, p in ipairs { socks, http } do
          local ftp = assert(connect(p, s.host))
          assert.is_true(ftp:_secured())
          assert.equal(payload, download(ftp, "payload.bin"))
          assert(ftp:storbinary("STOR up.txt", "up through TLS\n"))
          assert.equal("up through TLS\n", s:read("up.txt"))
          assert.matches("^221", (ftp:quit()))
        end
      end)

      it("checks the certificate against the server's name, not the proxy's", function()
        local ftp, err, code = connect(socks, s.host, { servername = "wrong.example" })
        assert.is_nil(ftp)
        assert.equal("tls", code)
        assert.matches("certificate verify failed", err)
      end)
    end)
  end
end

describe("helpers that open or use several sessions through a proxy", function()
  local s, p, tmp

  setup(function()
    s = servers.start(servers.kinds()[1])
    for i = 1, 4 do s:write("tree/f" .. i .. ".txt", ("file %d\n"):format(i)) end
    p = proxies.start("socks5")
    tmp = proc.tempdir("proxy-mirror")
  end)

  teardown(function()
    p:stop()
    s:stop()
    proc.rmtree(tmp)
  end)

  local function session()
    return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
      timeout = 10, proxy = p:url() }))
  end

  it("a parallel mirror's sessions go through the proxy too", function()
    local ftp = session()
    local before = select(2, p:log():gsub("connected to [^\n]-:" .. s.port .. "\n", ""))
    local report = assert(ftp:mirror("tree", tmp .. "/tree", { parallel = 2 }))
    assert.equal(0, #report.failed)
    assert.equal(4, #report.created)
    for i = 1, 4 do
      assert.equal(("file %d\n"):format(i), proc.read_file(tmp .. "/tree/f" .. i .. ".txt"))
    end
    ftp:close()
    local after = select(2, p:log():gsub("connected to [^\n]-:" .. s.port .. "\n", ""))
    assert.is_true(after - before >= 1, p:log(40)) -- the clone's control connection
  end)

  it("ftplib.copy from a proxied source relays through the client", function()
    local src, dst = session(), session()
    local result = assert(ftplib.copy(src, "tree/f1.txt", dst, "copied.txt"))
    assert.equal("relay", result.method)
    assert.matches("through a proxy", result.reason)
    assert.equal("file 1\n", s:read("copied.txt"))
    src:close()
    dst:close()
  end)
end)

describe("URL helpers and the CLI through a proxy", function()
  local s, p, tmp

  setup(function()
    s = servers.start(servers.kinds()[1])
    s:write("notes.txt", "notes through the proxy\n")
    p = proxies.start("socks5", { auth = true })
    tmp = proc.tempdir("proxy-cli")
  end)

  teardown(function()
    p:stop()
    s:stop()
    proc.rmtree(tmp)
  end)

  it("ftplib.get takes the proxy option", function()
    local target = tmp .. "/notes.txt"
    assert(ftplib.get(s:url("/notes.txt"), target, { proxy = p:url(), timeout = 10 }))
    assert.equal("notes through the proxy\n", proc.read_file(target))
    assert.matches("connected to [^\n]*:" .. s.port, p:log())
  end)

  it("the CLI's --proxy masks the proxy's password and exits 2 on its refusal", function()
    local cli = require "ftplib.cli.main"
    local out, err = {}, {}
    local function sink(t)
      return { write = function(self, ...)
        for _, part in ipairs { ... } do t[#t + 1] = tostring(part) end
        return self
      end }
    end
    local status = cli.main({ "cat", s:url("/notes.txt"), "--proxy", p:url() },
      { stdout = sink(out), stderr = sink(err) })
    assert.equal(0, status, table.concat(err))
    assert.equal("notes through the proxy\n", table.concat(out))
    out, err = {}, {}
    status = cli.main({ "-q", "cat", s:url("/notes.txt"), "--proxy",
      p:url { user = proxies.USER, passwd = "cli-secret" } },
      { stdout = sink(out), stderr = sink(err) })
    assert.equal(2, status)
    local text = table.concat(err)
    assert.matches("refused the user name and password", text)
    assert.is_nil(text:find("cli-secret", 1, true))
  end)
end)
