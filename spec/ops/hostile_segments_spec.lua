-- A segmented download (ftp:download with segments, lua/ftplib/ops/segments.lua) from a
-- server that lies: more bytes than SIZE said, fewer, a SIZE the data does not match, a
-- SIZE that differs between sessions or changes during the download. Each fails with
-- its code, within the session's timeout, and nothing appears under the final name.
local ftplib = require "ftplib"
local lfs = require "lfs"
local proc = require "spec.support.proc"
local hostile = require "spec.support.hostile"

local SIZE = 1024 * 1024 -- four ranges of 256 KiB

local random_bytes = proc.random_bytes

describe("segmented download from a hostile server", function()
  local tmp, data

  lazy_setup(function()
    tmp = proc.tempdir("hostile-segments")
    data = random_bytes(SIZE)
  end)

  lazy_teardown(function()
    if tmp then proc.rmtree(tmp) end
  end)

  -- Downloads f.bin as the scenario's file says: nil, err, code, the seconds it took.
  local function attempt(name, file)
    local srv = hostile.start { features = { "SIZE", "MDTM", "REST STREAM" },
      files = { ["f.bin"] = file } }
    local ftp = srv:session({ timeout = 5 })
    local target = tmp .. "/" .. name
    local t0 = ftplib.now()
    local bytes, err, code = ftp:download("f.bin", target, { segments = 4, retries = 1,
      retry_delay = 0 })
    local took = ftplib.now() - t0
    ftp:close()
    srv:stop()
    assert.same({}, srv:errors())
    assert.is_nil(bytes, "a download that should fail gave " .. tostring(bytes))
    assert.is_nil(lfs.attributes(target), "something appeared under the final name")
    return err, code, took
  end

  -- Downloads f.bin from a server that drops the first session sending it midway,
  -- greeting connections as greeting_delays says: the whole file must arrive.
  local function survive_drop(name, greeting_delays)
    local srv = hostile.start { features = { "SIZE", "MDTM", "REST STREAM" },
      greeting_delays = greeting_delays,
      files = { ["f.bin"] = { data = data, drop_after = 100000 } } }
    finally(function() srv:stop() end)
    local ftp = srv:session({ timeout = 5 })
    local target = tmp .. "/" .. name
    local bytes, info = ftp:download("f.bin", target, { segments = 4, retry_delay = 0 })
    ftp:close()
    assert.equal(SIZE, bytes, info)
    assert.is_true(proc.read_file(target) == data, "content differs")
    assert.same({ "dropped a session" }, srv:events("note"))
    assert.same({}, srv:errors())
  end

  it("finishes a range whose session was dropped midway", function()
    survive_drop("dropped.bin")
  end)

  -- The dropped session's way back (its reconnection greeted late) takes longer
  -- than another session needs to finish its own range and then the dropped one:
  -- the session that comes back finds nothing left to do.
  it("ends a session that comes back to find every range taken", function()
    survive_drop("late.bin", { [5] = 1.5 })
  end)

  it("fails when the server sends more than SIZE said", function()
    local err, code, took = attempt("more.bin", { data = data, send = data .. ("X"):rep(1000) })
    assert.equal("proto", code, err)
    assert.matches("more than the 1048576 bytes SIZE gave", err)
    assert.is_true(took < 5, took)
  end)

  it("fails when the data ends before SIZE's end", function()
    local err, code = attempt("fewer.bin", { data = data, send = data:sub(1, SIZE - 5000) })
    assert.equal("closed", code, err)
    assert.matches("the data ended at byte 1043576, SIZE gave 1048576", err)
  end)

  it("fails when SIZE says more than the file has", function()
    local err, code = attempt("size-more.bin", { data = data, size = SIZE + 300000 })
    assert.is_true(code == "changed" or code == "closed", tostring(code) .. ": " .. err)
  end)

  it("fails when SIZE says less than the file has", function()
    local err, code = attempt("size-less.bin", { data = data, size = SIZE - 300000,
      announce = SIZE - 300000 })
    assert.equal("proto", code, err)
  end)

  it("fails when the sessions get different sizes", function()
    local err, code = attempt("per-session.bin", { data = data, sizes = { SIZE, SIZE + 1 } })
    assert.equal("changed", code, err)
    assert.matches("SIZE gave 1048576 on one session, 1048577 on another", err)
  end)

  it("fails when SIZE changes by the end", function()
    -- The 1st SIZE (this session), the 3 clones', then the last check's.
    local err, code = attempt("changed.bin", { data = data,
      sizes = { SIZE, SIZE, SIZE, SIZE, SIZE + 7 } })
    assert.equal("changed", code, err)
    assert.matches("changed during the download", err)
  end)

  -- A SIZE near 2^63 would overflow the cut (negative offsets, REST -...): beyond 2^53
  -- the download is not cut at all, and the one session finds the data short.
  it("does not cut a file whose SIZE is beyond 2^53", function()
    local err, code = attempt("huge.bin", { data = data, size = (1 << 62) + 3 })
    assert.equal("closed", code, err)
    assert.is_nil(err:find("REST %-"), err)
  end)

  it("fails when the 150 reply announces another size", function()
    local err, code = attempt("announce.bin", { data = data, announce = SIZE * 2 })
    assert.equal("changed", code, err)
    assert.matches("the 150 reply announced 2097152 bytes", err)
  end)
end)
