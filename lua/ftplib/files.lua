-- Whole-file helpers: ftp:download and ftp:upload, with resume, atomic
-- uploads, progress, modification times and retries after a dropped
-- session. A download is written to localpath .. ".part" and renamed only
-- once it is whole, so a failed download never leaves a truncated file
-- under the final name.
local core = require "ftplib.core"
local util = require "ftplib.util"
-- LuaFileSystem is loaded when a helper first needs it: scripts using only the
-- FTP methods do not need it installed.
local lfs = util.lazy_require("lfs", "ftp:download and ftp:upload need LuaFileSystem")
local retry = require "ftplib.retry"

local FTP = core.FTP_methods

local PART = ".part"
-- Blocks for transfers watched by a progress callback: one Lua call and one
-- string per block, so bigger than the default 64 KiB.
local PROGRESS_BLOCK = 256 * 1024

-- Replies saying the server does not know a command at all (RFC 959):
-- REST, MDTM or SIZE missing is not a failure of the file.
local UNKNOWN_COMMAND = { [500] = true, [501] = true, [502] = true, [504] = true }

local DOWNLOAD_OPTIONS = {
  size = "number", resume = "boolean", progress = "function", verify = "boolean",
  preserve_time = "boolean", retries = "number", retry_delay = "number",
}
local UPLOAD_OPTIONS = {
  resume = "boolean", atomic = "boolean", progress = "function",
  preserve_time = "boolean", retries = "number", retry_delay = "number",
}

local function check_options(fname, opts, types)
  opts = util.check_options(fname, 3, opts, types)
  retry.check_options(fname, opts)
  return opts
end

-- Shared by both directions -------------------------------------------------

-- The remote file's size: an integer, nil when the server gives none
-- (no SIZE, or it refuses it for this name), or nil, msg, code when the
-- session failed on the way.
local function remote_size(self, name)
  local size, err, code = self:size(name)
  if size then
    return size
  end
  if retry.transient(code) then
    return nil, err, code
  end
  return nil
end

-- Progress reports never go back: a retry that resumes from less than was
-- already reported (bytes in flight when the connection dropped) reports
-- again once it passes that point. progress may answer false to stop.
local function report(job, done, total)
  if done > (job.reported or -1) then
    job.reported = done
    return job.opts.progress(done, total)
  end
end

-- The last report, (size, total), once the file is whole.
local function report_end(job, size, total)
  if job.opts.progress and job.reported ~= size then
    job.reported = size
    job.opts.progress(size, total or size)
  end
end

-- Downloads -------------------------------------------------------------------

local function local_size(path)
  return lfs.attributes(path, "size")
end

-- The size announced by the 150 reply of the transfer under way (the data
-- connection datachan.lua keeps in _data_open until its final reply).
local function announced_size(self)
  local data = self._data_open
  return data and data._size
end

-- The sink for a download from `offset`: the open file itself when nobody
-- watches (the C core writes it, no Lua call per block), else an object
-- counting what it writes. Its total falls back to the 150 reply's size,
-- which is the whole file's only for a transfer from the start.
local function download_sink(self, job, file, offset)
  if not job.opts.progress then
    return file
  end
  local done, total = offset, job.total
  return {
    write = function(_, chunk)
      local ok, err = file:write(chunk)
      if not ok then
        return nil, err
      end
      if total == nil and offset == 0 then
        total = announced_size(self) or false -- false: asked, none given
      end
      done = done + #chunk
      return report(job, done, total or nil) ~= false
    end,
  }
end

-- RETR into the .part from byte offset (the .part holds exactly that much).
local function fetch(self, job, offset)
  local file <close>, err = io.open(job.part, offset > 0 and "r+b" or "wb")
  if not file then
    return nil, err, "io"
  end
  job.opened = true
  if offset > 0 then
    file:seek("set", offset)
  end
  local sink = download_sink(self, job, file, offset)
  local ok, rerr, code = self:retrbinary("RETR " .. job.remote, sink, PROGRESS_BLOCK,
    offset > 0 and offset or nil)
  local closed, cerr = file:close()
  if ok and not closed then
    return nil, cerr, "io"
  end
  return ok, rerr, code
end

-- The .part is whole when it has the size SIZE gave. Short is a transfer
-- cut early ("closed": worth resuming); longer is not the file we think.
-- A size the caller gave (from a listing) may be stale: on a mismatch SIZE
-- has the last word.
local function check_download_size(self, job)
  local size = local_size(job.part) or 0
  if job.verify and job.total and size ~= job.total and job.total == job.opts.size then
    local total, err, code = remote_size(self, job.remote)
    if err then
      return nil, err, code
    end
    job.total = total
  end
  if job.verify and job.total and size ~= job.total then
    return nil, string.format("%s: %d bytes received, the server's SIZE is %d",
      job.remote, size, job.total), size < job.total and "closed" or "proto"
  end
  return size
end

-- MDTM onto the .part (the rename keeps it). A server without MDTM is
-- skipped: the file itself is fine.
local function set_local_time(self, job)
  local mtime, err, code = self:mdtm(job.remote)
  if not mtime then
    if UNKNOWN_COMMAND[code] then
      return true
    end
    return nil, err, code
  end
  local ok, terr = lfs.touch(job.part, os.time(), mtime)
  if not ok then
    return nil, terr, "io"
  end
  return true
end

-- Transfers what the .part lacks: the whole file, the rest of it, or
-- nothing when it is already whole. A refused REST starts over.
local function fill_part(self, job, resume)
  local offset = resume and local_size(job.part) or 0
  if job.total and offset > job.total then
    offset = 0 -- a start of some other file: start over
  end
  job.start = math.min(job.start or offset, offset)
  if offset > 0 and offset == job.total then
    return true
  end
  local ok, err, code = fetch(self, job, offset)
  if not ok and offset > 0 and UNKNOWN_COMMAND[code] then
    job.start = 0
    ok, err, code = fetch(self, job, 0)
  end
  return ok, err, code
end

-- One try: SIZE (unless opts.size saves the round trip), RETR (resumed
-- when asked or when an earlier try of this call left data), checks, time,
-- rename. Answers the bytes this call added.
local function download_try(self, job)
  local total, err, code = job.opts.size, nil, nil
  if not total then
    total, err, code = remote_size(self, job.remote)
  end
  if err then
    return nil, err, code
  end
  job.total = total
  local ok
  ok, err, code = fill_part(self, job, job.opts.resume or job.opened)
  if not ok then
    return nil, err, code
  end
  local size
  size, err, code = check_download_size(self, job)
  if not size then
    return nil, err, code
  end
  report_end(job, size, total)
  if job.opts.preserve_time then
    ok, err, code = set_local_time(self, job)
    if not ok then
      return nil, err, code
    end
  end
  local renamed, rerr = os.rename(job.part, job.localpath)
  if not renamed then
    return nil, rerr, "io"
  end
  return size - job.start
end

-- ftp:download(remote, localpath, opts) --> bytes this call transferred.
-- On failure the .part is kept when it holds data (resume = true continues
-- it later; a download without resume replaces it) and removed when empty.
function FTP:download(remote, localpath, opts)
  util.check("download", 1, remote, "string")
  util.check("download", 2, localpath, "string")
  opts = check_options("download", opts, DOWNLOAD_OPTIONS)
  local job = {
    remote = remote, localpath = localpath, part = localpath .. PART,
    opts = opts, verify = opts.verify ~= false,
  }
  local bytes, err, code = retry.run(self, opts, function()
    return download_try(self, job)
  end)
  if not bytes and job.opened and (local_size(job.part) or 0) == 0 then
    os.remove(job.part)
  end
  return bytes, err, code
end

-- Uploads ---------------------------------------------------------------------

-- The storbinary callback reporting progress, nil when nobody watches (the
-- C core then sends the file with sendfile).
local function upload_callback(job, offset)
  if not job.opts.progress then
    return nil
  end
  local done = offset
  return function(chunk)
    done = done + #chunk
    return report(job, done, job.size)
  end
end

-- STOR from byte offset: REST + STOR, or APPE once the server refused that.
-- REST + STOR comes first because it writes at the offset we asked for,
-- whatever the remote file became meanwhile; APPE appends at whatever end
-- the file has. So APPE is used only when REST + STOR was refused before
-- any byte went out, straight after the SIZE that gave the offset.
local function send(self, job, offset)
  local file <close>, err = io.open(job.localpath, "rb")
  if not file then
    return nil, err, "io"
  end
  job.sent = true
  file:seek("set", offset)
  local callback = upload_callback(job, offset)
  if not (offset > 0 and job.use_appe) then
    local ok, code
    ok, err, code = self:storbinary("STOR " .. job.target, file, PROGRESS_BLOCK, callback,
      offset > 0 and offset or nil)
    local refused = not ok and offset > 0 and math.type(code) == "integer" and code ~= 421
      and file:seek() == offset
    if not refused then
      return ok, err, code
    end
    job.use_appe = true
  end
  return self:storbinary("APPE " .. job.target, file, PROGRESS_BLOCK, callback)
end

-- MFMT (draft-somers-ftp-mfxx) with the local file's time, when FEAT lists
-- it; a server without it is skipped silently, as a time is not data.
local function set_remote_time(self, job)
  local features, err, code = self:_features()
  if err then
    return nil, err, code
  end
  if not features.MFMT then
    return true
  end
  local mtime = lfs.attributes(job.localpath, "modification")
  return self:voidcmd("MFMT " .. os.date("!%Y%m%d%H%M%S", mtime) .. " " .. job.remote)
end

-- One try: SIZE of the target when resuming, the missing bytes, the rename
-- of a temporary, MFMT. Answers the bytes this call added to the file.
local function upload_try(self, job)
  local offset, err, code = 0, nil, nil
  if job.opts.resume or job.sent then
    offset, err, code = remote_size(self, job.target)
    if err then
      return nil, err, code
    end
    offset = (offset and offset <= job.size) and offset or 0
  end
  job.start = math.min(job.start or offset, offset)
  if not (offset > 0 and offset == job.size) then
    local ok
    ok, err, code = send(self, job, offset)
    if not ok then
      return nil, err, code
    end
  end
  report_end(job, job.size, job.size)
  local ok = true
  if job.target ~= job.remote then
    -- RNFR/RNTO only: a server refusing to rename onto an existing file
    -- fails the upload rather than see the old version deleted first.
    ok, err, code = self:rename(job.target, job.remote)
  end
  if ok and job.opts.preserve_time then
    ok, err, code = set_remote_time(self, job)
  end
  if not ok then
    return nil, err, code
  end
  return job.size - job.start
end

-- ftp:upload(localpath, remote, opts) --> bytes this call transferred.
-- With atomic, the data goes to remote .. ".part" (same folder) and is
-- renamed once whole; a failed atomic upload deletes that temporary, unless
-- resume was asked for (a later resume continues it).
function FTP:upload(localpath, remote, opts)
  util.check("upload", 1, localpath, "string")
  util.check("upload", 2, remote, "string")
  opts = check_options("upload", opts, UPLOAD_OPTIONS)
  local attributes = lfs.attributes(localpath) -- one stat: mode and size
  if not attributes or attributes.mode ~= "file" then
    return nil, localpath .. ": not a regular file", "io"
  end
  local job = {
    localpath = localpath, remote = remote, opts = opts,
    size = attributes.size,
    target = opts.atomic and remote .. PART or remote,
  }
  local bytes, err, code = retry.run(self, opts, function()
    return upload_try(self, job)
  end)
  if not bytes and opts.atomic and not opts.resume and job.sent and self:_isopen() then
    self:delete(job.target)
  end
  return bytes, err, code
end

return {}
