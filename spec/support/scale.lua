-- Sizes of the specs' big test files, scaled by FTPLIB_TEST_SCALE (a factor, default 1).
-- `make valgrind` sets it below 1: the same tests run with fewer bytes, as moving 64 MiB
-- through Lua under memcheck takes minutes and proves nothing more than 4 MiB does.
--
--   local scaled = require "spec.support.scale"
--   local BIG_SIZE = scaled(64 * 1024 * 1024)
--   local TRIES = scaled.count(20)      -- repetitions shrink the same way (at least 2)
--
-- A scaled size keeps its remainder modulo 64 KiB, so that a size chosen not to be a
-- multiple of a block stays so, and never goes below 64 KiB + that remainder.
local BLOCK = 64 * 1024

local factor = tonumber(os.getenv("FTPLIB_TEST_SCALE") or "") or 1
if factor <= 0 then error("FTPLIB_TEST_SCALE must be a positive number", 0) end

local function scaled(bytes)
  if factor == 1 then return bytes end
  local remainder = bytes % BLOCK
  local blocks = math.max(1, math.floor((bytes - remainder) / BLOCK * factor + 0.5))
  return blocks * BLOCK + remainder
end

-- scaled.count(20): a number of repetitions, scaled the same way (never below 2).
-- scaled.seconds(5, 15): a time bound of a spec, `slow` (default 4x) when the suite
-- runs scaled down (under memcheck, where Lua runs some 30 times slower and a loaded
-- host slower still); a bound that must stay below a timeout passes its slow value.
return setmetatable({
  count = function(n)
    return math.max(2, math.floor(n * factor + 0.5))
  end,
  seconds = function(bound, slow)
    if factor < 1 then return slow or bound * 4 end
    return bound
  end,
}, { __call = function(_, bytes) return scaled(bytes) end })
