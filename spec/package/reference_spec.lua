-- The reference (`make doc`: LDoc over config.ld) has an entry for every public name.
-- The names come from the live objects: the keys of the module table, the methods of
-- FTP, FTP_TLS and Data objects and of scheduler tasks, the keys of every option table
-- (ftplib._option_types). The entries come from LDoc itself, through a filter
-- (spec/support/ldoc_names.lua) that prints what it documented, so this sees what the
-- reader sees: a public function, method or option without a comment fails here, as
-- does an entry for something that no longer exists. The HTML is built once too: any
-- LDoc warning (a broken comment or reference) fails.
local ftplib = require "ftplib"

local core = ftplib._core

local ROOT = require "spec.support.repo_root"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command in the checkout: success, stdout, stderr.
local function run(cmd)
  local err_file = os.tmpname()
  local pipe = assert(io.popen(("cd %s && %s 2>%s"):format(quote(ROOT), cmd, quote(err_file))))
  local out = pipe:read("a")
  local ok = pipe:close()
  local file = assert(io.open(err_file))
  local err = file:read("a")
  file:close()
  os.remove(err_file)
  return ok == true, out, err
end

local function require_ldoc()
  local ok = run("command -v ldoc >/dev/null")
  assert(ok, "ldoc is not installed: `make setup` installs it (Debian's lua-ldoc)")
end

local function sorted_keys(set)
  local list = {}
  for key in pairs(set) do
    list[#list + 1] = key
  end
  table.sort(list)
  return list
end

-- What LDoc documented: items[module][name] = type, params[module][name] = {param = true}.
local function documented()
  require_ldoc()
  local ok, out, err = run("LUA_PATH='spec/support/?.lua;;' ldoc --filter ldoc_names.print .")
  assert(ok, "ldoc --filter failed:\n" .. err .. out)
  local items, params = {}, {}
  for kind, module, name, what in out:gmatch("(%a+)\t([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)\n") do
    if kind == "item" then
      items[module] = items[module] or {}
      items[module][name] = what
    elseif kind == "param" then
      params[module] = params[module] or {}
      params[module][name] = params[module][name] or {}
      params[module][name][what] = true
    end
  end
  assert(items.ftplib and items.FTP, "the LDoc filter printed no entries:\n" .. err .. out)
  return items, params
end

local items, params = documented()

-- Whether `name` has an entry in one of the modules (the pages) given.
local function has_entry(modules, name)
  for _, module in ipairs(modules) do
    if (items[module] or {})[name] then
      return true
    end
  end
  return false
end

-- The public names of a method table: functions not starting with "_".
local function method_names(methods)
  local names = {}
  for name, value in pairs(methods) do
    if type(name) == "string" and not name:find("^_") and type(value) == "function" then
      names[name] = true
    end
  end
  return names
end

local function missing_message(what, missing)
  return ("no reference entry for %s: %s (an LDoc comment at its definition; see config.ld)")
    :format(what, table.concat(missing, ", "))
end

-- Each name of `names` must have an entry `prefix .. name` on one of `modules`.
local function assert_documented(what, names, modules, prefixes)
  local missing = {}
  for _, name in ipairs(sorted_keys(names)) do
    local found = false
    for _, prefix in ipairs(prefixes) do
      found = found or has_entry(modules, prefix .. name)
    end
    if not found then
      missing[#missing + 1] = prefixes[1] .. name
    end
  end
  assert(#missing == 0, missing_message(what, missing))
end

-- Each entry named `prefix .. x` on the pages must be a live name: no stale entries.
local function assert_live(what, names, modules, prefix)
  local stale = {}
  for _, module in ipairs(modules) do
    for name, kind in pairs(items[module] or {}) do
      local short = name:sub(1, #prefix) == prefix and name:sub(#prefix + 1)
      if short and kind == "function" and not names[short] then
        stale[#stale + 1] = name
      end
    end
  end
  table.sort(stale)
  assert(#stale == 0, ("reference entries for %s that do not exist: %s")
    :format(what, table.concat(stale, ", ")))
end

local FTP_PAGES = { "FTP", "FTP_TLS", "helpers" }

-- The pages under dir (paths relative to it) and their text.
local function read_pages(dir)
  local ok, list = run("cd " .. quote(dir) .. " && find . -name '*.html'")
  assert(ok, "cannot list " .. dir)
  local pages = {}
  for path in list:gmatch("%./([^\n]+)") do
    local file = assert(io.open(dir .. "/" .. path))
    pages[path] = file:read("a")
    file:close()
  end
  return pages
end

-- "classes/" .. "../modules/x.html" is "modules/x.html".
local function resolve(from, href)
  local path = (from:match("^(.*/)") or "") .. href
  repeat
    local before = path
    path = path:gsub("[^/]+/%.%./", "", 1)
  until path == before
  return path
end

-- The links between pages that land on no anchor: LDoc does not warn of those.
local function broken_links(pages)
  local anchors, broken = {}, {}
  for path, text in pairs(pages) do
    anchors[path] = {}
    for name in text:gmatch('<a name%s*=%s*"([^"]*)"') do
      anchors[path][name] = true
    end
  end
  for path, text in pairs(pages) do
    for href in text:gmatch('href="([^"]*)"') do
      local target, anchor = href:match("^([^#]*)#?(.*)$")
      if not href:find("^%a+:") and not href:find("%.css$") then
        local page = target == "" and path or resolve(path, target)
        if not anchors[page] or (anchor ~= "" and not anchors[page][anchor]) then
          broken[#broken + 1] = path .. ": " .. href
        end
      end
    end
  end
  table.sort(broken)
  return broken
end

describe("the reference", function()
  it("builds without an LDoc warning, and its links land on entries", function()
    require_ldoc()
    local dir = os.tmpname()
    os.remove(dir)
    local ok, out, err = run("ldoc --fatalwarnings -d " .. quote(dir) .. " . >/dev/null")
    local pages = ok and read_pages(dir) or {}
    run("rm -rf " .. quote(dir))
    assert(ok and err == "", "LDoc warnings:\n" .. err .. out)
    assert(pages["index.html"], "ldoc wrote no index.html")
    local broken = broken_links(pages)
    assert(#broken == 0, "links to no entry:\n" .. table.concat(broken, "\n"))
  end)

  it("has an entry for every function and field of the module", function()
    local names = {}
    for name in pairs(ftplib) do
      if not name:find("^_") or name == "_VERSION" then
        names[name] = true
      end
    end
    -- Module functions are documented on the page of their topic (scheduler, helpers)
    -- as ftplib.name, or on the module's own page by their short name.
    local pages = { "ftplib", "helpers", "scheduler" }
    local missing = {}
    for _, name in ipairs(sorted_keys(names)) do
      if not (has_entry({ "ftplib" }, name) or has_entry(pages, "ftplib." .. name)) then
        missing[#missing + 1] = "ftplib." .. name
      end
    end
    assert(#missing == 0, missing_message("module names", missing))
    for _, page in ipairs(pages) do
      for name, kind in pairs(items[page] or {}) do
        local short = name:match("^ftplib%.(.+)$") or (page == "ftplib" and name)
        if short and (kind == "function" or kind == "field") then
          assert(ftplib[short] ~= nil, "a reference entry for ftplib." .. short
            .. ", which the module does not have")
        end
      end
    end
  end)

  it("has an entry for every method of FTP and FTP_TLS objects", function()
    local methods = method_names(core.FTP_methods)
    local ftp, ftps = ftplib.FTP(), ftplib.FTP_TLS()
    local FTP_mt = debug.getregistry()["ftplib.FTP"]
    assert.equal(FTP_mt, getmetatable(ftp))
    assert.equal(FTP_mt, getmetatable(ftps))
    for name in pairs(methods) do
      assert.equal(core.FTP_methods[name], ftp[name])
      assert.equal(core.FTP_methods[name], ftps[name])
    end
    ftp:close()
    ftps:close()
    -- An FTP_TLS object is an FTP object: its methods are documented on the FTP page
    -- (and the helpers'), those only FTPS has on the FTP_TLS page.
    assert_documented("FTP methods", methods, FTP_PAGES, { "FTP:", "FTP_TLS:" })
    assert_live("FTP methods", methods, FTP_PAGES, "FTP:")
    assert_live("FTP_TLS methods", methods, { "FTP_TLS" }, "FTP_TLS:")
  end)

  it("has an entry for every method of Data objects", function()
    local methods = method_names(core.Data_methods)
    local data = core.Data_new()
    assert.equal(debug.getregistry()["ftplib.Data"], getmetatable(data))
    for name in pairs(methods) do
      assert.equal(core.Data_methods[name], data[name])
    end
    data:close()
    assert_documented("Data methods", methods, { "FTP" }, { "Data:" })
    assert_live("Data methods", methods, { "FTP" }, "Data:")
  end)

  it("has an entry for every method of scheduler tasks", function()
    local task = ftplib.spawn(function() end)
    assert(ftplib.run())
    local methods = method_names(getmetatable(task).__index)
    assert.is_true(next(methods) ~= nil)
    assert_documented("task methods", methods, { "scheduler" }, { "Task:" })
    assert_live("task methods", methods, { "scheduler" }, "Task:")
  end)

  -- Where each function's options are documented: the page and the entry whose fields
  -- (a table) or `opts.` parameters (a function) name them.
  local OPTION_ENTRIES = {
    FTP = { "ftplib", "options", "" },
    FTP_TLS = { "ftplib", "options", "" },
    tls = { "ftplib", "tls_options", "" },
    list = { "helpers", "FTP:list", "opts." },
    walk = { "helpers", "FTP:walk", "opts." },
    download = { "helpers", "FTP:download", "opts." },
    upload = { "helpers", "FTP:upload", "opts." },
    retrbinary = { "FTP", "FTP:retrbinary", "opts." },
    storbinary = { "FTP", "FTP:storbinary", "opts." },
    download_many = { "helpers", "FTP:download_many", "opts." },
    mirror = { "helpers", "mirror_options", "" },
    mirror_up = { "helpers", "mirror_options", "" },
    copy = { "helpers", "ftplib.copy", "opts." },
    rmtree = { "helpers", "FTP:rmtree", "opts." },
    get = { "helpers", "url_options", "" },
    put = { "helpers", "url_options", "" },
    open = { "helpers", "url_options", "" },
  }

  it("has an entry for every option", function()
    local missing = {}
    local option_types = ftplib._option_types()
    for _, fname in ipairs(sorted_keys(option_types)) do
      local where = OPTION_ENTRIES[fname]
      assert(where, "the options of " .. fname .. " have no place in the reference: "
        .. "document them and add them to OPTION_ENTRIES in this spec")
      local page, entry, prefix = where[1], where[2], where[3]
      local documented_keys = (params[page] or {})[entry] or {}
      assert(has_entry({ page }, entry), "no reference entry " .. entry .. " on " .. page)
      for _, key in ipairs(sorted_keys(option_types[fname])) do
        if not documented_keys[prefix .. key] then
          missing[#missing + 1] = ("%s option %s (in %s)"):format(fname, key, entry)
        end
      end
    end
    assert(#missing == 0, missing_message("options", missing))
  end)

  it("documents no option that does not exist", function()
    local option_types = ftplib._option_types()
    -- An entry may document the options of several functions (url_options: get, put
    -- and open): each of its keys must be an option of one of them.
    local keys_of_entry, where_of_entry = {}, {}
    for fname, where in pairs(OPTION_ENTRIES) do
      local id = where[1] .. " " .. where[2]
      keys_of_entry[id], where_of_entry[id] = keys_of_entry[id] or {}, where
      for key in pairs(option_types[fname] or {}) do
        keys_of_entry[id][key] = true
      end
    end
    local stale = {}
    for id, keys in pairs(keys_of_entry) do
      local page, entry, prefix = table.unpack(where_of_entry[id])
      for param in pairs((params[page] or {})[entry] or {}) do
        local key = prefix == "" and param or param:match("^opts%.(.+)$")
        if key and not keys[key] then
          stale[#stale + 1] = ("option %s (in %s)"):format(key, entry)
        end
      end
    end
    table.sort(stale)
    assert(#stale == 0, "reference entries for options that do not exist: "
      .. table.concat(stale, ", "))
  end)
end)
