-- A Windows server that names its files in GBK (Chinese Windows, an old IIS): with
-- encoding = "gbk" the script writes and reads file names in UTF-8 and the library
-- converts them on the way. Lists the folder, then downloads 报告.txt ("report.txt"),
-- a name this script holds in UTF-8, under the same name locally.
--
--   lua5.4 examples/windows_gbk.lua ftp://user:pass@127.0.0.1:2121/docs [LOCAL_DIR [NAME]]
--
-- NAME replaces 报告.txt; FTP_ENCODING=big5 (any iconv name) replaces gbk.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"

local url, local_dir = arg[1], arg[2] or "."
local name = arg[3] or "报告.txt"
local encoding = os.getenv("FTP_ENCODING") or "gbk"
if not url then
  io.stderr:write("usage: lua5.4 examples/windows_gbk.lua URL [LOCAL_DIR [NAME]]\n")
  os.exit(1)
end

local function check(ok, message, ...)
  if not ok then
    io.stderr:write("windows_gbk: ", tostring(message), "\n")
    os.exit(1, true)
  end
  return ok, message, ...
end

local ftp <close>, folder = check(ftplib.open(url, { encoding = encoding }))

-- Names come back in UTF-8. One the server sent in bytes that are not valid in its
-- encoding is kept as those bytes (it still works in commands): utf8.len tells.
for _, entry in ipairs(check(ftp:list(folder ~= "" and folder or nil))) do
  local raw = utf8.len(entry.name) == nil and "  (raw bytes, not " .. encoding .. ")" or ""
  print(string.format("%-4s %10s  %s%s", entry.type, entry.size or "", entry.name, raw))
end

-- The remote name goes out in GBK; the local one stays UTF-8.
local remote = folder == "" and name or folder:gsub("/$", "") .. "/" .. name
local bytes = check(ftp:download(remote, local_dir .. "/" .. name))
print(string.format("downloaded %s to %s/%s (%d bytes)", remote, local_dir, name, bytes))
ftp:quit()
