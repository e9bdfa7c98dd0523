-- The helpers against servers that behave oddly or refuse (spec/support/hostile.lua):
-- the quirks of issue 12's servers (CR CR LF line ends, raw names, paths starting with -,
-- no REST or APPE, RNTO onto a file refused), and atomic uploads that never lose the
-- remote file whatever rename or delete is refused. Each scenario runs in a sandbox
-- (spec/support/sandbox.lua); after each one nothing outside the target changed.
local hostile = require "spec.support.hostile"
local sandbox = require "spec.support.sandbox"

local ls, mlsx = hostile.ls, hostile.mlsx
local MLST = hostile.MLST
local within = sandbox.within

-- The test's sandbox, and the hostile server it started: checked and stopped after it.
local box, srv
before_each(function() box = sandbox.new() end)
after_each(function() srv = sandbox.finish(box, srv) end)

describe("odd servers (issue 12)", function()
  it("strips the CRs of lines ending in CR CR LF (Globus GridFTP)", function()
    srv = hostile.start { features = MLST,
      mlsd = { [""] = { eol = "\r\r\n", lines = { mlsx("file", "f", 1) } } },
      lists = { [""] = { eol = "\r\r\n", lines = { ls("-", "f", 1) } } },
      files = { f = { data = "f" } } }
    local ftp = srv:session()
    local entries = assert(ftp:list(""))
    assert.are.equal("f", entries[1].name)
    assert.are.same({ "f" }, assert(ftp:nlst("")))
    local report = assert(ftp:mirror("", box.target))
    ftp:close()
    assert.are.same({ "f" }, report.created)
    assert.are.same({}, report.failed)
  end)

  it("sends a name listed raw (not GBK, but valid UTF-8) back as it came", function()
    local RAW = "\228\184\173" -- UTF-8 for U+4E2D; as GBK, a pair and a lone lead byte
    local GBK_DIR, UTF8_DIR = "\206\196", "\230\150\135" -- U+6587 in GBK, in UTF-8
    local lines, files, expected = {}, {}, { [UTF8_DIR] = "<dir>" }
    for i = 1, 4 do
      local name = i .. RAW
      lines[i] = ls("-", name, 1)
      -- Slow, so that the clone of a parallel mirror takes some of them.
      files[GBK_DIR .. "/" .. name] = { data = tostring(i), chunk = 1, pause = 0.2 }
      expected[UTF8_DIR .. "/" .. name] = tostring(i)
    end
    files[RAW], expected[RAW] = { data = "raw" }, "raw"
    srv = hostile.start { lists = { [""] = { lines = { ls("-", RAW, 3), ls("d", GBK_DIR) } },
      [GBK_DIR] = { lines = lines } }, files = files }
    local ftp = srv:session { encoding = "gbk" }
    local report = within(20, function() return assert(ftp:mirror("", box.target)) end)
    assert.are.same({}, report.failed)
    assert.are.same(expected, box:inside())
    -- The same from the clones of a parallel mirror, and from download and delete.
    for i = 1, 4 do os.remove(box:path(UTF8_DIR .. "/" .. i .. RAW)) end
    report = assert(ftp:mirror("", box.target, { parallel = 3 }))
    assert.are.same({}, report.failed)
    assert.are.equal(4, #report.created)
    assert.are.same(expected, box:inside())
    assert.are.equal(3, ftp:download(RAW, box:path("again")))
    assert(ftp:delete(RAW))
    ftp:close()
    srv:stop()
    assert.are.same({ RAW }, srv:events("deleted"))
    local users = 0
    for _, command in ipairs(srv:commands()) do
      if command:match("^USER") then users = users + 1 end
    end
    assert.is_true(users > 1, "no clone logged in")
  end)

  it("list and walk send a path starting with - as ./path (ls takes it so); nlst, dir and"
    .. " mlsd send what the caller wrote (Python's dir('-la'))", function()
    srv = hostile.start { features = MLST, lists = { ["-d"] = { lines = { ls("-", "a", 1) } } },
      mlsd = { ["-d"] = { lines = { mlsx("file", "a", 1) } } } }
    local ftp = srv:session()
    -- What these answer is the server's business (hostftp, as ls, reads "-d" as an
    -- option): only what they send is checked.
    ftp:nlst("-d")
    ftp:dir("-d", function() end)
    local entries = ftp:mlsd("-d")
    if entries then for _ in entries do end end
    assert.are.equal("a", assert(ftp:list("-d"))[1].name)
    for _ in ftp:walk("-d") do end
    ftp:close()
    local sent = {}
    for _, command in ipairs(srv:commands()) do
      if command:match("^%u+ .*%-d") then sent[#sent + 1] = command end
    end
    assert.are.same({ "NLST -d", "LIST -d", "MLSD -d", "MLSD ./-d", "MLST ./-d",
      "MLSD ./-d" }, sent)
  end)

  it("upload resume without REST or APPE starts over and says so (Twisted)", function()
    srv = hostile.start { refuse_rest = true, refuse_appe = true,
      files = { up = { data = "half" } } }
    local source = box:write("source", "half and the rest")
    local ftp = srv:session()
    local bytes, info = ftp:upload(source, "up", { resume = true })
    ftp:close()
    assert.are.equal(17, bytes, info)
    assert.matches("neither REST %+ STOR nor APPE", info.restarted)
    assert.are.same({ "up 17" }, srv:events("stored"))
  end)

  it("atomic upload replaces a file where RNTO onto it is refused (aioftp)", function()
    srv = hostile.start { refuse_rename_over = "550 path already exists",
      files = { up = { data = "old" } } }
    local source = box:write("source", "new version")
    local ftp = srv:session()
    local bytes, info = ftp:upload(source, "up", { atomic = true })
    ftp:close()
    assert.are.equal(11, bytes, info)
    assert.matches("moved aside, then deleted", info.replaced)
    assert.are.same({ "up -> up.part.old", "up.part -> up" }, srv:events("renamed"))
    assert.are.same({ "up.part.old" }, srv:events("deleted"))
  end)
end)

describe("atomic uploads never lose the remote file", function()
  local function upload(scenario)
    srv = hostile.start(scenario)
    local source = box:write("source", "new version")
    local ftp = srv:session()
    local bytes, info, code = within(20, function()
      return ftp:upload(source, "up", { atomic = true })
    end)
    ftp:close()
    srv:stop()
    return bytes, info, code
  end

  it("keeps the old file when every rename is refused, even where DELE works", function()
    local bytes, err, code = upload { rnfr_refusals = { "550 Rename refused", "550 Rename refused",
      "550 Rename refused", "550 Rename refused" }, files = { up = { data = "old" } } }
    assert.is_nil(bytes)
    assert.are.equal(550, code, err)
    assert.are.same({}, srv:events("renamed"))
    assert.are.same({ "up.part" }, srv:events("deleted")) -- the temporary only
  end)

  it("keeps the old file when RNTO is refused for another reason than the name", function()
    local bytes, err, code = upload { refuse_rename_over = "553 Permission denied",
      files = { up = { data = "old" } } }
    assert.is_nil(bytes)
    assert.are.equal(553, code)
    assert.matches("Permission denied", err)
    assert.are.same({}, srv:events("renamed"))
    assert.are.same({ "up.part" }, srv:events("deleted"))
  end)

  it("says so when the old file, moved aside, cannot be deleted", function()
    local bytes, info = upload { refuse_rename_over = "550 path already exists",
      refuse_dele = { ["up.part.old"] = "550 Permission denied" },
      files = { up = { data = "old" } } }
    assert.are.equal(11, bytes, info)
    assert.matches("moved aside to up%.part%.old, which could not be deleted %(550 Permission",
      info.replaced)
    assert.are.same({ "up -> up.part.old", "up.part -> up" }, srv:events("renamed"))
    assert.are.same({}, srv:events("deleted"))
  end)

  it("keeps both files when neither can take the name after the old one moved aside",
    function()
    local bytes, err = upload { refuse_rename_over = "550 path already exists",
      rnfr_refusals = { [3] = "550 Rename refused", [4] = "550 Rename refused" },
      files = { up = { data = "old" } } }
    assert.is_nil(bytes)
    assert.matches("up was moved aside to up%.part%.old, then neither the new file %(up%.part%) "
      .. "nor the old one could take its name .*: both kept", err)
    assert.are.same({ "up -> up.part.old" }, srv:events("renamed"))
    assert.are.same({}, srv:events("deleted")) -- the new file is kept
  end)

  it("never replaces a folder that has the name (aioftp's refusal)", function()
    local bytes, err, code = upload { refuse_rename_over = "550 path already exists",
      cwd = { up = true } }
    assert.is_nil(bytes)
    assert.are.equal(550, code)
    assert.matches("^up: a folder has that name, not replaced", err)
    assert.are.same({}, srv:events("renamed"))
    assert.are.same({ "up.part" }, srv:events("deleted"))
  end)
end)
