-- ftplib for Lua: an FTP and FTPS client. This file is the public face:
-- constructors and module-level settings. The methods live in lua/ftplib/.
local core = require "ftplib.core"
local util = require "ftplib.util"
local control = require "ftplib.control"
require "ftplib.commands"
require "ftplib.datachan"
require "ftplib.transfer"
require "ftplib.listing"

local ftplib = {
  _VERSION = "ftplib scm",
  _core = core,
}

local FTP_mt = debug.getregistry()["ftplib.FTP"]
FTP_mt.__close = control.close_at_scope_end

-- Options and their types, so that a misspelled or mistyped option fails
-- loudly instead of being ignored.
local option_types = {
  host = "string", port = "number|string", user = "string", passwd = "string",
  acct = "string", timeout = "number", source_address = "string|table",
  encoding = "string", passive = "boolean", debuglevel = "number",
  debugfunc = "function", trust_server_pasv_ipv4_address = "boolean",
  use_epsv = "boolean", maxline = "number", maxreply = "number", tls = "table",
  port_range = "table",
}

local function check_options(fname, opts)
  for key, value in pairs(opts) do
    local types = option_types[key]
    if not types then
      util.raise(string.format("unknown option '%s' to '%s'", tostring(key), fname))
    end
    util.check(fname, 2, value, types)
  end
end

local function apply_options(self, opts)
  self.timeout = opts.timeout or 60
  if self.timeout <= 0 then
    util.raise("timeout must be a positive number of seconds")
  end
  self.passive = opts.passive ~= false
  self.use_epsv = opts.use_epsv ~= false
  self.trust_server_pasv_ipv4_address = opts.trust_server_pasv_ipv4_address or false
  self.maxline = opts.maxline or 8192
  self.maxreply = opts.maxreply or math.max(1 << 20, self.maxline)
  self:_limits(self.maxline, self.maxreply)
  self.debuglevel = opts.debuglevel or 0
  self.debugfunc = opts.debugfunc
  self.encoding = opts.encoding
  self.source_address = opts.source_address
  self.user, self.passwd, self.acct = opts.user, opts.passwd, opts.acct
  self.port = opts.port
  self.port_range = opts.port_range
end

-- ftplib.FTP(host, opts), ftplib.FTP{host = ..., ...} or ftplib.FTP().
-- With a host it connects; with a user too it logs in.
function ftplib.FTP(host, opts)
  if type(host) == "table" then
    host, opts = host.host, host
  end
  util.check("FTP", 1, host, "string|nil")
  opts = util.check("FTP", 2, opts or {}, "table")
  check_options("FTP", opts)
  local self = core.FTP_new()
  apply_options(self, opts)
  if host == nil then
    return self
  end
  local ok, err, code = self:connect(host, opts.port)
  if ok and opts.user then
    ok, err, code = self:login(opts.user, opts.passwd, opts.acct)
  end
  if not ok then
    self:close()
    return nil, err, code
  end
  return self
end

function ftplib.set_debugfunc(fn)
  control.default_debugfunc = util.check("set_debugfunc", 1, fn, "function")
end

return ftplib
