-- The single-reply commands: directories, names, sizes, times, features.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
local utc = require "ftplib.base.utc"
local control = require "ftplib.protocol.control"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)
local only_2xx = control.only_2xx

--- FTP methods: single-reply commands.
-- @classmod FTP

--- Folders, files and features.
-- @section files

-- Checked before any command goes out (size sends TYPE first), so that a
-- name putcmd would refuse sets nothing up.
local function check_name(fname, name)
  return checks.check_line(fname, 1, name)
end

-- A 257 reply's quoted path (pwd, mkd).
local function quoted_path(code, text, errcode)
  if not code or code ~= 257 then
    return only_2xx(code, text, errcode)
  end
  local path, err = core.parse_quoted(text)
  if not path then
    return nil, err .. ": " .. text, "proto"
  end
  return path
end

-- The answer is kept in self._folder until a command that may change the
-- folder goes out (putcmd and connect clear it): see _pwd_cached.

--- The current folder (PWD).
-- @treturn string its path, from the 257 reply
-- @return[2] `nil, message, code`; `"proto"` when the 257 reply holds no quoted path
function FTP:pwd()
  local folder, err, code = quoted_path(self:_cmd("PWD"))
  self._folder = folder
  return folder, err, code
end

-- The current folder without a round trip when PWD already told it since
-- the last CWD, CDUP, USER or REIN (retries and mirrors ask once per file).
function FTP:_pwd_cached()
  if self._folder then
    return self._folder
  end
  return self:pwd()
end

--- Changes the current folder (CWD). `".."` sends CDUP (CWD .. where CDUP is
-- unknown); `""` is `"."`.
-- @tparam string dir
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` (550 for a missing folder) or `nil, message, code`
function FTP:cwd(dir)
  check_name("cwd", dir)
  if dir == ".." then
    local code, text, errcode = self:_cmd("CDUP")
    if code ~= 500 then -- 500: CDUP unknown, fall back to CWD ..
      return only_2xx(code, text, errcode)
    end
  elseif dir == "" then
    dir = "."
  end
  return self:voidcmd("CWD " .. dir)
end

-- The created directory's path from the 257 reply, or dir as given when the
-- reply names none: another 2xx code, or a 257 without a quoted path
-- (busybox's "257 Operation successful", aioftp's "257 "), as Python's
-- ftplib, lftp and curl take it. The folder was made either way.

--- Makes a folder (MKD).
-- @tparam string dir
-- @treturn string the new folder's path from the 257 reply, or `dir` as given when the
-- reply names none
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:mkd(dir)
  check_name("mkd", dir)
  local code, text, errcode = self:_cmd("MKD " .. dir)
  if code and code // 100 == 2 then
    local path = code == 257 and core.parse_quoted(text)
    return path or dir
  end
  return quoted_path(code, text, errcode)
end

--- Removes a folder (RMD).
-- @tparam string dir
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:rmd(dir)
  return self:voidcmd("RMD " .. check_name("rmd", dir))
end

--- Deletes a file (DELE).
-- @tparam string name
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:delete(name)
  return self:voidcmd("DELE " .. check_name("delete", name))
end

--- Renames a file or folder (RNFR, which must answer 350, then RNTO).
-- @tparam string from
-- @tparam string to
-- @treturn string RNTO's reply text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:rename(from, to)
  check_name("rename", from)
  checks.check("rename", 2, to, "string")
  local code, text, errcode = self:_cmd("RNFR " .. from)
  if code and code ~= 350 then
    return nil, text, code
  elseif not code then
    return nil, text, errcode
  end
  return self:voidcmd("RNTO " .. to)
end

--- Sends NOOP: keeps the connection alive, checks that the server answers.
-- @treturn string the reply's text
-- @treturn integer its code (200)
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:noop()
  return self:voidcmd("NOOP")
end

-- Sends TYPE only when it changes: each TYPE costs a round trip.
function FTP:_settype(kind)
  if self._type == kind then
    return true
  end
  local text, code, errcode = self:voidcmd("TYPE " .. kind)
  if not text then
    return nil, code, errcode
  end
  self._type = kind
  return true
end

-- The number in a 213 reply (SIZE, MDTM).
local function reply_213(pattern, code, text, errcode)
  if not code then
    return nil, text, errcode
  end
  if code ~= 213 then
    if code >= 400 then
      return nil, text, code
    end
    return nil, "unexpected reply: " .. text, "proto"
  end
  local value = text:match(pattern)
  if not value then
    return nil, "malformed 213 reply: " .. text, "proto"
  end
  return value
end

-- Binary type first: servers refuse SIZE in ASCII mode or count line ends.

--- A file's size in bytes (SIZE, after TYPE I when the type was another).
-- @tparam string name
-- @treturn integer the size
-- @return[2] `nil, text, code` (550: no such file, or no SIZE for it; 500-502: no
-- SIZE command) or `nil, message, code` (`"proto"`: not a 213 reply with a number)
function FTP:size(name)
  check_name("size", name)
  local ok, err, errcode = self:_settype("I")
  if not ok then
    return nil, err, errcode
  end
  local digits, text, code = reply_213("^213%s+(%d+)", self:_cmd("SIZE " .. name))
  if not digits then
    return nil, text, code
  end
  return math.tointeger(tonumber(digits)) or tonumber(digits)
end

--- A file's modification time (MDTM).
-- @tparam string name
-- @treturn integer epoch seconds, UTC
-- @return[2] `nil, text, code` or `nil, message, code` (`"proto"`: not a 213 reply
-- with a `YYYYMMDDHHMMSS` time)
function FTP:mdtm(name)
  check_name("mdtm", name)
  local stamp, text, code = reply_213("^213%s+(%d+)", self:_cmd("MDTM " .. name))
  if not stamp then
    return nil, text, code
  end
  local y, mo, d, h, mi, s = stamp:match("^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)$")
  if not y then
    return nil, "malformed MDTM time: " .. stamp, "proto"
  end
  return utc.timegm(tonumber(y), tonumber(mo), tonumber(d), tonumber(h),
    tonumber(mi), tonumber(s))
end

-- FEAT lines between the first and the last: " NAME params".
local function parse_features(text)
  local features = {}
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    lines[#lines + 1] = line
  end
  for i = 2, #lines - 1 do
    local name, params = lines[i]:match("^%s*(%S+)%s*(.-)%s*$")
    if name then
      features[name:upper()] = params ~= "" and params or true
    end
  end
  return features
end

-- A server without FEAT (5xx) has no features: an empty table, not an error.

--- The server's features (FEAT), also kept for the session (@{helpers.list|FTP:list} and the
-- helpers use them).
-- @treturn table feature names in upper case, each with its parameters (a string) or
-- `true`: `{MLST = "type*;size*;modify*;", UTF8 = true, ...}`; `{}` from a server
-- without FEAT (a 5xx reply)
-- @return[2] `nil, text, code` or `nil, message, code`
function FTP:feat()
  local code, text, errcode = self:_cmd("FEAT")
  if not code then
    return nil, text, errcode
  end
  if code == 211 then
    self.features = parse_features(text)
  elseif code >= 500 then
    self.features = {}
  else
    return nil, text, code
  end
  return self.features
end

-- The FEAT answer, asked once per connection (connect clears it): the
-- features, or {}, msg, code when FEAT failed (a refused FEAT is {}).
function FTP:_features()
  if self.features then
    return self.features
  end
  local features, err, code = self:feat()
  if not features then
    return {}, err, code
  end
  return features
end

return { FTP = FTP }
