-- One listing in a process of its own, for spec/ops/memory_spec.lua: its peak memory is
-- the process's (VmHWM), not shared with the spec runner's.
--
--   lua5.4 spec/support/listing_memory.lua PORT PATH [MAXLISTING]
--
-- Prints one line: "entries=N code=C peak_mib=P base_mib=B" (N or C "nil").
local ftplib = require "ftplib"

local port, path, maxlisting = tonumber(arg[1]), arg[2], tonumber(arg[3] or "")

local function peak_mib()
  local status = assert(io.open("/proc/self/status")):read("a")
  return tonumber(status:match("VmHWM:%s*(%d+)")) / 1024
end

local ftp = assert(ftplib.FTP("127.0.0.1", { port = port, user = "anonymous", passwd = "x",
  timeout = 120, maxlisting = maxlisting }))
local base = peak_mib()
local entries, _, code = ftp:list(path)
io.write(("entries=%s code=%s peak_mib=%.0f base_mib=%.0f\n"):format(
  entries and #entries or "nil", tostring(code), peak_mib(), base))
ftp:close()
