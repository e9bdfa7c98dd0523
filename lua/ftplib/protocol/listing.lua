-- Directory listings as the server gives them: nlst, dir and mlsd.
local checks = require "ftplib.base.checks"
local list_lines = require "ftplib.parsers.list_lines"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

-- A listing command with its argument as the caller wrote it: nlst, dir and
-- mlsd are Python's, where `ftp:dir("-la")` passes options to the server's ls.
local function with_arg(verb, arg)
  if arg == nil or arg == "" then
    return verb
  end
  return verb .. " " .. arg
end

-- A listing command naming a folder, for the helpers (list, walk, mirror), whose
-- paths come from what a server listed. Servers built on /bin/ls (GNU
-- inetutils, netkit, many BSD ftpds) pass the argument of LIST, NLST and STAT to
-- ls: a path starting with "-" would be read as options ("LIST -a -d" lists
-- "."), so it goes out as "./-d", which names the same folder on every server.
local function with_path(verb, path)
  if path ~= nil and path:sub(1, 1) == "-" then
    path = "./" .. path
  end
  return with_arg(verb, path)
end

-- A listing is held whole in memory: maxlisting (option) bounds what it
-- may take. Each line kept counts its bytes plus what Lua spends on holding
-- it (LINE_COST: a string header and a table slot), so that a server sending
-- millions of tiny lines is cut off as surely as one sending long ones.
local DEFAULT_MAXLISTING = 128 * 1024 * 1024
local LINE_COST = 40

local function over_limit(maxlisting)
  return nil, string.format("listing over maxlisting (%d bytes)", maxlisting), "limit"
end

-- Runs listing command cmd, handing each line to each(line, decoded): the
-- line without its line end (trailing CRs too: some servers end lines with
-- CR CR LF), in UTF-8 when the session has an encoding (decoded false: kept
-- as the bytes sent). each answers how many bytes of memory it keeps for the
-- line. Past maxlisting the transfer is aborted and the answer is nil, msg,
-- "limit"; the session stays in step. Otherwise the final reply's text, and
-- why the listing may not be whole though it came without error (nil when
-- nothing says so): a protected listing of no byte that ended without TLS
-- close_notify (tls.lua takes it, for pyftpdlib's sake).
function FTP:_listing_each(cmd, each)
  local used, over = 0, false
  local maxlisting = self.maxlisting or DEFAULT_MAXLISTING
  local decoder = self._decoder
  self._listing_unverified = nil
  local text, err, code = self:retrlines(cmd, function(line)
    if line:byte(-1) == 13 then
      line = line:gsub("\r+$", "")
    end
    local decoded = true
    if decoder then
      line, decoded = self:_from_server(line)
    end
    used = used + each(line, decoded)
    if used > maxlisting then
      over = true
      return false
    end
  end)
  local unverified = self._listing_unverified
  self._listing_unverified = nil
  if over then
    return over_limit(maxlisting)
  elseif not text then
    return nil, err, code
  elseif unverified then
    return text, "the protected listing ended without TLS close_notify and without a byte: "
      .. "it may have been cut"
  end
  return text
end

-- Every line of a listing command, in a table (see _listing_each). Lines
-- kept as the server sent them, not valid in its encoding, are marked
-- (encoding.lua): their indices are in the table's field undecoded.
function FTP:_listing_lines(cmd)
  local lines = {}
  local text, err, code = self:_listing_each(cmd, function(line, decoded)
    lines[#lines + 1] = line
    if not decoded then
      lines.undecoded = lines.undecoded or {}
      lines.undecoded[#lines.undecoded + 1] = #lines
    end
    return #line + 1 + LINE_COST
  end)
  if not text then
    return nil, err, code
  end
  return lines
end

--- FTP methods: listings as the server gives them.
-- @classmod FTP

--- Listings.
-- @section listings

-- An empty directory gives {}: servers say so with an empty listing or
-- with a 450/550 "no files found".

--- The names in a folder (NLST). An empty folder gives `{}`, as does a 450 or 550
-- reply, which servers send for an empty folder (and some for a missing one: use
-- @{helpers.list|FTP:list} to tell). With `encoding`, a line not valid in it is kept as the bytes
-- sent. The listing is bounded by `maxlisting`.
-- @tparam[opt] string path the folder (default: the current one)
-- @treturn table the names, in the server's order; its field `undecoded`, when
-- present, lists the indices of the names kept as bytes
-- @return[2] `nil, message, code` (`"limit"` past `maxlisting`)
function FTP:nlst(path)
  checks.check("nlst", 1, path, "string|nil")
  local lines, err, code = self:_listing_lines(with_arg("NLST", path))
  if not lines and (code == 450 or code == 550) then
    return {}
  end
  for _, i in ipairs(lines and lines.undecoded or {}) do
    self:_remember_raw(lines[i]) -- sent back as it came (encoding.lua)
  end
  return lines, err, code
end

--- Hands each line of a LIST to `callback`, as the server wrote it (in UTF-8 with
-- `encoding`). `ftp:dir(callback)` lists the current folder.
-- @tparam[opt] string path the folder or file (default: the current folder)
-- @tparam[opt=print] function callback called with each line, without its line end
-- @treturn string the final reply's text
-- @treturn integer its code
-- @return[2] `nil, message, code`
function FTP:dir(path, callback)
  if type(path) == "function" then
    path, callback = nil, path
  end
  checks.check("dir", 1, path, "string|nil")
  checks.check("dir", 2, callback, "function|nil")
  return self:retrlines(with_arg("LIST", path), self:_decoding(callback or print))
end

-- for name, facts in ftp:mlsd(path, {"type", "size"}) do ... end

--- The entries of a folder (MLSD), as an iterator of names and facts. With `facts`,
-- OPTS MLST asks for those facts first (servers that ignore it list their own).
-- The whole listing is read before the first name comes, within `maxlisting`.
-- @tparam[opt] string path the folder (default: the current one)
-- @tparam[opt] {string,...} facts the facts wanted, `{"type", "size", "modify"}`
-- @treturn function an iterator giving `name, facts` for each entry: `facts` maps each
-- fact's name, in lower case, to its value as the server wrote it (`facts.type` is
-- `"file"`, `"dir"`, `"cdir"`, ...; `facts.modify` is `"YYYYMMDDHHMMSS"`)
-- @return[2] `nil, message, code`
-- @usage for name, facts in assert(ftp:mlsd("pub", { "type", "size" })) do
--   print(name, facts.type, facts.size)
-- end
function FTP:mlsd(path, facts)
  checks.check("mlsd", 1, path, "string|nil")
  checks.check("mlsd", 2, facts, "table|nil")
  if facts and #facts > 0 then
    -- Servers that ignore OPTS MLST still list their default facts.
    self:sendcmd("OPTS MLST " .. table.concat(facts, ";") .. ";")
  end
  local lines, err, code = self:_listing_lines(with_arg("MLSD", path))
  if not lines then
    return nil, err, code
  end
  for _, raw in ipairs(lines.undecoded or {}) do
    local name = list_lines.mlsx(lines[raw])
    if name then
      self:_remember_raw(name) -- sent back as it came (encoding.lua)
    end
  end
  local i = 0
  return function()
    while i < #lines do
      i = i + 1
      local name, entry = list_lines.mlsx(lines[i])
      if name then
        return name, entry
      end
    end
    return nil
  end
end

return { FTP = FTP, with_path = with_path, DEFAULT_MAXLISTING = DEFAULT_MAXLISTING }
