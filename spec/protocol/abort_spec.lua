-- Aborts against every server of the harness, plain and FTPS: a sink returning false,
-- a progress callback returning false, a sink that raises, and abort() after
-- transfercmd, each tried TRIES times in a row on one session (20; fewer under make
-- valgrind, through FTPLIB_TEST_SCALE), in the middle of a 64 MiB download. After each
-- try the session must be in step: PWD gets its own 257, NOOP its own answer; at the
-- end a small download comes byte for byte. The servers differ in what they need
-- (see lua/ftplib/protocol/abort.lua): vsftpd, proftpd and Twisted read no command while they
-- send, GNU inetutils ftpd needs Telnet IP/Synch and dies of a data connection closed
-- first, aioftp dies of the Telnet bytes and of a closed data connection, and under
-- TLS no urgent byte may be sent at all.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local scaled = require "spec.support.scale"

local BIG_SIZE = scaled(64 * 1024 * 1024)
local TRIES = scaled.count(20)
local SMALL = "a small file, to see that the data still comes whole\n"

-- Every plain server here (proftpd too when it is unpacked), then the odd ones.
local function plain_variants()
  local list, seen = {}, {}
  local kinds = servers.kinds()
  if servers.available("proftpd") and (os.getenv("FTPLIB_TEST_SERVERS") or "proftpd")
      :find("proftpd", 1, true) then
    kinds[#kinds + 1] = "proftpd"
  end
  for _, kind in ipairs(servers.odd_kinds()) do kinds[#kinds + 1] = kind end
  for _, kind in ipairs(kinds) do
    if not seen[kind] then
      seen[kind] = true
      list[#list + 1] = { name = kind .. " plain", kind = kind }
    end
  end
  return list
end

local function tls_variants()
  local list = servers.tls_kinds()
  for _, variant in ipairs(servers.odd_tls_kinds()) do list[#list + 1] = variant end
  return list
end

local big_content
local function big()
  if not big_content then
    local random = assert(io.open("/dev/urandom", "rb"))
    big_content = random:read(BIG_SIZE)
    random:close()
  end
  return big_content
end

local function session(s)
  local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 10 }
  if not s.tls then
    return assert(ftplib.FTP(s.host, opts))
  end
  opts.tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" }
  return assert(ftplib.FTP_TLS(s.host, opts))
end

-- The next commands get their own replies.
local function assert_in_step(ftp, s, what)
  local path, err, code = ftp:pwd()
  assert(path, ("after %s: pwd gave %s, %s"):format(what, tostring(err), tostring(code)))
  assert.is_string(path)
  local text
  text, err, code = ftp:noop()
  if servers.lacks(s.kind, "noop") then
    assert.equal(502, code, "NOOP: " .. tostring(text or err))
  else
    assert(text, ("after %s: noop gave %s, %s"):format(what, tostring(err), tostring(code)))
    assert.matches("^200", text)
  end
end

local function small_download(ftp)
  local parts = {}
  assert.matches("^2%d%d", (assert(ftp:retrbinary("RETR small.txt", function(chunk)
    parts[#parts + 1] = chunk
  end))))
  assert.equal(SMALL, table.concat(parts))
end

local function stopped_by_sink(ftp)
  local ok, err, code = ftp:retrbinary("RETR big.bin", function() return false end)
  assert.is_nil(ok)
  assert.equal("aborted", code, err)
end

local function stopped_by_progress(ftp, tmp)
  local target = tmp .. "/big.bin"
  local ok, err, code = ftp:download("big.bin", target, {
    progress = function(done) return done == 0 end,
  })
  assert.is_nil(ok)
  assert.equal("aborted", code, err)
  assert.is_nil(proc.exists(target) or nil, "a stopped download left the final name")
end

local function raising_sink(ftp)
  local ok, err = pcall(ftp.retrbinary, ftp, "RETR big.bin", function()
    error("sink broke", 0)
  end)
  assert.is_false(ok)
  assert.equal("sink broke", err)
end

local function abort_after_transfercmd(ftp)
  assert(ftp:voidcmd("TYPE I"))
  local data = assert(ftp:transfercmd("RETR big.bin"))
  local chunk = assert(data:recv(65536))
  assert.is_true(#chunk > 0)
  local reply, err, code = ftp:abort()
  data:close()
  assert(reply, ("abort() gave %s, %s"):format(tostring(err), tostring(code)))
  assert.is_string(reply)
end

local ABORTS = {
  { name = "a sink returning false", run = stopped_by_sink },
  { name = "a progress callback returning false", run = stopped_by_progress },
  { name = "a sink that raises", run = raising_sink },
  { name = "abort() after transfercmd", run = abort_after_transfercmd },
}

local function variant_tests(variant)
  describe(variant.name, function()
    local s, ftp, tmp

    lazy_setup(function()
      tmp = proc.tempdir("abort-spec")
      s = servers.start(variant.kind, { tls = variant.tls })
      s:write("big.bin", big())
      s:write("small.txt", SMALL)
      ftp = session(s)
    end)

    lazy_teardown(function()
      if ftp then ftp:close() end
      if s then s:stop() end
      if tmp then proc.rmtree(tmp) end
    end)

    for _, abort in ipairs(ABORTS) do
      it(("%s, %d times, leaves the session in step"):format(abort.name, TRIES), function()
        for try = 1, TRIES do
          abort.run(ftp, tmp)
          assert_in_step(ftp, s, abort.name .. ", try " .. try)
        end
        small_download(ftp)
      end)
    end
  end)
end

describe("aborts", function()
  for _, variant in ipairs(plain_variants()) do variant_tests(variant) end
  for _, variant in ipairs(tls_variants()) do variant_tests(variant) end
end)
