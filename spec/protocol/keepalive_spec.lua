-- Keepalive NOOPs during long transfers, against real servers: vsftpd answers them after
-- the transfer's 226, pyftpdlib at once (and, with its replies delayed, in between),
-- proftpd as it does. Transfers are made slow by a sink or source that sleeps through
-- wait.sleep. Each spec checks that NOOPs went out (debug output), that every one got
-- its reply, that the data is whole, and that the next commands get their own replies.
-- The fake-server cases (NOOP replies around the 226, a data connection that goes quiet)
-- are in spec/protocol/fault_matrix_spec.lua.
local ftplib = require "ftplib"
local wait = require "ftplib.concurrency.wait"
local servers = require "spec.support.servers"

local INTERVAL = 0.2
local SIZE = 1024 * 1024
local BLOCK = 16384

local random_bytes = require("spec.support.proc").random_bytes

-- A session with keepalive on, whose debug lines are kept.
local function session(s)
  local lines = {}
  local ftp = assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
    timeout = 10, keepalive = INTERVAL, debuglevel = 1,
    debugfunc = function(line) lines[#lines + 1] = line end }))
  return ftp, lines
end

-- NOOPs sent after the line matching `from`, and 200 replies read after it.
local function count_after(lines, from)
  local noops, replies, seen = 0, 0, false
  for _, line in ipairs(lines) do
    if line:find(from, 1, true) then
      seen = true
    elseif seen and line == "*cmd* 'NOOP'" then
      noops = noops + 1
    elseif seen and line:match("^%*resp%* '200") then
      replies = replies + 1
    end
  end
  return noops, replies
end

-- The session is in step: each command gets its own reply.
local function assert_in_step(ftp)
  assert.is_string((assert(ftp:pwd())))
  assert.matches("^215", (assert(ftp:sendcmd("SYST"))))
  assert.matches("^200", (assert(ftp:noop())))
end

local function slow_sink(parts)
  return function(chunk)
    parts[#parts + 1] = chunk
    wait.sleep(0.02)
  end
end

local function keepalive_tests(kind, opts, label)
  describe("keepalive against " .. label, function()
    local s
    local payload = random_bytes(SIZE)

    lazy_setup(function()
      s = servers.start(kind, opts)
      s:write("slow.bin", payload)
    end)

    lazy_teardown(function()
      if s then s:stop() end
    end)

    it("sends NOOPs during a slow download and reads every reply in step", function()
      local ftp, lines = session(s)
      local parts = {}
      local reply = assert(ftp:retrbinary("RETR slow.bin", slow_sink(parts), BLOCK))
      assert.matches("^226", reply)
      assert.is_true(payload == table.concat(parts), "the download differs")
      local noops, replies = count_after(lines, "*cmd* 'RETR slow.bin'")
      assert.is_true(noops >= 3, noops .. " NOOPs sent")
      assert.equal(noops, replies)
      assert_in_step(ftp)
      ftp:close()
    end)

    it("sends NOOPs during a slow upload and reads every reply in step", function()
      local ftp, lines = session(s)
      local pos = 1
      local reply = assert(ftp:storbinary("STOR up.bin", function()
        if pos > #payload then return nil end
        local chunk = payload:sub(pos, pos + BLOCK - 1)
        pos = pos + BLOCK
        wait.sleep(0.02)
        return chunk
      end))
      assert.matches("^226", reply)
      local noops, replies = count_after(lines, "*cmd* 'STOR up.bin'")
      assert.is_true(noops >= 3, noops .. " NOOPs sent")
      assert.equal(noops, replies)
      assert_in_step(ftp)
      ftp:close()
      assert.is_true(s:read("up.bin") == payload, "the upload differs")
    end)

    it("stops a slow download after NOOPs went out, and ABOR finds its own NOOP", function()
      local ftp, lines = session(s)
      local started = wait.now()
      local ok, err, code = ftp:retrbinary("RETR slow.bin", function()
        wait.sleep(0.02)
        return wait.now() - started < 0.7
      end, BLOCK)
      assert.is_nil(ok)
      assert.equal("aborted", code, err)
      local noops = count_after(lines, "*cmd* 'RETR slow.bin'")
      assert.is_true(noops >= 3, noops .. " NOOPs sent") -- ABOR's own NOOP among them
      assert_in_step(ftp)
      ftp:close()
    end)
  end)
end

local kinds = { { "vsftpd", nil, "vsftpd" }, { "pyftpdlib", nil, "pyftpdlib" },
  { "pyftpdlib", { delay = 0.05 }, "pyftpdlib with replies delayed 50 ms" },
  { "proftpd", nil, "proftpd" } }
for _, entry in ipairs(kinds) do
  if servers.available(entry[1]) then
    keepalive_tests(entry[1], entry[2], entry[3])
  else
    pending(entry[1] .. " is not installed here")
  end
end

-- Over FTPS the NOOPs and their replies travel inside the control connection's TLS
-- while the data connection has its own.
for _, variant in ipairs(servers.tls_kinds()) do
  if variant.tls.mode == "explicit" then
    describe("keepalive over " .. variant.name, function()
      local s
      local payload = random_bytes(SIZE // 2)

      lazy_setup(function()
        s = servers.start(variant.kind, { tls = variant.tls })
        s:write("slow.bin", payload)
      end)

      lazy_teardown(function()
        if s then s:stop() end
      end)

      it("sends NOOPs during a slow protected download and stays in step", function()
        local lines = {}
        local ftp = assert(ftplib.FTP_TLS(s.host, { port = s.port, user = s.user,
          passwd = s.passwd, timeout = 10, keepalive = INTERVAL, debuglevel = 1,
          tls = { cafile = s.ca },
          debugfunc = function(line) lines[#lines + 1] = line end }))
        local parts = {}
        assert.matches("^226", (assert(ftp:retrbinary("RETR slow.bin", slow_sink(parts),
          BLOCK))))
        assert.is_true(payload == table.concat(parts), "the download differs")
        local noops, replies = count_after(lines, "*cmd* 'RETR slow.bin'")
        assert.is_true(noops >= 2, noops .. " NOOPs sent")
        assert.equal(noops, replies)
        assert_in_step(ftp)
        ftp:close()
      end)
    end)
  end
end

describe("keepalive option", function()
  it("is off by default: no NOOP during a transfer", function()
    local ftp = ftplib.FTP()
    assert.is_nil(ftp.keepalive)
    ftp:close()
  end)
end)
