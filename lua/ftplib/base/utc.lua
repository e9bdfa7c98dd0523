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

-- Whether two times (seconds) from sources of the given precisions (seconds;
-- nil: 1) agree, to the coarser precision of the two.
function utc.same_time(a, a_precision, b, b_precision)
  return math.abs(a - b) < math.max(a_precision or 1, b_precision or 1)
end

return utc
