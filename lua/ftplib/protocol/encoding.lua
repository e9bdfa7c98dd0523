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
--   indices of the raw lines (absent when every line decoded).
-- * Raw bytes may happen to be valid UTF-8 (a name a UTF-8 client made on a
--   GBK server): converted on the way out, they would name another file. So
--   the names of the session's listings kept raw are remembered
--   (_remember_raw, up to RAW_NAMES_MAX), and a command's path goes out name
--   by name: a name remembered as raw as it came, the others converted.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

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
    checks.raise(string.format("unknown encoding '%s' (not an iconv name): %s",
      name, tostring(encoder or decoder)))
  end
  self._encoder, self._decoder = encoder, decoder
end

-- How many raw names a session remembers (a hostile server could send
-- millions): past that, names are converted as any other.
local RAW_NAMES_MAX = 100000

-- Remembers a listed name kept as the server's bytes (see above).
function FTP:_remember_raw(name)
  local raw = self._raw_names
  if not raw then
    raw = { count = 0, names = {} }
    self._raw_names = raw
  end
  if not raw.names[name] and raw.count < RAW_NAMES_MAX then
    raw.names[name], raw.count = true, raw.count + 1
  end
end

-- One name of a path, or "-a name" (LIST's option and a name): as it came
-- when remembered raw, else converted.
local function convert_name(encoder, raw, name)
  local after_option = name:match("^%-%a+ (.+)$")
  if raw[name] or after_option and raw[after_option] or not name:find("[\128-\255]") then
    return name
  end
  return encoder:convert(name)
end

-- The argument of a command, converted name by name around remembered raw
-- names; all at once when there are none.
local function convert_argument(self, rest)
  local encoder, raw = self._encoder, self._raw_names
  if not raw then
    return encoder:convert(rest)
  end
  local out, start = {}, 1
  while start <= #rest + 1 do
    local slash = rest:find("/", start, true) or #rest + 1
    local converted, err = convert_name(encoder, raw.names, rest:sub(start, slash - 1))
    if not converted then
      return nil, err
    end
    out[#out + 1] = converted
    start = slash + 1
  end
  return table.concat(out, "/")
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
  local converted, err = convert_argument(self, rest)
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

-- Login's last step (control.lua's FTP:login): names in UTF-8 when the
-- server offers it and no other encoding is set. true, or nil, msg, code.
function FTP:_negotiate_names()
  if self.encoding == nil or is_utf8(self.encoding) then
    return ask_for_utf8(self)
  end
  return true
end

encoding.FTP = FTP

return encoding
