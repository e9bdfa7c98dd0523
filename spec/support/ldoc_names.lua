-- An LDoc filter for spec/package/reference_spec.lua: `ldoc --filter ldoc_names.print .` (with
-- spec/support on LUA_PATH) hands it what LDoc documented, and it prints one line per
-- entry, fields separated by tabs:
--   item   module  name  type          (an entry: function, table, field, ...)
--   param  module  name  parameter     (a parameter or field; `opts.x` for an option)
-- It runs inside LDoc, so under Lua 5.1 or 5.2: plain Lua, no 5.4 features.
local ldoc_names = {}

local function line(...)
  print(table.concat({ ... }, "\t"))
end

function ldoc_names.print(modules)
  for _, module in ipairs(modules) do
    for _, item in ipairs(module.items) do
      line("item", module.name, item.name, item.type)
      local subparams = item.subparams or {}
      for _, param in ipairs(item.params or {}) do
        line("param", module.name, item.name, param)
        for _, sub in ipairs(subparams[param] or {}) do
          line("param", module.name, item.name, sub)
        end
      end
    end
  end
end

return ldoc_names
