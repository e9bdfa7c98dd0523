-- Parsers for the lines of a LIST reply, and MLSD lines turned into the same
-- entries. Each parser is a plain function (line, now) -> entry, false (a
-- line it knows carries no entry) or nil (not its format). An entry is
-- {name=, type=, size=, modify=, perm=, target=, raw=} plus what the format
-- offers (owner, group, links, major, minor for ls -l; unique, mode for
-- MLSD). `modify` is epoch seconds taken as UTC (LIST gives the server's
-- local time, whose zone is unknown) and `precision` says how exact it is: 1
-- (MLSD, EPLF), 60 (a time of day), 86400 (a date only).
--
-- A folder may list a million entries, so an entry holds only the fields
-- most used (at most eight: one table of eight slots); the others are read
-- again from `raw` when asked for (a metatable's __index), and cost nothing
-- until then.
local checks = require "ftplib.base.checks"
local utc = require "ftplib.base.utc"

local list_lines = {}

--- Helpers: the LIST parsers.
-- @module helpers

--- Listings and walks.
-- @section listings

--- An entry of a listing: what @{FTP:list}, @{FTP:walk} and
-- @{ftplib.parse_list_line} give (and a parser of @{ftplib.add_list_parser} returns).
-- Not a field of the module.
-- @table entry
-- @tfield string name the name as listed (in UTF-8 with `encoding`)
-- @tfield string type `"file"`, `"dir"`, `"link"`, a device kind (`"chardev"`,
-- `"blockdev"`, `"fifo"`, `"socket"`, `"door"`), another MLSD type in lower case, or
-- `"unknown"`: a line no parser knows (`name` is then a guess, `raw` the line)
-- @tfield ?integer size in bytes
-- @tfield ?integer modify the modification time, UTC epoch seconds (from LIST: the
-- server's local clock, taken as UTC)
-- @tfield ?integer precision how exact `modify` is, in seconds: 1 (MLSD, EPLF), 60 (a
-- time of day), 86400 (a date only)
-- @tfield ?string perm the permissions as listed (`"drwxr-xr-x"`, MLSD's perm fact)
-- @tfield ?string target a link's target, when the listing shows it
-- @tfield string raw the line as the server sent it
-- @tfield ?string owner `ls -l` only; like `group`, `links`, `major` and `minor`
-- (devices), read again from `raw` when asked for, so they do not show in `pairs`
-- @tfield ?string unique MLSD's unique fact; like `mode` (from `UNIX.mode`), read again
-- from `raw` when asked for

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

local UNIX_TYPES = {
  ["-"] = "file", d = "dir", l = "link", c = "chardev", b = "blockdev",
  p = "fifo", s = "socket", D = "door",
}

local function int(text)
  return math.tointeger(tonumber(text))
end

local function valid_date(y, m, d, hh, mm)
  return y and m and m >= 1 and m <= 12 and d >= 1 and d <= 31
    and hh >= 0 and hh <= 23 and mm >= 0 and mm <= 59
end

-- The year of a "Mon DD HH:MM" date: ls shows a time of day for the last six
-- months, so a date more than two days (time zones) ahead of now is last year's.
local function recent_year(now, m, d, hh, mm)
  local year = int(os.date("!%Y", now))
  if utc.timegm(year, m, d, hh, mm, 0) > now + 2 * 86400 then
    year = year - 1
  end
  return year
end

-- ------------------------------------------------------------------------
-- Unix ls -l

local PERM_CHAR = "[-rwxsStTlL]"
local UNIX_HEAD = "^([-bcdlpsD])(" .. PERM_CHAR:rep(9) .. ")[+.@]?%s+()"

-- "Jan 16 18:53 " or "Jan  1  2019 " (ls pads the year to five places); the
-- name starts after exactly one space, so leading spaces in it survive.
local function find_month_date(rest, init, now)
  local first, mon, day, clock, after
  if rest:find(":", init, true) then -- a scan less for the lines with a year
    first, mon, day, clock, after = rest:match(
      "()%f[%a](%a%a%a)%s+(%d%d?)%s+(%d?%d:%d%d) ()", init)
  end
  local year
  if not first then
    first, mon, day, year, after = rest:match(
      "()%f[%a](%a%a%a)%s+(%d%d?)%s+(%d%d%d%d) ()", init)
  end
  if not first then
    return nil
  end
  local m, d = MONTHS[mon:lower()], int(day)
  local hh, mm = 0, 0
  if clock then
    hh, mm = clock:match("(%d+):(%d+)")
    hh, mm = int(hh), int(mm)
  end
  if not valid_date(2000, m, d, hh, mm) then
    return find_month_date(rest, first + 1, now)
  end
  local y = year and int(year) or recent_year(now, m, d, hh, mm)
  return first, after, utc.timegm(y, m, d, hh, mm, 0), clock and 60 or 86400
end

-- "2019-01-16 18:53 " (ls --time-style=long-iso).
local function find_iso_date(rest)
  if not rest:find("-", 1, true) then -- most lines: no scan for a date they lack
    return nil
  end
  local first, y, m, d, hh, mm, after = rest:match(
    "()(%d%d%d%d)%-(%d%d)%-(%d%d)%s+(%d%d):(%d%d) ()")
  if not first then
    return nil
  end
  y, m, d, hh, mm = int(y), int(m), int(d), int(hh), int(mm)
  if not valid_date(y, m, d, hh, mm) then
    return nil
  end
  return first, after, utc.timegm(y, m, d, hh, mm, 0), 60
end

-- "[links] owner [group] size" or "... major, minor" before the date.
local function unix_columns(entry, before)
  local major, minor = before:match("(%d+),%s*(%d+)%s*$")
  if major then
    entry.major, entry.minor = int(major), int(minor)
    before = before:gsub("%d+,%s*%d+%s*$", "")
  end
  local words = {}
  for word in before:gmatch("%S+") do
    words[#words + 1] = word
  end
  if not major then
    entry.size = int(table.remove(words))
    if not entry.size then
      return nil
    end
  end
  if #words >= 2 and words[1]:match("^%d+$") then
    entry.links = int(table.remove(words, 1))
  end
  entry.owner, entry.group = words[1], words[2]
  return entry
end

local function unix_full(line, now)
  if line:match("^total%s+%d+%s*$") then
    return false
  end
  local kind, perm, start = line:match(UNIX_HEAD)
  if not kind then
    return nil
  end
  local rest = line:sub(start)
  local first, after, modify, precision = find_iso_date(rest)
  if not first then
    first, after, modify, precision = find_month_date(rest, 1, now)
  end
  if not first then
    return nil
  end
  local entry = {
    type = UNIX_TYPES[kind], perm = kind .. perm, modify = modify,
    precision = precision, raw = line,
  }
  if not unix_columns(entry, rest:sub(1, first - 1)) then
    return nil
  end
  local name = rest:sub(after)
  if entry.type == "link" then
    local link_name, target = name:match("^(.-) %-> (.*)$")
    if link_name then
      name, entry.target = link_name, target
    end
  end
  if name == "" then
    return nil
  end
  entry.name = name
  return entry
end

-- Fields of an ls -l line that are not kept in its entry: read again from raw.
local UNIX_EXTRAS = { links = true, owner = true, group = true, major = true, minor = true }
local unix_extras = {
  __index = function(entry, key)
    if UNIX_EXTRAS[key] then
      local full = unix_full(rawget(entry, "raw"), 0)
      return full and full[key]
    end
  end,
}

function list_lines.unix(line, now)
  local full = unix_full(line, now)
  if not full then
    return full
  end
  return setmetatable({
    name = full.name, type = full.type, size = full.size, modify = full.modify,
    precision = full.precision, perm = full.perm, raw = line, target = full.target,
  }, unix_extras)
end

-- ------------------------------------------------------------------------
-- DOS / IIS: "01-16-19  03:04PM       <DIR>          name",
--            "01-16-2019  15:04            1,234 name"

local function dos_year(text)
  local y = int(text)
  if #text == 2 then
    y = y + (y < 70 and 2000 or 1900)
  end
  return y
end

local function dos_hour(hh, ampm)
  ampm = ampm:upper()
  if ampm == "" then
    return hh
  end
  if hh < 1 or hh > 12 then
    return nil
  end
  return hh % 12 + (ampm == "PM" and 12 or 0)
end

local function dos_date(text)
  local m, d, y = text:match("^(%d%d)%-(%d%d)%-(%d%d%d?%d?)$")
  if m and (#y == 2 or #y == 4) then
    return dos_year(y), int(m), int(d)
  end
  y, m, d = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if y then
    return int(y), int(m), int(d)
  end
  return nil
end

function list_lines.dos(line)
  local date, hh, mm, ampm, size, name = line:match(
    "^(%S+)%s+(%d%d?):(%d%d)%s*([AaPp]?[Mm]?)%s+(%S+)%s+(.+)$")
  if not date then
    return nil
  end
  local y, m, d = dos_date(date)
  local hour = y and dos_hour(int(hh), ampm)
  if not (hour and valid_date(y, m, d, hour, int(mm))) then
    return nil
  end
  local entry = {
    name = name, modify = utc.timegm(y, m, d, hour, int(mm), 0),
    precision = 60, raw = line,
  }
  if size:upper() == "<DIR>" then
    entry.type = "dir"
  elseif size:match("^%d[%d,]*$") then
    entry.type, entry.size = "file", int((size:gsub(",", "")))
  else
    return nil
  end
  return entry
end

-- ------------------------------------------------------------------------
-- EPLF: "+i8388621.29609,m824255902,/,\tdev", "+r,s1234,m824255902,\tname"

function list_lines.eplf(line)
  local facts, name = line:match("^%+([^\t]*)\t(.+)$")
  if not facts then
    return nil
  end
  local entry = { name = name, type = "file", raw = line }
  for fact in facts:gmatch("[^,]+") do
    local tag, value = fact:sub(1, 1), fact:sub(2)
    if tag == "/" then
      entry.type = "dir"
    elseif tag == "s" then
      entry.size = int(value)
    elseif tag == "m" then
      entry.modify, entry.precision = int(value), 1
    elseif tag == "u" and value:sub(1, 1) == "p" then
      entry.perm = value:sub(2)
    end
  end
  return entry
end

-- ------------------------------------------------------------------------
-- Any line

local builtin_parsers = { list_lines.unix, list_lines.dos, list_lines.eplf }
local user_parsers = {}
-- Tried in this order; add_parser changes user_parsers in place.
local PARSER_LISTS = { user_parsers, builtin_parsers }

-- Something to call an unknown line by: the text after a time of day
-- (NetWare), a first word with a version (VMS "NAME.EXT;1"), else the last
-- word.
local function guess_name(line)
  return line:match("%s%d%d?:%d%d%s+(.-)%s*$") or line:match("^(%S+;%d+)%s")
    or line:match("(%S+)%s*$")
end

-- The entry of one LIST line, nil for lines without one (blank, "total N").
-- A line no parser knows is kept as {type = "unknown", raw = line}. Arguments
-- unchecked: ops/list.lua calls it once per line.
local function parse_line(line, now)
  line = line:gsub("\r+$", "") -- \r\r\n line ends (Globus GridFTP)
  if line:match("^%s*$") then
    return nil
  end
  for _, parsers in ipairs(PARSER_LISTS) do
    for _, parse in ipairs(parsers) do
      local entry = parse(line, now)
      if entry == false then
        return nil
      elseif entry then
        entry.raw = entry.raw or line
        return entry
      end
    end
  end
  return { type = "unknown", name = guess_name(line), raw = line }
end
list_lines.parse_line = parse_line

-- ftplib.parse_list_line(line, now): parse_line for scripts, now defaulting
-- to the current time.

--- Parses one line of a LIST reply, as @{FTP:list} does: with the parsers of
-- @{ftplib.add_list_parser} first, then Unix `ls -l`, DOS/IIS and EPLF.
-- @function ftplib.parse_list_line
-- @tparam string line the line (a trailing CR is ignored)
-- @tparam[opt] number now the time the listing was made (default: `os.time()`): `ls -l`
-- gives no year for recent dates
-- @treturn ?entry the @{entry}; `{type = "unknown", name = guess, raw = line}` for a
-- line no parser knows; `nil` for a line without an entry (blank, `total 12`)
local function parse_list_line(line, now)
  checks.check("parse_list_line", 1, line, "string")
  checks.check("parse_list_line", 2, now, "number|nil")
  return parse_line(line, now or os.time())
end

-- Later additions are tried first: a user's parser overrides the built-ins.
-- Returns a function that removes it again.

--- Adds a LIST parser, tried before the built-in ones (the last added first), by
-- every session and by @{ftplib.parse_list_line}.
-- @function ftplib.add_list_parser
-- @tparam function parse called as `parse(line, now)`; returns an @{entry} (its `raw`
-- defaults to the line), `false` for a line of its format without an entry, or `nil`
-- when the line is not its format
-- @treturn function a function that removes the parser again
-- @usage local remove = ftplib.add_list_parser(function(line)
--   local size, name = line:match("^(%d+) (.+)$")
--   if size then return { name = name, type = "file", size = tonumber(size) } end
-- end)
function list_lines.add_parser(parse)
  checks.check("add_list_parser", 1, parse, "function")
  table.insert(user_parsers, 1, parse)
  return function()
    for i, known in ipairs(user_parsers) do
      if known == parse then
        table.remove(user_parsers, i)
        return
      end
    end
  end
end

-- ------------------------------------------------------------------------
-- MLSD facts

local function mlsx_time(text)
  local y, m, d, hh, mm, ss = (text or ""):match("^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)")
  if not y then
    return nil
  end
  return utc.timegm(int(y), int(m), int(d), int(hh), int(mm), int(ss))
end

-- "OS.unix=slink:/target" (proftpd), "OS.unix=symlink", and the like.
local function mlsx_type(value)
  local lower = value:lower()
  local os_type = value:match("^[Oo][Ss]%.[Uu][Nn][Ii][Xx]=(.*)$")
  if os_type then
    local word, target = os_type:match("^([^:]*):?(.*)$")
    word = word:lower()
    if word == "slink" or word == "symlink" or word == "link" then
      return "link", target ~= "" and target or nil
    end
  end
  return lower
end

-- "fact=value;fact=value; name": facts have no spaces, so the name is
-- everything after the first space and may hold spaces and semicolons.
-- Returns name, facts (keys lower case), or nil for a line of another form.
function list_lines.mlsx(line)
  local facts_text, name = line:match("^([^ ]*) (.*)$")
  if not facts_text then
    return nil
  end
  local facts = {}
  for fact in facts_text:gmatch("[^;]+") do
    local key, value = fact:match("^([^=]+)=(.*)$")
    if key then
      facts[key:lower()] = value
    end
  end
  return name, facts
end

-- The entry of one MLSD line's name and facts (keys lower case, as from
-- ftp:mlsd).
function list_lines.from_facts(name, facts, raw)
  local kind, target = mlsx_type(facts.type or "unknown")
  local entry = {
    name = name, type = kind, target = target, size = int(facts.size or facts.sizd),
    modify = mlsx_time(facts.modify), perm = facts.perm, raw = raw,
  }
  if entry.modify then
    entry.precision = 1
  end
  if facts["unix.mode"] then
    entry.mode = int(facts["unix.mode"]:match("^0*(%d+)$") and tonumber(facts["unix.mode"], 8))
  end
  return entry
end

-- Facts of an MLSD line that are not kept in its entry: read again from raw.
local mlsx_extras = {
  __index = function(entry, key)
    if key == "unique" or key == "mode" then
      local name, facts = list_lines.mlsx(rawget(entry, "raw"))
      if not name then
        return nil
      elseif key == "unique" then
        return facts.unique
      end
      return list_lines.from_facts(name, facts).mode
    end
  end,
}

-- The entry of one MLSD line, raw being the line itself; nil for a line
-- without the "facts name" form.
function list_lines.mlsx_entry(line)
  local name, facts = list_lines.mlsx(line)
  if not name then
    return nil
  end
  local full = list_lines.from_facts(name, facts)
  return setmetatable({
    name = name, type = full.type, size = full.size, modify = full.modify,
    precision = full.precision, perm = full.perm, raw = line, target = full.target,
  }, mlsx_extras)
end

list_lines.exports = {
  add_list_parser = list_lines.add_parser,
  parse_list_line = parse_list_line,
}

return list_lines
