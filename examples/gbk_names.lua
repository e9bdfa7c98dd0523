-- A server that names its files in GBK (an old Windows server, say): list a folder with
-- readable names and download every file of it, under the same names, in UTF-8.
--
--   lua5.4 examples/gbk_names.lua HOST [PORT [USER [PASSWD [FOLDER [LOCAL_DIR]]]]]
--   FTP_ENCODING=big5 lua5.4 examples/gbk_names.lua ...   -- any iconv name (default gbk)
--
-- The script writes and reads UTF-8; the library converts names both ways. A name the
-- server sent in bytes that are not valid GBK is kept as those bytes (and still works
-- in commands); it is shown here with a mark.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"

local host = arg[1] or "127.0.0.1"
local port = tonumber(arg[2] or "21")
local user, passwd = arg[3], arg[4]
local folder = arg[5] or "."
local local_dir = arg[6] or "."
local encoding = os.getenv("FTP_ENCODING") or "gbk"

local ftp = assert(ftplib.FTP(host, {
  port = port, user = user or "anonymous", passwd = passwd, encoding = encoding,
}))

local files = 0
for _, entry in ipairs(assert(ftp:list(folder))) do
  -- Converted names are valid UTF-8: one that is not came raw from the server.
  local mark = utf8.len(entry.name) == nil and "  (not valid " .. encoding .. ", raw bytes)" or ""
  print(string.format("%-4s %10s  %s%s", entry.type, entry.size or "", entry.name, mark))
  if entry.type == "file" then
    local remote = folder == "." and entry.name or (folder .. "/" .. entry.name)
    local bytes, err = ftp:download(remote, local_dir .. "/" .. entry.name)
    if bytes then
      files = files + 1
    else
      print("  download failed: " .. err)
    end
  end
end
print(string.format("%d file(s) downloaded to %s", files, local_dir))
ftp:quit()
