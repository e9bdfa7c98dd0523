-- ftp:download_many(files, opts): several files in one call, on
-- opts.parallel sessions at once (ftp and clones of it, see parallel.lua).
-- Each file goes through ftp:download, so .part files, resume, verify and
-- retries apply to each; a failed file does not stop the others.
local checks = require "ftplib.base.checks"
local parallel = require "ftplib.ops.parallel"
local safename = require "ftplib.ops.safename"
local filters = require "ftplib.ops.filters"
local part_path = require("ftplib.ops.whole_files").part_path
local verify = require "ftplib.ops.verify"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local DOWNLOAD_KEYS = { "resume", "verify", "preserve_time", "retries", "retry_delay",
  "verify_retries", "verify_algo", "rate_limit" }

local OPTION_TYPES = {
  parallel = "number", dir = "string", progress = "function", resume = "boolean",
  verify = "boolean|string", preserve_time = "boolean", retries = "number",
  retry_delay = "number", verify_retries = "number", verify_algo = "string",
  on_error = "string", rate_limit = "number",
}
for key, types in pairs(filters.OPTION_TYPES) do
  OPTION_TYPES[key] = types
end

--- Helpers: several downloads in one call.
-- @module helpers

--- Whole files.
-- @section files

-- {remote, localpath} for one element of files: a remote path (saved under
-- opts.dir with its own name) or a pair {remote, localpath}. Remote paths
-- often come from a listing: one that cannot be sent (CR, LF, NUL) or whose
-- name cannot be a local file ("..", control characters) gives a job that
-- fails alone ({remote, refused = why}), never an error for all.
local function job_for(file, dir, index)
  if type(file) == "string" then
    local name = file:match("([^/]*)/*$")
    local localpath, why = safename.join(dir or ".", name)
    if file:find("[\r\n%z]") then
      why = "the path contains CR, LF or NUL"
    end
    return { remote = file, localpath = not why and localpath or nil, refused = why }
  elseif type(file) == "table" and type(file[1]) == "string" and type(file[2]) == "string" then
    local why = file[1]:find("[\r\n%z]") and "the path contains CR, LF or NUL" or nil
    return { remote = file[1], localpath = file[2], refused = why }
  end
  checks.raise(("download_many: file #%d must be a remote path or {remote, localpath}")
    :format(index))
end

-- A local path as a key: "a//b", "./a" and "a/./b" name what "a/b" names.
local function path_key(path)
  local key = path:gsub("/+", "/"):gsub("/%./", "/"):gsub("^%./", ""):gsub("/%.$", "")
  return key
end

-- Each job's local path and temporary. A local path given twice (a/x and b/x
-- saved in one dir) would have one download overwrite the other, or both
-- write one .part: every job after the first with that path fails alone.
-- The temporary is part_path(localpath): localpath .. ".part", or,
-- when that is another job's local path or temporary (remote "x", "x.part"
-- and "x.1" side by side), x.1.part, x.2.part, ...
local function choose_parts(jobs)
  local taken, first = {}, {}
  for _, job in ipairs(jobs) do
    local key = job.localpath and path_key(job.localpath)
    if key and first[key] then
      job.refused, job.refused_code = "its local path " .. safename.shown(job.localpath)
        .. " is also that of " .. safename.shown(first[key].remote), "io"
      job.localpath = nil
    elseif key then
      first[key], taken[key] = job, true
    end
  end
  for _, job in ipairs(jobs) do
    if job.localpath then
      local n = 0
      local part = part_path(job.localpath, n)
      while taken[path_key(part)] do
        n = n + 1
        part = part_path(job.localpath, n)
      end
      taken[path_key(part)] = true
      job.part = part
    end
  end
end

-- The options of ftp:download for one job; progress gets the remote path
-- as its third argument, to tell the files apart.
local function download_options(opts, job)
  local each = { part = job.part }
  for _, key in ipairs(DOWNLOAD_KEYS) do
    each[key] = opts[key]
  end
  if opts.progress then
    each.progress = function(done, total)
      return opts.progress(done, total, job.remote)
    end
  end
  return each
end

-- Marks the jobs the filters leave out (job.left_out) or whose filter
-- raised (refused, code "filter"), by the remote path without its leading "/".
local function apply_filters(jobs, selector)
  if not selector then
    return
  end
  for _, job in ipairs(jobs) do
    if not job.refused then
      local takes, err = selector:takes((job.remote:gsub("^/+", "")), nil, false)
      if takes == nil then
        job.refused, job.refused_code, job.localpath = "the filter raised: " .. err, "filter", nil
      elseif not takes then
        job.left_out, job.localpath = true, nil
      end
    end
  end
end

-- The report of the jobs, in their order.
local function report_of(jobs, stopped)
  local report = { done = {}, failed = {}, skipped = {}, pending = {}, bytes = 0,
    stopped = stopped }
  for _, job in ipairs(jobs) do
    if job.left_out then
      report.skipped[#report.skipped + 1] = job.remote
    elseif job.pending then
      report.pending[#report.pending + 1] = job.remote
    elseif job.bytes then
      report.done[#report.done + 1] = job.remote
      report.bytes = report.bytes + job.bytes
    else
      report.failed[#report.failed + 1] = { path = safename.shown(job.remote),
        err = job.err or "not attempted: every session was lost", code = job.code or "closed" }
    end
  end
  return report
end

-- --> report {done = {remote paths}, failed = { {path=, err=, code=} },
-- skipped, pending, stopped, bytes = total}, in the order of files.

--- Downloads several files, each through @{FTP:download}. So `.part` files, resume,
-- size checks and retries apply to each. With `opts.parallel` they go on several
-- sessions at once: this one and clones of it (same server, login, options and
-- folder; see the @{scheduler}). A failed file does not stop the others (unless
-- `on_error = "stop"`), nor does a name that
-- cannot be sent (CR, LF, NUL) or saved (`..`, control characters): that file fails
-- alone. Two files never share a temporary (`x` and `x.part` side by side), and a local
-- path given twice (`a/x` and `b/x` saved in one `dir`) fails every file after the first
-- that has it (`"io"`), which alone is downloaded.
-- @tparam table files remote paths (each saved under `opts.dir` with its own name) or
-- `{remote, localpath}` pairs
-- @tparam[opt] table opts
-- @tparam[opt="."] string opts.dir the folder the remote paths are saved in
-- @tparam[opt=1] number opts.parallel how many sessions at once (a positive integer)
-- @tparam[opt] function opts.progress called as `progress(done, total, remote)`
-- @tparam[opt=false] boolean opts.resume as for @{FTP:download}
-- @tparam[opt=true] boolean|string opts.verify as for @{FTP:download} (`"hash"`: each
-- file against the server's digest; a server without digest commands fails every file
-- with `"unsupported"`, none transferred)
-- @tparam[opt=1] number opts.verify_retries as for @{FTP:download}
-- @tparam[opt] string opts.verify_algo as for @{FTP:download}
-- @tparam[opt=false] boolean opts.preserve_time as for @{FTP:download}
-- @tparam[opt=0] number opts.retries as for @{FTP:download}
-- @tparam[opt=1] number opts.retry_delay as for @{FTP:download}
-- @tparam[opt] number opts.rate_limit at most this many bytes a second for each file, as
-- for @{FTP:retrbinary}; with `parallel`, each session's transfer has the limit (N
-- sessions move up to N times as much)
-- @tparam[opt] {string,...} opts.include globs of the files to download, matched against
-- each remote path (its leading `/` left out), as the @{filter_options} say; the others
-- go to `skipped`
-- @tparam[opt] {string,...} opts.exclude globs of the files to leave out (to `skipped`)
-- @tparam[opt] function opts.filter called as `filter(remote, nil)`: a false answer
-- leaves the file out (to `skipped`); one that raises fails it alone (code `"filter"`)
-- @tparam[opt="continue"] string opts.on_error `"stop"`: after the first failure no other
-- download starts (with `parallel`, those under way finish); the others go to
-- `pending`, and `stopped` is that failure. A failed download leaves its `.part`, never
-- a half file under the final name
-- @treturn table the report, in the order of `files`: `done` (the remote paths
-- downloaded), `failed` (a list of `{path =, err =, code =}`), `skipped` (the remote
-- paths the filters left out), `pending` (those not tried after `on_error = "stop"`),
-- `stopped` (the failure that stopped the run, or nil) and `bytes` (the total
-- transferred)
-- @raise for an element of `files` of another form, an unknown or mistyped option, a
-- `parallel` that is not a positive integer, an `on_error` other than `"continue"` or
-- `"stop"`, a glob that is not a string or is longer than 4096 bytes, `verify` options
-- @{FTP:download} would raise for, a `rate_limit` under 1
function FTP:download_many(files, opts)
  checks.check("download_many", 1, files, "table")
  opts = checks.check_options("download_many", 2, opts, OPTION_TYPES)
  if opts.on_error ~= nil and opts.on_error ~= "continue" and opts.on_error ~= "stop" then
    checks.raise("'download_many' option on_error must be \"continue\" or \"stop\"")
  end
  verify.check_options("download_many", opts)
  checks.check_rate("download_many", opts.rate_limit)
  local n = parallel.sessions(opts.parallel)
  local selector = filters.new("download_many", opts)
  local jobs = {}
  for i, file in ipairs(files) do
    jobs[i] = job_for(file, opts.dir, i)
  end
  apply_filters(jobs, selector)
  choose_parts(jobs)
  local stopped
  local function run_job(session, i)
    local job = jobs[i]
    if job.left_out then
      return
    elseif stopped then
      job.pending = true
      return
    elseif job.refused then
      job.err, job.code = "not downloaded: " .. job.refused, job.refused_code or "proto"
    else
      job.bytes, job.err, job.code = session:download(job.remote, job.localpath,
        download_options(opts, job))
    end
    if not job.bytes and opts.on_error == "stop" then
      stopped = stopped or { path = safename.shown(job.remote), err = job.err, code = job.code }
    end
  end
  local err
  if n == 1 then
    for i = 1, #jobs do run_job(self, i) end
  else
    err = parallel.run_workers(self, #jobs, n, run_job)
  end
  if err ~= nil then
    error(err, 0)
  end
  return report_of(jobs, stopped)
end

return { FTP = FTP, option_types = { download_many = OPTION_TYPES } } -- for ftplib._option_types
