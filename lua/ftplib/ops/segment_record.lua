-- The plan of a segmented download and its record on the .part, so that an
-- interrupted one resumes: which byte ranges the file is cut into and how
-- much of each is written. The record goes where a plain download keeps
-- its origin (core.file_origin, the extended attribute user.ftplib.origin)
-- under a tag of its own, "ftplib-seg1", that a plain download does not
-- take for its own (a plain resume from the .part's size would keep the
-- holes between the ranges):
--
--   ftplib-seg1 SIZE MODIFY PRECISION REMOTE-ID FROM:DONE,FROM:DONE,...
--
-- SIZE is the remote file's (SIZE's answer), MODIFY and PRECISION its time
-- ("-" when the server gave none), REMOTE-ID the SHA-256 of the remote
-- path, then one FROM:DONE per range in order: range i runs from its FROM
-- to the next one's (the last to SIZE) and its first DONE bytes are on
-- disk. A record claims only bytes already written (the .part is
-- unbuffered, see segments.lua): after a kill it may lag, never lead.
local core = require "ftplib.core"

local record = {}

record.TAG = "ftplib-seg1"

-- The smallest range worth a session of its own.
record.MIN_RANGE = 256 * 1024

-- Ranges for a file of `total` bytes over at most n sessions: equal cuts,
-- none under MIN_RANGE (so at least one range).
function record.plan(total, n)
  local count = math.max(1, math.min(n, total // record.MIN_RANGE))
  local ranges = {}
  -- Cut without multiplying total (a SIZE near 2^63 would overflow): each
  -- range `share` bytes, the first `extra` ones a byte more.
  local share, extra = total // count, total % count
  for i = 1, count do
    local from = (i - 1) * share + math.min(i - 1, extra)
    ranges[i] = { from = from, to = from + share + (i <= extra and 1 or 0), done = 0 }
  end
  return { total = total, ranges = ranges }
end

-- The record's text for a plan and the remote file's identity.
function record.text(plan, origin)
  local parts = {}
  for i, range in ipairs(plan.ranges) do
    parts[i] = range.from .. ":" .. range.done
  end
  return table.concat({ record.TAG, plan.total, origin.modify or "-", origin.precision or "-",
    core.sha256(origin.remote), table.concat(parts, ",") }, " ")
end

local function integer(text)
  return text and text:match("^%d+$") and math.tointeger(tonumber(text)) or nil
end

-- The ranges of a record's last field, or nil when they do not tile
-- [0, total) in order with each DONE within its range. The record is
-- local, but anyone with write access could have planted it.
local function parse_ranges(field, total)
  local ranges = {}
  for from_text, done_text in (field .. ","):gmatch("([^,:]*):([^,]*),") do
    local from, done = integer(from_text), integer(done_text)
    if not (from and done) then
      return nil
    end
    ranges[#ranges + 1] = { from = from, done = done }
  end
  if #ranges == 0 or ranges[1].from ~= 0 then
    return nil
  end
  for i, range in ipairs(ranges) do
    range.to = ranges[i + 1] and ranges[i + 1].from or total
    if range.to <= range.from or range.done > range.to - range.from then
      return nil
    end
  end
  return ranges
end

-- The plan and origin a record holds, or nil and why it is not one.
function record.parse(text)
  local tag, size, modify, precision, id, field = (text or ""):match(
    "^(%S+) (%d+) (%S+) (%S+) (%x+) (%S+)$")
  if tag ~= record.TAG then
    return nil
  end
  local total = integer(size)
  local ranges = total and parse_ranges(field, total)
  if not ranges then
    return nil
  end
  return { total = total, ranges = ranges },
    { size = total, modify = integer(modify), precision = integer(precision), remote_id = id }
end

-- Whether a text is a segmented download's record (for whole_files.lua's
-- message when a plain resume finds one).
function record.is_segmented(text)
  return type(text) == "string" and text:sub(1, #record.TAG + 1) == record.TAG .. " "
end

-- The bytes the plan has on disk.
function record.done(plan)
  local sum = 0
  for _, range in ipairs(plan.ranges) do
    sum = sum + range.done
  end
  return sum
end

return record
