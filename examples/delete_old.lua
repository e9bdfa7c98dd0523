-- Delete the files of a remote folder that are older than DAYS days and whose names
-- match a shell-style pattern (* and ?; default: every file). Shows ftp:list (times
-- as UTC epoch seconds, from MLSD or a parsed LIST) and ftp:delete. With --dry-run it
-- only prints what it would delete. Folders, links and files without a time are kept.
--
--   lua5.4 examples/delete_old.lua [--dry-run] ftp://user:pass@127.0.0.1:2121/logs 30 '*.log'
--
-- Exit status 1 when a deletion failed.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"

local dry_run = arg[1] == "--dry-run"
local url, days, glob = table.unpack(arg, dry_run and 2 or 1)
days = tonumber(days)
if not (url and days) then
  io.stderr:write("usage: lua5.4 examples/delete_old.lua [--dry-run] URL DAYS [PATTERN]\n")
  os.exit(1)
end

-- "*.log" --> "^.*%.log$": * is any run of characters, ? any one, the rest literal.
local function glob_to_pattern(text)
  local escaped = text:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0")
  return "^" .. escaped:gsub("%*", ".*"):gsub("%?", ".") .. "$"
end
local pattern = glob_to_pattern(glob or "*")

local ftp <close>, folder = ftplib.open(url)
if not ftp then
  io.stderr:write("delete_old: ", folder, "\n")
  os.exit(1, true)
end

local entries, err = ftp:list(folder ~= "" and folder or nil)
if not entries then
  io.stderr:write("delete_old: cannot list ", url, ": ", err, "\n")
  os.exit(1, true)
end

local now = os.time()
local cutoff = now - days * 86400
local deleted, failed = 0, 0
table.sort(entries, function(a, b) return (a.name or "") < (b.name or "") end)
for _, entry in ipairs(entries) do
  -- ftplib.safe_join refuses a listed name that is not one plain name ("..",
  -- "a/b", control characters): the listing cannot make it delete elsewhere.
  local path, refused = ftplib.safe_join(folder, entry.name or "")
  if not path then
    local shown = string.format("%q", tostring(entry.name)):gsub("\\\n", "\\n")
    print(string.format("kept %s: %s", shown, refused))
  elseif entry.type == "file" and entry.name:match(pattern) then
    local age = entry.modify and (now - entry.modify) // 86400
    if not entry.modify then
      print("kept " .. path .. ": the server gave no time")
    elseif entry.modify < cutoff then
      local ok, derr = true, nil
      if not dry_run then
        ok, derr = ftp:delete(path)
      end
      if ok then
        deleted = deleted + 1
        print(string.format("%s %s (%d days old)", dry_run and "would delete" or "deleted",
          path, age))
      else
        failed = failed + 1
        print(string.format("FAILED to delete %s: %s", path, derr))
      end
    end
  end
end
print(string.format("%d file(s) %s, %d failed", deleted,
  dry_run and "to delete (dry run: nothing was deleted)" or "deleted", failed))
ftp:quit()
os.exit(failed == 0 and 0 or 1, true)
