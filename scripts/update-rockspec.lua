-- Rewrites the file lists of every rockspec/*.rockspec (the scm one and the release)
-- from the working tree: the lines between "-- files: <what>" and "-- end files" markers.
-- Usage (from the repository root): lua5.4 scripts/update-rockspec.lua  (or `make rockspec`)
local lfs = require "lfs"

local ROCKSPEC_DIR = "rockspec"

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

-- The .lua files under dir, its layer folders (lua/ftplib/protocol/, ...) included.
local function lua_files_under(dir)
  local found = files_in(dir, ".lua")
  for name in lfs.dir(dir) do
    local path = dir .. "/" .. name
    if name:sub(1, 1) ~= "." and lfs.attributes(path, "mode") == "directory" then
      local below = lua_files_under(path)
      table.move(below, 1, #below, #found + 1, found)
    end
  end
  table.sort(found)
  return found
end

-- What goes between each pair of markers, given the indentation of the marker line.
local generators = {
  -- lua/ftplib/a/b.lua is the module ftplib.a.b.
  ["lua/ftplib/**.lua"] = function(indent)
    local lines = {}
    for _, path in ipairs(lua_files_under("lua/ftplib")) do
      local name = path:match("^lua/(.*)%.lua$"):gsub("/", ".")
      lines[#lines + 1] = ('%s["%s"] = "%s",'):format(indent, name, path)
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

-- The rockspec's text with each marked list generated anew.
local function rewrite(text, rockspec)
  local out, skipping = {}, false
  for line in text:gmatch("([^\n]*)\n") do
    local indent, what = line:match("^(%s*)%-%- files: (%S+)%s*$")
    if what then
      local generate = assert(generators[what], "unknown file list in " .. rockspec .. ": " .. what)
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
  assert(not skipping, "unterminated '-- files:' block in " .. rockspec)
  return table.concat(out, "\n") .. "\n"
end

for _, rockspec in ipairs(files_in(ROCKSPEC_DIR, ".rockspec")) do
  local input = assert(io.open(rockspec, "r"))
  local text = input:read("a")
  input:close()
  if text:sub(-1) ~= "\n" then text = text .. "\n" end
  local output = assert(io.open(rockspec, "w"))
  output:write(rewrite(text, rockspec))
  output:close()
end
