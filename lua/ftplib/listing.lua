-- Directory listings as the server gives them: nlst, dir and mlsd.
local core = require "ftplib.core"
local util = require "ftplib.util"

local FTP = core.FTP_methods

local function with_path(verb, path)
  if path == nil or path == "" then
    return verb
  end
  return verb .. " " .. path
end

-- A listing is held whole in memory: past this many bytes (maxlisting
-- option) a server sending without end is cut off. A million LIST lines of
-- about 64 bytes fit.
local DEFAULT_MAXLISTING = 64 * 1024 * 1024

-- Every line of a listing command, in a table. Over maxlisting bytes (line
-- ends counted as one byte), the transfer is aborted and the answer is
-- nil, msg, "limit"; the session stays in step.
function FTP:_listing_lines(cmd)
  local lines, size = {}, 0
  local maxlisting = self.maxlisting or DEFAULT_MAXLISTING
  local text, err, code = self:retrlines(cmd, function(line)
    size = size + #line + 1
    if size > maxlisting then
      return false
    end
    lines[#lines + 1] = line
  end)
  if size > maxlisting then
    return nil, string.format("listing over maxlisting (%d bytes)", maxlisting), "limit"
  end
  if not text then
    return nil, err, code
  end
  return self:_decode_lines(lines) -- names from the server's encoding (encoding.lua)
end

-- An empty directory gives {}: servers say so with an empty listing or
-- with a 450/550 "no files found".
function FTP:nlst(path)
  util.check("nlst", 1, path, "string|nil")
  local lines, err, code = self:_listing_lines(with_path("NLST", path))
  if not lines and (code == 450 or code == 550) then
    return {}
  end
  return lines, err, code
end

function FTP:dir(path, callback)
  if type(path) == "function" then
    path, callback = nil, path
  end
  util.check("dir", 1, path, "string|nil")
  util.check("dir", 2, callback, "function|nil")
  return self:retrlines(with_path("LIST", path), self:_decoding(callback or print))
end

-- "fact=value;fact=value; name": facts have no spaces, so the name is
-- everything after the first space and may hold spaces and semicolons.
local function parse_mlsx(line)
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

-- for name, facts in ftp:mlsd(path, {"type", "size"}) do ... end
function FTP:mlsd(path, facts)
  util.check("mlsd", 1, path, "string|nil")
  util.check("mlsd", 2, facts, "table|nil")
  if facts and #facts > 0 then
    -- Servers that ignore OPTS MLST still list their default facts.
    self:sendcmd("OPTS MLST " .. table.concat(facts, ";") .. ";")
  end
  local lines, err, code = self:_listing_lines(with_path("MLSD", path))
  if not lines then
    return nil, err, code
  end
  local i = 0
  return function()
    while i < #lines do
      i = i + 1
      local name, entry = parse_mlsx(lines[i])
      if name then
        return name, entry
      end
    end
    return nil
  end
end

return { with_path = with_path }
