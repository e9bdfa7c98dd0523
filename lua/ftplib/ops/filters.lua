-- Which entries a walk, a mirror, download_many or rmtree takes: the options
-- include and exclude (lists of globs, parsers/glob.lua) and filter (a
-- predicate), decided for a path relative to the walked folder.
--
-- The rules (documented in helpers' filter_options):
-- - A glob with a `/` inside is matched against the whole relative path
--   (`src/*.c` matches `src/a.c`, not `x/src/a.c`); one without is matched
--   against the last name, at any depth (`*.tmp`). A leading `/` anchors a
--   glob without another slash at the top (`/build`); a trailing `/`
--   matches folders only (`cache/`), as lftp appends a slash to folder names.
-- - exclude wins: an entry that matches an exclude, or lies in a folder that
--   does, is left out, and a folder left out is not entered.
-- - filter(relpath, entry) is asked next, for files and folders: a false or
--   nil answer leaves the entry out (a folder is not entered). If it raises,
--   the entry is left out and the caller reports it failed (code "filter"):
--   one bad answer does not end the run, and nothing is done to that path.
-- - include, when given, takes a file that matches one of its globs, or that
--   lies in a folder that does; other files are left out. A folder is
--   entered when it matches or when something below it could match
--   (`src/**/*.c` enters `src` and its folders, not `doc`).
-- Unlike lftp, whose -I and -X apply in the order given (the first match
-- decides), the two lists here are independent: exclude always wins.
local glob = require "ftplib.parsers.glob"
local checks = require "ftplib.base.checks"

local filters = {}

-- The option types every filtered helper takes.
filters.OPTION_TYPES = { include = "table|string", exclude = "table|string", filter = "function" }

-- A compiled rule for one glob (see the rules above).
local function rule_for(fname, option, pattern)
  if type(pattern) ~= "string" then
    checks.raise(("'%s' option %s must hold strings (globs)"):format(fname, option))
  end
  local text, dirs_only = pattern, false
  if #text > 1 and text:sub(-1) == "/" then
    text, dirs_only = text:sub(1, -2), true
  end
  local anchored = text:find("/", 1, true) ~= nil
  if text:sub(1, 1) == "/" then
    text = text:sub(2)
  end
  local matcher, why = glob.compile(text)
  if not matcher then
    checks.raise(("'%s' option %s: %s"):format(fname, option, why))
  end
  return { matcher = matcher, anchored = anchored, dirs_only = dirs_only }
end

-- Matching is resumed from the folder above (glob.resume): a walk asks
-- about a folder before its entries, so what each folder's path matched
-- (its record, below) is kept for the selector's life and an entry reads
-- its own name only. Matching each path whole, and each folder above it
-- again, cost time quadratic in the path's length: seconds an entry for a
-- server's chain of deep folders with long names.

-- What a path or a folder above it matched, as bits: an exclude
-- (EXCLUDED), an include (INCLUDED).
local EXCLUDED, INCLUDED = 1, 2

local function has(facts, bit)
  return facts & bit ~= 0
end

-- The folder holding rel and rel's last name; no folder (nil) for a
-- top-level name: the walked folder itself is not matched as one above.
local function split(rel)
  local dir = rel:match("^(.*)/")
  return dir, dir and rel:sub(#dir + 2) or rel
end

-- The record above top-level names: nothing matched, each glob at its start.
local TOP = { facts = 0, states = {} }

-- Whether one of rules matches the entry named name in the folder whose
-- record is above. states, for a folder: gets each glob with a `/` in its
-- state after the folder's path and a "/" (what lies below may match).
local function any_matches(rules, above, name, is_dir, states)
  local found = false
  for _, rule in ipairs(rules) do
    local m, applies = rule.matcher, is_dir or not rule.dirs_only
    if rule.anchored then
      local state = glob.resume(m, above.states[rule], name)
      found = found or applies and glob.accepts(m, state)
      if states then
        states[rule] = glob.resume(m, state, "/")
      end
    elseif applies and not found then
      found = glob.matches(m, name)
    end
  end
  return found
end

-- The bits of the entry named name below the folder whose record is above.
-- What the folder above decided is not matched again (nor its globs'
-- states kept: what lies below is decided too).
local function facts_below(self, above, name, is_dir, states)
  local facts = above.facts
  if not has(facts, EXCLUDED) and any_matches(self.exclude, above, name, is_dir, states) then
    facts = facts | EXCLUDED
  end
  if not has(facts, INCLUDED) and any_matches(self.include, above, name, is_dir, states) then
    facts = facts | INCLUDED
  end
  return facts
end

-- The record of folder dir ({facts =, states =}), kept in self.folders. A
-- folder asked about cold (download_many's paths) is climbed to the nearest
-- one known, then each folder on the way down read once.
local function folder_record(self, dir)
  local known = self.folders
  local chain, up = {}, dir
  while up and not known[up] do
    chain[#chain + 1] = up
    up = split(up)
  end
  local record = up and known[up] or TOP
  for i = #chain, 1, -1 do
    local _, name = split(chain[i])
    local states = {}
    record = { facts = facts_below(self, record, name, true, states), states = states }
    known[chain[i]] = record
  end
  return record
end

-- The bits of the entry at rel, and for a folder its record.
local function entry_facts(self, rel, is_dir)
  if is_dir then
    local record = folder_record(self, rel)
    return record.facts, record
  end
  local dir, name = split(rel)
  return facts_below(self, dir and folder_record(self, dir) or TOP, name, false)
end

-- Whether a path below the folder whose record is given could match one of
-- the include globs.
local function may_match_below(self, record)
  for _, rule in ipairs(self.include) do
    if not rule.anchored or record.states[rule] ~= "" then
      return true
    end
  end
  return false
end

local Selector = {}
Selector.__index = Selector

--- Whether the entry at rel (relative to the walked folder, "/" between
-- names) is taken: true or false, or nil and the error opts.filter raised.
-- is_dir: the entry is a folder to enter.
function Selector:takes(rel, entry, is_dir)
  local facts, record = entry_facts(self, rel, is_dir)
  if has(facts, EXCLUDED) then
    return false
  end
  if self.filter then
    local ok, answer = pcall(self.filter, rel, entry)
    if not ok then
      return nil, tostring(answer)
    elseif not answer then
      return false
    end
  end
  if #self.include == 0 or has(facts, INCLUDED) then
    return true
  end
  return is_dir and may_match_below(self, record) or false
end

-- Whether the include globs name rel itself or a folder above it (true
-- when there are none): rmtree removes only such folders, not those entered
-- only to look for what include takes.
function Selector:included(rel, is_dir)
  return #self.include == 0 or has(entry_facts(self, rel, is_dir), INCLUDED)
end

local function compile_list(fname, option, value)
  if type(value) == "string" then
    value = { value }
  end
  local rules = {}
  for i, pattern in ipairs(value or {}) do
    rules[i] = rule_for(fname, option, pattern)
  end
  return rules
end

-- The selector of a helper's options (fname names the helper in errors),
-- or nil when they hold no filter. Raises for a glob that is not a string or
-- too long.
function filters.new(fname, opts)
  if opts.include == nil and opts.exclude == nil and opts.filter == nil then
    return nil
  end
  return setmetatable({
    include = compile_list(fname, "include", opts.include),
    exclude = compile_list(fname, "exclude", opts.exclude),
    filter = opts.filter,
    folders = {}, -- a folder's relative path -> its record (folder_record)
  }, Selector)
end

-- "dir" + "/" + "name", "" being the top.
function filters.join(rel, name)
  return rel == "" and name or rel .. "/" .. name
end

return filters
