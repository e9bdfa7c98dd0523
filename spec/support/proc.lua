-- Process and file-system helpers shared by the test-server harness
-- (spec/support/servers.lua) and the scripted fake server driver (spec/support/fake.lua).
--
-- Linux only (reads /proc), needs bash, setsid, mktemp: all on any Debian machine.
local socket = require "socket"
local lfs = require "lfs"

local proc = {}

-- Every temporary folder lives under this prefix, and rmtree refuses anything else:
-- a bug in a spec must never be able to `rm -rf` a real folder.
local TEMP_PREFIX = "/tmp/ftplib-test."

--- Quotes one word for /bin/sh.
function proc.shell_quote(word)
  return "'" .. tostring(word):gsub("'", "'\\''") .. "'"
end

local function shell_join(argv)
  local words = {}
  for i, word in ipairs(argv) do words[i] = proc.shell_quote(word) end
  return table.concat(words, " ")
end

--- Runs a shell command line, raising with its output when it fails.
function proc.run(command_line)
  local pipe = assert(io.popen(command_line .. " 2>&1", "r"))
  local output = pipe:read("a")
  local ok, _, status = pipe:close()
  if not ok then
    error(("command failed (status %s): %s\n%s"):format(tostring(status), command_line, output), 2)
  end
  return output
end

--- Creates a fresh folder under /tmp. `tag` goes into the name to help when debugging.
-- Mode 0755: the servers' unprivileged session processes must be able to walk into it.
function proc.tempdir(tag)
  local template = TEMP_PREFIX .. (tag or "tmp"):gsub("[^%w_-]", "_") .. ".XXXXXX"
  local path = proc.run("mktemp -d " .. proc.shell_quote(template)):gsub("%s+$", "")
  proc.run("chmod 755 " .. proc.shell_quote(path))
  return path
end

--- `rm -rf` for folders made by proc.tempdir; anything else is a programming error.
function proc.rmtree(path)
  if type(path) ~= "string" or path:sub(1, #TEMP_PREFIX) ~= TEMP_PREFIX or path:find("/%.%./") then
    error("proc.rmtree: refusing to remove " .. tostring(path), 2)
  end
  os.execute("rm -rf -- " .. proc.shell_quote(path))
end

function proc.exists(path)
  return lfs.attributes(path, "mode") ~= nil
end

function proc.read_file(path)
  local file = io.open(path, "rb")
  if not file then return nil end
  local content = file:read("a")
  file:close()
  return content
end

-- n bytes from /dev/urandom: contents no compression or pattern makes easy.
function proc.random_bytes(n)
  local urandom = assert(io.open("/dev/urandom", "rb"))
  local bytes = n > 0 and urandom:read(n) or ""
  urandom:close()
  return bytes
end

function proc.write_file(path, content)
  local file = assert(io.open(path, "wb"))
  assert(file:write(content))
  assert(file:close())
end

--- The last `max_lines` lines of a file, or a note saying it is missing (for error messages).
function proc.tail(path, max_lines)
  local content = proc.read_file(path)
  if not content then return "(no " .. path .. ")" end
  local lines = {}
  for line in content:gmatch("[^\n]*") do lines[#lines + 1] = line end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  local first = math.max(1, #lines - (max_lines or 20) + 1)
  return table.concat(lines, "\n", first)
end

--- Polls until `predicate()` returns a true value or `timeout` seconds pass.
-- Returns the predicate's value, or nil on timeout.
function proc.wait_until(predicate, timeout, interval)
  local deadline = socket.gettime() + timeout
  repeat
    local value = predicate()
    if value then return value end
    socket.sleep(interval or 0.02)
  until socket.gettime() > deadline
  return predicate() or nil
end

--- Waits for a file to exist and be non-empty; `give_up()` may stop the wait early
-- (for example when the process that should write it has died). Returns its content or nil.
function proc.wait_for_file(path, timeout, give_up)
  return proc.wait_until(function()
    local content = proc.read_file(path)
    if content and content ~= "" then return content end
    if give_up and give_up() then return false end
  end, timeout)
end

--- A TCP port that was free a moment ago on `host`. Another process may take it before
-- the server binds it: callers retry with a new port when the bind fails.
function proc.free_port(host)
  host = host or "127.0.0.1"
  local sock = assert(host:find(":") and socket.tcp6() or socket.tcp4())
  assert(sock:bind(host, 0))
  local _, port = sock:getsockname()
  sock:close()
  return tonumber(port)
end

--- True when `pid` runs. A zombie counts as finished: it has exited and only waits to
-- be reaped by the spawn wrapper, which does so once it is told to stop.
function proc.alive(pid)
  local stat = proc.read_file("/proc/" .. tostring(pid) .. "/stat")
  if not stat then return false end
  -- The command name (field 2) is in parentheses and may hold spaces: read past it.
  local state = stat:match("%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- The wrapper that owns a spawned process. It runs under bash with its stdin being a
-- pipe from this Lua process (io.popen "w"), and:
--   1. closes every inherited descriptor above 2: LuaSocket sockets are not
--      close-on-exec, and a server holding a copy of a spec's client socket would keep
--      that connection open after the spec closed it;
--   2. starts the command in a session of its own (setsid);
--   3. writes the PID to the pid file, then blocks reading its stdin;
--   4. at end of file (the Lua side closed the handle, or died: the kernel closes the
--      pipe even on SIGKILL) stops the whole process tree: SIGTERM, up to 3 s, SIGKILL;
--      then reaps the process and removes the cleanup folder.
-- So a server can never outlive the Lua process that started it.
-- The tree is walked through /proc because signalling the process group is not enough:
-- vsftpd puts each connection's processes in a session of their own. Each process found
-- is signalled with its process group, which also catches a fork made meanwhile. Those
-- groups all lie in sessions made by the command, never in the caller's.
local WRAPPER = [==[
pidfile=$1 log=$2 cleanup=$3
shift 3
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-"; fi
done 2>/dev/null
exec >>"$log" 2>&1
setsid "$@" </dev/null &
pid=$!
echo "$pid" >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
read -r _ignored || true

# "pid ppid pgrp" of every process, read once with builtins (no fork per process).
snapshot() {
  local file stat
  for file in /proc/[0-9]*/stat; do
    read -r stat <"$file" 2>/dev/null || continue
    set -- ${stat##*) }
    echo "${file//[!0-9]/} $2 $3"
  done
}
# Sets $targets (the process and all its descendants) and $groups (their process groups).
find_tree() {
  local table frontier next p pp g f
  table=$(snapshot)
  targets=$pid frontier=$pid groups=$pid
  while [ -n "$frontier" ]; do
    next=""
    while read -r p pp g; do
      for f in $frontier; do
        if [ "$pp" = "$f" ]; then
          next="$next $p"
          [ "$g" != "$own_group" ] && groups="$groups $g"
        fi
      done
    done <<<"$table"
    targets="$targets$next" frontier=$next
  done
}
running() {
  local stat
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  set -- ${stat##*) }
  [ "$1" != Z ] && [ "$1" != X ]
}
signal_all() {
  local p g
  for p in $targets; do kill "-$1" "$p"; done
  for g in $groups; do kill "-$1" -- "-$g"; done
} 2>/dev/null
read -r own_stat </proc/$$/stat
set -- ${own_stat##*) }
own_group=$3
kill -STOP "$pid" 2>/dev/null   # no new children while the tree is read
find_tree
signal_all TERM
kill -CONT "$pid" 2>/dev/null
tries=0
while [ "$tries" -lt 60 ]; do
  alive=""
  for p in $targets; do running "$p" && alive="$alive $p"; done
  [ -z "$alive" ] && break
  sleep 0.05
  tries=$((tries + 1))
done
[ -n "$alive" ] && signal_all KILL
wait "$pid" 2>/dev/null
if [ -n "$cleanup" ]; then rm -rf -- "$cleanup"; fi
]==]

local Process = {}
Process.__index = Process

--- Starts `argv` (a list: program and arguments) in the background.
-- opts.log: file receiving the command's stdout and stderr (required);
-- opts.pidfile: where the wrapper writes the PID (default: log .. ".pid");
-- opts.cleanup: a proc.tempdir folder removed once the process is gone (optional).
-- Returns a Process: p.pid, p:alive(), p:stop().
function proc.spawn(argv, opts)
  local pidfile = opts.pidfile or (opts.log .. ".pid")
  os.remove(pidfile)
  local command_line = "exec bash -c " .. proc.shell_quote(WRAPPER) .. " ftplib-spawn "
    .. shell_join({ pidfile, opts.log, opts.cleanup or "" }) .. " " .. shell_join(argv)
  local handle = assert(io.popen(command_line, "w"))
  local pid_text = proc.wait_for_file(pidfile, 10)
  if not pid_text then
    handle:close()
    error("proc.spawn: no PID from the wrapper for: " .. shell_join(argv) .. "\n"
      .. proc.tail(opts.log), 2)
  end
  local process = setmetatable({
    pid = assert(tonumber(pid_text:match("%d+"))),
    argv = argv,
    log = opts.log,
    handle = handle,
  }, Process)
  proc.register(process)
  return process
end

function Process:alive()
  return self.handle ~= nil and proc.alive(self.pid)
end

--- Stops the process group (SIGTERM, then SIGKILL after 3 s), reaps it and removes the
-- cleanup folder. Returns when all that is done. Idempotent.
function Process:stop()
  local handle = self.handle
  if not handle then return end
  self.handle = nil
  proc.unregister(self)
  handle:close()
end

-- Objects with a :stop() method that must not outlive the Lua state. busted ends with
-- os.exit(code, true), which closes the state and so runs this sentinel's __gc.
-- (Even without it, the spawn wrapper stops its process when the Lua process exits.)
local live = {}

function proc.register(object)
  live[object] = true
end

function proc.unregister(object)
  live[object] = nil
end

--- Stops everything still registered (servers, fake servers, processes).
function proc.stop_all()
  for object in pairs(live) do
    live[object] = nil
    pcall(object.stop, object)
  end
end

proc._sentinel = setmetatable({}, { __gc = proc.stop_all, __close = proc.stop_all })

return proc
