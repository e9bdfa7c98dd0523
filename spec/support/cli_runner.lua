-- Runs the project's programs as a user would: bin/ftplib, or a Lua script, each as its
-- own lua5.4 process that loads this checkout's Lua modules and the module of the
-- build the specs load (the first entry of package.cpath: $(BUILD)/?.so).
--
--   local cli_runner = require "spec.support.cli_runner"
--   cli_runner.ROOT, cli_runner.ENV        -- the checkout; "LUA_PATH_5_4=... LUA_CPATH_5_4=..."
--   local status, out, err, seconds = cli_runner.run(home, "get", url, path)
--   -- bin/ftplib with those words, HOME=home (its stdout and stderr go to files there),
--   -- stdin from /dev/null
local proc = require "spec.support.proc"
local lfs = require "lfs"

local cli_runner = {}

cli_runner.ROOT = lfs.currentdir()
local cpath = package.cpath:match("^([^;]+)")
if cpath:sub(1, 1) ~= "/" then
  cpath = cli_runner.ROOT .. "/" .. cpath
end
cli_runner.CPATH = cpath
cli_runner.ENV = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(
  proc.shell_quote(cli_runner.ROOT .. "/lua/?.lua;;"), proc.shell_quote(cpath .. ";;"))
cli_runner.TOOL = cli_runner.ROOT .. "/bin/ftplib"

-- Runs bin/ftplib with the given words: its exit code, stdout, stderr and the seconds
-- it took.
function cli_runner.run(home, ...)
  local words = {}
  for i, word in ipairs { ... } do
    words[i] = proc.shell_quote(word)
  end
  local out, err = home .. "/stdout", home .. "/stderr"
  local started = require("ftplib").now()
  local _, _, status = os.execute(("%s HOME=%s lua5.4 %s %s > %s 2> %s < /dev/null"):format(
    cli_runner.ENV, proc.shell_quote(home), cli_runner.TOOL, table.concat(words, " "), out,
    err))
  return status, proc.read_file(out), proc.read_file(err), require("ftplib").now() - started
end

return cli_runner
