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

local function basename(rel)
  return rel:match("[^/]*$")
end

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

local function matches(rule, rel, is_dir)
  if rule.dirs_only and not is_dir then
    return false
  end
  return glob.matches(rule.matcher, rule.anchored and rel or basename(rel))
end

local function any_matches(rules, rel, is_dir)
  for _, rule in ipairs(rules) do
    if matches(rule, rel, is_dir) then
      return true
    end
  end
  return false
end

-- Whether rel or a folder above it matches one of rules.
local function matches_here_or_above(rules, rel, is_dir)
  if any_matches(rules, rel, is_dir) then
    return true
  end
  local dir = rel:match("^(.*)/[^/]*$")
  while dir do
    if any_matches(rules, dir, true) then
      return true
    end
    dir = dir:match("^(.*)/[^/]*$")
  end
  return false
end

-- Whether a path below folder rel could match one of rules.
local function may_match_below(rules, rel)
  for _, rule in ipairs(rules) do
    if not rule.anchored or glob.may_match_after(rule.matcher, rel .. "/") then
      return true
    end
  end
  return false
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

local Selector = {}
Selector.__index = Selector

--- Whether the entry at rel (relative to the walked folder, "/" between
-- names) is taken: true or false, or nil and the error opts.filter raised.
-- is_dir: the entry is a folder to enter.
function Selector:takes(rel, entry, is_dir)
  if matches_here_or_above(self.exclude, rel, is_dir) then
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
  if #self.include == 0 then
    return true
  elseif matches_here_or_above(self.include, rel, is_dir) then
    return true
  end
  return is_dir and may_match_below(self.include, rel) or false
end

-- Whether the include globs name rel itself or a folder above it (true
-- when there are none): rmtree removes only such folders, not those entered
-- only to look for what include takes.
function Selector:included(rel, is_dir)
  return #self.include == 0 or matches_here_or_above(self.include, rel, is_dir)
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
  }, Selector)
end

-- "dir" + "/" + "name", "" being the top.
function filters.join(rel, name)
  return rel == "" and name or rel .. "/" .. name
end

return filters
