-- bench/delay_relay.py started in front of a server on loopback, for bench/latency.lua
-- (20 ms round trips) and bench/segments.lua (a per-session rate limit that holds).
--
--   local relay = require "bench.relay"
--   local process, port = relay.start(server_port, work, { delay = 0.01, rate = bytes })
--   ... clients connect to port ...
--   process:stop()
local proc = require "spec.support.proc"

local M = {}

local SCRIPT = "bench/delay_relay.py"

-- Starts the relay: its Process and the port it listens on. opts.delay: seconds each
-- byte is held back each way (0 by default); opts.rate: bytes per second each data
-- connection passes from the server (none by default). Raises when it does not start.
function M.start(server_port, work, opts)
  local portfile = work .. "/relay.port"
  os.remove(portfile)
  local argv = { "python3", SCRIPT, "--target", tostring(server_port),
    "--delay", tostring(opts.delay or 0), "--portfile", portfile }
  if opts.rate then
    argv[#argv + 1] = "--rate"
    argv[#argv + 1] = tostring(opts.rate)
  end
  local process = proc.spawn(argv, { log = work .. "/relay.log" })
  local port = proc.wait_for_file(portfile, 10, function() return not process:alive() end)
  if not port then
    process:stop()
    error("bench: the relay did not start: " .. (proc.read_file(work .. "/relay.log") or ""), 0)
  end
  return process, tonumber(port:match("%d+"))
end

return M
