-- ftp:mirror (remote folder to local) and ftp:mirror_up (local to remote).
--
-- Three steps: read both trees, plan (compare them into a list of actions),
-- execute. Planning is pure; each action runs alone (run_item), so that a
-- scheduler (parallel.lua) may run the actions of one phase on several
-- sessions at once through mirror.execute. Phases run in order: 1 deletes that make room
-- (a file where a folder must go, or the reverse), 2 folders created
-- top-down, 3 file transfers (independent of each other), 4 deletes of what
-- the source no longer has, deepest first.
local core = require "ftplib.core"
local util = require "ftplib.util"
-- LuaFileSystem is loaded when a helper first needs it: scripts using only the
-- FTP methods do not need it installed.
local lfs = util.lazy_require("lfs", "ftp:mirror and ftp:mirror_up need LuaFileSystem")
local list = require "ftplib.list"

local FTP = core.FTP_methods

local mirror = {}

local function join(dir, name)
  return dir == "" and name or dir .. "/" .. name
end

local function parent_of(rel)
  return rel:match("^(.*)/[^/]*$") or ""
end

local function depth(rel)
  return select(2, rel:gsub("/", "")) + 1
end

---------------------------------------------------------------------------
-- Trees: relative path -> {type = "file"|"dir"|"other", size, modify,
-- precision, unreadable (a folder whose contents are unknown)}

local function remote_node(entry, walked_as_dir)
  local kind = entry.type
  if kind == "dir" and not walked_as_dir then
    kind = "other" -- a folder met twice (a link the server shows as a folder)
  elseif kind ~= "file" and kind ~= "dir" then
    kind = "other"
  end
  return { type = kind, size = entry.size, modify = entry.modify, precision = entry.precision }
end

local function add_remote_dir(tree, rel_of, dirpath, dirs, files)
  local rel = rel_of[dirpath]
  for _, entry in ipairs(dirs) do
    local child = join(rel, entry.name)
    rel_of[list.join(dirpath, entry.name)] = child
    tree[child] = remote_node(entry, true)
  end
  for _, entry in ipairs(files) do
    if entry.name then
      tree[join(rel, entry.name)] = remote_node(entry, false)
    end
  end
end

-- The tree under a remote folder; folders below it that cannot be listed
-- are marked unreadable and reported as failed. nil, msg, code when the
-- root itself cannot be listed.
function mirror.remote_tree(ftp, root, failed)
  local tree, rel_of = {}, { [root] = "" }
  local root_error
  local function onerror(dirpath, err, code)
    local rel = rel_of[dirpath]
    if rel == "" then
      root_error = { err, code }
    else
      tree[rel].unreadable = true
      failed[#failed + 1] = { path = rel, err = err, code = code }
    end
  end
  for dirpath, dirs, files in ftp:walk(root, { onerror = onerror }) do
    add_remote_dir(tree, rel_of, dirpath, dirs, files)
  end
  if root_error then
    return nil, root_error[1], root_error[2]
  end
  return tree
end

local LOCAL_TYPES = { file = "file", directory = "dir" }

local function read_local_dir(tree, root, rel, failed)
  local path = rel == "" and root or root .. "/" .. rel
  local ok, iterator, dir_object = pcall(lfs.dir, path)
  if not ok then
    return nil, iterator
  end
  for name in iterator, dir_object do
    if name ~= "." and name ~= ".." then
      local child = join(rel, name)
      local attributes = lfs.symlinkattributes(root .. "/" .. child)
      local kind = attributes and LOCAL_TYPES[attributes.mode] or "other"
      tree[child] = {
        type = kind, size = attributes and attributes.size,
        modify = attributes and attributes.modification, precision = 1,
      }
      if kind == "dir" then
        local read, err = read_local_dir(tree, root, child, failed)
        if not read then
          tree[child].unreadable = true
          failed[#failed + 1] = { path = child, err = err, code = "io" }
        end
      end
    end
  end
  return tree
end

-- The tree under a local folder (symbolic links are "other": not followed).
function mirror.local_tree(root, failed)
  local tree, err = read_local_dir({}, root, "", failed)
  if not tree then
    return nil, err, "io"
  end
  return tree
end

---------------------------------------------------------------------------
-- Planning

-- Whether the source file must be transferred over the destination one.
-- Listing times may be exact to the minute or the day only (`precision`):
-- closer than that, they count as equal. `times_kept`: the destination's
-- times are the source's (set after each transfer), so any difference is a
-- change; otherwise the destination's time is that of the last transfer and
-- only a source newer than it is.
function mirror.changed(src, dst, opts, times_kept)
  local size_differs = src.size ~= nil and dst.size ~= nil and src.size ~= dst.size
  if src.modify and dst.modify then
    local tolerance = math.max(src.precision or 1, dst.precision or 1)
    local newer = src.modify - dst.modify >= tolerance
    if opts.newer_only then
      return newer
    elseif size_differs then
      return true
    elseif times_kept then
      return math.abs(src.modify - dst.modify) >= tolerance
    end
    return newer
  end
  return size_differs or src.size == nil or dst.size == nil
end

-- True when pred(folder) holds for a folder above rel.
local function has_ancestor(rel, pred)
  local dir = parent_of(rel)
  while dir ~= "" do
    if pred(dir) then
      return true
    end
    dir = parent_of(dir)
  end
  return false
end

-- True when a folder above rel is marked unreadable in the tree.
local function under_unreadable(tree, rel)
  return has_ancestor(rel, function(dir)
    return tree[dir] ~= nil and tree[dir].unreadable
  end)
end

local function sorted_keys(tree)
  local keys = {}
  for key in pairs(tree) do
    keys[#keys + 1] = key
  end
  table.sort(keys)
  return keys
end

-- Deletes of rel and everything under it in the destination, deepest first.
local function delete_items(dst, rels, phase)
  table.sort(rels, function(a, b)
    local da, db = depth(a), depth(b)
    if da ~= db then
      return da > db
    end
    return a < b
  end)
  local items = {}
  for _, rel in ipairs(rels) do
    items[#items + 1] = { op = "delete", phase = phase, path = rel, type = dst[rel].type }
  end
  return items
end

local function subtree(tree, rel)
  local rels = { rel }
  local prefix = rel .. "/"
  for key in pairs(tree) do
    if key:sub(1, #prefix) == prefix then
      rels[#rels + 1] = key
    end
  end
  return rels
end

-- One source entry against the destination: appends to plan (mkdirs come
-- out parents first, as the paths are visited in sorted order).
local function plan_entry(plan, src, dst, rel, opts, times_kept)
  local s, d = src[rel], dst[rel]
  local action = s.type == "dir" and "mkdir" or "transfer"
  if s.type == "other" then
    plan.skipped[#plan.skipped + 1] = rel
    return
  elseif d and d.type ~= s.type then
    if not opts.delete then
      plan.failed[#plan.failed + 1] = {
        path = rel, err = "a " .. d.type .. " is in the way (delete = true replaces it)",
        code = "io",
      }
      plan.blocked[rel] = true -- and so is what the source has under it
      return
    end
    plan.replaced[rel] = true
    d = nil
  elseif d and s.type == "dir" then
    return
  elseif d and not mirror.changed(s, d, opts, times_kept) then
    plan.skipped[#plan.skipped + 1] = rel
    return
  end
  local phase = action == "mkdir" and plan.mkdirs or plan.transfers
  phase[#phase + 1] = {
    op = action, phase = action == "mkdir" and 2 or 3, path = rel,
    size = s.size, modify = s.modify,
    report = (d or plan.replaced[rel]) and "updated" or "created",
  }
end

-- What the source no longer has, when opts.delete: neither the entries cleared
-- to make room (`room`), nor what lies in folders whose contents are unknown,
-- nor what mirror does not handle (links, devices).
local function gone_entries(src, dst, room)
  local gone = {}
  for rel, node in pairs(dst) do
    if not src[rel] and not room[rel] and node.type ~= "other"
        and not under_unreadable(src, rel) and not under_unreadable(dst, rel) then
      gone[#gone + 1] = rel
    end
  end
  return gone
end

-- The actions that make dst like src: {items = {...}, skipped = {paths},
-- failed = {...}}, items in phase order.
function mirror.plan(src, dst, opts, times_kept)
  local plan = {
    mkdirs = {}, transfers = {}, skipped = {}, failed = {}, replaced = {}, blocked = {},
  }
  local function blocked(dir)
    return plan.blocked[dir]
  end
  for _, rel in ipairs(sorted_keys(src)) do
    if not (under_unreadable(dst, rel) or under_unreadable(src, rel)
        or has_ancestor(rel, blocked)) then
      plan_entry(plan, src, dst, rel, opts, times_kept)
    end
  end
  local room, room_list = {}, {}
  for rel in pairs(plan.replaced) do
    for _, cleared in ipairs(subtree(dst, rel)) do
      room[cleared] = true
      room_list[#room_list + 1] = cleared
    end
  end
  local items = delete_items(dst, room_list, 1)
  table.move(plan.mkdirs, 1, #plan.mkdirs, #items + 1, items)
  table.move(plan.transfers, 1, #plan.transfers, #items + 1, items)
  if opts.delete then
    local gone = delete_items(dst, gone_entries(src, dst, room), 4)
    table.move(gone, 1, #gone, #items + 1, items)
  end
  plan.items = items
  return plan
end

---------------------------------------------------------------------------
-- Executing: the sides know how to do each action.

local function local_delete(path, kind)
  local ok, err
  if kind == "dir" then
    ok, err = lfs.rmdir(path)
  else
    ok, err = os.remove(path)
  end
  if not ok then
    return nil, err, "io"
  end
  return true
end

local function progress_for(opts, rel)
  if not opts.progress then
    return nil
  end
  return function(done, total)
    return opts.progress(done, total, rel)
  end
end

-- Remote to local.
local down = {}

function down.mkdir(_, item)
  local ok, err = lfs.mkdir(item.target)
  if not ok then
    return nil, err, "io"
  end
  return true
end

function down.transfer(ftp, item, opts)
  -- The listing's size spares a SIZE round trip per file (download asks
  -- SIZE only when the file turns out different).
  local bytes, err, code = ftp:download(item.source, item.target, {
    size = item.size, retries = opts.retries, retry_delay = opts.retry_delay,
    progress = progress_for(opts, item.path),
  })
  if not bytes then
    return nil, err, code
  end
  -- The listing's time, as the next run compares against it.
  if item.modify and not lfs.touch(item.target, item.modify, item.modify) then
    return nil, "cannot set the time of " .. item.target, "io"
  end
  return true
end

function down.delete(_, item)
  return local_delete(item.target, item.type)
end

-- Local to remote.
local up = {}

function up.mkdir(ftp, item)
  local path, err, code = ftp:mkd(item.target)
  if not path then
    return nil, err, code
  end
  return true
end

function up.transfer(ftp, item, opts)
  local bytes, err, code = ftp:upload(item.source, item.target, {
    retries = opts.retries, retry_delay = opts.retry_delay, preserve_time = true,
    progress = progress_for(opts, item.path),
  })
  if not bytes then
    return nil, err, code
  end
  return true
end

function up.delete(ftp, item)
  if item.type == "dir" then
    return ftp:rmd(item.target)
  end
  return ftp:delete(item.target)
end

-- Runs one planned action: true, or nil, msg, code.
local function run_item(ftp, item, opts)
  return item.side[item.op](ftp, item, opts)
end

local function report_item(report, item)
  local kind = item.op == "delete" and "deleted" or item.report
  report[kind][#report[kind] + 1] = item.path
end

-- The failure of a folder above rel that could not be made, if any: what
-- was to go into it fails with it.
local function failed_parent(broken, rel)
  local cause
  has_ancestor(rel, function(dir)
    cause = broken[dir]
    return cause ~= nil
  end)
  return cause
end

-- Runs the plan's items in order on one session. A failed action is
-- reported and the others go on. broken (folders not made: path -> failure)
-- may be shared by several calls that run parts of one plan.
function mirror.execute(ftp, plan, opts, report, broken)
  broken = broken or {}
  for _, item in ipairs(plan.items) do
    local cause = item.op ~= "delete" and failed_parent(broken, item.path)
    local ok, err, code
    if cause then
      ok, err, code = nil, "folder " .. cause.path .. " was not made: " .. cause.err, cause.code
    elseif opts.dry_run then
      ok = true
    else
      ok, err, code = run_item(ftp, item, opts)
    end
    if ok then
      report_item(report, item)
    else
      local failure = { path = item.path, err = err, code = code }
      report.failed[#report.failed + 1] = failure
      if item.op == "mkdir" then
        broken[item.path] = failure
      end
    end
  end
  return report
end

---------------------------------------------------------------------------
-- The methods

local OPTION_TYPES = {
  delete = "boolean", dry_run = "boolean", newer_only = "boolean", retries = "number",
  retry_delay = "number", progress = "function", parallel = "number",
}

local function local_path(root, rel)
  return root .. "/" .. rel
end

-- The local root, made when missing (not in a dry run): its tree.
local function local_target_tree(_, local_dir, failed, opts)
  if lfs.attributes(local_dir, "mode") == nil then
    if opts.dry_run then
      return {}
    end
    local ok, err = lfs.mkdir(local_dir)
    if not ok then
      return nil, err, "io"
    end
  end
  return mirror.local_tree(local_dir, failed)
end

-- The remote root, made when missing (not in a dry run): its tree.
local function remote_target_tree(ftp, remote_dir, failed, opts)
  local tree, err, code = mirror.remote_tree(ftp, remote_dir, failed)
  if tree or opts.dry_run then
    return tree or {}
  end
  if not ftp:mkd(remote_dir) then
    return nil, err, code
  end
  return {}
end

down.source_tree = mirror.remote_tree
down.target_tree = local_target_tree
down.source_path, down.target_path = list.join, local_path
-- Local times are set from the listing after each download.
function down.times_kept()
  return true
end

up.source_tree = function(_, local_dir, failed)
  return mirror.local_tree(local_dir, failed)
end
up.target_tree = remote_target_tree
up.source_path, up.target_path = local_path, list.join
-- Remote times are the local ones only where the server lets us set them.
function up.times_kept(ftp)
  return ftp:_features().MFMT ~= nil
end

-- A report with nothing in it yet (skipped: the plan's list, if given).
function mirror.empty_report(skipped)
  return { created = {}, updated = {}, skipped = skipped or {}, deleted = {}, failed = {} }
end

local function new_report(plan, failed)
  local report = mirror.empty_report(plan.skipped)
  table.move(failed, 1, #failed, 1, report.failed)
  table.move(plan.failed, 1, #plan.failed, #report.failed + 1, report.failed)
  return report
end

-- A scheduler may set mirror.parallel_execute(ftp, plan, opts, report) for
-- opts.parallel; it has the same contract as mirror.execute.
local function execute(ftp, plan, opts, report)
  if opts.parallel and mirror.parallel_execute then
    return mirror.parallel_execute(ftp, plan, opts, report)
  end
  return mirror.execute(ftp, plan, opts, report)
end

-- Both directions: read, plan, give each item its paths and side, execute.
local function run(ftp, side, source_root, target_root, opts)
  local failed = {}
  local src, err, code = side.source_tree(ftp, source_root, failed)
  if not src then
    return nil, err, code
  end
  local dst
  dst, err, code = side.target_tree(ftp, target_root, failed, opts)
  if not dst then
    return nil, err, code
  end
  local plan = mirror.plan(src, dst, opts, side.times_kept(ftp))
  for _, item in ipairs(plan.items) do
    item.side = side
    item.source = side.source_path(source_root, item.path)
    item.target = side.target_path(target_root, item.path)
  end
  return execute(ftp, plan, opts, new_report(plan, failed))
end

-- Makes local_dir like remote_dir: the report of what was done.
function FTP:mirror(remote_dir, local_dir, opts)
  util.check("mirror", 1, remote_dir, "string")
  util.check("mirror", 2, local_dir, "string")
  opts = util.check_options("mirror", 3, opts, OPTION_TYPES)
  return run(self, down, remote_dir, local_dir, opts)
end

-- Makes remote_dir like local_dir: the report of what was done.
function FTP:mirror_up(local_dir, remote_dir, opts)
  util.check("mirror_up", 1, local_dir, "string")
  util.check("mirror_up", 2, remote_dir, "string")
  opts = util.check_options("mirror_up", 3, opts, OPTION_TYPES)
  return run(self, up, local_dir, remote_dir, opts)
end

return mirror
