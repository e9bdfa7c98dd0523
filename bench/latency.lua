-- The bench's latency workload: a mirror of many small files from a server that delays
-- every reply, where round trips, not bandwidth, set the time. pyftpdlib (one thread per
-- session when delaying) serves 1000 files of 1 KiB with each reply held back 20 ms;
-- the clients mirror the folder into an empty local one:
--   - ours, sequential:    ftp:mirror(dir, localdir)
--   - ours, parallel = 8:  ftp:mirror(dir, localdir, { parallel = 8 })
--   - lftp -e "mirror --parallel=8 dir localdir; quit"
-- Targets (the issue's): ours parallel = 8 at most 0.8x lftp's wall time, read off the
-- relayed part below (where a network has the latency), and at least 6x faster than our
-- sequential mirror.
--
-- A server that sleeps before each reply is not a slow network: its sleeps add up one
-- after the other within a session (3 replies a file: 229, 150, 226), so no client can
-- do better than FILES x 3 x DELAY / PARALLEL, pipelining or not. The second part of the
-- workload puts the latency where a network has it: pyftpdlib answering at once behind
-- bench/delay_relay.py, which holds every byte back DELAY / 2 on its way in each
-- direction (a round trip of DELAY), data connections too. There a command sent without
-- waiting for the reply before it saves a round trip, as it would on a real link. The
-- same two clients with parallel = 8; the target against lftp (0.8x) is read here: on
-- the sleeping server both clients sit at that floor, and the report says how far.
--
-- Before each run the machine's TIME-WAIT sockets are let drain (below 3000, at most
-- 70 s): thousands of them, left by the runs before, make every connect() slower and
-- would charge a run for the ones before it.
--
-- Alone (from the repository root; `make bench-latency`):  lua5.4 bench/latency.lua
-- From bench/run.lua (`make bench`): require "bench.latency".run(), which returns the
-- report's Markdown. Either way the report is also written to $BENCH_OUT/latency.md.
--
-- Environment (all optional):
--   BENCH_LATENCY_REPS=3      timed repetitions per client (medians are reported); the
--                             sequential mirror takes about a minute each
--   BENCH_LATENCY_FILES=1000  number of 1 KiB files
--   BENCH_LATENCY_DELAY=0.02  seconds every reply is delayed
--   BENCH_LATENCY_PARALLEL=8  sessions of the parallel mirrors (ours and lftp's)
--   BENCH_OUT=bench, FTPLIB_BUILD=build: as for bench/run.lua
-- No warm-up runs: the time is spent waiting for replies, which no cache shortens.
local lfs = require "lfs"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local pairs_ = require "bench.pairs"
local report_ = require "bench.report"
local relay_ = require "bench.relay"

local last_line, median, fmt = pairs_.last_line, pairs_.median, report_.fmt

local REPS = tonumber(os.getenv("BENCH_LATENCY_REPS") or "3")
local FILES = tonumber(os.getenv("BENCH_LATENCY_FILES") or "1000")
local DELAY = tonumber(os.getenv("BENCH_LATENCY_DELAY") or "0.02")
local PARALLEL = tonumber(os.getenv("BENCH_LATENCY_PARALLEL") or "8")
local OUT = os.getenv("BENCH_OUT") or "bench"
local LUA = "lua5.4"
local LFTP = "/usr/bin/lftp"
local TIME = "/usr/bin/time"
-- A run that takes longer than this is hung, not slow (the sequential mirror needs
-- FILES x a few round trips).
local RUN_TIMEOUT = 900
local REMOTE_DIR = "/many"
local TIME_WAIT_LOW, TIME_WAIT_PATIENCE = 3000, 70

local q = proc.shell_quote

-- File i's content: 1 KiB that differs from file to file, so that a file written under
-- another's name is caught.
local function content(i)
  local bytes = {}
  for k = 1, 1024 do bytes[k] = string.char((k * 131 + i * 7) % 251) end
  return table.concat(bytes)
end

local function make_data(server)
  for i = 1, FILES do
    server:write(("%s/f%04d"):format(REMOTE_DIR:sub(2), i), content(i))
  end
end

-- The three clients; each mirrors REMOTE_DIR into `into`, which exists and is empty.
-- port: where they connect (the relay's), default the server's.
local function clients(server, into, port)
  port = tostring(port or server.port)
  local login = { server.host, port, server.user, server.passwd }
  local function ours(...)
    local argv = { LUA, "bench/clients/ftplib.lua" }
    table.move(login, 1, #login, #argv + 1, argv)
    table.move({ "mirror", REMOTE_DIR, into, ... }, 1, 3 + select("#", ...), #argv + 1, argv)
    return argv
  end
  -- No TLS (ftp:ssl-allow: lftp would try AUTH TLS first); a failed mirror makes lftp
  -- exit non-zero (cmd:fail-exit).
  local lftp_script = ("set ftp:ssl-allow no; set cmd:fail-exit yes; set net:max-retries 2; "
    .. "mirror --parallel=%d %s %s; quit"):format(PARALLEL, REMOTE_DIR, into)
  return {
    { id = "sequential", name = "ours, sequential `ftp:mirror`", argv = ours() },
    { id = "parallel", name = ("ours, `ftp:mirror` with `parallel = %d`"):format(PARALLEL),
      argv = ours(tostring(PARALLEL)) },
    { id = "lftp", name = ("`lftp mirror --parallel=%d`"):format(PARALLEL),
      argv = { LFTP, "-u", server.user .. "," .. server.passwd, "-p", port,
        "-e", lftp_script, server.host } },
  }
end

-- nil when `into` holds every file with its content, else what is wrong.
local function check(into)
  local good, wrong = 0, 0
  for name in lfs.dir(into) do
    local i = tonumber(name:match("^f(%d+)$"))
    if i then
      if proc.read_file(into .. "/" .. name) == content(i) then
        good = good + 1
      else
        wrong = wrong + 1
      end
    end
  end
  if good ~= FILES then
    return ("%d of %d files right, %d with wrong content"):format(good, FILES, wrong)
  end
end

local function time_wait_sockets()
  local out = proc.run("ss -tanH state time-wait 2>/dev/null | wc -l")
  return tonumber(out:match("%d+")) or 0
end

-- Waits (at most TIME_WAIT_PATIENCE s) for the TIME-WAIT sockets of earlier runs to
-- go below TIME_WAIT_LOW.
local function drain_time_wait()
  local deadline = os.time() + TIME_WAIT_PATIENCE
  while time_wait_sockets() >= TIME_WAIT_LOW and os.time() < deadline do
    os.execute("sleep 2")
  end
end

-- One run of client c under /usr/bin/time into an empty `into`. Returns {wall=, cpu=}
-- or nil and what went wrong.
local function measure(c, into, work)
  drain_time_wait()
  os.execute("rm -rf " .. q(into))
  assert(lfs.mkdir(into))
  local timing, errors = work .. "/time.txt", work .. "/stderr.txt"
  local words = {}
  for i, word in ipairs(c.argv) do words[i] = q(word) end
  local ok = os.execute(("timeout %d %s -f '%%e %%U %%S' -o %s %s >/dev/null 2>%s"):format(
    RUN_TIMEOUT, TIME, q(timing), table.concat(words, " "), q(errors)))
  local wall, user, sys = (proc.read_file(timing) or ""):match("(%S+) (%S+) (%S+)\n?$")
  if not ok or not wall then
    return nil, last_line(proc.read_file(errors) or "")
  end
  local wrong = check(into)
  if wrong then return nil, wrong end
  return { wall = tonumber(wall), cpu = tonumber(user) + tonumber(sys) }
end

-- Runs every client REPS times, interleaved, a failed client not again; fills in
-- c.wall, c.cpu, c.wall_min, c.wall_max, or c.failure.
local function run_clients(list, into, work)
  for _, c in ipairs(list) do c.walls, c.cpus = {}, {} end
  for rep = 1, REPS do
    for _, c in ipairs(list) do
      if not c.failure then
        local result, why = measure(c, into, work)
        if result then
          c.walls[rep], c.cpus[rep] = result.wall, result.cpu
          io.stderr:write(("bench latency: %s: %.2f s (run %d/%d)\n"):format(c.id,
            result.wall, rep, REPS))
        else
          c.failure = why
          io.stderr:write(("bench latency: %s failed: %s\n"):format(c.id, why))
        end
      end
    end
  end
  for _, c in ipairs(list) do
    if not c.failure then
      c.wall, c.cpu = median(c.walls), median(c.cpus)
      c.wall_min, c.wall_max = math.min(table.unpack(c.walls)), math.max(table.unpack(c.walls))
    end
  end
end

local function versions()
  local lftp = proc.run(LFTP .. " --version"):match("Version (%S+)") or "?"
  local pyftpdlib = proc.run("dpkg-query -W -f='${Version}' python3-pyftpdlib")
  return ("lftp %s, pyftpdlib %s"):format(lftp, pyftpdlib)
end

-- The rows of a client table: one per id in ids.
local function client_rows(add, by_id, ids)
  add("| client | wall s | wall min–max | CPU s |")
  add("|---|---:|---:|---:|")
  for _, id in ipairs(ids) do
    local c = by_id[id]
    if c.failure then
      add(("| %s | **fails**: `%s` | | |"):format(c.name, c.failure:gsub("|", "\\|")))
    else
      add(("| %s | %s | %s–%s | %s |"):format(c.name, fmt(c.wall), fmt(c.wall_min),
        fmt(c.wall_max), fmt(c.cpu)))
    end
  end
end

local TARGET_HEADER = "| target | ours | theirs | ratio | limit | met |\n"
  .. "|---|---:|---:|---:|---:|---|"

-- ours / theirs, or nil when either is missing (a client that failed).
local function ratio_of(ours, theirs)
  return ours and theirs and ours / theirs
end

-- A target row: ours against theirs, met when the ratio is within limit (<=) or, with
-- at_least, beyond it (>=).
local function target_row(add, what, ours, theirs, limit, at_least)
  local ratio = at_least and ratio_of(theirs, ours) or ratio_of(ours, theirs)
  local met = ratio and (at_least and ratio >= limit or not at_least and ratio <= limit)
  add(("| %s | %s s | %s s | %sx | %s %.1fx | %s |"):format(what, fmt(ours), fmt(theirs),
    fmt(ratio, 3), at_least and ">=" or "<=", limit, met and "yes" or "**no**"))
end

local function report(by_id, relayed, elapsed)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  add(("## Latency: %d files of 1 KiB, every reply delayed %g ms"):format(FILES, DELAY * 1000))
  add("")
  add(("Taken %s with %s. Each client mirrors the folder into an empty local one; "
    .. "medians of %d runs, interleaved, no warm-up, the TIME-WAIT sockets of earlier runs "
    .. "drained before each; wall and CPU (user + sys) in seconds. The workload took %.0f s.")
    :format(os.date("!%Y-%m-%d %H:%M UTC"), versions(), REPS, elapsed))
  add("")
  add(("### The server sleeps %g ms before each reply"):format(DELAY * 1000))
  add("")
  client_rows(add, by_id, { "sequential", "parallel", "lftp" })
  local par, seq, lftp = by_id.parallel, by_id.sequential, by_id.lftp
  add("")
  local floor = FILES * 3 * DELAY / PARALLEL
  add(("No client can beat %d files x 3 replies x %g ms / %d sessions = %.2f s here: the "
    .. "sleeps of one session follow one another."):format(FILES, DELAY * 1000, PARALLEL,
    floor))
  add("")
  add(("Ours with `parallel = %d` took %sx lftp's wall time here (%s s and %s s, %sx and "
    .. "%sx of that floor). This part is no target against lftp: both sit at the floor, "
    .. "which only fewer replies could lower; the relayed part below holds the target.")
    :format(PARALLEL, fmt(ratio_of(par.wall, lftp.wall), 3), fmt(par.wall), fmt(lftp.wall),
      fmt(ratio_of(par.wall, floor), 2), fmt(ratio_of(lftp.wall, floor), 2)))
  add("")
  add(TARGET_HEADER)
  target_row(add, ("`parallel = %d` mirror: speedup over our sequential mirror"):format(
    PARALLEL), par.wall, seq.wall, 6.0, true)
  add("")
  add(("### A %g ms round trip: the server answers at once, behind a relay that holds every "
    .. "byte back %g ms each way"):format(DELAY * 1000, DELAY * 500))
  add("")
  client_rows(add, relayed, { "parallel", "lftp" })
  add("")
  add(TARGET_HEADER)
  target_row(add, ("`parallel = %d` mirror: wall vs lftp's"):format(PARALLEL),
    relayed.parallel.wall, relayed.lftp.wall, 0.8)
  return table.concat(lines, "\n") .. "\n"
end

-- Runs list into work's mirror folder; the clients by id.
local function run_part(list, work)
  run_clients(list, work .. "/mirror", work)
  local by_id = {}
  for _, c in ipairs(list) do by_id[c.id] = c end
  return by_id
end

local latency = {}

--- Runs the workload; returns the report (Markdown), also written to OUT/latency.md.
function latency.run()
  if not proc.exists(LFTP) then
    error("bench latency: missing " .. LFTP .. ": run scripts/setup.sh", 0)
  end
  local started = os.time()
  local work = proc.tempdir("bench-latency")
  local sleeping, prompt, relay
  local ok, text = pcall(function()
    sleeping = servers.start("pyftpdlib", { delay = DELAY })
    io.stderr:write(("bench latency: pyftpdlib on %s:%d, %g s per reply; making %d files\n")
      :format(sleeping.host, sleeping.port, DELAY, FILES))
    make_data(sleeping)
    local by_id = run_part(clients(sleeping, work .. "/mirror"), work)
    sleeping:stop()
    prompt = servers.start("pyftpdlib")
    make_data(prompt)
    local port
    relay, port = relay_.start(prompt.port, work, { delay = DELAY / 2 })
    io.stderr:write(("bench latency: pyftpdlib on port %d behind the relay on %d, %g s a "
      .. "round trip\n"):format(prompt.port, port, DELAY))
    local list = clients(prompt, work .. "/mirror", port)
    table.remove(list, 1) -- no sequential mirror: a minute for no target
    local relayed = run_part(list, work)
    return report(by_id, relayed, os.time() - started)
  end)
  for _, object in pairs({ relay = relay, prompt = prompt, sleeping = sleeping }) do
    object:stop() -- a server stopped twice is stopped once
  end
  proc.rmtree(work)
  if not ok then error(text, 0) end
  os.execute("mkdir -p " .. q(OUT))
  proc.write_file(OUT .. "/latency.md", "# Benchmark results: latency\n\n" .. text)
  return text
end

if ... == "bench.latency" then return latency end

io.write(latency.run(), "\nWritten: ", OUT, "/latency.md\n")
