-- ftp:list (a directory as parsed entries) and ftp:walk (a tree, top-down).
local core = require "ftplib.core"
local util = require "ftplib.util"
local listparse = require "ftplib.listparse"
local listing = require "ftplib.listing"

local FTP = core.FTP_methods

local list = {}

-- "dir" + "name" with one "/" between; "" stands for the current directory.
function list.join(dir, name)
  if dir == "" then
    return name
  elseif dir:sub(-1) == "/" then
    return dir .. name
  end
  return dir .. "/" .. name
end

local function is_self_or_parent(entry)
  return entry.name == "." or entry.name == ".."
    or entry.type == "cdir" or entry.type == "pdir"
end

-- MLSD lines carry no text of their own once parsed: raw is rebuilt from the
-- facts, sorted so that it is stable.
local function mlsx_raw(name, facts)
  local parts = {}
  for key, value in pairs(facts) do
    parts[#parts + 1] = key .. "=" .. value .. ";"
  end
  table.sort(parts)
  return table.concat(parts) .. " " .. name
end

local function list_mlsd(self, path)
  local iterator, err, code = self:mlsd(path)
  if not iterator then
    return nil, err, code
  end
  local entries = {}
  for name, facts in iterator do
    local entry = listparse.from_facts(name, facts, mlsx_raw(name, facts))
    entry.unique = facts.unique
    if not is_self_or_parent(entry) then
      entries[#entries + 1] = entry
    end
  end
  return entries
end

local function list_unix(self, path)
  local lines, err, code = self:_listing_lines(listing.with_path("LIST", path))
  if not lines then
    return nil, err, code
  end
  local now = os.time()
  local entries = {}
  for _, line in ipairs(lines) do
    local entry = listparse.parse_line(line, now)
    if entry and not is_self_or_parent(entry) then
      entries[#entries + 1] = entry
    end
  end
  return entries
end

-- Some servers (vsftpd) answer LIST of a missing directory with an empty
-- listing, others an empty directory with 450/550 "no files found": such
-- answers are checked with CWD there and back.
local function check_exists(self, path)
  local home = self:_pwd_cached()
  if not home then
    return true
  end
  local ok, err, code = self:cwd(path)
  if not ok then
    return nil, err, code
  end
  ok, err, code = self:cwd(home)
  if ok then
    self._folder = home -- back where PWD said: no need to ask again
  end
  return ok, err, code
end

-- Lines no parser knows only: GNU inetutils ftpd answers LIST of a missing
-- folder with 226 and ls's "X: No such file or directory" as the listing.
local function none_known(entries)
  for _, entry in ipairs(entries) do
    if entry.type ~= "unknown" then
      return false
    end
  end
  return true
end

local function list_parsed(self, path)
  local entries, err, code = list_unix(self, path)
  local empty = entries and none_known(entries) or code == 450 or code == 550
  if empty and path and path ~= "" then
    local ok, cwd_err, cwd_code = check_exists(self, path)
    if not ok then
      return nil, entries and cwd_err or err, entries and cwd_code or code
    end
    return entries or {}
  end
  return entries, err, code
end

-- Codes meaning "MLSD is not implemented here" despite FEAT.
local MLSD_UNKNOWN = { [500] = true, [502] = true, [504] = true }

-- The entries of a directory: from MLSD when FEAT shows MLST, else LIST
-- parsed. A missing directory is an error, never an empty list: mirror
-- must not take it for a folder whose files were all deleted.
function FTP:list(path)
  util.check("list", 1, path, "string|nil")
  if self:_features().MLST and not self._mlsd_refused then
    local entries, err, code = list_mlsd(self, path)
    if entries or not MLSD_UNKNOWN[code] then
      return entries, err, code
    end
    self._mlsd_refused = true
  end
  return list_parsed(self, path)
end

-- The walk's next directory: children of the one given last time are pushed
-- only now, so that the loop body may remove names from `dirs` to prune.
local function walk_step(self, state)
  local last = state.last
  if last then
    for i = #last.dirs, 1, -1 do
      state.stack[#state.stack + 1] = list.join(last.path, last.dirs[i].name)
    end
    state.last = nil
  end
  while #state.stack > 0 do
    local dirpath = table.remove(state.stack)
    local entries, err, code = self:list(dirpath)
    if entries then
      local dirs, files = {}, {}
      for _, entry in ipairs(entries) do
        if entry.type == "dir" and not state.seen(entry) then
          dirs[#dirs + 1] = entry
        else
          -- Links (never descended), files, devices, unknown lines.
          files[#files + 1] = entry
        end
      end
      state.last = { path = dirpath, dirs = dirs }
      return dirpath, dirs, files
    elseif state.onerror then
      state.onerror(dirpath, err, code)
    end
  end
  return nil
end

-- The unique fact of a directory itself (MLST), nil when not offered.
local function unique_of(self, path)
  if not self:_features().MLST then
    return nil
  end
  local code, text = self:_cmd(listing.with_path("MLST", path))
  return code == 250 and text:match("[Uu][Nn][Ii][Qq][Uu][Ee]=([^;]+);") or nil
end

-- A directory met twice under another name (a server listing a link to a
-- directory as a directory) is not entered again: MLSD's unique fact tells.
local function seen_tracker(root_unique)
  local seen = {}
  if root_unique then
    seen[root_unique] = true
  end
  return function(entry)
    if not entry.unique then
      return false
    end
    local was_seen = seen[entry.unique]
    seen[entry.unique] = true
    return was_seen
  end
end

-- for dirpath, dirs, files in ftp:walk(path, {onerror = fn}) do ... end
-- Top-down; symbolic links are listed among files and never followed. A
-- directory that cannot be listed is skipped after onerror(dirpath, msg, code).
function FTP:walk(path, opts)
  util.check("walk", 1, path, "string|nil")
  opts = util.check("walk", 2, opts or {}, "table")
  util.check("walk", 2, opts.onerror, "function|nil")
  path = path or ""
  local state = {
    stack = { path }, onerror = opts.onerror, seen = seen_tracker(unique_of(self, path)),
  }
  return function()
    return walk_step(self, state)
  end
end

return list
