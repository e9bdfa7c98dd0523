-- File names that are not UTF-8: opts.encoding = "gbk" (any iconv name)
-- converts command lines from the script's UTF-8 to the server's encoding,
-- and replies and listing lines back. Without it, names pass through as
-- bytes. After login the server is asked for UTF-8 (OPTS UTF8 ON) when its
-- FEAT offers UTF8, unless opts.encoding names another encoding.
--
-- What cannot be converted:
-- * An argument that is not valid UTF-8 goes out as the bytes given: a name
--   kept raw from a listing (below) can be sent back as it came.
-- * A valid UTF-8 name with a character the server's encoding lacks fails
--   the command before anything is sent: nil, message, "proto".
-- * A reply or listing line the server sent in bytes invalid in its
--   encoding is kept as those raw bytes, never dropped and never failing
--   the listing. nlst's table marks them: its field undecoded lists the
--   indices of the raw lines (absent when every line decoded). A converted
--   name is valid UTF-8, so utf8.len(name) == nil also tells a raw one.
local core = require "ftplib.core"
local util = require "ftplib.util"

local FTP = core.FTP_methods

local encoding = {}

-- Names under which iconv knows UTF-8: no conversion needed for these.
local function is_utf8(name)
  return name:upper():gsub("[-_]", "") == "UTF8"
end

-- Converters for opts.encoding. An unknown name is a programming error.
function FTP:_set_encoding(name)
  self.encoding, self._encoder, self._decoder = name, nil, nil
  if name == nil or is_utf8(name) then
    return
  end
  local ok, encoder = pcall(core.iconv_open, name, "UTF-8")
  local decoder
  if ok then
    ok, decoder = pcall(core.iconv_open, "UTF-8", name)
  end
  if not ok then
    util.raise(string.format("unknown encoding '%s' (not an iconv name): %s",
      name, tostring(encoder or decoder)))
  end
  self._encoder, self._decoder = encoder, decoder
end

-- The command line as the server wants it: the verb (ASCII) as it is,
-- the rest converted.
function FTP:_to_server(line)
  local encoder = self._encoder
  if not encoder then
    return line
  end
  local verb, rest = line:match("^(%s*%S+%s?)(.*)$")
  if not verb or not rest:find("[\128-\255]") or not utf8.len(rest) then
    return line -- ASCII, or raw bytes meant as they are
  end
  local converted, err = encoder:convert(rest)
  if not converted then
    return nil, string.format("%s: name not representable in %s (%s)",
      verb:match("%S+"), self.encoding, err), "proto"
  end
  return verb .. converted
end

-- Text from the server in UTF-8, or as it came (and false) when it is not
-- valid in the server's encoding.
function FTP:_from_server(text)
  local decoder = self._decoder
  if not decoder or not text:find("[\128-\255]") then
    return text, true -- ASCII reads the same in every encoding iconv offers here
  end
  local converted = decoder:convert(text)
  if not converted then
    self:_debug(1, "warn", "not valid " .. self.encoding .. ", kept as bytes: " .. text)
    return text, false
  end
  return converted, true
end

-- A retrlines callback that gets decoded listing lines.
function FTP:_decoding(callback)
  if not self._decoder then
    return callback
  end
  return function(line)
    return callback((self:_from_server(line)))
  end
end

-- FEAT once after login (ftp:_features, commands.lua: one FEAT per
-- connection), then OPTS UTF8 ON when the server offers UTF8. A refused FEAT
-- or OPTS is of no consequence; only a lost connection fails the login.
local function ask_for_utf8(self)
  local features, err, code = self:_features()
  if err and math.type(code) ~= "integer" then
    return nil, err, code
  end
  if features.UTF8 then
    local rcode, text, errcode = self:_cmd("OPTS UTF8 ON")
    if not rcode then
      return nil, text, errcode
    end
  end
  return true
end

-- Wraps the login of control.lua (and tls.lua's around it).
local plain_login = FTP.login
function FTP:login(...)
  local text, code, errcode = plain_login(self, ...)
  if text and (self.encoding == nil or is_utf8(self.encoding)) then
    local ok, err, ecode = ask_for_utf8(self)
    if not ok then
      return nil, err, ecode
    end
  end
  return text, code, errcode
end

return encoding
