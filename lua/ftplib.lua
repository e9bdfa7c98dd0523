-- ftplib for Lua: an FTP and FTPS client. This file is the public face:
-- constructors and module-level settings. The methods live in lua/ftplib/.
local core = require "ftplib.core"
local util = require "ftplib.util"
local control = require "ftplib.control"
require "ftplib.commands"
require "ftplib.datachan"
require "ftplib.transfer"
require "ftplib.listing"
require "ftplib.tls"
require "ftplib.encoding"
require "ftplib.list"
require "ftplib.files"
require "ftplib.mirror"
require "ftplib.parallel"
require "ftplib.many"

local ftplib = {
  -- The release: rockspec/ftplib-0.1.0-1.rockspec (spec/rockspec_spec.lua keeps them equal).
  _VERSION = "ftplib 0.1.0",
  _core = core,
}

-- Modules whose `exports` table becomes functions of the ftplib table itself
-- (ftplib.copy, ftplib.get, ftplib.spawn, ...). They require "ftplib" lazily,
-- inside their functions, when they need the constructors.
for _, name in ipairs { "ftplib.listparse", "ftplib.copy", "ftplib.url", "ftplib.sched",
    "ftplib.safename" } do
  for key, fn in pairs(require(name).exports or {}) do
    ftplib[key] = fn
  end
end

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
  port_range = "table", keepalive = "number", maxlisting = "number",
}

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
  self:_set_encoding(opts.encoding) -- raises for a name iconv does not know
  self.source_address = opts.source_address
  self.user, self.passwd, self.acct = opts.user, opts.passwd, opts.acct
  self.port = opts.port
  self.port_range = opts.port_range
  self.keepalive = opts.keepalive -- seconds between NOOPs during a transfer; nil: none
  self.maxlisting = opts.maxlisting
end

local tls_option_types = {
  cafile = "string", capath = "string", verify = "boolean", certfile = "string",
  keyfile = "string", servername = "string", min_version = "string",
  max_version = "string", ciphers = "string", ciphersuites = "string", implicit = "boolean",
}

local function check_tls_options(tls)
  for key, value in pairs(tls) do
    local types = tls_option_types[key]
    if not types then
      util.raise(string.format("unknown TLS option '%s' to 'FTP_TLS'", tostring(key)))
    end
    util.check("FTP_TLS", 2, value, types)
  end
end

-- Both constructors accept (host, opts), ({host = ..., ...}) and ().
local function arguments(fname, host, opts)
  if type(host) == "table" then
    host, opts = host.host, host
  end
  util.check(fname, 1, host, "string|nil")
  return host, util.check_options(fname, 2, opts, option_types)
end

-- With a host, connects; with a user too, logs in.
local function open(self, host, opts)
  if host == nil then
    return self
  end
  local ok, err, code = self:connect(host, opts.port or self.port)
  if ok and opts.user then
    ok, err, code = self:login(opts.user, opts.passwd, opts.acct)
  end
  if not ok then
    self:close()
    return nil, err, code
  end
  return self
end

-- ftplib.FTP(host, opts), ftplib.FTP{host = ..., ...} or ftplib.FTP().
function ftplib.FTP(host, opts)
  host, opts = arguments("FTP", host, opts)
  local self = core.FTP_new()
  apply_options(self, opts)
  return open(self, host, opts)
end

-- Explicit FTPS (AUTH TLS at login) or, with tls.implicit, TLS from the
-- first byte on port 990. Certificates are verified unless tls.verify is
-- false; data connections are protected (PROT P) after login.
function ftplib.FTP_TLS(host, opts)
  host, opts = arguments("FTP_TLS", host, opts)
  local tls = opts.tls or {}
  check_tls_options(tls)
  local self = core.FTP_new()
  apply_options(self, opts)
  local ctx, err, code = core.TLS_new(tls)
  if not ctx then
    return nil, err, code
  end
  self._tls_ctx, self._tls_implicit = ctx, tls.implicit or false
  self._tls_opts = tls -- for sessions cloned from this one (parallel mirror)
  self._tls_servername = tls.servername
  self._want_prot_p = true
  if self._tls_implicit and not opts.port then
    self.port = 990
  end
  return open(self, host, opts)
end

function ftplib.set_debugfunc(fn)
  control.default_debugfunc = util.check("set_debugfunc", 1, fn, "function")
end

return ftplib
