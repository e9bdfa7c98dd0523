-- `make demo`: starts a throw-away FTP server on the loopback interface, serving a
-- temporary folder, runs examples/demo.lua against it, then stops the server.
--
--   lua5.4 scripts/run-demo.lua [BUILD_DIR]      (from the repository root)
--
-- DEMO_SERVER=vsftpd picks the server (default pyftpdlib, which needs no system account
-- and no root: `make demo` runs as an ordinary user; vsftpd needs root and the test
-- account of scripts/setup-test-env.sh, which `make test` sets up).
package.path = "./?.lua;" .. package.path
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"

local build = arg[1] or "build"
local lua = os.getenv("LUA") or "lua5.4"

local function pick_kind()
  local wanted = os.getenv("DEMO_SERVER")
  local kinds = servers.kinds()
  for _, kind in ipairs(kinds) do
    if kind == (wanted or "pyftpdlib") then return kind end
  end
  if wanted then
    error("run-demo: the " .. wanted .. " server is not usable here (make setup installs it)", 0)
  end
  return assert(kinds[1], "run-demo: no FTP server installed (make setup installs one)")
end

local kind = pick_kind()
local server = servers.start(kind)
print(("run-demo: %s listening on %s port %d, serving %s"):format(
  kind, server.host, server.port, server.root))
server:write("README.txt", "Files in this folder come and go with `make demo`.\n")
server:write("reports/2024-01.csv", "month,bytes\n2024-01,1234\n")

local env = {
  FTP_HOST = server.host,
  FTP_PORT = tostring(server.port),
  FTP_USER = server.user,
  FTP_PASSWD = server.passwd,
  LUA_PATH_5_4 = "lua/?.lua;lua/?/init.lua;;",
  LUA_CPATH_5_4 = build .. "/?.so;;",
}
local words = {}
for _, name in ipairs({ "FTP_HOST", "FTP_PORT", "FTP_USER", "FTP_PASSWD",
  "LUA_PATH_5_4", "LUA_CPATH_5_4" }) do
  words[#words + 1] = name .. "=" .. proc.shell_quote(env[name])
end
local command = table.concat(words, " ") .. " " .. proc.shell_quote(lua) .. " examples/demo.lua"

local ok, how, status = os.execute(command)
server:stop()
print("run-demo: server stopped, its folder removed")
if not ok then
  io.stderr:write(("run-demo: the demo failed (%s %s)\n"):format(tostring(how), tostring(status)))
  os.exit(1)
end
