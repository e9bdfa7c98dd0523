-- ftp:download_many: several files in one call, sequentially or on N
-- sessions at once, each file byte-exact, failures reported per file.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local function login(s, opts)
  local options = { port = s.port, user = s.user, passwd = s.passwd, timeout = 20 }
  for key, value in pairs(opts or {}) do options[key] = value end
  return assert(ftplib.FTP(s.host, options))
end

-- count files of distinct content under s.root/many/, their remote paths.
local function make_files(s, count)
  local paths, contents = {}, {}
  for i = 1, count do
    local content = string.rep(string.char(64 + i), 1000 * i) .. tostring(i)
    paths[i] = "many/f" .. i .. ".bin"
    contents[paths[i]] = content
    s:write(paths[i], content)
  end
  return paths, contents
end

for _, kind in ipairs { "vsftpd", "pyftpdlib" } do
  describe("download_many against " .. kind, function()
    local s, tmp

    setup(function()
      s = servers.start(kind)
      tmp = proc.tempdir("many")
    end)

    teardown(function()
      s:stop()
      proc.rmtree(tmp)
    end)

    for _, n in ipairs { 1, 3 } do
      it(("downloads every file byte for byte with parallel = %d and reports a missing one"):
        format(n), function()
        local paths, contents = make_files(s, 7)
        local wanted = { table.unpack(paths) }
        table.insert(wanted, 4, "many/missing.bin")
        local dir = tmp .. "/p" .. n
        proc.run("mkdir -p " .. proc.shell_quote(dir))
        local ftp <close> = login(s)
        local seen = {}
        local report = ftp:download_many(wanted, { dir = dir, parallel = n,
          progress = function(_, _, remote) seen[remote] = true end })
        assert.same(paths, report.done)
        assert.equal(1, #report.failed)
        assert.equal("many/missing.bin", report.failed[1].path)
        assert.equal(550, report.failed[1].code)
        local total = 0
        for _, path in ipairs(paths) do
          local name = path:match("[^/]+$")
          assert.equal(contents[path], proc.read_file(dir .. "/" .. name))
          assert.is_true(seen[path])
          total = total + #contents[path]
        end
        assert.equal(total, report.bytes)
        assert.is_nil(proc.read_file(dir .. "/missing.bin"))
        assert.is_nil(proc.read_file(dir .. "/missing.bin.part"))
        assert.equal("200", ftp:sendcmd("NOOP"):sub(1, 3)) -- the first session goes on
      end)
    end

    it("takes {remote, localpath} pairs", function()
      s:write("pair/a.txt", "first")
      local ftp <close> = login(s)
      local report = ftp:download_many({ { "pair/a.txt", tmp .. "/renamed.txt" } })
      assert.same({ "pair/a.txt" }, report.done)
      assert.equal("first", proc.read_file(tmp .. "/renamed.txt"))
    end)
  end)
end

describe("download_many", function()
  it("runs its sessions at once: against 50 ms replies, 4 sessions beat one by 2x", function()
    local s = servers.start("pyftpdlib", { delay = 0.05 })
    local tmp = proc.tempdir("many-delay")
    finally(function() s:stop(); proc.rmtree(tmp) end)
    local paths = make_files(s, 16)
    local logins = 0
    local function count_logins(line)
      if line:find("USER ", 1, true) then logins = logins + 1 end
    end
    local ftp <close> = login(s, { debuglevel = 1, debugfunc = count_logins })
    local started = ftplib.now()
    assert.equal(16, #ftp:download_many(paths, { dir = tmp }).done)
    local sequential = ftplib.now() - started
    started = ftplib.now()
    assert.equal(16, #ftp:download_many(paths, { dir = tmp, parallel = 4 }).done)
    local concurrent = ftplib.now() - started
    assert.equal(4, logins) -- the first session's, then one per clone
    assert.is_true(concurrent * 2 < sequential,
      ("sequential %.2f s, 4 sessions %.2f s"):format(sequential, concurrent))
  end)

  it("raises for bad arguments", function()
    local ftp = ftplib.FTP()
    assert.has_error(function() ftp:download_many("x") end)
    assert.has_error(function() ftp:download_many({ 42 }) end,
      "ftplib: download_many: file #1 must be a remote path or {remote, localpath}")
    assert.has_error(function() ftp:download_many({}, { parallel = 0 }) end)
    assert.has_error(function() ftp:download_many({}, { bogus = true }) end,
      "ftplib: unknown option 'bogus' to 'download_many'")
  end)
end)
