-- Timing clients in pairs, for bench/run.lua: ours and one peer run one after the
-- other, ours first in odd pairs and the peer first in even ones, and each pair gives
-- its own ratio (ours over the peer). Drift on a shared machine (another process busy
-- for a few seconds) then hits both runs of a pair alike, and the spread of the ratios
-- shows how far to trust the median.
--
--   local pairs_ = require "bench.pairs"
--   pairs_.measure(w, c, work)        --> {wall=, cpu=, rss_kib=} | nil, complaint, short, wall
--   pairs_.run(w, ours, peer, opts)   -- fills peer.pairs and appends to ours.runs
--   pairs_.summary(runs)   --> {wall=, wall_min=, wall_max=, cpu=, rss_mib=, rss_max_mib=, n=}
--   pairs_.median(values), pairs_.spread(values) --> median; min, max
local proc = require "spec.support.proc"

local M = {}

local TIME = "/usr/bin/time"
-- A run that takes longer than this is a hung client, not a slow one (w.timeout: less).
local RUN_TIMEOUT = 300

local q = proc.shell_quote

local function shell_join(argv)
  local words = {}
  for i, word in ipairs(argv) do words[i] = q(word) end
  return table.concat(words, " ")
end

local function read_all(path)
  return proc.read_file(path) or ""
end

-- The last non-empty line of a failed client's stderr: for Python the exception, for
-- ours the assert's message, for curl and lftp their error.
function M.last_line(text)
  local last
  for line in text:gmatch("[^\n]+") do
    if line:find("%S") then last = line end
  end
  return last and last:gsub("^%s+", "") or "(no message)"
end

-- The 1-minute load average now.
function M.load1()
  return tonumber(read_all("/proc/loadavg"):match("^(%S+)"))
end

-- One run under /usr/bin/time. Returns {wall=, cpu=, rss_kib=} or nil, complaint, and
-- then, for a client that failed, the failure's short text and its wall time (when
-- /usr/bin/time could tell). A client's own check (c.check; false: none) replaces the
-- workload's.
function M.measure(w, c, work)
  if w.prepare then w.prepare() end
  -- Dirty pages of the previous run are written back now, not during this one.
  os.execute("sync")
  local timing, errors = work .. "/time.txt", work .. "/stderr.txt"
  local command = ("timeout %d %s -f '%%e %%U %%S %%M' -o %s %s >/dev/null 2>%s"):format(
    w.timeout or RUN_TIMEOUT, TIME, q(timing), shell_join(c.argv), q(errors))
  local ok = os.execute(command)
  local last = read_all(timing):match("([^\n]*)\n?$")
  local wall, user, sys, rss = last:match("^(%S+) (%S+) (%S+) (%d+)$")
  if not ok or not wall then
    local stderr = read_all(errors)
    return nil, "failed: " .. stderr:sub(1, 400) .. read_all(timing), M.last_line(stderr),
      tonumber(wall)
  end
  local check = w.check
  if c.check ~= nil then check = c.check end
  local complaint = check and check(read_all(errors))
  if complaint then return nil, complaint end
  return { wall = tonumber(wall), cpu = tonumber(user) + tonumber(sys), rss_kib = tonumber(rss) }
end

function M.median(values)
  local sorted = table.move(values, 1, #values, 1, {})
  table.sort(sorted)
  local n = #sorted
  if n == 0 then return nil end
  if n % 2 == 1 then return sorted[(n + 1) // 2] end
  return (sorted[n // 2] + sorted[n // 2 + 1]) / 2
end

function M.spread(values)
  if #values == 0 then return nil, nil end
  return math.min(table.unpack(values)), math.max(table.unpack(values))
end

-- Medians and spreads of a list of runs.
function M.summary(runs)
  if #runs == 0 then return nil end
  local walls, cpus, rss = {}, {}, {}
  for i, r in ipairs(runs) do walls[i], cpus[i], rss[i] = r.wall, r.cpu, r.rss_kib end
  local s = { wall = M.median(walls), cpu = M.median(cpus), rss_mib = M.median(rss) / 1024,
    n = #runs }
  s.wall_min, s.wall_max = M.spread(walls)
  s.rss_max_mib = select(2, M.spread(rss)) / 1024
  return s
end

local function fail(c, complaint, short, wall, w)
  c.failure, c.failure_text, c.failure_wall = complaint, short or complaint, wall
  io.stderr:write(("bench: %s / %s %s\n"):format(w.id, c.name, complaint))
end

-- One pair: both clients, in the order given. Returns the two results, or nil when one
-- failed (it is marked).
local function one_pair(w, first, second, work)
  local results = {}
  for i, c in ipairs({ first, second }) do
    local result, complaint, short, wall = M.measure(w, c, work)
    if not result then
      fail(c, complaint, short, wall, w)
      return nil
    end
    results[i] = result
  end
  return results[1], results[2]
end

-- opts.pairs, opts.warmup. ours.runs collects our timed runs (over every peer);
-- peer.pairs = { {ours=, peer=, wall_ratio=, cpu_ratio=, load=}, ... }, peer.runs its runs.
function M.run(w, ours, peer, work, opts)
  peer.pairs, peer.runs = {}, {}
  ours.runs = ours.runs or {}
  for rep = 1, opts.warmup + opts.pairs do
    local ours_first = rep % 2 == 1
    local load = M.load1()
    local a, b = one_pair(w, ours_first and ours or peer, ours_first and peer or ours, work)
    if not a then return end
    local mine, theirs = ours_first and a or b, ours_first and b or a
    if rep > opts.warmup then
      ours.runs[#ours.runs + 1] = mine
      peer.runs[#peer.runs + 1] = theirs
      peer.pairs[#peer.pairs + 1] = { ours = mine, peer = theirs, load = load,
        wall_ratio = mine.wall / math.max(theirs.wall, 0.005),
        cpu_ratio = mine.cpu / math.max(theirs.cpu, 0.005) }
    end
    io.stderr:write(("bench: %s: ours / %s %s %d of %d (load %.2f)\n"):format(w.id,
      peer.name, rep > opts.warmup and "pair" or "warm-up",
      rep > opts.warmup and rep - opts.warmup or rep,
      rep > opts.warmup and opts.pairs or opts.warmup, load or 0))
  end
end

return M
