-- What servers say of a file's digest: the algorithms FEAT's HASH line offers,
-- and the replies of HASH (draft-bryan-ftpext-hash) and of the older XSHA512,
-- XSHA256, XSHA1, XSHA, XMD5 and XCRC. Pure functions: text in, values out,
-- never a raise for what a server sent.
local digest_reply = {}

-- The algorithms, strongest first: the name the library uses (core.file_digest's),
-- HASH's name for it, the X commands that answer it, and its length in hex digits.
digest_reply.ALGORITHMS = {
  { name = "sha512", hash = "SHA-512", commands = { "XSHA512" }, hex = 128 },
  { name = "sha256", hash = "SHA-256", commands = { "XSHA256" }, hex = 64 },
  { name = "sha1", hash = "SHA-1", commands = { "XSHA1", "XSHA" }, hex = 40 },
  { name = "md5", hash = "MD5", commands = { "XMD5" }, hex = 32 },
  { name = "crc32", hash = "CRC32", commands = { "XCRC" }, hex = 8 },
}

local by_name = {}
for _, algorithm in ipairs(digest_reply.ALGORITHMS) do
  by_name[algorithm.name] = algorithm
end

-- The algorithm named `name` (the library's name), or nil.
function digest_reply.algorithm(name)
  return by_name[name]
end

-- The library's name for one of HASH's ("SHA-256", "sha256", "Sha-1"), or nil
-- for an algorithm it has no local digest of.
function digest_reply.from_hash_name(hash_name)
  local name = hash_name:lower():gsub("%-", "")
  return by_name[name] and name or nil
end

-- FEAT's "HASH CRC32;MD5;SHA-1*;SHA-256;" parameters: {name = true} for the
-- algorithms offered that the library knows, and the one marked with "*" (the
-- server's current choice), or nil.
function digest_reply.hash_feature(params)
  local offered, selected = {}, nil
  if type(params) ~= "string" then
    return offered, nil
  end
  for item in params:gmatch("[^;%s]+") do
    local hash_name, star = item:match("^([^*]+)(%*?)$")
    local name = hash_name and digest_reply.from_hash_name(hash_name)
    if name then
      offered[name] = true
      if star == "*" then
        selected = name
      end
    end
  end
  return offered, selected
end

-- The last line of a reply's text (a multi-line 213 starts with a "213-" line
-- saying what it computes).
local function last_line(text)
  return text:match("([^\n]*)\n?$") or text
end

-- hex checked to be `algorithm`'s digest: lower case, or nil and why not.
local function checked_hex(hex, algorithm)
  if #hex ~= algorithm.hex or hex:find("%X") then
    return nil, string.format("not a %s digest (%d hex digits expected)", algorithm.name,
      algorithm.hex)
  end
  return hex:lower()
end

-- A HASH reply's last line, "213 SHA-256 0-1024 <hex> <name>": the digest in
-- lower case and the range's end (an integer), or nil and why the reply is
-- unusable (and, for a digest of another algorithm the library knows, that
-- one's name). Only a digest of `algorithm` from byte 0 can be the whole
-- file's; whether the end is the file's end, the caller knows (covers_file).
function digest_reply.parse_hash(text, algorithm)
  local hash_name, first, last, hex = last_line(text):match(
    "^213 +(%S+) +(%d+)%-(%d+) +(%S+)")
  if not hash_name then
    return nil, "not a HASH reply (213 algorithm start-end digest name)"
  end
  local named = digest_reply.from_hash_name(hash_name)
  if named ~= algorithm.name then
    return nil, "a digest of another algorithm than " .. algorithm.hash, named
  elseif first:find("[^0]") then
    return nil, "a digest of part of the file (from byte " .. first .. ")"
  end
  local range_end = #last <= 18 and math.tointeger(tonumber(last)) or nil
  if not range_end then
    return nil, "a range end past any file size (" .. last:sub(1, 30) .. ")"
  end
  local digest, why = checked_hex(hex, algorithm)
  if not digest then
    return nil, why
  end
  return digest, range_end
end

-- Whether a HASH range from byte 0 to range_end covers a file of `size`
-- bytes. The draft leaves open whether the end is the last byte's offset or
-- the size: proftpd's mod_digest writes the size ("0-0" for an empty file),
-- a last-byte offset is size - 1; both are taken, nothing shorter or longer.
function digest_reply.covers_file(range_end, size)
  return range_end == size or range_end == size - 1
end

-- A word of an X command's reply as a digest: without a "0x" before it or
-- punctuation after it, lower case; nil when it is no hex.
local function hex_word(word)
  word = word:gsub("^0[xX]", ""):gsub("[.,;:]+$", "")
  if word == "" or word:find("%X") then
    return nil
  end
  return word:lower()
end

-- An X command's 2xx reply: the digest in lower case, or nil and why not.
-- The digest is the word of the last line that is hex of the algorithm's
-- length, wherever it stands: "250 <HEX>" (proftpd), "213 <hex> <name>",
-- "250 MD5 of file is <hex>" (older servers). A CRC-32 of fewer digits is one
-- printed without its leading zeros, taken only when it is the one hex word.
function digest_reply.parse_x(text, algorithm)
  local line = last_line(text)
  local words = line:match("^2%d%d +(.*)$")
  if not words then
    return nil, "no digest in the reply"
  end
  local short
  for word in words:gmatch("%S+") do
    local hex = hex_word(word)
    if hex and #hex == algorithm.hex then
      return hex
    elseif hex and algorithm.name == "crc32" and #hex < 8 then
      short = short == nil and hex or false -- false: more than one
    end
  end
  if short then
    return string.rep("0", 8 - #short) .. short
  end
  return nil, string.format("no %s digest (%d hex digits) in the reply", algorithm.name,
    algorithm.hex)
end

return digest_reply
