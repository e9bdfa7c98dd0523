-- download and upload with verify = "hash": the server's digest of its copy
-- (ftp:hash) against the local file's (core.file_digester), and the transfer
-- done again on a mismatch. FEAT is asked before any byte moves, so that a
-- server offering no digest command fails at once ("unsupported") instead of
-- after a transfer that cannot be checked.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
local wait = require "ftplib.concurrency.wait"
local digest_reply = require "ftplib.parsers.digest_reply"

local verify = {}

-- The options download and upload take for it (besides verify itself).
verify.OPTIONS = { verify_retries = "number", verify_algo = "string" }

-- Bytes digested between two turns given to other tasks of a scheduler.
local SLICE = 4 * 1024 * 1024

-- Failures of ftp:hash saying the server's answer holds no digest: as good as
-- a wrong digest (a lying or broken server), so worth another transfer.
local UNREADABLE = { proto = true, limit = true }

-- The helpers whose verify is "hash" or nothing (no size checks to turn off).
local HASH_ONLY = { upload = true, mirror = true, mirror_up = true, put = true }

-- Raises for values verify, verify_retries and verify_algo of helper fname
-- cannot take.
function verify.check_options(fname, opts)
  local mode = opts.verify
  if mode ~= nil and mode ~= "hash" and (type(mode) == "string" or HASH_ONLY[fname]) then
    checks.raise(string.format("'%s' option verify must be %s\"hash\", got '%s'", fname,
      HASH_ONLY[fname] and "" or "true, false or ", tostring(mode)))
  end
  for key in pairs(verify.OPTIONS) do
    if opts[key] ~= nil and mode ~= "hash" then
      checks.raise(string.format("'%s' option %s needs verify = \"hash\"", fname, key))
    end
  end
  local tries = opts.verify_retries
  if tries ~= nil and (math.type(tries) ~= "integer" or tries < 0) then
    checks.raise(string.format("'%s' option verify_retries must be a non-negative integer",
      fname))
  end
  if opts.verify_algo ~= nil and not digest_reply.algorithm(opts.verify_algo) then
    checks.raise(string.format("'%s' option verify_algo: unknown algorithm '%s'", fname,
      opts.verify_algo))
  end
end

-- The algorithm to verify with, asked of FEAT before the transfer: nil when
-- opts ask for no digest, else the name, or nil, msg, code ("unsupported"
-- when the server offers none, or not opts.verify_algo).
function verify.prepare(ftp, opts)
  if opts.verify ~= "hash" then
    return nil
  end
  local algo, err, code = ftp:_hash_algorithm(opts.verify_algo)
  if not algo then
    return nil, "verify = \"hash\": " .. err, code
  end
  return algo
end

-- The local file's digest, read in slices: in a task of the scheduler the
-- other tasks run in between. hex, or nil, msg, code.
local function local_digest(path, algo)
  local digester <close>, err, code = core.file_digester(path, algo)
  if not digester then
    return nil, err, code
  end
  local pass = wait.passer()
  while true do
    local hex
    hex, err, code = digester:step(SLICE)
    if hex ~= false then
      return hex, err, code
    end
    pass()
  end
end

-- Whether `remote` (on the server) and `localpath` (of `size` bytes) have the
-- same `algo` digest: true, or nil, msg, "verify" (they differ, or the
-- server's answer holds no digest), or nil, msg, code (the server refused,
-- the session failed, the local file cannot be read). An empty file the
-- server will not digest (proftpd's X commands refuse an empty range) is the
-- same file when SIZE says 0 too.
function verify.compare(ftp, remote, localpath, size, algo)
  local theirs, err, code = ftp:hash(remote, algo)
  if not theirs then
    if UNREADABLE[code] then
      return nil, remote .. ": the server's digest cannot be read (" .. err .. ")", "verify"
    elseif size == 0 and math.type(code) == "integer" and code >= 500
        and ftp:size(remote) == 0 then
      return true
    end
    return nil, err, code
  end
  local ours
  ours, err, code = local_digest(localpath, algo)
  if not ours then
    return nil, err, code
  elseif ours ~= theirs then
    return nil, string.format("%s: the server's %s digest (%s) differs from the local "
      .. "file's (%s)", remote, algo, theirs, ours), "verify"
  end
  return true
end

-- Runs transfer() and, while it fails with "verify" and opts.verify_retries
-- (default 1) allow, restart() (which makes the next transfer start from
-- byte 0), brings the session back (a digest reply over a limit closes it)
-- and runs transfer() again. Answers the last transfer's results and how many
-- were done again.
function verify.run(ftp, opts, transfer, restart)
  local tries = opts.verify == "hash" and (opts.verify_retries or 1) or 0
  local folder = tries > 0 and ftp:_pwd_cached() or nil
  local result, err, code = transfer()
  local redone = 0
  while not result and code == "verify" and redone < tries do
    redone = redone + 1
    ftp:_debug(1, "verify", string.format("%s; transfer %d of %d", err, redone + 1, tries + 1))
    restart()
    result, err, code = ftp:_restore(folder)
    if result then
      result, err, code = transfer()
    end
  end
  return result, err, code, redone
end

return verify
