-- `make bench`: this library against curl, Python's ftplib, LuaSocket's socket.ftp and
-- lftp, all talking to vsftpd on loopback: one plain server, and one with explicit FTPS
-- (AUTH TLS, protected data, require_ssl_reuse=YES) for the TLS downloads. Run from the
-- repository root, as root (the vsftpd harness needs it):
--
--   lua5.4 bench/run.lua
--
-- Ours and each peer run in pairs (bench/pairs.lua): one run each, ours first in odd
-- pairs and the peer first in even ones, and every pair gives a ratio of its own; the
-- report (bench/report.lua) shows the median ratio and its spread, with the run
-- conditions (machine, versions, load averages).
--
-- Environment (all optional):
--   BENCH_PAIRS=7       timed pairs per workload and peer
--   BENCH_TLS_PAIRS=5   the same for the TLS downloads (each run takes seconds)
--   BENCH_WARMUP=1      untimed pairs before them
--   BENCH_SIZE_MIB=1024 size of the big file (random bytes)
--   BENCH_FILES=1000    number of 1 KiB files
--   BENCH_ONLY=get_func,tls_func  only these workloads (ids: get_func get_file put_file
--                       many_mem many_file tls_func tls_file segments)
--   BENCH_PEERS=curl,python       only these peers (curl python luasocket lftp
--                       one_session: the segments workload's download on one session)
--   BENCH_SEG_MIB=256, BENCH_SEG_RATE=8 (MiB/s per session), BENCH_SEG_PAIRS=3,
--   BENCH_SEG_N=4       the segments workload (bench/segments.lua): its own vsftpd
--                       with a per-session rate limit
--   BENCH_OUT=bench     where results.md, results.dat and results.png go; a partial run
--                       (BENCH_ONLY or BENCH_PEERS) writes results-partial.md only, so
--                       that results.md always holds the latest full run
--   FTPLIB_BUILD=build  the build folder whose ftplib/core.so our client loads
--   BENCH_LATENCY=1     0: leave out the latency workload (bench/latency.lua: a mirror of
--                       many small files from a slow-replying server, ours against lftp;
--                       it has settings of its own, and runs alone with
--                       `make bench-latency`); a partial run leaves it out too
--
-- Every client runs under /usr/bin/time (wall, user+sys CPU, max RSS of the client
-- process alone: the server is another process tree). A peer that fails is not run
-- again: its row shows how it failed (its last line of stderr) and after how long.
package.path = "lua/?.lua;" .. package.path
local lfs = require "lfs"
local socket = require "socket"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
local pairs_ = require "bench.pairs"
local report = require "bench.report"
local segments = require "bench.segments"

local function env_number(name, default)
  return tonumber(os.getenv(name) or "") or default
end

local PAIRS = env_number("BENCH_PAIRS", env_number("BENCH_REPS", 7))
local TLS_PAIRS = env_number("BENCH_TLS_PAIRS", env_number("BENCH_TLS_REPS", 5))
local WARMUP = env_number("BENCH_WARMUP", 1)
local SIZE_MIB = env_number("BENCH_SIZE_MIB", 1024)
local FILES = env_number("BENCH_FILES", 1000)
local OUT = os.getenv("BENCH_OUT") or "bench"
local ONLY = os.getenv("BENCH_ONLY")
local PEERS = os.getenv("BENCH_PEERS")
local PARTIAL = (ONLY and ONLY ~= "") or (PEERS and PEERS ~= "")
local LATENCY = os.getenv("BENCH_LATENCY") ~= "0" and not PARTIAL
local LUA = "lua5.4"
local PYTHON = "/usr/bin/python3"
local TIME = "/usr/bin/time"
local ALL_PEERS = { "curl", "python", "luasocket", "lftp" }

local q = proc.shell_quote

local function set_of(list_text)
  if not list_text or list_text == "" then return nil end
  local set = {}
  for word in list_text:gmatch("[^,%s]+") do set[word] = true end
  return set
end

local ONLY_SET, PEER_SET = set_of(ONLY), set_of(PEERS)

local function size_text(mib)
  if mib % 1024 == 0 then return (mib // 1024) .. " GiB" end
  return mib .. " MiB"
end

local function check_tools()
  local missing = {}
  for _, tool in ipairs({ TIME, PYTHON, "/usr/bin/curl", "/usr/bin/lftp", "/usr/bin/gnuplot" }) do
    if not proc.exists(tool) then missing[#missing + 1] = tool end
  end
  if not pcall(require, "socket.ftp") then missing[#missing + 1] = "LuaSocket (lua-socket)" end
  if #missing > 0 then
    error("bench: missing " .. table.concat(missing, ", ") .. ": run scripts/setup.sh", 0)
  end
end

-- Test data --------------------------------------------------------------------

-- The big file is random bytes: nothing on the way (a cache, a compressing layer, a
-- page of zeros shared by the kernel) can make it cheaper than real content.
local function make_data(server)
  local big = server:path("big")
  proc.run(("head -c %dM /dev/urandom > %s"):format(SIZE_MIB, q(big)))
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
  -- lftp, one `lftp -c` script per run: no retries (a failure must show), the
  -- session's TLS as ours (AUTH TLS, PROT P, the test CA) or none. lftp says nothing
  -- of the bytes it moved: its exit status and the workload's file checks stand in.
  local function lftp_with(s, tls, command)
    local settings = { "set cmd:fail-exit yes", "set net:max-retries 1",
      "set xfer:clobber on" }
    if tls then
      table.move({ "set ftp:ssl-force yes", "set ftp:ssl-protect-data yes",
        "set ssl:ca-file " .. s.ca }, 1, 3, #settings + 1, settings)
    else
      settings[#settings + 1] = "set ftp:ssl-allow no"
    end
    settings[#settings + 1] = ("open -u %s,%s -p %d %s"):format(s.user, s.passwd, s.port,
      s.host)
    settings[#settings + 1] = command
    return { argv = { "lftp", "-c", table.concat(settings, "; ") } }
  end
  -- not_run: client name -> why it is not run (shown in its row instead of times).
  -- lftp: {argv=, check=} (check false: the workload's byte count cannot apply).
  local function clients(argv_by_name, curl_argv, lftp, not_run)
    argv_by_name.curl = curl_argv
    local list = {}
    for _, name in ipairs({ "ftplib", "curl", "python", "luasocket", "lftp" }) do
      local why = not_run and not_run[name]
      local c = { name = name, argv = not why and argv_by_name[name] or nil, not_run = why }
      if name == "lftp" and not why then c.argv, c.check = lftp.argv, lftp.check end
      list[#list + 1] = c
    end
    return list
  end
  local function lftp_plain(command, check)
    local c = lftp_with(server, false, command)
    c.check = check
    return c
  end
  local function lftp_tls(command, check)
    local c = lftp_with(tls_server, true, command)
    c.check = check
    return c
  end
  local many_names = {}
  for i = 1, FILES do many_names[i] = ("many/f%04d"):format(i) end
  many_names = table.concat(many_names, " ")
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
      clients = clients(scripts("get-func", "big"), curl_with("-o", "/dev/null", url("/big")),
        lftp_plain("get big -o /dev/null", false)),
      check = got(big_bytes),
    },
    {
      id = "get_file", label = size .. " download into a file", short = "get into file",
      chart = size .. " get\\ninto a file",
      clients = clients(scripts("get-file", "big", down), curl_with("-o", down, url("/big")),
        lftp_plain("get big -o " .. down)),
      prepare = function() os.remove(down) end,
      check = file_of(down, big_bytes, "downloaded"),
    },
    {
      id = "put_file", label = size .. " upload from a file", short = "put from file",
      chart = size .. " put\\nfrom a file",
      clients = clients(scripts("put-file", server:path("big"), "up.bin"),
        curl_with("-T", server:path("big"), url("/up.bin")),
        lftp_plain("put " .. server:path("big") .. " -o up.bin")),
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
      clients = clients(scripts("many-mem", "many", tostring(FILES)), curl_with(many_glob),
        lftp_plain("cat " .. many_names, false)),
      check = got(many_bytes),
    },
    {
      id = "many_file", label = FILES .. " files of 1 KiB into files, one session",
      short = FILES .. " x 1 KiB to files", timeout = 120,
      chart = FILES .. " x 1 KiB\\ninto files",
      clients = clients(scripts("many", "many", tostring(FILES), many),
        curl_with("-o", many .. "/f#1", many_glob),
        lftp_plain("mget -O " .. many .. " many/f*")),
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
      short = "TLS get into function", reps = TLS_PAIRS,
      chart = size .. " TLS get\\ninto a function",
      clients = clients(scripts_for(tls_login, "get-func", "big"),
        curl_tls_with("-o", "/dev/null", tls_server:url("/big")),
        lftp_tls("get big -o /dev/null", false), { luasocket = no_ftps }),
      check = got(big_bytes),
    },
    {
      id = "tls_file", label = size .. " TLS download into a file",
      short = "TLS get into file", reps = TLS_PAIRS,
      chart = size .. " TLS get\\ninto a file",
      clients = clients(scripts_for(tls_login, "get-file", "big", down),
        curl_tls_with("-o", down, tls_server:url("/big")), lftp_tls("get big -o " .. down),
        { luasocket = no_ftps, python = "n/a: fails as in the row above" }),
      prepare = function() os.remove(down) end,
      check = file_of(down, big_bytes, "downloaded"),
    },
    {
      id = "idle", label = "idle lua5.4 (memory baseline)",
      clients = { { name = "lua5.4 -e ''", argv = { LUA, "-e", "" } } },
    },
  }
end

-- Running ------------------------------------------------------------------------

local function wanted(w)
  return w.id == "idle" or not ONLY_SET or ONLY_SET[w.id]
end

-- Ours against each peer in turn, in pairs.
local function run_workload(w, work)
  local ours = w.clients[1]
  assert(ours.name == "ftplib")
  w.ran = true
  local opts = { pairs = w.reps or PAIRS, warmup = WARMUP }
  for i = 2, #w.clients do
    local peer = w.clients[i]
    if not peer.not_run and (not PEER_SET or PEER_SET[peer.name]) then
      pairs_.run(w, ours, peer, work, opts)
      if ours.failure then
        error(("bench: our client failed in %s: %s"):format(w.id, ours.failure), 0)
      end
    end
  end
end

-- The memory baseline: the idle interpreter, a few times.
local function run_idle(w, work)
  local runs = {}
  for _ = 1, 3 do
    local r = assert(pairs_.measure(w, w.clients[1], work))
    runs[#runs + 1] = r
  end
  w.idle = pairs_.summary(runs)
end

local function write_results(ws, text, work)
  if PARTIAL then
    proc.write_file(OUT .. "/results-partial.md", "# Benchmark results (partial run)\n\n"
      .. text)
    return OUT .. "/results-partial.md"
  end
  local latency_text = LATENCY and require("bench.latency").run() or ""
  proc.write_file(OUT .. "/results.md", "# Benchmark results\n\n" .. text
    .. "\n![wall time over each peer](results.png)\n"
    .. (LATENCY and "\n" .. latency_text or ""))
  report.chart(ws, ALL_PEERS, OUT .. "/results.dat", OUT .. "/results.png",
    work .. "/results.gp")
  return OUT .. "/results.md, " .. OUT .. "/results.png"
end

local function main()
  check_tools()
  -- Made now, not after the pairs: a results folder that cannot be made fails at once.
  assert(os.execute("mkdir -p " .. q(OUT)), "bench: cannot make " .. OUT)
  local load_before = report.load_average()
  local started = os.time()
  local t0 = socket.gettime()
  local server = servers.start("vsftpd")
  local tls_server, seg_server
  local work = proc.tempdir("bench")
  local ok, err = pcall(function()
    tls_server = servers.start("vsftpd", { tls = { mode = "explicit" } })
    io.stderr:write(("bench: vsftpd on %s:%d, with explicit FTPS on port %d; making the "
      .. "test files (load average %s)\n"):format(server.host, server.port, tls_server.port,
      load_before))
    share_big(make_data(server), tls_server)
    local ws = workloads(server, tls_server, work)
    if wanted({ id = "segments" }) then
      seg_server = segments.start()
      table.insert(ws, #ws, segments.workload(seg_server, work)) -- before "idle"
    end
    for _, w in ipairs(ws) do
      if w.id == "idle" then run_idle(w, work) elseif wanted(w) then run_workload(w, work) end
    end
    local targets = report.targets(ws, size_text(SIZE_MIB))
    local text = report.conditions({ date = os.date("!%Y-%m-%d %H:%M UTC", started),
      elapsed = socket.gettime() - t0, load_before = load_before,
      load_after = report.load_average(), pairs = PAIRS, tls_pairs = TLS_PAIRS,
      seg_pairs = seg_server and segments.PAIRS,
      warmup = WARMUP, python = PYTHON, only = ONLY, peers = PEERS, random = true })
      .. "\n\n" .. targets .. "\n\n" .. report.table(ws) .. "\n"
    local written = write_results(ws, text, work)
    io.write(text, "\nWritten: ", written, "\n")
  end)
  server:stop()
  if tls_server then tls_server:stop() end
  if seg_server then seg_server:stop() end
  proc.rmtree(work)
  if not ok then error(err, 0) end
end

main()
