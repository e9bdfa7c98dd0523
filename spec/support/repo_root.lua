-- The repository's root, as an absolute path, for specs that read the sources or run
-- tools there: found from this file's own place (spec/support/), so it does not depend
-- on the folder busted was started in nor on how deep the spec using it sits in spec/.
local lfs = require "lfs"

local here = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or "."
if here:sub(1, 1) ~= "/" then
  here = lfs.currentdir() .. "/" .. here
end
return (here:gsub("/%.?/?spec/support$", ""))
