-- ftplib.copy between two real servers: FXP both ways (vsftpd, pyftpdlib, proftpd
-- where it is unpacked, IPv6 too), the relay when a server really refuses FXP (a
-- source on 127.0.0.2, a "foreign" address the target will not connect to), the relay
-- for TLS-protected sessions, a 20 MiB relay in bounded memory, and the fake server
-- for a 425 on STOR. After each copy both sessions must still be in step.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local proc = require "spec.support.proc"

local MEDIUM = 3 * 1024 * 1024
local BIG = 20 * 1024 * 1024

local function sha256_file(path)
  return assert(proc.run("sha256sum " .. proc.shell_quote(path)):match("^(%x+)"))
end

-- A file of random bytes inside server s, owned like the server's files: its SHA-256.
local function random_file(s, relative, size)
  local path = s:write(relative, "")
  proc.run(("head -c %d /dev/urandom > %s"):format(size, proc.shell_quote(path)))
  return sha256_file(path)
end

local function session(s, opts)
  local options = { port = s.port, user = s.user, passwd = s.passwd, timeout = 20 }
  for key, value in pairs(opts or {}) do options[key] = value end
  local make = s.tls and ftplib.FTP_TLS or ftplib.FTP
  return assert(make(s.host, options))
end

-- Still in step: each command gets its own reply, and a download its bytes.
local function assert_usable(ftp, s)
  s:write("probe.txt", "probe " .. s.kind)
  assert.matches("^200", (assert(ftp:noop())))
  assert.is_string((assert(ftp:pwd())))
  local parts = {}
  assert(ftp:retrbinary("RETR probe.txt", function(chunk) parts[#parts + 1] = chunk end))
  assert.equal("probe " .. s.kind, table.concat(parts))
  assert.matches("^200", (assert(ftp:noop())))
end

local function plain_kinds()
  local list = { "vsftpd", "pyftpdlib" }
  if servers.available("proftpd") then list[#list + 1] = "proftpd" end
  return list
end

describe("ftplib.copy", function()
  local running = {} -- kind -> server on 127.0.0.1

  lazy_setup(function()
    for _, kind in ipairs(plain_kinds()) do running[kind] = servers.start(kind) end
  end)

  lazy_teardown(function()
    for _, s in pairs(running) do s:stop() end
  end)

  local pairs_to_test = {
    { "vsftpd", "pyftpdlib" }, { "pyftpdlib", "vsftpd" }, { "vsftpd", "vsftpd" },
    { "vsftpd", "proftpd" }, { "proftpd", "pyftpdlib" },
  }

  for _, pair in ipairs(pairs_to_test) do
    local from, to = pair[1], pair[2]
    if servers.available(from) and servers.available(to) then
      it(("copies %s -> %s by FXP, byte for byte"):format(from, to), function()
        local a = running[from]
        local b = from == to and servers.start(to) or running[to]
        finally(function() if b ~= running[to] then b:stop() end end)
        local sha = random_file(a, "in/src.bin", MEDIUM)
        local src, dst = session(a), session(b)
        finally(function() src:close(); dst:close() end)
        local result = assert(ftplib.copy(src, "in/src.bin", dst, "copy.bin"))
        assert.same({ method = "fxp", bytes = MEDIUM }, result)
        assert.equal(sha, sha256_file(b:path("copy.bin")))
        assert_usable(src, a)
        assert_usable(dst, b)
      end)
    end
  end

  it("copies an empty file by FXP", function()
    local a, b = running.pyftpdlib, running.vsftpd
    a:write("empty.bin", "")
    local src, dst = session(a), session(b)
    finally(function() src:close(); dst:close() end)
    assert.same({ method = "fxp", bytes = 0 }, assert(ftplib.copy(src, "empty.bin", dst, "e.bin")))
    assert.equal("", b:read("e.bin"))
    assert_usable(src, a)
    assert_usable(dst, b)
  end)

  it("copies over IPv6 with EPSV and EPRT", function()
    if not servers.ipv6_available() then
      pending("no IPv6 loopback on this machine")
      return
    end
    local a = servers.start("vsftpd", { ipv6 = true })
    local b = servers.start("pyftpdlib", { ipv6 = true })
    finally(function() a:stop(); b:stop() end)
    local sha = random_file(a, "v6.bin", 100000)
    local src, dst = session(a), session(b)
    finally(function() src:close(); dst:close() end)
    local commands = {}
    src:set_debugfunc(function(line) commands[#commands + 1] = line end)
    dst:set_debugfunc(function(line) commands[#commands + 1] = line end)
    src:set_debuglevel(1)
    dst:set_debuglevel(1)
    local result = assert(ftplib.copy(src, "v6.bin", dst, "v6.bin"))
    assert.same({ method = "fxp", bytes = 100000 }, result)
    assert.equal(sha, sha256_file(b:path("v6.bin")))
    local log = table.concat(commands, "\n")
    assert.matches("*cmd* 'EPSV'", log, 1, true)
    assert.matches("*cmd* 'EPRT |2|::1|", log, 1, true)
    assert_usable(src, a)
    assert_usable(dst, b)
  end)

  it("fails with the source's 550 when the file is missing, and leaves no file", function()
    local a, b = running.vsftpd, running.pyftpdlib
    local src, dst = session(a), session(b)
    finally(function() src:close(); dst:close() end)
    local result, err, code = ftplib.copy(src, "no/such.bin", dst, "never.bin")
    assert.is_nil(result)
    assert.equal(550, code)
    assert.matches("^550", err)
    -- The target had accepted STOR: it was aborted and its empty file removed.
    assert.is_nil(b:read("never.bin"))
    assert_usable(src, a)
    assert_usable(dst, b)
  end)

  it("fails with the target's refusal of STOR, without relaying", function()
    local a, b = running.vsftpd, running.pyftpdlib
    a:write("small.txt", "small")
    local src, dst = session(a), session(b)
    finally(function() src:close(); dst:close() end)
    local result, err, code = ftplib.copy(src, "small.txt", dst, "no/such/dir/x.txt")
    assert.is_nil(result)
    assert.equal(550, code)
    assert.is_string(err)
    assert_usable(src, a)
    assert_usable(dst, b)
  end)

  it("relays when asked to (opts.fxp = false), reporting progress", function()
    local a, b = running.pyftpdlib, running.vsftpd
    local sha = random_file(a, "r.bin", MEDIUM)
    local src, dst = session(a), session(b)
    finally(function() src:close(); dst:close() end)
    local last = 0
    local result = assert(ftplib.copy(src, "r.bin", dst, "r.bin", {
      fxp = false,
      progress = function(done) assert.is_true(done > last); last = done end,
    }))
    assert.same({ method = "relay", bytes = MEDIUM, reason = "opts.fxp is false" }, result)
    assert.equal(MEDIUM, last)
    assert.equal(sha, sha256_file(b:path("r.bin")))
    assert_usable(src, a)
    assert_usable(dst, b)
  end)

  it("aborts both transfers when progress raises, and re-raises", function()
    local a, b = running.vsftpd, running.pyftpdlib
    random_file(a, "raise.bin", MEDIUM)
    local src, dst = session(a), session(b)
    finally(function() src:close(); dst:close() end)
    assert.has_error(function()
      ftplib.copy(src, "raise.bin", dst, "raise.bin", {
        fxp = false, progress = function() error("stop here", 0) end,
      })
    end, "stop here")
    assert_usable(src, a)
    assert_usable(dst, b)
  end)

  describe("when the target refuses to connect to a foreign address", function()
    local foreign -- vsftpd on 127.0.0.2: the target sees the client at 127.0.0.1

    lazy_setup(function()
      foreign = servers.start("vsftpd", { host = "127.0.0.2" })
    end)

    lazy_teardown(function()
      if foreign then foreign:stop() end
    end)

    local refusals = { vsftpd = "^500 Illegal PORT", pyftpdlib = "^501 Rejected" }
    for _, kind in ipairs { "vsftpd", "pyftpdlib" } do
      it("falls back to the relay (" .. kind .. " refuses PORT)", function()
        local b = running[kind]
        local sha = random_file(foreign, "f.bin", MEDIUM)
        local src, dst = session(foreign), session(b)
        finally(function() src:close(); dst:close() end)
        local result = assert(ftplib.copy(src, "f.bin", dst, "f.bin"))
        assert.equal("relay", result.method)
        assert.equal(MEDIUM, result.bytes)
        assert.matches("^FXP refused: " .. refusals[kind]:sub(2), result.reason)
        assert.equal(sha, sha256_file(b:path("f.bin")))
        assert_usable(src, foreign)
        assert_usable(dst, b)
      end)

      it("returns the refusal with opts.relay = false (" .. kind .. ")", function()
        local b = running[kind]
        foreign:write("g.txt", "g")
        local src, dst = session(foreign), session(b)
        finally(function() src:close(); dst:close() end)
        local result, err, code = ftplib.copy(src, "g.txt", dst, "g.txt", { relay = false })
        assert.is_nil(result)
        assert.matches(refusals[kind], err)
        assert.is_true(code == 500 or code == 501)
        assert.is_nil(b:read("g.txt"))
        assert_usable(src, foreign)
        assert_usable(dst, b)
      end)
    end

    it("relays 20 MiB in bounded memory", function()
      local b = running.pyftpdlib
      local sha = random_file(foreign, "big.bin", BIG)
      local src, dst = session(foreign), session(b)
      finally(function() src:close(); dst:close() end)
      -- What the relay keeps alive, measured after a full collection every
      -- 2 MiB: garbage blocks waiting for the collector are not held memory, and
      -- how many wait depends on the whole suite's heap, not on the relay.
      collectgarbage("collect")
      local before = collectgarbage("count")
      local peak, next_check = before, 0
      local result = assert(ftplib.copy(src, "big.bin", dst, "big.bin", {
        progress = function(done)
          if done >= next_check then
            next_check = done + 2 * 1024 * 1024
            collectgarbage("collect")
            peak = math.max(peak, collectgarbage("count"))
          end
        end,
      }))
      assert.equal("relay", result.method)
      assert.equal(BIG, result.bytes)
      assert.equal(sha, sha256_file(b:path("big.bin")))
      local growth_kib = peak - before
      assert.is_true(growth_kib < 1024, ("the relay held %.0f KiB"):format(growth_kib))
      assert_usable(src, foreign)
      assert_usable(dst, b)
    end)
  end)

  describe("with TLS sessions", function()
    local secure

    lazy_setup(function()
      secure = servers.start("vsftpd", { tls = { mode = "explicit" } })
    end)

    lazy_teardown(function()
      if secure then secure:stop() end
    end)

    local function tls_session()
      return session(secure, { tls = { cafile = secure.ca } })
    end

    it("relays from a protected session to a plain one, and says why", function()
      local sha = random_file(secure, "t.bin", MEDIUM)
      local src, dst = tls_session(), session(running.pyftpdlib)
      finally(function() src:close(); dst:close() end)
      local result = assert(ftplib.copy(src, "t.bin", dst, "t.bin"))
      assert.equal("relay", result.method)
      assert.equal(MEDIUM, result.bytes)
      assert.matches("SSCN/CPSV", result.reason, 1, true)
      assert.equal(sha, sha256_file(running.pyftpdlib:path("t.bin")))
      assert_usable(src, secure)
      assert_usable(dst, running.pyftpdlib)
    end)

    it("relays from a plain session to a protected one", function()
      local sha = random_file(running.vsftpd, "u.bin", MEDIUM)
      local src, dst = session(running.vsftpd), tls_session()
      finally(function() src:close(); dst:close() end)
      local result = assert(ftplib.copy(src, "u.bin", dst, "u.bin"))
      assert.equal("relay", result.method)
      assert.equal(sha, sha256_file(secure:path("u.bin")))
      assert_usable(src, running.vsftpd)
      assert_usable(dst, secure)
    end)

    it("refuses with opts.relay = false, sending nothing", function()
      local src, dst = tls_session(), session(running.pyftpdlib)
      finally(function() src:close(); dst:close() end)
      local result, err, code = ftplib.copy(src, "t.bin", dst, "t2.bin", { relay = false })
      assert.is_nil(result)
      assert.matches("^FXP not possible: .*PROT P", err)
      assert.equal("proto", code)
      assert_usable(dst, running.pyftpdlib)
    end)
  end)

  it("relays after a 425 on STOR (the target cannot reach the source)", function()
    local b = running.vsftpd
    -- The source announces a port nobody listens on: vsftpd's STOR answers 425.
    local nobody = proc.free_port()
    -- No login: whatever a login sends (FEAT, OPTS) is not what this is about.
    local srv = fake.start(fake.script({
      { send = "220 fake source\r\n" },
      { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
      { expect = "^PASV$" },
      { send = ("227 Entering Passive Mode (127,0,0,1,%d,%d)\r\n"):format(nobody // 256,
        nobody % 256) },
      { expect = "^NOOP$" }, { send = "200 in step\r\n" },
      { expect = "^EPSV$" }, { send = "500 no EPSV\r\n" },
      { expect = "^PASV$" }, { pasv = true }, { send = "227 Entering Passive Mode (%PASV%)\r\n" },
      { expect = "^RETR a%.txt$" }, { send = "150 here (5 bytes)\r\n" },
      { accept = true }, { data_send = "hello" }, { data_close = true },
      { send = "226 done\r\n" },
      { expect = "^NOOP$" }, { send = "200 still in step\r\n" },
    }))
    finally(function() srv:stop() end)
    local src = assert(ftplib.FTP(srv.host, { port = srv.port, timeout = 10 }))
    local dst = session(b)
    finally(function() src:close(); dst:close() end)
    local result = assert(ftplib.copy(src, "a.txt", dst, "fake.txt"))
    assert.equal("relay", result.method)
    assert.equal(5, result.bytes)
    assert.matches("^FXP refused: 425", result.reason)
    assert.equal("hello", b:read("fake.txt"))
    assert.matches("^200 still", (assert(src:noop())))
    src:close()
    assert.is_true(srv:wait())
    assert.same({}, srv:errors())
    assert_usable(dst, b)
  end)

  it("gives up on an FXP target that never answers after opts.timeout", function()
    local a = running.vsftpd
    a:write("slow.txt", "to a silent target")
    -- The target takes the data, then never sends its final reply.
    local srv = fake.start(fake.script({
      { send = "220 fake target\r\n" },
      { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
      { expect = "^PORT " }, { send = "200 PORT ok\r\n" },
      { expect = "^STOR out%.txt$" }, { send = "150 go ahead\r\n" },
      { connect = true }, { data_recv = true }, { sleep = 2 },
    }))
    finally(function() srv:stop() end)
    local src = session(a)
    local dst = assert(ftplib.FTP(srv.host, { port = srv.port, timeout = 10 }))
    finally(function() src:close(); dst:close() end)
    local started = require("socket").gettime()
    local result, _, code = ftplib.copy(src, "slow.txt", dst, "out.txt", { timeout = 1 })
    assert.is_nil(result)
    assert.equal("timeout", code)
    assert.is_true(require("socket").gettime() - started < 4)
    assert.is_true(srv:wait())
    assert.same({ "to a silent target" }, srv:received())
    -- The source's own final reply was read: it is still in step.
    assert_usable(src, a)
  end)

  it("raises for one session used as both ends, and for wrong arguments", function()
    local ftp = session(running.vsftpd)
    finally(function() ftp:close() end)
    assert.has_error(function() ftplib.copy(ftp, "a", ftp, "b") end,
      "ftplib: copy needs two sessions: one control connection cannot run two transfers")
    assert.has_error(function() ftplib.copy(ftp, "a", {}, "b") end)
    assert.has_error(function() ftplib.copy(ftp, 1, ftp, "b") end)
    local other = session(running.pyftpdlib)
    finally(function() other:close() end)
    assert.has_error(function() ftplib.copy(ftp, "a", other, "b", { fxq = false }) end,
      "ftplib: unknown option 'fxq' to 'copy'")
    assert.has_error(function()
      ftplib.copy(ftp, "a", other, "b", { fxp = false, relay = false })
    end, "ftplib: copy: opts.fxp and opts.relay are both false")
  end)
end)
