-- FTPS against real servers: vsftpd (require_ssl_reuse on, TLS 1.2 and 1.3,
-- implicit), pyftpdlib's TLS handler and proftpd's mod_tls (session reuse
-- check on), with certificates made at test time.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local scaled = require "spec.support.scale" -- FTPLIB_TEST_SCALE (make valgrind)

local random_bytes = require("spec.support.proc").random_bytes

local function tls_options(s, extra)
  local tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" }
  for k, v in pairs(extra or {}) do
    tls[k] = v
  end
  return tls
end

local function connect(s, extra_tls, extra)
  local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 10,
                 tls = tls_options(s, extra_tls) }
  for k, v in pairs(extra or {}) do
    opts[k] = v
  end
  return ftplib.FTP_TLS(s.host, opts)
end

local function download(ftp, name)
  local chunks = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) chunks[#chunks + 1] = chunk end))
  return table.concat(chunks)
end

for _, variant in ipairs(servers.tls_kinds()) do
  describe("FTPS to " .. variant.name, function()
    local s
    local payload = random_bytes(scaled(3 * 1024 * 1024 + 17))

    setup(function()
      s = servers.start(variant.kind, { tls = variant.tls })
      s:write("payload.bin", payload)
      s:write("small.txt", "hello over TLS\n")
      s:write("empty.bin", "")
      s:mkdir("emptydir")
    end)

    teardown(function()
      s:stop()
    end)

    it("logs in over a verified TLS control connection", function()
      local ftp = assert(connect(s))
      assert.is_true(ftp:_secured())
      assert.is_string(ftp:pwd())
      assert.matches("^221", (ftp:quit()))
    end)

    it("moves files both ways over PROT P, many times on one session", function()
      local ftp = assert(connect(s))
      for round = 1, 4 do
        assert.equal(payload, download(ftp, "payload.bin"))
        local name = "up" .. round .. ".bin"
        assert(ftp:storbinary("STOR " .. name, payload))
        assert.equal(#payload, #s:read(name))
        assert.equal(payload, s:read(name))
      end
      local out = assert(io.open(os.tmpname(), "w+b"))
      assert(ftp:retrbinary("RETR payload.bin", out))
      out:seek("set")
      assert.equal(payload, out:read("a"))
      out:close()
      ftp:quit()
    end)

    -- Servers that accept each TLS 1.3 ticket once, and give none on upload
    -- connections (proftpd), run out of fresh sessions here.
    it("uploads many times in a row, from strings and files, then downloads", function()
      local ftp = assert(connect(s))
      for round = 1, 6 do
        assert(ftp:storbinary("STOR row" .. round .. ".txt", "row " .. round))
        assert.equal("row " .. round, s:read("row" .. round .. ".txt"))
      end
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("from a file")
      f:close()
      for round = 1, 3 do
        f = assert(io.open(path, "rb"))
        assert(ftp:storbinary("STOR file" .. round .. ".txt", f))
        f:close()
        assert.equal("from a file", s:read("file" .. round .. ".txt"))
      end
      os.remove(path)
      assert(ftp:storlines("STOR lines.txt", "a\nb\n"))
      assert.equal("row 6", download(ftp, "row6.txt"))
      ftp:quit()
    end)

    it("resumes the control connection's TLS session on every data connection", function()
      local ftp = assert(connect(s))
      assert(ftp:voidcmd("TYPE I")) -- transfercmd leaves the type as it is
      for _ = 1, 3 do
        local data = assert(ftp:transfercmd("RETR small.txt"))
        assert.is_true(data:_secured())
        assert.is_true(data:_resumed())
        local got = {}
        repeat
          local chunk = assert(data:recv(4096))
          got[#got + 1] = chunk
        until chunk == ""
        data:close()
        assert(ftp:voidresp())
        assert.equal("hello over TLS\n", table.concat(got))
      end
      ftp:quit()
    end)

    it("does the handshake for empty files and empty listings", function()
      local ftp = assert(connect(s))
      assert.equal("", download(ftp, "empty.bin"))
      assert(ftp:storbinary("STOR empty-up.bin", ""))
      assert.equal("", s:read("empty-up.bin"))
      assert.same({}, ftp:nlst("emptydir"))
      assert(ftp:storbinary("STOR after.txt", "still in step"))
      assert.equal("still in step", s:read("after.txt"))
      ftp:quit()
    end)

    it("lists directories over PROT P", function()
      local ftp = assert(connect(s))
      local names = assert(ftp:nlst())
      table.sort(names)
      assert.truthy(#names >= 3)
      local lines = {}
      assert(ftp:dir(function(line) lines[#lines + 1] = line end))
      assert.truthy(table.concat(lines, "\n"):find("payload.bin", 1, true))
      ftp:quit()
    end)

    it("works in active mode too", function()
      local ftp = assert(connect(s, nil, { passive = false }))
      assert.equal(payload, download(ftp, "payload.bin"))
      ftp:quit()
    end)

    it("asks for clear data with prot_c, which the server refuses", function()
      local ftp = assert(connect(s))
      -- Refused at PROT C (proftpd) or at the transfer (vsftpd, pyftpdlib).
      local ok, err, code = ftp:prot_c()
      if ok then
        ok, err, code = ftp:retrbinary("RETR small.txt", function() end)
      end
      assert.is_nil(ok)
      assert.equal(5, code // 100, err)
      assert(ftp:prot_p())
      assert.equal("hello over TLS\n", download(ftp, "small.txt"))
      ftp:quit()
    end)
  end)
end

-- Certificate checks: one server per certificate, vsftpd explicit.
describe("FTPS certificate checks", function()
  local function start(cert, extra)
    local tls = { mode = "explicit", cert = cert }
    for k, v in pairs(extra or {}) do
      tls[k] = v
    end
    return servers.start("vsftpd", { tls = tls })
  end

  it("refuses a certificate for another name, with OpenSSL's reason", function()
    local s = start("wrong")
    local ftp, err, code = connect(s)
    assert.is_nil(ftp)
    assert.equal("tls", code)
    assert.matches("IP address mismatch", err) -- we connected to 127.0.0.1
    local named = assert(connect(s, { servername = "wrong.example" }))
    assert.is_string(named:pwd())
    named:quit()
    s:stop()
  end)

  it("refuses a certificate no trusted CA signed, and takes it with verify = false", function()
    local s = start("unknown")
    local ftp, err, code = connect(s)
    assert.is_nil(ftp)
    assert.equal("tls", code)
    assert.matches("certificate verify failed", err)
    local unchecked = assert(connect(s, { verify = false }))
    assert.equal("hello", (function()
      assert(unchecked:storbinary("STOR x.txt", "hello"))
      return s:read("x.txt")
    end)())
    unchecked:quit()
    s:stop()
  end)

  it("refuses the system trust store's verdict on a test CA", function()
    local s = start("good")
    local ftp, _, code = ftplib.FTP_TLS(s.host, { port = s.port, user = s.user,
                                                  passwd = s.passwd, timeout = 10 })
    assert.is_nil(ftp)
    assert.equal("tls", code)
    s:stop()
  end)

  it("presents a client certificate when the server asks for one", function()
    local s = start("good", { require_client_cert = true })
    local without = connect(s)
    if without then -- the handshake may pass and the server drop us later
      assert.is_nil(without:pwd())
      without:close()
    end
    local ftp = assert(connect(s, { certfile = s.certs.client_cert,
                                    keyfile = s.certs.client_key }))
    assert.is_string(ftp:pwd())
    ftp:quit()
    s:stop()
  end)
end)

-- CCC needs a server that allows it: proftpd with TLS required for login and
-- data only.
describe("FTPS CCC", function()
  local s

  setup(function()
    s = servers.start("proftpd", { tls = { mode = "explicit", allow_ccc = true } })
    s:write("small.txt", "after CCC")
  end)

  teardown(function()
    s:stop()
  end)

  it("clears the control connection and keeps protected data", function()
    local ftp = assert(connect(s))
    assert.matches("^200", (assert(ftp:ccc())))
    assert.is_false(ftp:_secured())
    assert.is_string(assert(ftp:pwd()))
    assert.equal("after CCC", download(ftp, "small.txt"))
    ftp:quit()
  end)
end)
