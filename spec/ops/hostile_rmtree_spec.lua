-- ftp:rmtree against a server whose listings are hostile (spec/support/hostftp.lua, which
-- records every command and every DELE and RMD it carried out): names that climb out
-- ("../x"), names with a slash or a CR, a link, a folder that lists only itself, a folder that
-- lists itself as a child without end, lines no parser reads. Nothing outside the tree
-- may be deleted, no name the server made up may reach a command, and what cannot be
-- vouched for stays, reported.
local hostile = require "spec.support.hostile"

local ls = hostile.ls

-- The DELE and RMD commands a server received (their arguments).
local function deletes(srv)
  local sent = {}
  for _, line in ipairs(srv:commands()) do
    local verb, argument = line:match("^(%u+) (.*)$")
    if verb == "DELE" or verb == "RMD" then
      sent[#sent + 1] = verb .. " " .. argument
    end
  end
  return sent
end

local function paths_of(list)
  local paths = {}
  for _, item in ipairs(list) do paths[#paths + 1] = item.path end
  table.sort(paths)
  return paths
end

-- Every DELE and RMD names a path under top/ (or top itself) and holds no "..".
local function assert_inside(srv, root)
  for _, command in ipairs(deletes(srv)) do
    local argument = command:match("^%u+ (.*)$")
    assert.is_true(argument == root or argument:sub(1, #root + 1) == root .. "/", command)
    assert.is_nil(argument:find("..", 1, true), command)
  end
end

describe("ftp:rmtree on a hostile server", function()
  local srv

  after_each(function()
    if srv then srv:stop() end
    srv = nil
  end)

  -- top holds a file, names that climb out or hold a slash, a link, a folder listed as
  -- ".." (left out as the parent), a folder that lists only itself (unreadable: kept
  -- whole), a line no parser reads, and a plain subfolder.
  local function scenario()
    return {
      lists = {
        [""] = { lines = { ls("d", "top"), ls("-", "outside.txt", 3) } },
        ["top"] = { lines = {
          ls("-", "a.txt", 1),
          ls("-", "../outside.txt", 3),
          ls("-", "sub/inner.txt", 3),
          ls("-", "evil\rDELE outside.txt", 3),
          ls("d", "../up"),
          ls("l", "lnk", 7, nil, "/etc"),
          ls("d", ".."),
          ls("d", "self"),
          ls("d", "deep"),
          "this is no listing line at all",
        } },
        ["top/self"] = { lines = { ls("d", "self") } },
        ["top/deep"] = { lines = { ls("-", "f.txt", 1) } },
        -- What a client following the link or climbing out would list.
        ["top/lnk"] = { lines = { ls("-", "passwd", 1) } },
        ["up"] = { lines = { ls("-", "victim.txt", 1) } },
      },
      files = {
        ["top/a.txt"] = { data = "a" }, ["top/lnk"] = { data = "/etc" },
        ["top/deep/f.txt"] = { data = "f" }, ["top/self/x"] = { data = "x" },
        ["outside.txt"] = { data = "out" }, ["top/sub/inner.txt"] = { data = "in" },
        ["top/lnk/passwd"] = { data = "root" }, ["up/victim.txt"] = { data = "v" },
      },
    }
  end

  it("deletes only checked names under the tree, keeps what it cannot vouch for", function()
    srv = hostile.start(scenario())
    local ftp = srv:session()
    local report = assert(ftp:rmtree("top"))
    ftp:close()
    assert_inside(srv, "top")
    assert.are.same({ "top/lnk", "top/a.txt", "top/deep/f.txt" }, srv:events("deleted"))
    assert.are.same({ "top/deep" }, srv:events("removed"))
    assert.are.same({ "top/a.txt", "top/deep", "top/deep/f.txt", "top/lnk" },
      (function() local d = { table.unpack(report.deleted) }; table.sort(d); return d end)())
    -- The link was deleted, never listed; the folder listing itself was never emptied.
    for _, line in ipairs(srv:commands()) do
      assert.is_nil(line:find("..", 1, true), line) -- no listed name climbed out
      assert.is_nil(line:find("top/lnk/", 1, true), line)
      assert.is_falsy(line:find("^LIST.* top/lnk$"), line)
    end
    assert.are.same({ "top/../outside.txt", "top/../up", "top/all",
      "top/evil\\rDELE outside.txt", "top/self", "top/sub/inner.txt" }, paths_of(report.failed))
    assert.are.same({ "top" }, paths_of(report.kept))
    assert.are.same({}, srv:errors())
  end)

  it("in a dry run sends no DELE and no RMD, and reports the same", function()
    srv = hostile.start(scenario())
    local ftp = srv:session()
    local report = assert(ftp:rmtree("top", { dry_run = true }))
    ftp:close()
    assert.are.same({}, deletes(srv))
    table.sort(report.deleted)
    assert.are.same({ "top/a.txt", "top/deep", "top/deep/f.txt", "top/lnk" }, report.deleted)
    assert.are.same({ "top" }, paths_of(report.kept))
  end)

  -- A union or virtual file system, or a liar: "x" listed as a folder and as a link to
  -- /etc. Which one the server acts on is unknown: entering "top/x" could go through the
  -- link, so neither is used, nothing under top/x is deleted, and top stays.
  it("a name listed twice (a folder and a link) is neither entered nor deleted", function()
    srv = hostile.start {
      lists = {
        [""] = { lines = { ls("d", "top") } },
        ["top"] = { lines = { ls("-", "a.txt", 1), ls("d", "x"), ls("l", "x", 4, nil, "/etc") } },
        ["top/x"] = { lines = { ls("-", "passwd", 1) } },
      },
      files = { ["top/a.txt"] = { data = "a" }, ["top/x/passwd"] = { data = "root" } },
    }
    local ftp = srv:session()
    local report = assert(ftp:rmtree("top"))
    ftp:close()
    assert.are.same({ "DELE top/a.txt" }, deletes(srv))
    for _, line in ipairs(srv:commands()) do
      assert.is_falsy(line:find("top/x", 1, true), line)
    end
    assert.are.same({ "top/x", "top/x" }, paths_of(report.failed))
    assert.matches("listed more than once", report.failed[1].err)
    assert.are.same({ "top" }, paths_of(report.kept))
  end)

  it("deletes a root that is a link as a link, without listing it", function()
    local tree = scenario()
    tree.lists[""] = { lines = { ls("l", "top", 4, nil, "/") } }
    tree.files["top"] = { data = "/" }
    srv = hostile.start(tree)
    local ftp = srv:session()
    local report = assert(ftp:rmtree("top"))
    ftp:close()
    assert.are.same({ "DELE top" }, deletes(srv))
    assert.are.same({ "top" }, report.deleted)
    for _, line in ipairs(srv:commands()) do
      assert.is_falsy(line:find("^LIST.*top"), line)
      assert.is_falsy(line:find("^MLSD"), line)
    end
  end)

  it("a folder that lists itself as a child without end: bounded, the folders kept", function()
    local files, path = {}, "top"
    for _ = 0, 10 do
      files[path .. "/f.txt"] = { data = "f" }
      path = path .. "/loop"
    end
    srv = hostile.start {
      files = files,
      lists = { [""] = { lines = { ls("d", "top") } } },
      -- Every folder under top lists one more folder "loop" and a file.
      rules = { { pattern = "^top", lines = { ls("d", "loop", 4096, "Feb 01  2020"),
        ls("-", "f.txt", 1) } } },
    }
    local ftp = srv:session()
    local report = assert(ftp:rmtree("top", { max_depth = 5 }))
    ftp:close()
    assert_inside(srv, "top")
    -- The deepest folder was not listed: it and every folder above it stay; the
    -- files listed beside them go.
    assert.are.same({}, srv:events("removed"))
    assert.are.equal(6, #srv:events("deleted"))
    assert.matches("max_depth", report.failed[1].err)
    assert.are.equal(6, #report.kept)
  end)

  it("a walk stopped by max_entries deletes nothing", function()
    srv = hostile.start(scenario())
    local ftp = srv:session()
    local report = assert(ftp:rmtree("top", { max_entries = 3 }))
    ftp:close()
    assert.are.same({}, deletes(srv))
    assert.are.same({}, report.deleted)
    assert.are.equal("limit", report.failed[#report.failed].code)
    assert.matches("^nothing deleted", report.failed[#report.failed].err)
  end)

  it("a root whose folder lists nothing it can read is not touched", function()
    srv = hostile.start {
      lists = { [""] = { lines = { "garbage", "more garbage" } },
        ["top"] = { lines = { ls("-", "a.txt") } } },
      files = { ["top/a.txt"] = { data = "a" } },
    }
    local ftp = srv:session()
    local report, err, code = ftp:rmtree("top")
    ftp:close()
    assert.is_nil(report)
    assert.are.equal("proto", code, err)
    assert.are.same({}, deletes(srv))
  end)
end)
