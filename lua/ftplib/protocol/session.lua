-- Making sessions: the constructors behind ftplib.FTP and ftplib.FTP_TLS
-- (documented in lua/ftplib.lua, with their options), and the checks of
-- their options. The objects come from the core; their methods are those
-- lua/ftplib/class.lua assembled (lua/ftplib.lua loads it first). The
-- helpers that open sessions of their own (URLs, parallel clones) make
-- them here.
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
local utc = require "ftplib.base.utc"
local urlparse = require "ftplib.parsers.url"

local session = {}

-- The options (documented in lua/ftplib.lua: @table options) and their
-- types, so that a misspelled or mistyped option fails loudly instead of
-- being ignored.
local option_types = {
  host = "string", port = "number|string", user = "string", passwd = "string",
  acct = "string", timeout = "number", source_address = "string|table",
  encoding = "string", passive = "boolean", debuglevel = "number",
  debugfunc = "function", trust_server_pasv_ipv4_address = "boolean",
  use_epsv = "boolean", pipelining = "boolean", maxline = "number", maxreply = "number",
  tls = "table",
  port_range = "table", keepalive = "number", maxlisting = "number", implicit = "boolean",
  timezone = "number|string",
  proxy = "string", mode_z = "boolean", mode_z_upload = "boolean",
}

-- Options of FTP_TLS alone: a plain FTP session given them raises rather than run
-- in clear text a script believes protected.
local TLS_ONLY = { tls = true, implicit = true }

-- The timezone option: an offset now, or "auto" (found by ops/timezone.lua
-- at the first LIST that shows a file's time of day).
function session.set_timezone(self, value)
  self.timezone, self._tz_offset, self._tz_note = value, nil, nil
  if value ~= nil and value ~= "auto" then
    local offset, why = utc.parse_offset(value)
    if not offset then
      checks.raise("option timezone: " .. why .. " (or \"auto\")")
    end
    self._tz_offset = offset
  end
end

local function apply_options(self, opts)
  self.timeout = opts.timeout or 60
  if self.timeout <= 0 then
    checks.raise("timeout must be a positive number of seconds")
  end
  self.passive = opts.passive ~= false
  self.use_epsv = opts.use_epsv ~= false
  self.pipelining = opts.pipelining ~= false
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
  session.set_timezone(self, opts.timezone)
  self.proxy = opts.proxy
  self.mode_z = opts.mode_z or false
  self.mode_z_upload = opts.mode_z_upload or false
  self._proxy = opts.proxy and urlparse.parse_proxy(opts.proxy) -- raises for a malformed URL
end

-- The TLS options (lua/ftplib.lua: @table tls_options).
local tls_option_types = {
  cafile = "string", capath = "string", verify = "boolean", certfile = "string",
  keyfile = "string", servername = "string", min_version = "string",
  max_version = "string", ciphers = "string", ciphersuites = "string", implicit = "boolean",
}

local TLS_VERSIONS = { ["TLSv1.2"] = true, ["TLSv1.3"] = true }

local function check_tls_options(tls)
  for key, value in pairs(tls) do
    local types = tls_option_types[key]
    if not types then
      checks.raise(string.format("unknown TLS option '%s' to 'FTP_TLS'", tostring(key)))
    end
    checks.check("FTP_TLS", 2, value, types)
    if (key == "min_version" or key == "max_version") and not TLS_VERSIONS[value] then
      checks.raise(string.format("TLS option '%s' must be \"TLSv1.2\" or \"TLSv1.3\", got %q",
        key, value))
    end
  end
end

-- Both constructors accept (host, opts), ({host = ..., ...}) and ().
local function arguments(fname, host, opts)
  if type(host) == "table" then
    host, opts = host.host, host
  end
  checks.check(fname, 1, host, "string|nil")
  return host, checks.check_options(fname, 2, opts, option_types)
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

function session.FTP(host, opts)
  host, opts = arguments("FTP", host, opts)
  for key in pairs(TLS_ONLY) do
    if opts[key] ~= nil then
      checks.raise(string.format("option '%s' is for ftplib.FTP_TLS, not ftplib.FTP", key))
    end
  end
  local self = core.FTP_new()
  apply_options(self, opts)
  return open(self, host, opts)
end

function session.FTP_TLS(host, opts)
  host, opts = arguments("FTP_TLS", host, opts)
  local tls = opts.tls or {}
  check_tls_options(tls)
  if opts.implicit ~= nil then -- DESIGN's spelling of tls.implicit
    local merged = { implicit = opts.implicit }
    for key, value in pairs(tls) do
      if key ~= "implicit" then
        merged[key] = value
      end
    end
    tls = merged
  end
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

session.option_types, session.tls_option_types = option_types, tls_option_types

return session
