-- ftp:mirror (remote folder to local) and ftp:mirror_up (local to remote).
--
-- Three steps: read both trees, plan (compare them into a list of actions),
-- execute. Planning is pure; each action runs alone (run_item), so that a
-- scheduler (parallel.lua) may run the actions of one phase on several
-- sessions at once through mirror.execute. Phases run in order: 1 deletes that make room
-- (a file where a folder must go, or the reverse), 2 folders created
-- top-down, 3 file transfers (independent of each other), 4 deletes of what
-- the source no longer has, deepest first.
--
-- Nothing is deleted on the strength of a listing that cannot be trusted: a
-- folder that could not be listed or read is "unreadable" (nothing under it
-- is touched), and one whose listing held entries that could not be read
-- (unknown lines, unusable names) is "incomplete" (what it may hold is not
-- deleted). Links and other entries mirror does not handle keep what lies
-- under their names. Every local path is made by safename.join.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
-- LuaFileSystem is loaded when a helper first needs it: scripts using only the
-- FTP methods do not need it installed.
local lfs = checks.lazy_require("lfs", "ftp:mirror and ftp:mirror_up need LuaFileSystem")
local list = require "ftplib.ops.list"
local part_path = require("ftplib.ops.whole_files").part_path
local safename = require "ftplib.ops.safename"
local parallel = require "ftplib.ops.parallel"
local filters = require "ftplib.ops.filters"
local verify = require "ftplib.ops.verify"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

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

-- ------------------------------------------------------------------------
-- Trees: relative path -> {type = "file"|"dir"|"other", size, modify,
-- precision, unreadable (a folder whose contents are unknown)}

-- A new tree: nodes by relative path; in its metatable, out of the way of
-- any path, the folders whose listings were incomplete ("" the root; the
-- value says why), those whose listings may have left dotfiles out
-- (hidden_unseen), the entries the filters left out (left_out), the folders
-- holding some (holds_left_out; a filter that raised leaves its entry out
-- too) and the list of failures met.
local function new_tree(failed)
  return setmetatable({}, { incomplete = {}, hidden_unseen = {}, failed = failed,
    left_out = {}, holds_left_out = {} })
end

local function left_out(tree)
  return getmetatable(tree).left_out
end

-- rel is not in the tree though it is there: it, and the folders above it,
-- are never deleted nor replaced.
local function note_left_out(tree, rel)
  left_out(tree)[rel] = true
  local dir = parent_of(rel)
  while dir ~= "" do
    getmetatable(tree).holds_left_out[dir] = true
    dir = parent_of(dir)
  end
end

-- The path of walked below root, relative to it.
local function relative(root, walked)
  if root == "" then
    return walked
  end
  return walked:sub(#list.join(root, "") + 1)
end

local function incomplete(tree)
  return getmetatable(tree).incomplete
end

local function hidden_unseen(tree)
  return getmetatable(tree).hidden_unseen
end

local function failures(tree)
  return getmetatable(tree).failed
end

-- A filter that raised for rel: reported failed (once, though both sides
-- may raise for it), and rel left alone.
local function note_undecided(tree, rel, err)
  note_left_out(tree, rel)
  local failed = failures(tree)
  for _, failure in ipairs(failed) do
    if failure.code == "filter" and failure.path == rel then
      return
    end
  end
  failed[#failed + 1] = { path = rel, err = err, code = "filter" }
end

local function remote_node(entry, walked_as_dir)
  local kind = entry.type
  if kind == "dir" and not walked_as_dir then
    kind = "other" -- a folder met twice (a link the server shows as a folder)
  elseif kind ~= "file" and kind ~= "dir" then
    kind = "other"
  end
  return { type = kind, size = entry.size, modify = entry.modify, precision = entry.precision }
end

local function add_remote_dir(tree, rel_of, dirpath, dirs, files, rejected, listing)
  local rel = rel_of[dirpath]
  for _, entry in ipairs(dirs) do
    local child = join(rel, entry.name)
    rel_of[list.join(dirpath, entry.name)] = child
    tree[child] = remote_node(entry, true)
  end
  for _, entry in ipairs(files) do
    tree[join(rel, entry.name)] = remote_node(entry, false)
    if entry.type == "unknown" then
      -- Its name is a guess: the real one may be another.
      incomplete(tree)[rel] = "its folder's listing held lines no parser reads"
    end
  end
  for _, bad in ipairs(rejected) do
    incomplete(tree)[rel] = "its folder's listing held names that cannot be used"
    failures(tree)[#failures(tree) + 1] = { path = join(rel, safename.shown(bad.name)),
      err = "not mirrored: " .. bad.reason, code = "proto" }
  end
  if listing.unverified then
    incomplete(tree)[rel] = "its folder's listing may have been cut (" .. listing.unverified
      .. ")"
  end
  hidden_unseen(tree)[rel] = listing.hidden_unseen
end

-- The walk's filter for a mirror's selector: what it leaves out is noted in
-- the tree; an error it raised goes on to walk (then to onerror).
local function walk_filter(tree, selector)
  if not selector then
    return nil
  end
  return function(rel, entry)
    local takes, err = selector:takes(rel, entry, entry.type == "dir")
    if takes == nil then
      error(err, 0)
    elseif not takes then
      note_left_out(tree, rel)
    end
    return takes
  end
end

-- The tree under a remote folder; folders below it that cannot be listed
-- or read are marked unreadable and reported as failed. nil, msg, code when
-- the root itself cannot be listed or read. selector: the filters, or nil.
function mirror.remote_tree(ftp, root, failed, opts, selector)
  local tree, rel_of = new_tree(failed), { [root] = "" }
  local root_error
  local function onerror(dirpath, err, code, stopped)
    if code == "filter" then
      return note_undecided(tree, relative(root, dirpath), err)
    end
    local rel = rel_of[dirpath]
    if stopped then
      getmetatable(tree).truncated = err -- past max_entries: the tree is not whole
    end
    if rel == "" then
      root_error = { err, code }
    else
      tree[rel].unreadable = true
      failed[#failed + 1] = { path = rel, err = err, code = code }
    end
  end
  local walk_opts = { onerror = onerror, hidden = opts.hidden, max_depth = opts.max_depth,
    max_entries = opts.max_entries, filter = walk_filter(tree, selector) }
  for dirpath, dirs, files, rejected, listing in ftp:walk(root, walk_opts) do
    add_remote_dir(tree, rel_of, dirpath, dirs, files, rejected, listing)
  end
  if root_error then
    return nil, root_error[1], root_error[2]
  end
  return tree
end

local LOCAL_TYPES = { file = "file", directory = "dir" }

-- A local entry's node; a name that cannot travel (control characters) is
-- "other" in a target, left alone, and refused in a source.
local function local_node(tree, rel, name, attributes, role)
  local kind = attributes and LOCAL_TYPES[attributes.mode] or "other"
  local ok, why = safename.check(name)
  if not ok then
    if role == "source" then
      incomplete(tree)[rel] = "its folder holds names that cannot be sent"
      failures(tree)[#failures(tree) + 1] = { path = join(rel, safename.shown(name)),
        err = "not mirrored: " .. why, code = "io" }
      return nil
    end
    kind = "other"
  end
  return {
    type = kind, size = attributes and attributes.size,
    modify = attributes and attributes.modification, precision = 1,
  }
end

-- node, when the filters take the local entry at rel; nil when they leave
-- it out (noted in the tree).
local function selected(tree, selector, rel, name, node)
  if not selector then
    return node
  end
  local entry = { name = name, type = node.type, size = node.size, modify = node.modify }
  local takes, err = selector:takes(rel, entry, node.type == "dir")
  if takes == nil then
    note_undecided(tree, rel, "the filter raised: " .. err)
  elseif not takes then
    note_left_out(tree, rel)
  end
  return takes and node or nil
end

local function read_local_dir(tree, root, rel, opts)
  local path = rel == "" and root or root .. "/" .. rel
  local ok, iterator, dir_object = pcall(lfs.dir, path)
  if not ok then
    return nil, iterator
  end
  for name in iterator, dir_object do
    if name ~= "." and name ~= ".." and not (opts.hidden == false and name:sub(1, 1) == ".") then
      local child = join(rel, name)
      local node = local_node(tree, rel, name, lfs.symlinkattributes(root .. "/" .. child),
        opts.role)
      node = node and selected(tree, opts.selector, child, name, node)
      tree[child] = node
      if node and node.type == "dir" then
        local read, err = read_local_dir(tree, root, child, opts)
        if not read then
          node.unreadable = true
          failures(tree)[#failures(tree) + 1] = { path = child, err = err, code = "io" }
        end
      end
    end
  end
  return tree
end

-- The tree under a local folder (symbolic links are "other": not followed).
-- opts.role: "source" or "target"; opts.selector: the filters, or nil.
function mirror.local_tree(root, failed, opts)
  local tree, err = read_local_dir(new_tree(failed), root, "", opts or {})
  if not tree then
    return nil, err, "io"
  end
  return tree
end

-- ------------------------------------------------------------------------
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
    size = s.size, modify = s.modify, precision = s.precision,
    report = (d or plan.replaced[rel]) and "updated" or "created",
  }
end

-- Why the source's listings do not show that rel (absent from the source)
-- is gone: nil when they do; false when it lies under an entry reported
-- elsewhere (a link, a device, an unreadable folder); else the reason (the
-- listing of the deepest folder above rel that the source has was
-- incomplete, or may have left dotfiles out), and whether rel itself is the
-- entry of that folder (not something under it).
local function not_shown_gone(src, rel)
  local dir, child = parent_of(rel), rel
  while dir ~= "" and not src[dir] do
    dir, child = parent_of(dir), dir
  end
  local why = incomplete(src)[dir]
  if why then
    return why, child == rel
  elseif dir ~= "" and (src[dir].type ~= "dir" or src[dir].unreadable) then
    return false
  elseif hidden_unseen(src)[dir] and child:match("[^/]*$"):sub(1, 1) == "." then
    return "a dotfile, and its folder's listing (a plain LIST: the server refused LIST -a) "
      .. "may leave dotfiles out", child == rel
  end
  return nil
end

-- A path as a file system that ignores case sees it: ASCII, Latin-1,
-- Latin Extended-A, Greek and Cyrillic letters in one case. Folding too much
-- only keeps a file that could have gone.
local function fold_char(c)
  if c >= 0xC0 and c <= 0xDE and c ~= 0xD7 or c >= 0x391 and c <= 0x3A9
      or c >= 0x410 and c <= 0x42F then
    return c + 32
  elseif c >= 0x400 and c <= 0x40F then
    return c + 80
  elseif c >= 0x139 and c <= 0x148 or c >= 0x179 and c <= 0x17E then
    return c - (c + 1) % 2 -- pairs with the capital first, at an odd code
  elseif c >= 0x100 and c <= 0x17F then
    return c - c % 2
  end
  return c
end

local function fold(path)
  path = path:lower()
  if not (path:find("[\128-\255]") and utf8.len(path)) then
    return path
  end
  local chars = {}
  for _, c in utf8.codes(path) do
    chars[#chars + 1] = utf8.char(fold_char(c))
  end
  return table.concat(chars)
end

-- The paths sent or made by this run (and the folders above them), case
-- folded, each to the source path it folds from.
local function sent_folded(plan)
  local sent = {}
  for _, phase in ipairs { plan.mkdirs, plan.transfers } do
    for _, item in ipairs(phase) do
      local rel = item.path
      while rel ~= "" and not sent[fold(rel)] do
        sent[fold(rel)] = rel
        rel = parent_of(rel)
      end
    end
  end
  return sent
end

-- What the source no longer has, when opts.delete: neither the entries cleared
-- to make room (`room`), nor what lies in folders whose contents are unknown,
-- nor what mirror does not handle (links, devices). Entries the source may
-- have all the same go to `kept` ({path =, reason =}): those its listings
-- cannot vouch for, and those whose names differ only in case from a path
-- sent in this run (where names ignore case, that is the file just sent).
local function gone_entries(src, dst, room, sent)
  local gone, kept = {}, {}
  for rel, node in pairs(dst) do
    if not src[rel] and not room[rel] and node.type ~= "other"
        and not under_unreadable(src, rel) and not under_unreadable(dst, rel) then
      local why, about_rel = not_shown_gone(src, rel)
      local same = why == nil and sent[fold(rel)]
      if left_out(src)[rel] or has_ancestor(rel, function(dir) return left_out(src)[dir] end)
      then
        why, about_rel = false, false -- left out of the source (or its filter raised): kept
      elseif getmetatable(dst).holds_left_out[rel] then
        why, about_rel = "it holds entries the filters leave out", true
      end
      if why ~= nil then
        same = nil
      end
      if same then
        kept[#kept + 1] = { path = rel, reason = "its name differs only in case from "
          .. safename.shown(same) .. ", sent in this run (one file where names ignore case)" }
      elseif why == nil then
        gone[#gone + 1] = rel
      elseif why and about_rel then
        kept[#kept + 1] = { path = rel, reason = "not deleted: " .. why }
      end
    end
  end
  table.sort(kept, function(a, b) return a.path < b.path end)
  return gone, kept
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
  local function left_out_of_dst(dir)
    return left_out(dst)[dir]
  end
  for _, rel in ipairs(sorted_keys(src)) do
    -- Nothing replaces, or goes into, what the filters leave out of the target.
    if not (under_unreadable(dst, rel) or under_unreadable(src, rel)
        or has_ancestor(rel, blocked) or left_out_of_dst(rel)
        or has_ancestor(rel, left_out_of_dst)) then
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
  local truncated = getmetatable(src).truncated or getmetatable(dst).truncated
  if opts.delete and truncated then
    -- A walk stopped by max_entries: what was not listed may be anywhere.
    plan.failed[#plan.failed + 1] = { path = "", code = "limit",
      err = "nothing deleted: " .. truncated }
  elseif opts.delete then
    local gone_rels
    gone_rels, plan.kept = gone_entries(src, dst, room, sent_folded(plan))
    local gone = delete_items(dst, gone_rels, 4)
    table.move(gone, 1, #gone, #items + 1, items)
  end
  plan.items = items
  return plan
end

-- ------------------------------------------------------------------------
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
    size = item.size, modify = item.modify, precision = item.precision, part = item.part,
    retries = opts.retries, retry_delay = opts.retry_delay,
    progress = progress_for(opts, item.path), rate_limit = opts.rate_limit,
    verify = opts.verify, verify_retries = opts.verify_retries, verify_algo = opts.verify_algo,
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
    progress = progress_for(opts, item.path), atomic = item.atomic,
    rate_limit = opts.rate_limit, verify = opts.verify, verify_retries = opts.verify_retries,
    verify_algo = opts.verify_algo,
  })
  if not bytes then
    if opts.on_error == "stop" and item.atomic == false and item.report == "created" then
      ftp:delete(item.target) -- what a cut upload left; nothing was there before it
    end
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

-- What the calls running parts of one plan share (parallel.lua): broken,
-- the folders not made (path -> failure); stopped, under on_error = "stop",
-- the failure that stopped the run.
function mirror.run_state()
  return { broken = {}, stopped = nil }
end

-- Runs one item into report; a failure is returned.
local function execute_item(ftp, item, opts, report, broken)
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
    return nil
  end
  local failure = { path = item.path, err = err, code = code }
  report.failed[#report.failed + 1] = failure
  if item.op == "mkdir" then
    broken[item.path] = failure
  end
  return failure
end

-- Runs the plan's items in order on one session. A failed action is
-- reported and the others go on, unless opts.on_error is "stop": then the
-- items after it are only listed in report.pending. state (mirror.run_state)
-- may be shared by several calls that run parts of one plan.
function mirror.execute(ftp, plan, opts, report, state)
  state = state or mirror.run_state()
  for _, item in ipairs(plan.items) do
    if state.stopped then
      report.pending[#report.pending + 1] = item.path
    else
      local failure = execute_item(ftp, item, opts, report, state.broken)
      if failure and opts.on_error == "stop" then
        state.stopped = failure
      end
    end
  end
  return report
end

-- ------------------------------------------------------------------------
-- The methods

--- Helpers: mirrors.
-- @module helpers

--- Mirrors.
-- @section mirrors

--- The options of @{FTP:mirror} and @{FTP:mirror_up}. Not a field of the module. An
-- unknown key, or a value of another type, raises.
-- @table mirror_options
-- @tfield[opt=false] boolean delete remove from the target what the source no longer has
-- (and a file where the source has a folder, or the reverse)
-- @tfield[opt=false] boolean dry_run change nothing: the report says what would be done
-- @tfield[opt=false] boolean newer_only send a file only when the source's is newer
-- (times only; by default a different size counts too)
-- @tfield[opt=0] number retries as for @{FTP:download}, for each file
-- @tfield[opt=1] number retry_delay as for @{FTP:download}
-- @tfield[opt] function progress called as `progress(done, total, path)` for each file,
-- `path` relative to the mirrored folder
-- @tfield[opt=1] number parallel how many sessions transfer files at once: this one and
-- clones of it (same server, login, options, TLS settings and folder); folders are made
-- and deletes done on this one. A clone that cannot log in stops nothing else
-- @tfield[opt=true] boolean hidden `false` leaves out names starting with a dot, on both
-- sides
-- @tfield[opt=256] number max_depth how many levels below the remote folder to enter, as
-- for @{FTP:walk}
-- @tfield[opt=1000000] number max_entries how many remote entries to list in all, as for
-- @{FTP:walk}: past that, the folders not listed are reported in `failed` (`"limit"`) and
-- nothing is deleted
-- @tfield[opt] {string,...} include globs of the files to mirror, as the
-- @{filter_options} say (a string: one glob); the others are left alone
-- @tfield[opt] {string,...} exclude globs of the entries to leave alone, on both sides: an
-- excluded folder is not entered, and nothing excluded is ever sent, replaced or deleted
-- (with `delete = true`, a target file the source lacks but an exclude matches stays, as
-- with lftp)
-- @tfield[opt] function filter called as `filter(relpath, entry)` for each entry of both
-- sides (`entry`: the remote @{entry}, or `{name =, type =, size =, modify =}` for a local
-- one): a false answer leaves it alone as an exclude would. One that raises leaves it
-- alone too and is reported in `failed` (code `"filter"`); the run goes on
-- @tfield[opt="continue"] string on_error `"continue"`: a failed action is reported and
-- the others go on. `"stop"`: the first failure (reading the trees included) ends the
-- run; the report's `stopped` is that failure and `pending` lists the actions not done.
-- Nothing half-made is left under a final name: downloads go through their `.part`
-- (kept for a resume), uploads through `remote .. ".part"` renamed once whole (where
-- no file of either side has that name; else a new file cut short is deleted). With
-- `parallel`, transfers under way finish
-- @tfield[opt] number rate_limit at most this many bytes a second for each file
-- transfer, as for @{FTP:retrbinary}; with `parallel`, each session's transfer has
-- the limit (N sessions move up to N times as much)
-- @tfield[opt] string verify `"hash"`: each file transferred is checked against the
-- server's digest, as for @{FTP:download} and @{FTP:upload} (a download's `.part`
-- before it takes its name, an upload's temporary or file after it is sent), and sent
-- again on a mismatch; a file still differing fails (`"verify"`) and the others go on.
-- FEAT is asked before anything is read or sent: a server offering no digest command
-- fails the call with `"unsupported"`
-- @tfield[opt=1] number verify_retries with `verify = "hash"`: as for @{FTP:download}, for
-- each file
-- @tfield[opt] string verify_algo with `verify = "hash"`: as for @{FTP:download}
local OPTION_TYPES = {
  delete = "boolean", dry_run = "boolean", newer_only = "boolean", retries = "number",
  retry_delay = "number", progress = "function", parallel = "number", hidden = "boolean",
  max_depth = "number", max_entries = "number", on_error = "string", rate_limit = "number",
  verify = "string",
}
for key, types in pairs(verify.OPTIONS) do -- verify_retries, verify_algo
  OPTION_TYPES[key] = types
end
for key, types in pairs(filters.OPTION_TYPES) do
  OPTION_TYPES[key] = types
end
-- For ftplib._option_types (spec/package/reference_spec.lua).
mirror.option_types = { mirror = OPTION_TYPES, mirror_up = OPTION_TYPES }

-- The local root, made when missing (not in a dry run): its tree.
local function local_target_tree(_, local_dir, failed, opts, selector)
  if lfs.attributes(local_dir, "mode") == nil then
    if opts.dry_run then
      return new_tree(failed)
    end
    local ok, err = lfs.mkdir(local_dir)
    if not ok then
      return nil, err, "io"
    end
  end
  return mirror.local_tree(local_dir, failed, { role = "target", hidden = opts.hidden,
    selector = selector })
end

-- The remote root, made when missing (not in a dry run): its tree.
local function remote_target_tree(ftp, remote_dir, failed, opts, selector)
  local tree, err, code = mirror.remote_tree(ftp, remote_dir, failed, opts, selector)
  if tree or opts.dry_run then
    return tree or new_tree(failed)
  end
  if not ftp:mkd(remote_dir) then
    return nil, err, code
  end
  return new_tree(failed)
end

local function local_folder_exists(path)
  if lfs.attributes(path, "mode") ~= "directory" then
    return nil, path .. ": not a folder any more", "io"
  end
  return true
end

local function remote_folder_exists(ftp, path)
  if path == "" or path == "." then
    return true
  end
  return ftp:_folder_exists(path)
end

down.source_tree = mirror.remote_tree
down.target_tree = local_target_tree
down.source_path, down.target_path = list.join, safename.join
-- Local times are set from the listing after each download.
function down.times_kept()
  return true
end
function down.roots_exist(ftp, source_root, target_root)
  local ok, err, code = remote_folder_exists(ftp, source_root)
  if ok then
    ok, err, code = local_folder_exists(target_root)
  end
  return ok, err, code
end

up.source_tree = function(_, local_dir, failed, opts, selector)
  return mirror.local_tree(local_dir, failed, { role = "source", hidden = opts.hidden,
    selector = selector })
end
up.target_tree = remote_target_tree
up.source_path, up.target_path = safename.join, safename.join
-- Remote times are the local ones only where the server lets us set them.
function up.times_kept(ftp)
  return ftp:_features().MFMT ~= nil
end
function up.roots_exist(ftp, source_root, target_root)
  local ok, err, code = local_folder_exists(source_root)
  if ok then
    ok, err, code = remote_folder_exists(ftp, target_root)
  end
  return ok, err, code
end

-- The temporary a download of rel goes through: part_path(rel) (rel ..
-- ".part", shortened for a long name), unless that name is the source's own
-- (a remote "x.part" beside "x"), a local file's that no download made, or
-- the temporary of another download of this run (remote "x" and "x.1" beside
-- "x.part"): then the next of rel .. ".1.part", ".2.part", ... So a
-- temporary never takes the place of a file mirrored or kept, nor another's.
local function part_for(src, dst, target_root, rel, chosen)
  local n = 0
  local candidate = part_path(rel, n)
  while src[candidate] or chosen[candidate] or (dst[candidate]
      and not core.file_origin(safename.join(target_root, candidate))) do
    n = n + 1
    candidate = part_path(rel, n)
  end
  chosen[candidate] = true
  return safename.join(target_root, candidate)
end

-- A report with nothing in it yet (skipped: the plan's list, if given).
function mirror.empty_report(skipped)
  return { created = {}, updated = {}, skipped = skipped or {}, deleted = {}, failed = {},
    kept = {}, pending = {} }
end

local function new_report(plan, failed)
  local report = mirror.empty_report(plan.skipped)
  report.kept = plan.kept or {}
  table.move(failed, 1, #failed, 1, report.failed)
  table.move(plan.failed, 1, #plan.failed, #report.failed + 1, report.failed)
  return report
end

-- With opts.parallel the transfers run on several sessions (parallel.lua),
-- under the same contract as mirror.execute.
-- Under on_error = "stop", a failure met reading the trees or planning stops
-- the run before its first action.
local function execute(ftp, plan, opts, report)
  local state = mirror.run_state()
  if opts.on_error == "stop" then
    state.stopped = report.failed[1]
  end
  if opts.parallel then
    parallel.execute_plan(mirror, ftp, plan, opts, report, state)
  else
    mirror.execute(ftp, plan, opts, report, state)
  end
  report.stopped = state.stopped
  return report
end

-- Gives each item its paths and side; an item whose path cannot be made
-- fails (walk and the local trees refuse such names: this is the last word).
local function bind_items(plan, side, source_root, target_root, src, dst, opts)
  local items, parts = {}, {}
  for _, item in ipairs(plan.items) do
    item.side = side
    item.source = side.source_path(source_root, item.path)
    local why
    item.target, why = side.target_path(target_root, item.path)
    if item.target and item.op == "transfer" and side == down then
      item.part = part_for(src, dst, target_root, item.path, parts)
    elseif item.op == "transfer" and opts.on_error == "stop" then
      -- An upload cut short leaves nothing under its final name: through
      -- rel .. ".part", unless a file of either side has that name.
      local part = item.path .. ".part"
      item.atomic = not (src[part] or dst[part])
    end
    if item.source and item.target then
      items[#items + 1] = item
    else
      plan.failed[#plan.failed + 1] = { path = safename.shown(item.path),
        err = "not mirrored: " .. tostring(why), code = "proto" }
    end
  end
  plan.items = items
end

-- Deletes only while both roots are still there: a root that went away (or
-- was never what it seemed) would make everything look gone.
local function check_deletes(ftp, side, plan, source_root, target_root)
  local has_deletes = false
  for _, item in ipairs(plan.items) do
    has_deletes = has_deletes or item.op == "delete"
  end
  if not has_deletes then
    return
  end
  local ok, err, code = side.roots_exist(ftp, source_root, target_root)
  if ok then
    return
  end
  local kept = {}
  for _, item in ipairs(plan.items) do
    if item.op == "delete" then
      plan.failed[#plan.failed + 1] = { path = item.path,
        err = "not deleted: a root folder cannot be checked: " .. tostring(err), code = code }
    else
      kept[#kept + 1] = item
    end
  end
  plan.items = kept
end

-- Both directions: read, plan, give each item its paths and side, execute.
-- With verify = "hash", FEAT must offer a digest command before anything is
-- read (verify.prepare): else no file could be checked.
local function run(ftp, side, source_root, target_root, opts, selector)
  local failed = {}
  if not opts.dry_run then
    local algo, err, code = verify.prepare(ftp, opts)
    if not algo and err then
      return nil, err, code
    end
  end
  local src, err, code = side.source_tree(ftp, source_root, failed, opts, selector)
  if not src then
    return nil, err, code
  end
  local dst
  dst, err, code = side.target_tree(ftp, target_root, failed, opts, selector)
  if not dst then
    return nil, err, code
  end
  local plan = mirror.plan(src, dst, opts, side.times_kept(ftp))
  bind_items(plan, side, source_root, target_root, src, dst, opts)
  if not opts.dry_run then
    check_deletes(ftp, side, plan, source_root, target_root)
  end
  return execute(ftp, plan, opts, new_report(plan, failed))
end

local function check_mirror_options(fname, opts)
  opts = checks.check_options(fname, 3, opts, OPTION_TYPES)
  if opts.on_error ~= nil and opts.on_error ~= "continue" and opts.on_error ~= "stop" then
    checks.raise("'" .. fname .. "' option on_error must be \"continue\" or \"stop\"")
  end
  for _, name in ipairs { "max_depth", "max_entries" } do
    local value = opts[name]
    if value ~= nil and (math.type(value) ~= "integer" or value < 0) then
      checks.raise("'" .. fname .. "' option " .. name .. " must be a non-negative integer")
    end
  end
  checks.check_rate(fname, opts.rate_limit)
  verify.check_options(fname, opts)
  return opts
end

--- Makes a local folder like a remote one, creating it when missing. A file is
-- downloaded when new or changed: its size differs, or its time is newer (to the
-- listing's precision); downloaded files get the listing's time. Nothing is written,
-- renamed or deleted outside `local_dir`, and nothing is deleted on the strength of a
-- listing that cannot be trusted: a folder that cannot be listed or read is reported in
-- `failed` and everything under it is left alone; a folder whose listing held lines no
-- parser reads, or names that cannot be used, keeps the local files the listing may
-- have missed; what lies under a link, a device or an unknown entry is kept; deletes
-- happen only after both roots are checked again. A download's temporary never takes a
-- name the source lists. Local symbolic links are not followed.
-- @tparam string remote_dir the source
-- @tparam string local_dir the target
-- @tparam[opt] table opts the @{mirror_options}
-- @treturn table the report: lists `created`, `updated`, `skipped`, `deleted` of paths,
-- `failed` of `{path =, err =, code =}`, `kept` of `{path =, reason =}` (what `delete`
-- left standing, and why) and `pending` (the paths not done after `on_error = "stop"`
-- stopped the run), and `stopped`: the failure that stopped it, or nil; paths relative
-- to the mirrored folder with `/` between names. A failed file does not stop the
-- others, unless `on_error = "stop"`.
-- @return[2] `nil, message, code` only when a root folder cannot be read at all, or
-- with `verify = "hash"` when the server offers no digest command (`"unsupported"`,
-- nothing done)
-- @raise for an unknown or mistyped option, a bad `max_depth`, `max_entries`, `retries`,
-- `parallel`, `on_error` or `rate_limit`, a glob that is not a string or is longer than
-- 4096 bytes, a `verify` other than `"hash"`, `verify_retries` or `verify_algo` as
-- @{FTP:download} raises for them, LuaFileSystem missing
-- @usage local report = assert(ftp:mirror("pub", "pub-copy", { delete = true }))
-- print(#report.created, #report.updated, #report.deleted, #report.failed)
function FTP:mirror(remote_dir, local_dir, opts)
  checks.check("mirror", 1, remote_dir, "string")
  checks.check("mirror", 2, local_dir, "string")
  opts = check_mirror_options("mirror", opts)
  return run(self, down, remote_dir, local_dir, opts, filters.new("mirror", opts))
end

--- Makes a remote folder like a local one, creating it when missing: as
-- @{FTP:mirror}, the other way. Uploaded files get the local file's time with MFMT
-- where FEAT offers it.
-- @tparam string local_dir the source
-- @tparam string remote_dir the target
-- @tparam[opt] table opts the @{mirror_options}
-- @treturn table the report, as for @{FTP:mirror}
-- @return[2] `nil, message, code` as for @{FTP:mirror}
-- @raise as @{FTP:mirror}
function FTP:mirror_up(local_dir, remote_dir, opts)
  checks.check("mirror_up", 1, local_dir, "string")
  checks.check("mirror_up", 2, remote_dir, "string")
  opts = check_mirror_options("mirror_up", opts)
  return run(self, up, local_dir, remote_dir, opts, filters.new("mirror_up", opts))
end

mirror.FTP = FTP

return mirror
