-- The server's time zone, for the times of parsed LIST lines: `ls -l`
-- shows the server's local time, which the parsers read as UTC. The
-- session option `timezone` gives the offset (seconds east of UTC, or
-- "+0200", "-05:30"), or "auto": found once per session by comparing a
-- file's LIST time with its MDTM, which RFC 3659 makes UTC. MLSD and EPLF
-- times are UTC already and are left alone.
--
-- "auto" never guesses: an MDTM the server refuses or answers unreadably,
-- or a difference beyond 14 hours (no zone is that far), gives no offset for
-- the connection, and the reason is kept (ftp:server_timezone, debug
-- output). An MDTM lost with the connection (timeout, drop) says nothing of
-- the server: the next LIST asks again. A new connection (connect, and the
-- reconnects of retries) may reach another server: it learns anew.
local utc = require "ftplib.base.utc"
local safename = require "ftplib.ops.safename"

local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

-- Time zones are whole quarter hours (UTC+05:45, +08:45 and +12:45 among them).
local QUARTER_HOUR = 900

local function join(dir, name)
  if dir == nil or dir == "" then
    return name
  end
  return dir:sub(-1) == "/" and dir .. name or dir .. "/" .. name
end

-- A file of the listing whose LIST time shows the minute (an older one shows
-- the day only: too coarse to tell an offset).
local function probe_entry(entries)
  for _, entry in ipairs(entries) do
    if entry.type == "file" and entry.modify and entry.precision == 60
        and safename.check(entry.name) then
      return entry
    end
  end
  return nil
end

-- Whether a failed MDTM was the server's own answer (a refusal, a reply
-- that cannot be read), which it would give again; not a lost connection.
local function answered(code)
  return math.type(code) == "integer" or code == "proto" or code == "limit"
end

-- Settles self._tz_offset from entry's LIST time and its MDTM: the offset,
-- or false with the reason in self._tz_note; nil (the reason kept too) when
-- the MDTM was lost with the connection, to be asked again.
local function detect(self, path, entry)
  local remote = join(path, entry.name)
  local stamp, err, code = self:mdtm(remote)
  local offset, note
  if not stamp then
    note = "MDTM " .. safename.shown(remote) .. " failed: " .. tostring(err)
    if not answered(code) then
      self._tz_note = note .. " (asked again at the next LIST)"
      self:_debug(1, "timezone", "auto: not found yet: " .. self._tz_note)
      return
    end
  else
    local diff = entry.modify - stamp
    offset = math.floor(diff / QUARTER_HOUR + 0.5) * QUARTER_HOUR
    if math.abs(offset) > utc.MAX_OFFSET then
      note = ("LIST and MDTM of %s differ by %d s, beyond 14 hours"):format(
        safename.shown(remote), diff)
      offset = nil
    end
  end
  self._tz_offset, self._tz_note = offset or false, note
  self:_debug(1, "timezone", offset and ("auto: %+d s from UTC (LIST against MDTM of %s)")
    :format(offset, safename.shown(remote)) or "auto: no offset: " .. note)
end

-- Shifts the times of entries parsed from a LIST of path to UTC, by the
-- offset of the timezone option (learnt now, for "auto", when this listing
-- has a file to compare and none was learnt before).
function FTP:_times_to_utc(path, entries)
  if self.timezone == "auto" and self._tz_offset == nil then
    local entry = probe_entry(entries)
    if entry then
      detect(self, path, entry)
    end
  end
  local offset = self._tz_offset
  if not offset or offset == 0 then
    return
  end
  for _, entry in ipairs(entries) do
    if entry.modify and entry.precision ~= 1 then -- EPLF lines, like MLSD, are UTC
      entry.modify = entry.modify - offset
    end
  end
end

--- Helpers: the server's time zone.
-- @module helpers

--- Listings and walks.
-- @section listings

--- The server's time zone as the `timezone` option gave it or `"auto"` found it:
-- what is taken from the times of parsed `LIST` lines to make them UTC (MLSD times
-- are UTC already).
-- @treturn integer the offset, seconds east of UTC (0 when `timezone` is unset)
-- @treturn string how it is known: `"option"`, `"auto"` or `"unset"`
-- @return[2] `nil, why`: `"auto"` found no offset on this connection (an MDTM the
-- server refused or answered unreadably, LIST and MDTM more than 14 hours apart: no
-- guess is made, and LIST times are taken as UTC), or has not found it yet (no LIST
-- with a file's time of day so far, or the MDTM was lost with the connection: asked
-- again at the next LIST; `why` starts with "not found yet"). A new connection
-- (@{FTP:connect}, a retry's reconnect) looks again.
-- @usage ftp = assert(ftplib.FTP(host, { user = u, passwd = p, timezone = "auto" }))
-- ftp:list("pub"); print(ftp:server_timezone())
function FTP:server_timezone()
  if self.timezone == nil then
    return 0, "unset"
  elseif self.timezone ~= "auto" then
    return self._tz_offset, "option"
  elseif self._tz_offset then
    return self._tz_offset, "auto"
  elseif self._tz_offset == false then
    return nil, self._tz_note
  end
  return nil, "not found yet: " .. (self._tz_note or "no LIST with a file's time of day so far")
end

return { FTP = FTP }
