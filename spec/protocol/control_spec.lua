-- The control connection and single-reply commands against real servers.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local lfs = require "lfs"

-- The user's home as the server names it: "/" where the server chroots the
-- user (pyftpdlib), the real path where it does not (vsftpd here).
local function learn_home(s)
  local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd }))
  s.home = assert(ftp:pwd())
  ftp:close()
end

local function connect(s, extra)
  local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 10 }
  for k, v in pairs(extra or {}) do
    opts[k] = v
  end
  return assert(ftplib.FTP(s.host, opts))
end

for _, kind in ipairs(servers.kinds()) do
  describe("control connection to " .. kind, function()
    local s

    setup(function()
      s = servers.start(kind)
      learn_home(s)
    end)

    teardown(function()
      s:stop()
    end)

    it("connects, keeps the welcome and logs in with a password", function()
      local ftp = ftplib.FTP()
      local welcome = assert(ftp:connect(s.host, s.port))
      assert.matches("^220", welcome)
      assert.equal(welcome, ftp:getwelcome())
      local reply, code = ftp:login(s.user, s.passwd)
      assert.matches("^230", reply)
      assert.equal(230, code)
      ftp:close()
    end)

    it("logs in as anonymous when no user is given", function()
      local ftp = assert(ftplib.FTP(s.host, { port = s.port }))
      assert.matches("^230", (assert(ftp:login())))
      assert.equal("string", type(assert(ftp:pwd())))
      ftp:close()
    end)

    it("takes the table form of the constructor and logs in from it", function()
      local ftp = assert(ftplib.FTP { host = s.host, port = s.port, user = s.user,
                                      passwd = s.passwd })
      assert.equal(s.home, ftp:pwd())
      ftp:close()
    end)

    it("reports a wrong password as nil, the 530 reply and its code", function()
      local ftp, err, code = ftplib.FTP(s.host, { port = s.port, user = s.user,
                                                  passwd = "wrong" })
      assert.is_nil(ftp)
      assert.matches("^530", err)
      assert.equal(530, code)
    end)

    it("gives a clean assert message for a failed command", function()
      local ftp = connect(s)
      local ok, err = pcall(function()
        assert(ftp:cwd("no-such-dir"))
      end)
      assert.is_false(ok)
      assert.matches("550", err)
      ftp:close()
    end)

    it("makes, enters, leaves and removes directories, quotes in names included", function()
      local ftp = connect(s)
      local name = 'say "hi" dir'
      local inside = s.home:gsub("/$", "") .. "/" .. name
      assert.equal(inside, ftp:mkd(name))
      assert.truthy(ftp:cwd(name))
      assert.equal(inside, ftp:pwd())
      assert.truthy(ftp:cwd(".."))
      assert.equal(s.home, ftp:pwd())
      assert.truthy(ftp:rmd(name))
      assert.is_nil(lfs.attributes(s:path(name)))
      ftp:close()
    end)

    it("deletes and renames files; RNFR of a missing file stops before RNTO", function()
      s:write("old.txt", "content")
      local ftp = connect(s)
      assert.truthy(ftp:rename("old.txt", "new.txt"))
      assert.equal("content", s:read("new.txt"))
      local ok, err, code = ftp:rename("missing.txt", "x.txt")
      assert.is_nil(ok)
      assert.equal(550, code)
      assert.matches("^550", err)
      assert.truthy(ftp:delete("new.txt"))
      assert.is_nil(lfs.attributes(s:path("new.txt")))
      local _, _, dcode = ftp:delete("new.txt")
      assert.equal(550, dcode)
      ftp:close()
    end)

    it("gives sizes as integers (in binary type) and times as UTC epoch seconds", function()
      s:write("sized.bin", string.rep("x", 12345))
      local mtime = 1700000000 -- 2023-11-14 22:13:20 UTC
      lfs.touch(s:path("sized.bin"), mtime, mtime)
      local ftp = connect(s)
      local size = ftp:size("sized.bin")
      assert.equal(12345, size)
      assert.equal("integer", math.type(size))
      assert.equal(mtime, ftp:mdtm("sized.bin"))
      local _, _, code = ftp:size("missing.bin")
      assert.equal(550, code)
      ftp:close()
    end)

    it("lists features in a table", function()
      local ftp = connect(s)
      local features = assert(ftp:feat())
      assert.truthy(features.SIZE)
      assert.truthy(features.MDTM)
      assert.truthy(features.EPSV)
      ftp:close()
    end)

    it("sends raw commands: sendcmd, voidcmd, putcmd with getresp and voidresp", function()
      local ftp = connect(s)
      local reply, code = ftp:sendcmd("NOOP")
      assert.equal(200, code)
      assert.matches("^200", reply)
      assert.truthy(ftp:voidcmd("TYPE I"))
      assert.truthy(ftp:putcmd("NOOP"))
      assert.matches("^200", (ftp:getresp()))
      assert.truthy(ftp:putcmd("NOOP"))
      assert.matches("^200", (ftp:voidresp()))
      local nothing, err, ecode = ftp:sendcmd("XYZZY")
      assert.is_nil(nothing)
      assert.matches("^50%d", err)
      assert.equal(5, ecode // 100)
      assert.matches("^200", (ftp:noop())) -- still in step
      ftp:close()
    end)

    it("masks PASS in debug output, in any letter case", function()
      local lines = {}
      local ftp = assert(ftplib.FTP(s.host, { port = s.port, debuglevel = 1,
        debugfunc = function(line) lines[#lines + 1] = line end }))
      assert.truthy(ftp:login(s.user, s.passwd))
      ftp:sendcmd("pass " .. s.passwd)
      ftp:sendcmd("Acct secret-account")
      local all = table.concat(lines, "\n")
      assert.not_matches(s.passwd, all, 1, true)
      assert.not_matches("secret-account", all, 1, true)
      assert.matches("*cmd* 'USER " .. s.user .. "'", all, 1, true)
      assert.matches("*cmd* 'PASS ****'", all, 1, true)
      assert.matches("*cmd* 'pass ****'", all, 1, true)
      assert.matches("*resp* '230", all, 1, true)
      assert.not_matches("*put*", all, 1, true)
      ftp:close()
    end)

    it("shows each line sent and received at debug level 2, as Python's ftplib", function()
      local lines = {}
      local ftp = assert(ftplib.FTP(s.host, { port = s.port, debuglevel = 2,
        debugfunc = function(line) lines[#lines + 1] = line end }))
      assert.truthy(ftp:login(s.user, s.passwd))
      local all = table.concat(lines, "\n")
      assert.not_matches(s.passwd, all, 1, true)
      assert.matches("*cmd* 'USER " .. s.user .. "'\n*put* 'USER " .. s.user .. "\\r\\n'",
        all, 1, true)
      assert.matches("*put* 'PASS ****\\r\\n'", all, 1, true)
      assert.matches("*get* '230", all, 1, true)
      ftp:close()
    end)

    it("quits, after which the object refuses to be used", function()
      local ftp = connect(s)
      assert.matches("^221", (ftp:quit()))
      assert.has_error(function() ftp:pwd() end)
      ftp:close() -- closing twice is fine
    end)

    it("closes at the end of a <close> scope after saying QUIT", function()
      local ftp
      do
        local f <close> = connect(s)
        ftp = f
        assert.equal(s.home, f:pwd())
      end
      assert.matches("closed", tostring(ftp))
      assert.has_error(function() ftp:noop() end)
    end)

    it("shows the peer in tostring", function()
      local ftp = connect(s)
      assert.matches("ftplib.FTP (127.0.0.1:" .. s.port .. ")", tostring(ftp), 1, true)
      ftp:close()
    end)

    it("connects from a given source address", function()
      local ftp = connect(s, { source_address = "127.0.0.1" })
      assert.equal("127.0.0.1", (ftp:_local()))
      ftp:close()
    end)
  end)

  describe("IPv6 control connection to " .. kind, function()
    local s

    setup(function()
      s = servers.start(kind, { ipv6 = true })
      learn_home(s)
    end)

    teardown(function()
      s:stop()
    end)

    it("connects to ::1 and logs in", function()
      local ftp = connect(s)
      assert.equal("::1", s.host)
      assert.equal(s.home, ftp:pwd())
      assert.matches("[::1]:" .. s.port, tostring(ftp), 1, true)
      ftp:close()
    end)

    -- EPSV gives a port only: the data connection goes to the control
    -- connection's IPv6 peer at that port (core's _peer_at), every time.
    it("downloads over EPSV to the IPv6 peer, pipelined and not", function()
      s:write("six.bin", ("v6 data "):rep(1000))
      local ftp = connect(s)
      for _ = 1, 3 do -- the first without pipelining, the next two with it
        local chunks = {}
        assert(ftp:retrbinary("RETR six.bin", function(c) chunks[#chunks + 1] = c end))
        assert.equal(("v6 data "):rep(1000), table.concat(chunks))
      end
      assert.equal("::1", ftp:_server_host())
      ftp:close()
    end)
  end)
end

describe("connection failures", function()
  it("reports a refused connection as 'refused'", function()
    local port = require("spec.support.proc").free_port("127.0.0.1")
    local ftp, err, code = ftplib.FTP("127.0.0.1", { port = port, timeout = 5 })
    assert.is_nil(ftp)
    assert.equal("refused", code)
    assert.matches("cannot connect", err)
  end)

  it("rejects bad arguments as programming errors", function()
    assert.has_error(function() ftplib.FTP(42) end)
    assert.has_error(function() ftplib.FTP("127.0.0.1", { prot = 21 }) end)
    assert.has_error(function() ftplib.FTP("127.0.0.1", { timeout = "x" }) end)
    assert.has_error(function() ftplib.FTP():pwd() end)
  end)

  it("refuses a port outside 1-65535 instead of letting it wrap around", function()
    -- 70000 would reach port 4464: a listener there must see no connection.
    local listener = assert(require("socket").bind("127.0.0.1", 70000 - 65536))
    listener:settimeout(0)
    for _, port in ipairs { 70000, "70000", 0, -1, 21.5 } do
      assert.has_error(function() ftplib.FTP("127.0.0.1", { port = port, timeout = 2 }) end,
        "ftplib: port must be a whole number from 1 to 65535, got " .. tostring(port))
      assert.has_error(function() ftplib.FTP():connect("127.0.0.1", port) end)
    end
    assert.is_nil(listener:accept())
    listener:close()
    -- A service name is the resolver's to answer.
    local ftp, err = ftplib.FTP("127.0.0.1", { port = "no-such-service", timeout = 2 })
    assert.is_nil(ftp)
    assert.matches("cannot resolve", err)
  end)
end)
