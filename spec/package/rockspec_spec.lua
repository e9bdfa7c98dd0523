-- The rockspecs list their files by hand: these specs fail when a source file is added
-- without them, check that the release (a git tag) and the scm rockspec agree and that
-- ftplib._VERSION names the release, and that `luarocks make` builds a tree from which
-- the module loads and the tool runs.
local lfs = require "lfs"

local SCM = "rockspec/ftplib-scm-1.rockspec"
local RELEASE = "rockspec/ftplib-0.1.0-1.rockspec"

local ROOT = require "spec.support.repo_root"
local HINT = "\n(`make rockspec` rewrites the rockspec's file lists)"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns success and everything it printed.
local function run(cmd)
  local pipe = assert(io.popen(cmd .. " 2>&1", "r"))
  local output = pipe:read("a")
  local ok = pipe:close()
  return ok == true, output
end

local function files_in(dir, suffix)
  local found = {}
  if lfs.attributes(ROOT .. "/" .. dir, "mode") ~= "directory" then
    return found
  end
  for name in lfs.dir(ROOT .. "/" .. dir) do
    local path = dir .. "/" .. name
    local matches = suffix == "" or name:sub(-#suffix) == suffix
    if matches and lfs.attributes(ROOT .. "/" .. path, "mode") == "file" then
      found[#found + 1] = path
    end
  end
  table.sort(found)
  return found
end

-- The .lua files under dir and its layer folders (lua/ftplib/protocol/, ...).
local function lua_files_under(dir)
  local found = files_in(dir, ".lua")
  for name in lfs.dir(ROOT .. "/" .. dir) do
    local path = dir .. "/" .. name
    if name:sub(1, 1) ~= "." and lfs.attributes(ROOT .. "/" .. path, "mode") == "directory" then
      local below = lua_files_under(path)
      table.move(below, 1, #below, #found + 1, found)
    end
  end
  return found
end

local function load_rockspec(rockspec)
  local env = {}
  local chunk = assert(loadfile(ROOT .. "/" .. rockspec, "t", env))
  chunk()
  return env
end

local function make_temp_dir()
  local path = os.tmpname()
  os.remove(path)
  assert(lfs.mkdir(path))
  return path
end

local function remove_tree(path)
  if path and path:match("^/tmp/.") then
    os.execute("rm -rf " .. quote(path))
  end
end

local function set_of(list)
  local set = {}
  for _, v in ipairs(list or {}) do set[v] = true end
  return set
end

-- Entries of `listed` that are not in `actual` and the other way round, as messages.
local function mismatches(actual, listed, where, rockspec)
  local problems = {}
  local listed_set, actual_set = set_of(listed), set_of(actual)
  for _, path in ipairs(actual) do
    if not listed_set[path] then
      problems[#problems + 1] = ("%s exists but is missing from %s in %s")
        :format(path, where, rockspec)
    end
  end
  for _, path in ipairs(listed or {}) do
    if not actual_set[path] then
      problems[#problems + 1] = ("%s is listed in %s in %s but does not exist")
        :format(path, where, rockspec)
    end
  end
  return problems
end

-- The checks every rockspec passes: its identity and its file lists against the tree.
local function describe_rockspec(rockspec, version)
describe("rockspec " .. rockspec, function()
  local spec = load_rockspec(rockspec)
  local modules = spec.build and spec.build.modules or {}

  it("has the expected identity", function()
    assert.are.equal("3.0", spec.rockspec_format)
    assert.are.equal("ftplib", spec.package)
    assert.are.equal(version, spec.version)
    assert.are.equal("builtin", spec.build.type)
    assert.are.equal("lua/ftplib.lua", modules.ftplib)
    assert.are.equal("MIT", spec.description.license)
    assert.are.same({ "linux" }, spec.supported_platforms)
  end)

  it("lists every src/*.c in ftplib.core's sources", function()
    local core = modules["ftplib.core"]
    assert.is_table(core, "build.modules['ftplib.core'] is missing")
    local listed = {}
    for _, source in ipairs(core.sources or {}) do listed[#listed + 1] = source end
    table.sort(listed)
    local problems = mismatches(files_in("src", ".c"), listed,
      "build.modules['ftplib.core'].sources", rockspec)
    assert(#problems == 0, "\n" .. table.concat(problems, "\n") .. HINT)
  end)

  it("lists every lua/ftplib/**.lua as a module ftplib.<folder>.<name>", function()
    local problems = {}
    for _, path in ipairs(lua_files_under("lua/ftplib")) do
      local name = path:match("^lua/(.*)%.lua$"):gsub("/", ".")
      if modules[name] ~= path then
        problems[#problems + 1] = ("%s exists but build.modules[%q] is %s, want %q")
          :format(path, name, tostring(modules[name]), path)
      end
    end
    for name, value in pairs(modules) do
      if type(value) == "string" and lfs.attributes(ROOT .. "/" .. value, "mode") ~= "file" then
        problems[#problems + 1] = ("build.modules[%q] = %q: no such file"):format(name, value)
      end
    end
    table.sort(problems)
    assert(#problems == 0, "\n" .. table.concat(problems, "\n") .. HINT)
  end)

  it("lists every bin/ file in build.install.bin", function()
    local bin = spec.build.install and spec.build.install.bin or {}
    local listed = {}
    for _, path in pairs(bin) do listed[#listed + 1] = path end
    table.sort(listed)
    local problems = mismatches(files_in("bin", ""), listed, "build.install.bin", rockspec)
    assert(#problems == 0, "\n" .. table.concat(problems, "\n") .. HINT)
  end)

  describe("luarocks make", function()
    local work, tree

    before_each(function()
      work, tree = make_temp_dir(), make_temp_dir()
    end)

    after_each(function()
      remove_tree(work)
      remove_tree(tree)
    end)

    it("installs a tree from which ftplib and ftplib.core load", function()
      -- Build in a copy of the working tree: `luarocks make` writes objects next to the
      -- sources and the module into the current directory.
      local excludes = "--exclude=./.git --exclude=./build --exclude='./build-*'"
        .. " --exclude=./fuzz/out --exclude=./lua_modules --exclude=./.luarocks"
      local ok, output = run(("tar -C %s %s -cf - . | tar -C %s -xf -")
        :format(quote(ROOT), excludes, quote(work)))
      assert(ok, "copying the working tree failed:\n" .. output)

      -- --deps-mode=none: LuaFileSystem comes from Debian (lua-filesystem), which
      -- LuaRocks does not see, and no rocks registry is reachable here.
      ok, output = run(("cd %s && luarocks --lua-version=5.4 make --deps-mode=none --tree=%s %s")
        :format(quote(work), quote(tree), rockspec))
      assert(ok, "luarocks make failed:\n" .. output)

      -- A fresh interpreter that sees only the installed tree (-E: ignore LUA_PATH etc.).
      local probe = ([[
        package.path = %q .. "/share/lua/5.4/?.lua;" .. %q .. "/share/lua/5.4/?/init.lua"
        -- The installed tree first; the system's folders only for dependencies (lfs).
        package.cpath = %q .. "/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so"
        local ftplib = require "ftplib"
        local core = require "ftplib.core"
        assert(type(ftplib) == "table", "ftplib is " .. type(ftplib))
        assert(type(core) == "table", "ftplib.core is " .. type(core))
        print(package.searchpath("ftplib", package.path))
        print(package.searchpath("ftplib.core", package.cpath))
      ]]):format(tree, tree, tree)
      ok, output = run(("lua5.4 -E -e %s"):format(quote(probe)))
      assert(ok, "loading the installed module failed:\n" .. output)
      assert.are.equal(tree .. "/share/lua/5.4/ftplib.lua\n"
        .. tree .. "/lib/lua/5.4/ftplib/core.so\n", output)

      -- The installed tool through LuaRocks' wrapper, seeing the tree as `luarocks path`
      -- says (the _5_4 variables would take precedence), run outside the checkout.
      ok, output = run(("cd %s && unset LUA_PATH_5_4 LUA_CPATH_5_4 && "
        .. "eval \"$(luarocks --lua-version=5.4 path --tree=%s)\" && bin/ftplib --version")
        :format(quote(tree), quote(tree)))
      assert(ok, "the installed ftplib --version failed:\n" .. output)
      assert.are.equal(require("ftplib")._VERSION .. "\n", output)
    end)
  end)
end)
end

describe_rockspec(SCM, "scm-1")
describe_rockspec(RELEASE, "0.1.0-1")

describe("the release " .. RELEASE, function()
  local release, scm = load_rockspec(RELEASE), load_rockspec(SCM)

  it("is built from its git tag", function()
    assert.matches("^git%+https://", release.source.url)
    assert.are.equal("v" .. release.version:match("^(.*)%-%d+$"), release.source.tag)
  end)

  it("is the version ftplib._VERSION names", function()
    assert.are.equal("ftplib " .. release.version:match("^(.*)%-%d+$"), require("ftplib")._VERSION)
  end)

  it("ships the MIT license its rockspecs name", function()
    local file = assert(io.open(ROOT .. "/LICENSE", "r"))
    local text = file:read("a")
    file:close()
    assert.matches("^MIT License\n\nCopyright %(c%) %d+ the ftplib for Lua authors\n", text)
    assert.are.equal("MIT", release.description.license)
  end)

  it("agrees with the scm rockspec in all but version and source", function()
    release.version, release.source, scm.version, scm.source = nil, nil, nil, nil
    assert.are.same(scm, release)
  end)
end)
