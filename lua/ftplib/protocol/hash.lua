-- A remote file's digest: HASH (draft-bryan-ftpext-hash, with OPTS HASH to
-- choose the algorithm) where FEAT offers the algorithm there, else the older
-- XSHA512, XSHA256, XSHA1 (or XSHA), XMD5 or XCRC. What FEAT offers is read
-- once per FEAT answer (once per connection), with the algorithm HASH has
-- selected on the server, so that OPTS HASH goes out only to change it.
local checks = require "ftplib.base.checks"
local digest_reply = require "ftplib.parsers.digest_reply"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local ALGORITHMS = digest_reply.ALGORITHMS

-- Replies saying the server does not know the command (RFC 959) or the
-- parameter (504): FEAT promised more than the server does.
local UNKNOWN_COMMAND = { [500] = true, [502] = true, [504] = true }

-- The most of a reply a message quotes: a digest reply is one short line.
local QUOTE_MAX = 200

--- FTP methods: file digests.
-- @classmod FTP

--- File digests.
-- @section digests

-- What this session's FEAT offers: {features = the FEAT table it was read from,
-- hash = {algorithm = true} (HASH's list), selected = HASH's current algorithm,
-- x = {algorithm = "XSHA256", ...}}, or nil, msg, code when FEAT failed.
local function offers(self)
  local features, err, code = self:_features()
  if err then
    return nil, err, code
  end
  local state = self._hash_state
  if state and state.features == features then
    return state
  end
  local hash, selected = digest_reply.hash_feature(features.HASH)
  local x = {}
  for _, algorithm in ipairs(ALGORITHMS) do
    for _, command in ipairs(algorithm.commands) do
      if features[command] and not x[algorithm.name] then
        x[algorithm.name] = command
      end
    end
  end
  state = { features = features, hash = hash, selected = selected, x = x }
  self._hash_state = state
  return state
end

-- The algorithm names, for messages.
local function names()
  local list = {}
  for _, algorithm in ipairs(ALGORITHMS) do
    list[#list + 1] = algorithm.name
  end
  return table.concat(list, ", ")
end

-- The algorithm to use: `algo` when the server offers it, else (algo nil)
-- the strongest it offers; nil, msg, "unsupported" when there is none, or
-- nil, msg, code when FEAT failed. For download and upload's verify.
function FTP:_hash_algorithm(algo)
  local state, err, code = offers(self)
  if not state then
    return nil, err, code
  end
  for _, algorithm in ipairs(ALGORITHMS) do
    local name = algorithm.name
    if (algo == nil or algo == name) and (state.hash[name] or state.x[name]) then
      return name
    end
  end
  if algo then
    return nil, "the server offers no digest command for " .. algo .. " (FEAT lists neither "
      .. "it under HASH nor its X command)", "unsupported"
  end
  return nil, "the server offers no digest command (FEAT lists no HASH, XSHA256, XSHA1, "
    .. "XMD5 or XCRC)", "unsupported"
end

-- A reply's last line for a message: printable, at most QUOTE_MAX bytes.
local function quote(text)
  local line = text:match("([^\n]*)\n?$") or text
  if #line > QUOTE_MAX then
    line = line:sub(1, QUOTE_MAX) .. "..."
  end
  return checks.escape(line)
end

-- A failure for a reply that holds no usable digest.
local function malformed(command, why, text)
  return nil, string.format("malformed %s reply: %s: %s", command, why, quote(text)), "proto"
end

-- Sends `line` and answers its 2xx text, or nil, text, code (4xx, 5xx), or
-- nil, msg, "proto" for another reply.
local function reply_2xx(self, line)
  local code, text, errcode = self:_cmd(line)
  if not code then
    return nil, text, errcode
  elseif code >= 400 then
    return nil, text, code
  elseif code < 200 or code >= 300 then
    return nil, "unexpected reply to " .. line:match("^%S+") .. ": " .. quote(text), "proto"
  end
  return text
end

-- OPTS HASH, unless the server has `algorithm` selected already.
local function select_algorithm(self, state, algorithm)
  if state.selected == algorithm.name then
    return true
  end
  local text, err, code = reply_2xx(self, "OPTS HASH " .. algorithm.hash)
  if not text then
    return nil, err, code
  end
  state.selected = algorithm.name
  return true
end

-- HASH path with `algorithm` selected: {digest =, range_end =}, or nil,
-- msg, code and whether an X command may stand in (OPTS HASH refused, HASH
-- unknown). A reply naming another algorithm (a script sent its own OPTS HASH) gets one more
-- OPTS HASH and HASH.
local function by_hash(self, state, algorithm, path)
  for _ = 1, 2 do
    local ok, err, code = select_algorithm(self, state, algorithm)
    if not ok then
      return nil, err, code, math.type(code) == "integer"
    end
    local text
    text, err, code = reply_2xx(self, "HASH " .. path)
    if not text then
      return nil, err, code, UNKNOWN_COMMAND[code] ~= nil
    end
    local digest, detail, other = digest_reply.parse_hash(text, algorithm)
    if digest then
      return { digest = digest, range_end = detail }
    elseif not other then
      return malformed("HASH", detail, text)
    end
    state.selected = other -- the server has another selected: select again
  end
  return nil, "HASH answered with another algorithm than " .. algorithm.hash
    .. " after OPTS HASH " .. algorithm.hash, "proto"
end

local function by_x(self, command, algorithm, path)
  local text, err, code = reply_2xx(self, command .. " " .. path)
  if not text then
    return nil, err, code
  end
  local digest, why = digest_reply.parse_x(text, algorithm)
  if not digest then
    return malformed(command, why, text)
  end
  return digest
end

--- A remote file's digest, computed by the server: HASH where FEAT lists the
-- algorithm under HASH (OPTS HASH selects it first, once per session while it stays
-- selected), else its X command (XSHA512, XSHA256, XSHA1 or XSHA, XMD5, XCRC) when FEAT
-- lists that; HASH refused as unknown falls back to the X command. No data connection
-- is opened: the server reads the file itself (a big file takes it a while, within
-- the session's `timeout`).
-- @tparam string path the remote file
-- @tparam[opt] string algo `"sha512"`, `"sha256"`, `"sha1"`, `"md5"` or `"crc32"`;
-- default: the strongest the server offers, in that order
-- @treturn string the digest, in lower-case hex (CRC-32 as 8 digits, big-endian, as
-- zlib's `crc32` prints)
-- @treturn string the algorithm
-- @treturn[opt] integer HASH's range end (the server's words: the file's size, or its
-- last byte's offset; nil from an X command, which gives none): download and upload's
-- `verify = "hash"` check it against the file's size
-- @return[2] `nil, message, code`: `"unsupported"` when FEAT offers no command for the
-- algorithm (or none at all); the server's refusal (550: no such file; proftpd's
-- X commands answer 501 for an empty file); `"proto"` for a reply that holds no digest
-- of that algorithm and length from byte 0 (an X command's: the word of its last line
-- that is hex of that length, as in `250 MD5 of file is <hex>`)
-- @raise for an algorithm name not in the list, CR, LF or NUL in `path`
-- @usage local digest, algo = assert(ftp:hash("pub/big.iso"))
-- print(algo, digest)   --> sha256  9f86d081884c7d65...
function FTP:hash(path, algo)
  checks.check_line("hash", 1, path)
  if algo ~= nil then
    checks.check("hash", 2, algo, "string")
    if not digest_reply.algorithm(algo) then
      checks.raise("bad argument #2 to 'hash' (one of " .. names() .. " expected, got '"
        .. algo .. "')")
    end
  end
  local name, err, code = self:_hash_algorithm(algo)
  if not name then
    return nil, err, code
  end
  local algorithm, state = digest_reply.algorithm(name), self._hash_state
  if state.hash[name] then
    local found, stand_in
    found, err, code, stand_in = by_hash(self, state, algorithm, path)
    if found then
      return found.digest, name, found.range_end
    elseif not (stand_in and state.x[name]) then
      return nil, err, code
    end
  end
  local digest
  digest, err, code = by_x(self, state.x[name], algorithm, path)
  if not digest then
    return nil, err, code
  end
  return digest, name
end

return { FTP = FTP }
