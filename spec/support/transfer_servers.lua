-- The real servers of the transfer specs (spec/protocol/transfer_spec.lua,
-- transfer_listings_spec.lua): every kind of servers.kinds() over IPv4 and IPv6 and the
-- odd kinds over IPv4, each in passive and active mode, serving the same random files;
-- and the checks those specs share. `each_mode(mode_tests, opts)` makes the describes
-- (same names in both specs: "transfers", "<kind> over <family>", "<mode> mode") and
-- calls mode_tests(get_server, kind, mode, odd) in each; opts.more(kinds) runs last
-- inside "transfers"; opts.pending: say what is left out (one spec says it for both).
--
-- Byte-exact checks compare SHA-256 sums (sha256sum). The 64 MiB random file is made
-- once per spec file and used only for the main round trips; the rest use small files.
local ftplib = require "ftplib"
local servers = require "spec.support.servers"
local proc = require "spec.support.proc"
-- busted's functions: a required module does not see the spec's environment.
local assert = require "luassert"
local busted = require "busted"
local describe, pending = busted.describe, busted.pending
local lazy_setup, lazy_teardown = busted.lazy_setup, busted.lazy_teardown

local scaled = require "spec.support.scale" -- FTPLIB_TEST_SCALE (make valgrind)
local BIG_SIZE = scaled(64 * 1024 * 1024)
local MEDIUM_SIZE = scaled(8 * 1024 * 1024)
local SMALL_SIZE = 300000

local MODES = { "passive", "active" }

local transfer = { SMALL_SIZE = SMALL_SIZE }

-- Filled by the outer lazy_setup: a temporary folder and the random files in it.
local tmp
local files = {} -- files.big = { path =, sha =, content = }, files.medium, files.small
transfer.files = files

function transfer.sha256_file(path)
  local out = proc.run("sha256sum " .. proc.shell_quote(path))
  return assert(out:match("^(%x+)"), "sha256sum gave: " .. out)
end

function transfer.random_file(name, size)
  local path = tmp .. "/" .. name
  proc.run(("head -c %d /dev/urandom > %s"):format(size, proc.shell_quote(path)))
  local file = assert(io.open(path, "rb"))
  local content = file:read("a")
  file:close()
  assert(#content == size)
  return { path = path, sha = transfer.sha256_file(path), content = content, size = size }
end

local temp_counter = 0
function transfer.temp_path(tag)
  temp_counter = temp_counter + 1
  return ("%s/%s.%d"):format(tmp, tag, temp_counter)
end

-- A pipe to sha256sum: write(chunk) feeds it, digest() closes it and gives the sum.
-- Hashing runs beside the transfer, in its own process.
function transfer.hashing_pipe()
  local out = transfer.temp_path("sha")
  local pipe = assert(io.popen("sha256sum > " .. proc.shell_quote(out), "w"))
  local size = 0
  return {
    write = function(chunk)
      size = size + #chunk
      assert(pipe:write(chunk))
    end,
    digest = function()
      assert(pipe:close())
      local text = assert(proc.read_file(out))
      os.remove(out)
      return assert(text:match("^(%x+)")), size
    end,
  }
end

function transfer.session(s, opts)
  local options = { port = s.port, user = s.user, passwd = s.passwd, timeout = 20 }
  for key, value in pairs(opts or {}) do options[key] = value end
  local ftp, err, code = ftplib.FTP(s.host, options)
  assert(ftp, ("cannot log in to %s at %s port %s: %s (%s)"):format(
    s.kind or "server", s.host, tostring(s.port), tostring(err), tostring(code)))
  return ftp
end

-- The kind of server the current real-server tests run against (set by transfer.open).
local current_kind

-- The session is in step: commands still get their own replies, and a small download
-- still gives exactly the bytes of the file.
function transfer.assert_usable(ftp, remote, content)
  assert.is_string((assert(ftp:pwd())))
  if current_kind and servers.lacks(current_kind, "noop") then
    assert.equal(502, select(3, ftp:noop())) -- aioftp: "502 'noop' not implemented"
  else
    assert.matches("^200", (assert(ftp:noop())))
  end
  if remote then
    local parts = {}
    assert.matches("^2%d%d", (assert(ftp:retrbinary("RETR " .. remote, function(chunk)
      parts[#parts + 1] = chunk
    end))))
    assert.equal(#content, #table.concat(parts))
    assert.is_true(content == table.concat(parts), "the download after the error differs")
  end
end

function transfer.basenames(list)
  local names = {}
  for i, name in ipairs(list) do names[i] = name:match("([^/]*)$") end
  table.sort(names)
  return names
end

-- The session of one mode's tests (in before_each): s, and a session logged in to s,
-- passive or active.
function transfer.open(s, kind, mode)
  current_kind = kind
  local ftp = transfer.session(s)
  ftp:set_pasv(mode == "passive")
  return s, ftp
end

-- After each test: closes the test's session (when it has one); answers nil.
function transfer.close(ftp)
  if ftp then ftp:close() end
  return nil
end

local function server_tests(mode_tests, say, kind, family, odd)
  describe(kind .. " over " .. family, function()
    local s
    local function get_server()
      return assert(s, "the server did not start")
    end

    lazy_setup(function()
      s = servers.start(kind, { ipv6 = family == "IPv6" })
      s:write("big.bin", (odd and files.medium or files.big).content)
      s:write("small.bin", files.small.content)
      s:write("empty.bin", "")
    end)

    lazy_teardown(function()
      if s then s:stop() end
      s = nil
    end)

    for _, mode in ipairs(MODES) do
      if mode == "active" and servers.lacks(kind, "active") then
        say(kind .. " has no active mode (PORT/EPRT)")
      else
        describe(mode .. " mode", function()
          mode_tests(get_server, kind, mode, odd)
        end)
      end
    end
  end)
end

function transfer.each_mode(mode_tests, opts)
  local say = opts.pending and pending or function() end
  describe("transfers", function()
    lazy_setup(function()
      tmp = proc.tempdir("transfer-spec")
      files.big = transfer.random_file("big.bin", BIG_SIZE)
      files.medium = transfer.random_file("medium.bin", MEDIUM_SIZE)
      files.small = transfer.random_file("small.bin", SMALL_SIZE)
    end)

    lazy_teardown(function()
      for key in pairs(files) do files[key] = nil end
      if tmp then proc.rmtree(tmp) end
      tmp = nil
    end)

    local kinds = servers.kinds()
    local families = { "IPv4" }
    if servers.ipv6_available() then
      families[2] = "IPv6"
    else
      say("IPv6 transfers: this machine cannot listen on ::1")
    end
    if #kinds == 0 then
      say("real-server transfers: neither vsftpd nor pyftpdlib is installed")
    end
    for _, kind in ipairs(kinds) do
      for _, family in ipairs(families) do
        server_tests(mode_tests, say, kind, family)
      end
    end
    for _, kind in ipairs(servers.odd_kinds()) do
      -- servers.lacks(kind, "ipv6") for all of them
      server_tests(mode_tests, say, kind, "IPv4", true)
    end
    if opts.more then opts.more(kinds) end
  end)
end

return transfer
