-- Rewrites the file lists of rockspec/ftplib-scm-1.rockspec from the working tree:
-- the lines between "-- files: <what>" and "-- end files" markers.
-- Usage (from the repository root): lua5.4 scripts/update-rockspec.lua  (or `make rockspec`)
local lfs = require "lfs"

local ROCKSPEC = "rockspec/ftplib-scm-1.rockspec"

local function files_in(dir, suffix)
  local found = {}
  if lfs.attributes(dir, "mode") ~= "directory" then return found end
  for name in lfs.dir(dir) do
    local path = dir .. "/" .. name
    if lfs.attributes(path, "mode") == "file" and (suffix == "" or name:sub(-#suffix) == suffix)
    then
      found[#found + 1] = path
    end
  end
  table.sort(found)
  return found
end

-- What goes between each pair of markers, given the indentation of the marker line.
local generators = {
  ["lua/ftplib/*.lua"] = function(indent)
    local lines = {}
    for _, path in ipairs(files_in("lua/ftplib", ".lua")) do
      local name = path:match("([^/]+)%.lua$")
      lines[#lines + 1] = ('%s["ftplib.%s"] = "%s",'):format(indent, name, path)
    end
    return lines
  end,
  ["src/*.c"] = function(indent)
    local lines = {}
    for _, path in ipairs(files_in("src", ".c")) do
      lines[#lines + 1] = ('%s"%s",'):format(indent, path)
    end
    return lines
  end,
  ["bin/*"] = function(indent)
    local lines = {}
    for _, path in ipairs(files_in("bin", "")) do
      lines[#lines + 1] = ('%s["%s"] = "%s",'):format(indent, path:match("[^/]+$"), path)
    end
    return lines
  end,
}

local input = assert(io.open(ROCKSPEC, "r"))
local out, skipping = {}, false
for line in input:lines() do
  local indent, what = line:match("^(%s*)%-%- files: (%S+)%s*$")
  if what then
    local generate = assert(generators[what], "unknown file list: " .. what)
    out[#out + 1] = line
    for _, generated in ipairs(generate(indent)) do out[#out + 1] = generated end
    skipping = true
  elseif line:match("^%s*%-%- end files%s*$") then
    out[#out + 1] = line
    skipping = false
  elseif not skipping then
    out[#out + 1] = line
  end
end
input:close()
assert(not skipping, "unterminated '-- files:' block in " .. ROCKSPEC)

local output = assert(io.open(ROCKSPEC, "w"))
output:write(table.concat(out, "\n"), "\n")
output:close()
