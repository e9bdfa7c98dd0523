-- Invariant 8, bounded memory: a listing of 1,000,000 short entries, MLSD or ls -l, is
-- parsed within 300 MiB of peak memory or refused with "limit" (with the default
-- maxlisting it is refused: each entry counts its line and 320 bytes). The listing runs
-- in a lua5.4 of its own (spec/support/listing_memory.lua), with the plain core (not
-- the sanitizer's, whose shadow memory would be counted), so that VmHWM is the
-- listing's. FTPLIB_TEST_SCALE (make valgrind) scales the count down.
local hostile = require "spec.support.hostile"
local proc = require "spec.support.proc"
local scaled = require "spec.support.scale"
local lfs = require "lfs"

local ROOT = lfs.currentdir()
local ENTRIES = scaled(1000000)
local BOUND_MIB = 300
-- The interpreter itself, not a wrapper that may preload a sanitizer runtime.
local LUA = io.popen("command -v lua5.4"):read("l")
local REAL_LUA = (LUA and LUA:find("asan%-lua")) and "/usr/bin/lua5.4" or (LUA or "lua5.4")

local function measure(port, path, maxlisting)
  local command = ("env -u LD_PRELOAD LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s %s %d %s %s"):format(
    proc.shell_quote(ROOT .. "/lua/?.lua;;"), proc.shell_quote(ROOT .. "/build/?.so;;"),
    REAL_LUA, proc.shell_quote(ROOT .. "/spec/support/listing_memory.lua"), port, path,
    maxlisting or "")
  local output = proc.run(command)
  local entries, code, peak = output:match("entries=(%S+) code=(%S+) peak_mib=(%S+)")
  assert(peak, output)
  return tonumber(entries), code, tonumber(peak)
end

local SCENARIOS = {
  { name = "MLSD", scenario = { features = { "MLST type*;size*;modify*;" }, timeout = 300,
    mlsd = { big = { count = ENTRIES,
      line = "type=file;size=1;modify=20200101000000; f%07d" } } } },
  { name = "ls -l", scenario = { timeout = 300, lists = { big = { count = ENTRIES,
    line = "-rw-r--r--    1 1000     1000            1 Jan 16  2020 f%07d" } } } },
}

describe("a listing of " .. ENTRIES .. " short entries", function()
  for _, case in ipairs(SCENARIOS) do
    it(case.name .. ": parsed within " .. BOUND_MIB .. " MiB of peak memory, or refused",
      function()
      local srv = hostile.start(case.scenario)
      finally(function() srv:stop() end)
      local entries, code, peak = measure(srv.port, "big")
      assert.is_true(entries == ENTRIES or code == "limit",
        ("entries %s, code %s"):format(tostring(entries), code))
      assert.is_true(peak <= BOUND_MIB, ("peak %d MiB"):format(peak))
      io.stderr:write(("\n[memory] %s, %d entries: %s, peak %d MiB\n"):format(case.name,
        ENTRIES, entries and "parsed" or code, peak))
    end)
  end
end)
