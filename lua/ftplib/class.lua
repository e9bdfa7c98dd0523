-- The classes of ftplib assembled in one place: which module gives which
-- methods of FTP, FTP_TLS and Data, in what order, their metamethods, and
-- the fields their objects hold. No other module adds a method to a class:
-- each returns its methods (module.FTP, module.Data) and this one puts them
-- in. A name defined twice raises here, at load time.
--
-- The C core (ftplib.core) makes the objects and gives them their methods
-- with a leading underscore that move bytes (_send, _reply, _recv, ...), and
-- __gc, __tostring, __index (methods first, then the object's field table)
-- and __newindex (the field table). An FTP_TLS session is an FTP object
-- with a TLS context (field _tls_ctx): one metatable, whose TLS methods
-- raise on a session without one.
local core = require "ftplib.core"

local class = {}

-- The modules whose methods make each class, in this order: each is built on
-- those before it (it calls their methods), never on those after it, but
-- through the hooks below. The order changes nothing at run time (a name
-- defined twice raises); spec/package/layers_spec.lua checks the sources keep it.
class.MODULES = {
  FTP = {
    -- protocol: one command, one reply, one transfer
    "ftplib.protocol.control",      -- connect, commands and replies, login, quit, close
    "ftplib.protocol.resync",       -- keeping the control connection in step
    "ftplib.protocol.commands",     -- single-reply commands: pwd, cwd, size, mdtm, feat, ...
    "ftplib.protocol.encoding",     -- names in the server's encoding; login's last step
    "ftplib.protocol.mode_z",       -- MODE Z (deflate) after login, transfer_mode
    "ftplib.protocol.abort",        -- abort, and stopping a transfer under way
    "ftplib.protocol.pipelining",   -- whether a transfer command may follow EPSV at once
    "ftplib.protocol.data_channel", -- opening data connections: EPSV, PASV, PORT, transfercmd
    "ftplib.protocol.transfer",     -- retrbinary, retrlines, storbinary, storlines
    "ftplib.protocol.listing",      -- nlst, dir, mlsd
    "ftplib.protocol.hash",         -- hash: a remote file's digest (HASH, XSHA256, ...)
    -- operations on files and trees, on top of the protocol
    "ftplib.ops.timezone",          -- the server's time zone, for LIST times
    "ftplib.ops.list",              -- list and walk (parsed listings, trees)
    "ftplib.ops.server_files",      -- exists, stat, makedirs, move, chmod, site
    "ftplib.ops.rmtree",            -- rmtree
    "ftplib.ops.retry",             -- bringing a session back for a helper's retry
    "ftplib.ops.whole_files",       -- download and upload of whole files
    "ftplib.ops.download_many",     -- download_many
    "ftplib.ops.mirror",            -- mirror and mirror_up
  },
  -- The methods of FTP_TLS sessions (the same class: see above), and login's
  -- steps securing the channel and protecting data.
  FTP_TLS = {
    "ftplib.protocol.tls",
  },
  Data = {
    "ftplib.protocol.data_channel", -- settimeout, recv, send, close
  },
}

-- Modules loaded at the first call of one of their methods, with the FTP
-- methods each defines: until then the class holds a stub under each name.
-- A script that only moves files never compiles them: 3-4 ms less at every
-- start and a third less of the Lua heap (about 350 KiB, and as much again
-- of the garbage the collector lets pile up during a transfer). The module
-- must define exactly these names (checked when it loads, and by
-- spec/package/class_spec.lua).
class.LAZY = {
  ["ftplib.protocol.listing"] = { "_listing_each", "_listing_lines", "dir", "mlsd", "nlst" },
  ["ftplib.protocol.hash"] = { "_hash_algorithm", "hash" },
  ["ftplib.ops.timezone"] = { "_times_to_utc", "server_timezone" },
  ["ftplib.ops.list"] = { "_folder_exists", "list", "walk" },
  ["ftplib.ops.server_files"] = { "chmod", "exists", "makedirs", "move", "site", "stat" },
  ["ftplib.ops.rmtree"] = { "rmtree" },
  ["ftplib.ops.retry"] = { "_restore" },
  ["ftplib.ops.whole_files"] = { "download", "upload" },
  ["ftplib.ops.download_many"] = { "download_many" },
  ["ftplib.ops.mirror"] = { "mirror", "mirror_up" },
}

-- Methods that a module calls and one later in class.MODULES defines: the
-- steps the control connection and the data connections leave to the
-- modules that know how (TLS, names, keeping in step, aborting). Each with
-- who calls it. No other call goes against the order.
class.HOOKS = {
  -- control: before each command of the library's own (_cmd)
  _check_in_step = "ftplib.protocol.resync",
  -- control: a command line in the server's encoding (putcmd), a reply from it
  _to_server = "ftplib.protocol.encoding",
  _from_server = "ftplib.protocol.encoding",
  -- control: login's steps, in order (FTP:login)
  _secure_channel = "ftplib.protocol.tls",  -- AUTH TLS, for FTP_TLS
  _protect_data = "ftplib.protocol.tls",    -- PBSZ 0, PROT P, for FTP_TLS
  _negotiate_names = "ftplib.protocol.encoding", -- FEAT, OPTS UTF8 ON
  _negotiate_mode_z = "ftplib.protocol.mode_z",  -- MODE Z
  -- control: implicit FTPS at connect
  _secure_control = "ftplib.protocol.tls",
  -- data_channel: a protected data connection, once its 1xx came
  _secure_data = "ftplib.protocol.tls",
}

-- The fields of an FTP (and FTP_TLS) object: every key a module reads or
-- writes on a session besides its methods. spec/package/class_spec.lua checks the
-- sources against this list.
class.FTP_FIELDS = {
  -- the options (protocol/session.lua's apply_options), settable later by methods
  host = "the server connected to (connect)",
  port = "its port (connect; 990 by default for implicit FTPS)",
  user = "the user login defaults to (option)",
  passwd = "the password login defaults to (option)",
  acct = "the account login defaults to (option)",
  timeout = "seconds any one wait may take (option, settimeout)",
  passive = "passive data connections, else active (option, set_pasv)",
  use_epsv = "try EPSV before PASV (option)",
  pipelining = "false: never send a transfer command before EPSV's reply (option)",
  trust_server_pasv_ipv4_address = "connect where a 227 reply says (option)",
  maxline = "the longest reply or listing line, in bytes (option)",
  maxreply = "the largest reply, in bytes (option)",
  debuglevel = "1 or more: commands and replies to debugfunc (option, set_debuglevel)",
  debugfunc = "where debug lines go; nil: the module's default (option)",
  encoding = "the server's encoding of names, an iconv name, or nil (option)",
  source_address = "the local address to connect from (option)",
  port_range = "the local ports active mode may listen on (option)",
  keepalive = "seconds between NOOPs during a transfer, or nil (option)",
  maxlisting = "bytes of memory one listing may hold (option)",
  timezone = "the server's time zone for LIST times: seconds, \"+HHMM\" or \"auto\" (option)",
  proxy = "the proxy URL connections go through, or nil (option)",
  mode_z = "ask for MODE Z (deflate) at login when FEAT offers it (option)",
  mode_z_upload = "uploads in MODE Z too, else MODE S (option; protocol/mode_z.lua)",
  -- what the server told (public: Python's ftplib has them too)
  welcome = "the greeting's text (connect)",
  features = "FEAT's answer, once per connection (protocol/commands.lua)",
  lastresp = "the code of the last reply read",
  af = "the address family of the control connection: inet or inet6",
  -- the session's state, private
  _lost = "why the library closed the connection, for the calls after",
  _type = "the TYPE last sent, nil when a script sent its own",
  _folder = "PWD's answer, until a command that may change the folder",
  _data_open = "the data connection of a transfer whose final reply is owed",
  _announced_size = "the size the last 150 reply announced",
  _login_args = "user, passwd, acct of the last login that succeeded",
  _epsv_refused = "the server refused EPSV: PASV for the rest of the session",
  _epsv_ok = "EPSV answered 229 in this session (a condition of pipelining)",
  _pipelining = "the server answered pipelined commands: true, false, nil (not yet known)",
  _pipelining_failed = "a pipelined transfer's reply never came: never again, even reconnected",
  _sync_probe = "PWD once NOOP was refused mid-resync: the probe ending one (protocol/resync.lua)",
  _abort_learned = "what the server needed to answer ABOR: urgent or close",
  _close_on_stop = "a stopped transfer closes the session, no ABOR (ops/segments.lua's clones)",
  _ka = "the keepalive bookkeeping of the transfer under way (protocol/keepalive.lua)",
  _listing_unverified = "a listing ended without TLS close_notify (protocol/tls.lua)",
  _list_a = "LIST -a: true or false once learnt (ops/list.lua)",
  _mlsd_refused = "the server refused MLSD: LIST for the rest of the session",
  _tz_offset = "LIST times' offset east of UTC; false: auto found none; nil: not yet",
  _tz_note = "why timezone = \"auto\" found no offset, or none yet (ops/timezone.lua)",
  _hash_state = "the digest commands FEAT offers, HASH's selected algorithm (protocol/hash.lua)",
  _encoder = "iconv converter from UTF-8 to the server's encoding",
  _decoder = "iconv converter from the server's encoding to UTF-8",
  _raw_names = "names listed as the server's bytes, sent back as they came",
  _mode_z_on = "MODE Z is in effect: data connections are zlib streams (protocol/mode_z.lua)",
  _mode_z_note = "why the session is in MODE S (protocol/mode_z.lua)",
  _mode_z_now = "the MODE last accepted: \"Z\" or \"S\" (protocol/mode_z.lua)",
  _proxy = "the proxy URL's parts (parsers/url.lua's parse_proxy), or nil",
  _proxy_sa = "the proxy's address the control connection went to",
  _proxy_target = "the host the proxy was asked for: data connections go there",
  -- FTP_TLS only
  _tls_ctx = "the TLS context (core.TLS_new); nil on plain FTP",
  _tls_implicit = "TLS from the first byte (port 990)",
  _tls_opts = "the TLS options, for sessions cloned from this one",
  _tls_servername = "the name sent in SNI and checked in the certificate",
  _want_prot_p = "protect data connections after each login (prot_c clears it)",
  _prot_p = "data connections are protected now (PROT P answered)",
}

-- The fields of a Data object.
class.DATA_FIELDS = {
  timeout = "seconds any one wait may take (the session's when opened)",
  _size = "the size the 150 reply announced, or nil",
  _listing = "the data is a listing (LIST, NLST, MLSD)",
  _tls_ctx = "the TLS context it resumed a session of",
  _offered_spent = "no unused TLS session was left to offer (tls.worth_retry)",
  _mode_z = "the data is a zlib stream (MODE Z): inflated, deflated by the core",
}

-- Whether fn is one of the core's methods (a C function): those stay when
-- the classes are assembled again.
local function from_core(fn)
  return debug.getinfo(fn, "S").what == "C"
end

-- The methods of lazy module `name` (class.LAZY), loaded now: raises when
-- they are not the names declared.
local function load_lazy(name, key)
  local module_methods, declared = require(name)[key] or {}, {}
  for _, method in ipairs(class.LAZY[name]) do
    declared[method] = true
    if not module_methods[method] then
      error(string.format("ftplib.class: %s defines no %s:%s (class.LAZY)", name, key, method))
    end
  end
  for method in pairs(module_methods) do
    if not declared[method] then
      error(string.format("ftplib.class: %s:%s of %s is not in class.LAZY", key, method, name))
    end
  end
  return module_methods
end

-- A stub under each method of lazy module `name`: the first call loads the
-- module, puts its methods in place of the stubs and goes on into the one
-- called (a tail call: an error's level still points at the caller).
local function lazy_methods(methods, key, name)
  local stubs = {}
  for _, method in ipairs(class.LAZY[name]) do
    stubs[method] = function(...)
      local real = load_lazy(name, key)
      for each in pairs(stubs) do
        if methods[each] == stubs[each] then
          methods[each] = real[each]
        end
      end
      return real[method](...)
    end
  end
  return stubs
end

-- Puts the methods of `modules` (each module's table under `key`) into
-- `methods`, the table the core's __index reads; lazy modules (class.LAZY)
-- put stubs, unless `eager`. Returns who defined what.
local function assemble(methods, key, modules, defined_by, eager)
  for _, name in ipairs(modules) do
    local module_methods
    if class.LAZY[name] and key == "FTP" then
      module_methods = eager and load_lazy(name, key) or lazy_methods(methods, key, name)
    else
      module_methods = require(name)[key] or {}
    end
    for method, fn in pairs(module_methods) do
      if defined_by[method] then
        error(string.format("ftplib.class: %s:%s is defined by both %s and %s",
          key, method, defined_by[method], name), 3)
      end
      defined_by[method] = name
      methods[method] = fn
    end
  end
end

-- The core's methods, the others removed (a second assembly starts afresh).
local function core_methods(methods)
  local defined_by = {}
  for method, fn in pairs(methods) do
    if from_core(fn) then
      defined_by[method] = "ftplib.core"
    else
      methods[method] = nil
    end
  end
  return defined_by
end

-- Fills the core's method tables from `modules` (a table as class.MODULES)
-- and answers who defines each method: defined_by.FTP.cwd == "ftplib.protocol.commands".
-- Raises, at the caller's level, for a name defined twice. `eager`: the lazy
-- modules loaded now, their methods put in at once.
function class.assemble(modules, eager)
  local defined_by = {
    FTP = core_methods(core.FTP_methods),
    Data = core_methods(core.Data_methods),
  }
  assemble(core.FTP_methods, "FTP", modules.FTP, defined_by.FTP, eager)
  assemble(core.FTP_methods, "FTP", modules.FTP_TLS, defined_by.FTP, eager)
  assemble(core.Data_methods, "Data", modules.Data, defined_by.Data, eager)
  return defined_by
end

class.defined_by = class.assemble(class.MODULES)

-- The metamethods the core does not set: a session in a <close> variable
-- says goodbye (QUIT, briefly) and closes; a data connection closes (with
-- close_notify when protected).
local registry = debug.getregistry()
local FTP_mt, Data_mt = registry["ftplib.FTP"], registry["ftplib.Data"]
FTP_mt.__close = require("ftplib.protocol.control").close_at_scope_end
Data_mt.__close = core.Data_methods.close
for _, mt in ipairs { FTP_mt, Data_mt } do
  for _, event in ipairs { "__gc", "__tostring", "__index", "__newindex", "__close" } do
    assert(mt[event], "ftplib.class: the core gave no " .. event)
  end
end

return class
