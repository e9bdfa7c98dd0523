-- Proves the test harness itself (real servers, fake server) with plain LuaSocket, so it
-- does not depend on the library under test.
local socket = require "socket"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local proc = require "spec.support.proc"

-- A minimal FTP client: just enough protocol to exercise the servers.
local Client = {}
Client.__index = Client

local function connect(host, port)
  local sock = assert(host:find(":") and socket.tcp6() or socket.tcp4())
  sock:settimeout(5)
  assert(sock:connect(host, port))
  return setmetatable({ sock = sock, host = host }, Client)
end

-- One reply, multi-line ones included: returns the code and the whole text.
function Client:reply()
  local line = assert(self.sock:receive("*l"))
  local code = assert(line:match("^(%d%d%d)"), "not a reply: " .. line)
  local text = { line }
  if line:sub(4, 4) == "-" then
    repeat
      line = assert(self.sock:receive("*l"))
      text[#text + 1] = line
    until line:match("^" .. code .. " ")
  end
  return tonumber(code), table.concat(text, "\n")
end

function Client:cmd(line)
  assert(self.sock:send(line .. "\r\n"))
  return self:reply()
end

function Client:login(user, passwd)
  local code = self:cmd("USER " .. user)
  if code == 331 then code = self:cmd("PASS " .. passwd) end
  return code
end

-- Opens a passive data connection: EPSV on IPv6, PASV on IPv4.
function Client:data_connection()
  local port
  if self.host:find(":") then
    local code, text = self:cmd("EPSV")
    assert.equal(229, code, text)
    port = tonumber(text:match("%(|||(%d+)|%)"))
  else
    local code, text = self:cmd("PASV")
    assert.equal(227, code, text)
    local p1, p2 = text:match("%d+,%d+,%d+,%d+,(%d+),(%d+)")
    port = tonumber(p1) * 256 + tonumber(p2)
  end
  local data = assert(self.host:find(":") and socket.tcp6() or socket.tcp4())
  data:settimeout(5)
  assert(data:connect(self.host, port))
  return data
end

function Client:store(name, bytes)
  assert.equal(200, (self:cmd("TYPE I")))
  local data = self:data_connection()
  local code, text = self:cmd("STOR " .. name)
  -- pyftpdlib says 125 when the data connection is already up, vsftpd always 150.
  assert.is_truthy(code == 150 or code == 125, text)
  assert(data:send(bytes))
  data:close()
  return self:reply()
end

-- Downloads `name` in active mode: the server connects to a listener of ours (EPRT).
function Client:retrieve_active(name)
  assert.equal(200, (self:cmd("TYPE I")))
  local listener = assert(self.host:find(":") and socket.tcp6() or socket.tcp4())
  assert(listener:bind(self.host, 0))
  assert(listener:listen(1))
  listener:settimeout(5)
  local _, port = listener:getsockname()
  local family = self.host:find(":") and 2 or 1
  local code, text = self:cmd(("EPRT |%d|%s|%d|"):format(family, self.host, port))
  assert.equal(200, code, text)
  code, text = self:cmd("RETR " .. name)
  assert.is_truthy(code == 150 or code == 125, text)
  local data = assert(listener:accept())
  listener:close()
  data:settimeout(5)
  local bytes = assert(data:receive("*a"))
  data:close()
  return bytes, self:reply()
end

function Client:close()
  self.sock:close()
end

local function port_is_closed(host, port)
  local sock = assert(host:find(":") and socket.tcp6() or socket.tcp4())
  sock:settimeout(2)
  local ok = sock:connect(host, port)
  sock:close()
  return not ok
end

describe("servers", function()
  it("lists the kinds installed here", function()
    local kinds = servers.kinds()
    assert.is_true(#kinds >= 1)
    for _, kind in ipairs(kinds) do assert.is_truthy(kind == "vsftpd" or kind == "pyftpdlib") end
  end)

  it("rejects unknown kinds and options it does not support yet", function()
    assert.has_error(function() servers.start("nosuchftpd") end)
    assert.has_error(function() servers.start(servers.kinds()[1], { tls = true }) end)
  end)

  for _, kind in ipairs(servers.kinds()) do
    describe(kind, function()
      local s
      after_each(function()
        if s then s:stop() end
        s = nil
      end)

      it("serves its root to the user and to anonymous, and cleans up", function()
        s = servers.start(kind)
        assert.equal(kind, s.kind)
        assert.equal("127.0.0.1", s.host)
        assert.equal("directory", lfs.attributes(s.root, "mode"))
        assert.equal(s.root .. "/a/b.txt", s:path("a/b.txt"))

        local user = connect(s.host, s.port)
        assert.equal(220, (user:reply()))
        assert.equal(230, user:login(s.user, s.passwd))
        local code, text = user:cmd("PWD")
        assert.equal(257, code, text)
        assert.equal(226, (user:store("up.bin", "hello\0world\r\n")))
        assert.equal("hello\0world\r\n", proc.read_file(s:path("up.bin")))
        user:cmd("QUIT")
        user:close()

        local anonymous = connect(s.host, s.port)
        anonymous:reply()
        assert.equal(230, anonymous:login("anonymous", "spec@example.org"))
        assert.equal(257, (anonymous:cmd("PWD")))
        anonymous:close()

        local port, dir = s.port, s.dir
        s:stop()
        s:stop() -- idempotent
        assert.is_true(port_is_closed("127.0.0.1", port))
        assert.is_false(proc.exists(dir))
      end)

      it("lets anonymous download in active mode, not upload", function()
        s = servers.start(kind)
        s:write("pub/file.txt", "public bytes")
        local client = connect(s.host, s.port)
        client:reply()
        assert.equal(230, client:login("anonymous", "guest"))
        assert.equal(250, (client:cmd("CWD pub")))
        local bytes, code = client:retrieve_active("file.txt")
        assert.equal("public bytes", bytes)
        assert.equal(226, code)
        assert.equal(550, (client:cmd("MKD nope")))
        client:close()
      end)

      it("refuses a wrong password", function()
        s = servers.start(kind)
        local client = connect(s.host, s.port)
        client:reply()
        assert.equal(530, client:login(s.user, "wrong"))
        -- vsftpd's PAM service admits the test account only, whatever the password.
        assert.equal(530, client:login("root", "x"))
        client:close()
      end)

      it("makes files for the specs that the FTP user can replace", function()
        s = servers.start(kind)
        s:write("dir/old.txt", "old")
        local client = connect(s.host, s.port)
        client:reply()
        assert.equal(230, client:login(s.user, s.passwd))
        assert.equal(250, (client:cmd("CWD dir")))
        assert.equal(226, (client:store("old.txt", "new")))
        assert.equal(250, (client:cmd("DELE old.txt")))
        client:close()
        assert.is_nil(s:read("dir/old.txt"))
      end)

      it("drops open sessions when stopped", function()
        s = servers.start(kind)
        local client = connect(s.host, s.port)
        client:reply()
        assert.equal(230, client:login(s.user, s.passwd))
        s:stop()
        client.sock:settimeout(2)
        local line, err = client.sock:receive("*l")
        assert.is_nil(line)
        assert.equal("closed", err)
        client:close()
      end)

      if servers.ipv6_available() then
        it("listens on ::1 when asked", function()
          s = servers.start(kind, { ipv6 = true })
          assert.equal("::1", s.host)
          local client = connect(s.host, s.port)
          assert.equal(220, (client:reply()))
          assert.equal(230, client:login(s.user, s.passwd))
          assert.equal(226, (client:store("v6.txt", "six")))
          assert.equal("six", s:read("v6.txt"))
          client:close()
          assert.is_true(port_is_closed("127.0.0.1", s.port))
        end)
      end
    end)
  end

  -- The odd servers: GNU inetutils ftpd under our inetd, Twisted, aioftp.
  for _, kind in ipairs(servers.odd_kinds()) do
    it(kind .. " serves its root to the user, drops its sessions when stopped, cleans up",
      function()
        local s = servers.start(kind)
        local user = connect(s.host, s.port)
        assert.equal(220, (user:reply()))
        assert.equal(230, user:login(s.user, s.passwd))
        assert.equal(257, (user:cmd("PWD")))
        assert.equal(226, (user:store("up.bin", "hello\0world\r\n")))
        assert.equal("hello\0world\r\n", proc.read_file(s:path("up.bin")))
        local port, dir = s.port, s.dir
        s:stop()
        user.sock:settimeout(2)
        local line, err = user.sock:receive("*l")
        assert.is_nil(line)
        assert.equal("closed", err)
        user:close()
        assert.is_true(port_is_closed("127.0.0.1", port))
        assert.is_false(proc.exists(dir))
      end)
  end

  if #servers.kinds() > 0 and servers.kinds()[#servers.kinds()] == "pyftpdlib" then
    it("pyftpdlib delays every reply when asked", function()
      local s = servers.start("pyftpdlib", { delay = 0.2 })
      local client = connect(s.host, s.port)
      client:reply()
      local started = socket.gettime()
      client:cmd("NOOP")
      local elapsed = socket.gettime() - started
      client:close()
      s:stop()
      assert.is_true(elapsed >= 0.19, "NOOP took " .. elapsed)
    end)
  end
end)

describe("fake server", function()
  local srv
  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  it("plays a control script and records what it got", function()
    srv = fake.start({
      { send = "220 hello\r\n" },
      { expect = "^USER anonymous$" },
      { send = "331 pw\r\n" },
      { expect = "^PASS x$" }, -- the client sends something else: recorded as an error
      { sleep = 0.2 },
      { send = "230 in\r\n" },
      { recv = true },
      { close = true },
    })
    assert.equal("127.0.0.1", srv.host)
    local client = connect(srv.host, srv.port)
    assert.equal(220, (client:reply()))
    assert.equal(331, (client:cmd("USER anonymous")))
    local started = socket.gettime()
    assert.equal(230, (client:cmd("PASS secret")))
    assert.is_true(socket.gettime() - started >= 0.15)
    assert(client.sock:send("SYST\r\n"))
    local line, err = client.sock:receive("*l")
    assert.is_nil(line)
    assert.equal("closed", err)
    client:close()

    assert.is_true(srv:wait())
    assert.same({ "USER anonymous", "PASS secret", "SYST" }, srv:commands())
    local errors = srv:errors()
    assert.equal(1, #errors)
    assert.matches("PASS secret", errors[1], 1, true)
  end)

  it("answers 502 after the script and reports an empty error list", function()
    srv = fake.start(fake.script(fake.login_steps("bob"), {
      { expect = "^NOOP$" },
      { send = "200 ok\r\n" },
    }))
    local client = connect(srv.host, srv.port)
    assert.equal(220, (client:reply()))
    assert.equal(230, client:login("bob", "pw"))
    assert.equal(211, (client:cmd("FEAT"))) -- login_steps answers the library's FEAT
    assert.equal(200, (client:cmd("NOOP")))
    assert.equal(502, (client:cmd("SYST")))
    client:close()
    assert.is_true(srv:wait())
    assert.same({}, srv:errors())
    assert.same({ "USER bob", "PASS pw", "FEAT", "NOOP", "SYST" }, srv:commands())
  end)

  it("serves a passive data connection", function()
    srv = fake.start({
      { send = "220 hi\r\n" },
      { expect = "^PASV$" },
      { pasv = true },
      { send = "227 Entering Passive Mode (%PASV%)\r\n" },
      { expect = "^RETR f$" },
      { accept = true },
      { send = "150 here\r\n" },
      { data_send = "abc" },
      { data_send_size = 100000 },
      { data_close = true },
      { send = "226 done\r\n" },
    })
    local client = connect(srv.host, srv.port)
    client:reply()
    local data = client:data_connection()
    assert.equal(150, (client:cmd("RETR f")))
    local bytes = data:receive("*a")
    data:close()
    assert.equal(226, (client:reply()))
    client:close()
    assert.equal("abc" .. fake.pattern(100000), bytes)
    assert.is_true(srv:wait())
    assert.same({}, srv:errors())
  end)

  it("connects to the client in active mode and records the upload", function()
    srv = fake.start({
      { send = "220 hi\r\n" },
      { expect = "^EPRT " },
      { send = "200 ok\r\n" },
      { expect = "^STOR f$" },
      { connect = true },
      { send = "150 go\r\n" },
      { data_recv = true },
      { send = "226 done\r\n" },
    })
    local client = connect(srv.host, srv.port)
    client:reply()
    local listener = assert(socket.bind("127.0.0.1", 0))
    listener:settimeout(5)
    local _, port = listener:getsockname()
    assert.equal(200, (client:cmd("EPRT |1|127.0.0.1|" .. port .. "|")))
    assert.equal(150, (client:cmd("STOR f")))
    local data = assert(listener:accept())
    listener:close()
    assert(data:send("uploaded\0bytes\n"))
    data:close()
    assert.equal(226, (client:reply()))
    client:close()
    assert.is_true(srv:wait())
    assert.same({}, srv:errors())
    assert.same({ "uploaded\0bytes\n" }, srv:received())
  end)

  it("listens on ::1 when asked", function()
    if not servers.ipv6_available() then return end
    srv = fake.start({ { send = "220 six\r\n" } }, { ipv6 = true })
    assert.equal("::1", srv.host)
    local client = connect(srv.host, srv.port)
    assert.equal(220, (client:reply()))
    client:close()
    assert.is_true(srv:wait())
  end)

  it("gives up by itself after its timeout, and says where it stood", function()
    srv = fake.start({ { send = "220 hi\r\n" }, { expect = "^QUIT$" } }, { timeout = 0.5 })
    local client = connect(srv.host, srv.port)
    client:reply()
    assert.is_true(srv:wait(3))
    client:close()
    local errors = srv:errors()
    assert.equal(1, #errors)
    assert.matches("timeout", errors[1])
  end)

  it("reports a script stopped before its end", function()
    srv = fake.start({ { sleep = 5 } })
    local client = connect(srv.host, srv.port)
    assert.is_truthy(proc.wait_until(function() return #srv:records() >= 3 end, 5))
    srv:stop()
    client:close()
    assert.matches("stopped before the end of the script, in step 1 sleep",
      srv:errors()[1], 1, true)
  end)

  it("rejects malformed steps in the spec, not in the server", function()
    assert.has_error(function() fake.start({ { sned = "220\r\n" } }) end)
    assert.has_error(function() fake.start({ { send = "a", expect = "b" } }) end)
    assert.has_error(function() fake.start({ { sleep = "1" } }) end)
  end)

  it("serializes scripts faithfully", function()
    local value = { "a\r\n\0\255", 1, 2.5, true, { nested = { false } }, ["key with space"] = -3 }
    local copy = load("return " .. fake.serialize(value))()
    assert.same(value, copy)
  end)
end)
