-- Files on the server, one path at a time: exists, stat, makedirs, move,
-- chmod and site (rmtree, which walks, is in ops/rmtree.lua).
--
-- "Not there" is an answer only when the server gave it: a 550 (RFC 959's
-- "file unavailable") to MLST, or a listing of the parent that can be read
-- and does not show the name. A lost connection, a 421, a 450 or a listing
-- that cannot be read leave it open: nil, message, code, never false.
local checks = require "ftplib.base.checks"
local list_lines = require "ftplib.parsers.list_lines"
local listing = require "ftplib.protocol.listing"
local list = require "ftplib.ops.list"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

local server_files = {}

--- Helpers: files on the server.
-- @module helpers

--- Files on the server.
-- @section server_files

-- The last name of a path ("a/b/" -> "b"), nil for "", "/" and the like.
function server_files.basename(path)
  return path:match("([^/]+)/*$")
end

-- The folder holding path's last name: "" (the current one) for "name",
-- "/" for "/name".
function server_files.parent_of(path)
  local parent = path:match("^(.*)/[^/]+/*$")
  if parent == nil then
    return ""
  elseif parent:match("^/*$") then
    return "/"
  end
  return parent
end

local basename, parent_of = server_files.basename, server_files.parent_of

-- A refusal that says the path is not there: RFC 959's 550 ("file
-- unavailable": not found, or no access, which a client cannot tell apart).
local function says_absent(code)
  return code == 550
end

-- Whether CWD enters path: true (and back in the folder PWD told), false
-- (a 5xx refusal: not a folder one may enter), or nil, message, code when
-- it cannot tell: "proto" when there is no way back (PWD refused), else a
-- 4xx or the session's failure. Entered and not back, the session is closed.
function server_files.enters(self, path)
  local home, err, code = self:_pwd_cached()
  if not home and math.type(code) == "integer" then
    -- PWD refused: no way back, but the session is fine ("proto": the callers
    -- ask another way).
    return nil, "cannot probe " .. path .. " with CWD: the current folder is unknown ("
      .. tostring(err) .. ")", "proto"
  elseif not home then
    return nil, err, code
  end
  local ok
  ok, err, code = self:cwd(path)
  if not ok then
    if math.type(code) == "integer" and code >= 500 then
      self._folder = home -- a refused CWD went nowhere: no need to ask PWD again
      return false, err, code
    end
    return nil, err, code
  end
  ok, err = self:cwd(home)
  if not ok then
    -- The session is in a folder nobody knows: every relative command after
    -- this would act there. Closed, rather (a retry logs in afresh).
    return self:_lose("entered " .. path .. " and cannot go back to " .. home .. ": "
      .. tostring(err), "proto")
  end
  self._folder = home -- back where PWD said: no need to ask again
  return true
end
local enters = server_files.enters

-- The entry of MLST's fact line, named name; nil, message, code for a
-- refusal or a reply without facts.
local function mlst_entry(self, path, name)
  local code, text, errcode = self:_cmd(listing.with_path("MLST", path))
  if not code then
    return nil, text, errcode
  elseif code ~= 250 then
    return nil, text, code
  end
  for line in text:gmatch("[^\n]+") do
    local facts = line:match("^ (.*)$") -- RFC 3659: the fact line starts with a space
    local entry = facts and list_lines.mlsx_entry((facts:gsub("\r+$", "")))
    if entry and entry.type ~= "unknown" then
      entry.name = name
      return entry
    end
  end
  return nil, "MLST reply without facts: " .. checks.escape(text), "proto"
end

-- Why a listing that does not show `name` cannot say it is absent, or nil.
local function listing_doubt(name, files, rejected, notes)
  if #rejected > 0 then
    return "its folder's listing held names that cannot be used"
  elseif notes.hidden_unseen and name:sub(1, 1) == "." then
    return "its folder's listing may leave out names starting with a dot"
  elseif notes.unverified then
    return "its folder's listing may have been cut (" .. notes.unverified .. ")"
  end
  for _, entry in ipairs(files) do
    if entry.type == "unknown" then
      return "its folder's listing held lines no parser reads"
    end
  end
  return nil
end

-- The entry the listing of path's folder shows for it (links as links, as
-- `ls -l` shows them), read with walk's rules: a listing that cannot be read
-- is an error, and a name it does not show is absent only when it could
-- have shown it. nil, message, code otherwise (550 when absent).
function server_files.listed_entry(self, path)
  local name = basename(path)
  if not name then
    return nil, "no name to look for in a listing: " .. path, "proto"
  end
  local failure
  local walk = self:walk(parent_of(path), { max_depth = 0, onerror = function(_, err, code)
    failure = { err, code }
  end })
  local _, dirs, files, rejected, notes = walk()
  if not dirs then
    failure = failure or { "cannot list the folder of " .. path, "proto" }
    return nil, failure[1], failure[2]
  end
  for _, group in ipairs { dirs, files } do
    for _, entry in ipairs(group) do
      if entry.name == name and entry.type ~= "unknown" then
        return entry
      end
    end
  end
  local doubt = listing_doubt(name, files, rejected, notes)
  if doubt then
    return nil, "cannot tell whether " .. path .. " exists: " .. doubt, "proto"
  end
  return nil, path .. ": not found in its folder's listing", 550
end

-- The entry of a file that SIZE answered for: its size and MDTM's time.
local function sized_entry(self, path, name, size)
  local entry = { name = name, type = "file", size = size }
  local modify = self:mdtm(path)
  if modify then
    entry.modify, entry.precision = modify, 1
  end
  return entry
end

-- Without MLST: a folder CWD enters (back after), a file SIZE answers for,
-- else whatever the parent's listing shows.
local function probed_entry(self, path, name)
  local entered, err, code = enters(self, path)
  if entered then
    return { name = name, type = "dir" }
  elseif entered == nil and code ~= "proto" then
    return nil, err, code -- the session is in trouble: nothing else would tell
  end
  local size
  size, err, code = self:size(path)
  if size then
    return sized_entry(self, path, name, size)
  elseif math.type(code) ~= "integer" or code < 500 or not basename(path) then
    return nil, err, code -- a 421 or 450 is no answer; a lost session tells nothing more
  end
  return server_files.listed_entry(self, path)
end

-- Codes meaning "MLST is not implemented here" despite FEAT.
local MLST_UNKNOWN = { [500] = true, [502] = true, [504] = true }

--- What the server knows of one path: an @{entry} as @{helpers.list|FTP:list} gives,
-- named with the path's last name. From MLST when FEAT lists it; else CWD probes for a
-- folder (and goes back to the current folder), SIZE and MDTM for a file, and, when
-- neither answers, the listing of the path's folder (which also finds links, devices
-- and folders one may not enter). The probes follow links (a link to a folder is a
-- `"dir"`), as MLST does on most servers; a listing shows a link as a `"link"`.
-- @tparam string path
-- @treturn table the @{entry}: `type` always, `size`, `modify` and the rest where the
-- server told them
-- @return[2] `nil, message, code`: `550` when the server says the path is not there
-- (MLST's 550, or a readable listing of its folder without it); any other code when it
-- cannot tell (`"closed"`, `"timeout"`, 421, 450, a listing that cannot be read:
-- `"proto"`)
-- @raise for CR, LF or NUL in `path`
-- @usage local e = assert(ftp:stat("pub/file.iso")); print(e.type, e.size)
function FTP:stat(path)
  checks.check_line("stat", 1, path)
  local name = basename(path) or path
  if self:_features().MLST then
    local entry, err, code = mlst_entry(self, path, name)
    if entry or not MLST_UNKNOWN[code] then
      return entry, err, code
    end
  end
  return probed_entry(self, path, name)
end

--- Whether a path exists on the server, as a file, a folder or anything else
-- (@{FTP:stat}). `false` only when the server says so: a 550 (RFC 959's "file
-- unavailable", which covers "not for this login" too), or a readable listing of its
-- folder without it. When it cannot tell (a lost connection, a 421 or 450, a listing
-- that cannot be read) the answer is `nil, message, code`, never a guess.
-- @tparam string path
-- @treturn boolean `true` or `false`
-- @return[2] `nil, message, code` when it cannot tell
-- @raise for CR, LF or NUL in `path`
-- @usage if assert(ftp:exists("incoming/done.flag")) == false then ... end
function FTP:exists(path)
  local entry, err, code = self:stat(path)
  if entry then
    return true
  elseif says_absent(code) then
    return false
  end
  return nil, err, code
end

-- Whether what lies at path (where MKD failed) is a folder: true, or nil,
-- why not (what is in the way), code.
local function folder_in_the_way(self, path, mkd_err, mkd_code)
  if enters(self, path) then
    return true
  end
  local entry = self:stat(path)
  if entry and entry.type == "dir" then
    return true
  elseif entry then
    return nil, path .. ": a " .. entry.type .. " is in the way (" .. tostring(mkd_err) .. ")",
      mkd_code
  end
  return nil, mkd_err, mkd_code
end

--- Makes a folder and the folders above it that are missing, as `mkdir -p`: MKD for each
-- level from the top. A level that exists already as a folder (or a link to one) is
-- fine; a file in the way is an error. The folders are made from `path` alone, never
-- from what the server answers.
-- @tparam string path folders separated by `/` (`.` and empty names are skipped)
-- @treturn string `path`
-- @return[2] `nil, message, code`: MKD's refusal, `"a/b: a file is in the way (...)"`
-- with MKD's code, or the failure of the connection
-- @raise for CR, LF or NUL in `path`
-- @usage assert(ftp:makedirs("backups/2024/06"))
function FTP:makedirs(path)
  checks.check_line("makedirs", 1, path)
  local prefix = path:sub(1, 1) == "/" and "/" or ""
  for segment in path:gmatch("[^/]+") do
    if segment ~= "." then
      prefix = prefix .. segment
      local made, err, code = self:mkd(prefix)
      if not made then
        if math.type(code) ~= "integer" then
          return nil, err, code -- the session is lost: nothing to probe with
        end
        local ok, why, why_code = folder_in_the_way(self, prefix, err, code)
        if not ok then
          return nil, why, why_code
        end
      end
      prefix = prefix .. "/"
    end
  end
  return path
end

-- Where a move of `from` onto `to` puts it: into `to` when it ends in "/"
-- or is a folder CWD enters, else `to` itself. nil, message, code when it
-- cannot tell (a folder there would be replaced or refused).
local function move_target(self, from, to)
  local name = basename(from)
  if not name then
    return to
  elseif to:sub(-1) == "/" then
    return to .. name
  end
  local entered, err, code = enters(self, to)
  if entered then
    return list.join(to, name)
  elseif entered == false then
    return to
  elseif code ~= "proto" then
    return nil, err, code
  end
  -- No way back from a CWD: ask stat, which lists instead.
  local entry
  entry, err, code = self:stat(to)
  if entry and entry.type == "dir" then
    return list.join(to, name)
  elseif entry or says_absent(code) then
    return to
  end
  return nil, "cannot tell whether " .. to .. " is a folder: " .. tostring(err), code
end

--- Moves a file or folder, as `mv` and lftp's `mv` do: into `to` when `to` ends in `/`
-- or is an existing folder (CWD enters it; a link to a folder counts), else to the path
-- `to` (RNFR and RNTO: see @{FTP:rename}, which renames without looking). A file at
-- `to` is replaced where the server's rename replaces (most Unix servers); some refuse.
-- @tparam string from
-- @tparam string to a new path, or a folder to move into
-- @treturn string the path the file or folder now has
-- @return[2] `nil, message, code`: the server's refusal, or why it could not tell
-- whether `to` is a folder
-- @raise for CR, LF or NUL in `from` or `to`
-- @usage assert(ftp:move("incoming/a.txt", "done/"))   -- done/a.txt
function FTP:move(from, to)
  checks.check_line("move", 1, from)
  checks.check_line("move", 2, to)
  local target, err, code = move_target(self, from, to)
  if not target then
    return nil, err, code
  end
  local ok
  ok, err, code = self:rename(from, target)
  if not ok then
    return nil, err, code
  end
  return target
end

-- The octal digits SITE CHMOD takes, from 644, 0644 (the same number in
-- Lua, which has no octal literals) or "644"/"0644"; nil for anything else.
local function mode_digits(mode)
  if math.type(mode) == "integer" then
    local digits = string.format("%03d", mode)
    if mode >= 0 and mode <= 7777 and digits:find("^[0-7]+$") then
      return digits
    end
  elseif type(mode) == "string" and mode:find("^[0-7][0-7][0-7][0-7]?$") then
    return mode
  end
  return nil
end

--- Changes a file's or folder's permissions (`SITE CHMOD mode path`), where the
-- server has it (vsftpd, proftpd, pyftpdlib, GNU inetutils ftpd; Twisted and aioftp
-- answer 5xx). `mode` is written in octal digits as chmod(1) and FluentFTP take it: the
-- number `644` (Lua has no octal literals: `0644` is that same number) or the string
-- `"644"` or `"0644"`. Permission bits computed as a number (`420` for `rw-r--r--`) go
-- through `string.format("%o", bits)` first: `420` itself means `r---w----`.
-- @tparam string path
-- @tparam number|string mode three or four octal digits
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
-- @raise for a mode that is not three or four octal digits (`"rw-r--r--"`, `"u+x"`,
-- `9`, `-1`), CR, LF or NUL in `path`
-- @usage assert(ftp:chmod("public_html/index.html", 644))
function FTP:chmod(path, mode)
  checks.check_line("chmod", 1, path)
  local digits = mode_digits(mode)
  if not digits then
    checks.raise("bad argument #2 to 'chmod' (a mode in octal digits expected, as 644, "
      .. "\"644\" or \"0644\", got " .. checks.escape(tostring(mode)) .. ")")
  end
  return self:voidcmd("SITE CHMOD " .. digits .. " " .. path)
end

--- Sends a SITE command (server-specific: `SITE CHMOD`, `SITE UMASK`, `SITE HELP`,
-- ...) whose reply must be 2xx.
-- @tparam string cmd what follows `SITE `
-- @treturn string the reply's text
-- @treturn integer its code
-- @return[2] `nil, text, code` or `nil, message, code`
-- @raise for CR, LF or NUL in `cmd`
-- @usage print(assert(ftp:site("HELP")))
function FTP:site(cmd)
  checks.check_line("site", 1, cmd)
  return self:voidcmd("SITE " .. cmd)
end

server_files.FTP = FTP

return server_files
