-- ftp:download and ftp:upload (lua/ftplib/ops/whole_files.lua) against real servers (vsftpd,
-- pyftpdlib, and proftpd where it is unpacked) and, for what no real server does on
-- demand (a transfer cut by the server, a SIZE that lies, REST refused), the scripted
-- fake server. Retries after a dropped session are in spec/ops/retry_spec.lua.
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local proc = require "spec.support.proc"

local SIZE = 3 * 1024 * 1024 + 12345 -- several blocks, not a multiple of any
local PAST = 1234567890 -- 2009-02-13 23:31:30 UTC: a time no fresh file has

local tmp
local content -- SIZE random bytes

local counter = 0
local function temp_path(tag)
  counter = counter + 1
  return ("%s/%s.%d"):format(tmp, tag, counter)
end

local function write_file(path, bytes)
  proc.write_file(path, bytes)
  return path
end

local function mtime(path)
  return lfs.attributes(path, "modification")
end

-- A .part as a download cut short leaves it: the bytes, and the origin record of
-- the remote file (its path, size and MDTM time) that lets a resume continue it.
local function write_part(path, bytes, origin)
  proc.write_file(path, bytes)
  assert(require("ftplib.core").file_origin(path,
    require("ftplib.ops.whole_files")._origin_text(origin)))
  return path
end

-- A progress callback recording its calls, and a check of what it saw.
local function recorder()
  local calls = {}
  return calls, function(done, total)
    calls[#calls + 1] = { done = done, total = total }
  end
end

local function assert_progress(calls, first_at_least, size)
  assert.is_true(#calls > 1, "progress called " .. #calls .. " times")
  assert.is_true(calls[1].done >= first_at_least)
  for i = 2, #calls do
    assert.is_true(calls[i].done >= calls[i - 1].done, "progress went back at call " .. i)
  end
  assert.equal(size, calls[#calls].done)
  assert.equal(size, calls[#calls].total)
end

local function kinds()
  local list = servers.kinds()
  local listed = false
  for _, kind in ipairs(list) do listed = listed or kind == "proftpd" end
  if not listed and servers.available("proftpd") then list[#list + 1] = "proftpd" end
  return list
end

lazy_setup(function()
  tmp = proc.tempdir("files-spec")
  local source = io.open("/dev/urandom", "rb")
  content = source:read(SIZE)
  source:close()
end)

lazy_teardown(function()
  if tmp then proc.rmtree(tmp) end
end)

for _, kind in ipairs(kinds()) do
  describe("against " .. kind, function()
    local s, ftp

    lazy_setup(function()
      s = servers.start(kind)
      s:write("big.bin", content)
    end)

    lazy_teardown(function()
      if s then s:stop() end
    end)

    before_each(function()
      ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
        timeout = 20 }))
    end)

    after_each(function()
      ftp:close()
    end)

    it("downloads byte for byte through .part, leaving no .part", function()
      local target = temp_path("down")
      assert.equal(SIZE, ftp:download("big.bin", target))
      assert.is_true(proc.read_file(target) == content)
      assert.is_false(proc.exists(target .. ".part"))
    end)

    it("uploads byte for byte and reads it back", function()
      local source = write_file(temp_path("up"), content)
      assert.equal(SIZE, ftp:upload(source, "up.bin"))
      assert.is_true(s:read("up.bin") == content)
      local back = temp_path("back")
      assert.equal(SIZE, ftp:download("up.bin", back))
      assert.is_true(proc.read_file(back) == content)
    end)

    it("resumes a download from its .part with REST, reporting from the offset", function()
      local target = temp_path("resume")
      local have = 1000003
      write_part(target .. ".part", content:sub(1, have), { remote = "big.bin", size = SIZE,
        modify = assert(ftp:mdtm("big.bin")), precision = 1 })
      local calls, progress = recorder()
      assert.equal(SIZE - have, ftp:download("big.bin", target, { resume = true,
        progress = progress }))
      assert.is_true(proc.read_file(target) == content)
      assert_progress(calls, have, SIZE)
      assert.is_false(proc.exists(target .. ".part"))
    end)

    it("finishes a download whose .part is already whole without a transfer", function()
      local target = temp_path("whole")
      write_part(target .. ".part", content, { remote = "big.bin", size = SIZE,
        modify = assert(ftp:mdtm("big.bin")), precision = 1 })
      assert.equal(0, ftp:download("big.bin", target, { resume = true }))
      assert.is_true(proc.read_file(target) == content)
    end)

    it("starts over when the .part is larger than the remote file", function()
      local target = temp_path("larger")
      write_file(target .. ".part", content .. "trailing junk")
      assert.equal(SIZE, ftp:download("big.bin", target, { resume = true }))
      assert.is_true(proc.read_file(target) == content)
    end)

    it("replaces an existing .part without resume", function()
      local target = temp_path("replace")
      write_file(target .. ".part", ("x"):rep(5000))
      assert.equal(SIZE, ftp:download("big.bin", target))
      assert.is_true(proc.read_file(target) == content)
    end)

    it("reports download progress in order, ending at the size", function()
      local calls, progress = recorder()
      ftp:download("big.bin", temp_path("progress"), { progress = progress })
      assert_progress(calls, 0, SIZE)
    end)

    it("reports upload progress in order, ending at the size", function()
      local calls, progress = recorder()
      local source = write_file(temp_path("up-progress"), content)
      assert.equal(SIZE, ftp:upload(source, "up-progress.bin", { progress = progress }))
      assert_progress(calls, 0, SIZE)
      assert.is_true(s:read("up-progress.bin") == content)
    end)

    it("leaves no file at all when the remote file is missing", function()
      local target = temp_path("missing")
      local ok, err, code = ftp:download("no-such-file.bin", target)
      assert.is_nil(ok)
      assert.matches("^550", err)
      assert.equal(550, code)
      assert.is_false(proc.exists(target))
      assert.is_false(proc.exists(target .. ".part"))
      assert.is_truthy(ftp:pwd()) -- the session goes on
    end)

    it("leaves no final file when the progress callback stops a download", function()
      local target = temp_path("stopped")
      local ok, _, code = ftp:download("big.bin", target, { progress = function(done)
        return done < SIZE // 3
      end })
      assert.is_nil(ok)
      assert.equal("aborted", code)
      assert.is_false(proc.exists(target))
      local kept = lfs.attributes(target .. ".part", "size")
      assert.is_true(kept > 0 and kept < SIZE, "the .part holds the start for a resume")
      assert.equal(SIZE - kept, ftp:download("big.bin", target, { resume = true }))
      assert.is_true(proc.read_file(target) == content)
    end)

    it("resumes an upload after the remote SIZE", function()
      local have = 777777
      s:write("resumed.bin", content:sub(1, have))
      local source = write_file(temp_path("up-resume"), content)
      local calls, progress = recorder()
      assert.equal(SIZE - have, ftp:upload(source, "resumed.bin", { resume = true,
        progress = progress }))
      assert.is_true(s:read("resumed.bin") == content)
      assert_progress(calls, have, SIZE)
    end)

    it("uploads atomically: a temporary in the same folder, renamed when whole", function()
      s:mkdir("atomic")
      s:write("atomic/a.bin", "the old version")
      local source = write_file(temp_path("atomic"), content)
      local seen_during = {}
      assert.equal(SIZE, ftp:upload(source, "atomic/a.bin", { atomic = true,
        progress = function(done)
          if done > SIZE // 2 and #seen_during == 0 then
            seen_during[1] = s:read("atomic/a.bin")
          end
        end }))
      assert.equal("the old version", seen_during[1])
      assert.is_true(s:read("atomic/a.bin") == content)
      assert.is_nil(s:read("atomic/a.bin.part"))
    end)

    it("leaves the final name alone when an atomic upload fails, and deletes the temporary",
      function()
        s:write("atomic-fail.bin", "the old version")
        local source = write_file(temp_path("atomic-fail"), content)
        local ok, _, code = ftp:upload(source, "atomic-fail.bin", { atomic = true,
          progress = function(done) return done < SIZE // 2 end })
        assert.is_nil(ok)
        assert.equal("aborted", code)
        assert.equal("the old version", s:read("atomic-fail.bin"))
        assert.is_nil(s:read("atomic-fail.bin.part"))
        local absent = write_file(temp_path("atomic-new"), content)
        ok = ftp:upload(absent, "atomic-new.bin", { atomic = true,
          progress = function(done) return done < SIZE // 2 end })
        assert.is_nil(ok)
        assert.is_nil(s:read("atomic-new.bin"))
      end)

    it("keeps the temporary of a failed atomic upload with resume, and continues it", function()
      local source = write_file(temp_path("atomic-resume"), content)
      local ok = ftp:upload(source, "atomic-resume.bin", { atomic = true, resume = true,
        progress = function(done) return done < SIZE // 2 end })
      assert.is_nil(ok)
      assert.is_nil(s:read("atomic-resume.bin"))
      local kept = #assert(s:read("atomic-resume.bin.part"))
      assert.equal(SIZE - kept, ftp:upload(source, "atomic-resume.bin",
        { atomic = true, resume = true }))
      assert.is_true(s:read("atomic-resume.bin") == content)
      assert.is_nil(s:read("atomic-resume.bin.part"))
    end)

    it("sets the local modification time from MDTM", function()
      assert(lfs.touch(s:write("dated.txt", "dated"), PAST, PAST))
      local target = temp_path("dated")
      assert.equal(5, ftp:download("dated.txt", target, { preserve_time = true }))
      assert.equal(PAST, mtime(target))
      local plain = temp_path("undated")
      ftp:download("dated.txt", plain)
      assert.is_true(mtime(plain) > PAST)
    end)

    it("sets the remote time with MFMT when FEAT offers it, else skips it", function()
      local source = write_file(temp_path("mfmt"), "timed")
      assert(lfs.touch(source, PAST, PAST))
      assert.equal(5, ftp:upload(source, "timed.txt", { preserve_time = true }))
      assert.equal("timed", s:read("timed.txt"))
      if assert(ftp:feat()).MFMT then
        assert.equal(PAST, mtime(s:path("timed.txt")))
        assert.equal(PAST, ftp:mdtm("timed.txt"))
      else
        assert.is_true(mtime(s:path("timed.txt")) > PAST)
      end
    end)

    it("raises for a wrong argument or an unknown option", function()
      assert.has_error(function() ftp:download("a", nil) end)
      assert.has_error(function() ftp:download("a", "b", { resum = true }) end)
      assert.has_error(function() ftp:upload("a", "b", { retries = -1 }) end)
      assert.has_error(function() ftp:upload("a", "b", { atomic = "yes" }) end)
    end)

    it("answers io for a local file that is missing or cannot be written", function()
      local ok, _, code = ftp:upload(tmp .. "/no-such-file", "x.bin")
      assert.is_nil(ok)
      assert.equal("io", code)
      ok, _, code = ftp:download("big.bin", tmp .. "/no-such-dir/x.bin")
      assert.is_nil(ok)
      assert.equal("io", code)
      assert.is_truthy(ftp:pwd())
    end)
  end)
end

-- The scripted server ------------------------------------------------------------------

local N, CUT = 300000, 120000
local Y2000 = 946684800 -- 20000101000000, the scripted MDTM answer

local function start_fake(...)
  local srv = fake.start(fake.script(fake.login_steps(), ...))
  local ftp = assert(ftplib.FTP(srv.host, { port = srv.port, user = "anonymous",
    passwd = "guest", timeout = 10 }))
  return srv, ftp
end

local function finish_fake(srv, ftp)
  ftp:close()
  assert.is_true(srv:wait(5), "the fake server did not finish")
  assert.same({}, srv:errors())
end

describe("against a scripted server", function()
  it("a download cut by the server leaves only the .part, and resumes byte-exact", function()
    local target = temp_path("cut")
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 " .. N .. "\r\n" },
        { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" },
        { send = "150 Opening BINARY mode data connection for f (" .. N .. " bytes)\r\n" },
        { data_send_size = CUT },
        { data_close = true },
        { close = true } })
    local ok, _, code = ftp:download("f", target)
    assert.is_nil(ok)
    assert.equal("closed", code)
    assert.is_false(proc.exists(target))
    assert.is_true(proc.read_file(target .. ".part") == fake.pattern(CUT))
    finish_fake(srv, ftp)

    -- Against a real server holding the same bytes: REST CUT, the rest, renamed.
    local s = servers.start(servers.kinds()[1])
    finally(function() s:stop() end)
    s:write("f", fake.pattern(N))
    assert(lfs.touch(s:path("f"), Y2000, Y2000)) -- the time the fake server gave
    local real = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd }))
    assert.equal(N - CUT, real:download("f", target, { resume = true }))
    real:close()
    assert.is_true(proc.read_file(target) == fake.pattern(N))
    assert.is_false(proc.exists(target .. ".part"))
  end)

  it("a resume against the server that cut it sends REST and ends byte-exact", function()
    local target = temp_path("cut-resume")
    write_part(target .. ".part", fake.pattern(N):sub(1, CUT),
      { remote = "f", size = N, modify = Y2000, precision = 1 })
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 " .. N .. "\r\n" },
        -- The remote file is the one the .part's origin record names.
        { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^REST " .. CUT .. "$" }, { send = "350 Restarting\r\n" },
        { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send = fake.pattern(N):sub(CUT + 1) },
        { data_close = true },
        { send = "226 done\r\n" } })
    assert.equal(N - CUT, ftp:download("f", target, { resume = true }))
    finish_fake(srv, ftp)
    assert.is_true(proc.read_file(target) == fake.pattern(N))
  end)

  it("a transfer shorter than SIZE is an error, and the .part stays for a resume", function()
    local target = temp_path("short")
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 1000\r\n" },
        { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send_size = 600 }, { data_close = true },
        { send = "226 done\r\n" } })
    local ok, err, code = ftp:download("f", target)
    assert.is_nil(ok)
    assert.matches("600 bytes received", err)
    assert.equal("closed", code)
    assert.is_false(proc.exists(target))
    assert.equal(600, lfs.attributes(target .. ".part", "size"))
    finish_fake(srv, ftp)
  end)

  it("verify = false takes a file whose size disagrees with SIZE", function()
    local target = temp_path("noverify")
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 1000\r\n" },
        { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send_size = 600 }, { data_close = true },
        { send = "226 done\r\n" } })
    assert.equal(600, ftp:download("f", target, { verify = false }))
    finish_fake(srv, ftp)
    assert.is_true(proc.read_file(target) == fake.pattern(600))
  end)

  it("without SIZE, progress takes its total from the 150 reply", function()
    local calls, progress = recorder()
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "502 SIZE not implemented\r\n" },
        { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" },
        { send = "150 Opening BINARY mode data connection for f (" .. N .. " bytes)\r\n" },
        { data_send_size = N }, { data_close = true },
        { send = "226 done\r\n" } })
    assert.equal(N, ftp:download("f", temp_path("no-size"), { progress = progress }))
    finish_fake(srv, ftp)
    assert_progress(calls, 0, N)
    assert.equal(N, calls[1].total)
  end)

  it("preserve_time skips a server without MDTM: the file is what counts", function()
    local target = temp_path("no-mdtm")
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 5\r\n" },
        { expect = "^MDTM f$" }, { send = "502 MDTM not implemented\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send = "hello" }, { data_close = true },
        { send = "226 done\r\n" } })
    assert.equal(5, ftp:download("f", target, { preserve_time = true }))
    finish_fake(srv, ftp)
    assert.equal("hello", proc.read_file(target))
    assert.is_true(mtime(target) > PAST)
  end)

  it("a refused REST starts the download over", function()
    local target = temp_path("no-rest")
    write_part(target .. ".part", fake.pattern(CUT),
      { remote = "f", size = N, modify = Y2000, precision = 1 })
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 " .. N .. "\r\n" },
        { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^REST " .. CUT .. "$" }, { send = "502 REST not implemented\r\n" } },
      fake.pipelining_probe(), fake.epsv_steps(true),
      { { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send_size = N }, { data_close = true },
        { send = "226 done\r\n" } })
    assert.equal(N, ftp:download("f", target, { resume = true }))
    finish_fake(srv, ftp)
    assert.is_true(proc.read_file(target) == fake.pattern(N))
  end)

  it("an upload resume falls back to APPE when REST + STOR is refused", function()
    local source = write_file(temp_path("appe"), fake.pattern(N))
    local srv, ftp = start_fake(
      { { expect = "^TYPE I$" }, { send = "200 ok\r\n" },
        { expect = "^SIZE f$" }, { send = "213 " .. CUT .. "\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^REST " .. CUT .. "$" }, { send = "502 REST not implemented\r\n" } },
      fake.pipelining_probe(), fake.epsv_steps(true),
      { { expect = "^APPE f$" }, { send = "150 go ahead\r\n" },
        { data_recv = true },
        { send = "226 done\r\n" } })
    assert.equal(N - CUT, ftp:upload(source, "f", { resume = true }))
    finish_fake(srv, ftp)
    assert.is_true(srv:received()[1] == fake.pattern(N):sub(CUT + 1))
  end)

  it("a size given by the caller spares SIZE", function()
    local target = temp_path("given")
    local srv, ftp = start_fake(
      { { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" },
        { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send_size = N }, { data_close = true },
        { send = "226 done\r\n" } })
    assert.equal(N, ftp:download("f", target, { size = N }))
    finish_fake(srv, ftp)
    assert.is_true(proc.read_file(target) == fake.pattern(N))
  end)

  it("a stale size from the caller is checked with SIZE, which has the last word", function()
    local target = temp_path("stale")
    local srv, ftp = start_fake(
      { { expect = "^MDTM f$" }, { send = "213 20000101000000\r\n" },
        { expect = "^TYPE I$" }, { send = "200 ok\r\n" } },
      fake.epsv_steps(true),
      { { expect = "^RETR f$" }, { send = "150 here\r\n" },
        { data_send_size = N }, { data_close = true },
        { send = "226 done\r\n" },
        { expect = "^SIZE f$" }, { send = "213 " .. N .. "\r\n" } })
    assert.equal(N, ftp:download("f", target, { size = CUT }))
    finish_fake(srv, ftp)
    assert.is_true(proc.read_file(target) == fake.pattern(N))
  end)
end)
