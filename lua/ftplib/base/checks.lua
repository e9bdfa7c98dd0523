-- Programming errors raised at the caller's line, the argument checks that
-- raise them, modules loaded on first use, and server text made printable
-- for messages.
local checks = {}

-- Library frames are skipped so that a programming error points at the
-- user's line, however deep inside the library it was found.
-- The library is lua/ftplib.lua and the files of lua/ftplib/ and of its
-- layer folders (lua/ftplib/protocol/, ...), one level down.
local function is_library_frame(info)
  local source = info.source
  return info.what == "C"
    or source:find("[/\\@]ftplib%.lua$")
    or source:find("[/\\@]ftplib[/\\][%w_]+%.lua$")
    or source:find("[/\\@]ftplib[/\\][%w_]+[/\\][%w_]+%.lua$")
end

local function user_level()
  local level = 3
  while true do
    local info = debug.getinfo(level, "S")
    if not info then
      return 0
    end
    if not is_library_frame(info) then
      return level - 1
    end
    level = level + 1
  end
end

-- Raises msg as a programming error at the first caller outside the library.
function checks.raise(msg)
  error("ftplib: " .. msg, user_level())
end

-- Checks that value is of one of the given types (a "|"-separated list).
function checks.check(fname, argn, value, types)
  local actual = type(value)
  if actual == types then -- the common case, without the pattern's iterator
    return value
  end
  for t in types:gmatch("[^|]+") do
    if actual == t then
      return value
    end
  end
  checks.raise(string.format("bad argument #%d to '%s' (%s expected, got %s)",
    argn, fname, types:gsub("|", " or "), actual))
end

-- Checks an options table (argument argn of fname) against {key = types}:
-- an unknown or mistyped option raises instead of being ignored.
function checks.check_options(fname, argn, opts, option_types)
  opts = checks.check(fname, argn, opts or {}, "table")
  for key, value in pairs(opts) do
    local types = option_types[key]
    if not types then
      checks.raise(string.format("unknown option '%s' to '%s'", tostring(key), fname))
    end
    checks.check(fname, argn, value, types)
  end
  return opts
end

-- Checks a transfer's rate_limit option: nil (none) or bytes a second,
-- 1 or more and finite. Returns it.
function checks.check_rate(fname, rate)
  if rate ~= nil and not (rate >= 1 and rate < math.huge) then
    checks.raise(("bad option 'rate_limit' to '%s' (bytes a second, 1 or more, expected)")
      :format(fname))
  end
  return rate
end

-- Checks a command or an argument bound for the control connection: a CR,
-- LF or NUL would end the line early and smuggle in a command of the
-- server's choosing. Raised before anything is sent.
function checks.check_line(fname, argn, text)
  checks.check(fname, argn, text, "string")
  if text:find("[\r\n%z]") then
    checks.raise("command contains CR, LF or NUL")
  end
  return text
end

-- A module loaded on first use, for dependencies only some helpers have:
-- `local lfs = checks.lazy_require("lfs", "ftp:mirror needs LuaFileSystem")`. A script
-- that never reaches such a helper does not need the module installed; one that does
-- gets `needed_by` and require's reason, raised at the script's own line.
function checks.lazy_require(name, needed_by)
  local module
  return setmetatable({}, {
    __index = function(_, key)
      if module == nil then
        local ok, loaded = pcall(require, name)
        if not ok then
          checks.raise(needed_by .. " (" .. tostring(loaded):match("^[^\n]*"):gsub(":$", "") .. ")")
        end
        module = loaded
      end
      return module[key]
    end,
  })
end

local escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\" }

-- One printable line for debug output, whatever bytes the server sent.
function checks.escape(text)
  return (text:gsub("[%c\\]", function(c)
    return escapes[c] or string.format("\\x%02x", c:byte())
  end))
end

return checks
