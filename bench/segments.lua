-- The segmented download workload of bench/run.lua (issue 16): vsftpd behind
-- bench/delay_relay.py holding each data connection to a rate, one big file of random
-- bytes, our `ftp:download(..., {segments = 4})` against the same download on one
-- session and against `lftp -e "pget -n 4"`. Targets: 4 segments take at most 1/3.5 of
-- one session's time, and no longer than lftp's pget.
--
--   local segments = require "bench.segments"
--   local s = segments.start()          -- vsftpd and its relay: s.host, s.port (the
--                                       -- relay's), s.user, s.passwd, s:stop()
--   local w = segments.workload(s, work) -- the workload table run.lua runs (id "segments")
--   s:stop()
--
-- Environment: BENCH_SEG_MIB (256) the file's size, BENCH_SEG_RATE (8) each session's
-- limit in MiB/s, BENCH_SEG_PAIRS (3) pairs per peer, BENCH_SEG_N (4) the segments.
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local relay_ = require "bench.relay"

local M = {}

local function env_number(name, default)
  return tonumber(os.getenv(name) or "") or default
end

local MIB = 1024 * 1024
M.SIZE_MIB = env_number("BENCH_SEG_MIB", 256)
M.RATE_MIB = env_number("BENCH_SEG_RATE", 8)
M.PAIRS = env_number("BENCH_SEG_PAIRS", 3)
M.N = env_number("BENCH_SEG_N", 4)

local q = proc.shell_quote

-- vsftpd's own limit (anon_max_rate) drifts: on one host it let a single session through
-- at 1.5x (22 s for 256 MiB at 8 MiB/s, not 32), at 4.5x with sendfile. The relay holds
-- each data connection to the rate exactly, counted from its first byte.
function M.start()
  local s = servers.start("vsftpd")
  local work = proc.tempdir("bench-seg")
  local ok, relay, port = pcall(function()
    local big = s:path("seg.bin")
    proc.run(("head -c %dM /dev/urandom > %s"):format(M.SIZE_MIB, q(big)))
    proc.run("chown " .. q(servers.USER .. ":" .. servers.USER) .. " " .. q(big))
    return relay_.start(s.port, work, { rate = math.floor(M.RATE_MIB * MIB) })
  end)
  if not ok then
    s:stop()
    proc.rmtree(work)
    error(relay, 0)
  end
  return { host = s.host, port = port, user = s.user, passwd = s.passwd,
    stop = function()
      relay:stop()
      s:stop()
      proc.rmtree(work)
    end }
end

-- lftp on the plain server, no retries (a failure must show), as run.lua's lftp rows.
local function lftp(s, command)
  return { "lftp", "-c", table.concat({ "set cmd:fail-exit yes", "set net:max-retries 1",
    "set xfer:clobber on", "set ftp:ssl-allow no",
    ("open -u %s,%s -p %d %s"):format(s.user, s.passwd, s.port, s.host), command }, "; ") }
end

function M.workload(s, work)
  local down = work .. "/seg-down"
  local bytes = M.SIZE_MIB * MIB
  local ours = { "lua5.4", "bench/clients/ftplib.lua", s.host, tostring(s.port), s.user,
    s.passwd, "download", "seg.bin", down }
  local one = table.move(ours, 1, #ours, 1, {})
  ours[#ours + 1] = tostring(M.N)
  local size = M.SIZE_MIB % 1024 == 0 and (M.SIZE_MIB // 1024) .. " GiB" or M.SIZE_MIB .. " MiB"
  return {
    id = "segments",
    label = ("%s download, %d MiB/s per data connection (a relay), %d segments"):format(
      size, M.RATE_MIB, M.N),
    short = ("%d segments"):format(M.N), reps = M.PAIRS, timeout = 600,
    chart = size .. " in " .. M.N .. "\\nsegments",
    clients = {
      { name = "ftplib", argv = ours },
      { name = "one_session", argv = one },
      { name = "lftp", argv = lftp(s, ("pget -n %d seg.bin -o %s"):format(M.N, down)) },
    },
    prepare = function()
      os.remove(down)
      os.remove(down .. ".part")
      os.remove(down .. ".lftp-pget-status")
    end,
    check = function()
      local size_now = require("lfs").attributes(down, "size")
      os.remove(down)
      if size_now ~= bytes then return ("downloaded %s bytes"):format(tostring(size_now)) end
    end,
  }
end

return M
