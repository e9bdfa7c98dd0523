-- Data channels and transfers, end to end, against real servers (vsftpd, pyftpdlib) in
-- passive and active mode over IPv4 and IPv6, and the odd servers (GNU inetutils ftpd,
-- Twisted, aioftp: servers.odd_kinds) over IPv4 with what they lack left out
-- (servers.lacks) and the 8 MiB file as their big one (they are here for their quirks,
-- not their speed): the main round trips, empty files, REST, lines, and a relay between
-- two sessions. The servers and the checks are spec/support/transfer_servers.lua's;
-- listings, aborts and the low-level interface are in transfer_listings_spec.lua, the
-- scripted fake server's cases in transfer_scripted_spec.lua.
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local transfer = require "spec.support.transfer_servers"

local files, session, assert_usable = transfer.files, transfer.session, transfer.assert_usable
local SMALL_SIZE = transfer.SMALL_SIZE
local sha256_file, temp_path, hashing_pipe =
  transfer.sha256_file, transfer.temp_path, transfer.hashing_pipe

-- Real servers ---------------------------------------------------------------------------

local function mode_tests(get_server, kind, mode, odd)
  local ftp, s
  -- Remote names differ per mode: both modes share one server.
  local function remote(name) return mode .. "-" .. name end
  local function lacks(what) return servers.lacks(kind, what) end
  -- The file of the main round trips.
  local function big() return odd and files.medium or files.big end
  local BIG = odd and "8 MiB" or "64 MiB"

  before_each(function() s, ftp = transfer.open(get_server(), kind, mode) end)
  after_each(function() ftp = transfer.close(ftp) end)

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
end

-- A relay between two real servers, inside "transfers" as it always was.
local function relay_tests(kinds)
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
end

transfer.each_mode(mode_tests, { more = relay_tests, pending = true })
