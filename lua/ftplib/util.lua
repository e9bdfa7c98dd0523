-- Small shared helpers: argument checks, errors raised at the caller's line,
-- and UTC time arithmetic.
local util = {}

-- Library frames are skipped so that a programming error points at the
-- user's line, however deep inside the library it was found.
local function is_library_frame(info)
  return info.what == "C"
    or info.source:find("[/\\@]ftplib%.lua$")
    or info.source:find("[/\\@]ftplib[/\\][%w_]+%.lua$")
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
function util.raise(msg)
  error("ftplib: " .. msg, user_level())
end

-- Checks that value is of one of the given types (a "|"-separated list).
function util.check(fname, argn, value, types)
  local actual = type(value)
  for t in types:gmatch("[^|]+") do
    if actual == t then
      return value
    end
  end
  util.raise(string.format("bad argument #%d to '%s' (%s expected, got %s)",
    argn, fname, types:gsub("|", " or "), actual))
end

-- Checks an options table (argument argn of fname) against {key = types}:
-- an unknown or mistyped option raises instead of being ignored.
function util.check_options(fname, argn, opts, option_types)
  opts = util.check(fname, argn, opts or {}, "table")
  for key, value in pairs(opts) do
    local types = option_types[key]
    if not types then
      util.raise(string.format("unknown option '%s' to '%s'", tostring(key), fname))
    end
    util.check(fname, argn, value, types)
  end
  return opts
end

-- Checks a command or an argument bound for the control connection: a CR,
-- LF or NUL would end the line early and smuggle in a command of the
-- server's choosing. Raised before anything is sent.
function util.check_line(fname, argn, text)
  util.check(fname, argn, text, "string")
  if text:find("[\r\n%z]") then
    util.raise("command contains CR, LF or NUL")
  end
  return text
end

-- A module loaded on first use, for dependencies only some helpers have:
-- `local lfs = util.lazy_require("lfs", "ftp:mirror needs LuaFileSystem")`. A script
-- that never reaches such a helper does not need the module installed; one that does
-- gets `needed_by` and require's reason, raised at the script's own line.
function util.lazy_require(name, needed_by)
  local module
  return setmetatable({}, {
    __index = function(_, key)
      if module == nil then
        local ok, loaded = pcall(require, name)
        if not ok then
          util.raise(needed_by .. " (" .. tostring(loaded):match("^[^\n]*"):gsub(":$", "") .. ")")
        end
        module = loaded
      end
      return module[key]
    end,
  })
end

local escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\" }

-- One printable line for debug output, whatever bytes the server sent.
function util.escape(text)
  return (text:gsub("[%c\\]", function(c)
    return escapes[c] or string.format("\\x%02x", c:byte())
  end))
end

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
-- days_from_civil). os.time would apply the local time zone.
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

function util.timegm(y, m, d, hh, mm, ss)
  return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss
end

return util
