-- ftp:rmtree: a remote tree deleted, files first, then folders deepest first.
--
-- Two steps: walk the tree into a plan (what to DELE, which folders to
-- RMD), then carry it out (or, in a dry run, report it). The walk is
-- ftp:walk with its bounds and its rules for listings that cannot be
-- trusted; on top of them:
-- - a folder that cannot be listed or read keeps everything under it, and
--   every folder above it is kept too (it cannot be empty);
-- - an entry that cannot be named safely (walk's rejected: "..", "a/b",
--   control bytes), or a line no parser reads (its name is a guess), or a
--   folder listed a second time under another name, is not deleted, and
--   keeps the folders above it;
-- - links are deleted as links (DELE), never entered; the root's own type
--   comes from its folder's listing, which shows a link as a link;
-- - the folders are listed with LIST, not MLSD: `ls -l` shows a link as a
--   link on every Unix server, where pyftpdlib's MLSD follows a link to a
--   folder and lists it as the folder (RFC 3659's unique fact asks it to);
-- - a walk stopped by max_entries deletes nothing at all;
-- - what the filters (include, exclude, filter: filters.lua) leave out is
--   kept, and so is every folder above it; with include, a folder is removed
--   only when an include glob names it (or a folder above it): one entered
--   only to look for what include takes stays, and so does the root;
-- - on_error = "stop": the first failure (planning included) ends the run,
--   what was not tried is listed in `pending`;
-- - every path deleted is made by safename.join from a checked name.
local checks = require "ftplib.base.checks"
local list = require "ftplib.ops.list"
local safename = require "ftplib.ops.safename"
local server_files = require "ftplib.ops.server_files"
local filters = require "ftplib.ops.filters"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local rmtree = {}

--- Helpers: files on the server.
-- @module helpers

--- Files on the server.
-- @section server_files

local OPTION_TYPES = { dry_run = "boolean", max_depth = "number", max_entries = "number",
  on_error = "string" }
for key, types in pairs(filters.OPTION_TYPES) do -- include, exclude, filter
  OPTION_TYPES[key] = types
end
rmtree.option_types = { rmtree = OPTION_TYPES } -- for ftplib._option_types

local function new_report()
  return { deleted = {}, failed = {}, kept = {}, pending = {} }
end

local function fail(report, path, err, code)
  report.failed[#report.failed + 1] = { path = safename.shown(path), err = err, code = code }
end

-- Marks folder dir and those above it as not to be removed, for `why`.
local function keep_up(plan, dir, why)
  while dir and not plan.blocked[dir] do
    plan.blocked[dir] = why
    dir = plan.parent[dir]
  end
end

-- What one walk step adds to the plan: the folder, its files to delete,
-- and the entries that stay (reported, keeping the folder).
local function add_folder(plan, report, dirpath, dirs, files, rejected)
  plan.folders[#plan.folders + 1] = dirpath
  local rel = plan.rel_of[dirpath]
  for _, entry in ipairs(dirs) do
    local child, child_rel = list.join(dirpath, entry.name), filters.join(rel, entry.name)
    plan.parent[child] = dirpath
    plan.rel_of[child], plan.path_of[child_rel] = child_rel, child
    if plan.selector and not plan.selector:included(child_rel, true) then
      keep_up(plan, child, "no include glob names it (entered to look for what they take)")
    end
  end
  for _, entry in ipairs(files) do
    local path = safename.join(dirpath, entry.name)
    if entry.type == "unknown" then
      fail(report, list.join(dirpath, entry.name), "not deleted: a listing line no parser reads: "
        .. checks.escape(entry.raw or ""), "proto")
      keep_up(plan, dirpath, "its listing held a line no parser reads")
    elseif entry.type == "dir" or not path then
      fail(report, list.join(dirpath, entry.name), "not deleted: a folder listed a second time "
        .. "under another name (a link?): not entered", "proto")
      keep_up(plan, dirpath, "it holds a folder listed twice")
    else
      -- Links first: some servers (GNU inetutils) DELE what stat() finds, so a
      -- link can go only while its target is still there.
      local queue = entry.type == "link" and plan.links or plan.files
      queue[#queue + 1] = { path = path, parent = dirpath }
    end
  end
  for _, bad in ipairs(rejected) do
    fail(report, list.join(dirpath, tostring(bad.name)), "not deleted: " .. bad.reason, "proto")
    keep_up(plan, dirpath, "its listing held names that cannot be used")
  end
end

-- The plan for the tree under root (a folder): {folders = {top-down},
-- links and files = {{path =, parent =}}, parent = {folder -> its folder}, blocked =
-- {folder -> why it stays}}; nil, message, code when the root cannot be
-- listed or read, or when the walk stopped (report says why).
-- The walk's filter: the selector's answer; what it leaves out (or raises
-- for) keeps the folder it is in, and the folders above.
local function walk_filter(plan)
  if not plan.selector then
    return nil
  end
  return function(rel, entry)
    local takes, err = plan.selector:takes(rel, entry, entry.type == "dir")
    if not takes then
      local folder = plan.path_of[rel:match("^(.*)/[^/]*$") or ""]
      keep_up(plan, folder, "it holds entries the filters leave out")
    end
    if takes == nil then
      error(err, 0) -- to walk, which tells onerror ("filter")
    end
    return takes
  end
end

local function plan_tree(self, root, opts, report)
  local plan = { folders = {}, links = {}, files = {}, parent = {}, blocked = {},
    rel_of = { [root] = "" }, path_of = { [""] = root }, selector = filters.new("rmtree", opts) }
  if plan.selector and not plan.selector:included("", true) then
    keep_up(plan, root, "no include glob names it")
  end
  local root_error, stopped
  local function onerror(dirpath, err, code, walk_stopped)
    if code == "filter" then
      fail(report, dirpath, "not deleted: " .. tostring(err), code)
      return
    elseif walk_stopped then
      stopped = err
    elseif dirpath == root then
      root_error = { err, code }
      return
    end
    fail(report, dirpath, "nothing under it deleted: " .. tostring(err), code)
    keep_up(plan, dirpath, "it could not be listed")
  end
  local walk_opts = { onerror = onerror, max_depth = opts.max_depth,
    max_entries = opts.max_entries, filter = walk_filter(plan) }
  -- LIST, not MLSD, for the reason above; the session's choice comes back after.
  local mlsd_refused = self._mlsd_refused
  self._mlsd_refused = true
  for dirpath, dirs, files, rejected in self:walk(root, walk_opts) do
    add_folder(plan, report, dirpath, dirs, files, rejected)
  end
  self._mlsd_refused = mlsd_refused
  if root_error then
    return nil, root_error[1], root_error[2]
  elseif stopped then
    fail(report, root, "nothing deleted: " .. stopped, "limit")
    return nil
  end
  return plan
end

-- Deletes (or, in a dry run, reports) one path: true, or false after
-- reporting the failure; the session's failure (not a reply) as well.
local function remove(self, report, path, command, dry_run)
  if not dry_run then
    local ok, err, code = self[command](self, path)
    if not ok then
      fail(report, path, err, code)
      return false, math.type(code) ~= "integer" and { err, code } or nil
    end
  end
  report.deleted[#report.deleted + 1] = path
  return true
end

-- The session went away: nothing more is tried, and the report says so.
local function stop(report, root, lost)
  fail(report, root, "stopped, nothing more deleted: " .. tostring(lost[1]), lost[2])
  return report
end

-- With on_error = "stop", after the first failure (report.stopped) each
-- path left is only listed in pending.
local function carry_out(self, plan, root, report, opts)
  local stop_first = opts.on_error == "stop"
  local function halted(path)
    if report.stopped then
      report.pending[#report.pending + 1] = path
      return true
    end
  end
  local function failed_now()
    if stop_first then
      report.stopped = report.failed[#report.failed]
    end
  end
  if stop_first then
    report.stopped = report.failed[1] -- a failure while planning: nothing deleted
  end
  for _, queue in ipairs { plan.links, plan.files } do
    for _, item in ipairs(queue) do
      if not halted(item.path) then
        local ok, lost = remove(self, report, item.path, "delete", opts.dry_run)
        if lost then
          return stop(report, root, lost)
        elseif not ok then
          keep_up(plan, item.parent, "a file in it was not deleted")
          failed_now()
        end
      end
    end
  end
  for i = #plan.folders, 1, -1 do -- top-down reversed: each folder after all below it
    local dir = plan.folders[i]
    if plan.blocked[dir] then
      report.kept[#report.kept + 1] = { path = safename.shown(dir),
        reason = "not removed: " .. plan.blocked[dir] }
    elseif not halted(dir) then
      local ok, lost = remove(self, report, dir, "rmd", opts.dry_run)
      if lost then
        return stop(report, root, lost)
      elseif not ok then
        keep_up(plan, plan.parent[dir], "a folder in it was not removed")
        failed_now()
      end
    end
  end
  return report
end

--- Deletes a file, a link or a folder with everything under it, as `rm -r`: files
-- (DELE) first, then each folder (RMD) after everything below it. Links are deleted
-- themselves, never followed (the root's type is read from its folder's listing, and
-- folders are listed with LIST, where `ls -l` shows links as links). The walk is
-- @{FTP:walk}'s, with its bounds, and nothing is deleted on the strength of a listing
-- that cannot be trusted: a folder that cannot be listed or read keeps everything under
-- it; a name that cannot be used (`..`, a slash, control characters), a line no parser
-- reads or a folder listed twice is not deleted; the folders above what stays are kept
-- (in `kept`); a walk stopped by `max_entries` deletes nothing. Every path deleted lies
-- under `path`. A server that lists a link as what it points to (Twisted, aioftp: they
-- stat, not lstat) leaves no client a way to see the link: what it lists under `path`
-- is what is deleted.
-- @tparam string path a path ending in a name: not `""`, `"."`, `".."` or `"/"`
-- @tparam[opt] table opts
-- @tparam[opt=false] boolean opts.dry_run delete nothing: `deleted` lists what would be
-- deleted
-- @tparam[opt=256] number opts.max_depth as for @{FTP:walk}
-- @tparam[opt=1000000] number opts.max_entries as for @{FTP:walk}; past it nothing is
-- deleted
-- @tparam[opt] {string,...} opts.include globs of what to delete, matched against the
-- path relative to `path` (the filters choose among what lies under `path`; a `path`
-- that is a file or a link is deleted as it is), as the @{filter_options} say: only
-- the files they take are
-- deleted, and only the folders a glob names (itself or a folder above it) are removed;
-- a folder entered only to look for matches stays, and so does `path` itself unless a
-- glob names it (`"**"`)
-- @tparam[opt] {string,...} opts.exclude globs of what to keep: an entry they match (a
-- folder with all it holds) is neither deleted nor entered
-- @tparam[opt] function opts.filter called as `filter(relpath, entry)`: a false answer
-- keeps the entry; one that raises keeps it too and is reported in `failed` (code
-- `"filter"`). Whatever the filters keep keeps every folder above it (in `kept`)
-- @tparam[opt="continue"] string opts.on_error `"stop"`: the first failure (a folder not
-- listed, a name not usable or a filter that raised while planning; a DELE or RMD
-- refused) ends the run: nothing more is deleted, `stopped` is that failure and
-- `pending` lists the paths not tried (after a failure while planning, every one)
-- @treturn table the report: `deleted`, the paths deleted in order (each `path` joined
-- with the names below it); `failed`, `{path =, err =, code =}` for each entry not
-- deleted and each folder not listed; `kept`, `{path =, reason =}` for each folder not
-- removed because something under it stays; `pending` and `stopped` (`on_error =
-- "stop"`). Complete when `failed` is empty
-- @return[2] `nil, message, code` when nothing was deleted because `path` is not there
-- (550), its type cannot be told, or it cannot be listed
-- @raise for a `path` without a last name, CR, LF or NUL in it, an unknown or mistyped
-- option, a bad `max_depth`, `max_entries` or `on_error`, a glob that is not a string or
-- is longer than 4096 bytes
-- @usage local report = assert(ftp:rmtree("old-releases"))
-- for _, f in ipairs(report.failed) do print(f.path, f.err) end
function FTP:rmtree(path, opts)
  checks.check_line("rmtree", 1, path)
  opts = checks.check_options("rmtree", 2, opts, OPTION_TYPES)
  if opts.on_error ~= nil and opts.on_error ~= "continue" and opts.on_error ~= "stop" then
    checks.raise("'rmtree' option on_error must be \"continue\" or \"stop\"")
  end
  for _, option in ipairs { "max_depth", "max_entries" } do
    local value = opts[option]
    if value ~= nil and (math.type(value) ~= "integer" or value < 0) then
      checks.raise("'rmtree' option " .. option .. " must be a non-negative integer")
    end
  end
  local name = server_files.basename(path)
  if not name or name == "." or name == ".." then
    checks.raise("'rmtree' needs a path ending in a name (not '', '.', '..' or '/'), got '"
      .. path .. "'")
  end
  local root = path:gsub("(.)/+$", "%1")
  local mlsd_refused = self._mlsd_refused
  self._mlsd_refused = true -- the root's own entry from LIST too
  local entry, err, code = server_files.listed_entry(self, root)
  self._mlsd_refused = mlsd_refused
  if not entry then
    return nil, err, code
  end
  local report = new_report()
  if entry.type ~= "dir" then
    remove(self, report, root, "delete", opts.dry_run)
    return report
  end
  local plan
  plan, err, code = plan_tree(self, root, opts, report)
  if not plan then
    if err then
      return nil, err, code
    end
    return report
  end
  return carry_out(self, plan, root, report, opts)
end

rmtree.FTP = FTP

return rmtree
