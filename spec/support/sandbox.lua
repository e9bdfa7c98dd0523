-- The sandbox of the hostile-server specs (spec/ops/hostile_*_spec.lua, spec/cli/
-- hostile_cli_spec.lua): a folder holding the target a few levels down and files beside
-- it, so that a spec can check that nothing outside the target exists or changed; and
-- the small checks those specs share (a report's failures, a time bound, the tool run as
-- a user runs it).
--
--   local sandbox = require "spec.support.sandbox"
--   local box, srv
--   before_each(function() box = sandbox.new() end)
--   after_each(function() srv = sandbox.finish(box, srv) end)
local lfs = require "lfs"
local assert = require "luassert" -- busted's assert: a required module does not see the spec's
local core = require "ftplib.core"
local proc = require "spec.support.proc"

local sandbox = {}

local ROOT = lfs.currentdir()
local CPATH = package.cpath:match("^([^;]+)")
if CPATH:sub(1, 1) ~= "/" then CPATH = ROOT .. "/" .. CPATH end
local ENV = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(
  proc.shell_quote(ROOT .. "/lua/?.lua;;"), proc.shell_quote(CPATH .. ";;"))

-- Everything under dir: rel -> content, "<dir>" or "<link to X>".
local function snapshot(dir, rel, into)
  into = into or {}
  local path = rel and (dir .. "/" .. rel) or dir
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then
      local child = rel and (rel .. "/" .. name) or name
      local full = dir .. "/" .. child
      local mode = lfs.symlinkattributes(full, "mode")
      if mode == "link" then
        into[child] = "<link to " .. tostring(lfs.symlinkattributes(full, "target")) .. ">"
      elseif mode == "directory" then
        into[child] = "<dir>"
        snapshot(dir, child, into)
      else
        into[child] = proc.read_file(full) or ("<" .. tostring(mode) .. ">")
      end
    end
  end
  return into
end

-- A sandbox: box/up/down/target is the target; box/victim.txt and box/up/keep.txt
-- stand beside it. `box:outside()` is what lies outside the target.
local Box = {}
Box.__index = Box

local function sandbox_new()
  local dir = proc.tempdir("hostile-box")
  assert(lfs.mkdir(dir .. "/up"))
  assert(lfs.mkdir(dir .. "/up/down"))
  proc.write_file(dir .. "/victim.txt", "victim")
  proc.write_file(dir .. "/up/keep.txt", "keep")
  local box = setmetatable({ dir = dir, target = dir .. "/up/down/target" }, Box)
  box.before = box:outside()
  return box
end

function Box:outside()
  local all = snapshot(self.dir)
  for rel in pairs(all) do
    if rel == "up/down/target" or rel:sub(1, #"up/down/target/") == "up/down/target/" then
      all[rel] = nil
    end
  end
  return all
end

function Box:path(rel)
  return self.target .. "/" .. rel
end

function Box:write(rel, content)
  local path = self:path(rel)
  local parent = path:match("^(.*)/[^/]*$")
  os.execute("mkdir -p " .. proc.shell_quote(parent))
  proc.write_file(path, content)
  return path
end

function Box:inside()
  if lfs.attributes(self.target, "mode") ~= "directory" then return {} end
  return snapshot(self.target)
end

-- The invariant checked after every scenario: nothing outside the target changed.
function Box:assert_contained()
  assert.are.same(self.before, self:outside())
end

function Box:remove()
  proc.rmtree(self.dir)
end

local function failed_paths(report)
  local paths = {}
  for _, failure in ipairs(report.failed) do paths[#paths + 1] = failure.path end
  table.sort(paths)
  return paths
end

local function failure_of(report, path)
  for _, failure in ipairs(report.failed) do
    if failure.path == path then return failure end
  end
  return nil
end

-- Runs fn, asserting it returned within `seconds`; returns what it returned.
local function within(seconds, fn)
  local started = core.now()
  local results = table.pack(fn())
  local took = core.now() - started
  assert.is_true(took < seconds, ("took %.1f s, bound %d s"):format(took, seconds))
  return table.unpack(results, 1, results.n)
end

local function run_tool(script, ...)
  local words = {}
  for i, word in ipairs { ... } do words[i] = proc.shell_quote(word) end
  local dir = proc.tempdir("hostile-tool")
  local out, err = dir .. "/stdout", dir .. "/stderr"
  local _, _, status = os.execute(("%s HOME=%s lua5.4 %s %s > %s 2> %s < /dev/null"):format(
    ENV, proc.shell_quote(dir), proc.shell_quote(ROOT .. "/" .. script),
    table.concat(words, " "), out, err))
  local stdout, stderr = proc.read_file(out), proc.read_file(err)
  proc.rmtree(dir)
  return status, stdout, stderr
end

sandbox.ROOT, sandbox.ENV, sandbox.new = ROOT, ENV, sandbox_new
sandbox.failed_paths, sandbox.failure_of = failed_paths, failure_of
sandbox.within, sandbox.run_tool = within, run_tool

-- After a scenario: stops its server (when one was started), removes the sandbox, and
-- asserts that nothing outside the target exists or changed, whatever the scenario did.
-- Answers nil, the test's server from then on.
function sandbox.finish(box, srv)
  if srv then srv:stop() end
  local outside = box:outside()
  box:remove()
  assert.are.same(box.before, outside, "something outside the target changed")
  return nil
end

return sandbox
