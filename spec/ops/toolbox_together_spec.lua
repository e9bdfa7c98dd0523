-- Where the toolbox's features meet, against real servers: rate_limit through mirror,
-- mirror_up, download_many (each parallel session's transfer held) and ftplib.copy's
-- relay; verify = "hash" through mirror, mirror_up, ftplib.get and ftplib.put (proftpd
-- with mod_digest), and a server without digest commands refused before anything moves;
-- segments through ftplib.get, and with verify = "hash" (a file changed under the
-- download is caught in the whole .part and every range fetched again); rmtree with
-- include, exclude, filter and on_error (what the filters leave out is kept, and so is
-- every folder above it).
local ftplib = require "ftplib"
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local KiB = 1024

local function login(s, sent)
  return assert(ftplib.FTP(s.host, { port = s.port, user = s.user, passwd = s.passwd,
    timeout = 20, debuglevel = sent and 1 or nil, debugfunc = sent and function(line)
      local command = line:match("^%*cmd%* '(.*)'$")
      if command then sent[#sent + 1] = command end
    end or nil }))
end

local function count(list, pattern)
  local n = 0
  for _, item in ipairs(list) do
    if item:find(pattern) then n = n + 1 end
  end
  return n
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

local function timed(fn, ...)
  local t0 = ftplib.now()
  local a, b, c = fn(...)
  return ftplib.now() - t0, a, b, c
end

local function within(seconds, low, high, what)
  assert.is_true(seconds >= low and seconds <= high,
    ("%s took %.2f s, expected %.1f to %.1f s"):format(what, seconds, low, high))
end

local function bytes_of(n, seed)
  return string.rep(seed, n // #seed)
end

describe("rate_limit where the helpers meet", function()
  -- 256 KiB a file at 256 KiB/s, less the burst (an eighth of a second): about 0.9 s a
  -- file. An unlimited transfer of these on loopback takes milliseconds.
  local RATE, SIZE = 256 * KiB, 256 * KiB
  local s, tmp
  local content_a, content_b = bytes_of(SIZE, "abcdefgh"), bytes_of(SIZE, "12345678")

  setup(function()
    s = servers.start(servers.kinds()[1])
    tmp = proc.tempdir("together-rate")
    s:write("rate/a.bin", content_a)
    s:write("rate/b.bin", content_b)
  end)
  teardown(function()
    if s then s:stop() end
    proc.rmtree(tmp)
  end)

  it("holds mirror's downloads to it, each file", function()
    local ftp <close> = login(s)
    local took, report = timed(ftp.mirror, ftp, "rate", tmp .. "/down", { rate_limit = RATE })
    assert.are.same({ "a.bin", "b.bin" }, sorted(report.created))
    assert.are.equal(content_a, proc.read_file(tmp .. "/down/a.bin"))
    within(took, 1.4, 4, "mirror of 2 x 256 KiB at 256 KiB/s")
  end)

  it("holds mirror_up's uploads to it", function()
    local ftp <close> = login(s)
    local dir = tmp .. "/up"
    proc.run("mkdir -p " .. proc.shell_quote(dir))
    proc.write_file(dir .. "/a.bin", content_a)
    proc.write_file(dir .. "/b.bin", content_b)
    local took, report = timed(ftp.mirror_up, ftp, dir, "rate-up", { rate_limit = RATE })
    assert.are.same({ "a.bin", "b.bin" }, sorted(report.created))
    assert.are.equal(content_b, s:read("rate-up/b.bin"))
    within(took, 1.4, 4, "mirror_up of 2 x 256 KiB at 256 KiB/s")
  end)

  it("holds each parallel session of download_many to it, not all of them together",
    function()
      local ftp <close> = login(s)
      local took, report = timed(ftp.download_many, ftp, { "rate/a.bin", "rate/b.bin" },
        { dir = tmp, parallel = 2, rate_limit = RATE })
      assert.are.same({ "rate/a.bin", "rate/b.bin" }, report.done)
      assert.are.equal(content_b, proc.read_file(tmp .. "/b.bin"))
      -- One file's time (two at once), not two files' (1.75 s) nor none (ms).
      within(took, 0.7, 1.6, "download_many of 2 x 256 KiB, 2 sessions at 256 KiB/s each")
    end)

  it("holds each session of a segmented download (ftplib.get) to it", function()
    -- 512 KiB in 2 ranges at 256 KiB/s each: about 0.9 s (one session: 1.9 s).
    s:write("rate/big.bin", content_a .. content_b)
    local target = tmp .. "/big.bin"
    local took, bytes, info = timed(ftplib.get, s:url("/rate/big.bin"), target,
      { segments = 2, rate_limit = RATE })
    assert.are.equal(2 * SIZE, bytes, info)
    assert.are.equal(2, info.sessions)
    assert.are.equal(content_a .. content_b, proc.read_file(target))
    within(took, 0.7, 1.6, "2 segments of 256 KiB at 256 KiB/s each")
  end)

  it("holds each parallel session of mirror to it", function()
    local ftp <close> = login(s)
    local took, report = timed(ftp.mirror, ftp, "rate", tmp .. "/par",
      { rate_limit = RATE, parallel = 2, exclude = "big.bin" })
    assert.are.same({ "a.bin", "b.bin" }, sorted(report.created))
    within(took, 0.7, 1.6, "mirror of 2 x 256 KiB on 2 sessions at 256 KiB/s each")
  end)

  it("relays ftplib.copy held to it, FXP skipped (its bytes never pass the client)",
    function()
      local src <close> = login(s)
      local dst <close> = login(s)
      local took, result = timed(ftplib.copy, src, "rate/a.bin", dst, "rate/copy.bin",
        { rate_limit = RATE })
      assert.are.equal("relay", result.method)
      assert.matches("rate_limit", result.reason)
      assert.are.equal(SIZE, result.bytes)
      assert.are.equal(content_a, s:read("rate/copy.bin"))
      within(took, 0.7, 2.5, "a relayed copy of 256 KiB at 256 KiB/s")
      assert.has_error(function()
        ftplib.copy(src, "rate/a.bin", dst, "x", { rate_limit = RATE, relay = false })
      end)
      assert.has_error(function() ftplib.copy(src, "rate/a.bin", dst, "x", { rate_limit = 0 }) end)
    end)

  it("is checked by mirror and download_many before anything is read", function()
    local ftp <close> = login(s)
    assert.has_error(function() ftp:mirror("rate", tmp .. "/x", { rate_limit = 0.5 }) end)
    assert.has_error(function() ftp:mirror_up(tmp, "x", { rate_limit = -1 }) end)
    assert.has_error(function() ftp:download_many({ "rate/a.bin" }, { rate_limit = 0 }) end)
    assert.is_nil(lfs.attributes(tmp .. "/x"))
  end)
end)

if not servers.available("proftpd") then
  describe("verify = \"hash\" and segments where the helpers meet", function()
    pending("proftpd is not unpacked here: run `make test-env` (scripts/setup-test-env.sh)")
  end)
else
  describe("verify = \"hash\" and segments where the helpers meet (proftpd, mod_digest)",
    function()
      local s, tmp
      -- 1 MiB: four ranges of 256 KiB for segments.
      local BIG = bytes_of(1024 * KiB, "0123456789abcdef")
      local BIG_OTHER = bytes_of(1024 * KiB, "fedcba9876543210")

      setup(function()
        s = servers.start("proftpd", { digest = true })
        tmp = proc.tempdir("together-hash")
      end)
      teardown(function()
        if s then s:stop() end
        proc.rmtree(tmp)
      end)

      -- The remote file rel rewritten with other bytes of the same size and its old
      -- time: only a digest tells it changed.
      local function swap_remote(rel, bytes)
        local path = s:path(rel)
        local modified = lfs.attributes(path, "modification")
        s:write(rel, bytes)
        assert(lfs.touch(path, modified, modified))
      end

      it("mirror checks each download against HASH, and fetches a changed one again",
        function()
          s:write("tree/one.txt", "one\n")
          s:write("tree/sub/two.bin", BIG)
          local sent = {}
          local ftp <close> = login(s, sent)
          local swapped = false
          local report = assert(ftp:mirror("tree", tmp .. "/mirror", { verify = "hash",
            progress = function(done, total, rel)
              if rel == "sub/two.bin" and done == total and not swapped then
                swapped = true
                swap_remote("tree/sub/two.bin", BIG_OTHER)
              end
            end }))
          assert.are.same({}, report.failed)
          assert.are.same({ "one.txt", "sub", "sub/two.bin" }, sorted(report.created))
          assert.is_true(swapped)
          assert.are.equal(BIG_OTHER, proc.read_file(tmp .. "/mirror/sub/two.bin"))
          assert.are.equal("one\n", proc.read_file(tmp .. "/mirror/one.txt"))
          assert.are.equal(3, count(sent, "^HASH "), table.concat(sent, "\n"))
          assert.are.equal(3, count(sent, "^RETR "))
        end)

      it("mirror_up checks each upload against HASH, and sends a changed one again",
        function()
          local dir = tmp .. "/up"
          proc.run("mkdir -p " .. proc.shell_quote(dir .. "/sub"))
          proc.write_file(dir .. "/a.txt", "alpha\n")
          proc.write_file(dir .. "/sub/big.bin", BIG)
          local sent = {}
          local ftp <close> = login(s, sent)
          local changed = false
          local report = assert(ftp:mirror_up(dir, "up", { verify = "hash", verify_algo = "md5",
            progress = function(done, total, rel)
              if rel == "sub/big.bin" and done == total and not changed then
                changed = true -- the local file changes after it went: the digests differ
                proc.write_file(dir .. "/sub/big.bin", BIG_OTHER)
              end
            end }))
          assert.are.same({}, report.failed)
          assert.are.same({ "a.txt", "sub", "sub/big.bin" }, sorted(report.created))
          assert.are.equal(BIG_OTHER, s:read("up/sub/big.bin"))
          assert.are.equal("alpha\n", s:read("up/a.txt"))
          assert.are.equal(3, count(sent, "^HASH "))
          assert.are.equal(3, count(sent, "^STOR "))
          assert.has_error(function() ftp:mirror_up(dir, "up", { verify = true }) end)
          assert.has_error(function() ftp:mirror(dir, "up", { verify_algo = "md5" }) end)
        end)

      it("ftplib.get and ftplib.put take verify = \"hash\"", function()
        s:write("url/f.bin", BIG)
        local got = tmp .. "/url-got.bin"
        local bytes, info = ftplib.get(s:url("/url/f.bin"), got, { verify = "hash" })
        assert.are.equal(#BIG, bytes, info)
        assert.are.equal("sha512", info.verified)
        assert.are.equal(BIG, proc.read_file(got))
        bytes, info = ftplib.put(s:url("/url/put.bin"), got,
          { verify = "hash", verify_algo = "sha256" })
        assert.are.equal(#BIG, bytes, info)
        assert.are.equal("sha256", info.verified)
        assert.are.equal(BIG, s:read("url/put.bin"))
      end)

      it("ftplib.get takes segments, with verify = \"hash\" too", function()
        s:write("seg/f.bin", BIG)
        local got = tmp .. "/seg.bin"
        local bytes, info = ftplib.get(s:url("/seg/f.bin"), got, { segments = 3 })
        assert.are.equal(#BIG, bytes, info)
        assert.are.equal(3, info.segments)
        assert.are.equal(BIG, proc.read_file(got))
        bytes, info = ftplib.get(s:url("/seg/f.bin"), tmp .. "/seg2.bin",
          { segments = 4, verify = "hash" })
        assert.are.equal(#BIG, bytes, info)
        assert.are.equal(4, info.segments)
        assert.are.equal("sha512", info.verified)
        assert.are.equal(0, info.verify_retries)
        assert.are.equal(BIG, proc.read_file(tmp .. "/seg2.bin"))
      end)

      it("a segmented download checks the whole .part, and fetches every range again on "
        .. "a mismatch", function()
          s:write("seg/changing.bin", BIG)
          local sent = {}
          local ftp <close> = login(s, sent)
          local target, swapped = tmp .. "/changing.bin", false
          local bytes, info = ftp:download("seg/changing.bin", target, { segments = 4,
            verify = "hash", verify_algo = "sha1",
            progress = function(done, total)
              if done == total and not swapped then
                swapped = true
                swap_remote("seg/changing.bin", BIG_OTHER)
              end
            end })
          assert.are.equal(#BIG, bytes, info)
          assert.are.equal(1, info.verify_retries)
          assert.are.equal("sha1", info.verified)
          assert.are.equal(BIG_OTHER, proc.read_file(target))
          assert.are.equal(2, count(sent, "^HASH "))
          assert.is_nil(lfs.attributes(target .. ".part"))
        end)

      it("a segmented download that still differs fails with \"verify\", leaving no file",
        function()
          s:write("seg/lying.bin", BIG)
          local ftp <close> = login(s)
          local target = tmp .. "/lying.bin"
          local flip = false
          local bytes, err, code = ftp:download("seg/lying.bin", target, { segments = 2,
            verify = "hash", verify_retries = 1,
            progress = function(done, total)
              if done == total then -- every time: each transfer's file is gone by the digest
                flip = not flip
                swap_remote("seg/lying.bin", flip and BIG_OTHER or BIG)
              end
            end })
          assert.is_nil(bytes)
          assert.are.equal("verify", code, err)
          assert.is_nil(lfs.attributes(target))
          assert.is_nil(lfs.attributes(target .. ".part"))
        end)
    end)
end

describe("verify = \"hash\" on a server without digest commands", function()
  local s, tmp
  setup(function()
    s = servers.start("pyftpdlib")
    tmp = proc.tempdir("together-nohash")
    s:write("tree/a.txt", "a")
  end)
  teardown(function()
    if s then s:stop() end
    proc.rmtree(tmp)
  end)

  it("fails mirror and mirror_up with \"unsupported\" before anything is read or made",
    function()
      local sent = {}
      local ftp <close> = login(s, sent)
      local report, err, code = ftp:mirror("tree", tmp .. "/m", { verify = "hash" })
      assert.is_nil(report)
      assert.are.equal("unsupported", code, err)
      assert.is_nil(lfs.attributes(tmp .. "/m"))
      report, err, code = ftp:mirror_up(tmp, "made", { verify = "hash" })
      assert.is_nil(report)
      assert.are.equal("unsupported", code, err)
      assert.are.equal(0, count(sent, "^LIST") + count(sent, "^MLSD") + count(sent, "^MKD"))
      assert.is_nil(s:read("made"))
      -- A dry run transfers nothing: it plans without asking.
      assert(ftp:mirror("tree", tmp .. "/m", { verify = "hash", dry_run = true }))
    end)

  it("fails a segmented download with \"unsupported\" before any range", function()
    local ftp <close> = login(s)
    local bytes, err, code = ftp:download("tree/a.txt", tmp .. "/a.txt",
      { segments = 2, verify = "hash" })
    assert.is_nil(bytes)
    assert.are.equal("unsupported", code, err)
    assert.is_nil(lfs.attributes(tmp .. "/a.txt.part"))
  end)
end)

describe("rmtree with filters and on_error (vsftpd)", function()
  local s
  setup(function() s = servers.start("vsftpd") end)
  teardown(function() if s then s:stop() end end)

  local function tree(root)
    for _, rel in ipairs { "a.txt", "b.tmp", "sub/c.tmp", "sub/d.txt", "only/e.tmp",
      "only/deeper/f.tmp" } do
      s:write(root .. "/" .. rel, rel)
    end
  end

  local function here(rel)
    return lfs.symlinkattributes(s:path(rel)) ~= nil
  end

  local function kept_paths(report)
    local paths = {}
    for _, kept in ipairs(report.kept) do paths[#paths + 1] = kept.path end
    return sorted(paths)
  end

  it("keeps what exclude matches, and every folder above it", function()
    tree("x")
    local ftp <close> = login(s)
    local report = assert(ftp:rmtree("x", { exclude = "*.txt" }))
    assert.are.same({}, report.failed)
    assert.are.same(sorted { "x/b.tmp", "x/sub/c.tmp", "x/only/e.tmp", "x/only/deeper/f.tmp",
      "x/only/deeper", "x/only" }, sorted(report.deleted))
    assert.are.same({ "x", "x/sub" }, kept_paths(report))
    assert.is_true(here("x/a.txt") and here("x/sub/d.txt"))
    assert.is_false(here("x/only") or here("x/b.tmp") or here("x/sub/c.tmp"))
  end)

  it("does not enter an excluded folder", function()
    tree("xf")
    local ftp <close> = login(s)
    local report = assert(ftp:rmtree("xf", { exclude = { "sub/", "*.txt" } }))
    assert.are.same({}, report.failed)
    for _, path in ipairs(report.deleted) do
      assert.is_nil(path:find("^xf/sub"), path)
    end
    assert.is_true(here("xf/sub/c.tmp") and here("xf/sub/d.txt"))
  end)

  it("with include deletes what it takes, removing only the folders it names", function()
    tree("i")
    local ftp <close> = login(s)
    local report = assert(ftp:rmtree("i", { include = "*.tmp" }))
    assert.are.same({}, report.failed)
    assert.are.same(sorted { "i/b.tmp", "i/sub/c.tmp", "i/only/e.tmp", "i/only/deeper/f.tmp" },
      sorted(report.deleted))
    assert.is_true(here("i/only/deeper") and here("i/a.txt") and here("i/sub/d.txt"))
    tree("i2")
    report = assert(ftp:rmtree("i2", { include = "only/" }))
    assert.are.same(sorted { "i2/only/e.tmp", "i2/only/deeper/f.tmp", "i2/only/deeper",
      "i2/only" }, sorted(report.deleted))
    assert.is_true(here("i2/a.txt") and here("i2/b.tmp"))
    assert.is_false(here("i2/only"))
  end)

  it("keeps what filter refuses or raises for, reporting the raise", function()
    tree("f")
    local ftp <close> = login(s)
    local report = assert(ftp:rmtree("f", { filter = function(rel, entry)
      assert.is_table(entry)
      if rel == "sub/c.tmp" then error("no opinion") end
      return rel ~= "only/e.tmp"
    end }))
    assert.are.equal(1, #report.failed)
    assert.are.equal("filter", report.failed[1].code)
    assert.matches("no opinion", report.failed[1].err)
    assert.is_true(here("f/sub/c.tmp") and here("f/only/e.tmp"))
    assert.is_false(here("f/only/deeper") or here("f/a.txt") or here("f/sub/d.txt"))
    assert.are.same({ "f", "f/only", "f/sub" }, kept_paths(report))
  end)

  it("with on_error = \"stop\" deletes nothing more after the first failure", function()
    tree("st")
    s:write("st/locked/z.txt", "z")
    assert(os.execute("chmod 555 " .. proc.shell_quote(s:path("st/locked"))))
    local ftp <close> = login(s)
    local continued = assert(ftp:rmtree("st", { dry_run = true }))
    local report = assert(ftp:rmtree("st", { on_error = "stop" }))
    assert.are.equal(1, #report.failed)
    assert.are.equal("st/locked/z.txt", report.stopped.path)
    -- Each path of the plan: deleted, the failure, pending, or a folder kept above it.
    assert.are.equal(#continued.deleted, #report.deleted + 1 + #report.pending + #report.kept)
    assert.is_true(#report.pending > 0)
    for _, path in ipairs(report.pending) do
      assert.is_true(here(path), path)
    end
    assert(os.execute("chmod 755 " .. proc.shell_quote(s:path("st/locked"))))
    -- A failure while planning (the filter raised): nothing deleted at all.
    tree("st2")
    local planned = assert(ftp:rmtree("st2", { on_error = "stop", filter = function(rel)
      if rel == "a.txt" then error("undecided") end
      return true
    end }))
    assert.are.same({}, planned.deleted)
    assert.are.equal("filter", planned.stopped.code)
    assert.is_true(#planned.pending > 0)
    assert.is_true(here("st2/b.tmp") and here("st2/only/deeper/f.tmp"))
    assert.has_error(function() ftp:rmtree("st", { on_error = "later" }) end)
  end)
end)
