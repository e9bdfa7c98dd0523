-- The layers of lua/ftplib/ point one way, read from the sources: cli -> the module
-- (ftplib.lua, class.lua) -> ops -> protocol -> parsers -> concurrency -> base and the C
-- core. No module requires one of a layer above it, no requires go round in a circle,
-- no module calls a method defined in a layer above it, and among the modules that make
-- the FTP class, a call to a method of a module later in class.MODULES (one it is not
-- built on) is one of the hooks class.lua names.
local lfs = require "lfs"
local class = require("ftplib.class")

local ROOT = require "spec.support.repo_root"

-- Layer ranks, lowest first: a module may use those of its own rank and below.
local RANKS = {
  ["ftplib.core"] = 0, base = 0, concurrency = 1, parsers = 2, protocol = 3, ops = 4,
  ["ftplib"] = 5, ["ftplib.class"] = 5, cli = 6,
}

local function rank_of(module)
  return RANKS[module] or RANKS[module:match("^ftplib%.([%a_]+)%.")]
end

-- Every module under lua/: name -> source without comments.
local function sources()
  local found = {}
  local function scan(dir, prefix)
    for name in lfs.dir(ROOT .. "/" .. dir) do
      local path = dir .. "/" .. name
      local mode = lfs.attributes(ROOT .. "/" .. path, "mode")
      if name:sub(1, 1) ~= "." and mode == "directory" then
        scan(path, prefix .. name .. ".")
      elseif mode == "file" and name:match("%.lua$") then
        local file = assert(io.open(ROOT .. "/" .. path))
        found[prefix .. name:gsub("%.lua$", "")] = file:read("a"):gsub("%-%-[^\n]*", "")
        file:close()
      end
    end
  end
  scan("lua", "")
  return found
end

local SOURCES = sources()

-- The ftplib modules a source requires, at load time or inside a function.
local function requires(text)
  local found = {}
  for name in text:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do
    if name == "ftplib" or name:match("^ftplib%.") then
      found[#found + 1] = name
    end
  end
  return found
end

describe("layers", function()
  it("places every module in a layer", function()
    for name in pairs(SOURCES) do
      assert(rank_of(name), name .. " is in no layer (spec/package/layers_spec.lua: RANKS)")
    end
    assert.equal(3, rank_of("ftplib.protocol.control"))
    assert.equal(6, rank_of("ftplib.cli.main"))
  end)

  it("has requires point downward only", function()
    local upward = {}
    for name, text in pairs(SOURCES) do
      for _, target in ipairs(requires(text)) do
        assert(SOURCES[target] or target == "ftplib.core", name .. " requires " .. target)
        if rank_of(target) > rank_of(name) then
          upward[#upward + 1] = name .. " requires " .. target
        end
      end
    end
    table.sort(upward)
    assert.same({}, upward)
  end)

  it("sees the requires it checks", function()
    local seen = {}
    for _, name in ipairs(requires(SOURCES["ftplib.ops.mirror"])) do
      seen[name] = true
    end
    assert.is_true(seen["ftplib.ops.parallel"] and seen["ftplib.base.checks"])
    seen = {}
    for _, name in ipairs(requires(SOURCES["ftplib.cli.main"])) do
      seen[name] = true
    end
    assert.is_true(seen.ftplib) -- inside a function: counted too
  end)

  it("has no require cycles", function()
    local state, cycle = {}, nil
    local function visit(name, path)
      if state[name] == "done" or cycle then
        return
      elseif state[name] == "open" then
        cycle = table.concat(path, " -> ") .. " -> " .. name
        return
      end
      state[name] = "open"
      path[#path + 1] = name
      for _, target in ipairs(requires(SOURCES[name] or "")) do
        visit(target, path)
      end
      path[#path] = nil
      state[name] = "done"
    end
    for name in pairs(SOURCES) do
      visit(name, {})
    end
    assert.is_nil(cycle)
  end)
end)

-- Receivers that hold a session or a data connection in the sources.
local FTP_RECEIVERS = { self = true, ftp = true, copy = true, session = true, src = true,
  dst = true }
local DATA_RECEIVERS = { data = true, conn = true }

-- The methods of the two classes a source calls (x:name(...)) or takes (x.name), with
-- the class: { {class = "FTP", name = "cwd"}, ... }. Names the source defines for
-- another table of its own (function Task:result) are not the classes'.
local function method_uses(text)
  local own = {}
  for name in text:gmatch("function%s+[%a_][%w_]*[:.]([%a_][%w_]*)") do
    own[name] = true
  end
  local uses = {}
  for receiver, sep, name in text:gmatch("%f[%w_]([%a_][%w_]*)([:.])([%a_][%w_]*)") do
    local key = FTP_RECEIVERS[receiver] and "FTP" or DATA_RECEIVERS[receiver] and "Data"
    if key and class.defined_by[key][name] and not (own[name] and receiver == "self")
        and (sep == ":" or class.defined_by[key][name] ~= "ftplib.core") then
      uses[#uses + 1] = { class = key, name = name }
    end
  end
  return uses
end

describe("method calls between modules", function()
  -- Where each module of the FTP class stands in class.MODULES (FTP_TLS's after FTP's).
  local position, count = {}, 0
  for _, list in ipairs { class.MODULES.FTP, class.MODULES.FTP_TLS } do
    for _, name in ipairs(list) do
      count = count + 1
      position[name] = position[name] or count
    end
  end

  it("calls no method of a layer above", function()
    local upward = {}
    for name, text in pairs(SOURCES) do
      for _, use in ipairs(method_uses(text)) do
        local definer = class.defined_by[use.class][use.name]
        if rank_of(definer) > rank_of(name) then
          upward[#upward + 1] = ("%s calls %s:%s of %s"):format(name, use.class, use.name,
            definer)
        end
      end
    end
    table.sort(upward)
    assert.same({}, upward)
  end)

  it("calls methods of modules later in the assembly only through declared hooks", function()
    local undeclared, used = {}, {}
    for name, text in pairs(SOURCES) do
      for _, use in ipairs(method_uses(text)) do
        local definer = class.defined_by[use.class][use.name]
        if position[name] and position[definer] and position[definer] > position[name] then
          used[use.name] = true
          if class.HOOKS[use.name] ~= definer then
            undeclared[#undeclared + 1] = ("%s calls %s:%s of %s"):format(name, use.class,
              use.name, definer)
          end
        end
      end
    end
    table.sort(undeclared)
    assert.same({}, undeclared)
    for hook, definer in pairs(class.HOOKS) do
      assert.equal(definer, class.defined_by.FTP[hook], "hook " .. hook)
      assert(used[hook], "hook " .. hook .. " is declared but called from no earlier module")
    end
  end)

  it("sees the calls it checks", function()
    -- The checks above are only as good as what they find: a known call of each kind.
    local uses = method_uses(SOURCES["ftplib.protocol.control"])
    local seen = {}
    for _, use in ipairs(uses) do
      seen[use.class .. ":" .. use.name] = true
    end
    assert.is_true(seen["FTP:_check_in_step"]) -- a hook (resync)
    assert.is_true(seen["FTP:_secure_channel"]) -- a hook (tls)
    assert.is_true(seen["FTP:_send"]) -- the core's
    local mirror = {}
    for _, use in ipairs(method_uses(SOURCES["ftplib.ops.mirror"])) do
      mirror[use.name] = true
    end
    assert.is_true(mirror.download and mirror.walk and mirror.mkd)
  end)
end)
