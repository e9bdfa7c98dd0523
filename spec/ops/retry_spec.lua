-- Retries (issue 7): a real server stopped in the middle of a large transfer and
-- started again on the same port and root; download and upload with `retries` connect
-- again, log in again (AUTH TLS and PROT P again for FTPS), return to the folder they
-- were in, and resume where they stopped, ending with a byte-exact file.
-- The stop is made deterministic by the progress callback, which stops the server once
-- a quarter of the file went through; the server comes back a moment later
-- (s:restart{after = ...}), so the first reconnections are refused.
local ftplib = require "ftplib"
local socket = require "socket"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local BIG = 32 * 1024 * 1024
local DOWN_FOR = 0.3 -- seconds the server stays away
local RETRY = { retries = 6, retry_delay = 0.1 } -- 0.1 + 0.2 + 0.4 s: past DOWN_FOR

local tmp
local content

local counter = 0
local function temp_path(tag)
  counter = counter + 1
  return ("%s/%s.%d"):format(tmp, tag, counter)
end

local function with_retry(extra)
  local opts = {}
  for key, value in pairs(RETRY) do opts[key] = value end
  for key, value in pairs(extra or {}) do opts[key] = value end
  return opts
end

-- A progress callback that stops the server (for DOWN_FOR seconds) once `at` bytes went
-- through, recording every report; stop.done_after holds the reports after the stop.
local function stopper(s, at)
  local stop = { calls = {}, stopped = false }
  function stop.progress(done)
    stop.calls[#stop.calls + 1] = done
    if not stop.stopped and done >= at then
      stop.stopped = true
      stop.at = done
      s:restart({ after = DOWN_FOR })
    end
  end
  return stop
end

local function assert_monotonic(calls, size)
  for i = 2, #calls do
    assert.is_true(calls[i] >= calls[i - 1], "progress went back at report " .. i)
  end
  assert.equal(size, calls[#calls])
end

-- Debug lines of the retries ("*retry* '...'"), collected from the object's debugfunc,
-- and the offsets of the REST commands sent (.rests).
local function retry_log(ftp)
  local lines = { rests = {} }
  ftp:set_debuglevel(1)
  ftp:set_debugfunc(function(line)
    if line:find("^%*retry%*") then lines[#lines + 1] = line end
    local rest = line:match("^%*cmd%* 'REST (%d+)'")
    if rest then lines.rests[#lines.rests + 1] = tonumber(rest) end
  end)
  return lines
end

-- The transfer went on from where it stopped, not from the start: one REST, at an
-- offset past what had gone through before the stop (downloads: what was written; the
-- socket buffers still held more), or (uploads) past a quarter of it (what was sent, less
-- what the server had not written yet).
local function assert_resumed(log, stop, at_least)
  assert.equal(1, #log.rests)
  assert.is_true(log.rests[1] >= at_least and log.rests[1] < BIG,
    ("REST %d after a stop at %d"):format(log.rests[1], stop.at))
end

local function plain_kinds()
  local list = servers.kinds()
  local listed = false
  for _, kind in ipairs(list) do listed = listed or kind == "proftpd" end
  if not listed and servers.available("proftpd") then list[#list + 1] = "proftpd" end
  local variants = {}
  for _, kind in ipairs(list) do
    variants[#variants + 1] = { name = kind, kind = kind }
  end
  for _, kind in ipairs({ "vsftpd", "pyftpdlib" }) do
    if servers.available(kind, true) then
      variants[#variants + 1] = { name = kind .. " explicit FTPS", kind = kind,
        tls = { mode = "explicit" } }
    end
  end
  return variants
end

lazy_setup(function()
  tmp = proc.tempdir("retry-spec")
  local source = io.open("/dev/urandom", "rb")
  content = source:read(BIG)
  source:close()
end)

lazy_teardown(function()
  if tmp then proc.rmtree(tmp) end
end)

for _, variant in ipairs(plain_kinds()) do
  describe("against " .. variant.name, function()
    local s, ftp

    -- Logs in with an explicit login call (the credentials a retry reuses come from
    -- it) and works in the folder "sub", which a retry must return to.
    local function open()
      local conn
      if variant.tls then
        conn = assert(ftplib.FTP_TLS(s.host, { port = s.port, timeout = 10,
          tls = { cafile = s.ca } }))
      else
        conn = assert(ftplib.FTP(s.host, { port = s.port, timeout = 10 }))
      end
      assert(conn:login(s.user, s.passwd))
      assert(conn:cwd("sub"))
      return conn
    end

    lazy_setup(function()
      s = servers.start(variant.kind, { restartable = true, tls = variant.tls })
      s:write("sub/big.bin", content)
    end)

    lazy_teardown(function()
      if s then s:stop() end
    end)

    before_each(function()
      ftp = open()
    end)

    after_each(function()
      ftp:close()
    end)

    it("finishes a download byte-exact after the server stopped in the middle", function()
      local retries = retry_log(ftp)
      local stop = stopper(s, BIG // 4)
      local target = temp_path("down")
      assert.equal(BIG, ftp:download("big.bin", target, with_retry({ progress = stop.progress })))
      assert.is_true(stop.stopped)
      assert.is_true(#retries >= 1, "no retry was logged")
      assert_resumed(retries, stop, stop.at)
      assert_monotonic(stop.calls, BIG)
      assert.is_true(proc.read_file(target) == content)
      assert.is_false(proc.exists(target .. ".part"))
      -- The session is usable, logged in, in the same folder.
      assert.equal(BIG, ftp:size("big.bin"))
    end)

    it("finishes an upload byte-exact after the server stopped in the middle", function()
      local retries = retry_log(ftp)
      local stop = stopper(s, BIG // 4)
      local source = temp_path("up")
      proc.write_file(source, content)
      assert.equal(BIG, ftp:upload(source, "up.bin", with_retry({ progress = stop.progress })))
      assert.is_true(stop.stopped)
      assert.is_true(#retries >= 1, "no retry was logged")
      assert_resumed(retries, stop, stop.at // 4)
      assert_monotonic(stop.calls, BIG)
      assert.is_true(s:read("sub/up.bin") == content)
    end)

    it("finishes an atomic upload after the server stopped in the middle", function()
      s:write("sub/atomic.bin", "the old version")
      local stop = stopper(s, BIG // 3)
      local source = temp_path("atomic")
      proc.write_file(source, content)
      assert.equal(BIG, ftp:upload(source, "atomic.bin",
        with_retry({ atomic = true, progress = stop.progress })))
      assert.is_true(stop.stopped)
      assert.is_true(s:read("sub/atomic.bin") == content)
      assert.is_nil(s:read("sub/atomic.bin.part"))
    end)

    -- A session already dead when the call starts cannot tell its folder: the path is
    -- absolute here.
    it("downloads through the C file path when the server is away at the start", function()
      local folder = assert(ftp:pwd())
      s:restart({ after = DOWN_FOR })
      local target = temp_path("away")
      assert.equal(BIG, ftp:download(folder:gsub("/$", "") .. "/big.bin", target, with_retry()))
      assert.is_true(proc.read_file(target) == content)
    end)

    it("does not retry a permanent failure", function()
      local retries = retry_log(ftp)
      local started = socket.gettime()
      local ok, _, code = ftp:download("no-such-file", temp_path("missing"),
        { retries = 3, retry_delay = 5 })
      assert.is_nil(ok)
      assert.equal(550, code)
      assert.equal(0, #retries)
      assert.is_true(socket.gettime() - started < 4) -- a retry would have waited 5 s
    end)

    it("gives up after the retries with the last failure, keeping the .part", function()
      local target = temp_path("give-up")
      local halted = false
      local started = socket.gettime()
      local ok, err, code = ftp:download("big.bin", target, { retries = 2, retry_delay = 0.05,
        progress = function(done)
          if not halted and done >= BIG // 4 then
            halted = true
            s:halt()
          end
        end })
      s:restart()
      assert.is_nil(ok)
      assert.equal("refused", code, err)
      assert.is_true(socket.gettime() - started < 5)
      assert.is_false(proc.exists(target))
      local kept = proc.read_file(target .. ".part")
      assert.is_true(#kept >= BIG // 4 and kept == content:sub(1, #kept))
    end)
  end)
end
