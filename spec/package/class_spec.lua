-- The classes are assembled in one place (lua/ftplib/class.lua): every method of FTP,
-- FTP_TLS and Data comes from exactly one module it names, a name defined twice raises,
-- the metamethods are set, and every field the sources use on a session or a data
-- connection is declared there.
local ftplib = require "ftplib"
local class = require "ftplib.class"

local core = ftplib._core

local ROOT = require "spec.support.repo_root"

-- The source of module `name` (ftplib.a.b: lua/ftplib/a/b.lua), its comments removed.
local function source_of(name)
  local file = assert(io.open(ROOT .. "/lua/" .. name:gsub("%.", "/") .. ".lua"))
  local text = file:read("a")
  file:close()
  return (text:gsub("%-%-[^\n]*", ""))
end

-- Every module that gives methods to a class, once.
local function method_modules()
  local seen, list = {}, {}
  for _, modules in pairs(class.MODULES) do
    for _, name in ipairs(modules) do
      if not seen[name] then
        seen[name], list[#list + 1] = true, name
      end
    end
  end
  return list
end

describe("class assembly", function()
  it("knows the module of every method, and each method is that module's", function()
    class.assemble(class.MODULES, true) -- the lazy modules' methods in place of the stubs
    for key, methods in pairs { FTP = core.FTP_methods, Data = core.Data_methods } do
      local count = 0
      for name, fn in pairs(methods) do
        local module = class.defined_by[key][name]
        assert(module, key .. ":" .. name .. " has no declared module")
        if module ~= "ftplib.core" then
          assert.equal(fn, require(module)[key][name])
          count = count + 1
        end
      end
      assert(count > 0)
    end
    assert.equal("ftplib.protocol.commands", class.defined_by.FTP.cwd)
    assert.equal("ftplib.protocol.control", class.defined_by.FTP.login)
    assert.equal("ftplib.protocol.data_channel", class.defined_by.Data.close)
  end)

  it("defines login once, its steps in the modules that own them", function()
    local by = class.defined_by.FTP
    assert.equal("ftplib.protocol.control", by.login)
    assert.equal("ftplib.protocol.control", by._log_in)
    assert.equal("ftplib.protocol.tls", by._secure_channel)
    assert.equal("ftplib.protocol.tls", by._protect_data)
    assert.equal("ftplib.protocol.encoding", by._negotiate_names)
  end)

  it("adds methods nowhere else: no module touches the core's method tables", function()
    for _, name in ipairs(method_modules()) do
      local text = source_of(name)
      assert.is_nil(text:find("FTP_methods", 1, true), name .. " names core.FTP_methods")
      assert.is_nil(text:find("Data_methods", 1, true), name .. " names core.Data_methods")
      assert.is_nil(text:find("getregistry", 1, true), name .. " changes a metatable")
    end
  end)

  it("loads a helper's module at the first call of one of its methods", function()
    local mirror = require("ftplib.ops.mirror").FTP
    class.assemble(class.MODULES)
    assert.are_not.equal(mirror.mirror, core.FTP_methods.mirror)
    assert.equal("ftplib.ops.mirror", class.defined_by.FTP.mirror_up)
    local ftp = ftplib.FTP()
    -- Not connected: the module's own method answers (it raises for the bad folder type).
    local ok, err = pcall(ftp.mirror, ftp, 1, 2)
    assert.is_false(ok)
    assert.matches("mirror", err)
    assert.equal(mirror.mirror, core.FTP_methods.mirror)
    assert.equal(mirror.mirror_up, core.FTP_methods.mirror_up)
    ftp:close()
  end)

  it("leaves the helpers' modules unloaded until a script uses them", function()
    local lua = "lua5.4"
    local probe = "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path; "
      .. "package.cpath = '" .. (package.cpath:match("[^;]*") or "") .. ";' .. package.cpath; "
      .. "require 'ftplib'; local n = {}; for name in pairs(package.loaded) do "
      .. "if name:match('^ftplib%.ops%.') and name ~= 'ftplib.ops.safename' then "
      .. "n[#n + 1] = name end end; io.write(table.concat(n, ' '))"
    local pipe = assert(io.popen(("cd %q && %s -e %q"):format(ROOT, lua, probe)))
    local loaded = pipe:read("a")
    assert.is_true(pipe:close())
    assert.equal("", loaded)
  end)

  it("declares exactly the methods of each lazy module, and the lazy exports", function()
    assert.has_no.errors(function() class.assemble(class.MODULES, true) end)
    for name, keys in pairs(ftplib._LAZY_EXPORTS) do
      local exports, declared = require(name).exports, {}
      for _, key in ipairs(keys) do
        declared[key] = true
        assert.is_function(exports[key], name .. " exports " .. key)
        assert.is_function(ftplib[key])
      end
      for key in pairs(exports) do
        assert(declared[key], name .. "'s export " .. key .. " is not in ftplib._LAZY_EXPORTS")
      end
    end
    package.preload["spec_lazy"] = function()
      return { FTP = { spec_one = function() end, spec_two = function() end } }
    end
    class.LAZY["spec_lazy"] = { "spec_one" }
    local modules = { FTP = { "spec_lazy" }, FTP_TLS = {}, Data = {} }
    local ok, err = pcall(class.assemble, modules, true)
    class.LAZY["spec_lazy"], package.preload["spec_lazy"] = nil, nil
    package.loaded["spec_lazy"] = nil
    class.assemble(class.MODULES)
    assert.is_false(ok)
    assert.matches("FTP:spec_two of spec_lazy is not in class.LAZY", err, 1, true)
  end)

  it("raises for a method defined twice", function()
    package.preload["spec_class_a"] = function() return { FTP = { twice = function() end } } end
    package.preload["spec_class_b"] = function() return { FTP = { twice = function() end } } end
    local modules = { FTP = class.MODULES.FTP, Data = class.MODULES.Data,
      FTP_TLS = { "ftplib.protocol.tls", "spec_class_a", "spec_class_b" } }
    local ok, err = pcall(class.assemble, modules)
    package.preload["spec_class_a"], package.preload["spec_class_b"] = nil, nil
    package.loaded["spec_class_a"], package.loaded["spec_class_b"] = nil, nil
    -- Assembled again from the declared modules: the classes are as they were.
    local defined_by = class.assemble(class.MODULES)
    assert.is_false(ok)
    assert.matches("FTP:twice is defined by both spec_class_a and spec_class_b", err, 1, true)
    assert.is_nil(core.FTP_methods.twice)
    assert.equal(require("ftplib.protocol.commands").FTP.cwd, core.FTP_methods.cwd)
    assert.same(class.defined_by, defined_by)
  end)

  it("raises for a module redefining a method of the core", function()
    package.preload["spec_class_c"] = function() return { Data = { _recv = function() end } } end
    local ok, err = pcall(class.assemble, { FTP = {}, FTP_TLS = {}, Data = { "spec_class_c" } })
    package.preload["spec_class_c"], package.loaded["spec_class_c"] = nil, nil
    class.assemble(class.MODULES)
    assert.is_false(ok)
    assert.matches("Data:_recv is defined by both ftplib.core and spec_class_c", err, 1, true)
    assert.equal("ftplib.protocol.data_channel", class.defined_by.Data.recv)
    assert.is_function(core.Data_methods.recv)
  end)

  it("sets every metamethod of FTP and Data", function()
    local registry = debug.getregistry()
    for _, mt in ipairs { registry["ftplib.FTP"], registry["ftplib.Data"] } do
      for _, event in ipairs { "__gc", "__tostring", "__index", "__newindex", "__close" } do
        assert.is_function(mt[event], event)
      end
    end
    assert.equal(core.Data_methods.close, registry["ftplib.Data"].__close)
  end)

  -- A key used on a session (self.x, ftp.x, ...) or on a data connection (data.x) in the
  -- sources: a method, a field declared in class.lua, or a mistake.
  it("declares every field the sources use", function()
    local FTP_RECEIVERS = { self = true, ftp = true, copy = true }
    local undeclared = {}
    local modules = method_modules()
    for _, extra in ipairs { "ftplib", "ftplib.protocol.session", "ftplib.protocol.keepalive",
        "ftplib.ops.parallel", "ftplib.ops.copy" } do
      modules[#modules + 1] = extra
    end
    for _, name in ipairs(modules) do
      local text = source_of(name)
      for receiver, key in text:gmatch("%f[%w_]([%a_][%w_]*)%.([%a_][%w_]*)") do
        local known
        -- copy.lua's src and dst are sessions; elsewhere they are listing entries.
        if FTP_RECEIVERS[receiver] or name == "ftplib.ops.copy" and (receiver == "src"
            or receiver == "dst") then
          known = class.FTP_FIELDS[key] or core.FTP_methods[key]
            or class.DATA_FIELDS[key] or core.Data_methods[key] -- self in Data's methods
        elseif receiver == "data" or receiver == "conn" then
          known = class.DATA_FIELDS[key] or core.Data_methods[key] or core.FTP_methods[key]
        else
          known = true
        end
        if not known then
          undeclared[#undeclared + 1] = name .. ": " .. receiver .. "." .. key
        end
      end
    end
    assert.same({}, undeclared)
  end)

  it("declares no field nobody uses", function()
    local used = {}
    local modules = method_modules()
    for _, extra in ipairs { "ftplib", "ftplib.protocol.session", "ftplib.protocol.keepalive",
        "ftplib.ops.parallel" } do
      modules[#modules + 1] = extra
    end
    for _, name in ipairs(modules) do
      for key in source_of(name):gmatch("[%w_]%.([%a_][%w_]*)") do
        used[key] = true
      end
    end
    for _, fields in ipairs { class.FTP_FIELDS, class.DATA_FIELDS } do
      for key in pairs(fields) do
        assert(used[key], "declared but not used: " .. key)
      end
    end
  end)
end)
