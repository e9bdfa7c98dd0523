-- Real FTP servers for the specs: started on a loopback address with a port picked at
-- run time, serving a fresh temporary folder, stopped and removed by the specs.
--
--   local servers = require "spec.support.servers"
--   servers.kinds()                   --> {"vsftpd", "pyftpdlib"}: plain servers usable here
--   servers.tls_kinds()               --> { {name=, kind=, tls=}, ... }: FTPS variants usable here
--   servers.available(kind, tls)     --> whether `kind` (with TLS when `tls`) can start here
--   servers.odd_kinds()               --> {"inetutils", "twisted", "aioftp"}: odd servers here
--   servers.odd_tls_kinds()           --> their FTPS variants (aioftp implicit)
--   servers.lacks(kind, "mlsd")       --> true when `kind` does not do that (see below)
--   local s = servers.start(kind, opts)  -- raises, with the server's log tail, on failure
--   -- opts.ipv6 = true: listen on ::1 only; opts.delay = seconds: every reply delayed
--   -- (pyftpdlib only, for latency benchmarks); opts.tls = {...}: FTPS, see below
--   -- opts.encoding = "gbk" (pyftpdlib only): names in that encoding on the wire,
--   -- UTF-8 on disk (a Windows server with GBK names)
--   -- opts.host = "127.0.0.2": listen on another IPv4 loopback address (a "foreign"
--   -- address: clients still connect from 127.0.0.1)
--   -- opts.max_rate = bytes per second (vsftpd only): each session's transfers slowed
--   -- opts.localtime = "XYZ+5" (vsftpd only): the server runs with that TZ (a POSIX zone:
--   -- "XYZ+5" is five hours behind UTC) and use_localtime=YES, so that LIST shows its
--   -- local time (and, vsftpd being vsftpd, MDTM too); inetutils too: its LIST in that
--   -- zone, its MDTM in UTC
--   -- opts.digest = true (proftpd only): mod_digest loaded, FEAT offers HASH, XCRC, XMD5,
--   -- XSHA, XSHA1, XSHA256 and XSHA512
--   -- opts.deflate = true (proftpd only): mod_deflate loaded, FEAT offers MODE Z; its
--   -- log (compressed sizes) is s.dir .. "/deflate.log"
--   -- opts.max_per_ip = n (vsftpd only): at most n sessions from one address (421 beyond)
--   s.kind, s.host, s.port, s.root, s.user, s.passwd, s.greeting
--   s.tls, s.ca, s.certs              -- TLS servers only: see below
--   s:path("a/b.txt")                 --> absolute path inside s.root
--   s:write("a/b.txt", bytes)         -- create a file (and its folders) as the FTP user would
--   s:mkdir("a/c")                    -- create folders as the FTP user would
--   s:read("a/b.txt")                 --> content, or nil when missing
--   s:url("/a/b.txt", {anonymous = true}) --> "ftp://user:passwd@127.0.0.1:port/a/b.txt"
--                                     -- ("ftps://..." for an implicit-TLS server)
--   s:log()                           --> tails of the server's logs, for failure messages
--   s:stop()                          -- stop server and children, remove the folder; idempotent
--   -- opts.restartable = true: s:halt() stops the server and its sessions, keeping the
--   -- folder; s:restart({after = seconds}) starts it again on the same port and root;
--   -- s:wait_ready() waits for its greeting (see Server:restart)
--
-- Kinds: "vsftpd" (Debian's package), "pyftpdlib" (python3-pyftpdlib) and "proftpd"
-- (Debian's proftpd-core, unpacked by scripts/setup-test-env.sh into
-- /var/cache/ftplib-test/proftpd, as its package conflicts with vsftpd's). proftpd is
-- started on request only: servers.kinds() lists it when FTPLIB_TEST_SERVERS names it.
-- The odd kinds, for the transfer, abort and mirror specs only: "inetutils" (GNU
-- inetutils ftpd under an inetd of our own, unpacked like proftpd into
-- /var/cache/ftplib-test/inetutils), "twisted" (python3-twisted) and "aioftp"
-- (python3-aioftp, plain and implicit FTPS). Each is IPv4 only; what else they lack is
-- in their `lacks` tables below.
--
-- FTPS: opts.tls is a table; every field is optional.
--   mode = "explicit" (AUTH TLS, the default) | "implicit" (TLS from the first byte)
--   cert = "good" (CA-signed, for localhost/127.0.0.1/::1; the default) | "wrong" (CA-signed
--          for wrong.example only) | "unknown" (self-signed: no CA vouches for it)
--   min_version, max_version = "TLSv1.2" | "TLSv1.3" (default: whatever OpenSSL allows)
--   tls13 = true (TLS 1.3 only) | false (TLS 1.2 only): shorthand for the two above
--   require_client_cert = true: the client must present a certificate signed by the CA
--   data_required = false: allow clear data connections (PROT C); default: PROT P required
--   allow_ccc = true: TLS is required for login and data only, so that CCC may clear the
--          control connection afterwards (proftpd only; the others have no CCC)
-- The control connection must be secured before the user logs in. Data connections must
-- resume the control connection's TLS session on vsftpd (require_ssl_reuse) and proftpd
-- (its default); pyftpdlib does not check. Anonymous may log in too, through TLS (vsftpd
-- also lets it stay in the clear).
-- s.tls is the normalized table: all fields above, plus versions (the list of TLS versions
-- the server accepts) and reuse_required (true when data connections must resume the
-- control connection's session: vsftpd, proftpd). s.ca is the CA file a client should
-- trust; s.certs the whole certs.get() table (client_cert, client_key, ...: see
-- spec/support/certs.lua).
--
-- Logins: s.user / s.passwd may read and write everything under s.root; "anonymous"
-- (any password) may read it. Servers left running are stopped when the Lua state closes,
-- and by their spawn wrapper if the Lua process dies (see proc.spawn).
--
-- Adding a kind: give it an entry in `kinds` below and a place in KIND_ORDER (or
-- OPT_IN_KINDS). Start, readiness, retries, stop and clean-up are shared.
local socket = require "socket"
local lfs = require "lfs"
local proc = require "spec.support.proc"
-- spec.support.certs is loaded on the first TLS start: plain runs make no certificates.

local servers = {}

-- The account scripts/setup-test-env.sh creates for vsftpd (PAM checks real accounts).
-- Public on purpose: the servers listen on loopback only.
servers.USER = "ftplibtest"
servers.PASSWD = "ftplibtest-pw"

local VSFTPD = "/usr/sbin/vsftpd"
-- Debian's python, which has python3-pyftpdlib; `python3` on PATH may be another one.
local PYTHON = "/usr/bin/python3"
local VSFTPD_PAM_SERVICE = "ftplibtest-vsftpd"
-- Where scripts/setup-test-env.sh unpacks Debian's proftpd-core and proftpd-mod-crypto
-- (mod_tls) with the libraries they need that are not installed.
local PROFTPD_DIR = os.getenv("FTPLIB_PROFTPD_DIR") or "/var/cache/ftplib-test/proftpd"
local OPENSSL = "openssl"
local READY_TIMEOUT = 10
local START_ATTEMPTS = 3

local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local SUPPORT_DIR = HERE:sub(1, 1) == "/" and HERE or (lfs.currentdir() .. "/" .. HERE)

local function is_executable(path)
  return lfs.attributes(path, "mode") == "file"
    and os.execute("test -x " .. proc.shell_quote(path)) == true
end

local function account_exists(name)
  local passwd = proc.read_file("/etc/passwd") or ""
  return passwd:find("\n" .. name .. ":", 1, true) ~= nil or passwd:sub(1, #name + 1) == name .. ":"
end

local function write_lines(path, lines)
  proc.write_file(path, table.concat(lines, "\n") .. "\n")
end

local function chown(path, owner)
  proc.run("chown " .. proc.shell_quote(owner .. ":" .. owner) .. " " .. proc.shell_quote(path))
end

local function sh_output(command_line)
  local pipe = assert(io.popen(command_line, "r"))
  local output = pipe:read("a")
  pipe:close()
  return output
end

---------------------------------------------------------------------------------------
-- TLS options shared by the kinds

local TLS_VERSIONS = { "TLSv1.2", "TLSv1.3" }
local TLS_VERSION_RANK = { ["TLSv1.2"] = 1, ["TLSv1.3"] = 2 }
local TLS_FIELDS = {
  mode = { explicit = true, implicit = true },
  cert = { good = true, wrong = true, unknown = true },
  min_version = TLS_VERSION_RANK,
  max_version = TLS_VERSION_RANK,
  tls13 = { [true] = true, [false] = true },
  require_client_cert = { [true] = true, [false] = true },
  data_required = { [true] = true, [false] = true },
  allow_ccc = { [true] = true, [false] = true },
}
-- certs.get() fields holding each opts.tls.cert choice.
local CERT_STEMS = { good = "server", wrong = "wrong", unknown = "unknown" }

local function check_tls_fields(tls)
  if type(tls) ~= "table" then
    error("servers.start: opts.tls must be a table, got " .. type(tls), 0)
  end
  for key, value in pairs(tls) do
    local allowed = TLS_FIELDS[key]
    if not allowed then
      error("servers.start: unknown opts.tls field " .. tostring(key), 0)
    end
    if not allowed[value] then
      error(("servers.start: opts.tls.%s cannot be %s"):format(key, tostring(value)), 0)
    end
  end
end

-- The versions from min to max, both included.
local function versions_between(min_version, max_version)
  local list = {}
  for rank, version in ipairs(TLS_VERSIONS) do
    if rank >= TLS_VERSION_RANK[min_version] and rank <= TLS_VERSION_RANK[max_version] then
      list[#list + 1] = version
    end
  end
  return list
end

--- opts.tls with its defaults filled in and `tls13` turned into min/max versions.
-- Raises (message without position: check_options adds the caller's) when it is wrong.
local function normalize_tls(tls)
  check_tls_fields(tls)
  local min_version, max_version = tls.min_version, tls.max_version
  if tls.tls13 == true then
    min_version, max_version = min_version or "TLSv1.3", max_version or "TLSv1.3"
  elseif tls.tls13 == false then
    max_version = max_version or "TLSv1.2"
  end
  local versions = versions_between(min_version or TLS_VERSIONS[1],
    max_version or TLS_VERSIONS[#TLS_VERSIONS])
  if #versions == 0 then
    error("servers.start: opts.tls allows no TLS version", 0)
  end
  return {
    mode = tls.mode or "explicit",
    cert = tls.cert or "good",
    min_version = min_version,
    max_version = max_version,
    versions = versions,
    require_client_cert = tls.require_client_cert == true,
    data_required = tls.data_required ~= false,
    allow_ccc = tls.allow_ccc == true,
  }
end

-- The certificate and key files a TLS server presents.
local function server_keypair(s)
  local stem = CERT_STEMS[s.tls.cert]
  return s.certs[stem .. "_cert"], s.certs[stem .. "_key"]
end

-- An OpenSSL configuration bounding the TLS versions of every SSL_CTX a program makes:
-- vsftpd 3.0.3 has no setting of its own beyond TLS 1.0 on/off. Returns the argv prefix
-- that runs a command with it ({} when the versions are not bounded).
local function openssl_version_env(s)
  if not (s.tls and (s.tls.min_version or s.tls.max_version)) then return {} end
  local lines = {
    "openssl_conf = openssl_init",
    "[openssl_init]",
    "ssl_conf = ssl_module",
    "[ssl_module]",
    "system_default = tls_bounds",
    "[tls_bounds]",
    "MinProtocol = " .. (s.tls.min_version or TLS_VERSIONS[1]),
    "MaxProtocol = " .. (s.tls.max_version or TLS_VERSIONS[#TLS_VERSIONS]),
  }
  local path = s.dir .. "/openssl.cnf"
  write_lines(path, lines)
  return { "env", "OPENSSL_CONF=" .. path }
end

-- Adds `items` at the end of `list`; returns `list`.
local function append(list, items)
  return table.move(items, 1, #items, #list + 1, list)
end

local function prepend(prefix, argv)
  return append(prefix, argv)
end

---------------------------------------------------------------------------------------
-- The kinds

-- Each kind: available() (usable on this machine), check(opts) (raise when a
-- prerequisite is missing), configure(s, opts) (files in s.dir), command(s, opts) (argv),
-- features it supports (tls = the TLS modes), the system account owning s.root (nil: the
-- server's own, root), the files in s.dir worth showing when it fails, and optionally
-- before_stop(s) (runs before the spawn wrapper stops the process tree).
local kinds = {}
-- Plain kinds every plain spec runs against, in this order (servers.kinds()).
local KIND_ORDER = { "vsftpd", "pyftpdlib" }
-- Kinds servers.kinds() lists only when FTPLIB_TEST_SERVERS names them.
local OPT_IN_KINDS = { "proftpd" }
-- The odd servers (see below), for the specs that iterate servers.odd_kinds().
local ODD_KINDS = { "inetutils", "twisted", "aioftp" }

kinds.vsftpd = {
  features = {
    ipv6 = true, tls = { explicit = true, implicit = true }, client_cert = true,
    tls_reuse_required = true, max_rate = true, localtime = true,
  },
  lacks = { mlsd = true },
  owner = servers.USER,
  -- vsftpd exits silently (status 2) on a bad configuration or a port taken: the
  -- configuration itself is the best clue.
  failure_files = { "vsftpd.log", "vsftpd.conf" },
}

function kinds.vsftpd.available()
  return is_executable(VSFTPD)
end

-- CCC is proftpd's alone among the kinds.
local function refuse_ccc(kind, opts)
  if opts and opts.tls and opts.tls.allow_ccc then
    error(("servers.start(%q): no CCC support (opts.tls.allow_ccc)"):format(kind), 0)
  end
end

function kinds.vsftpd.check(opts)
  refuse_ccc("vsftpd", opts)
  if proc.run("id -u"):match("%d+") ~= "0" then
    error("servers.start(\"vsftpd\"): vsftpd must be started as root", 0)
  end
  local pam_file = "/etc/pam.d/" .. VSFTPD_PAM_SERVICE
  local missing = not account_exists(servers.USER) and ("the account " .. servers.USER)
    or not proc.exists(pam_file) and pam_file
  if missing then
    error("servers.start(\"vsftpd\"): " .. missing
      .. " is missing: run scripts/setup-test-env.sh as root", 0)
  end
end

-- vsftpd's FTPS settings. Only the defaults that matter are spelled out.
local function vsftpd_tls_lines(s)
  if not s.tls then return { "ssl_enable=NO" } end
  local cert, key = server_keypair(s)
  local yes_no = { [true] = "YES", [false] = "NO" }
  local lines = {
    "ssl_enable=YES",
    "rsa_cert_file=" .. cert,
    "rsa_private_key_file=" .. key,
    -- Debian's default list is one RSA cipher; the test keys are EC. TLS 1.3 suites are
    -- not affected by this list.
    "ssl_ciphers=HIGH",
    "implicit_ssl=" .. yes_no[s.tls.mode == "implicit"],
    "force_local_logins_ssl=YES",
    "force_local_data_ssl=" .. yes_no[s.tls.data_required],
    -- Data connections must resume the control connection's session: what the FTPS
    -- specs are about (and vsftpd's default).
    "require_ssl_reuse=YES",
    -- Anonymous may use TLS, and may also stay in the clear.
    "allow_anon_ssl=YES",
    "force_anon_logins_ssl=NO",
    "force_anon_data_ssl=NO",
    "debug_ssl=YES",
  }
  if s.tls.require_client_cert then
    append(lines, {
      "ssl_request_cert=YES",
      "require_cert=YES",
      "validate_cert=YES",
      "ca_certs_file=" .. s.ca,
    })
  end
  return lines
end

function kinds.vsftpd.configure(s, opts)
  -- Owned by the FTP user so uploads work. The folder above is root's and 0755, and the
  -- root must not be writable by the anonymous `ftp` account: vsftpd refuses a writable
  -- anonymous chroot.
  chown(s.root, servers.USER)
  -- vsftpd's own empty chroot for its unprivileged helper; /var/run/vsftpd/empty may
  -- be missing on a machine where vsftpd never ran as a service.
  local empty = s.dir .. "/empty"
  assert(lfs.mkdir(empty))
  local listen = opts.ipv6
      and { "listen=NO", "listen_ipv6=YES", "listen_address6=" .. s.host }
      or { "listen=YES", "listen_ipv6=NO", "listen_address=" .. s.host }
  local lines = {
    "listen_port=" .. s.port,
    "background=NO",
    -- Containers: no new network namespace per session, no seccomp filter (its rules
    -- break on some kernels and libc versions).
    "isolate=NO",
    "isolate_network=NO",
    "seccomp_sandbox=NO",
    "secure_chroot_dir=" .. empty,
    -- Local user: real PAM check, through a service that admits this account only.
    "local_enable=YES",
    "pam_service_name=" .. VSFTPD_PAM_SERVICE,
    "userlist_enable=NO",
    "local_root=" .. s.root,
    "chroot_local_user=NO",
    "write_enable=YES",
    -- Uploaded files readable by anonymous and by the specs.
    "local_umask=022",
    -- Anonymous: read-only on the same folder, no password asked.
    "anonymous_enable=YES",
    "no_anon_password=YES",
    "anon_root=" .. s.root,
    "anon_upload_enable=NO",
    "anon_mkdir_write_enable=NO",
    "allow_writeable_chroot=YES",
    -- Both data connection modes; PORT/EPRT from an unprivileged port, as root is not
    -- needed for that and port 20 may be taken.
    "pasv_enable=YES",
    "port_enable=YES",
    "connect_from_port_20=NO",
    -- A failed login costs no time in specs.
    "delay_failed_login=0",
    "xferlog_enable=YES",
    "xferlog_file=" .. s.dir .. "/xferlog",
    "vsftpd_log_file=" .. s.dir .. "/vsftpd.log",
    "dual_log_enable=YES",
    "log_ftp_protocol=YES",
  }
  if opts.max_rate then -- bytes per second and session, for transfers that overlap
    -- With sendfile, vsftpd 3.0.3 let 18-36 MiB/s through a limit of 8 on one host
    -- (on another it held): it paces reads and writes of 64 KiB exactly.
    append(lines, { "local_max_rate=" .. opts.max_rate, "anon_max_rate=" .. opts.max_rate,
      "use_sendfile=NO" })
  end
  if opts.max_per_ip then -- sessions one address may have at once (421 beyond)
    append(lines, { "max_per_ip=" .. opts.max_per_ip })
  end
  if opts.localtime then -- LIST in the local time of the zone command() sets
    append(lines, { "use_localtime=YES" })
  end
  append(listen, lines)
  append(listen, vsftpd_tls_lines(s))
  s.config = s.dir .. "/vsftpd.conf"
  write_lines(s.config, listen)
end

function kinds.vsftpd.command(s, opts)
  local prefix = openssl_version_env(s)
  if opts and opts.localtime then
    if #prefix == 0 then prefix = { "env" } end
    append(prefix, { "TZ=" .. opts.localtime })
  end
  return prepend(prefix, { VSFTPD, s.config })
end

kinds.pyftpdlib = {
  -- pyftpdlib has no implicit FTPS.
  features = {
    ipv6 = true, delay = true, tls = { explicit = true }, client_cert = true, encoding = true,
  },
  failure_files = {},
}

-- Cached: each import check takes a tenth of a second.
local python_imports = {}
local function python_can_import(module)
  if python_imports[module] == nil then
    python_imports[module] = is_executable(PYTHON)
      and os.execute(PYTHON .. " -c 'import " .. module .. "' >/dev/null 2>&1") == true
  end
  return python_imports[module]
end

function kinds.pyftpdlib.available()
  return python_can_import("pyftpdlib")
end

function kinds.pyftpdlib.check(opts)
  refuse_ccc("pyftpdlib", opts)
  if opts.tls and not python_can_import("OpenSSL") then
    error("servers.start(\"pyftpdlib\"): TLS needs python3-openssl: run scripts/setup.sh", 0)
  end
end

function kinds.pyftpdlib.configure() end

-- pyftpd_server.py's TLS arguments.
local function pyftpdlib_tls_args(s)
  local cert, key = server_keypair(s)
  local args = { "--certfile", cert, "--keyfile", key, "--tls-control-required" }
  if s.tls.data_required then args[#args + 1] = "--tls-data-required" end
  if s.tls.min_version then append(args, { "--tls-min", s.tls.min_version }) end
  if s.tls.max_version then append(args, { "--tls-max", s.tls.max_version }) end
  if s.tls.require_client_cert then
    append(args, { "--require-client-cert", "--cafile", s.ca })
  end
  return args
end

function kinds.pyftpdlib.command(s, opts)
  local argv = {
    PYTHON, SUPPORT_DIR .. "/pyftpd_server.py",
    "--host", s.host, "--port", tostring(s.port), "--root", s.root,
    "--user", s.user, "--passwd", s.passwd,
  }
  if opts.delay then
    append(argv, { "--delay", tostring(opts.delay) })
  end
  if opts.encoding then
    append(argv, { "--encoding", opts.encoding })
  end
  if s.tls then append(argv, pyftpdlib_tls_args(s)) end
  return argv
end

kinds.proftpd = {
  features = {
    ipv6 = true, tls = { explicit = true, implicit = true }, client_cert = true,
    tls_reuse_required = true, digest = true, deflate = true,
  },
  owner = servers.USER,
  failure_files = { "proftpd.log", "tls.log", "proftpd.conf" },
}

local PROFTPD = PROFTPD_DIR .. "/usr/sbin/proftpd"
local PROFTPD_MODULES = PROFTPD_DIR .. "/usr/lib/proftpd"

function kinds.proftpd.available()
  return is_executable(PROFTPD)
end

function kinds.proftpd.check(opts)
  if proc.run("id -u"):match("%d+") ~= "0" then
    error("servers.start(\"proftpd\"): proftpd must be started as root", 0)
  end
  local missing = not account_exists(servers.USER) and ("the account " .. servers.USER)
    or not account_exists("ftp") and "the account ftp"
    or opts.tls and not proc.exists(PROFTPD_MODULES .. "/mod_tls.so")
      and PROFTPD_MODULES .. "/mod_tls.so"
  if missing then
    error("servers.start(\"proftpd\"): " .. missing
      .. " is missing: run scripts/setup-test-env.sh as root", 0)
  end
end

-- The libraries unpacked beside proftpd (usr/lib/<multiarch triplet>).
local function proftpd_library_path()
  local dirs = {}
  local lib = PROFTPD_DIR .. "/usr/lib"
  for name in lfs.dir(lib) do
    if name:find("-linux-", 1, true) then dirs[#dirs + 1] = lib .. "/" .. name end
  end
  return table.concat(dirs, ":")
end

local function account_ids(name)
  local uid, gid = proc.run("id -u " .. name .. " && id -g " .. name):match("(%d+)%s+(%d+)")
  return assert(tonumber(uid)), assert(tonumber(gid))
end

-- SHA-512 crypt of the test password, made once: `openssl passwd` costs a few ms.
local password_hash
local function test_password_hash()
  password_hash = password_hash
    or proc.run(OPENSSL .. " passwd -6 " .. proc.shell_quote(servers.PASSWD)):gsub("%s+$", "")
  return password_hash
end

-- proftpd's own account files (AuthUserFile/AuthGroupFile, /etc/passwd format): no PAM,
-- no system account beyond the uids. The test user's home is the root, where DefaultRoot
-- locks it in; `ftp` is the account anonymous sessions run as (its password unused).
local function write_proftpd_accounts(s)
  local uid, gid = account_ids(servers.USER)
  local ftp_uid, ftp_gid = account_ids("ftp")
  write_lines(s.dir .. "/passwd", {
    ("%s:%s:%d:%d::%s:/bin/sh"):format(servers.USER, test_password_hash(), uid, gid, s.root),
    ("ftp:*:%d:%d::%s:/usr/sbin/nologin"):format(ftp_uid, ftp_gid, s.root),
  })
  write_lines(s.dir .. "/group", {
    ("%s:x:%d:"):format(servers.USER, gid),
    ("ftp:x:%d:"):format(ftp_gid),
  })
  -- proftpd refuses world-readable account files.
  proc.run("chmod 600 " .. proc.shell_quote(s.dir .. "/passwd") .. " "
    .. proc.shell_quote(s.dir .. "/group"))
end

-- mod_tls settings. Session reuse on data connections is required by default (no
-- NoSessionReuseRequired in TLSOptions): that is what the FTPS specs are about.
local function proftpd_tls_lines(s)
  if not s.tls then return {} end
  local cert, key = server_keypair(s)
  local lines = {
    "LoadModule mod_tls.c",
    "TLSEngine on",
    "TLSLog " .. s.dir .. "/tls.log",
    "TLSProtocol " .. table.concat(s.tls.versions, " "),
    "TLSECCertificateFile " .. cert,
    "TLSECCertificateKeyFile " .. key,
    -- ctrl: the control connection only (and PROT C allowed); on: both; auth+data:
    -- login and data, so that CCC may clear the control connection after login.
    "TLSRequired " .. (s.tls.allow_ccc and "auth+data" or s.tls.data_required and "on" or "ctrl"),
    "TLSRenegotiate none",
  }
  if s.tls.mode == "implicit" then lines[#lines + 1] = "TLSOptions UseImplicitSSL" end
  if s.tls.require_client_cert then
    lines[#lines + 1] = "TLSVerifyClient on"
    lines[#lines + 1] = "TLSCACertificateFile " .. s.ca
  else
    lines[#lines + 1] = "TLSVerifyClient off"
  end
  return lines
end

-- mod_digest: the hash commands (HASH, XCRC, XMD5, XSHA1, XSHA256, ...), for any size
-- of file, no cache (a spec rewrites a file and asks again at once).
local function proftpd_digest_lines(opts)
  if not opts.digest then return {} end
  return {
    "LoadModule mod_digest.c",
    "DigestEngine on",
    "DigestAlgorithms all",
    "DigestCache off",
  }
end

-- mod_deflate: MODE Z (zlib streams on the data connections), logging what it did.
local function proftpd_deflate_lines(s, opts)
  if not opts.deflate then return {} end
  return {
    "LoadModule mod_deflate.c",
    "DeflateEngine on",
    "DeflateLog " .. s.dir .. "/deflate.log",
  }
end

function kinds.proftpd.configure(s, opts)
  chown(s.root, servers.USER)
  write_proftpd_accounts(s)
  local lines = {
    "ServerName \"ftplib test proftpd\"",
    "ModulePath " .. PROFTPD_MODULES,
    "ServerType standalone",
    "Port " .. s.port,
    -- Listen on that address only.
    "DefaultAddress " .. s.host,
    "SocketBindTight on",
    "UseIPv6 " .. (s.host:find(":") and "on" or "off"),
    -- The master process's identity between sessions; sessions take the user's.
    "User nobody",
    "Group nogroup",
    "ScoreboardFile " .. s.dir .. "/proftpd.scoreboard",
    "PidFile " .. s.dir .. "/proftpd.pid",
    "SystemLog " .. s.dir .. "/proftpd.log",
    "TransferLog " .. s.dir .. "/xferlog",
    "WtmpLog off",
    "UseLastlog off",
    -- No DNS lookups, and no mod_delay pause after USER/PASS (specs log in a lot).
    "UseReverseDNS off",
    "DelayEngine off",
    -- Only the generated account files: no PAM, no /etc/passwd.
    "AuthOrder mod_auth_file.c",
    "AuthUserFile " .. s.dir .. "/passwd",
    "AuthGroupFile " .. s.dir .. "/group",
    "RequireValidShell off",
    "DefaultRoot ~",
    "AllowOverwrite on",
    -- REST before STOR (resumed uploads) is refused by default.
    "AllowStoreRestart on",
    "Umask 022",
    "MaxInstances 50",
    "<Anonymous " .. s.root .. ">",
    "  User ftp",
    "  Group ftp",
    "  UserAlias anonymous ftp",
    "  <Limit WRITE>",
    "    DenyAll",
    "  </Limit>",
    "</Anonymous>",
  }
  append(lines, proftpd_tls_lines(s))
  append(lines, proftpd_digest_lines(opts))
  append(lines, proftpd_deflate_lines(s, opts))
  s.config = s.dir .. "/proftpd.conf"
  write_lines(s.config, lines)
end

-- proftpd pauses 0.2 s each time a signal interrupts its main loop (a compile-time
-- setting), so SIGTERM takes half a second. Nothing in it needs a clean shutdown, and
-- its sessions stay in its process group: kill the group at once. The PID cannot have
-- been reused: the spawn wrapper has not reaped it yet.
function kinds.proftpd.before_stop(s)
  os.execute("kill -s KILL -- -" .. s.process.pid .. " 2>/dev/null")
end

function kinds.proftpd.command(s)
  -- -n: stay in the foreground, logging to stderr too.
  return { "env", "LD_LIBRARY_PATH=" .. proftpd_library_path(), PROFTPD, "-n", "-c", s.config }
end

---------------------------------------------------------------------------------------
-- The odd servers: real servers whose quirks the library must live with, run by the
-- transfer, abort and mirror specs (servers.odd_kinds()), not by every plain spec.
-- `lacks` names what each does not do, for the specs to leave out (servers.lacks).

-- GNU inetutils ftpd, a BSD-derived server: it reads no command during a transfer
-- unless Telnet IP/Synch with urgent data wakes it (SIGURG), and exits on SIGPIPE when
-- a client closes the data connection first. Unpacked by scripts/setup-test-env.sh
-- (its package conflicts with vsftpd's). It runs under inetd: spec/support/
-- inetd_server.py starts one ftpd per connection. ftpd logs a user into the home of the
-- account and refuses accounts without a listed shell: spec/support/ftpd_account.c,
-- preloaded, gives the test account the server's root as its home and /bin/sh as its
-- shell, for this server only. No anonymous login (its anonymous root would be the
-- `ftp` account's home).
local INETUTILS_FTPD = (os.getenv("FTPLIB_INETUTILS_DIR") or "/var/cache/ftplib-test/inetutils")
  .. "/usr/sbin/ftpd"
local CC = os.getenv("CC") or "cc"

kinds.inetutils = {
  features = { localtime = true },
  lacks = { mlsd = true, anonymous = true, ipv6 = true },
  owner = servers.USER,
  failure_files = {},
}

function kinds.inetutils.available()
  return is_executable(INETUTILS_FTPD) and is_executable(PYTHON)
    and os.execute("command -v " .. proc.shell_quote(CC) .. " >/dev/null 2>&1") == true
end

function kinds.inetutils.check()
  if proc.run("id -u"):match("%d+") ~= "0" then
    error("servers.start(\"inetutils\"): ftpd must be started as root", 0)
  end
  if not account_exists(servers.USER) then
    error("servers.start(\"inetutils\"): the account " .. servers.USER
      .. " is missing: run scripts/setup-test-env.sh as root", 0)
  end
end

function kinds.inetutils.configure(s)
  chown(s.root, servers.USER)
  s.shim = s.dir .. "/ftpd_account.so"
  local build = ("%s -shared -fPIC -O1 -o %s %s -ldl 2>&1"):format(proc.shell_quote(CC),
    proc.shell_quote(s.shim), proc.shell_quote(SUPPORT_DIR .. "/ftpd_account.c"))
  local output = sh_output(build)
  if lfs.attributes(s.shim, "mode") ~= "file" then
    error("servers.start(\"inetutils\"): cannot build ftpd_account.so: " .. output, 0)
  end
end

function kinds.inetutils.command(s, opts)
  -- opts.localtime: ftpd's LIST (ls) in that zone; its MDTM stays UTC, as RFC 3659 says.
  local zone = opts and opts.localtime and "TZ=" .. opts.localtime
  return {
    PYTHON, SUPPORT_DIR .. "/inetd_server.py", "--host", s.host, "--port", tostring(s.port),
    "--", "/usr/bin/env", zone or "FTPLIB_FTPD_ZONE=", "LD_PRELOAD=" .. s.shim,
    "FTPLIB_FTPD_USER=" .. servers.USER,
    "FTPLIB_FTPD_HOME=" .. s.root, INETUTILS_FTPD, "-l", "-q",
  }
end

-- The Python servers run as the test account, as vsftpd's and proftpd's sessions do:
-- a file the specs make unreadable (mode 000) is then refused, not served by root.
local SETPRIV = "/usr/bin/setpriv"

local function as_test_user(argv)
  local uid, gid = account_ids(servers.USER)
  return prepend({ SETPRIV, "--reuid=" .. uid, "--regid=" .. gid, "--init-groups" }, argv)
end

local function check_test_user(kind)
  if proc.run("id -u"):match("%d+") ~= "0" or not account_exists(servers.USER) then
    error(("servers.start(%q): needs root and the account %s: run "
      .. "scripts/setup-test-env.sh as root"):format(kind, servers.USER), 0)
  end
end

-- Twisted's FTP server (python3-twisted): PASV only (no EPSV: IPv4 only), no REST,
-- APPE, MLSD or ABOR, and no command read while a transfer runs. Its ASCII mode fails
-- on Python 3 (TYPE A downloads and uploads of files; LIST works), and NLST of a folder
-- names the folder.
kinds.twisted = {
  features = {},
  owner = servers.USER,
  lacks = { ipv6 = true, rest = true, appe = true, mlsd = true, abor = true, ascii = true,
    nlst = true },
  failure_files = {},
}

function kinds.twisted.available()
  return is_executable(SETPRIV) and python_can_import("twisted.protocols.ftp")
end

function kinds.twisted.check() check_test_user("twisted") end
function kinds.twisted.configure(s) chown(s.root, servers.USER) end

function kinds.twisted.command(s)
  return as_test_user({
    PYTHON, SUPPORT_DIR .. "/twisted_server.py", "--host", s.host, "--port", tostring(s.port),
    "--root", s.root, "--user", s.user, "--passwd", s.passwd,
  })
end

-- aioftp (python3-aioftp), plain or implicit FTPS: passive only, no NOOP, SIZE, MDTM,
-- FEAT or NLST, "257 " with no path for MKD; any byte that is not UTF-8 (the Telnet
-- IP/Synch before ABOR) or a data connection closed under a download drops the session.
kinds.aioftp = {
  features = { tls = { implicit = true } },
  owner = servers.USER,
  lacks = { active = true, noop = true, size = true, mdtm = true, feat = true, nlst = true,
    ipv6 = true },
  failure_files = {},
}

function kinds.aioftp.available()
  return is_executable(SETPRIV) and python_can_import("aioftp")
end

function kinds.aioftp.check(opts)
  check_test_user("aioftp")
  refuse_ccc("aioftp", opts)
  local tls = opts.tls
  if tls and (tls.require_client_cert or tls.min_version or tls.max_version
      or tls.data_required == false) then
    error("servers.start(\"aioftp\"): implicit FTPS with the defaults only", 0)
  end
end

function kinds.aioftp.configure(s) chown(s.root, servers.USER) end

function kinds.aioftp.command(s)
  local argv = {
    PYTHON, SUPPORT_DIR .. "/aioftp_server.py", "--host", s.host, "--port", tostring(s.port),
    "--root", s.root, "--user", s.user, "--passwd", s.passwd,
  }
  if s.tls then
    local cert, key = server_keypair(s)
    append(argv, { "--certfile", cert, "--keyfile", key })
  end
  return as_test_user(argv)
end

-- FTPLIB_TEST_SERVERS (e.g. "pyftpdlib" or "vsftpd,proftpd"): the kinds asked for, as a
-- set, or nil when it is not set.
local function wanted_kinds()
  local text = os.getenv("FTPLIB_TEST_SERVERS")
  if not text then return nil end
  local set = {}
  for name in text:gmatch("[^%s,]+") do set[name] = true end
  return set
end

--- The plain servers usable on this machine, in a fixed order: the ones every plain
-- spec runs against. The environment variable FTPLIB_TEST_SERVERS (e.g. "pyftpdlib")
-- narrows the list; it may also name an opt-in kind ("vsftpd,proftpd").
function servers.kinds()
  local wanted = wanted_kinds()
  local list = {}
  for _, name in ipairs(KIND_ORDER) do
    if (not wanted or wanted[name]) and kinds[name].available() then list[#list + 1] = name end
  end
  for _, name in ipairs(OPT_IN_KINDS) do
    if wanted and wanted[name] and kinds[name].available() then list[#list + 1] = name end
  end
  return list
end

--- The odd servers usable on this machine (GNU inetutils ftpd, Twisted, aioftp): run
-- by the transfer, abort and mirror specs besides servers.kinds(), for what they lack
-- see servers.lacks. FTPLIB_TEST_SERVERS narrows the list, as for servers.kinds().
function servers.odd_kinds()
  local wanted = wanted_kinds()
  local list = {}
  for _, name in ipairs(ODD_KINDS) do
    if (not wanted or wanted[name]) and kinds[name].available() then list[#list + 1] = name end
  end
  return list
end

--- True when a server of `kind` lacks `what`, one of: "mlsd", "rest" (REST before
-- RETR/STOR), "appe", "abor" (answers it 502), "active" (PORT/EPRT), "noop", "size",
-- "mdtm", "feat", "nlst" (none, or a wrong one), "ascii" (TYPE A transfers of files),
-- "anonymous", "ipv6". vsftpd lacks MLSD; the odd kinds more.
function servers.lacks(kind, what)
  local lacks = kinds[kind] and kinds[kind].lacks
  return lacks ~= nil and lacks[what] == true
end

--- The FTPS variants of the odd servers (aioftp's implicit FTPS), as servers.tls_kinds().
function servers.odd_tls_kinds()
  local wanted = wanted_kinds()
  local list = {}
  if (not wanted or wanted.aioftp) and servers.available("aioftp", true) then
    list[1] = { name = "aioftp implicit", kind = "aioftp", tls = { mode = "implicit" } }
  end
  return list
end

-- The FTPS variants the TLS specs iterate: each server in each TLS mode, and vsftpd
-- (whose TLS code is the one requiring session reuse since 2009) once per TLS version.
local function tls_variants()
  return {
    { name = "vsftpd explicit TLSv1.2", kind = "vsftpd",
      tls = { mode = "explicit", tls13 = false } },
    { name = "vsftpd explicit TLSv1.3", kind = "vsftpd",
      tls = { mode = "explicit", tls13 = true } },
    { name = "vsftpd implicit", kind = "vsftpd", tls = { mode = "implicit" } },
    { name = "pyftpdlib explicit", kind = "pyftpdlib", tls = { mode = "explicit" } },
    { name = "proftpd explicit", kind = "proftpd", tls = { mode = "explicit" } },
    { name = "proftpd implicit", kind = "proftpd", tls = { mode = "implicit" } },
  }
end

--- True when a server of `kind` (a TLS one with `tls`) can start on this machine: it is
-- installed and its prerequisites are in place. Ignores FTPLIB_TEST_SERVERS.
function servers.available(kind, tls)
  local definition = kinds[kind]
  if not (definition and definition.available()) then return false end
  local ok = pcall(definition.check, { tls = tls and {} or nil })
  return ok
end

--- The FTPS variants usable on this machine: a list of { name =, kind =, tls = } to pass
-- as servers.start(v.kind, { tls = v.tls }). Fresh tables on each call.
-- FTPLIB_TEST_SERVERS narrows it by kind, as for servers.kinds(); proftpd is listed
-- whenever it is unpacked (its TLS variants are not run by the plain specs).
function servers.tls_kinds()
  local wanted = wanted_kinds()
  local list = {}
  for _, variant in ipairs(tls_variants()) do
    local kind = variant.kind
    if (not wanted or wanted[kind]) and servers.available(kind, true) then
      list[#list + 1] = variant
    end
  end
  return list
end

--- True when this machine can listen on ::1.
function servers.ipv6_available()
  local sock = socket.tcp6()
  if not sock then return false end
  local ok = sock:bind("::1", 0)
  sock:close()
  return ok == 1 or ok == true
end

local Server = {}
Server.__index = Server

function Server:path(relative)
  relative = (relative or ""):gsub("^/+", "")
  if relative == "" then return self.root end
  return self.root .. "/" .. relative
end

-- Makes the folders of `relative` (itself included when `include_last`), owned like
-- the server's own files.
function Server:_make_dirs(relative, include_last)
  local parts = {}
  for part in relative:gmatch("[^/]+") do parts[#parts + 1] = part end
  if not include_last then parts[#parts] = nil end
  local path = self.root
  for _, part in ipairs(parts) do
    path = path .. "/" .. part
    if not proc.exists(path) then
      assert(lfs.mkdir(path))
      if self.owner then chown(path, self.owner) end
    end
  end
end

function Server:mkdir(relative)
  self:_make_dirs(relative, true)
  return self:path(relative)
end

function Server:write(relative, content)
  self:_make_dirs(relative, false)
  local path = self:path(relative)
  proc.write_file(path, content)
  if self.owner then chown(path, self.owner) end
  return path
end

function Server:read(relative)
  return proc.read_file(self:path(relative))
end

--- An ftp:// URL for `path` on this server, with the test user's credentials unless
-- opts.anonymous.
function Server:url(path, opts)
  local host = self.host:find(":") and ("[" .. self.host .. "]") or self.host
  local login = (opts and opts.anonymous) and "" or (self.user .. ":" .. self.passwd .. "@")
  -- ftps:// means implicit TLS (curl, Python's urllib); explicit FTPS keeps ftp://.
  local scheme = (self.tls and self.tls.mode == "implicit") and "ftps" or "ftp"
  path = path or "/"
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  return ("%s://%s%s:%d%s"):format(scheme, login, host, self.port, path)
end

--- Tails of the server's logs: its stdout/stderr and the kind's own files.
function Server:log(max_lines)
  local parts = { "--- " .. self.log_file .. "\n" .. proc.tail(self.log_file, max_lines) }
  for _, name in ipairs(kinds[self.kind].failure_files) do
    local path = self.dir .. "/" .. name
    parts[#parts + 1] = "--- " .. path .. "\n" .. proc.tail(path, max_lines)
  end
  return table.concat(parts, "\n")
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  proc.unregister(self)
  local before_stop = kinds[self.kind].before_stop
  if self.process and before_stop then before_stop(self) end
  if self.process then self.process:stop() end
  if proc.exists(self.dir) then proc.rmtree(self.dir) end
end

-- Reads the first line in short slices, checking in between that the server still
-- runs: whatever accepted the connection may not be our server (another process may
-- have taken the port), and a server made slow with opts.delay greets late.
local function read_greeting(s, sock)
  local deadline = socket.gettime() + READY_TIMEOUT
  local partial = ""
  sock:settimeout(0.2)
  while true do
    local line, err, received = sock:receive("*l", partial)
    if line then return line end
    if err ~= "timeout" then return nil, err end
    partial = received
    if not s.process:alive() then return false, "the server process exited" end
    if socket.gettime() > deadline then return nil, "no greeting line" end
  end
end

-- The greeting of an implicit-TLS server, read through `openssl s_client` as LuaSocket
-- has no TLS. Returns the first line, or nil and s_client's output.
local function tls_greeting(s)
  local host = s.host:find(":") and ("[" .. s.host .. "]") or s.host
  local command = { "printf 'QUIT\\r\\n' |", "timeout", tostring(READY_TIMEOUT),
    OPENSSL, "s_client", "-quiet", "-ign_eof", "-connect", host .. ":" .. s.port }
  if s.tls.require_client_cert then
    append(command, { "-cert", s.certs.client_cert, "-key", s.certs.client_key })
  end
  local output = sh_output(table.concat(command, " ") .. " 2>&1")
  local line = output:match("%f[^\n%z]220[^\r\n]*")
  if line then return line end
  return nil, output
end

-- probe() for implicit TLS. Straight to s_client: a plain connection first would cost
-- proftpd's 0.2 s pause after each session (see kinds.proftpd.before_stop).
local function probe_implicit(s)
  local line, output = tls_greeting(s)
  if line then return line end
  if output:find("errno=111", 1, true) then return nil, "connection refused" end
  -- Listening: the TLS set-up is done by then (vsftpd, proftpd load their certificates
  -- first), so a failed handshake is a failure, not a wait.
  return false, "no greeting through TLS: " .. output
end

-- Connects and reads the greeting. Returns the greeting line; nil and a reason to keep
-- waiting; or false and a reason to give up (the process died or greeted with an error).
local function probe(s)
  if not s.process:alive() then return false, "the server process exited" end
  if s.tls and s.tls.mode == "implicit" then return probe_implicit(s) end
  local sock = s.host:find(":") and socket.tcp6() or socket.tcp4()
  sock:settimeout(1)
  local ok, err = sock:connect(s.host, s.port)
  if not ok then
    sock:close()
    return nil, err
  end
  local line, read_err = read_greeting(s, sock)
  sock:close()
  if not line then return line, read_err end
  if line:match("^220") then return line end
  return false, "the server greeted with: " .. line
end

local function wait_ready(s)
  local deadline = socket.gettime() + READY_TIMEOUT
  local reason
  repeat
    local greeting
    greeting, reason = probe(s)
    if greeting then return greeting end
    if greeting == false then return nil, reason end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return nil, "no greeting within " .. READY_TIMEOUT .. " s (last: " .. tostring(reason) .. ")"
end

-- The process `pid` and all its descendants, read from /proc.
local function process_tree(pid)
  local parent_of = {}
  for name in lfs.dir("/proc") do
    local stat = name:match("^%d+$") and proc.read_file("/proc/" .. name .. "/stat")
    local ppid = stat and stat:match("%) %a (%d+)")
    if ppid then parent_of[tonumber(name)] = tonumber(ppid) end
  end
  local tree, added = { [pid] = true }, true
  while added do
    added = false
    for child, parent in pairs(parent_of) do
      if tree[parent] and not tree[child] then tree[child], added = true, true end
    end
  end
  return tree
end

--- Stops a server started with opts.restartable at once, as a crash would (SIGKILL to
-- it and its sessions: clients see their connections drop), keeping its folder for
-- s:restart(). (vsftpd sessions in the middle of a transfer take 3 s to give in to
-- SIGTERM.)
function Server:halt()
  if self.process and self.process:alive() then
    local pids = {}
    for pid in pairs(process_tree(self.process.pid)) do pids[#pids + 1] = tostring(pid) end
    os.execute("kill -s KILL " .. table.concat(pids, " ") .. " 2>/dev/null")
  end
  if self.process then self.process:stop() end
end

--- Starts a halted server again on the same port and root. opts.after = seconds: the
-- process starts that much later and restart returns at once (s:wait_ready() waits for
-- its greeting); otherwise restart waits for the greeting, raising on failure.
function Server:restart(opts)
  assert(self.opts.restartable, "servers: restart needs servers.start(kind, {restartable = true})")
  self:halt()
  local argv = kinds[self.kind].command(self, self.opts)
  if opts and opts.after then
    argv = append({ "sh", "-c", 'sleep "$0" && exec "$@"', tostring(opts.after) }, argv)
  end
  self.process = proc.spawn(argv, { log = self.log_file })
  if not (opts and opts.after) then self:wait_ready() end
end

--- Waits for the greeting of a restarted server; raises with its log tail on failure.
function Server:wait_ready()
  local greeting, reason = wait_ready(self)
  if not greeting then
    error("servers: the server did not restart: " .. reason .. "\n" .. self:log(40), 2)
  end
  return greeting
end

local function new_server(kind, opts)
  local host = opts.host or (opts.ipv6 and "::1" or "127.0.0.1")
  local dir = proc.tempdir(kind)
  local s = setmetatable({
    kind = kind,
    host = host,
    port = proc.free_port(host),
    dir = dir,
    root = dir .. "/root",
    user = servers.USER,
    passwd = servers.PASSWD,
    owner = kinds[kind].owner,
    log_file = dir .. "/server.log",
  }, Server)
  assert(lfs.mkdir(s.root))
  if opts.tls then
    s.tls = opts.tls
    s.certs = require("spec.support.certs").get()
    s.ca = s.certs.ca
  end
  return s
end

-- Whether nobody listens on `port` now: after a failed start, tells a port taken by
-- another process since proc.free_port (worth another try) from any other failure.
local function port_is_free(host, port)
  local sock = host:find(":") and socket.tcp6() or socket.tcp4()
  sock:setoption("reuseaddr", true) -- a TIME_WAIT left by the probes is no listener
  local ok = sock:bind(host, port)
  sock:close()
  return ok == 1
end

-- One start on one port. Returns the server, or nil, a report, and whether the failure
-- looks like a port taken meanwhile (worth another port).
local function try_start(kind, opts)
  local definition = kinds[kind]
  local s = new_server(kind, opts)
  local ok, err = pcall(definition.configure, s, opts)
  if ok then
    ok, err = pcall(function()
      s.process = proc.spawn(definition.command(s, opts),
        { log = s.log_file, cleanup = not opts.restartable and s.dir or nil })
    end)
  end
  if not ok then
    s:stop()
    return nil, tostring(err), false
  end
  s.opts = opts
  local greeting, reason = wait_ready(s)
  if greeting then
    s.greeting = greeting
    proc.register(s)
    return s
  end
  local report = reason .. "\n" .. s:log(60)
  s:stop()
  return nil, report, not port_is_free(s.host, s.port)
end

-- Raises when `kind` cannot serve the normalized TLS options.
local function check_tls_support(kind, tls)
  local features = kinds[kind].features
  if not features.tls[tls.mode] then
    error(("servers.start: %s does not support %s TLS"):format(kind, tls.mode), 0)
  end
  if tls.require_client_cert and not features.client_cert then
    error(("servers.start: %s does not support client certificates"):format(kind), 0)
  end
end

-- Raises, for the caller of servers.start, when the options are wrong or `kind` cannot
-- serve them. Returns the options with opts.tls normalized (a copy: the caller's table
-- is left alone).
local function check_options(kind, opts)
  local definition = kinds[kind]
  if not definition then
    error("servers.start: unknown kind " .. tostring(kind), 3)
  end
  if not definition.available() then
    error("servers.start: " .. kind .. " is not installed on this machine", 3)
  end
  for _, feature in ipairs({ "ipv6", "tls", "delay", "encoding", "max_rate", "localtime",
    "digest", "deflate" }) do
    if opts[feature] and not definition.features[feature] then
      error(("servers.start: %s does not support opts.%s yet"):format(kind, feature), 3)
    end
  end
  if opts.host ~= nil and not tostring(opts.host):match("^127%.%d+%.%d+%.%d+$") then
    error("servers.start: opts.host must be an IPv4 loopback address (127.x.y.z)", 3)
  end
  local checked = {}
  for key, value in pairs(opts) do checked[key] = value end
  local ok, err = pcall(function()
    if opts.tls then
      checked.tls = normalize_tls(opts.tls)
      check_tls_support(kind, checked.tls)
      checked.tls.reuse_required = definition.features.tls_reuse_required == true
    end
    definition.check(checked)
  end)
  if not ok then error(err, 3) end
  return checked
end

--- Starts a server of `kind`. Raises, with the server's log tail, if it cannot.
function servers.start(kind, opts)
  opts = check_options(kind, opts or {})
  local report
  for attempt = 1, START_ATTEMPTS do
    local s, err, port_taken = try_start(kind, opts)
    if s then return s end
    report = ("attempt %d: %s"):format(attempt, err)
    if not port_taken then break end
  end
  error("servers.start(\"" .. kind .. "\"): the server did not start: " .. report, 2)
end

return servers
