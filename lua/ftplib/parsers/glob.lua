-- Glob patterns compiled to a matcher that runs in bounded time: `*` (any
-- run of bytes but `/`), `?` (one byte but `/`), `**` (any run, `/`
-- included; `**/` also matches nothing, so `a/**/b` matches `a/b`), and `\`
-- making the next byte literal (`\*` matches a file named `*`). Every other
-- byte is itself: `[`, `]`, `%`, `.`, `(` and the like have no meaning here
-- (no character classes), so a name that looks like a glob or a Lua pattern
-- is matched as text.
--
-- Why not Lua patterns or a backtracking matcher: a hostile or careless
-- pattern (`*a*a*a*a*b` against a long name of `a`s) takes exponential or
-- high-polynomial time there. This one simulates the pattern as a set of
-- positions (a Thompson NFA): each byte of the subject is read once, and the
-- work per byte is at most the pattern's length: O(#subject * #pattern).
-- Pure: no I/O, no error for any subject.
local glob = {}

-- The longest pattern compiled: matching costs up to its length per byte.
glob.MAX_PATTERN = 4096

local SLASH = 47 -- "/"

-- Token kinds. `**/` is SKIP, GLOBSTAR, LIT "/": SKIP leads both into the
-- GLOBSTAR and past the three (matching nothing).
local LIT, ONE, STAR, GLOBSTAR, SKIP = 1, 2, 3, 4, 5

-- The tokens of pattern: {kind, byte} pairs in two arrays.
local function tokenize(pattern)
  local kinds, bytes = {}, {}
  local i, n = 1, #pattern
  local function add(kind, byte)
    -- `***` is `**`; `**` then `*` is `**`: collapsing keeps the set small.
    local last = kinds[#kinds]
    if kind == SKIP or kind == GLOBSTAR and last == SKIP then
      kinds[#kinds + 1] = kind
      return
    elseif (kind == STAR or kind == GLOBSTAR) and (last == STAR or last == GLOBSTAR) then
      if kind == GLOBSTAR then kinds[#kinds] = GLOBSTAR end
      return
    end
    kinds[#kinds + 1], bytes[#kinds + 1] = kind, byte
  end
  while i <= n do
    local c = pattern:byte(i)
    if c == 92 and i < n then -- "\": the next byte as itself
      add(LIT, pattern:byte(i + 1))
      i = i + 2
    elseif c == 42 and pattern:byte(i + 1) == 42 then -- "**"
      if pattern:byte(i + 2) == SLASH and (i == 1 or pattern:byte(i - 1) == SLASH) then
        add(SKIP)
        add(GLOBSTAR)
        add(LIT, SLASH)
        i = i + 3
      else
        add(GLOBSTAR)
        i = i + 2
      end
    elseif c == 42 then
      add(STAR)
      i = i + 1
    elseif c == 63 then -- "?"
      add(ONE)
      i = i + 1
    else
      add(LIT, c)
      i = i + 1
    end
  end
  return kinds, bytes
end

-- A literal pattern's text, or nil when it has a wildcard.
local function literal_text(kinds, bytes)
  local chars = {}
  for i, kind in ipairs(kinds) do
    if kind ~= LIT then
      return nil
    end
    chars[i] = string.char(bytes[i])
  end
  return table.concat(chars)
end

--- Compiles a glob: a matcher, or nil and why (a pattern longer than glob.MAX_PATTERN,
-- or not a string).
function glob.compile(pattern)
  if type(pattern) ~= "string" then
    return nil, "a glob must be a string"
  elseif #pattern > glob.MAX_PATTERN then
    return nil, "a glob longer than " .. glob.MAX_PATTERN .. " bytes"
  end
  local kinds, bytes = tokenize(pattern)
  return { pattern = pattern, kinds = kinds, bytes = bytes, n = #kinds,
    literal = literal_text(kinds, bytes) }
end

-- Adds state i to set (a list plus membership marks) with the states it
-- reaches matching nothing: past a `*` or `**`, and from a SKIP both ways.
local function add_state(m, set, mark, i)
  local pending = { i }
  while #pending > 0 do
    local j = table.remove(pending)
    if j <= m.n + 1 and not mark[j] then
      mark[j] = true
      local kind = m.kinds[j]
      if kind == SKIP then
        pending[#pending + 1] = j + 3
        pending[#pending + 1] = j + 1
      else
        set[#set + 1] = j
        if kind == STAR or kind == GLOBSTAR then
          pending[#pending + 1] = j + 1
        end
      end
    end
  end
end

-- The states after reading byte c from the states in set.
local function step(m, set, c)
  local next_set, mark = {}, {}
  for _, i in ipairs(set) do
    local kind = m.kinds[i]
    if kind == LIT then
      if m.bytes[i] == c then add_state(m, next_set, mark, i + 1) end
    elseif kind == ONE then
      if c ~= SLASH then add_state(m, next_set, mark, i + 1) end
    elseif kind == STAR then
      if c ~= SLASH then add_state(m, next_set, mark, i) end
    elseif kind == GLOBSTAR then
      add_state(m, next_set, mark, i)
    end
  end
  return next_set
end

-- The states before reading anything.
local function start(m)
  local set = {}
  add_state(m, set, {}, 1)
  return set
end

-- The states after reading all of text from set (an empty set: no match possible).
local function read(m, set, text)
  for k = 1, #text do
    if #set == 0 then
      break
    end
    set = step(m, set, text:byte(k))
  end
  return set
end

local function run(m, subject)
  return read(m, start(m), subject)
end

--- Whether the compiled glob m matches all of subject.
function glob.matches(m, subject)
  if m.literal then
    return subject == m.literal
  end
  for _, i in ipairs(run(m, subject)) do
    if i == m.n + 1 then
      return true
    end
  end
  return false
end

--- Whether m could match some path that starts with prefix (a folder's path
-- and "/"): false when nothing below that folder can match.
function glob.may_match_after(m, prefix)
  if m.literal then
    return m.literal:sub(1, #prefix) == prefix
  end
  return #run(m, prefix) > 0
end

-- Matching resumed where it stopped: a walk reads a folder's path once, and
-- then each entry's name only, however deep the folder. A state is a set of
-- positions written as text ("" when nothing can match any more): the same
-- set is the same short string, shared by every folder it is kept for.
local function encode(set)
  table.sort(set)
  return table.concat(set, ",")
end

local function decode(state)
  local set = {}
  for i in state:gmatch("%d+") do
    set[#set + 1] = tonumber(i)
  end
  return set
end

--- The state of m after reading text from state (nil: from the start).
function glob.resume(m, state, text)
  if state == "" then
    return ""
  end
  return encode(read(m, state == nil and start(m) or decode(state), text))
end

--- Whether m, in state (from glob.resume), has matched all it read.
function glob.accepts(m, state)
  return state:find("%f[%d]" .. (m.n + 1) .. "%f[^%d]") ~= nil
end

return glob
