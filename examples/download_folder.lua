-- Download every file of a remote folder, subfolders included, into a local folder.
-- Shows ftp:walk and ftp:download with resume and a progress line. Run it again after
-- an interruption: files already whole are skipped, and a download cut short (its
-- NAME.part is still there) continues where it stopped instead of starting over.
--
--   lua5.4 examples/download_folder.lua ftp://user:pass@127.0.0.1:2121/pub/reports LOCAL_DIR
--
-- The URL's path is relative to the login folder (ftp://host//abs/path for an absolute
-- one); without user and password, ~/.netrc or an anonymous login is used.
-- From a checkout, without installing: LUA_PATH='lua/?.lua;;' LUA_CPATH='build/?.so;;'.
local ftplib = require "ftplib"
local lfs = require "lfs"

local url, local_root = arg[1], arg[2]
if not (url and local_root) then
  io.stderr:write("usage: lua5.4 examples/download_folder.lua URL LOCAL_DIR\n")
  os.exit(1)
end

-- The library's failures are nil, message, code: stop there with the message.
local function check(ok, message, ...)
  if not ok then
    io.stderr:write("download_folder: ", tostring(message), "\n")
    os.exit(1, true)
  end
  return ok, message, ...
end

local function make_dir(path)
  if lfs.attributes(path, "mode") ~= "directory" then
    check(lfs.mkdir(path))
  end
end

-- A progress function for ftp:download: one line, redrawn in place on stderr.
local function progress_line(name)
  return function(done, total)
    io.stderr:write(string.format("\r%s: %d of %s bytes", name, done, total or "?"))
  end
end

local ftp <close>, root = check(ftplib.open(url))

-- walk gives paths as the server knows them ("pub/reports/2024"); locally they
-- go under local_root by their part below the folder of the URL ("2024").
-- Every local path is made by ftplib.safe_join: a name the server listed
-- cannot climb out of local_root (walk already refuses such names, and lists
-- them in its fourth value).
local prefix = (root == "" or root:sub(-1) == "/") and root or root .. "/"
local function relative(dirpath)
  return dirpath == root and "" or dirpath:sub(#prefix + 1)
end

make_dir(local_root)
local downloaded, skipped, failed, bytes = 0, 0, 0, 0
local function fail(what, err)
  failed = failed + 1
  print(string.format("%s: FAILED: %s", what, err))
end
for dirpath, dirs, files, rejected in ftp:walk(root, {
  onerror = function(dir, err)
    failed = failed + 1
    io.stderr:write("cannot list ", dir, ": ", err, "\n")
  end,
}) do
  local local_dir = check(ftplib.safe_join(local_root, relative(dirpath)))
  for _, bad in ipairs(rejected) do
    fail(string.format("%s/%q", dirpath, bad.name), bad.reason)
  end
  for _, dir in ipairs(dirs) do
    make_dir(check(ftplib.safe_join(local_dir, dir.name)))
  end
  for _, file in ipairs(files) do
    local target = check(ftplib.safe_join(local_dir, file.name))
    local remote = (dirpath == "" or dirpath:sub(-1) == "/") and dirpath .. file.name
      or dirpath .. "/" .. file.name
    if file.type ~= "file" then
      print(string.format("not a file, left alone: %s (%s)", remote, file.type))
    elseif file.size and lfs.attributes(target, "size") == file.size then
      skipped = skipped + 1
    else
      local got, info = ftp:download(remote, target, {
        resume = true, retries = 2, progress = progress_line(remote),
        size = file.size, modify = file.modify, precision = file.precision,
      })
      io.stderr:write("\n")
      if got then
        downloaded, bytes = downloaded + 1, bytes + got
        -- got counts what this run transferred: less than the file when resumed.
        print(string.format("%s: %d bytes%s%s", remote, got,
          info.resumed > 0 and string.format(" (resumed after %d)", info.resumed) or "",
          info.restarted and " (started over: " .. info.restarted .. ")" or ""))
      else
        fail(remote, info)
      end
    end
  end
end
print(string.format("%d downloaded (%d bytes), %d already there, %d failed",
  downloaded, bytes, skipped, failed))
ftp:quit()
os.exit(failed == 0 and 0 or 1, true)
