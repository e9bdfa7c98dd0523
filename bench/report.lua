-- The Markdown and the chart of a bench/run.lua run: run conditions, one row per
-- workload and peer (each ratio a median of per-pair ratios, with their spread), and
-- the issue's targets read off those ratios.
--
--   local report = require "bench.report"
--   report.conditions(info)         --> Markdown paragraph: machine, versions, load
--   report.table(ws)                --> Markdown table of the workloads
--   report.targets(ws, size_text)   --> Markdown table of the targets, all_met
--   report.chart(ws, dat, png, gp)  -- gnuplot: median wall ratio ours/peer per workload
local proc = require "spec.support.proc"
local pairs_ = require "bench.pairs"

local M = {}

local q = proc.shell_quote

local function find(list, key, value)
  for _, item in ipairs(list or {}) do
    if item[key] == value then return item end
  end
end

-- x with `digits` decimals (2), or "n/a" for nil.
function M.fmt(x, digits)
  if x == nil then return "n/a" end
  return ("%." .. (digits or 2) .. "f"):format(x)
end

local fmt = M.fmt

local function range(lo, hi, digits)
  if lo == nil then return "" end
  return fmt(lo, digits) .. "–" .. fmt(hi, digits)
end

-- A table cell holding free text.
local function cell_text(text)
  return (text:gsub("|", "\\|"):gsub("\n", " "))
end

local function sh(command)
  return (proc.run(command .. " 2>/dev/null || true"):gsub("%s+$", ""))
end

local function machine()
  local cpuinfo = proc.read_file("/proc/cpuinfo") or ""
  local model = cpuinfo:match("model name%s*:%s*([^\n]+)") or "unknown CPU"
  local mem = (proc.read_file("/proc/meminfo") or ""):match("MemTotal:%s*(%d+)")
  return ("%s, nproc %s, %s, %.0f GiB RAM, Linux %s"):format(model, sh("nproc"),
    sh("uname -m"), (tonumber(mem) or 0) / 1048576, sh("uname -r"))
end

local function versions(python)
  local function debian(package)
    return sh("dpkg-query -W -f='${Version}' " .. package)
  end
  return ("%s, curl %s, Python %s, LuaSocket %s (lua-socket), lftp %s, vsftpd %s, "
    .. "OpenSSL %s"):format(sh("lua5.4 -v"):match("^(Lua %S+)") or "Lua ?",
    sh("curl --version"):match("^curl (%S+)") or "?",
    sh(python .. " --version"):match("Python (%S+)") or "?", debian("lua-socket"),
    sh("lftp --version"):match("Version (%S+)") or "?", debian("vsftpd"), debian("libssl3"))
end

-- The 1, 5 and 15 minute load averages.
function M.load_average()
  return (proc.read_file("/proc/loadavg") or ""):match("^(%S+ %S+ %S+)") or "?"
end

-- info: date, elapsed, load_before, load_after, pairs, tls_pairs, seg_pairs, warmup, python,
-- only, peers (the subset run, or nil), random (true: the big file is random bytes).
function M.conditions(info)
  local lines = {}
  lines[#lines + 1] = ("Taken %s on %s, with %s."):format(info.date, machine(),
    versions(info.python))
  lines[#lines + 1] = ("Each peer ran in pairs with ours, %d pairs per workload (TLS rows: "
    .. "%d%s) after %d warm-up pair(s), ours first in odd pairs, the peer first in even ones. "
    .. "Ratios are ours over the peer (below 1: ours is better), taken per pair; the "
    .. "table gives their median and their spread (min–max) over the pairs. The big file "
    .. "is %s. The run took %.0f s; load averages (1, 5, 15 min) were %s before it and "
    .. "%s after; the \"load\" column is the 1-minute load average at the start of the "
    .. "pairs (min–max)."):format(info.pairs, info.tls_pairs,
    info.seg_pairs and ("; segments: " .. info.seg_pairs) or "", info.warmup,
    info.random and "random bytes (from /dev/urandom)" or "zeros", info.elapsed,
    info.load_before, info.load_after)
  if info.only or info.peers then
    lines[#lines + 1] = ("A partial run: workloads %s, peers %s."):format(
      info.only or "all", info.peers or "all")
  end
  return table.concat(lines, "\n")
end

local function ratio_cells(p, key)
  local values = {}
  for i, pair in ipairs(p.pairs) do values[i] = pair[key] end
  local lo, hi = pairs_.spread(values)
  return fmt(pairs_.median(values)), range(lo, hi)
end

-- The median ratio ours/peer (wall or cpu) of a workload's peer, nil when not measured.
local function peer_ratio(w, name, key)
  local p = find(w and w.clients, "name", name)
  if not p or not p.pairs or #p.pairs == 0 then return nil end
  local values = {}
  for i, pair in ipairs(p.pairs) do values[i] = pair[key] end
  return pairs_.median(values), p
end

local function peer_row(w, p)
  local cells
  if p.not_run then
    cells = { p.not_run, "", "", "", "", "", "", "" }
  elseif p.failure then
    local after = p.failure_wall and (" after %s s"):format(fmt(p.failure_wall)) or ""
    cells = { ("**fails**%s: `%s`"):format(after, cell_text(p.failure_text)),
      "", "", "", "", "", "", "" }
  elseif not p.pairs or #p.pairs == 0 then
    cells = { "not run (BENCH_PEERS)", "", "", "", "", "", "", "" }
  else
    local ours_runs, loads = {}, {}
    for i, pair in ipairs(p.pairs) do ours_runs[i], loads[i] = pair.ours, pair.load end
    local mine, theirs = pairs_.summary(ours_runs), pairs_.summary(p.runs)
    local wall, wall_range = ratio_cells(p, "wall_ratio")
    local cpu, cpu_range = ratio_cells(p, "cpu_ratio")
    cells = { ("**%s** (%s)"):format(wall, wall_range), ("%s (%s)"):format(cpu, cpu_range),
      ("%s (%s)"):format(fmt(mine.wall), range(mine.wall_min, mine.wall_max)),
      ("%s (%s)"):format(fmt(theirs.wall), range(theirs.wall_min, theirs.wall_max)),
      fmt(mine.cpu) .. " / " .. fmt(theirs.cpu),
      fmt(mine.rss_max_mib, 1) .. " / " .. fmt(theirs.rss_max_mib, 1),
      range(pairs_.spread(loads)), tostring(#p.pairs) }
  end
  return ("| %s | %s | %s |"):format(w.label, p.name, table.concat(cells, " | "))
end

function M.table(ws)
  local lines = {
    "| workload | peer | ours/peer wall: median (min–max) | ours/peer CPU | ours wall s "
      .. "(min–max) | peer wall s (min–max) | CPU s ours / peer | peak RSS MiB ours / peer "
      .. "| load | pairs |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  }
  for _, w in ipairs(ws) do
    if w.id == "idle" then
      local idle = w.idle
      if idle then
        lines[#lines + 1] = ("| %s | `lua5.4 -e ''` | | | | | | %s (max of %d) | | |"):format(
          w.label, fmt(idle.rss_max_mib, 1), idle.n)
      end
    elseif w.ran then
      for _, p in ipairs(w.clients) do
        if p.name ~= "ftplib" then lines[#lines + 1] = peer_row(w, p) end
      end
    end
  end
  return table.concat(lines, "\n")
end

-- The issue's targets; a target whose workload or peer was not run says so.
function M.targets(ws, size)
  local by_id = {}
  for _, w in ipairs(ws) do by_id[w.id] = w end
  local rows = { "| target | ratio (median of pairs) | limit | met |", "|---|---:|---:|---|" }
  local all_met = true
  local function add(what, value, limit, unit, limit_digits)
    local met = value ~= nil and value <= limit
    all_met = all_met and met
    rows[#rows + 1] = ("| %s | %s%s | %s%s | %s |"):format(what,
      value and fmt(value, 3) or "not run", value and unit or "", fmt(limit, limit_digits or 1),
      unit,
      value == nil and "—" or met and "yes" or "**no**")
  end
  local function ratio_target(id, peer, key, limit, what, limit_digits)
    add(what, (peer_ratio(by_id[id], peer, key)), limit, "x", limit_digits)
  end
  ratio_target("get_func", "curl", "wall_ratio", 1.0,
    size .. " into a function: wall vs `curl -o /dev/null`")
  ratio_target("get_func", "python", "wall_ratio", 0.9,
    size .. " into a function: wall vs Python's ftplib (64 KiB blocks)")
  ratio_target("get_file", "curl", "wall_ratio", 0.9, size .. " into a file: wall vs curl")
  ratio_target("put_file", "curl", "cpu_ratio", 0.6,
    size .. " upload from a file: client CPU vs `curl -T`")
  ratio_target("many_mem", "python", "wall_ratio", 0.7,
    (by_id.many_mem and by_id.many_mem.short or "") .. ": wall vs Python's ftplib")
  ratio_target("tls_func", "curl", "wall_ratio", 1.0,
    size .. " TLS into a function: wall vs `curl --ssl-reqd -o /dev/null`")
  ratio_target("tls_file", "curl", "wall_ratio", 1.0,
    size .. " TLS into a file: wall vs `curl --ssl-reqd -o file`")
  local seg = by_id.segments and by_id.segments.short or "segments"
  ratio_target("segments", "one_session", "wall_ratio", 1 / 3.5,
    seg .. ", rate-limited sessions: wall vs one session (3.5x faster)", 3)
  ratio_target("segments", "lftp", "wall_ratio", 1.0, seg .. ": wall vs `lftp pget`")
  -- Memory: our worst run of the plain transfers over the idle interpreter's worst.
  local worst
  for _, id in ipairs({ "get_func", "get_file", "put_file" }) do
    local ours = by_id[id] and by_id[id].ran and find(by_id[id].clients, "name", "ftplib")
    local s = ours and ours.runs and pairs_.summary(ours.runs)
    if s and (not worst or s.rss_max_mib > worst) then worst = s.rss_max_mib end
  end
  local idle = by_id.idle and by_id.idle.idle
  add(("peak RSS of a plain %s transfer above idle `lua5.4` (MiB)"):format(size),
    worst and idle and worst - idle.rss_max_mib, 4.0, "")
  return table.concat(rows, "\n"), all_met
end

-- The chart: per workload, the median wall ratio ours/peer for each peer (log scale).
function M.chart(ws, peers, dat, png, script)
  local rows = { "# workload, then the median wall ratio ours/peer for: "
    .. table.concat(peers, " ") }
  for _, w in ipairs(ws) do
    if w.id ~= "idle" and w.ran then
      local cells = { ('"%s"'):format(w.chart) }
      for _, name in ipairs(peers) do
        local r = peer_ratio(w, name, "wall_ratio")
        cells[#cells + 1] = r and ("%.3f"):format(r) or "NaN"
      end
      rows[#rows + 1] = table.concat(cells, " ")
    end
  end
  proc.write_file(dat, table.concat(rows, "\n") .. "\n")
  local gp = {
    "set terminal pngcairo size 1400,600 font ',10'",
    ("set output '%s'"):format(png),
    "set style data histograms",
    "set style histogram clustered gap 1",
    "set style fill solid 0.85 border -1",
    "set boxwidth 0.9",
    "set logscale y 2",
    "set grid ytics",
    "set key top left",
    "set bmargin 4",
    "set format y '%g'",
    "set xtics nomirror",
    "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 front",
    "set title 'ftplib for Lua: wall time over each peer, median of pairs, vsftpd on "
      .. "loopback (below 1: ours is faster; log scale)'",
  }
  local plots = {}
  for i, name in ipairs(peers) do
    local source = i == 1 and ("'" .. dat .. "'") or "''"
    plots[#plots + 1] = ("%s using %d%s title 'ours / %s'"):format(source, i + 1,
      i == 1 and ":xtic(1)" or "", name)
  end
  gp[#gp + 1] = "plot " .. table.concat(plots, ", ")
  proc.write_file(script, table.concat(gp, "\n") .. "\n")
  proc.run("gnuplot " .. q(script))
end

return M
