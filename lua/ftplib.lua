local core = require "ftplib.core"
local ftplib = { _core = core }
return ftplib
