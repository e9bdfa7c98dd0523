-- busted helper (.busted `helper`), a no-op unless LD_PRELOAD is set.
--
-- `make asan` runs lua5.4 with the AddressSanitizer runtime in LD_PRELOAD, since the
-- instrumented core is loaded later by require. Every program the specs start inherits
-- that variable, and those not built for it crash or hang with it (python3, curl,
-- vsftpd, openssl...). Specs and harness start programs only through io.popen and
-- os.execute: wrapped here, once for the whole run, so that every command line runs
-- without LD_PRELOAD, whoever wrote it.
--
-- Lua interpreters are the exception: they may load the instrumented core (the CLI and
-- examples specs run scripts). So the commands find first on their PATH a lua5.4 that
-- puts the runtime back and runs the real one. It lives in a temporary prefix that
-- mirrors the real one (bin/, include/), because LuaRocks finds Lua's headers from the
-- place of the lua5.4 on the PATH.
--
-- The /bin/sh that popen starts still has the runtime; it only execs env, so it never
-- gets to exit (and to report leaks).
local preload = os.getenv("LD_PRELOAD")
if not preload or preload == "" then return end

local function quote(word)
  return "'" .. word:gsub("'", "'\\''") .. "'"
end

local popen, execute = io.popen, os.execute

-- A command line run by a /bin/sh without the runtime, with `path` first on its PATH.
local function without_preload(command_line, path)
  local path_setting = path and ("PATH=%s:\"$PATH\" "):format(quote(path)) or ""
  return "exec env -u LD_PRELOAD " .. path_setting .. "/bin/sh -c " .. quote(command_line)
end

local function output_of(command_line)
  local pipe = assert(popen(without_preload(command_line)))
  local text = pipe:read("a")
  assert(pipe:close(), command_line)
  return (text:gsub("\n$", ""))
end

local real_lua = output_of("command -v lua5.4")
local prefix = output_of("mktemp -d /tmp/ftplib-test.asan-lua.XXXXXX")
local bin = prefix .. "/bin"
output_of(("mkdir %s && ln -s %s %s"):format(quote(bin),
  quote((real_lua:gsub("/bin/[^/]*$", "/include"))), quote(prefix .. "/include")))
local file = assert(io.open(bin .. "/lua5.4", "w"))
file:write("#!/bin/sh\n", "# spec/support/child_env.lua: a lua5.4 with the ASan runtime\n",
  "exec env LD_PRELOAD=", quote(preload), " ", quote(real_lua), ' "$@"\n')
file:close()
output_of("chmod +x " .. quote(bin .. "/lua5.4"))

-- Removed when the Lua state closes (busted ends with os.exit(code, true)).
local cleanup = setmetatable({}, { __gc = function()
  execute(without_preload("rm -rf -- " .. quote(prefix)))
end })

function io.popen(command_line, ...) -- luacheck: ignore 122 (wrapping it is the point)
  local _ = cleanup -- the wrappers keep the cleanup alive as long as they are in use
  return popen(without_preload(command_line, bin), ...)
end

function os.execute(command_line) -- luacheck: ignore 122
  if command_line == nil then return execute() end -- "is there a shell?"
  return execute(without_preload(command_line, bin))
end
