-- The receive buffer of a data connection (src/data.c, ftp_data_recv): blocks into a
-- function sink as large as the blocksize allows, TLS records gathered into one block,
-- bytes unchanged, bytes read ahead given out in order, no memory kept per data
-- connection, and a TLS stream cut without close_notify still a "tls" failure when
-- records were gathered before the cut.
local ftplib = require "ftplib"
local core = require "ftplib.core"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local certs = require "spec.support.certs"
local proc = require "spec.support.proc"
local scaled = require "spec.support.scale" -- FTPLIB_TEST_SCALE (make valgrind)
local lfs = require "lfs"
local socket = require "socket"

local SIZE = scaled(8 * 1024 * 1024 + 12345) -- not a whole number of blocks
local TLS_RECORD = 16384 -- the largest TLS record's payload
local ROOT = lfs.currentdir()
-- The interpreter itself, not a wrapper that may preload a sanitizer runtime.
local LUA = io.popen("command -v lua5.4"):read("l")
local REAL_LUA = (LUA and LUA:find("asan%-lua")) and "/usr/bin/lua5.4" or (LUA or "lua5.4")

local random_bytes = proc.random_bytes

-- Downloads name into a function sink: the bytes, and the sizes of the blocks. With
-- pause, the sink sleeps that long at its first block, so that the server's bytes
-- pile up in the socket meanwhile: how large the next blocks are then depends on the
-- buffer, not on whether the client happened to be faster than the server.
local function download(ftp, name, blocksize, pause)
  local chunks, sizes = {}, {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk)
    chunks[#chunks + 1] = chunk
    sizes[#sizes + 1] = #chunk
    if pause and #sizes == 1 then socket.sleep(pause) end
  end, blocksize))
  return table.concat(chunks), sizes
end

local function stats(sizes)
  local total, largest = 0, 0
  for _, n in ipairs(sizes) do
    total = total + n
    largest = math.max(largest, n)
  end
  return largest, total / #sizes
end

local VARIANTS = {
  { name = "plain", opts = nil },
  { name = "TLS", opts = { tls = { mode = "explicit" } } },
}

for _, variant in ipairs(VARIANTS) do
  describe("the receive buffer, vsftpd " .. variant.name, function()
    local s, ftp, content, sha

    local function login()
      local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 20 }
      if variant.opts then
        opts.tls = { cafile = s.ca }
        return assert(ftplib.FTP_TLS(s.host, opts))
      end
      return assert(ftplib.FTP(s.host, opts))
    end

    setup(function()
      s = servers.start("vsftpd", variant.opts)
      content = random_bytes(SIZE)
      sha = core.sha256(content)
      s:write("random.bin", content)
      s:write("small.bin", random_bytes(1000))
      ftp = login()
    end)

    teardown(function()
      if ftp then ftp:close() end
      if s then s:stop() end
    end)

    it("delivers the random bytes unchanged, in blocks up to the blocksize", function()
      for _, blocksize in ipairs({ 65536, 32768, 1048576, 1000 }) do
        local got, sizes = download(ftp, "random.bin", blocksize)
        assert.equal(SIZE, #got, "blocksize " .. blocksize)
        assert.equal(sha, core.sha256(got), "blocksize " .. blocksize)
        local largest = stats(sizes)
        assert.is_true(largest <= blocksize, ("block of %d > %d"):format(largest, blocksize))
      end
    end)

    it("fills blocks of the default 64 KiB, beyond one TLS record", function()
      local got, sizes = download(ftp, "random.bin", nil, 0.3)
      assert.equal(sha, core.sha256(got))
      local largest, mean = stats(sizes)
      assert.equal(65536, largest)
      -- Under TLS each read gave one record (16 KiB at most) before the buffer
      -- gathered them; a mean above one record shows blocks spanning several.
      assert.is_true(mean > TLS_RECORD, ("mean block %.0f bytes over %d blocks"):format(mean,
        #sizes))
    end)

    it("gives blocks above 64 KiB when the blocksize allows them", function()
      local got, sizes = download(ftp, "random.bin", 1048576, 0.3)
      assert.equal(sha, core.sha256(got))
      local largest = stats(sizes)
      assert.is_true(largest > 65536, "largest block " .. largest)
    end)

    it("keeps no memory per data connection: 60 downloads in one session", function()
      -- Not scaled: the child runs natively even under `make valgrind` (memcheck does
      -- not follow it), only the file is smaller.
      local count = 60
      local command = ("env -u LD_PRELOAD LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s %s %s %d %s %s"
        .. " %s %d %s"):format(proc.shell_quote(ROOT .. "/lua/?.lua;;"),
          proc.shell_quote(ROOT .. "/build/?.so;;"), REAL_LUA,
          proc.shell_quote(ROOT .. "/spec/support/recv_memory.lua"), s.host, s.port,
          s.user, s.passwd, "random.bin", count, variant.opts and proc.shell_quote(s.ca) or "")
      local output = proc.run(command)
      local rss1, rss2, lua1, lua2 = output:match("rss_kib=(%d+) (%d+) lua_kib=(%d+) (%d+)")
      assert(rss1, output)
      rss1, rss2, lua1, lua2 = tonumber(rss1), tonumber(rss2), tonumber(lua1), tonumber(lua2)
      -- A buffer (256 KiB) kept per connection would add over 10 MiB here.
      assert.is_true(rss2 - rss1 < 2048, ("resident set grew %d KiB (%d to %d)"):format(
        rss2 - rss1, rss1, rss2))
      assert.is_true(lua2 - lua1 < 256, ("Lua heap grew %d KiB"):format(lua2 - lua1))
      io.stderr:write(("\n[recv memory] %s: %d downloads, resident %d to %d KiB, "
        .. "Lua heap %d to %d KiB\n"):format(variant.name, count, rss1, rss2, lua1, lua2))
    end)

    -- One read from the socket may bring more than the chunk asked for
    -- (src/data.c, ftp_data_recv_chunk): the rest is given out first by the
    -- next calls, whatever sizes they ask for, then a sink that stops in the
    -- middle of such bytes leaves the session in step.
    it("gives out bytes read ahead in order, in chunks no larger than asked", function()
      local data = assert(ftp:transfercmd("RETR random.bin"))
      socket.sleep(0.2) -- the server's bytes pile up: reads bring more than a chunk
      local parts, asks, i = {}, { 1, 700, 65536, 3, 200000, 4096 }, 0
      while true do
        i = i + 1
        local ask = asks[(i - 1) % #asks + 1]
        local chunk = assert(data:recv(ask))
        if chunk == "" then break end
        assert.is_true(#chunk <= ask, ("%d bytes for a recv(%d)"):format(#chunk, ask))
        parts[#parts + 1] = chunk
      end
      data:close()
      assert(ftp:voidresp())
      assert.equal(sha, core.sha256(table.concat(parts)))
      local given = 0
      local _, err, code = ftp:retrbinary("RETR random.bin", function(chunk)
        given = given + #chunk
        return given < 100000 and true or false
      end, 1000)
      assert.is_nil(_, err)
      assert.equal("aborted", code)
      -- No chunk after the sink said stop: the last one crossed 100000.
      assert.is_true(given >= 100000 and given < 101000, "given " .. given)
      assert.equal(sha, core.sha256((download(ftp, "random.bin"))))
    end)

    it("keeps the session usable after many small transfers", function()
      for _ = 1, scaled.count(30) do
        local got = download(ftp, "small.bin")
        assert.equal(1000, #got)
      end
      assert.equal(sha, core.sha256((download(ftp, "random.bin"))))
    end)
  end)
end

describe("a TLS download cut without close_notify after many records", function()
  local CUT = 300000 -- several 64 KiB blocks, the last one short: gathered, then the cut

  local function script()
    return fake.script(fake.tls_login_steps(), fake.type_steps("I"), fake.epsv_steps(), {
      { expect = "^RETR f$" }, { send = "150 here\r\n" },
      { accept = true }, { data_tls = "good" }, { data_send_size = CUT },
      { data_close = true }, -- a bare FIN: no close_notify
      { send = "226 done\r\n" },
      { serve = { NOOP = "200 NOOP ok\r\n", ABOR = "225 no transfer\r\n",
        PWD = "257 \"/\" is the folder\r\n" }, last = "PWD" } })
  end

  it("fails \"tls\" after handing over every byte that came", function()
    local srv = fake.start(script(), { timeout = 20, certs = certs.get() })
    finally(function() srv:stop() end)
    local ftp = assert(ftplib.FTP_TLS(srv.host, { port = srv.port, user = "anonymous",
      passwd = "guest", timeout = 5, tls = { cafile = certs.get().ca } }))
    local chunks = {}
    local ok, err, code = ftp:retrbinary("RETR f", function(c) chunks[#chunks + 1] = c end)
    assert.is_nil(ok)
    assert.equal("tls", code, err)
    assert.matches("without TLS close_notify after " .. CUT .. " bytes", err, 1, true)
    assert.equal(fake.pattern(CUT), table.concat(chunks))
    assert.equal("/", ftp:pwd()) -- the session is in step
    ftp:close()
  end)
end)
