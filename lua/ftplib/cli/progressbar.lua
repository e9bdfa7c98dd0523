-- A one-line progress bar for the command-line tool: redrawn in place with
-- "\r", at most ten times a second, so a fast transfer does not spend its
-- time writing to the terminal.
local wait = require "ftplib.concurrency.wait"
local safename = require "ftplib.ops.safename"

local progressbar = {}
progressbar.__index = progressbar

local REDRAW_INTERVAL = 0.1

local UNITS = { "B", "KiB", "MiB", "GiB", "TiB" }

local function human(bytes)
  local value, unit = bytes, 1
  while value >= 1024 and unit < #UNITS do
    value, unit = value / 1024, unit + 1
  end
  if unit == 1 then
    return string.format("%d B", bytes)
  end
  return string.format("%.1f %s", value, UNITS[unit])
end
progressbar.human = human

local function clock(seconds)
  seconds = math.floor(seconds + 0.5)
  if seconds >= 3600 then
    return string.format("%d:%02d:%02d", seconds // 3600, seconds // 60 % 60, seconds % 60)
  end
  return string.format("%d:%02d", seconds // 60, seconds % 60)
end

-- label: what is moving (a file name); out: where to draw (io.stderr);
-- width: the terminal's columns.
function progressbar.new(label, out, width)
  return setmetatable({
    label = safename.shown(label), out = out, width = width or 80,
    started = wait.now(), drawn_at = -math.huge, last_line = "",
  }, progressbar)
end

-- The bar itself, "[=====>    ]", filling `cells` characters.
local function bar(fraction, cells)
  local full = math.floor(fraction * cells)
  if full >= cells then
    return "[" .. string.rep("=", cells) .. "]"
  end
  return "[" .. string.rep("=", full) .. ">" .. string.rep(" ", cells - full - 1) .. "]"
end

-- The text of the line for done of total bytes (total may be nil).
function progressbar:line(done, total, elapsed)
  local rate = elapsed > 0 and done / elapsed or 0
  local tail = string.format(" %10s %10s/s", human(done), human(rate))
  local label = self.label
  if total and total > 0 then
    local fraction = math.min(done / total, 1)
    local left = rate > 0 and (total - done) / rate or 0
    tail = string.format(" %3d%%", math.floor(fraction * 100)) .. tail
      .. (done < total and "  ETA " .. clock(left) or "  " .. clock(elapsed))
    local label_cells = math.min(#label, self.width // 3)
    local cells = self.width - label_cells - #tail - 3
    if cells >= 10 then
      return label:sub(1, label_cells) .. " " .. bar(fraction, cells) .. tail
    end
  end
  return label:sub(1, math.max(self.width - #tail - 1, 0)) .. tail
end

function progressbar:draw(done, total, force)
  local at = wait.now()
  if not force and at - self.drawn_at < REDRAW_INTERVAL then
    return
  end
  self.drawn_at = at
  local text = self:line(done, total, at - self.started)
  -- Pad over what a longer previous line left on screen.
  local pad = math.max(#self.last_line - #text, 0)
  self.out:write("\r", text, string.rep(" ", pad))
  self.out:flush()
  self.last_line = text
end

-- The last drawing, showing the final count, and the end of the line.
function progressbar:finish(done, total)
  self:draw(done, total, true)
  self.out:write("\n")
  self.out:flush()
end

return progressbar
