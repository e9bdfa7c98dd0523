-- Proves the FTPS side of the test harness (spec/support/certs.lua and the TLS variants
-- of spec/support/servers.lua) with curl and `openssl s_client`, so that it does not
-- depend on the library under test. curl is the strictest available proof for servers
-- that require TLS session reuse: it resumes the control connection's session on every
-- data connection, and fails when it cannot.
local socket = require "socket"
local servers = require "spec.support.servers"
local certs = require "spec.support.certs"
local proc = require "spec.support.proc"

local q = proc.shell_quote

-- Runs a shell command line. Returns its exit status and its output (stderr included).
local function sh(command_line)
  local pipe = assert(io.popen(command_line .. " 2>&1", "r"))
  local output = pipe:read("a")
  local _, _, status = pipe:close()
  return status, output
end

-- curl's options for server `s`: TLS on both connections (or, with `control_only`, on
-- the control connection only: PROT C), the server verified against s.ca.
-- --ignore-content-length: no SIZE before RETR, which curl 7.88 follows with a one-second
-- wait on servers that accept the data connection only at RETR (proftpd).
local function curl_options(s, control_only)
  return { "-sS", control_only and "--ftp-ssl-control" or "--ssl-reqd",
    "--ignore-content-length", "--cacert", s.ca }
end

-- curl against server `s`: `args` is a list of extra words (URLs included). Returns its
-- exit status and output. `max_time`: seconds before curl gives up (default 20).
local function curl(s, args, control_only, max_time)
  local words = { "curl", "--max-time", tostring(max_time or 20) }
  for _, word in ipairs(curl_options(s, control_only)) do words[#words + 1] = q(word) end
  for _, word in ipairs(args) do words[#words + 1] = q(word) end
  return sh(table.concat(words, " "))
end

-- curl without TLS: for the plain proftpd checks.
local function curl_plain(args)
  local words = { "curl", "--max-time", "20", "-sS", "--ignore-content-length" }
  for _, word in ipairs(args) do words[#words + 1] = q(word) end
  return sh(table.concat(words, " "))
end

-- The TLS version `openssl s_client` negotiates with `s`, limited to `version` when
-- given ("TLSv1.2" or "TLSv1.3"); nil and the output when the handshake fails. The
-- certificate must verify for the server's address.
local function negotiated_version(s, version)
  local host = s.host:find(":") and ("[" .. s.host .. "]") or s.host
  local words = { "printf 'QUIT\\r\\n' |", "timeout 10", "openssl s_client -brief -ign_eof",
    "-connect", q(host .. ":" .. s.port), "-CAfile", q(s.ca), "-verify_return_error",
    "-verify_ip", q(s.host) }
  if s.tls.mode == "explicit" then words[#words + 1] = "-starttls ftp" end
  if version then words[#words + 1] = version == "TLSv1.3" and "-tls1_3" or "-tls1_2" end
  -- The exit status is no guide: vsftpd closes after QUIT without a TLS close_notify.
  local _, output = sh(table.concat(words, " "))
  return output:match("Protocol version: (TLSv[%d.]+)"), output
end

-- Sends USER in the clear: the reply code, or nil when there is no reply line. An
-- implicit-TLS server says nothing until a handshake: 0.3 s of silence tells.
local function plain_user_reply(s)
  local sock = assert(s.host:find(":") and socket.tcp6() or socket.tcp4())
  sock:settimeout(s.tls.mode == "implicit" and 0.3 or 5)
  assert(sock:connect(s.host, s.port))
  local greeting = sock:receive("*l")
  local code
  if greeting and greeting:match("^220") then
    sock:send("USER " .. s.user .. "\r\n")
    local reply = sock:receive("*l")
    code = reply and tonumber(reply:match("^(%d%d%d)"))
  end
  sock:close()
  return code, greeting
end

-- One variant per kind (its first explicit one) for the option checks below.
local function one_variant_per_kind()
  local seen, list = {}, {}
  for _, variant in ipairs(servers.tls_kinds()) do
    if not seen[variant.kind] and variant.tls.mode == "explicit" then
      seen[variant.kind] = true
      list[#list + 1] = variant
    end
  end
  return list
end

local function openssl_verify(args)
  return sh("openssl verify " .. args) == 0
end

describe("certs", function()
  it("makes a CA, leaves it signs, and a self-signed stranger, once per process", function()
    local c = certs.get()
    assert.equal(c, certs.get())
    for _, key in ipairs({ "ca", "server_cert", "server_key", "wrong_cert", "wrong_key",
      "unknown_cert", "unknown_key", "client_cert", "client_key" }) do
      assert.is_true(proc.exists(c[key]), key)
      assert.equal(c.dir, c[key]:match("^(.*)/[^/]+$"), key)
    end
    local ca = "-CAfile " .. q(c.ca) .. " "
    assert.is_true(openssl_verify(ca .. "-verify_hostname localhost " .. q(c.server_cert)))
    assert.is_true(openssl_verify(ca .. "-verify_ip 127.0.0.1 " .. q(c.server_cert)))
    assert.is_true(openssl_verify(ca .. "-verify_ip ::1 " .. q(c.server_cert)))
    assert.is_true(openssl_verify(ca .. "-verify_hostname wrong.example " .. q(c.wrong_cert)))
    assert.is_false(openssl_verify(ca .. "-verify_hostname localhost " .. q(c.wrong_cert)))
    assert.is_false(openssl_verify(ca .. q(c.unknown_cert)))
    assert.is_true(openssl_verify(ca .. "-purpose sslclient " .. q(c.client_cert)))
  end)
end)

-- proftpd is not in servers.kinds() by default (see servers.lua), so harness_spec.lua does
-- not cover it: the plain protocol it must serve, proved here.
describe("proftpd in the clear (an opt-in kind)", function()
  if not servers.available("proftpd") then
    pending("proftpd is not unpacked here: run scripts/setup-test-env.sh")
    return
  end

  it("logs in and moves files both ways over EPSV, PASV, EPRT and PORT", function()
    local s = servers.start("proftpd")
    s:write("pub/f.txt", "plain bytes")
    local upload = os.tmpname()
    proc.write_file(upload, "up\0loaded\r\n")
    -- curl picks the data connection mode per run: -P (active) with or without EPRT.
    local modes = {
      epsv = {}, pasv = { "--disable-epsv" },
      eprt = { "-P", s.host }, port = { "-P", s.host, "--disable-eprt" },
    }
    for name, mode in pairs(modes) do
      -- -T pairs with the first URL: the upload goes after --next (which resets the
      -- options, hence the mode twice), on the same control connection.
      local args = {}
      table.move(mode, 1, #mode, 1, args)
      table.move({ s:url("/pub/f.txt"), "--next", "-sS" }, 1, 3, #args + 1, args)
      table.move(mode, 1, #mode, #args + 1, args)
      table.move({ "-T", upload, s:url("/" .. name .. ".bin") }, 1, 3, #args + 1, args)
      local status, output = curl_plain(args)
      assert.equal(0, status, name .. ": " .. output .. "\n" .. s:log())
      assert.equal("plain bytes", output, name)
      assert.equal("up\0loaded\r\n", s:read(name .. ".bin"), name)
    end
    os.remove(upload)
    -- Anonymous reads, and may not write.
    local status, output = curl_plain({ s:url("/pub/f.txt", { anonymous = true }) })
    assert.equal(0, status, output)
    assert.equal("plain bytes", output)
    status = curl_plain({ "-T", "/etc/hostname", s:url("/nope.txt", { anonymous = true }) })
    assert.are_not.equal(0, status)
    assert.is_nil(s:read("nope.txt"))
    s:stop()
  end)
end)

describe("servers with opts.tls", function()
  it("rejects TLS options that are wrong or that the kind cannot serve", function()
    local kind = servers.kinds()[1]
    assert.has_error(function() servers.start(kind, { tls = true }) end)
    assert.has_error(function() servers.start(kind, { tls = { mode = "quantum" } }) end)
    assert.has_error(function() servers.start(kind, { tls = { cerf = "good" } }) end)
    assert.has_error(function()
      servers.start(kind, { tls = { min_version = "TLSv1.3", max_version = "TLSv1.2" } })
    end)
    if servers.available("pyftpdlib") then
      assert.error_matches(function()
        servers.start("pyftpdlib", { tls = { mode = "implicit" } })
      end, "pyftpdlib does not support implicit TLS", nil, true)
    end
  end)

  it("lists the FTPS variants usable here", function()
    local variants = servers.tls_kinds()
    assert.is_true(#variants >= 1)
    for _, variant in ipairs(variants) do
      assert.is_string(variant.name)
      assert.is_table(variant.tls)
      assert.is_true(variant.kind == "vsftpd" or variant.kind == "pyftpdlib"
        or variant.kind == "proftpd")
    end
    assert.are_not.equal(variants[1].tls, servers.tls_kinds()[1].tls) -- fresh tables
  end)

  for _, variant in ipairs(servers.tls_kinds()) do
    describe(variant.name, function()
      -- One server for these tests: they only read, or write files of their own.
      local s
      setup(function()
        s = servers.start(variant.kind, { tls = variant.tls })
      end)
      teardown(function()
        if s then s:stop() end
        s = nil
      end)

      it("uploads, lists and downloads with curl, which verifies it against s.ca", function()
        assert.equal(variant.tls.mode, s.tls.mode)
        assert.equal(certs.get().ca, s.ca)
        assert.matches("^220", s.greeting)
        assert.equal(s.tls.mode == "implicit" and "ftps" or "ftp", s:url("/"):match("^%a+"))
        s:write("pub/hello.txt", "hello over TLS\n")
        local upload = os.tmpname()
        proc.write_file(upload, "uploaded\0bytes\r\n")
        -- One session, three data connections. The upload comes last: curl 7.88 keeps
        -- the session of its latest data connection for the next one, and with TLS 1.3
        -- that of an upload (closed before its session ticket is read) cannot be resumed:
        -- vsftpd and proftpd then refuse the next data connection.
        local args = { s:url("/pub/hello.txt"), s:url("/pub/"), "--next" }
        table.move(curl_options(s), 1, #curl_options(s), #args + 1, args)
        table.move({ "-T", upload, s:url("/up.bin") }, 1, 3, #args + 1, args)
        local status, output = curl(s, args)
        os.remove(upload)
        assert.equal(0, status, output .. "\n" .. s:log())
        assert.matches("^hello over TLS\n", output)
        assert.matches("hello%.txt", output)
        assert.equal("uploaded\0bytes\r\n", s:read("up.bin"))
      end)

      it("negotiates exactly the TLS versions s.tls.versions lists", function()
        local accepted = {}
        for _, version in ipairs(s.tls.versions) do accepted[version] = true end
        for _, version in ipairs({ "TLSv1.2", "TLSv1.3" }) do
          local got, output = negotiated_version(s, version)
          if accepted[version] then
            assert.equal(version, got, output)
          else
            assert.is_nil(got, output)
          end
        end
      end)

      it("refuses the user a login in the clear", function()
        local code, greeting = plain_user_reply(s)
        if s.tls.mode == "implicit" then
          assert.is_nil(greeting) -- no plain-text greeting at all
        else
          assert.is_truthy(code and code >= 500, tostring(code))
        end
      end)

      if variant.kind ~= "pyftpdlib" then
        it("refuses data connections that do not resume the control session", function()
          assert.is_true(s.tls.reuse_required)
          s:write("f.txt", "x")
          -- The same request, resuming, works (the upload/download test above).
          local status, output = curl(s, { "--no-sessionid", s:url("/f.txt") })
          assert.are_not.equal(0, status, output)
        end)
      else
        it("does not require session reuse (pyftpdlib cannot)", function()
          assert.is_false(s.tls.reuse_required)
          s:write("f.txt", "x")
          local status, output = curl(s, { "--no-sessionid", s:url("/f.txt") })
          assert.equal(0, status, output)
        end)
      end
    end)
  end

  for _, variant in ipairs(one_variant_per_kind()) do
    describe(variant.kind .. " TLS options", function()
      local started = {}
      local function start(tls_opts, opts)
        opts = opts or {}
        opts.tls = tls_opts
        local s = servers.start(variant.kind, opts)
        started[#started + 1] = s
        s:write("f.txt", "content")
        return s
      end
      after_each(function()
        for _, s in ipairs(started) do s:stop() end
        started = {}
      end)

      it("serves certificates curl must reject: another name, an unknown CA", function()
        for _, cert in ipairs({ "wrong", "unknown" }) do
          local s = start({ cert = cert })
          local status, output = curl(s, { s:url("/f.txt") })
          -- 60: the peer certificate cannot be authenticated with known CA certificates.
          assert.equal(60, status, cert .. ": " .. output)
        end
      end)

      it("requires a client certificate signed by the CA when asked", function()
        local s = start({ require_client_cert = true })
        assert.are_not.equal(0, (curl(s, { s:url("/f.txt") })))
        local status, output = curl(s, {
          "--cert", s.certs.client_cert, "--key", s.certs.client_key, s:url("/f.txt"),
        })
        assert.equal(0, status, output .. "\n" .. s:log())
        assert.equal("content", output)
      end)

      it("lets clear data connections through only when data_required = false", function()
        local strict = start({})
        local relaxed = start({ data_required = false })
        -- proftpd answers PROT C with 534, which curl ignores: both sides then wait
        -- for the other on the data connection until curl's --max-time.
        assert.are_not.equal(0, (curl(strict, { strict:url("/f.txt") }, true, 1.5)))
        local status, output = curl(relaxed, { relaxed:url("/f.txt") }, true)
        assert.equal(0, status, output)
        assert.equal("content", output)
      end)

      if servers.ipv6_available() then
        it("works on ::1, which the certificate names", function()
          local s = start({}, { ipv6 = true })
          local status, output = curl(s, { s:url("/f.txt") })
          assert.equal(0, status, output)
          assert.equal("content", output)
        end)
      end
    end)
  end
end)
