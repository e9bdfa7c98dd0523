-- Test certificates for the FTPS specs, made with the `openssl` command at test time:
-- nothing secret or expiring is committed. Made once per process (the first call takes
-- about 0.1 s), kept in a proc.tempdir folder that is removed when the Lua state closes.
--
--   local certs = require "spec.support.certs"
--   local c = certs.get()
--   c.dir                          the folder holding everything below
--   c.ca                           test CA certificate: what clients should trust
--   c.server_cert, c.server_key    signed by the CA for DNS:localhost, IP:127.0.0.1, IP:::1
--   c.wrong_cert, c.wrong_key      signed by the CA for DNS:wrong.example only
--   c.unknown_cert, c.unknown_key  self-signed, right names, but no CA vouches for it
--   c.client_cert, c.client_key    client certificate (CN=ftplibtest) signed by the CA
--
-- Keys are EC P-256 (RSA 2048 takes 0.3 s per key here), unencrypted PEM, readable by
-- everyone: the servers' unprivileged session processes may open them, and they
-- protect nothing.
local proc = require "spec.support.proc"

local certs = {}

-- Validity: two days from now, so a spec run around midnight, or a client checking
-- the dates with a little clock skew, never sees an expired certificate.
local DAYS = 2

-- One configuration for every certificate: openssl's default one would add the CA
-- extensions (v3_ca) to every `req -x509` certificate, leaves included.
local OPENSSL_CONFIG = [[
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[wrong_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[unknown_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
]]

-- Each certificate: file stem, subject, extension section, and whether the test CA
-- signs it (otherwise it signs itself).
local CERTIFICATES = {
  { stem = "ca", subject = "/CN=ftplib test CA", ext = "ca_ext" },
  { stem = "server", subject = "/CN=localhost", ext = "server_ext", by_ca = true },
  { stem = "wrong", subject = "/CN=wrong.example", ext = "wrong_ext", by_ca = true },
  { stem = "unknown", subject = "/CN=localhost", ext = "unknown_ext" },
  { stem = "client", subject = "/CN=ftplibtest", ext = "client_ext", by_ca = true },
}

-- The shell commands making one key and its certificate, run inside the folder.
local function certificate_commands(spec)
  local q = proc.shell_quote
  local key, cert = spec.stem .. ".key", spec.stem .. ".pem"
  local make_key = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "
    .. q(key)
  local sign = ("openssl req -config openssl.cnf -new -x509 -days %d -key %s -subj %s"
    .. " -extensions %s -out %s"):format(DAYS, q(key), q(spec.subject), q(spec.ext), q(cert))
  if spec.by_ca then sign = sign .. " -CA ca.pem -CAkey ca.key" end
  return make_key .. " && " .. sign
end

local function make_all(dir)
  proc.write_file(dir .. "/openssl.cnf", OPENSSL_CONFIG)
  local commands = { "cd " .. proc.shell_quote(dir) }
  for _, spec in ipairs(CERTIFICATES) do
    commands[#commands + 1] = certificate_commands(spec)
  end
  -- genpkey writes keys 0600; see the header for why they are world-readable.
  commands[#commands + 1] = "chmod 644 *.key *.pem"
  -- One shell for all: each openssl run costs a few milliseconds, a shell as much again.
  proc.run("set -e; " .. table.concat(commands, "\n"))
end

local cached

--- The test certificates (see the header). Raises when `openssl` fails.
function certs.get()
  if cached then return cached end
  local dir = proc.tempdir("certs")
  local ok, err = pcall(make_all, dir)
  if not ok then
    proc.rmtree(dir)
    error("certs.get: could not make the test certificates: " .. tostring(err), 2)
  end
  local function path(name) return dir .. "/" .. name end
  cached = {
    dir = dir,
    ca = path("ca.pem"),
    server_cert = path("server.pem"), server_key = path("server.key"),
    wrong_cert = path("wrong.pem"), wrong_key = path("wrong.key"),
    unknown_cert = path("unknown.pem"), unknown_key = path("unknown.key"),
    client_cert = path("client.pem"), client_key = path("client.key"),
  }
  -- Removed with the servers when the Lua state closes (proc's sentinel).
  proc.register({ stop = function() proc.rmtree(dir) end })
  return cached
end

return certs
