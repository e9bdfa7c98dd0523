-- Listings (nlst, dir, mlsd), aborts by the sink and the low-level interface
-- (ntransfercmd, transfercmd by hand) against the real servers of transfer_spec.lua
-- (spec/support/transfer_servers.lua: each kind, family and mode).
local servers = require "spec.support.servers"
local transfer = require "spec.support.transfer_servers"

local files, assert_usable, SMALL_SIZE = transfer.files, transfer.assert_usable, transfer.SMALL_SIZE
local sha256_file, basenames = transfer.sha256_file, transfer.basenames

local function mode_tests(get_server, kind, mode)
  local ftp, s
  -- Remote names differ per mode: both modes share one server.
  local function remote(name) return mode .. "-" .. name end
  local function lacks(what) return servers.lacks(kind, what) end

  before_each(function() s, ftp = transfer.open(get_server(), kind, mode) end)
  after_each(function() ftp = transfer.close(ftp) end)

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

transfer.each_mode(mode_tests, { pending = false }) -- transfer_spec.lua says it
