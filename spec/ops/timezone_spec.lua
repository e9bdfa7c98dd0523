-- The timezone option against real servers whose LIST shows their local time: vsftpd
-- with use_localtime=YES and TZ set (its MDTM is local too: the offset is given), and
-- GNU inetutils ftpd with TZ set (its MDTM is UTC: "auto" finds the offset). With the
-- right offset a second mirror transfers nothing; without it, mirror misjudges.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local function login(s, timezone)
  return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
    timeout = 20, timezone = timezone }))
end

-- Files on the server, last modified an hour and a half ago (true UTC times).
local FILES = { "a.txt", "b/c.txt", "b/d.bin" }
local function write_files(s, top, age)
  local when = os.time() - (age or 5400)
  for i, rel in ipairs(FILES) do
    s:write(top .. "/" .. rel, string.rep("x", i * 10))
    assert(lfs.touch(s:path(top .. "/" .. rel), when, when))
  end
  return when
end

-- Files sent and folders made.
local function count_transfers(report)
  return #report.created + #report.updated
end
local MADE = #FILES + 1 -- and the folder b

describe("timezone against vsftpd showing local time in LIST", function()
  local s, tmp

  setup(function()
    s = servers.start("vsftpd", { localtime = "XYZ+5" }) -- UTC-05:00
    tmp = proc.tempdir("timezone")
  end)

  teardown(function()
    s:stop()
    proc.rmtree(tmp)
  end)

  it("shifts LIST times by the offset given, to the file's true UTC time", function()
    local when = write_files(s, "list")
    local ftp <close> = login(s, "-0500")
    local entries = assert(ftp:list("list"))
    local a
    for _, entry in ipairs(entries) do
      if entry.name == "a.txt" then a = entry end
    end
    assert.equal(when - when % 60, a.modify)
    assert.same({ -18000, "option" }, { ftp:server_timezone() })
    local plain <close> = login(s)
    for _, entry in ipairs(assert(plain:list("list"))) do
      if entry.name == "a.txt" then
        assert.equal(when - when % 60 - 18000, entry.modify) -- local time read as UTC
      end
    end
  end)

  it("mirror_up sends nothing the second time with the offset, resends all without",
    function()
      local source = tmp .. "/up"
      for i, rel in ipairs(FILES) do
        proc.run("mkdir -p " .. proc.shell_quote((source .. "/" .. rel):match("^(.*)/")))
        proc.write_file(source .. "/" .. rel, string.rep("y", i))
        -- Modified an hour ago: older than the uploads, newer than them 5 h behind UTC.
        assert(lfs.touch(source .. "/" .. rel, os.time() - 3600, os.time() - 3600))
      end
      local ftp <close> = login(s, "-05:00")
      local report = assert(ftp:mirror_up(source, "up"))
      assert.equal(MADE, count_transfers(report))
      report = assert(ftp:mirror_up(source, "up"))
      assert.same({}, report.failed)
      assert.equal(0, count_transfers(report))
      -- The same server read as UTC: every upload looks five hours old.
      local misjudged <close> = login(s)
      report = assert(misjudged:mirror_up(source, "up"))
      assert.equal(#FILES, #report.updated)
    end)

  it("mirror down finds local copies with true times unchanged with the offset", function()
    write_files(s, "down")
    local dest = tmp .. "/down"
    local ftp <close> = login(s, -18000)
    assert.equal(MADE, count_transfers(assert(ftp:mirror("down", dest))))
    for _, rel in ipairs(FILES) do -- the true time, to LIST's minute
      local remote = lfs.attributes(s:path("down/" .. rel), "modification")
      assert.equal(remote - remote % 60, lfs.attributes(dest .. "/" .. rel, "modification"))
    end
    assert.equal(0, count_transfers(assert(ftp:mirror("down", dest))))
    local misjudged <close> = login(s)
    assert.equal(#FILES, #assert(misjudged:mirror("down", dest)).updated)
  end)

  it("finds no offset with auto, as this vsftpd's MDTM is local time too", function()
    write_files(s, "auto")
    local ftp <close> = login(s, "auto")
    assert.same({ nil, "not found yet: no LIST with a file's time of day so far" },
      { ftp:server_timezone() })
    assert(ftp:list("auto"))
    assert.same({ 0, "auto" }, { ftp:server_timezone() })
  end)
end)

local inetutils = servers.available("inetutils")
local describe_inetutils = inetutils and describe or pending

describe_inetutils("timezone = \"auto\" against GNU inetutils ftpd (LIST local, MDTM UTC)",
  function()
    local s, tmp

    setup(function()
      s = servers.start("inetutils", { localtime = "XYZ-3" }) -- UTC+03:00
      tmp = proc.tempdir("timezone-auto")
    end)

    teardown(function()
      s:stop()
      proc.rmtree(tmp)
    end)

    it("finds +03:00 once per session and mirrors nothing the second time", function()
      write_files(s, "tree")
      local dest = tmp .. "/tree"
      local commands = {}
      local ftp <close> = assert(ftplib.FTP(s.host, { port = s.port, user = s.user,
        passwd = s.passwd, timeout = 20, timezone = "auto", debuglevel = 1,
        debugfunc = function(line) commands[#commands + 1] = line end }))
      local report = assert(ftp:mirror("tree", dest))
      assert.same({}, report.failed)
      assert.equal(MADE, count_transfers(report))
      assert.same({ 10800, "auto" }, { ftp:server_timezone() })
      for _, rel in ipairs(FILES) do
        local remote = lfs.attributes(s:path("tree/" .. rel), "modification")
        assert.equal(remote - remote % 60, lfs.attributes(dest .. "/" .. rel, "modification"))
      end
      report = assert(ftp:mirror("tree", dest))
      assert.equal(0, count_transfers(report))
      local mdtms = 0
      for _, line in ipairs(commands) do
        if line:find("^%*cmd%* 'MDTM ") then mdtms = mdtms + 1 end
      end
      assert.equal(1, mdtms) -- once per session, whatever the listings
      -- Without the offset the same copy looks three hours older: all sent again.
      local misjudged <close> = login(s)
      assert.equal(#FILES, #assert(misjudged:mirror("tree", dest)).updated)
    end)
  end)
