-- A client of the specs' own on 127.0.0.2, for active-mode transfers: it connects to
-- the port of the first PORT command it sees in the debug output, before the command
-- is even sent (the library listens first), so a spec can check that the library
-- refuses a data connection from an address that is not the server's.
--
--   local stranger = require("spec.support.stranger").watcher("bytes to send")
--   ftplib.FTP(host, { passive = false, debuglevel = 1, debugfunc = stranger.debugfunc })
--   stranger.sock, stranger.connected, stranger.connect_err  -- after the PORT
local socket = require "socket"

local M = {}

--- A watcher whose debugfunc makes the stranger's connection; once connected it sends
-- `payload` when one is given.
function M.watcher(payload)
  local stranger = {}
  function stranger.debugfunc(line)
    local h1, h2, h3, h4, p1, p2 = line:match("PORT (%d+),(%d+),(%d+),(%d+),(%d+),(%d+)")
    if not h1 or stranger.sock then return end
    local sock = assert(socket.tcp4())
    assert(sock:bind("127.0.0.2", 0))
    sock:settimeout(5)
    stranger.sock = sock
    stranger.connected, stranger.connect_err = sock:connect(table.concat({ h1, h2, h3, h4 }, "."),
      tonumber(p1) * 256 + tonumber(p2))
    if stranger.connected and payload then sock:send(payload) end
  end
  return stranger
end

return M
