-- mirror and mirror_up with parallel = N (lua/ftplib/ops/parallel.lua): transfers on N
-- sessions at once against real servers, a slow one (pyftpdlib with a reply delay) for
-- the timing, FTPS for the clones' TLS settings, and failures that stop nothing else.
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local DELAY = 0.05
local FILES = 16

local function login(s, extra)
  local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 10 }
  for k, v in pairs(extra or {}) do
    opts[k] = v
  end
  return assert(ftplib.FTP(s.host, opts))
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

-- "d/f01.txt" .. : FILES files in two folders, each content naming its file.
local function tree_names()
  local names = {}
  for i = 1, FILES do
    names[i] = ("%s/f%02d.txt"):format(i % 2 == 0 and "even" or "odd", i)
  end
  return names
end

local function fill_server(s, root)
  for _, name in ipairs(tree_names()) do
    s:write(root .. "/" .. name, "content of " .. name .. "\n" .. ("x"):rep(1000))
  end
end

local function assert_copied(s, root, dir)
  for _, name in ipairs(tree_names()) do
    assert.equal(s:read(root .. "/" .. name), proc.read_file(dir .. "/" .. name), name)
  end
end

describe("parallel mirror", function()
  local slow, bulk, tmp

  lazy_setup(function()
    tmp = proc.tempdir("pmirror")
    slow = servers.start("pyftpdlib", { delay = DELAY })
    fill_server(slow, "tree")
    bulk = servers.start(servers.kinds()[1])
    fill_server(bulk, "pub/tree")
  end)

  lazy_teardown(function()
    if slow then slow:stop() end
    if bulk then bulk:stop() end
    if tmp then proc.rmtree(tmp) end
  end)

  it("downloads on 4 sessions in a fraction of the sequential time, same report", function()
    local ftp = login(slow)
    local t0 = ftplib.now()
    local one = assert(ftp:mirror("tree", tmp .. "/seq"))
    local sequential = ftplib.now() - t0
    t0 = ftplib.now()
    local four = assert(ftp:mirror("tree", tmp .. "/par", { parallel = 4 }))
    local parallel = ftplib.now() - t0
    ftp:quit()
    assert_copied(slow, "tree", tmp .. "/par")
    assert.same(one.created, four.created) -- in plan order both times
    assert.equal(FILES + 2, #four.created)
    assert.same({}, four.failed)
    -- Listing the tree and logging the clones in are not parallel: with 16 files,
    -- four round trips each, that leaves about 2x.
    assert.is_true(parallel < sequential / 1.5,
      ("parallel %.2f s, sequential %.2f s"):format(parallel, sequential))
  end)

  it("uploads on 3 sessions, and a second run skips everything", function()
    local ftp = login(bulk)
    local report = assert(ftp:mirror_up(tmp .. "/seq", "up", { parallel = 3 }))
    assert.equal(FILES + 2, #report.created)
    assert.same({}, report.failed)
    for _, name in ipairs(tree_names()) do
      assert.equal(proc.read_file(tmp .. "/seq/" .. name), bulk:read("up/" .. name))
    end
    local again = assert(ftp:mirror_up(tmp .. "/seq", "up", { parallel = 3 }))
    assert.same({}, again.created)
    assert.same({}, again.updated)
    ftp:quit()
  end)

  it("starts the clones in the first session's folder", function()
    local ftp = login(bulk)
    assert(ftp:cwd("pub"))
    local report = assert(ftp:mirror("tree", tmp .. "/rel", { parallel = 3 }))
    ftp:quit()
    assert.same({}, report.failed)
    assert_copied(bulk, "pub/tree", tmp .. "/rel")
  end)

  it("reports a failed transfer and does all the others", function()
    local dir = tmp .. "/fail"
    assert(lfs.mkdir(dir))
    assert(lfs.mkdir(dir .. "/odd"))
    -- The download of odd/f03.txt writes odd/f03.txt.part, a name a download made
    -- (its origin record says so): a folder there, not empty, fails it.
    assert(lfs.mkdir(dir .. "/odd/f03.txt.part"))
    proc.write_file(dir .. "/odd/f03.txt.part/x", "x")
    assert(require("ftplib.core").file_origin(dir .. "/odd/f03.txt.part", "ftplib-1 - - - x"))
    local ftp = login(bulk)
    local report = assert(ftp:mirror("pub/tree", dir, { parallel = 4 }))
    ftp:quit()
    assert.equal(1, #report.failed)
    assert.equal("odd/f03.txt", report.failed[1].path)
    assert.equal(FILES - 1, #report.created - 1) -- every other file, and folder "even"
    for _, name in ipairs(tree_names()) do
      if name ~= "odd/f03.txt" then
        assert.equal(bulk:read("pub/tree/" .. name), proc.read_file(dir .. "/" .. name))
      end
    end
  end)

  it("goes on with fewer sessions when clones cannot log in", function()
    local ftp = login(bulk)
    ftp._login_args = { bulk.user, "wrong password" } -- clones would log in with this
    local report = assert(ftp:mirror("pub/tree", tmp .. "/fewer", { parallel = 3 }))
    ftp:quit()
    assert.same({}, report.failed)
    assert_copied(bulk, "pub/tree", tmp .. "/fewer")
  end)

  it("runs inside a task beside another one", function()
    local mirrored = ftplib.spawn(function()
      local ftp = login(slow)
      local report = ftp:mirror("tree", tmp .. "/task", { parallel = 4 })
      ftp:quit()
      return report
    end)
    local other = ftplib.spawn(function()
      local ftp = login(slow)
      local names = assert(ftp:nlst("tree"))
      ftp:quit()
      return names
    end)
    assert.is_true(ftplib.run())
    assert.same({}, mirrored:result().failed)
    assert_copied(slow, "tree", tmp .. "/task")
    local names = {}
    for i, name in ipairs(other:result()) do
      names[i] = name:match("[^/]*$") -- with or without "tree/", by server
    end
    assert.same({ "even", "odd" }, sorted(names))
  end)

  it("raises for a parallel that is not a positive integer", function()
    local ftp = login(bulk)
    assert.has_error(function() ftp:mirror("pub/tree", tmp .. "/bad", { parallel = 0 }) end,
      "ftplib: parallel must be a positive integer")
    ftp:quit()
  end)
end)

local tls_variant = servers.tls_kinds()[1]
if tls_variant then
  describe("parallel mirror over FTPS on " .. tls_variant.name, function()
    local s, tmp

    setup(function()
      tmp = proc.tempdir("pmirror-tls")
      s = servers.start(tls_variant.kind, { tls = tls_variant.tls })
      fill_server(s, "tree")
    end)

    teardown(function()
      s:stop()
      proc.rmtree(tmp)
    end)

    it("clones the TLS settings: every session verified, data protected", function()
      local ftp = assert(ftplib.FTP_TLS(s.host, {
        port = s.port, user = s.user, passwd = s.passwd, timeout = 10,
        tls = { cafile = s.ca, implicit = s.tls.mode == "implicit" },
      }))
      local report = assert(ftp:mirror("tree", tmp .. "/down", { parallel = 3 }))
      ftp:quit()
      assert.same({}, report.failed)
      assert_copied(s, "tree", tmp .. "/down")
    end)
  end)
end
