-- Upload a local folder, subfolders included, to a remote folder, sending only what is
-- new or changed, and print the report. Shows ftp:mirror_up: a file that fails does not
-- stop the others, and --delete also removes remote files the local folder no longer
-- has. --dry-run prints what would be done and changes nothing.
--
--   lua5.4 examples/upload_folder.lua [--delete] [--dry-run] LOCAL_DIR \
--     ftp://user:pass@127.0.0.1:2121/backup
--
-- The remote folder is created when missing. Exit status 1 when anything failed.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"

local opts, words = { retries = 2 }, {}
for _, word in ipairs(arg) do
  if word == "--delete" then
    opts.delete = true
  elseif word == "--dry-run" then
    opts.dry_run = true
  else
    words[#words + 1] = word
  end
end
local local_dir, url = words[1], words[2]
if not (local_dir and url) or #words > 2 then
  io.stderr:write("usage: lua5.4 examples/upload_folder.lua [--delete] [--dry-run] LOCAL_DIR URL\n")
  os.exit(1)
end

local ftp <close>, remote_dir = ftplib.open(url)
if not ftp then
  io.stderr:write("upload_folder: ", remote_dir, "\n")
  os.exit(1, true)
end

-- nil, message, code only when a root cannot be read at all; a file that failed
-- is in report.failed and the rest went on.
local report, err = ftp:mirror_up(local_dir, remote_dir ~= "" and remote_dir or ".", opts)
if not report then
  io.stderr:write("upload_folder: ", err, "\n")
  os.exit(1, true)
end

local verb = opts.dry_run and "would be " or ""
for _, kind in ipairs { "created", "updated", "deleted" } do
  for _, path in ipairs(report[kind]) do
    print(verb .. kind .. " " .. path)
  end
end
for _, failure in ipairs(report.failed) do
  print(string.format("FAILED %s: %s", failure.path, failure.err))
end
print(string.format("%d created, %d updated, %d unchanged, %d deleted, %d failed%s",
  #report.created, #report.updated, #report.skipped, #report.deleted, #report.failed,
  opts.dry_run and " (dry run: nothing was changed)" or ""))
ftp:quit()
os.exit(#report.failed == 0 and 0 or 1, true)
