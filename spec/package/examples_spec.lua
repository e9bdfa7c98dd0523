-- The scripts in examples/: each run as its own lua5.4 process, as a user would run
-- it, against real servers; the files it leaves (locally or on the server) are checked
-- byte for byte, not only its exit status.
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local lfs = require "lfs"

local cli_runner = require "spec.support.cli_runner"
local ROOT, ENV = cli_runner.ROOT, cli_runner.ENV

local KINDS = { "vsftpd", "pyftpdlib" }
if servers.available("proftpd") then
  KINDS[#KINDS + 1] = "proftpd"
end

-- "报告.txt" and "说明.txt" in UTF-8 and in GBK.
local REPORT_UTF8 = "\230\138\165\229\145\138.txt"
local REPORT_GBK = "\177\168\184\230.txt"
local README_UTF8 = "\232\175\180\230\152\142.txt"
local README_GBK = "\203\181\195\247.txt"

local tmp -- a fresh folder per describe block; HOME points there (no ~/.netrc)

-- Runs examples/NAME.lua with argv; returns its exit status, stdout, stderr.
local function run_example(name, ...)
  local words = {}
  for i, word in ipairs { ... } do
    words[i] = proc.shell_quote(word)
  end
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(("%s HOME=%s lua5.4 %s %s > %s 2> %s < /dev/null"):format(
    ENV, proc.shell_quote(tmp), proc.shell_quote(ROOT .. "/examples/" .. name .. ".lua"),
    table.concat(words, " "), out, err))
  return status, proc.read_file(out), proc.read_file(err)
end

-- `size` bytes of every value, different for each seed.
local function random_bytes(size, seed)
  local state = seed
  local parts = {}
  for i = 1, (size + 3) // 4 do
    state = (state * 1103515245 + 12345) % 2147483648
    parts[i] = string.pack("<I4", state * 2654435761 % 4294967296)
  end
  return table.concat(parts):sub(1, size)
end

-- mkdir -p of an absolute path.
local function make_dirs(dir)
  local made = ""
  for part in dir:gmatch("[^/]+") do
    made = made .. "/" .. part
    lfs.mkdir(made)
  end
end

local function write(path, content)
  make_dirs(path:match("^(.*)/[^/]*$"))
  proc.write_file(path, content)
end

-- Every file under `dir`: relative path -> content; folders as relative path -> true.
local function local_tree(dir, rel, tree)
  tree = tree or {}
  for name in lfs.dir(dir .. (rel and "/" .. rel or "")) do
    if name ~= "." and name ~= ".." then
      local child = rel and rel .. "/" .. name or name
      local path = dir .. "/" .. child
      if lfs.attributes(path, "mode") == "directory" then
        tree[child] = true
        local_tree(dir, child, tree)
      else
        tree[child] = proc.read_file(path)
      end
    end
  end
  return tree
end

-- A tree with nested folders, an empty folder, an empty file and a name with a space.
local function sample_tree()
  return {
    ["a.bin"] = random_bytes(300000, 1),
    ["with space.txt"] = "x y\n",
    ["sub"] = true,
    ["sub/b.txt"] = "bee\n",
    ["sub/zero.txt"] = "",
    ["sub/deeper"] = true,
    ["sub/deeper/c.bin"] = random_bytes(70001, 2),
    ["empty"] = true,
  }
end

-- Puts a tree (as sample_tree gives) under `prefix` on server s.
local function serve_tree(s, prefix, tree)
  for rel, content in pairs(tree) do
    if content == true then
      s:mkdir(prefix .. "/" .. rel)
    else
      s:write(prefix .. "/" .. rel, content)
    end
  end
end

for _, kind in ipairs(KINDS) do
  describe("examples against " .. kind, function()
    local s

    setup(function()
      tmp = proc.tempdir("examples")
      s = servers.start(kind)
    end)

    teardown(function()
      if s then s:stop() end
      proc.rmtree(tmp)
    end)

    describe("download_folder.lua", function()
      it("downloads every file of a nested folder, byte for byte", function()
        local tree = sample_tree()
        serve_tree(s, "pub", tree)
        local status, out, err = run_example("download_folder", s:url("/pub"), tmp .. "/down")
        assert.are.equal(0, status, err)
        -- Exactly the server's tree: every file whole, the empty folder, no .part left.
        assert.are.same(tree, local_tree(tmp .. "/down"))
        assert.matches("5 downloaded %(370009 bytes%), 0 already there, 0 failed", out)
        assert.matches("\rpub/a%.bin: 300000 of 300000 bytes", err)
      end)

      it("resumes a download cut short and skips the files already whole", function()
        local tree = sample_tree()
        serve_tree(s, "pub2", tree)
        local dest = tmp .. "/resume"
        write(dest .. "/a.bin.part", tree["a.bin"]:sub(1, 100000))
        -- The origin record a download cut short leaves: the remote path as the
        -- example names it, the listing's size and time.
        local ftp, root = assert(require("ftplib").open(s:url("/pub2")))
        local remote = (root == "" or root:sub(-1) == "/") and root .. "a.bin" or root .. "/a.bin"
        for _, entry in ipairs(assert(ftp:list(root))) do
          if entry.name == "a.bin" then
            assert(require("ftplib.core").file_origin(dest .. "/a.bin.part",
              require("ftplib.ops.whole_files")._origin_text { remote = remote, size = entry.size,
                modify = entry.modify, precision = entry.precision }))
          end
        end
        ftp:close()
        write(dest .. "/sub/b.txt", tree["sub/b.txt"])
        local status, out, err = run_example("download_folder", s:url("/pub2"), dest)
        assert.are.equal(0, status, err)
        assert.are.same(tree, local_tree(dest))
        assert.matches("pub2/a%.bin: 200000 bytes %(resumed after 100000%)", out)
        assert.matches("4 downloaded %(270005 bytes%), 1 already there, 0 failed", out)

        -- A second run finds everything whole and transfers nothing.
        status, out, err = run_example("download_folder", s:url("/pub2"), dest)
        assert.are.equal(0, status, err)
        assert.matches("0 downloaded %(0 bytes%), 5 already there, 0 failed", out)
        assert.are.same(tree, local_tree(dest))
      end)

      it("fails with status 1 when the folder cannot be listed", function()
        local status, out, err = run_example("download_folder", s:url("/no-such-folder"),
          tmp .. "/none")
        assert.are.equal(1, status, out)
        assert.matches("cannot list no%-such%-folder", err)
        assert.are.same({}, local_tree(tmp .. "/none"))
      end)
    end)

    describe("upload_folder.lua", function()
      it("uploads a tree, then only the changes; --dry-run changes nothing", function()
        local src = tmp .. "/up-src"
        local tree = sample_tree()
        for rel, content in pairs(tree) do
          if content == true then
            make_dirs(src .. "/" .. rel)
          else
            write(src .. "/" .. rel, content)
          end
        end
        local status, out, err = run_example("upload_folder", src, s:url("/backup"))
        assert.are.equal(0, status, err .. out)
        assert.are.same(tree, local_tree(s:path("backup")))
        assert.matches("created sub/deeper/c%.bin\n", out)
        assert.matches("created empty\n", out)

        -- A changed file, a deleted one, a new one.
        local changed = "bee, changed\n"
        write(src .. "/sub/b.txt", changed)
        os.remove(src .. "/a.bin")
        write(src .. "/new.txt", "new\n")
        status, out, err = run_example("upload_folder", "--dry-run", "--delete", src,
          s:url("/backup"))
        assert.are.equal(0, status, err .. out)
        assert.matches("would be updated sub/b%.txt\n", out)
        assert.matches("would be created new%.txt\n", out)
        assert.matches("would be deleted a%.bin\n", out)
        assert.are.same(tree, local_tree(s:path("backup")))

        status, out, err = run_example("upload_folder", "--delete", src, s:url("/backup"))
        assert.are.equal(0, status, err .. out)
        assert.matches("1 created, 1 updated, %d+ unchanged, 1 deleted, 0 failed", out)
        tree["a.bin"], tree["sub/b.txt"], tree["new.txt"] = nil, changed, "new\n"
        assert.are.same(tree, local_tree(s:path("backup")))
      end)

      it("fails with status 1 when the local folder is missing", function()
        local status, out, err = run_example("upload_folder", tmp .. "/missing", s:url("/b2"))
        assert.are.equal(1, status, out)
        assert.matches("^upload_folder: ", err)
      end)
    end)

    describe("delete_old.lua", function()
      it("deletes the files older than N days that match, after a dry run", function()
        local now = os.time()
        local ages = { ["old.log"] = 40, ["ancient.log"] = 400, ["new.log"] = 0,
          ["old.txt"] = 40, ["app.log.1"] = 40 }
        for name, days in pairs(ages) do
          local path = s:write("logs/" .. name, name .. " content\n")
          assert(lfs.touch(path, now - days * 86400, now - days * 86400))
        end
        local dir = s:mkdir("logs/archive.log")
        assert(lfs.touch(dir, now - 90 * 86400, now - 90 * 86400))

        local status, out, err = run_example("delete_old", "--dry-run", s:url("/logs"), "7",
          "*.log")
        assert.are.equal(0, status, err)
        assert.matches("would delete logs/ancient%.log %(40%d days old%)\n", out)
        assert.matches("would delete logs/old%.log %(40 days old%)\n", out)
        assert.matches("2 file%(s%) to delete %(dry run", out)
        for name in pairs(ages) do
          assert.are.equal(name .. " content\n", s:read("logs/" .. name))
        end

        status, out, err = run_example("delete_old", s:url("/logs"), "7", "*.log")
        assert.are.equal(0, status, err)
        assert.matches("2 file%(s%) deleted, 0 failed", out)
        assert.is_nil(s:read("logs/old.log"))
        assert.is_nil(s:read("logs/ancient.log"))
        -- Too young, not matching (old.txt, app.log.1), or a folder: kept as they were.
        assert.are.same({
          ["new.log"] = "new.log content\n", ["old.txt"] = "old.txt content\n",
          ["app.log.1"] = "app.log.1 content\n", ["archive.log"] = true,
        }, local_tree(s:path("logs")))
      end)
    end)
  end)
end

describe("copy_between_servers.lua", function()
  local a, b, foreign

  setup(function()
    tmp = proc.tempdir("examples-copy")
    a = servers.start("vsftpd")
    b = servers.start("pyftpdlib")
    -- On 127.0.0.2: the target sees the client at 127.0.0.1, and refuses PORT there.
    foreign = servers.start("vsftpd", { host = "127.0.0.2" })
  end)

  teardown(function()
    for _, s in ipairs { a, b, foreign } do s:stop() end
    proc.rmtree(tmp)
  end)

  it("copies by FXP between two servers, byte for byte", function()
    local content = random_bytes(1000003, 3)
    a:write("pub/big.bin", content)
    b:mkdir("incoming")
    local status, out, err = run_example("copy_between_servers", a:url("/pub/big.bin"),
      b:url("/incoming/"))
    assert.are.equal(0, status, err)
    assert.are.equal("copied pub/big.bin to incoming/big.bin: 1000003 bytes by fxp\n", out)
    assert.are.equal(content, b:read("incoming/big.bin"))
  end)

  it("relays through the client with --relay", function()
    local content = random_bytes(200000, 4)
    b:write("r.bin", content)
    local status, out, err = run_example("copy_between_servers", "--relay", b:url("/r.bin"),
      a:url("/copy.bin"))
    assert.are.equal(0, status, err)
    assert.matches("^copied r%.bin to copy%.bin: 200000 bytes by relay\n", out)
    assert.are.equal(content, a:read("copy.bin"))
  end)

  it("falls back to the relay when the target refuses FXP, and says why", function()
    local content = random_bytes(300000, 5)
    foreign:write("f.bin", content)
    local status, out, err = run_example("copy_between_servers", foreign:url("/f.bin"),
      b:url("/"))
    assert.are.equal(0, status, err)
    assert.matches("^copied f%.bin to f%.bin: 300000 bytes by relay\n", out)
    assert.matches("\nrelayed because FXP refused: 501 ", out)
    assert.are.equal(content, b:read("f.bin"))
  end)

  it("fails with status 1 and the server's words for a missing source", function()
    local status, out, err = run_example("copy_between_servers", a:url("/nothing.bin"),
      b:url("/nothing.bin"))
    assert.are.equal(1, status, out)
    assert.matches("^copy_between_servers: 550", err)
    assert.is_nil(b:read("nothing.bin"))
  end)
end)

describe("windows_gbk.lua", function()
  -- vsftpd keeps GBK bytes on disk and sends them as they are; pyftpdlib with
  -- --encoding gbk keeps UTF-8 on disk and speaks GBK on the wire.
  local variants = {
    { kind = "vsftpd", report = REPORT_GBK, readme = README_GBK },
    { kind = "pyftpdlib", opts = { encoding = "gbk" }, report = REPORT_UTF8,
      readme = README_UTF8 },
  }
  for _, v in ipairs(variants) do
    it("lists and downloads a GBK-named file by its UTF-8 name (" .. v.kind .. ")", function()
      tmp = proc.tempdir("examples-gbk")
      local s = servers.start(v.kind, v.opts)
      finally(function()
        s:stop()
        proc.rmtree(tmp)
      end)
      local content = random_bytes(50000, 6)
      s:write("docs/" .. v.report, content)
      s:write("docs/" .. v.readme, "readme\n")
      local status, out, err = run_example("windows_gbk", s:url("/docs"), tmp)
      assert.are.equal(0, status, err)
      assert.matches("file%s+50000  " .. REPORT_UTF8 .. "\n", out)
      assert.matches("file%s+7  " .. README_UTF8 .. "\n", out)
      assert.is_nil(out:find("raw bytes", 1, true))
      assert.are.same({ [REPORT_UTF8] = content, stdout = out, stderr = err },
        local_tree(tmp))
    end)
  end
end)
