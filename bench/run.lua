-- `make bench`: this library against curl, Python's ftplib and LuaSocket's socket.ftp,
-- all talking to vsftpd on loopback: one plain server, and one with explicit FTPS
-- (AUTH TLS, protected data, require_ssl_reuse=YES) for the TLS downloads. Run from the
-- repository root, as root (the vsftpd harness needs it):
--
--   lua5.4 bench/run.lua
--
-- Environment (all optional):
--   BENCH_REPS=9        timed repetitions per client and workload (medians are reported)
--   BENCH_TLS_REPS=7    the same for the TLS downloads (each run takes seconds: fewer
--                       keep the whole `make bench` under ten minutes)
--   BENCH_WARMUP=1      untimed runs before them
--   BENCH_SIZE_MIB=1024 size of the big file
--   BENCH_FILES=1000    number of 1 KiB files
--   BENCH_OUT=bench     where results.md, results.dat and results.png go
--   FTPLIB_BUILD=build  the build folder whose ftplib/core.so our client loads
--   BENCH_LATENCY=1     0: leave out the latency workload (bench/latency.lua: a mirror of
--                       many small files from a slow-replying server, ours against lftp;
--                       it has settings of its own, and runs alone with
--                       `make bench-latency`)
--
-- Every client runs under /usr/bin/time (wall, user+sys CPU, max RSS of the client
-- process alone: the server is another process tree). The clients are interleaved
-- (one repetition of each in turn) so that drift on the machine hits them alike.
-- A client that fails is not run again: the table shows how it failed (its last line
-- of stderr) and after how long, instead of its times.
package.path = "lua/?.lua;" .. package.path
local lfs = require "lfs"
local socket = require "socket"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local REPS = tonumber(os.getenv("BENCH_REPS") or "9")
local TLS_REPS = tonumber(os.getenv("BENCH_TLS_REPS") or "7")
local WARMUP = tonumber(os.getenv("BENCH_WARMUP") or "1")
local SIZE_MIB = tonumber(os.getenv("BENCH_SIZE_MIB") or "1024")
local FILES = tonumber(os.getenv("BENCH_FILES") or "1000")
local OUT = os.getenv("BENCH_OUT") or "bench"
local LATENCY = os.getenv("BENCH_LATENCY") ~= "0"
local LUA = "lua5.4"
local PYTHON = "/usr/bin/python3"
local TIME = "/usr/bin/time"
-- A run that takes longer than this is a hung client, not a slow one (w.timeout: less).
local RUN_TIMEOUT = 300

local q = proc.shell_quote

local function shell_join(argv)
  local words = {}
  for i, word in ipairs(argv) do words[i] = q(word) end
  return table.concat(words, " ")
end

local function size_text(mib)
  if mib % 1024 == 0 then return (mib // 1024) .. " GiB" end
  return mib .. " MiB"
end

local function check_tools()
  local missing = {}
  for _, tool in ipairs({ TIME, PYTHON, "/usr/bin/curl", "/usr/bin/gnuplot" }) do
    if not proc.exists(tool) then missing[#missing + 1] = tool end
  end
  if not pcall(require, "socket.ftp") then missing[#missing + 1] = "LuaSocket (lua-socket)" end
  if #missing > 0 then
    error("bench: missing " .. table.concat(missing, ", ") .. ": run scripts/setup.sh", 0)
  end
end

-- Test data --------------------------------------------------------------------

-- The big file is zeros: FTP stream mode compresses nothing, so the bytes do not
-- matter, and /dev/zero is much quicker to read than /dev/urandom.
local function make_data(server)
  local big = server:path("big")
  proc.run(("dd if=/dev/zero of=%s bs=1M count=%d status=none"):format(q(big), SIZE_MIB))
  local dir = server:mkdir("many")
  local block = {}
  for i = 1, 1024 do block[i] = string.char((i * 131 + 7) % 251) end
  block = table.concat(block)
  for i = 1, FILES do
    proc.write_file(("%s/f%04d"):format(dir, i), block)
  end
  proc.run("chown -R " .. q(servers.USER .. ":" .. servers.USER) .. " " .. q(server.root))
  return big
end

-- The TLS server serves the same big file: a hard link when both roots are on one file
-- system, else a copy.
local function share_big(big, tls_server)
  local path = tls_server:path("big")
  if not os.execute(("ln %s %s 2>/dev/null"):format(q(big), q(path))) then
    proc.run(("cp %s %s"):format(q(big), q(path)))
    proc.run("chown " .. q(servers.USER .. ":" .. servers.USER) .. " " .. q(path))
  end
end

-- Workloads and clients --------------------------------------------------------

local function file_size(path)
  return lfs.attributes(path, "size")
end

-- Bytes a client says it received: the first number of each line it wrote to stderr
-- (our clients write one total, curl's -w writes one size per URL).
local function bytes_reported(stderr)
  local total = 0
  for line in stderr:gmatch("[^\n]+") do
    total = total + (tonumber(line:match("^(%d+)")) or 0)
  end
  return total
end

-- Each workload: an id, labels, its clients, and optional prepare() (untimed, before
-- each run) and check(stderr) (after it: nil, or what went wrong). A client: name, argv.
local function workloads(server, tls_server, work)
  local login = { server.host, tostring(server.port), server.user, server.passwd }
  local tls_login = { "--tls", tls_server.ca, tls_server.host, tostring(tls_server.port),
    tls_server.user, tls_server.passwd }
  local big_bytes = SIZE_MIB * 1024 * 1024
  local many_bytes = FILES * 1024
  local url = function(path) return server:url(path) end
  -- Our three scripts take the same arguments: login, mode, mode's arguments (TLS:
  -- `--tls CAFILE` before the login).
  local function scripts_for(login_args, mode, ...)
    local args = table.move(login_args, 1, #login_args, 1, {})
    table.move({ mode, ... }, 1, select("#", ...) + 1, #args + 1, args)
    local function with(...) return table.move(args, 1, #args, select("#", ...) + 1, { ... }) end
    return {
      ftplib = with(LUA, "bench/clients/ftplib.lua"),
      python = with(PYTHON, "bench/clients/pyftplib.py"),
      luasocket = with(LUA, "bench/clients/luasocket.lua"),
    }
  end
  local function scripts(mode, ...) return scripts_for(login, mode, ...) end
  -- not_run: client name -> why it is not run (shown in its row instead of times).
  local function clients(argv_by_name, curl_argv, not_run)
    argv_by_name.curl = curl_argv
    local list = {}
    for _, name in ipairs({ "ftplib", "curl", "python", "luasocket" }) do
      local why = not_run and not_run[name]
      list[#list + 1] = { name = name, argv = not why and argv_by_name[name] or nil,
        not_run = why }
    end
    return list
  end
  -- curl's per-URL byte count goes to stderr, as our clients' totals do.
  local curl = { "curl", "-sS", "-w", "%{stderr}%{size_download}\n" }
  local function curl_with(...) return table.move({ ... }, 1, select("#", ...), #curl + 1,
    table.move(curl, 1, #curl, 1, {})) end
  local function got(expected)
    return function(stderr)
      local bytes = bytes_reported(stderr)
      if bytes ~= expected then return ("received %d bytes, not %d"):format(bytes, expected) end
    end
  end
  local function file_of(path, expected, what)
    return function()
      local size = file_size(path)
      os.remove(path)
      if size ~= expected then return ("%s %s bytes"):format(what, tostring(size)) end
    end
  end

  local down, up = work .. "/down", server:path("up.bin")
  local many = work .. "/many"
  local size = size_text(SIZE_MIB)
  local many_glob = url(("/many/f[0001-%04d]"):format(FILES))
  -- curl reuses the control connection's TLS session for the data connection, as
  -- vsftpd's require_ssl_reuse demands.
  local curl_tls = { "--ssl-reqd", "--cacert", tls_server.ca }
  local function curl_tls_with(...)
    return curl_with(table.unpack(table.move({ ... }, 1, select("#", ...), #curl_tls + 1,
      table.move(curl_tls, 1, #curl_tls, 1, {}))))
  end
  local no_ftps = "n/a: socket.ftp has no FTPS"
  return {
    {
      id = "get_func", label = size .. " download into a function", short = "get into function",
      chart = size .. " get\\ninto a function",
      clients = clients(scripts("get-func", "big"), curl_with("-o", "/dev/null", url("/big"))),
      check = got(big_bytes),
    },
    {
      id = "get_file", label = size .. " download into a file", short = "get into file",
      chart = size .. " get\\ninto a file",
      clients = clients(scripts("get-file", "big", down), curl_with("-o", down, url("/big"))),
      prepare = function() os.remove(down) end,
      check = file_of(down, big_bytes, "downloaded"),
    },
    {
      id = "put_file", label = size .. " upload from a file", short = "put from file",
      chart = size .. " put\\nfrom a file",
      clients = clients(scripts("put-file", server:path("big"), "up.bin"),
        curl_with("-T", server:path("big"), url("/up.bin"))),
      prepare = function() os.remove(up) end,
      check = file_of(up, big_bytes, "uploaded"),
    },
    {
      -- Into memory: what the client library itself costs, without the file system.
      -- curl: one invocation with a URL glob keeps the connection for all files (its
      -- output goes to /dev/null, as every client's stdout does).
      id = "many_mem", label = FILES .. " files of 1 KiB into memory, one session",
      short = FILES .. " x 1 KiB to memory", timeout = 120,
      chart = FILES .. " x 1 KiB\\ninto memory",
      clients = clients(scripts("many-mem", "many", tostring(FILES)), curl_with(many_glob)),
      check = got(many_bytes),
    },
    {
      id = "many_file", label = FILES .. " files of 1 KiB into files, one session",
      short = FILES .. " x 1 KiB to files", timeout = 120,
      chart = FILES .. " x 1 KiB\\ninto files",
      clients = clients(scripts("many", "many", tostring(FILES), many),
        curl_with("-o", many .. "/f#1", many_glob)),
      prepare = function()
        os.execute("rm -rf " .. q(many))
        assert(lfs.mkdir(many))
      end,
      check = function()
        local count = 0
        for name in lfs.dir(many) do
          if name:match("^f%d+$") and file_size(many .. "/" .. name) == 1024 then
            count = count + 1
          end
        end
        if count ~= FILES then return count .. " of " .. FILES .. " files written" end
      end,
    },
    {
      -- Python's ftplib is run once: its data connection does not resume the control
      -- connection's TLS session, which this vsftpd requires (the row shows its answer).
      id = "tls_func", label = size .. " TLS download into a function",
      short = "TLS get into function", reps = TLS_REPS,
      chart = size .. " TLS get\\ninto a function",
      clients = clients(scripts_for(tls_login, "get-func", "big"),
        curl_tls_with("-o", "/dev/null", tls_server:url("/big")), { luasocket = no_ftps }),
      check = got(big_bytes),
    },
    {
      id = "tls_file", label = size .. " TLS download into a file",
      short = "TLS get into file", reps = TLS_REPS,
      chart = size .. " TLS get\\ninto a file",
      clients = clients(scripts_for(tls_login, "get-file", "big", down),
        curl_tls_with("-o", down, tls_server:url("/big")),
        { luasocket = no_ftps, python = "n/a: not run again (fails as in the row above)" }),
      prepare = function() os.remove(down) end,
      check = file_of(down, big_bytes, "downloaded"),
    },
    {
      id = "idle", label = "idle lua5.4 (memory baseline)",
      clients = { { name = "lua5.4 -e ''", argv = { LUA, "-e", "" } } },
    },
  }
end

-- Measuring --------------------------------------------------------------------

local function read_all(path)
  return proc.read_file(path) or ""
end

-- The last non-empty line of a failed client's stderr: for Python the exception, for
-- ours the assert's message, for curl its error.
local function last_line(text)
  local last
  for line in text:gmatch("[^\n]+") do
    if line:find("%S") then last = line end
  end
  return last and last:gsub("^%s+", "") or "(no message)"
end

-- One run under /usr/bin/time. Returns {wall=, cpu=, rss_kib=} or nil, complaint, and
-- then, for a client that failed, the failure's short text and its wall time (when
-- /usr/bin/time could tell).
local function measure(w, c, work)
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
    return nil, "failed: " .. stderr:sub(1, 400) .. read_all(timing), last_line(stderr),
      tonumber(wall)
  end
  local complaint = w.check and w.check(read_all(errors))
  if complaint then return nil, complaint end
  return { wall = tonumber(wall), cpu = tonumber(user) + tonumber(sys), rss_kib = tonumber(rss) }
end

local function median(values)
  local sorted = table.move(values, 1, #values, 1, {})
  table.sort(sorted)
  local n = #sorted
  if n == 0 then return nil end
  if n % 2 == 1 then return sorted[(n + 1) // 2] end
  return (sorted[n // 2] + sorted[n // 2 + 1]) / 2
end

local function run_workload(w, work)
  local reps = w.reps or REPS
  for _, c in ipairs(w.clients) do c.runs = {} end
  for rep = 1, WARMUP + reps do
    for _, c in ipairs(w.clients) do
      if not c.failure and not c.not_run then
        local result, complaint, short, wall = measure(w, c, work)
        if not result then
          c.failure, c.failure_text, c.failure_wall = complaint, short or complaint, wall
          io.stderr:write(("bench: %s / %s %s\n"):format(w.id, c.name, complaint))
        elseif rep > WARMUP then
          c.runs[#c.runs + 1] = result
        end
      end
    end
    io.stderr:write(("bench: %s: %s %d/%d\n"):format(w.id,
      rep > WARMUP and "repetition" or "warm-up", rep > WARMUP and rep - WARMUP or rep,
      rep > WARMUP and reps or WARMUP))
  end
  for _, c in ipairs(w.clients) do
    if #c.runs > 0 then
      local walls, cpus, rss = {}, {}, {}
      for i, r in ipairs(c.runs) do walls[i], cpus[i], rss[i] = r.wall, r.cpu, r.rss_kib end
      c.wall, c.cpu, c.rss_mib = median(walls), median(cpus), median(rss) / 1024
      c.wall_min, c.wall_max = math.min(table.unpack(walls)), math.max(table.unpack(walls))
      c.rss_max_mib = math.max(table.unpack(rss)) / 1024
    end
  end
end

-- Reporting --------------------------------------------------------------------

local function find(list, key, value)
  for _, item in ipairs(list) do
    if item[key] == value then return item end
  end
end

local function fmt(x, digits)
  if x == nil then return "n/a" end
  return ("%." .. (digits or 2) .. "f"):format(x)
end

local function ratio(a, b)
  if a == nil or b == nil or b == 0 then return nil end
  return a / b
end

-- The issue's targets, each read off the medians.
local function targets(ws)
  local by_id = {}
  for _, w in ipairs(ws) do by_id[w.id] = w end
  local function get(id, name) return find(by_id[id].clients, "name", name) end
  local list = {}
  local function add(what, ours, theirs, value, limit, unit)
    list[#list + 1] = { what = what, ours = ours, theirs = theirs, value = value,
      limit = limit, unit = unit, met = value ~= nil and value <= limit }
  end
  local size = size_text(SIZE_MIB)
  local o, t = get("get_func", "ftplib"), get("get_func", "curl")
  add(size .. " into a function: wall vs `curl -o /dev/null`",
    fmt(o.wall) .. " s", fmt(t.wall) .. " s", ratio(o.wall, t.wall), 1.0, "x")
  o, t = get("get_file", "ftplib"), get("get_file", "curl")
  add(size .. " into a file: wall vs `curl -o file`",
    fmt(o.wall) .. " s", fmt(t.wall) .. " s", ratio(o.wall, t.wall), 0.9, "x")
  o, t = get("put_file", "ftplib"), get("put_file", "curl")
  add(size .. " upload from a file: client CPU vs `curl -T`",
    fmt(o.cpu) .. " s", fmt(t.cpu) .. " s", ratio(o.cpu, t.cpu), 0.6, "x")
  for _, id in ipairs({ "many_mem", "many_file" }) do
    o, t = get(id, "ftplib"), get(id, "python")
    add(by_id[id].short .. ": wall vs Python's ftplib",
      fmt(o.wall) .. " s", fmt(t.wall) .. " s", ratio(o.wall, t.wall), 0.8, "x")
  end
  o, t = get("tls_func", "ftplib"), get("tls_func", "curl")
  add(size .. " TLS into a function: wall vs `curl --ssl-reqd -o /dev/null`",
    fmt(o.wall) .. " s", fmt(t.wall) .. " s", ratio(o.wall, t.wall), 1.0, "x")
  o, t = get("tls_file", "ftplib"), get("tls_file", "curl")
  add(size .. " TLS into a file: wall vs `curl --ssl-reqd -o file`",
    fmt(o.wall) .. " s", fmt(t.wall) .. " s", ratio(o.wall, t.wall), 1.0, "x")
  -- Memory: the worst run (not the median) of our client, plain and TLS apart.
  local idle = by_id.idle.clients[1].rss_mib
  local function memory(ids, what)
    local worst, worst_id
    for _, id in ipairs(ids) do
      local rss = get(id, "ftplib").rss_max_mib
      if rss and (not worst or rss > worst) then worst, worst_id = rss, by_id[id].short end
    end
    add(("peak RSS during a %s %s (worst: %s) above idle `lua5.4`"):format(size, what,
        tostring(worst_id)), fmt(worst) .. " MiB", fmt(idle) .. " MiB",
      worst and idle and worst - idle, 4.0, " MiB")
  end
  memory({ "get_func", "get_file", "put_file" }, "transfer")
  memory({ "tls_func", "tls_file" }, "TLS download")
  return list
end

local function machine()
  local cpuinfo = read_all("/proc/cpuinfo")
  local model = cpuinfo:match("model name%s*:%s*([^\n]+)") or "unknown CPU"
  local arch = proc.run("uname -m"):gsub("%s+$", "")
  local kernel = proc.run("uname -r"):gsub("%s+$", "")
  local cores = proc.run("nproc"):gsub("%s+$", "")
  local mem = read_all("/proc/meminfo"):match("MemTotal:%s*(%d+)")
  return ("%s, %s cores, %s, %.0f GiB RAM, Linux %s"):format(model, cores, arch,
    (tonumber(mem) or 0) / 1048576, kernel)
end

local function versions()
  local curl = proc.run("curl --version"):match("^curl (%S+)") or "?"
  local python = proc.run(PYTHON .. " --version"):match("Python (%S+)") or "?"
  local function debian(package)
    return proc.run("dpkg-query -W -f='${Version}' " .. package)
  end
  return ("curl %s, Python %s, LuaSocket %s (lua-socket), vsftpd %s, OpenSSL %s"):format(
    curl, python, debian("lua-socket"), debian("vsftpd"), debian("libssl3"))
end

-- The 1, 5 and 15 minute load averages: other work on the machine skews the times.
local function load_average()
  return read_all("/proc/loadavg"):match("^(%S+ %S+ %S+)") or "?"
end

-- A table cell holding free text.
local function cell_text(text)
  return (text:gsub("|", "\\|"):gsub("\n", " "))
end

local function report(ws, date, elapsed, loads)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  add(("Taken %s on %s, with %s."):format(date, machine(), versions()))
  local reps = tostring(REPS)
  if TLS_REPS ~= REPS then reps = ("%d (TLS rows: %d)"):format(REPS, TLS_REPS) end
  add(("Medians of %s runs after %d warm-up run(s) per client; wall and CPU (user + sys) "
    .. "in seconds, peak RSS of the client process in MiB; ratios are ours over the "
    .. "row's client (below 1: ours is better). The whole run took %.0f s; load averages "
    .. "(1, 5, 15 min) were %s before it and %s after."):format(
    reps, WARMUP, elapsed, loads.before, loads.after))
  add("")
  add("| workload | client | wall s | wall min–max | CPU s | peak RSS MiB | ours/this wall "
    .. "| ours/this CPU |")
  add("|---|---|---:|---:|---:|---:|---:|---:|")
  for _, w in ipairs(ws) do
    local ours = find(w.clients, "name", "ftplib")
    for _, c in ipairs(w.clients) do
      local cells
      if c.not_run then
        cells = { c.not_run, "", "", "", "", "" }
      elseif c.failure then
        local after = c.failure_wall and (" after %s s"):format(fmt(c.failure_wall)) or ""
        cells = { ("**fails**%s: `%s`"):format(after, cell_text(c.failure_text)),
          "", "", "", "", "" }
      else
        local mine = ours and ours ~= c
        cells = { fmt(c.wall), fmt(c.wall_min) .. "–" .. fmt(c.wall_max), fmt(c.cpu),
          fmt(c.rss_mib, 1),
          mine and fmt(ratio(ours.wall, c.wall)) or "", mine and fmt(ratio(ours.cpu, c.cpu)) or "" }
      end
      local name = c.name == "ftplib" and "**ftplib (ours)**" or c.name
      add(("| %s | %s | %s |"):format(w.label, name, table.concat(cells, " | ")))
    end
  end
  add("")
  add("| target | ours | theirs | ratio | limit | met |")
  add("|---|---:|---:|---:|---:|---|")
  for _, t in ipairs(targets(ws)) do
    add(("| %s | %s | %s | %s%s | %s%s | %s |"):format(t.what, t.ours, t.theirs,
      fmt(t.value, 3), t.unit, fmt(t.limit, 1), t.unit, t.met and "yes" or "**no**"))
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The chart: wall time and CPU of each client over curl's, per workload.
local CHART_CLIENTS = { "ftplib", "curl", "python", "luasocket" }

local function write_chart(ws, work)
  local dat = OUT .. "/results.dat"
  local rows = { "# workload, then wall and CPU over curl's for: "
    .. table.concat(CHART_CLIENTS, " ") }
  for _, w in ipairs(ws) do
    if w.id ~= "idle" then
      local curl = find(w.clients, "name", "curl")
      local cells = { ('"%s"'):format(w.chart) }
      for _, key in ipairs({ "wall", "cpu" }) do
        for _, name in ipairs(CHART_CLIENTS) do
          local c = find(w.clients, "name", name)
          local r = c and curl and ratio(c[key], curl[key])
          cells[#cells + 1] = r and ("%.3f"):format(r) or "NaN"
        end
      end
      rows[#rows + 1] = table.concat(cells, " ")
    end
  end
  proc.write_file(dat, table.concat(rows, "\n") .. "\n")
  local script = work .. "/results.gp"
  local gp = {
    "set terminal pngcairo size 1800,600 font ',10'",
    ("set output '%s/results.png'"):format(OUT),
    "set style data histograms",
    "set style histogram clustered gap 1",
    "set style fill solid 0.85 border -1",
    "set boxwidth 0.9",
    "set logscale y 2",
    "set grid ytics",
    "set key at screen 0.5, screen 0.9 center top horizontal",
    "set tmargin 6",
    "set bmargin 4",
    "set format y '%g'",
    "set xtics nomirror",
    "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 front",
    "set multiplot layout 1,2 title 'ftplib for Lua vs other FTP clients, vsftpd on loopback "
      .. "(relative to curl = 1; lower is better; log scale)'",
  }
  for panel, key in ipairs({ "wall time", "client CPU (user + sys)" }) do
    gp[#gp + 1] = ("set title '%s / curl'"):format(key)
    local plots = {}
    for i, name in ipairs(CHART_CLIENTS) do
      local col = 1 + (panel - 1) * #CHART_CLIENTS + i
      local source = i == 1 and ("'" .. dat .. "'") or "''"
      plots[#plots + 1] = ("%s using %d%s title '%s'"):format(source, col,
        i == 1 and ":xtic(1)" or "", name == "ftplib" and "ftplib (ours)" or name)
    end
    gp[#gp + 1] = "plot " .. table.concat(plots, ", ")
    gp[#gp + 1] = "unset key" -- one key, above both panels
  end
  gp[#gp + 1] = "unset multiplot"
  proc.write_file(script, table.concat(gp, "\n") .. "\n")
  proc.run("gnuplot " .. q(script))
end

-- Main ---------------------------------------------------------------------------

local function main()
  check_tools()
  local load_before = load_average()
  local started = os.time()
  local t0 = socket.gettime()
  local server = servers.start("vsftpd")
  local tls_server
  local work = proc.tempdir("bench")
  local ok, err = pcall(function()
    tls_server = servers.start("vsftpd", { tls = { mode = "explicit" } })
    io.stderr:write(("bench: vsftpd on %s:%d, with explicit FTPS on port %d; making the "
      .. "test files (load average %s)\n"):format(server.host, server.port, tls_server.port,
      load_before))
    share_big(make_data(server), tls_server)
    local ws = workloads(server, tls_server, work)
    for _, w in ipairs(ws) do run_workload(w, work) end
    local text = report(ws, os.date("!%Y-%m-%d %H:%M UTC", started),
      socket.gettime() - t0, { before = load_before, after = load_average() })
    local latency_text = LATENCY and require("bench.latency").run() or ""
    proc.write_file(OUT .. "/results.md", "# Benchmark results\n\n" .. text
      .. "\n![wall time and CPU relative to curl](results.png)\n"
      .. (LATENCY and "\n" .. latency_text or ""))
    write_chart(ws, work)
    io.write(text, "\n", latency_text, "\nWritten: ", OUT, "/results.md, ", OUT, "/results.png\n")
  end)
  server:stop()
  if tls_server then tls_server:stop() end
  proc.rmtree(work)
  if not ok then error(err, 0) end
end

main()
