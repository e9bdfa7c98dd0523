-- Data channels and transfers, end to end: real servers (vsftpd, pyftpdlib) in passive
-- and active mode over IPv4 and IPv6, the odd servers (GNU inetutils ftpd, Twisted,
-- aioftp: servers.odd_kinds) over IPv4 with what they lack left out (servers.lacks) and
-- the 8 MiB file as their big one (they are here for their quirks, not their speed), and
-- the scripted fake server for the replies and behaviours no real server produces on
-- demand.
--
-- Byte-exact checks compare SHA-256 sums (sha256sum). The 64 MiB random file is made
-- once per run and used only for the main round trips; everything else uses small files.
local ftplib = require "ftplib"
local socket = require "socket"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local proc = require "spec.support.proc"

local scaled = require "spec.support.scale" -- FTPLIB_TEST_SCALE (make valgrind)
local BIG_SIZE = scaled(64 * 1024 * 1024)
local MEDIUM_SIZE = scaled(8 * 1024 * 1024)
local SMALL_SIZE = 300000

local MODES = { "passive", "active" }

-- Filled by the outer lazy_setup: a temporary folder and the random files in it.
local tmp
local files = {} -- files.big = { path =, sha =, content = }, files.medium, files.small

local function sha256_file(path)
  local out = proc.run("sha256sum " .. proc.shell_quote(path))
  return assert(out:match("^(%x+)"), "sha256sum gave: " .. out)
end

local function random_file(name, size)
  local path = tmp .. "/" .. name
  proc.run(("head -c %d /dev/urandom > %s"):format(size, proc.shell_quote(path)))
  local file = assert(io.open(path, "rb"))
  local content = file:read("a")
  file:close()
  assert(#content == size)
  return { path = path, sha = sha256_file(path), content = content, size = size }
end

local temp_counter = 0
local function temp_path(tag)
  temp_counter = temp_counter + 1
  return ("%s/%s.%d"):format(tmp, tag, temp_counter)
end

-- A pipe to sha256sum: write(chunk) feeds it, digest() closes it and gives the sum.
-- Hashing runs beside the transfer, in its own process.
local function hashing_pipe()
  local out = temp_path("sha")
  local pipe = assert(io.popen("sha256sum > " .. proc.shell_quote(out), "w"))
  local size = 0
  return {
    write = function(chunk)
      size = size + #chunk
      assert(pipe:write(chunk))
    end,
    digest = function()
      assert(pipe:close())
      local text = assert(proc.read_file(out))
      os.remove(out)
      return assert(text:match("^(%x+)")), size
    end,
  }
end

local function session(s, opts)
  local options = { port = s.port, user = s.user, passwd = s.passwd, timeout = 20 }
  for key, value in pairs(opts or {}) do options[key] = value end
  local ftp, err, code = ftplib.FTP(s.host, options)
  assert(ftp, ("cannot log in to %s at %s port %s: %s (%s)"):format(
    s.kind or "server", s.host, tostring(s.port), tostring(err), tostring(code)))
  return ftp
end

-- The kind of server the current real-server tests run against (set by mode_tests).
local current_kind

-- The session is in step: commands still get their own replies, and a small download
-- still gives exactly the bytes of the file.
local function assert_usable(ftp, remote, content)
  assert.is_string((assert(ftp:pwd())))
  if current_kind and servers.lacks(current_kind, "noop") then
    assert.equal(502, select(3, ftp:noop())) -- aioftp: "502 'noop' not implemented"
  else
    assert.matches("^200", (assert(ftp:noop())))
  end
  if remote then
    local parts = {}
    assert.matches("^2%d%d", (assert(ftp:retrbinary("RETR " .. remote, function(chunk)
      parts[#parts + 1] = chunk
    end))))
    assert.equal(#content, #table.concat(parts))
    assert.is_true(content == table.concat(parts), "the download after the error differs")
  end
end

local function basenames(list)
  local names = {}
  for i, name in ipairs(list) do names[i] = name:match("([^/]*)$") end
  table.sort(names)
  return names
end

-- Real servers ---------------------------------------------------------------------------

local function mode_tests(get_server, kind, mode, odd)
  local ftp, s
  -- Remote names differ per mode: both modes share one server.
  local function remote(name) return mode .. "-" .. name end
  local function lacks(what) return servers.lacks(kind, what) end
  -- The file of the main round trips.
  local function big() return odd and files.medium or files.big end
  local BIG = odd and "8 MiB" or "64 MiB"

  before_each(function()
    current_kind = kind
    s = get_server()
    ftp = session(s)
    ftp:set_pasv(mode == "passive")
  end)

  after_each(function()
    if ftp then ftp:close() end
    ftp = nil
  end)

  -- The main round trips: 64 MiB of random bytes (8 MiB for the odd servers).

  it(("uploads a %s Lua file byte for byte (storbinary)"):format(BIG), function()
    local name = remote("up-file.bin")
    local source = assert(io.open(big().path, "rb"))
    local reply = assert(ftp:storbinary("STOR " .. name, source))
    source:close()
    assert.matches("^2%d%d", reply)
    assert.equal(big().sha, sha256_file(s:path(name)))
    os.remove(s:path(name))
  end)

  it(("downloads a %s file into a Lua file (retrbinary)"):format(BIG), function()
    local path = temp_path("down")
    local sink = assert(io.open(path, "wb"))
    local reply = assert(ftp:retrbinary("RETR big.bin", sink))
    sink:close()
    assert.matches("^2%d%d", reply)
    assert.equal(big().sha, sha256_file(path))
    os.remove(path)
  end)

  it(("downloads a %s file into a function sink"):format(BIG), function()
    local hash = hashing_pipe()
    local calls = 0
    assert(ftp:retrbinary("RETR big.bin", function(chunk)
      calls = calls + 1
      assert.is_string(chunk)
      hash.write(chunk)
    end))
    local sha, size = hash.digest()
    assert.equal(big().size, size)
    assert.equal(big().sha, sha)
    assert.is_true(calls > 1)
  end)

  it(("downloads a %s file into an object with a write method"):format(BIG), function()
    local hash = hashing_pipe()
    local sink = { calls = 0 }
    function sink:write(chunk)
      self.calls = self.calls + 1
      hash.write(chunk)
      return self
    end
    assert(ftp:retrbinary("RETR big.bin", sink, 32768))
    local sha, size = hash.digest()
    assert.equal(big().size, size)
    assert.equal(big().sha, sha)
    assert.is_true(sink.calls > 1)
  end)

  it(("uploads %s from a string"):format(BIG), function()
    local name = remote("up-string.bin")
    assert.matches("^2%d%d", (assert(ftp:storbinary("STOR " .. name, big().content))))
    assert.equal(big().sha, sha256_file(s:path(name)))
    os.remove(s:path(name))
  end)

  it(("uploads %s from a function source"):format(BIG), function()
    local name = remote("up-function.bin")
    local source = assert(io.open(big().path, "rb"))
    local calls = 0
    assert(ftp:storbinary("STOR " .. name, function()
      calls = calls + 1
      return source:read(100000)
    end))
    source:close()
    assert.equal(big().sha, sha256_file(s:path(name)))
    assert.is_true(calls > 1)
    os.remove(s:path(name))
  end)

  it(("uploads %s from an object with read(n), n being the blocksize"):format(BIG), function()
    local name = remote("up-object.bin")
    local file = assert(io.open(big().path, "rb"))
    local asked = {}
    local source = {}
    function source.read(_, n)
      asked[n] = true
      return file:read(n)
    end
    assert(ftp:storbinary("STOR " .. name, source, 32768))
    file:close()
    assert.equal(big().sha, sha256_file(s:path(name)))
    assert.same({ [32768] = true }, asked)
    os.remove(s:path(name))
  end)

  -- Empty files and REST.

  it("uploads empty files from a string and from an empty Lua file", function()
    local empty_path = temp_path("empty")
    proc.write_file(empty_path, "")
    assert(ftp:storbinary("STOR " .. remote("empty-string"), ""))
    local source = assert(io.open(empty_path, "rb"))
    assert(ftp:storbinary("STOR " .. remote("empty-file"), source))
    source:close()
    assert.equal("", s:read(remote("empty-string")))
    assert.equal("", s:read(remote("empty-file")))
  end)

  it("downloads an empty file into a Lua file and into a function sink", function()
    local path = temp_path("empty-down")
    local sink = assert(io.open(path, "wb"))
    assert(ftp:retrbinary("RETR empty.bin", sink))
    sink:close()
    assert.equal("", proc.read_file(path))
    local parts = {}
    assert(ftp:retrbinary("RETR empty.bin", function(chunk) parts[#parts + 1] = chunk end))
    assert.equal("", table.concat(parts))
  end)

  if lacks("rest") then
    pending(kind .. " has no REST: the resumed transfers are left out")
  else
  it("retrbinary with rest = N gives the tail from byte N", function()
    local offset = 123457
    local parts = {}
    assert(ftp:retrbinary("RETR small.bin", function(chunk) parts[#parts + 1] = chunk end,
      nil, offset))
    local got = table.concat(parts)
    assert.equal(SMALL_SIZE - offset, #got)
    assert.is_true(files.small.content:sub(offset + 1) == got, "the tail differs")
    -- The type and the session are still right for a whole download.
    assert_usable(ftp, "small.bin", files.small.content)
  end)

  it("storbinary with rest = N writes from byte N (REST STOR resumes an upload)", function()
    local name = remote("resumed.bin")
    local content = files.small.content
    local offset = 100003
    assert(ftp:storbinary("STOR " .. name, content:sub(1, offset)))
    assert.equal(offset, #s:read(name))
    assert(ftp:storbinary("STOR " .. name, content:sub(offset + 1), nil, nil, offset))
    assert.equal(files.small.sha, sha256_file(s:path(name)))
  end)
  end

  -- Lines.

  if lacks("ascii") then
    pending(kind .. " fails TYPE A transfers of files: storlines and retrlines are left out")
  else
  it("storlines sends lines with CRLF and retrlines gives them back without it", function()
    local name = remote("lines.txt")
    local seen = {}
    assert(ftp:storlines("STOR " .. name, "alpha\nbeta\r\n\ngamma delta\nlast", function(line)
      seen[#seen + 1] = line
    end))
    assert.equal(5, #seen)
    -- On disk: CRLF (vsftpd stores the bytes as sent) or LF (pyftpdlib converts in
    -- ASCII mode); either way the same lines.
    assert.equal("alpha\nbeta\n\ngamma delta\nlast\n", (s:read(name):gsub("\r\n", "\n")))
    local lines = {}
    assert.matches("^2%d%d", (assert(ftp:retrlines("RETR " .. name, function(line)
      lines[#lines + 1] = line
    end))))
    assert.same({ "alpha", "beta", "", "gamma delta", "last" }, lines)
  end)

  it("retrlines strips LF and CRLF line ends of a server file", function()
    local name = remote("mixed.txt")
    s:write(name, "one\ntwo\nthree")
    local lines = {}
    assert(ftp:retrlines("RETR " .. name, function(line) lines[#lines + 1] = line end))
    assert.same({ "one", "two", "three" }, lines)
  end)

  it("retrlines fails with \"limit\" on a line longer than maxline, then goes on", function()
    -- maxline bounds control reply lines too (as in Python): vsftpd's 257 reply to PWD
    -- names the long temporary root, so not much less than 256.
    ftp:close()
    ftp = session(s, { maxline = 256 })
    ftp:set_pasv(mode == "passive")
    local long_name, exact_name = remote("long-line.txt"), remote("exact-line.txt")
    s:write(long_name, "short\n" .. ("x"):rep(5000) .. "\nafter\n")
    s:write(exact_name, ("y"):rep(256) .. "\n" .. ("z"):rep(256))
    local lines = {}
    local ok, err, code = ftp:retrlines("RETR " .. long_name, function(line)
      lines[#lines + 1] = line
    end)
    assert.is_nil(ok)
    assert.is_string(err)
    assert.equal("limit", code)
    assert.is_nil(lines[2], "the long line reached the callback")
    assert_usable(ftp, "small.bin", files.small.content)
    lines = {}
    assert(ftp:retrlines("RETR " .. exact_name, function(line) lines[#lines + 1] = line end))
    assert.same({ ("y"):rep(256), ("z"):rep(256) }, lines)
  end)
  end

  -- Listings.

  if lacks("nlst") then
    it("nlst on a server without a working NLST answers, and the session goes on", function()
      local names, err, code = ftp:nlst("")
      assert.is_true(type(names) == "table" or math.type(code) == "integer", tostring(err))
      assert_usable(ftp)
    end)
  else
  it("nlst lists the files of a directory, and an empty directory as {}", function()
    local dir = remote("listing")
    s:write(dir .. "/a.txt", "a")
    s:write(dir .. "/b c.txt", "bc")
    s:mkdir(dir .. "/sub")
    s:mkdir(remote("empty-dir"))
    assert.same({ "a.txt", "b c.txt", "sub" }, basenames(assert(ftp:nlst(dir))))
    assert.same({}, assert(ftp:nlst(remote("empty-dir"))))
    assert(ftp:cwd(dir))
    assert.same({ "a.txt", "b c.txt", "sub" }, basenames(assert(ftp:nlst())))
  end)
  end

  it("dir passes each LIST line to the callback", function()
    local dir = remote("dir-listing")
    s:write(dir .. "/first.txt", "1")
    s:write(dir .. "/second file.txt", "22")
    local lines = {}
    assert.matches("^2%d%d", (assert(ftp:dir(dir, function(line)
      if not line:match("^total %d+$") then lines[#lines + 1] = line end -- GNU inetutils ftpd
    end))))
    assert.equal(2, #lines)
    table.sort(lines)
    assert.matches("first%.txt$", lines[1])
    assert.matches("second file%.txt$", lines[2])
    for _, line in ipairs(lines) do
      assert.is_nil(line:find("[\r\n]"))
    end
  end)

  if lacks("mlsd") then
    it("mlsd reports the server's refusal as nil, \"50x ...\", 50x and the session goes on",
      function()
        local ok, err, code = ftp:mlsd("")
        assert.is_nil(ok)
        assert.is_true(code == 500 or code == 502, tostring(code))
        assert.matches("^50[02]", err)
        assert_usable(ftp)
      end)
  else
    it("mlsd gives names with spaces and ';', and lower-case facts", function()
      local dir = remote("mlsd")
      s:write(dir .. "/a b;c.txt", "12345")
      s:mkdir(dir .. "/sub dir")
      local entries = {}
      for name, facts in assert(ftp:mlsd(dir, { "type", "size", "modify" })) do
        entries[name] = facts
        for key in pairs(facts) do
          assert.equal(key:lower(), key)
        end
      end
      assert.is_table(entries["a b;c.txt"])
      assert.equal("file", entries["a b;c.txt"].type)
      assert.equal("5", entries["a b;c.txt"].size)
      assert.matches("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d", entries["a b;c.txt"].modify)
      assert.equal("dir", entries["sub dir"].type)
    end)
  end

  -- Aborts.

  it("stops a download when the sink returns false, and the session goes on", function()
    local calls = 0
    local called, r1, r2, r3 = pcall(ftp.retrbinary, ftp, "RETR big.bin", function()
      calls = calls + 1
      if calls == 2 then return false end
    end)
    assert.is_true(called, tostring(r1))
    assert.is_nil(r1)
    assert.equal("aborted", r3)
    assert.matches("^transfer stopped by the sink", r2)
    assert.equal(2, calls)
    assert_usable(ftp, "small.bin", files.small.content)
  end)

  it("re-raises a sink's error after aborting, and the session goes on", function()
    local boom = setmetatable({}, { __tostring = function() return "sink exploded" end })
    local calls = 0
    local ok, err = pcall(ftp.retrbinary, ftp, "RETR big.bin", function()
      calls = calls + 1
      error(boom)
    end)
    assert.is_false(ok)
    assert.equal(boom, err)
    assert.equal(1, calls)
    assert_usable(ftp, "small.bin", files.small.content)
  end)

  it("reports a sink object's write failure as nil, err, \"io\" and goes on", function()
    local sink = {}
    function sink.write() return nil, "disk full" end
    local ok, err, code = ftp:retrbinary("RETR big.bin", sink)
    assert.is_nil(ok)
    assert.matches("disk full", err)
    assert.equal("io", code)
    assert_usable(ftp, "small.bin", files.small.content)
  end)

  -- The low-level interface.

  it("ntransfercmd returns a data object and the size from the 150 reply", function()
    assert(ftp:voidcmd("TYPE I"))
    local data, size = ftp:ntransfercmd("RETR small.bin")
    assert.is_not_nil(data, size)
    assert.equal("ftplib.Data", (tostring(data):match("^ftplib%.Data")))
    if kind == "vsftpd" then
      assert.equal(SMALL_SIZE, size) -- "150 Opening BINARY mode ... (300000 bytes)."
    else
      assert.is_true(size == nil or size == SMALL_SIZE) -- pyftpdlib's 150 has no size
    end
    local parts = {}
    repeat
      local chunk = assert(data:recv(65536))
      parts[#parts + 1] = chunk
    until chunk == ""
    data:close()
    assert.matches("^226", (assert(ftp:voidresp())))
    assert.is_true(files.small.content == table.concat(parts))
  end)

  it("transfercmd + data:recv + data:close() + voidresp() by hand", function()
    assert(ftp:voidcmd("TYPE I"))
    local data = assert(ftp:transfercmd("RETR small.bin"))
    assert.has_error(function() data:settimeout(0) end,
      "ftplib: timeout must be a positive number of seconds")
    data:settimeout(30)
    local parts = {}
    repeat
      local chunk = assert(data:recv(8192))
      assert.is_true(#chunk <= 8192)
      parts[#parts + 1] = chunk
    until chunk == ""
    data:close()
    assert.matches("^2%d%d", (assert(ftp:voidresp())))
    assert.is_true(files.small.content == table.concat(parts))

    local name = remote("by-hand.bin")
    data = assert(ftp:transfercmd("STOR " .. name))
    assert.equal(SMALL_SIZE, data:send(files.small.content))
    data:close()
    assert.matches("^2%d%d", (assert(ftp:voidresp())))
    assert.equal(files.small.sha, sha256_file(s:path(name)))
  end)

  it("a missing file is nil, \"550 ...\", 550 and the session keeps working", function()
    local called = false
    local ok, err, code = ftp:retrbinary("RETR no-such-file.bin", function() called = true end)
    assert.is_nil(ok)
    assert.equal(550, code)
    assert.matches("^550 ", err)
    assert.is_false(called)
    assert_usable(ftp, "small.bin", files.small.content)
  end)
end

local function server_tests(kind, family, odd)
  describe(kind .. " over " .. family, function()
    local s
    local function get_server()
      return assert(s, "the server did not start")
    end

    lazy_setup(function()
      s = servers.start(kind, { ipv6 = family == "IPv6" })
      s:write("big.bin", (odd and files.medium or files.big).content)
      s:write("small.bin", files.small.content)
      s:write("empty.bin", "")
    end)

    lazy_teardown(function()
      if s then s:stop() end
      s = nil
    end)

    for _, mode in ipairs(MODES) do
      if mode == "active" and servers.lacks(kind, "active") then
        pending(kind .. " has no active mode (PORT/EPRT)")
      else
        describe(mode .. " mode", function()
          mode_tests(get_server, kind, mode, odd)
        end)
      end
    end
  end)
end

-- The fake server ------------------------------------------------------------------------

-- Runs body(ftp, srv) against a fake server playing `steps` after the login, then
-- checks that the script ran as written.
local function with_fake(steps, opts, body)
  local srv = fake.start(fake.script(fake.login_steps(), steps))
  finally(function() srv:stop() end)
  local options = { port = srv.port, user = "anonymous", passwd = "guest", timeout = 10 }
  for key, value in pairs(opts or {}) do options[key] = value end
  local ftp = assert(ftplib.FTP(srv.host, options))
  body(ftp, srv)
  ftp:close()
  assert.is_true(srv:wait(5), "the fake server did not finish")
  assert.same({}, srv:errors())
  return srv
end

local function epsv_steps()
  return {
    { expect = "^EPSV$" },
    { pasv = true },
    { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" },
  }
end

local function collect()
  local parts = {}
  return parts, function(chunk) parts[#parts + 1] = chunk end
end

-- A client of our own on 127.0.0.2: it connects to the port of a PORT command seen in
-- the debug output, before the command is even sent (the library listens first).
local function stranger_watcher()
  local stranger = {}
  function stranger.debugfunc(line)
    local h1, h2, h3, h4, p1, p2 = line:match("PORT (%d+),(%d+),(%d+),(%d+),(%d+),(%d+)")
    if not h1 or stranger.sock then return end
    local sock = assert(socket.tcp4())
    assert(sock:bind("127.0.0.2", 0))
    sock:settimeout(5)
    stranger.sock = sock
    stranger.connected, stranger.connect_err = sock:connect(table.concat({ h1, h2, h3, h4 }, "."),
      tonumber(p1) * 256 + tonumber(p2))
    if stranger.connected then sock:send("NOT THE SERVER'S DATA\r\n") end
  end
  return stranger
end

describe("transfers", function()
  lazy_setup(function()
    tmp = proc.tempdir("transfer-spec")
    files.big = random_file("big.bin", BIG_SIZE)
    files.medium = random_file("medium.bin", MEDIUM_SIZE)
    files.small = random_file("small.bin", SMALL_SIZE)
  end)

  lazy_teardown(function()
    files = {}
    if tmp then proc.rmtree(tmp) end
    tmp = nil
  end)

  local kinds = servers.kinds()
  local families = { "IPv4" }
  if servers.ipv6_available() then
    families[2] = "IPv6"
  else
    pending("IPv6 transfers: this machine cannot listen on ::1")
  end
  if #kinds == 0 then
    pending("real-server transfers: neither vsftpd nor pyftpdlib is installed")
  end
  for _, kind in ipairs(kinds) do
    for _, family in ipairs(families) do
      server_tests(kind, family)
    end
  end
  for _, kind in ipairs(servers.odd_kinds()) do
    server_tests(kind, "IPv4", true) -- servers.lacks(kind, "ipv6") for all of them
  end

  describe("relay between two sessions (transfercmd, recv/send)", function()
    local from_kind, to_kind = kinds[1], kinds[2] or kinds[1]
    local src_server, dst_server

    lazy_setup(function()
      src_server = servers.start(from_kind)
      dst_server = servers.start(to_kind)
    end)

    lazy_teardown(function()
      if src_server then src_server:stop() end
      if dst_server then dst_server:stop() end
    end)

    local function relay(from, to)
      from:write("relay-in.bin", files.medium.content)
      local src, dst = session(from), session(to)
      finally(function()
        src:close()
        dst:close()
      end)
      -- As Python scripts do: binary type first, transfercmd does not set it.
      assert(src:voidcmd("TYPE I"))
      assert(dst:voidcmd("TYPE I"))
      local src_data = assert(src:transfercmd("RETR relay-in.bin"))
      local dst_data = assert(dst:transfercmd("STOR relay-out.bin"))
      local chunk
      repeat
        chunk = assert(src_data:recv(65536))
        if #chunk > 0 then assert(dst_data:send(chunk)) end
      until chunk == ""
      src_data:close()
      dst_data:close()
      assert.matches("^2%d%d", (assert(src:voidresp())))
      assert.matches("^2%d%d", (assert(dst:voidresp())))
      assert.equal(files.medium.sha, sha256_file(to:path("relay-out.bin")))
    end

    if #kinds == 0 then return end

    it(("relays 8 MiB from %s to %s byte for byte"):format(from_kind, to_kind), function()
      relay(src_server, dst_server)
    end)

    it(("relays 8 MiB from %s to %s byte for byte"):format(to_kind, from_kind), function()
      relay(dst_server, src_server)
    end)
  end)

  describe("against a scripted server", function()
    it("abort() with no transfer under way sends ABOR and answers its reply", function()
      with_fake({
        { expect = "ABOR$" }, -- after Telnet IP and Synch
        { send = "225 No transfer to ABOR.\r\n" },
        { expect = "^NOOP$" },
        { send = "200 NOOP ok.\r\n" },
      }, nil, function(ftp)
        assert.equal("225 No transfer to ABOR.", ftp:abort())
        assert.equal("200 NOOP ok.", ftp:sendcmd("NOOP"))
      end)
    end)

    it("a 150 then a 226 is a success", function()
      with_fake(fake.script(
        { { expect = "^TYPE I$" }, { send = "200 Type set to I\r\n" } },
        epsv_steps(),
        {
          { expect = "^RETR f$" },
          { send = "150 Opening BINARY mode data connection for f (11 bytes).\r\n" },
          { accept = true },
          { data_send = "hello world" },
          { data_close = true },
          { send = "226 Transfer complete.\r\n" },
        }), nil, function(ftp)
        local parts, sink = collect()
        local reply, code = ftp:retrbinary("RETR f", sink)
        assert.equal("226 Transfer complete.", reply)
        assert.equal(226, code)
        assert.equal("hello world", table.concat(parts))
      end)
    end)

    it("ntransfercmd gives the size of a \"150 ... (N bytes)\" reply", function()
      with_fake(fake.script(epsv_steps(), {
        { expect = "^RETR f$" },
        { send = "150 Opening BINARY mode data connection for f (1234567 bytes).\r\n" },
        { accept = true },
        { data_send = "abc" },
        { data_close = true },
        { send = "226 Transfer complete.\r\n" },
      }), nil, function(ftp)
        local data, size = ftp:ntransfercmd("RETR f")
        assert.is_not_nil(data, size)
        assert.equal(1234567, size)
        local parts = {}
        repeat
          local chunk = assert(data:recv(100))
          parts[#parts + 1] = chunk
        until chunk == ""
        data:close()
        assert.equal("abc", table.concat(parts))
        assert.equal("226 Transfer complete.", (ftp:voidresp()))
      end)
    end)

    it("a data connection closed early with a 426 is error 426", function()
      with_fake(fake.script(
        { { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
        epsv_steps(),
        {
          { expect = "^RETR f$" },
          { send = "150 Opening BINARY mode data connection for f (1000000 bytes).\r\n" },
          { accept = true },
          { data_send_size = 5000 },
          { data_close = true },
          { send = "426 Connection closed; transfer aborted.\r\n" },
          { expect = "^NOOP$" }, -- the library's own, to be sure it is in step
          { send = "200 in step\r\n" },
          { expect = "^NOOP$" },
          { send = "200 NOOP ok\r\n" },
        }), nil, function(ftp)
        local parts, sink = collect()
        local ok, err, code = ftp:retrbinary("RETR f", sink)
        assert.is_nil(ok)
        assert.equal("426 Connection closed; transfer aborted.", err)
        assert.equal(426, code)
        assert.is_true(fake.pattern(5000) == table.concat(parts))
        assert.equal("200 NOOP ok", (ftp:noop()))
      end)
    end)

    it("a 226 with no 1xx before it is an error, and the session goes on", function()
      with_fake(fake.script(
        { { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
        epsv_steps(),
        {
          { expect = "^RETR f$" },
          { send = "226 Transfer complete.\r\n" },
          { expect = "^NOOP$" }, -- the library's own, to be sure it is in step
          { send = "200 in step\r\n" },
          { expect = "^NOOP$" },
          { send = "200 NOOP ok\r\n" },
        }), nil, function(ftp)
        local called = false
        local ok, err, code = ftp:retrbinary("RETR f", function() called = true end)
        assert.is_nil(ok)
        assert.matches("226 Transfer complete", err)
        assert.equal("proto", code)
        assert.is_false(called)
        assert.equal("200 NOOP ok", (ftp:noop()))
      end)
    end)

    it("after EPSV is refused, PASV is used, and directly for the next transfers", function()
      local function pasv_retr(name, content)
        return {
          { expect = "^PASV$" },
          { pasv = true },
          { send = "227 Entering Passive Mode (%PASV%).\r\n" },
          { expect = "^RETR " .. name .. "$" },
          { send = "150 Here it comes\r\n" },
          { accept = true },
          { data_send = content },
          { data_close = true },
          { send = "226 Done\r\n" },
        }
      end
      local srv = with_fake(fake.script(
        { { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
        { { expect = "^EPSV$" }, { send = "500 EPSV not understood\r\n" } },
        pasv_retr("one", "first"),
        pasv_retr("two", "second")), nil, function(ftp)
        local parts, sink = collect()
        assert(ftp:retrbinary("RETR one", sink))
        assert(ftp:retrbinary("RETR two", sink))
        assert.equal("firstsecond", table.concat(parts))
      end)
      local data_commands = {}
      for _, line in ipairs(srv:commands()) do
        if line:match("^EPSV") or line:match("^PASV") or line:match("^RETR") then
          data_commands[#data_commands + 1] = line
        end
      end
      assert.same({ "EPSV", "PASV", "RETR one", "PASV", "RETR two" }, data_commands)
    end)

    local function pasv_script(listener, reply, content)
      return fake.script(
        { { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
        {
          { expect = "^PASV$" },
          { pasv = listener },
          { send = reply },
          { expect = "^RETR f$" },
          { send = "150 Here it comes\r\n" },
          { accept = true },
          { data_send = content },
          { data_close = true },
          { send = "226 Done\r\n" },
        })
    end

    it("ignores the address of a PASV reply by default: the data goes to the control peer",
      function()
        -- The listener is on 127.0.0.1; the reply names 127.0.0.2, where nothing listens.
        local steps = pasv_script(true, "227 Entering Passive Mode (127,0,0,2,%P1%,%P2%).\r\n",
          "peer")
        with_fake(steps, { use_epsv = false }, function(ftp)
          local parts, sink = collect()
          assert(ftp:retrbinary("RETR f", sink))
          assert.equal("peer", table.concat(parts))
        end)
      end)

    it("uses the address of a PASV reply with trust_server_pasv_ipv4_address = true",
      function()
        -- The listener is on 127.0.0.2 only: reachable only through the reply's address.
        local steps = pasv_script("127.0.0.2", "227 Entering Passive Mode (%PASV%).\r\n", "trusted")
        with_fake(steps, { use_epsv = false, trust_server_pasv_ipv4_address = true }, function(ftp)
          local parts, sink = collect()
          assert(ftp:retrbinary("RETR f", sink))
          assert.equal("trusted", table.concat(parts))
        end)
      end)

    for _, bad in ipairs({ "127,0,0,1,256,1", "127,0,0,1,4,256", "127,0,0,300,4,1",
      "127,0,0,1,-1,5", "127,0,0,1,4" }) do
      it("a PASV reply with numbers out of range (" .. bad .. ") is \"proto\"", function()
        with_fake(fake.script(
          { { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
          {
            { expect = "^PASV$" },
            { send = "227 Entering Passive Mode (" .. bad .. ").\r\n" },
            { expect = "^NOOP$" },
            { send = "200 NOOP ok\r\n" },
          }), { use_epsv = false }, function(ftp)
          local called = false
          local ok, err, code = ftp:retrbinary("RETR f", function() called = true end)
          assert.is_nil(ok)
          assert.is_string(err)
          assert.equal("proto", code)
          assert.is_false(called)
          assert.equal("200 NOOP ok", (ftp:noop()))
        end)
      end)
    end

    it("in active mode, refuses a data connection from another address (127.0.0.2)",
      function()
        local stranger = stranger_watcher()
        finally(function() if stranger.sock then stranger.sock:close() end end)
        with_fake(fake.script(
          { { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
          {
            { expect = "^PORT 127,0,0,1,%d+,%d+$" },
            { send = "200 PORT command successful\r\n" },
            { expect = "^RETR f$" },
            { send = "150 Opening BINARY mode data connection\r\n" },
            { connect = true },
            { data_send = "the server's data" },
            { data_close = true },
            { send = "226 Transfer complete\r\n" },
          }), { passive = false, debuglevel = 1, debugfunc = stranger.debugfunc }, function(ftp)
          local parts, sink = collect()
          assert.matches("^226", (assert(ftp:retrbinary("RETR f", sink))))
          assert.equal("the server's data", table.concat(parts))
        end)
        assert.is_not_nil(stranger.sock, "no PORT command went through the debug output")
        assert.is_truthy(stranger.connected, "the stranger could not reach the listener: "
          .. tostring(stranger.connect_err))
        -- The library closed it without a byte; it did not serve it or wait on it.
        local data, err, partial = stranger.sock:receive("*a")
        assert.equal("", data or partial)
        assert.is_not.equal("timeout", err)
      end)

    it("storlines sends CRLF line ends on the wire", function()
      local srv = with_fake(fake.script(
        { { expect = "^TYPE A$" }, { send = "200 ok\r\n" } },
        epsv_steps(),
        {
          { expect = "^STOR f$" },
          { send = "150 Go ahead\r\n" },
          { accept = true },
          { data_recv = true },
          { send = "226 Got it\r\n" },
        }), nil, function(ftp)
        assert.equal("226 Got it", (ftp:storlines("STOR f", "a\nb\r\n\nc")))
      end)
      assert.same({ "a\r\nb\r\n\r\nc\r\n" }, srv:received())
    end)

    it("retrlines strips CRLF and LF line ends from the wire", function()
      with_fake(fake.script(
        { { expect = "^TYPE A$" }, { send = "200 ok\r\n" } },
        epsv_steps(),
        {
          { expect = "^RETR f$" },
          { send = "150 Go ahead\r\n" },
          { accept = true },
          { data_send = "one\r\ntwo\n\r\nthree" },
          { data_close = true },
          { send = "226 Done\r\n" },
        }), nil, function(ftp)
        local lines = {}
        assert(ftp:retrlines("RETR f", function(line) lines[#lines + 1] = line end))
        assert.same({ "one", "two", "", "three" }, lines)
      end)
    end)

    it("mlsd: names with spaces and ';', facts lower-case, values with '='", function()
      with_fake(fake.script(
        { { expect = "^TYPE A$" }, { send = "200 ok\r\n" } },
        epsv_steps(),
        {
          { expect = "^MLSD d$" },
          { send = "150 Listing\r\n" },
          { accept = true },
          { data_send = "Type=file;Size=5;UNIX.mode=0644;X.Note=a=b=c;"
            .. " name with spaces;semi;.txt\r\n"
            .. "type=dir;Modify=20240102030405; sub dir\r\n"
            .. "Type=cdir; .\r\n" },
          { data_close = true },
          { send = "226 Done\r\n" },
        }), nil, function(ftp)
        local entries = {}
        for name, facts in assert(ftp:mlsd("d")) do entries[name] = facts end
        assert.same({
          ["name with spaces;semi;.txt"] = { type = "file", size = "5", ["unix.mode"] = "0644",
            ["x.note"] = "a=b=c" },
          ["sub dir"] = { type = "dir", modify = "20240102030405" },
          ["."] = { type = "cdir" },
        }, entries)
      end)
    end)
  end)
end)
