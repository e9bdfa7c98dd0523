-- FTPS failures no real server produces on request, from the scripted fake
-- server: refused AUTH, a handshake that fails, options that are wrong.
local ftplib = require "ftplib"
local fake = require "spec.support.fake"

local GREETING = { send = "220 fake ready\r\n" }

local function tls_session(steps, opts)
  local srv = fake.start(steps, { timeout = 20 })
  opts = opts or {}
  opts.port, opts.timeout = srv.port, opts.timeout or 5
  return srv, ftplib.FTP_TLS(srv.host, opts)
end

describe("FTPS login", function()
  it("never sends USER or PASS in clear when AUTH TLS is refused", function()
    local srv, ftp = tls_session({ GREETING, { expect = "^AUTH TLS$" },
      { send = "502 AUTH not implemented\r\n" } })
    local ok, err, code = ftp:login("bob", "secret")
    assert.is_nil(ok)
    assert.equal(502, code)
    assert.equal("502 AUTH not implemented", err)
    ftp:close()
    srv:wait()
    assert.same({ "AUTH TLS" }, srv:commands())
    srv:stop()
  end)

  it("reports a failed handshake as 'tls' and sends no credentials after it", function()
    local srv, ftp = tls_session({ GREETING, { expect = "^AUTH TLS$" },
      { send = "234 go ahead\r\n" }, { send = "this is not TLS at all\r\n" }, { sleep = 1 } })
    local ok, err, code = ftp:login("bob", "secret")
    assert.is_nil(ok)
    assert.equal("tls", code)
    assert.matches("TLS", err)
    srv:wait()
    local commands = srv:commands()
    assert.equal("AUTH TLS", commands[1])
    for _, line in ipairs(commands) do -- the rest is our ClientHello, cut into "lines"
      assert.not_matches("USER", line, 1, true)
      assert.not_matches("secret", line, 1, true)
    end
    srv:stop()
  end)

  it("reports a server that closes during the handshake as 'tls'", function()
    local srv, ftp = tls_session({ GREETING, { expect = "^AUTH TLS$" },
      { send = "234 go ahead\r\n" }, { recv = true }, { close = true } })
    local ok, _, code = ftp:login("bob", "secret")
    assert.is_nil(ok)
    assert.equal("tls", code)
    srv:stop()
  end)

  it("fails an implicit-TLS connection to a plain server with 'tls'", function()
    local srv, ftp, err, code = tls_session({ GREETING, { sleep = 1 } },
      { tls = { implicit = true } })
    assert.is_nil(ftp)
    assert.equal("tls", code)
    assert.is_string(err)
    srv:stop()
  end)
end)

describe("FTPS options", function()
  it("refuse unknown and mistyped TLS options as programming errors", function()
    assert.has_error(function() ftplib.FTP_TLS(nil, { tls = { verfy = false } }) end)
    assert.has_error(function() ftplib.FTP_TLS(nil, { tls = { verify = "no" } }) end)
    assert.has_error(function() ftplib.FTP_TLS(nil, { tls = { min_version = "TLSv9" } }) end,
      'ftplib: TLS option \'min_version\' must be "TLSv1.2" or "TLSv1.3", got "TLSv9"')
    assert.has_error(function() ftplib.FTP_TLS(nil, { tls = { max_version = "TLSv1.1" } }) end,
      'ftplib: TLS option \'max_version\' must be "TLSv1.2" or "TLSv1.3", got "TLSv1.1"')
  end)

  it("refuse TLS options on a plain FTP session instead of going on in clear", function()
    assert.has_error(function() ftplib.FTP(nil, { tls = { cafile = "ca.pem" } }) end,
      "ftplib: option 'tls' is for ftplib.FTP_TLS, not ftplib.FTP")
    assert.has_error(function() ftplib.FTP(nil, { implicit = true }) end,
      "ftplib: option 'implicit' is for ftplib.FTP_TLS, not ftplib.FTP")
  end)

  it("take opts.implicit as DESIGN spells it, as well as opts.tls.implicit", function()
    local ftp = assert(ftplib.FTP_TLS(nil, { implicit = true, tls = { verify = false } }))
    assert.equal(990, ftp.port)
    assert.is_true(ftp._tls_implicit)
    -- Clones (parallel mirror) are made from what was kept: every TLS option is there.
    assert.are.same({ implicit = true, verify = false }, ftp._tls_opts)
    ftp:close()
  end)

  it("report an unreadable CA file as 'tls'", function()
    local ftp, err, code = ftplib.FTP_TLS(nil, { tls = { cafile = "/nonexistent/ca.pem" } })
    assert.is_nil(ftp)
    assert.equal("tls", code)
    assert.matches("trusted certificates", err)
  end)

  it("use port 990 for implicit TLS unless told otherwise", function()
    local ftp = assert(ftplib.FTP_TLS(nil, { tls = { implicit = true } }))
    assert.equal(990, ftp.port)
    ftp:close()
  end)

  it("raise when a TLS method is called on a plain FTP object", function()
    local ftp = ftplib.FTP()
    assert.has_error(function() ftp:prot_p() end)
    assert.has_error(function() ftp:auth() end)
  end)
end)
