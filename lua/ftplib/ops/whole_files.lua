-- Whole-file helpers: ftp:download and ftp:upload, with resume, atomic
-- uploads, progress, modification times and retries after a dropped
-- session. A download is written to localpath .. ".part" and renamed only
-- once it is whole, so a failed download never leaves a truncated file
-- under the final name.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
-- LuaFileSystem is loaded when a helper first needs it: scripts using only the
-- FTP methods do not need it installed.
local lfs = checks.lazy_require("lfs", "ftp:download and ftp:upload need LuaFileSystem")
local retry = require "ftplib.ops.retry"
local verify = require "ftplib.ops.verify"
local segments = require "ftplib.ops.segments"
local segment_record = require "ftplib.ops.segment_record"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local PART = ".part"
-- The longest file name most file systems take (ext4, XFS, btrfs, vfat's
-- long names in UTF-16 units, which ASCII fills no faster).
local NAME_MAX = 255
-- Blocks for transfers watched by a progress callback: one Lua call and one
-- string per block, so bigger than the default 64 KiB.
local PROGRESS_BLOCK = 256 * 1024

-- Replies saying the server does not know a command at all (RFC 959):
-- REST, MDTM or SIZE missing is not a failure of the file.
local UNKNOWN_COMMAND = { [500] = true, [501] = true, [502] = true, [504] = true }

local DOWNLOAD_OPTIONS = {
  size = "number", resume = "boolean", progress = "function", verify = "boolean|string",
  preserve_time = "boolean", retries = "number", retry_delay = "number",
  modify = "number", precision = "number", part = "string", segments = "number",
  rate_limit = "number",
}
local UPLOAD_OPTIONS = {
  resume = "boolean", atomic = "boolean", progress = "function",
  preserve_time = "boolean", retries = "number", retry_delay = "number",
  verify = "string", rate_limit = "number",
}
for key, types in pairs(verify.OPTIONS) do -- verify_retries, verify_algo
  DOWNLOAD_OPTIONS[key], UPLOAD_OPTIONS[key] = types, types
end
-- For ftplib._option_types (spec/package/reference_spec.lua).
local option_types = { download = DOWNLOAD_OPTIONS, upload = UPLOAD_OPTIONS }

--- Helpers: whole-file downloads and uploads.
-- @module helpers

--- Whole files.
-- @section files

local function check_options(fname, opts, types)
  opts = checks.check_options(fname, 3, opts, types)
  retry.check_options(fname, opts)
  verify.check_options(fname, opts)
  checks.check_rate(fname, opts.rate_limit)
  return opts
end

-- Shared by both directions -------------------------------------------------

-- Runs try(self, job) until it succeeds or fails for good: tried again
-- after a dropped session (retry.run, opts.retries), and with verify =
-- "hash" done again from the start after a digest mismatch, again(job)
-- first (verify.run, opts.verify_retries). The server must offer a digest
-- command before anything is transferred.
local function run_job(self, job, try, again)
  local opts = job.opts
  local algo, err, code = verify.prepare(self, opts)
  job.hash_algo = algo
  if err then
    return nil, err, code
  end
  local result, redone
  result, err, code, redone = verify.run(self, opts, function()
    return retry.run(self, opts, function()
      return try(self, job)
    end)
  end, function()
    again(job)
  end)
  job.info.verify_retries = job.hash_algo and redone or nil
  return result, err, code
end

-- The options retrbinary and storbinary take from the job's.
local function transfer_options(job)
  return { rate_limit = job.opts.rate_limit }
end

-- name cut to at most `room` bytes, not inside a UTF-8 sequence when the
-- name is UTF-8.
local function cut_name(name, room)
  local cut = name:sub(1, room)
  if utf8.len(name) then
    while cut ~= "" and not utf8.len(cut) do
      cut = cut:sub(1, -2)
    end
  end
  return cut
end

-- The temporary of localpath: localpath .. ".part", or with n,
-- localpath .. "." .. n .. ".part" (for a name some other file has). A name
-- too long for that (over NAME_MAX with the suffix) is cut, with 8 digits of
-- its SHA-256 after "~", so that two long names sharing a start still get
-- temporaries of their own.
local function part_path(localpath, n)
  local dir, name = localpath:match("^(.-)([^/]*)$")
  local suffix = (n and n > 0 and ("." .. n) or "") .. PART
  if #name + #suffix > NAME_MAX then
    name = cut_name(name, NAME_MAX - #suffix - 9) .. "~" .. core.sha256(name):sub(1, 8)
  end
  return dir .. name .. suffix
end


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
--
-- The .part is opened without following links (core.open_file): a fresh one
-- exclusively, after removing whatever had its name (a link planted there is
-- removed, never written through); a resumed one only when it is a regular
-- file with one name. When it begins, the .part records what it is a start
-- of (core.file_origin: the remote path's digest, size and time, in an extended
-- attribute of the file), and it is continued only while the remote file is
-- still that one.

local errno = core.errno

local function local_size(path)
  return lfs.attributes(path, "size")
end

-- The size announced by the 150 reply of the transfer under way (the data
-- connection protocol/data_channel.lua keeps in _data_open until its final reply).
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

-- The origin record of a .part: "ftplib-2 SIZE MODIFY PRECISION REMOTE-ID",
-- "-" for what was not known. REMOTE-ID is the SHA-256 of the remote path:
-- a path from a server may be of any length, a record may not (and the
-- xattr's room is small). Records of version 1 hold the path itself.
local ORIGIN_TAG = "ftplib-2"

local function remote_id(remote)
  return core.sha256(remote)
end

local function origin_text(origin)
  return table.concat({ ORIGIN_TAG, origin.size or "-", origin.modify or "-",
    origin.precision or "-", remote_id(origin.remote) }, " ")
end

local function parse_origin(text)
  local version, size, modify, precision, remote = (text or ""):match(
    "^ftplib%-([12]) (%S+) (%S+) (%S+) (.*)$")
  if not version then
    return nil
  end
  return { size = math.tointeger(tonumber(size)), modify = math.tointeger(tonumber(modify)),
    precision = math.tointeger(tonumber(precision)),
    remote_id = version == "1" and remote_id(remote) or remote }
end

-- The origin record of the .part, or nil and why there is none.
local function read_origin(part)
  local text, err = core.file_origin(part)
  local origin = parse_origin(text)
  if origin then
    return origin
  elseif err then
    return nil, "its origin record cannot be read (" .. err .. ")"
  end
  if segment_record.is_segmented(text) then
    return nil, "it was started by a segmented download (opts.segments continues it)"
  end
  return nil, text and "its origin record is not ftplib's"
    or "it has no origin record (from another tool, or a file system without extended attributes)"
end

-- The remote file's modification time now and its precision: the caller's
-- (a listing's) or MDTM's. nil when the server gives none; nil, msg, code when
-- the session failed on the way.
local function remote_modify(self, job)
  if job.opts.modify then
    return job.opts.modify, job.opts.precision or 1
  end
  if job.mdtm == nil then
    local mtime, err, code = self:mdtm(job.remote)
    if not mtime and retry.transient(code) then
      return nil, err, code
    end
    job.mdtm = mtime or false
    job.mdtm_refusal = not mtime and { err, code } or nil
  end
  if job.mdtm then
    return job.mdtm, 1
  end
  return nil
end

-- Times from two sources agree to the coarser one's precision.
local same_time = require("ftplib.base.utc").same_time

-- Whether the .part (of `have` bytes) may be continued: true, or false and
-- why not, or nil, msg, code. Only with its origin record, and only while the
-- remote file is the one recorded: the same path, the same size (when both
-- are known) and the same time. A record without a time (the server gave
-- none) is continued only while the server still gives none and the sizes
-- agree. Without a record nothing tells what the .part is a start of.
local function may_continue(self, job, have)
  if job.total and have > job.total then
    return false, "the .part is larger than the remote file"
  end
  local origin, why = read_origin(job.part)
  if not origin then
    return false, "nothing tells what the .part is a start of: " .. why
  elseif origin.remote_id ~= remote_id(job.remote) then
    return false, "the .part was started from another remote file"
  elseif origin.size and job.total and origin.size ~= job.total then
    return false, "the remote file changed size since the .part was started"
  end
  local modify, precision, code = remote_modify(self, job)
  if not modify and precision then
    return nil, precision, code
  elseif origin.modify then
    if not (modify and same_time(modify, precision, origin.modify, origin.precision)) then
      return false, "the remote file changed since the .part was started"
    end
    return true
  elseif modify then
    return false, "the .part was started without the remote file's time, which it has now"
  elseif not (origin.size and job.total) then
    return false, "neither a time nor a size tells that the .part is a start of this remote file"
  end
  return true
end

-- Where the download starts: the bytes of the .part it keeps (0: from the
-- start, then with why in job.info.restarted when a .part was there).
local function start_offset(self, job, resume)
  local attributes = lfs.symlinkattributes(job.part)
  if not (resume and attributes) then
    return 0
  elseif attributes.mode ~= "file" then
    job.info.restarted = "the .part is not a regular file"
    return 0
  elseif attributes.nlink ~= 1 then
    job.info.restarted = "the .part has another name (a hard link): not written through"
    return 0
  elseif attributes.size == 0 then
    return 0
  elseif job.opened then
    -- Written by an earlier try of this call: the same file, unless SIZE moved.
    if job.origin.size and job.total and job.origin.size ~= job.total then
      job.info.restarted = "the remote file changed size between tries"
      return 0
    end
    return attributes.size
  end
  local ok, why, code = may_continue(self, job, attributes.size)
  if ok == nil then
    return nil, why, code
  elseif not ok then
    job.info.restarted = why
    return 0
  end
  return attributes.size
end

-- A fresh .part, made exclusively: what had its name (an old .part, or a
-- link or file planted there) is removed first, never written through. It
-- records its origin, with the remote time whenever there is one (the
-- caller's, from a listing, or MDTM's), so that any later resume can tell
-- whether the remote file changed. A file system without extended
-- attributes records nothing: a later resume then starts over.
local function fresh_part(self, job)
  local modify, precision, code = remote_modify(self, job)
  if not modify and precision and math.type(code) ~= "integer" then
    return nil, precision, code -- the session is lost: so would be the RETR
  end -- a 4xx to MDTM: no time recorded (a resume will not trust one it finds later)
  os.remove(job.part) -- removes a link itself, not what it points to
  local file, err, ecode, number = core.open_file(job.part, "new")
  if not file and number == errno.EEXIST then -- made again meanwhile: once more
    os.remove(job.part)
    file, err, ecode = core.open_file(job.part, "new")
  end
  if not file then
    return nil, err, ecode
  end
  job.origin = { size = job.total, modify = modify, precision = modify and precision or nil,
    remote = job.remote }
  core.file_origin(job.part, origin_text(job.origin))
  return file
end

local function open_part(self, job, offset)
  if offset == 0 then
    return fresh_part(self, job)
  end
  local file, err, code = core.open_file(job.part, "existing")
  if not file then
    return nil, err, code
  end
  job.origin = job.origin or read_origin(job.part) or {}
  file:seek("set", offset)
  return file
end

-- RETR into the .part from byte offset (the .part holds exactly that much).
local function fetch(self, job, offset)
  local file <close>, err, code = open_part(self, job, offset)
  if not file then
    return nil, err, code
  end
  job.opened = true
  self._announced_size = nil
  local sink = download_sink(self, job, file, offset)
  local ok, rerr, rcode = self:retrbinary("RETR " .. job.remote, sink, PROGRESS_BLOCK,
    offset > 0 and offset or nil, transfer_options(job))
  job.announced = offset == 0 and self._announced_size or nil
  local closed, cerr = file:close()
  if ok and not closed then
    return nil, cerr, "io"
  end
  return ok, rerr, rcode
end

local function size_mismatch(job, size, expected, source)
  return nil, string.format("%s: %d bytes received, %s says %d", job.remote, size, source,
    expected), size < expected and "closed" or "proto"
end

-- The .part is whole when it has every size known: the 150 reply's (of a
-- transfer from the start), SIZE's, and the caller's (a listing's, which may
-- be stale: on a mismatch SIZE, when the server answers it, has the last
-- word). Short is a transfer cut early ("closed": worth resuming); longer is
-- not the file we think.
local function check_download_size(self, job)
  local size = local_size(job.part) or 0
  if not job.verify then
    return size
  elseif job.announced and size ~= job.announced then
    return size_mismatch(job, size, job.announced, "the 150 reply")
  end
  if job.listed and size ~= job.listed and not job.size_asked then
    local total, err, code = remote_size(self, job.remote)
    if err then
      return nil, err, code
    end
    job.size_asked, job.size_reply = true, total
  end
  if job.size_reply and size ~= job.size_reply then
    return size_mismatch(job, size, job.size_reply, "SIZE")
  elseif not job.size_reply and job.listed and size ~= job.listed then
    return size_mismatch(job, size, job.listed, "the listing")
  end
  return size
end

-- MDTM onto the .part (the rename keeps it). A server without MDTM is
-- skipped: the file itself is fine.
local function set_local_time(self, job)
  local mtime, err, code
  if job.mdtm then
    mtime = job.mdtm
  elseif job.mdtm_refusal then -- asked when the .part began
    err, code = job.mdtm_refusal[1], job.mdtm_refusal[2]
  else
    mtime, err, code = self:mdtm(job.remote)
  end
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
  local offset, err, code = start_offset(self, job, resume)
  if not offset then
    return nil, err, code
  end
  job.start = math.min(job.start or offset, offset)
  if offset > 0 and offset == job.total then
    return true
  end
  local ok
  ok, err, code = fetch(self, job, offset)
  if not ok and offset > 0 and UNKNOWN_COMMAND[code] then
    job.start = 0
    job.info.restarted = "the server does not take REST (" .. tostring(err) .. ")"
    ok, err, code = fetch(self, job, 0)
  end
  return ok, err, code
end

-- The size to expect: the caller's (opts.size saves a round trip) or SIZE.
local function expected_size(self, job)
  if job.listed then
    return job.listed
  end
  local total, err, code = remote_size(self, job.remote)
  job.size_asked, job.size_reply = true, total
  return total, err, code
end

-- With verify = "hash": the whole .part against the server's digest. One
-- that differs is removed (known bad, it is neither renamed nor resumed) and
-- the failure is "verify": verify.run downloads again from the start.
local function verify_part(self, job, size)
  local ok, err, code = verify.compare(self, job.remote, job.part, size, job.hash_algo)
  if ok then
    job.info.verified = job.hash_algo
  elseif code == "verify" then
    os.remove(job.part)
  end
  return ok, err, code
end

-- A download done again after a digest mismatch: from byte 0, into a fresh .part.
local function download_again(job)
  job.opened, job.start, job.origin = nil, nil, nil
end

-- One try: SIZE (unless opts.size saves the round trip), RETR (resumed
-- when asked or when an earlier try of this call left data), checks, the
-- digest (verify = "hash"), time, rename. Answers the bytes this call added.
local function download_try(self, job)
  local total, err, code = expected_size(self, job)
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
  if job.hash_algo then
    ok, err, code = verify_part(self, job, size)
    if not ok then
      return nil, err, code
    end
  end
  if job.opts.preserve_time then
    ok, err, code = set_local_time(self, job)
    if not ok then
      return nil, err, code
    end
  end
  core.file_origin(job.part, false) -- the whole file is no start of anything
  local renamed, rerr = os.rename(job.part, job.localpath)
  if not renamed then
    return nil, rerr, "io"
  end
  job.info.resumed = job.start
  return size - job.start, job.info
end

-- A download on n sessions (segments.lua), as run_job runs one: FEAT asked
-- first with verify = "hash"; after a digest mismatch (the .part removed by
-- segments.download) all the ranges again, from nothing. segments.FALLBACK
-- when the file cannot be cut (run_job then downloads it on one session).
local function segmented(self, job, n)
  local algo, err, code = verify.prepare(self, job.opts)
  if err then
    return nil, err, code
  end
  job.hash_algo = algo
  local result, redone
  result, err, code, redone = verify.run(self, job.opts, function()
    return segments.download(self, job, n)
  end, function()
    job.info.resumed, job.info.restarted = nil, nil
  end)
  if result ~= segments.FALLBACK then
    job.info.verify_retries = algo and redone or nil
  end
  return result, err, code
end

-- ftp:download(remote, localpath, opts) --> bytes this call transferred, and
-- {resumed = bytes kept from an earlier .part, restarted = why a .part
-- there was not continued (nil when it was, or when there was none)}.
-- On failure the .part is kept when it holds data (resume = true continues
-- it later; a download without resume replaces it) and removed when empty.

--- Downloads a whole file. The data goes to `localpath .. ".part"`, renamed to
-- `localpath` once whole, so a failure never leaves a truncated file under the final
-- name (a `.part` holding data stays for a later resume; an empty one is removed). The
-- `.part` is made exclusively and never through a link: what had its name is removed
-- first; one that is a link, not a regular file, or has a second name is never
-- continued; a name too long to take `.part` gets a shorter temporary (its first bytes,
-- `~` and 8 hex digits of its SHA-256). A new `.part` records what it is a start of,
-- with or without `resume` (the SHA-256 of the remote path, the size and the remote
-- time: `opts.modify`, else MDTM; in the extended attribute `user.ftplib.origin`). The
-- file is whole only when it has every size known: the 150 reply's, SIZE's and
-- `opts.size`.
-- @tparam string remote the remote file
-- @tparam string localpath the local file to make (or replace)
-- @tparam[opt] table opts
-- @tparam[opt=false] boolean opts.resume continue a `.part` (REST) while the remote file
-- still has the size and time it recorded (a record without a time: while the server
-- still gives none and the sizes agree; a `.part` without a record, from another tool
-- or on a file system without extended attributes, never); otherwise start over,
-- saying why in `restarted`
-- @tparam[opt] number opts.size the size the caller knows (from a listing): spares the
-- SIZE round trip; when the file differs, SIZE is asked and has the last word
-- @tparam[opt=true] boolean|string opts.verify `false` turns the size checks off;
-- `"hash"` also compares the server's digest of the file (@{FTP:hash}) with the
-- `.part`'s before it takes the final name. FEAT is asked first: a server offering no
-- digest command fails with `"unsupported"` before any byte is transferred. A `.part`
-- that differs is removed and the file downloaded again from the start
-- (`verify_retries` times); still differing, the download fails with `"verify"` and
-- leaves nothing under `localpath` (an old file there stays as it was). A reply
-- holding no digest (malformed, of the wrong length, over a limit) counts as one that
-- differs
-- @tparam[opt=1] number opts.verify_retries with `verify = "hash"`: how many more
-- transfers after a digest mismatch
-- @tparam[opt] string opts.verify_algo with `verify = "hash"`: `"sha512"`,
-- `"sha256"`, `"sha1"`, `"md5"` or `"crc32"` (default: the strongest the server offers)
-- @tparam[opt] function opts.progress called as `progress(done, total)` as data comes
-- (`total` nil when unknown); returning `false` stops the download (`"aborted"`)
-- @tparam[opt=false] boolean opts.preserve_time set the local file's time from MDTM
-- (skipped when the server has no MDTM)
-- @tparam[opt] number opts.modify the remote file's time from a listing: recorded in the
-- `.part` for a later resume, instead of asking MDTM
-- @tparam[opt=1] number opts.precision how exact `opts.modify` is, in seconds
-- @tparam[opt] string opts.part the temporary's path (default `localpath .. ".part"`)
-- @tparam[opt=1] number opts.segments download on this many sessions at once (1 to 32),
-- like lftp's `pget -n`: SIZE cuts the file into ranges (none under 256 KiB), this
-- session and clones of it (same login, options, TLS settings and folder) each fetch
-- the next range left (REST, RETR, ABOR once it is full) and write it in place into
-- the `.part`, which records how much of each range is on disk (`ftplib-seg1` in
-- `user.ftplib.origin`), so that `resume` goes on with each range. The file gets its
-- name once every range is full, the `.part` has SIZE's bytes and SIZE and MDTM still
-- answer what they did (else `"changed"`). A failed range is fetched again by any
-- session, up to `retries` (default 2) more times. No SIZE or a refused REST: one
-- session; clones refused (421): fewer; `fallback` says so. With `verify = "hash"`, the
-- whole `.part` is checked once every range is full, before it takes its name; on a
-- mismatch it is removed and every range fetched again (`verify_retries` times)
-- @tparam[opt] number opts.rate_limit at most this many bytes a second, as for
-- @{FTP:retrbinary}; with `segments`, for each session's transfer
-- @tparam[opt=0] number opts.retries how many more tries after a dropped connection or
-- a 4xx reply: reconnect, log in again, return to the folder and go on from the bytes
-- already there (5xx replies and local file errors are not retried)
-- @tparam[opt=1] number opts.retry_delay seconds before the first retry, doubling up to 30
-- @treturn integer the bytes this call transferred (after a digest mismatch: those of
-- the transfer done again)
-- @treturn table `resumed`: the bytes kept from an earlier `.part`; `restarted`: why a
-- `.part` there was not continued (`nil` when it was, or when there was none);
-- `verified`: the algorithm the digests agreed in (`verify = "hash"`); `verify_retries`:
-- how many transfers were done again after a mismatch; with `segments`: `segments` (the
-- ranges), `sessions` (how many took part) and `fallback` (why fewer sessions than
-- asked, `nil` when none)
-- @return[2] `nil, message, code`: a file shorter than a known size fails with
-- `"closed"` (worth resuming), a longer one with `"proto"`, a local file error with
-- `"io"`; with `verify = "hash"`, `"unsupported"` (no digest command, nothing
-- transferred) or `"verify"` (the digests still differ); a remote file that changed
-- during a segmented download (or whose SIZE differs between sessions) with `"changed"`
-- @raise for an unknown or mistyped option, `retries` or `verify_retries` not a
-- non-negative integer, a negative `retry_delay`, a `verify` string other than `"hash"`,
-- an unknown `verify_algo`, `verify_retries` or `verify_algo` without `verify = "hash"`,
-- `segments` not an integer from 1 to 32, LuaFileSystem missing
-- @usage assert(ftp:download("pub/big.iso", "big.iso", { resume = true, retries = 3 }))
function FTP:download(remote, localpath, opts)
  checks.check("download", 1, remote, "string")
  checks.check("download", 2, localpath, "string")
  opts = check_options("download", opts, DOWNLOAD_OPTIONS)
  local job = {
    remote = remote, localpath = localpath, part = opts.part or part_path(localpath),
    opts = opts, verify = opts.verify ~= false, listed = opts.size, info = {},
  }
  local n = opts.segments and segments.count(opts.segments) or 1
  if n > 1 then
    local bytes, err, code = segmented(self, job, n)
    if bytes ~= segments.FALLBACK then
      return bytes, err, code
    end
    job.info.fallback, job.info.segments, job.info.sessions = err, 1, 1
  end
  local bytes, err, code = run_job(self, job, download_try, download_again)
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
-- any byte went out, straight after the SIZE that gave the offset. A server
-- with neither (Twisted's) gets the whole file again, from the start.
local function send(self, job, offset)
  local file <close>, err = io.open(job.localpath, "rb")
  if not file then
    return nil, err, "io"
  end
  job.sent = true
  file:seek("set", offset)
  local callback = upload_callback(job, offset)
  local function refused(ok, code)
    return not ok and math.type(code) == "integer" and code ~= 421 and file:seek() == offset
  end
  if not (offset > 0 and job.use_appe) then
    local ok, code
    ok, err, code = self:storbinary("STOR " .. job.target, file, PROGRESS_BLOCK, callback,
      offset > 0 and offset or nil, transfer_options(job))
    if not (offset > 0 and refused(ok, code)) then
      return ok, err, code
    end
    job.use_appe = true
  end
  local ok, code
  ok, err, code = self:storbinary("APPE " .. job.target, file, PROGRESS_BLOCK, callback, nil,
    transfer_options(job))
  if not (refused(ok, code) and UNKNOWN_COMMAND[code]) then
    return ok, err, code
  end
  job.start = 0
  job.info.restarted = "the server takes neither REST + STOR nor APPE (" .. err
    .. "): sent from the start"
  file:seek("set", 0)
  return self:storbinary("STOR " .. job.target, file, PROGRESS_BLOCK, upload_callback(job, 0),
    nil, transfer_options(job))
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

-- The temporary of an atomic upload renamed to the final name. Servers that
-- will not rename onto an existing name say so (aioftp: "550 path already
-- exists"): only that refusal, after an RNFR that worked, gets the old file
-- moved aside, the new one renamed, and the old one deleted. The old file is
-- never deleted before the new one has its name; a folder under the name is
-- never replaced.

-- Whether an RNTO refusal says that the name is taken.
local function name_taken(code, text)
  return math.type(code) == "integer" and code >= 400 and code < 600
    and type(text) == "string" and text:lower():find("exist", 1, true) ~= nil
end

-- Whether path is a remote folder (CWD there works, and back): true, false,
-- or nil when there is no telling (no current folder to come back to, a lost
-- session).
local function remote_folder(self, path)
  local ok, _, code = self:_folder_exists(path)
  if ok then
    return true
  end
  if math.type(code) == "integer" then
    return false
  end
  return nil
end

-- The old file moved aside (a free name: a server refusing to rename onto a
-- name refuses a taken one), the new one renamed, the old one deleted.
local function replace_aside(self, job, refusal)
  local aside
  for n = 0, 2 do
    local candidate = job.target .. ".old" .. (n > 0 and ("." .. n) or "")
    if self:rename(job.remote, candidate) then
      aside = candidate
      break
    end
  end
  if not aside then
    return nil, "the server refused to rename onto " .. job.remote .. " (" .. refusal
      .. ") and to move the old file aside: not replaced", "proto"
  end
  local moved, err, code = self:rename(job.target, job.remote)
  if not moved then
    if self:rename(aside, job.remote) then
      return nil, err, code
    end
    job.keep_target = true -- the only copy of the new file; the old one is at aside
    return nil, string.format("%s was moved aside to %s, then neither the new file (%s) nor "
      .. "the old one could take its name (%s): both kept", job.remote, aside, job.target,
      tostring(err)), code
  end
  local deleted, derr = self:delete(aside)
  job.info.replaced = "the server refused to rename onto the old file (" .. refusal .. "): "
    .. (deleted and "it was moved aside, then deleted"
      or "it was moved aside to " .. aside .. ", which could not be deleted (" .. tostring(derr)
        .. ")")
  return true
end

local function replace_remote(self, job)
  local code, text, errcode = self:_cmd("RNFR " .. job.target)
  if code ~= 350 then
    return nil, text, code or errcode
  end
  local ok, err, rcode = self:voidcmd("RNTO " .. job.remote)
  if ok or math.type(rcode) ~= "integer" then
    return ok, err, rcode
  end
  local folder = remote_folder(self, job.remote)
  if folder then
    return nil, job.remote .. ": a folder has that name, not replaced (" .. err .. ")", rcode
  elseif folder == false and name_taken(rcode, err) then
    return replace_aside(self, job, err)
  end
  return nil, err, rcode
end

-- With verify = "hash": the uploaded file (the temporary of an atomic
-- upload, before it takes the final name) against the local file's digest.
-- A temporary that differs is deleted (the old file keeps its name); a
-- non-atomic upload's file stays, under the remote name.
local function verify_sent(self, job)
  local ok, err, code = verify.compare(self, job.target, job.localpath, job.size, job.hash_algo)
  if ok then
    job.info.verified = job.hash_algo
  elseif code == "verify" and job.target ~= job.remote and self:_isopen() then
    self:delete(job.target)
  end
  return ok, err, code
end

-- An upload done again after a digest mismatch: the whole file.
local function upload_again(job)
  job.from_start = true
end

-- One try: SIZE of the target when resuming, the missing bytes, the digest
-- (verify = "hash"), the rename of a temporary, MFMT. Answers the bytes this
-- call added to the file. After a digest mismatch (job.from_start) the whole
-- file goes again, whatever the server kept.
local function upload_try(self, job)
  local offset, err, code = 0, nil, nil
  if (job.opts.resume or job.sent) and not job.from_start then
    offset, err, code = remote_size(self, job.target)
    if err then
      return nil, err, code
    end
    offset = (offset and offset <= job.size) and offset or 0
  end
  job.from_start = nil
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
  if job.hash_algo then
    ok, err, code = verify_sent(self, job)
  end
  if ok and job.target ~= job.remote then
    ok, err, code = replace_remote(self, job)
  end
  if ok and job.opts.preserve_time then
    ok, err, code = set_remote_time(self, job)
  end
  if not ok then
    return nil, err, code
  end
  job.info.resumed = job.start
  return job.size - job.start, job.info
end

-- ftp:upload(localpath, remote, opts) --> bytes this call transferred, and
-- {resumed = bytes the remote file kept, restarted = why a resume was sent
-- from the start, replaced = how an atomic upload replaced the old file when
-- the server would not rename onto it}.
-- With atomic, the data goes to remote .. ".part" (same folder) and is
-- renamed once whole; a failed atomic upload deletes that temporary, unless
-- resume was asked for (a later resume continues it) or it is the only copy
-- of the new file while the old one stands aside (job.keep_target).

--- Uploads a whole file.
-- @tparam string localpath the local file (a regular file)
-- @tparam string remote the remote file to make (or replace)
-- @tparam[opt] table opts
-- @tparam[opt=false] boolean opts.resume continue after the remote file's SIZE: REST +
-- STOR, APPE where that is refused, the whole file again where both are (`restarted`
-- says so)
-- @tparam[opt=false] boolean opts.atomic upload to `remote .. ".part"` and rename it once
-- whole (deleted when the upload fails, unless `resume` is set). A server refusing to
-- rename onto an existing file, saying that the name exists, gets the old one moved
-- aside, the new one renamed, then the old one deleted (`replaced` says so, and where
-- the old one stays if it could not be deleted); the old file is never deleted before
-- the new one has its name, and a folder with the remote name is never replaced
-- @tparam[opt] function opts.progress called as `progress(done, total)`; returning
-- `false` stops the upload (`"aborted"`)
-- @tparam[opt=false] boolean opts.preserve_time set the remote file's time to the local
-- one's with MFMT, when FEAT offers it
-- @tparam[opt=0] number opts.retries as for @{FTP:download}
-- @tparam[opt=1] number opts.retry_delay as for @{FTP:download}
-- @tparam[opt] string opts.verify `"hash"`: compare the server's digest of the uploaded
-- file (@{FTP:hash}) with the local file's; with `atomic`, of the temporary, before it
-- takes the final name. FEAT is asked first (`"unsupported"` before any byte is sent,
-- when the server offers no digest command). On a mismatch the whole file is sent
-- again (`verify_retries` times); still differing, the upload fails with `"verify"`:
-- an atomic upload's temporary is deleted and the old file keeps its name, a
-- non-atomic upload's file stays under `remote`
-- @tparam[opt=1] number opts.verify_retries as for @{FTP:download}
-- @tparam[opt] string opts.verify_algo as for @{FTP:download}
-- @tparam[opt] number opts.rate_limit at most this many bytes a second, as for
-- @{FTP:retrbinary}
-- @treturn integer the bytes this call transferred (after a digest mismatch: those of
-- the transfer done again)
-- @treturn table `resumed`: the bytes the remote file kept; `restarted`: why a resume
-- was sent from the start; `replaced`: how an atomic upload replaced the old file when
-- the server would not rename onto it; `verified` and `verify_retries` as for
-- @{FTP:download}
-- @return[2] `nil, message, code`; `"io"` when `localpath` is not a regular file or
-- cannot be read; `"unsupported"` and `"verify"` as for @{FTP:download}
-- @raise as @{FTP:download}
-- @usage assert(ftp:upload("report.pdf", "in/report.pdf", { atomic = true }))
function FTP:upload(localpath, remote, opts)
  checks.check("upload", 1, localpath, "string")
  checks.check("upload", 2, remote, "string")
  opts = check_options("upload", opts, UPLOAD_OPTIONS)
  local attributes = lfs.attributes(localpath) -- one stat: mode and size
  if not attributes or attributes.mode ~= "file" then
    return nil, localpath .. ": not a regular file", "io"
  end
  local job = {
    localpath = localpath, remote = remote, opts = opts,
    size = attributes.size, info = {},
    target = opts.atomic and remote .. PART or remote,
  }
  local bytes, err, code = run_job(self, job, upload_try, upload_again)
  -- A temporary that failed verify was deleted then (verify_sent).
  if not bytes and opts.atomic and not opts.resume and job.sent and not job.keep_target
      and code ~= "verify" and self:_isopen() then
    self:delete(job.target)
  end
  return bytes, err, code
end

return {
  FTP = FTP,
  option_types = option_types,
  part_path = part_path, -- for mirror.lua and download_many.lua
  _origin_text = origin_text, -- for the specs: a .part as a cut download leaves it
}
