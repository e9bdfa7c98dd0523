-- UTC time arithmetic: what os.time would do, without the local time zone.
local utc = {}

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
-- days_from_civil). os.time would apply the local time zone.
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

function utc.timegm(y, m, d, hh, mm, ss)
  return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss
end

-- The widest offset of a real time zone (UTC+14:00, Line Islands; UTC-12:00
-- is within it too).
utc.MAX_OFFSET = 14 * 3600

-- Seconds east of UTC from "+0200", "-05:30" or "+02" (a sign is required),
-- or from a number of seconds: the offset, or nil and why (not an integer,
-- beyond MAX_OFFSET, not of that form).
function utc.parse_offset(value)
  local offset
  if math.type(value) == "integer" then
    offset = value
  elseif type(value) == "string" then
    local sign, hh, mm = value:match("^([+-])(%d%d):?(%d?%d?)$")
    if not sign or (#mm ~= 0 and #mm ~= 2) or (tonumber(mm) or 0) >= 60 then
      return nil, "not an offset like \"+0200\" or \"-05:30\""
    end
    offset = (tonumber(hh) * 3600 + (tonumber(mm) or 0) * 60) * (sign == "-" and -1 or 1)
  else
    return nil, "not an integer number of seconds nor an offset like \"+0200\""
  end
  if math.abs(offset) > utc.MAX_OFFSET then
    return nil, "beyond 14 hours from UTC"
  end
  return offset
end

-- Whether two times (seconds) from sources of the given precisions (seconds;
-- nil: 1) agree, to the coarser precision of the two.
function utc.same_time(a, a_precision, b, b_precision)
  return math.abs(a - b) < math.max(a_precision or 1, b_precision or 1)
end

return utc
