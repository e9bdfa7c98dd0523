-- ftp:list (a directory as parsed entries) and ftp:walk (a tree, top-down).
--
-- What a server lists is untrusted: a listing is parsed line by line as it
-- arrives, within maxlisting (each entry counts ENTRY_COST bytes besides its
-- line, so the limit bounds the memory the parsed form takes); a refused or
-- failed listing is an error, never an empty folder; walk enters only folders
-- whose names pass safename.check, no deeper than max_depth, never twice, and
-- takes a listing it cannot read (nothing but unknown lines, or only the
-- folder itself) for an unreadable folder.
local checks = require "ftplib.base.checks"
local list_lines = require "ftplib.parsers.list_lines"
local listing = require "ftplib.protocol.listing"
local safename = require "ftplib.ops.safename"
local filters = require "ftplib.ops.filters"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local list = {}

--- The helpers: parsed listings, walks, whole-file downloads and uploads, mirrors,
-- server-to-server copies and URL one-liners, on top of the @{FTP} methods. Not a
-- module of its own: the `FTP:` ones are methods of every session
-- (`ftp:download(...)`), the `ftplib.` ones functions of the `ftplib` module.
--
-- What a server lists is untrusted input, and the helpers treat it so: a listed name
-- becomes a local path only through @{ftplib.safe_join}; no local link is followed
-- when a file is made, and temporaries are made exclusively; a listing that failed,
-- was refused or cannot be read is never taken for an empty folder, so nothing is
-- deleted on its strength; walks and listings are bounded (`max_depth`,
-- `maxlisting`); a bad entry is reported and the others go on. They never raise for
-- anything a server sent; they raise only for programming errors (wrong argument
-- types, unknown or mistyped options).
--
-- `download`, `upload`, `download_many`, `mirror`, `mirror_up`, and `ftplib.get` and
-- `ftplib.put` with a local path need LuaFileSystem, loaded when one of them first
-- runs: without it they raise a clear error.
-- @module helpers

--- Listings and walks.
-- @section listings

--- Whole files.
-- @section files

--- Mirrors.
-- @section mirrors

--- Server to server.
-- @section copy

--- URLs.
-- @section urls

--- Local paths.
-- @section paths

--- Listings and walks.
-- @section listings

-- What an entry costs in memory besides its line: a table of eight slots,
-- its name and a slot in the list (measured: see the README's figure).
local ENTRY_COST = 320

local DEFAULT_MAX_DEPTH = 256
-- How many entries a walk lists in all before it stops: generous for real
-- trees, and an end to a server inventing folders without end ("d a" and
-- "d b" in every folder: 2^256 folders within max_depth).
local DEFAULT_MAX_ENTRIES = 1000000

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

local function is_hidden(entry)
  return entry.name ~= nil and entry.name:sub(1, 1) == "."
end

-- Runs listing command cmd, parsing each line with parse(line, now) into
-- entries. Answers entries, the final reply, and facts about the listing:
-- known (lines that parsed into an entry of a known form, . and ..
-- included), dot (a "." or cdir entry: the folder itself is there), dotted
-- (a name starting with a dot, . and .. included: dotfiles are shown),
-- unverified (why the listing may not be whole, see _listing_each).
local function parse_listing(self, cmd, parse, hidden)
  local entries, facts, now = {}, { known = 0 }, os.time()
  local text, err, code = self:_listing_each(cmd, function(line, decoded)
    local entry = parse(line, now)
    if not entry then
      return #line + 1 -- blank lines and "total N" count as bytes only
    end
    if not decoded and entry.name then
      self:_remember_raw(entry.name) -- sent back as it came (protocol/encoding.lua)
    end
    if entry.type ~= "unknown" then
      facts.known = facts.known + 1
    end
    facts.dotted = facts.dotted or is_hidden(entry)
    if is_self_or_parent(entry) then
      facts.dot = facts.dot or entry.name == "." or entry.type == "cdir"
      return #line + 1
    elseif hidden == false and is_hidden(entry) then
      return #line + 1
    end
    entries[#entries + 1] = entry
    return #line + 1 + ENTRY_COST
  end)
  if not text then
    return nil, err, code
  end
  facts.unverified = err
  return entries, text, facts
end

-- Some servers (vsftpd) answer LIST of a missing directory with an empty
-- listing: an empty answer is checked with CWD there and back. Without the
-- current folder (PWD refused) there is no way back, and no check.
function FTP:_folder_exists(path)
  local home = self:_pwd_cached()
  if not home then
    return nil, "cannot check that " .. path .. " exists: the current folder is unknown", "proto"
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

-- An answer with no entries: an empty folder only when the folder is known
-- to be there. vsftpd ends a listing it could not read with
-- "226 Transfer done (but failed to open directory)": its own words.
local function empty_answer(self, path, text, facts)
  if facts.dot then
    return {}, text, facts
  elseif text:lower():find("fail", 1, true) then
    return nil, text, tonumber(text:match("^%d%d%d"))
  elseif path and path ~= "" then
    local ok, err, code = self:_folder_exists(path)
    if not ok then
      return nil, err, code
    end
  end
  return {}, text, facts
end

local function list_mlsd(self, path, hidden)
  local entries, text, facts = parse_listing(self, listing.with_path("MLSD", path),
    list_lines.mlsx_entry, hidden)
  if entries and #entries == 0 then
    return empty_answer(self, path, text, facts)
  end
  return entries, text, facts
end

-- The parsed answer of one LIST command: entries, text, facts, or nil, err, code.
local function list_once(self, verb, path, hidden)
  return parse_listing(self, listing.with_path(verb, path), list_lines.parse_line, hidden)
end

-- The answer of a plain LIST where dotfiles were wanted (LIST -a refused, or
-- known not to work here): most Unix servers leave dotfiles out of it, so it
-- vouches for none (facts.hidden_unseen) unless it shows some.
local function plain_answer(entries, text, facts)
  if entries then
    facts.hidden_unseen = not facts.dotted
  end
  return entries, text, facts
end

-- LIST shows no dotfiles on most Unix servers: LIST -a does, where the server
-- takes it. Whether it does is learnt once per session (self._list_a): an
-- answer with entries of a known form for a named folder says yes (Twisted
-- takes "LIST -a" alone, not "LIST -a path"); a refusal, or an empty or
-- unreadable answer where plain LIST has entries, says no. Whenever LIST -a
-- is refused, or its answer is empty before that is learnt, plain LIST is
-- asked and has the last word: a server reading "-a" as a name must not pass
-- for an empty folder.
local function list_unix(self, path, hidden)
  if hidden == false then
    return list_once(self, "LIST", path, hidden) -- dotfiles left out on purpose
  elseif self._list_a == false then
    return plain_answer(list_once(self, "LIST", path, hidden))
  end
  local entries, text, facts = list_once(self, "LIST -a", path, hidden)
  if entries and facts.known > 0 then
    if path and path ~= "" then
      self._list_a = true
    end
    return entries, text, facts
  elseif entries and self._list_a then
    return entries, text, facts -- nothing known in it, under a LIST -a that works
  elseif not entries and math.type(facts) ~= "integer" then
    return entries, text, facts -- a lost session or a limit: plain LIST would fare no better
  end
  local plain, ptext, pfacts = list_once(self, "LIST", path, hidden)
  if plain and pfacts.known > 0 then
    self._list_a = false
  end
  return plain_answer(plain, ptext, pfacts)
end

local function list_parsed(self, path, hidden)
  local entries, text, facts = list_unix(self, path, hidden)
  if entries then
    self:_times_to_utc(path, entries) -- the server's local time (option timezone)
  end
  if entries and #entries == 0 then
    return empty_answer(self, path, text, facts)
  elseif entries and facts.known == 0 and path and path ~= "" then
    -- Lines no parser knows only: GNU inetutils ftpd answers LIST of a missing
    -- folder with 226 and ls's "X: No such file or directory" as the listing.
    local ok, err, code = self:_folder_exists(path)
    if not ok then
      return nil, err, code
    end
  end
  return entries, text, facts
end

-- Codes meaning "MLSD is not implemented here" despite FEAT.
local MLSD_UNKNOWN = { [500] = true, [502] = true, [504] = true }

-- The entries of a directory and what the listing showed: from MLSD when
-- FEAT shows MLST, else LIST parsed. A missing or unreadable directory is an
-- error, never an empty list: mirror must not take it for a folder whose
-- files were all deleted.
local function list_folder(self, path, hidden)
  if self:_features().MLST and not self._mlsd_refused then
    local entries, text, facts = list_mlsd(self, path, hidden)
    if entries or not MLSD_UNKNOWN[facts] then
      return entries, text, facts
    end
    self._mlsd_refused = true
  end
  return list_parsed(self, path, hidden)
end

local LIST_OPTIONS = { hidden = "boolean" }

-- ftp:list(path, {hidden = false}) --> entries; hidden = false leaves out
-- names starting with a dot (listed by default, with LIST -a where needed).

--- The entries of a folder, parsed: from MLSD when FEAT lists MLST, else from LIST
-- (Unix `ls -l`, DOS/IIS, EPLF, and the parsers of @{ftplib.add_list_parser}). A
-- LIST-only server is asked `LIST -a`, so that dotfiles show, and plain `LIST` where
-- it refuses that (learnt once per session). `.` and `..` are left out; a line no
-- parser knows is kept as an entry of type `"unknown"`, never dropped. A missing or
-- unreadable folder is an error, never an empty list: a refused LIST (450, 550)
-- fails, and an empty answer is an empty folder only when CWD into the folder works.
-- The listing is parsed as it comes, within `maxlisting`.
-- @tparam[opt] string path the folder (default: the current one)
-- @tparam[opt] table opts
-- @tparam[opt=true] boolean opts.hidden `false` leaves out names starting with a dot
-- @treturn {entry,...} the @{entry} tables, in the server's order
-- @return[2] `nil, message, code`: the server's refusal, `"limit"` past `maxlisting`
-- @usage for _, e in ipairs(assert(ftp:list("pub"))) do
--   print(e.type, e.size, e.modify and os.date("!%F %R", e.modify), e.name)
-- end
function FTP:list(path, opts)
  checks.check("list", 1, path, "string|nil")
  opts = checks.check_options("list", 2, opts, LIST_OPTIONS)
  local entries, err, code = list_folder(self, path, opts.hidden)
  if not entries then
    return nil, err, code
  end
  return entries
end

-- ------------------------------------------------------------------------
-- walk

local function basename(path)
  return path:match("([^/]+)/*$")
end

local function parent_of(path)
  return path:match("^(.*)/[^/]+/*$") or ""
end

-- The entry a folder has in its parent's listing, or nil.
local function own_entry(self, path, hidden)
  local name = basename(path)
  local entries = name and list_folder(self, parent_of(path), hidden)
  for _, entry in ipairs(entries or {}) do
    if entry.name == name then
      return entry
    end
  end
  return nil
end

-- Why the listing of folder (its path and its entry in the parent's listing)
-- cannot be taken for its contents, or nil. Only lines no parser reads (GNU
-- ls's "ls: cannot access ..." after a 150 and before a 226, or another
-- language's month names) say nothing of what is there. A listing of one
-- entry named like the folder may be the folder itself, as its parent lists
-- it: what vsftpd sends for a folder it may enter but not read (mode 0711),
-- and what LIST of a file shows.
local function distrust(self, folder, entries, hidden)
  local known = 0
  for _, entry in ipairs(entries) do
    if entry.type ~= "unknown" then
      known = known + 1
    end
  end
  if #entries > 0 and known == 0 then
    return "listing not understood: " .. checks.escape(entries[1].raw or "")
  end
  local only = entries[1]
  if #entries == 1 and only.name == basename(folder.path) then
    local own = folder.entry or own_entry(self, folder.path, hidden)
    if own and own.type ~= "dir" then
      return "not a folder"
    elseif not own or own.raw == only.raw then
      return "the listing shows only the folder itself: not readable"
    end
  end
  return nil
end

-- The walk's next directory: children of the one given last time are pushed
-- only now, so that the loop body may remove names from `dirs` to prune.
local function push_children(state)
  local last = state.last
  if last then
    for i = #last.dirs, 1, -1 do
      local entry = last.dirs[i]
      state.stack[#state.stack + 1] = {
        path = list.join(last.path, entry.name), entry = entry, depth = last.depth + 1,
        rel = filters.join(last.rel, entry.name),
      }
    end
    state.last = nil
  end
end

-- Whether the walk's filters (opts.include, exclude, filter) take the
-- entry; a filter that raised is told to onerror (code "filter") and the
-- entry left out.
local function selected(state, folder, name, entry)
  if not state.selector then
    return true
  end
  local rel = filters.join(folder.rel, name)
  local takes, err = state.selector:takes(rel, entry, entry.type == "dir")
  if takes == nil and state.onerror then
    state.onerror(list.join(folder.path, name), "the filter raised: " .. err, "filter")
  end
  return takes
end

-- Splits a trusted listing into folders to enter, other entries, and entries
-- whose names cannot be used ({entry =, name =, reason =}); entries the
-- filters leave out are in none.
-- How many times each name comes in a listing. A name listed twice (a folder
-- and a link of the same name, say) contradicts itself: which one the
-- server acts on is unknown, so neither is used (a walk would enter the
-- folder through what may be the link, and rmtree delete beyond it).
local function name_counts(entries)
  local counts = {}
  for _, entry in ipairs(entries) do
    counts[entry.name] = (counts[entry.name] or 0) + 1
  end
  return counts
end

local function split_entries(state, folder, entries)
  local dirs, files, rejected = {}, {}, {}
  local counts = name_counts(entries)
  for _, entry in ipairs(entries) do
    local name, reason = safename.check(entry.name)
    if name and counts[name] > 1 then
      name, reason = nil, "listed more than once in its folder"
    end
    if not name then
      rejected[#rejected + 1] = { entry = entry, name = entry.name, reason = reason }
    elseif selected(state, folder, name, entry) then -- else neither listed nor entered
      if entry.type == "dir" and not state.seen(entry)
          and not state.visited[list.join(folder.path, name)] then
        dirs[#dirs + 1] = entry
      else
        -- Links (never descended), files, devices, unknown lines, folders met twice.
        files[#files + 1] = entry
      end
    end
  end
  return dirs, files, rejected
end

-- What a walk tells of a listing besides its entries (the facts of
-- parse_listing): hidden_unseen, a plain LIST that may have left dotfiles
-- out though they were wanted; unverified, why it may have been cut.
local function listing_notes(facts)
  return { hidden_unseen = facts.hidden_unseen or nil, unverified = facts.unverified }
end

-- The walk ends once it has listed more than max_entries entries in all:
-- the folder that passed the budget and every folder still to list are
-- reported to onerror with "limit" (and true, "the walk stopped"), so that
-- none of them passes for empty.
local function stop_walk(state, folder)
  local err = "the walk stopped: more than max_entries (" .. state.max_entries
    .. ") entries listed"
  local skipped = { folder }
  for i = #state.stack, 1, -1 do
    skipped[#skipped + 1] = state.stack[i]
  end
  state.stack = {}
  if state.onerror then
    for _, each in ipairs(skipped) do
      state.onerror(each.path, err, "limit", true)
    end
  end
  return nil
end

local function walk_step(self, state)
  push_children(state)
  while #state.stack > 0 do
    local folder = table.remove(state.stack)
    local entries, err, code
    state.visited[folder.path] = true
    if folder.depth > state.max_depth then
      err, code = "deeper than max_depth (" .. state.max_depth .. ")", "limit"
    else
      entries, err, code = list_folder(self, folder.path, state.hidden) -- code: the facts
      local why = entries and distrust(self, folder, entries, state.hidden)
      if why then
        entries, err, code = nil, folder.path .. ": " .. why, "proto"
      end
    end
    state.listed = state.listed + (entries and #entries or 0)
    if state.listed > state.max_entries then
      return stop_walk(state, folder)
    elseif entries then
      local dirs, files, rejected = split_entries(state, folder, entries)
      state.last = { path = folder.path, dirs = dirs, depth = folder.depth, rel = folder.rel }
      return folder.path, dirs, files, rejected, listing_notes(code)
    elseif state.onerror then
      state.onerror(folder.path, err, code)
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
    local unique = entry.unique
    if not unique then
      return false
    end
    local was_seen = seen[unique]
    seen[unique] = true
    return was_seen
  end
end

--- How `include`, `exclude` and `filter` choose entries, for @{FTP:walk},
-- @{FTP:mirror}, @{FTP:mirror_up} and @{FTP:download_many}. Not a field of the module.
--
-- A glob is matched against the path relative to the walked or mirrored folder (for
-- `download_many`, the remote path as given), names joined with `/`. `*` matches any
-- run of characters but `/`, `?` one character but `/`, `**` any run including `/`
-- (`a/**/b` matches `a/b` too), and `\` makes the next character plain (`\*` matches a
-- file named `*`); every other character stands for itself (no `[...]` classes, no Lua
-- pattern: `[a]` matches a file named `[a]`). A glob with a `/` is matched against the
-- whole relative path (`src/*.c`); one without, against the last name at any depth
-- (`*.tmp`); a leading `/` anchors it at the top (`/build`), a trailing `/` matches
-- folders only (`cache/`). Matching takes at most the glob's length per character
-- of the path, whatever the glob (no backtracking).
--
-- The rule, in this order: an entry matching an `exclude` glob, or in a folder that
-- does, is left out (a folder left out is not entered); then `filter(relpath, entry)`
-- is asked, for files and folders, and a false answer leaves the entry out (a
-- `filter` that raises leaves it out and is reported: `onerror` of @{FTP:walk},
-- `failed` of the others, code `"filter"`); then, when `include` is given, a file is
-- taken only if it, or a folder above it, matches an `include` glob, and a folder is
-- entered when it matches or when something below it could (`src/**/*.c` enters `src`
-- and its subfolders, not `doc`). Unlike lftp's `-I`/`-X`, where the first matching
-- option decides, `exclude` always wins over `include`. What is left out is never
-- sent, replaced or deleted; a folder entered for `include` is made on the target by
-- a mirror even when nothing in it is taken (as lftp does).
-- @table filter_options
-- @tfield[opt] {string,...} include globs of the files to take (a string: one glob)
-- @tfield[opt] {string,...} exclude globs of the entries to leave out (a string: one glob)
-- @tfield[opt] function filter `filter(relpath, entry)`: false or nil leaves it out

local WALK_OPTIONS = {
  onerror = "function|nil", max_depth = "number", max_entries = "number", hidden = "boolean",
}
for key, types in pairs(filters.OPTION_TYPES) do
  WALK_OPTIONS[key] = types
end
list.option_types = { list = LIST_OPTIONS, walk = WALK_OPTIONS } -- for ftplib._option_types

-- for dirpath, dirs, files, rejected in ftp:walk(path, opts) do ... end
-- Top-down; symbolic links are listed among files and never followed.
-- opts.onerror(dirpath, msg, code) hears of each directory skipped: one that
-- cannot be listed, whose listing cannot be read, or deeper than
-- opts.max_depth (256) below path; once more than opts.max_entries
-- (1,000,000) entries are listed, each folder left (the walk ends).
-- rejected lists the entries whose names cannot be a path ({entry =, name =,
-- reason =}: "", ".", "..", a slash, control characters); listing, what the
-- listing cannot vouch for. opts.hidden = false leaves out dotfiles.

--- Walks a tree top-down: `for dirpath, dirs, files, rejected in ftp:walk(path) do`.
-- Remove entries from `dirs` in the loop to skip those folders. Links, devices and
-- unknown lines are among `files`, and never followed. A folder is entered once
-- (MLSD's `unique` fact catches one listed twice under another name), never
-- deeper than `opts.max_depth` below `path`, and the walk ends once it has listed more
-- than `opts.max_entries` entries in all. A folder that cannot be listed, whose
-- listing holds only lines no parser reads (GNU ls's `ls: cannot access ...`), or that
-- lists only itself (vsftpd, for a folder one may enter but not read) is skipped after
-- `opts.onerror`.
-- @tparam[opt] string path the top folder (default `""`: the current one)
-- @tparam[opt] table opts
-- @tparam[opt] function opts.onerror called as `onerror(dirpath, message, code)` for
-- each folder skipped, `path` included (`"limit"` past `max_depth`)
-- @tparam[opt=256] number opts.max_depth how many levels below `path` to enter (a
-- non-negative integer)
-- @tparam[opt=1000000] number opts.max_entries how many entries to list in all: past
-- that the walk ends, after `onerror(dirpath, message, "limit", true)` for the folder that
-- passed it and for each folder not listed yet (a non-negative integer)
-- @tparam[opt=true] boolean opts.hidden `false` leaves out names starting with a dot
-- @tparam[opt] {string,...} opts.include globs of the files to take, as the
-- @{filter_options} say; the others are in neither `dirs` nor `files`
-- @tparam[opt] {string,...} opts.exclude globs of the entries to leave out (a folder left
-- out is not entered)
-- @tparam[opt] function opts.filter called as `filter(relpath, entry)`: a false answer
-- leaves the entry out; one that raises too, after `onerror(path, message, "filter")`
-- @treturn function the iterator; each step gives `dirpath` (`path`, then the folders
-- below it, joined with `/`), `dirs` and `files` (@{entry} tables), `rejected`:
-- the entries whose names cannot be a path (empty, `.`, `..`, a slash or backslash,
-- control characters) as `{entry =, name =, reason =}`, and `listing`, what the
-- listing cannot vouch for: `hidden_unseen = true` when it came from a plain `LIST`
-- (the server refused `LIST -a`) that showed no dotfile, so that dotfiles may be
-- missing; `unverified`, why it may have been cut (a protected listing of no byte that
-- ended without TLS close_notify)
-- @raise for a `max_depth` or `max_entries` that is not a non-negative integer
-- @usage for dirpath, dirs, files in ftp:walk("pub") do print(dirpath, #dirs, #files) end
function FTP:walk(path, opts)
  checks.check("walk", 1, path, "string|nil")
  opts = checks.check_options("walk", 2, opts, WALK_OPTIONS)
  local max_depth = opts.max_depth or DEFAULT_MAX_DEPTH
  local max_entries = opts.max_entries or DEFAULT_MAX_ENTRIES
  for name, value in pairs { max_depth = max_depth, max_entries = max_entries } do
    if math.type(value) ~= "integer" or value < 0 then
      checks.raise("'walk' option " .. name .. " must be a non-negative integer")
    end
  end
  path = path or ""
  local state = {
    stack = { { path = path, depth = 0, rel = "" } }, onerror = opts.onerror, max_depth = max_depth,
    max_entries = max_entries, listed = 0,
    hidden = opts.hidden, visited = {}, seen = seen_tracker(unique_of(self, path)),
    selector = filters.new("walk", opts),
  }
  return function()
    return walk_step(self, state)
  end
end

list.FTP = FTP

return list
