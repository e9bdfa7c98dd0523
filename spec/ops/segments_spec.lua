-- ftp:download(remote, localpath, {segments = N}) (lua/ftplib/ops/segments.lua) against
-- real servers: the same bytes as the remote file, N sessions opened, a download killed
-- midway and resumed, and the fallbacks (one client allowed, REST refused).
local ftplib = require "ftplib"
local core = require "ftplib.core"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local hostile = require "spec.support.hostile"

local MiB = 1024 * 1024

local random_bytes = proc.random_bytes

local function login(s, extra)
  local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 10 }
  for k, v in pairs(extra or {}) do opts[k] = v end
  if s.tls then
    opts.tls = { cafile = s.ca }
    return assert(ftplib.FTP_TLS(s.host, opts))
  end
  return assert(ftplib.FTP(s.host, opts))
end

-- Sessions the vsftpd log shows connecting.
local function vsftpd_connects(s)
  local text = proc.read_file(s.dir .. "/vsftpd.log") or ""
  local count = 0
  for _ in text:gmatch("CONNECT: Client") do count = count + 1 end
  return count
end

local function assert_same_file(expected, path)
  local got = proc.read_file(path)
  assert.is_truthy(got, path .. " missing")
  assert.equal(#expected, #got)
  assert.is_true(expected == got, "content differs")
end

describe("segmented download", function()
  local tmp, content

  lazy_setup(function()
    tmp = proc.tempdir("segments")
    content = random_bytes(6 * MiB + 12345)
  end)

  lazy_teardown(function()
    if tmp then proc.rmtree(tmp) end
  end)

  for _, kind in ipairs(servers.kinds()) do
    describe("on " .. kind, function()
      local s
      lazy_setup(function()
        s = servers.start(kind)
        s:write("pub/big.bin", content)
      end)
      lazy_teardown(function() if s then s:stop() end end)

      it("gives the remote file's bytes over 4 sessions", function()
        local before = kind == "vsftpd" and vsftpd_connects(s)
        local ftp = login(s)
        local target = tmp .. "/" .. kind .. ".bin"
        local reports, backwards = {}, false
        local bytes, info = ftp:download("pub/big.bin", target, { segments = 4,
          progress = function(done, total)
            backwards = backwards or (reports[#reports] or -1) > done
            reports[#reports + 1] = done
            assert.equal(#content, total)
          end })
        assert.equal(#content, bytes, info)
        assert.equal(#content, reports[#reports])
        assert.is_false(backwards)
        assert.equal(4, info.segments)
        assert.equal(4, info.sessions)
        assert.is_nil(info.fallback)
        assert_same_file(content, target)
        assert.is_nil(lfs.attributes(target .. ".part"))
        assert.truthy(ftp:noop()) -- the call's own session is still in step
        ftp:quit()
        if before then
          assert.equal(before + 4, vsftpd_connects(s))
        end
      end)
    end)
  end

  describe("memory", function()
    -- The interpreter itself, not a wrapper that may preload a sanitizer runtime (whose
    -- shadow memory would be counted), as spec/memory_spec.lua does.
    local LUA = io.popen("command -v lua5.4"):read("l")
    local REAL_LUA = (LUA and LUA:find("asan%-lua")) and "/usr/bin/lua5.4" or (LUA or "lua5.4")
    local ROOT = lfs.currentdir()
    local s
    lazy_setup(function()
      s = servers.start("vsftpd")
      s:write("m.bin", content:rep(4)) -- 24 MiB
    end)
    lazy_teardown(function() if s then s:stop() end end)

    -- The peak RSS (KiB) of a lua5.4 of its own downloading m.bin with `segments`.
    local function peak_kib(segments)
      local script = ([[
        local ftplib = require "ftplib"
        local ftp = assert(ftplib.FTP("127.0.0.1", { port = %d, user = %q, passwd = %q }))
        assert(ftp:download("m.bin", %q, { segments = %d }))
        ftp:quit()
        print(io.open("/proc/self/status"):read("a"):match("VmHWM:%%s*(%%d+)"))
      ]]):format(s.port, s.user, s.passwd, tmp .. "/m.out", segments)
      local output = proc.run(("env -u LD_PRELOAD LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s -e %s")
        :format(proc.shell_quote(ROOT .. "/lua/?.lua;;"),
          proc.shell_quote(ROOT .. "/build/?.so;;"), REAL_LUA, proc.shell_quote(script)))
      return assert(tonumber(output:match("(%d+)")), output)
    end

    it("4 segments add no more than their sessions' buffers to a plain download", function()
      local plain, four = peak_kib(1), peak_kib(4)
      -- 3 more receive buffers of 256 KiB, 4 chunks of 256 KiB, the chunks the
      -- collector has not reclaimed yet: well under 4 MiB; the file is 24 MiB.
      assert.is_true(four - plain < 4096, ("plain %d KiB, 4 segments %d KiB"):format(plain,
        four))
    end)
  end)

  describe("over FTPS on vsftpd", function()
    local s
    lazy_setup(function()
      if servers.available("vsftpd", true) then
        s = servers.start("vsftpd", { tls = {} })
        s:write("big.bin", content)
      end
    end)
    lazy_teardown(function() if s then s:stop() end end)

    it("clones keep TLS: protected data on every session", function()
      assert.is_truthy(s, "vsftpd with TLS is not available here")
      local ftp = login(s)
      local target = tmp .. "/tls.bin"
      local bytes, info = ftp:download("big.bin", target, { segments = 3 })
      assert.equal(#content, bytes, info)
      assert.equal(3, info.sessions)
      assert_same_file(content, target)
      ftp:quit()
    end)
  end)

  describe("on vsftpd with a rate limit", function()
    local s
    local RATE = 1 * MiB
    lazy_setup(function()
      s = servers.start("vsftpd", { max_rate = RATE })
      s:write("slow.bin", content)
    end)
    lazy_teardown(function() if s then s:stop() end end)

    it("resumes each range after the download was killed", function()
      local target = tmp .. "/killed.bin"
      local script = tmp .. "/child.lua"
      proc.write_file(script, ([[
        package.path = %q
        package.cpath = %q
        local ftplib = require "ftplib"
        local ftp = assert(ftplib.FTP("127.0.0.1", { port = %d, user = %q, passwd = %q }))
        ftp:download("slow.bin", %q, { segments = 4 })
      ]]):format(package.path, package.cpath, s.port, s.user, s.passwd, target))
      local child = proc.spawn({ "lua5.4", script }, { log = tmp .. "/child.log" })
      -- Killed once each of the four ranges has some bytes recorded.
      local recorded = proc.wait_until(function()
        local text = core.file_origin(target .. ".part")
        local ranges = text and text:match("(%S+)$")
        if not ranges then return false end
        local started = 0
        for done in ranges:gmatch(":(%d+)") do
          if tonumber(done) >= 256 * 1024 then started = started + 1 end
        end
        return started == 4
      end, 10, 0.05)
      os.execute("kill -KILL " .. child.pid)
      child:stop()
      assert.is_true(recorded, "no progress recorded: " .. proc.tail(tmp .. "/child.log"))
      assert.is_nil(lfs.attributes(target), "the final name appeared before the end")
      local ftp = login(s)
      local bytes, info = ftp:download("slow.bin", target, { segments = 4, resume = true })
      ftp:quit()
      assert.is_truthy(bytes, info)
      assert.is_true(info.resumed >= 4 * 256 * 1024, "resumed " .. tostring(info.resumed))
      assert.equal(#content, bytes + info.resumed)
      assert.is_nil(info.restarted)
      assert_same_file(content, target)
    end)

    it("never continues a .part of another file", function()
      local target = tmp .. "/other.bin"
      proc.write_file(target .. ".part", ("x"):rep(4096))
      local text = ("ftplib-seg1 %d - - %s 0:4096,%d:0"):format(#content,
        core.sha256("another.bin"), #content // 2)
      assert(core.file_origin(target .. ".part", text))
      local ftp = login(s)
      local bytes, info = ftp:download("slow.bin", target, { segments = 8, resume = true })
      ftp:quit()
      assert.equal(#content, bytes, info)
      assert.equal(0, info.resumed)
      assert.matches("another remote file", info.restarted)
      assert_same_file(content, target)
    end)

    it("is not continued by a plain download, which would keep its holes", function()
      local target = tmp .. "/plain-after.bin"
      proc.write_file(target .. ".part", ("x"):rep(4096))
      local text = ("ftplib-seg1 %d - - %s 0:4096,%d:0"):format(#content,
        core.sha256("slow.bin"), #content // 2)
      assert(core.file_origin(target .. ".part", text))
      local small = content:sub(1, 64 * 1024)
      s:write("small.bin", small)
      local ftp = login(s)
      local bytes, info = ftp:download("small.bin", target, { resume = true })
      ftp:quit()
      assert.equal(#small, bytes, info)
      assert.matches("started by a segmented download", info.restarted)
      assert_same_file(small, target)
    end)

    -- The vsftpd log's commands of the ABOR kind so far.
    local function abors()
      local n = 0
      for _ in (proc.read_file(s.dir .. "/vsftpd.log") or ""):gmatch('"ABOR"') do n = n + 1 end
      return n
    end

    it("is faster on 4 rate-limited sessions than on one, its clones leaving without ABOR",
      function()
      -- 1 s a range. A clone whose range is full closes its data connection and its
      -- session: an ABOR would wait about a second, vsftpd reading no command while it
      -- sends (abort.lua). The session of the call takes the last range, to the end.
      -- The ranges end inside a read (an odd size), as they mostly do.
      local small = content:sub(1, 4 * MiB + 12345)
      s:write("three.bin", small)
      local ftp = login(s)
      local t0 = ftplib.now()
      assert(ftp:download("three.bin", tmp .. "/one.bin"))
      local one = ftplib.now() - t0
      local abors_before = abors()
      t0 = ftplib.now()
      local bytes, info = ftp:download("three.bin", tmp .. "/four.bin", { segments = 4 })
      local four = ftplib.now() - t0
      ftp:quit()
      assert.equal(#small, bytes, info)
      assert.equal(4, info.sessions)
      assert_same_file(small, tmp .. "/four.bin")
      assert.equal(abors_before, abors())
      assert.is_true(four < one / 1.5, ("4 sessions %.2f s, one %.2f s"):format(four, one))
    end)
  end)

  describe("falls back", function()
    it("to one session when the server allows one client (vsftpd max_per_ip = 1)", function()
      local s = servers.start("vsftpd", { max_per_ip = 1 })
      finally(function() s:stop() end)
      s:write("big.bin", content)
      local ftp = login(s)
      local target = tmp .. "/one-client.bin"
      local bytes, info = ftp:download("big.bin", target, { segments = 4 })
      ftp:quit()
      assert.equal(#content, bytes, info)
      assert.equal(1, info.sessions)
      assert.equal(4, info.segments)
      assert.matches("3 of 3 more sessions refused %(421", info.fallback)
      assert_same_file(content, target)
    end)

    it("to the plain download when REST is refused", function()
      local data = content:sub(1, 2 * MiB)
      local srv = hostile.start { refuse_rest = true, features = { "SIZE" },
        files = { ["f.bin"] = { data = data } } }
      finally(function() srv:stop() end)
      local ftp = srv:session()
      local target = tmp .. "/norest.bin"
      local bytes, info = ftp:download("f.bin", target, { segments = 4 })
      ftp:quit()
      assert.equal(#data, bytes, info)
      assert.equal(1, info.sessions)
      assert.matches("^REST refused", info.fallback)
      assert_same_file(data, target)
      local retr = 0
      for _, line in ipairs(srv:commands()) do
        if line:match("^RETR") then retr = retr + 1 end
      end
      assert.equal(1, retr)
    end)

    it("to the plain download when SIZE is refused", function()
      local data = content:sub(1, MiB)
      local srv = hostile.start { files = { ["f.bin"] = { data = data, size = false } } }
      finally(function() srv:stop() end)
      local ftp = srv:session()
      local target = tmp .. "/nosize.bin"
      local bytes, info = ftp:download("f.bin", target, { segments = 4 })
      ftp:quit()
      assert.equal(#data, bytes, info)
      assert.matches("^no SIZE", info.fallback)
      assert_same_file(data, target)
    end)
  end)

  it("raises for segments out of range", function()
    local s = hostile.start { files = {} }
    finally(function() s:stop() end)
    local ftp = s:session()
    assert.has_error(function() ftp:download("x", tmp .. "/x", { segments = 0 }) end,
      "ftplib: 'download' option segments must be an integer from 1 to 32")
    assert.has_error(function() ftp:download("x", tmp .. "/x", { segments = 2.5 }) end)
    ftp:quit()
  end)
end)
