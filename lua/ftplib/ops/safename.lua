-- Containment: the one place where a name a server listed becomes part of a
-- path. walk rejects the entries whose names fail safename.check, and mirror,
-- download_many and the examples build every local path they write, rename
-- or delete with safename.join, so that no listing can reach outside the
-- folder it was given.
local checks = require "ftplib.base.checks"

local safename = {}

--- Helpers: the containment check.
-- @module helpers

--- Local paths.
-- @section paths

-- Why a name cannot stand for one entry of a folder, or nil when it can.
-- "..", "." and "" name other folders (or this one); a separator (a slash,
-- or a backslash, which is one for Windows and for some servers) would make
-- one name several; control bytes (NUL, CR, LF, escapes) cut paths and
-- command lines short and rewrite terminals.
local function flaw(name)
  if type(name) ~= "string" then
    return "no name"
  elseif name == "" then
    return "empty name"
  elseif name == "." or name == ".." then
    return "the name " .. name
  elseif name:find("[/\\]") then
    return "a separator in the name"
  elseif name:find("%c") then
    return "a control character in the name"
  end
  return nil
end

-- name, or nil and why it is refused.
function safename.check(name)
  local why = flaw(name)
  if why then
    return nil, why
  end
  return name
end

-- root .. "/" .. rel for rel made of names that pass check, joined by "/"
-- (rel "" is root itself); nil and why otherwise. The result lies inside root
-- whatever root is: no part of rel can climb out of it.

--- Joins a relative path from a server to a local folder, or refuses it: the check the
-- helpers make for every name a server lists. The result lies inside `root` whatever
-- `relative` holds.
-- @function ftplib.safe_join
-- @tparam string root the local folder
-- @tparam string relative plain names joined by `/`: no empty name, `.`, `..`,
-- backslash or control character
-- @treturn string `root .. "/" .. relative` (`root` itself for `""`)
-- @return[2] `nil, reason` (`"the name .."`, `"a separator in the name"`, ...)
-- @usage local path, why = ftplib.safe_join("mirror", name)
-- if not path then print("skipped " .. name .. ": " .. why) end
function safename.join(root, rel)
  if type(rel) ~= "string" then
    return nil, "no name"
  end
  if rel == "" then
    return root
  end
  local count = 0
  for part in (rel .. "/"):gmatch("([^/]*)/") do
    local why = flaw(part)
    if why then
      return nil, why
    end
    count = count + 1
  end
  if count == 0 then
    return nil, "empty name"
  end
  if root == "" then
    return rel
  end
  return (root:sub(-1) == "/" and root or root .. "/") .. rel
end

-- A name as a report shows it: as it is, or with its control bytes escaped
-- (\r, \x1b, ...) when it has any, so that no report rewrites a terminal.
function safename.shown(name)
  name = tostring(name)
  if name:find("%c") then
    return checks.escape(name)
  end
  return name
end

safename.exports = { safe_join = safename.join }

return safename
