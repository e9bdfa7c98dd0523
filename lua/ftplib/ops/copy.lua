-- Server-to-server copy. FXP first: the source listens (PASV, or EPSV on
-- IPv6), the target is told to connect there (PORT/EPRT), and the file
-- flows between the servers without touching the client. When a server
-- refuses that (many do: FXP also makes "FTP bounce" attacks possible), the
-- bytes are relayed through the client, one block at a time.
--
--   ftplib.copy(src, src_path, dst, dst_path, opts)
--     --> { method = "fxp" | "relay", bytes = n | nil, reason = why relayed }
--     --> nil, msg, code
-- opts.fxp = false: relay only. opts.relay = false: FXP only, no fallback.
-- opts.timeout: seconds an FXP transfer may take, as the client sees no
-- data to time it by (default 3600). opts.progress(done): relay only.
-- opts.blocksize: relay block size (default 65536). opts.rate_limit: bytes a
-- second, relay only (FXP's bytes never pass through the client to be held).
local core = require "ftplib.core"
local checks = require "ftplib.base.checks"
local data_channel = require "ftplib.protocol.data_channel"

local DEFAULT_FXP_TIMEOUT = 3600
local DEFAULT_BLOCKSIZE = 65536

--- Helpers: server-to-server copies.
-- @module helpers

--- Server to server.
-- @section copy

-- Keeping in step --------------------------------------------------------

-- Brings a session back in step after a broken copy: ABOR when a transfer
-- command was accepted on it, then NOOP, reading every reply up to NOOP's
-- 200 (a stray reply, such as pyftpdlib's unasked 425 for a data
-- connection it turned away, is swallowed here too).
local function resync(ftp, transferring)
  if ftp:_isopen() then
    ftp:_resync(transferring)
  end
end

-- TYPE I on both sessions: true, or nil, msg, code.
local function binary_both(src, dst)
  local ok, err, code = src:_settype("I")
  if ok then
    ok, err, code = dst:_settype("I")
  end
  if not ok then
    return nil, err, code
  end
  return true
end

-- The next reply, waiting up to `seconds`: during FXP the client sees no
-- data, so the session's own timeout would cut a long transfer short.
local function patient_reply(ftp, seconds)
  local saved = ftp.timeout
  ftp.timeout = seconds
  local code, text, errcode = ftp:_readreply()
  ftp.timeout = saved
  return code, text, errcode
end

-- A reply of class `wanted` (1 or 2): its text, or nil, msg, code.
local function expect(wanted, code, text, errcode)
  if code and code // 100 == wanted then
    return text
  elseif code and code < 400 then
    return nil, "unexpected reply: " .. text, "proto"
  end
  return nil, text, code or errcode
end

-- FXP ---------------------------------------------------------------------

-- Where the source listens: its control connection's peer address (never
-- the address in the 227 text, often a private one behind NAT) and the
-- port from the reply. Returns host, port, family.
local function source_listens(src)
  local host, _, _, family = src:_peer()
  local verb, wanted, parse = "PASV", 227, core.parse_pasv
  if family == "inet6" then
    verb, wanted, parse = "EPSV", 229, core.parse_epsv
  end
  local code, text, errcode = src:_cmd(verb)
  if code ~= wanted then
    return expect(2, code, text, errcode)
  end
  local a, b = parse(text)
  if not a then
    return nil, tostring(b) .. ": " .. text, "proto"
  end
  return host, (verb == "PASV" and b or a), family
end

-- TYPE I on both, the source listening, the target told where: true, or
-- nil, msg, code with nothing pending on either side.
local function fxp_setup(src, dst)
  local ok, err, code = binary_both(src, dst)
  if not ok then
    return nil, err, code
  end
  local host, port, family = source_listens(src)
  if not host then
    return nil, port, family
  end
  return dst:voidcmd(data_channel.port_command(host, port, family, dst.af))
end

-- Both final replies, the source's first (it ends the data connection).
local function fxp_finish(src, dst, timeout)
  local ok, err, code = expect(2, patient_reply(src, timeout))
  if not ok then
    resync(dst, true)
    return nil, err, code
  end
  return expect(2, patient_reply(dst, timeout))
end

-- STOR on the target first (it connects to the source), then RETR on the
-- source; on a failure both sessions are brought back in step.
local function fxp_transfer(src, src_path, dst, dst_path, timeout, attempt)
  local ok, err, code = expect(1, dst:_cmd("STOR " .. dst_path))
  local stor_started = ok ~= nil
  attempt.stored = attempt.stored or stor_started
  local retr_reply
  if ok then
    retr_reply, err, code = expect(1, src:_cmd("RETR " .. src_path))
  end
  ok = retr_reply
  if ok then
    ok, err, code = fxp_finish(src, dst, timeout)
  elseif stor_started then
    resync(dst, true)
  end
  if not ok then
    resync(src, false)
    return nil, err, code
  end
  return retr_reply
end

-- The result, or nil, msg, code and whether relaying is worth a try: a
-- server refused a step of FXP itself (PASV, PORT, or a data connection
-- between the servers: 425, 426), not the file.
local function fxp(src, src_path, dst, dst_path, opts, attempt)
  local ok, err, code = fxp_setup(src, dst)
  if not ok then
    return nil, err, code, math.type(code) == "integer" or code == "proto"
  end
  local retr_reply
  retr_reply, err, code = fxp_transfer(src, src_path, dst, dst_path,
    opts.timeout or DEFAULT_FXP_TIMEOUT, attempt)
  if not retr_reply then
    return nil, err, code, code == 425 or code == 426
  end
  -- What landed on the target; the source's 150 count when SIZE fails.
  local bytes = dst:size(dst_path) or core.parse_150(retr_reply)
  return { method = "fxp", bytes = bytes }
end

-- Relay ---------------------------------------------------------------------

-- Moves blocks from one data connection to the other: "done", bytes or
-- nil, msg, code. One block in memory at a time.
local function pump(from, to, blocksize, progress)
  local done = 0
  while true do
    local chunk, err, code = from:recv(blocksize)
    if not chunk then
      return nil, err, code
    elseif chunk == "" then
      return "done", done
    end
    local sent
    sent, err, code = to:send(chunk)
    if not sent then
      return nil, err, code
    end
    done = done + #chunk
    if progress then
      progress(done)
    end
  end
end

-- Ends both transfers after the pump: the final replies when all went
-- through, otherwise ABOR on both. A raise (from progress) is re-raised
-- once both sessions are in step.
local function end_relay(src, sdata, dst, ddata, called, state, err, code)
  if called and state == "done" then
    local ok
    ok, err, code = src:_finish_transfer(sdata)
    if ok then
      return dst:_finish_transfer(ddata)
    end
  end
  src:_abort_transfer(sdata)
  dst:_abort_transfer(ddata)
  if not called then
    error(state, 0)
  end
  return nil, err, code
end

local function relay(src, src_path, dst, dst_path, opts, attempt)
  local ok, err, code = binary_both(src, dst)
  if not ok then
    return nil, err, code
  end
  local sdata, ddata
  sdata, err, code = src:ntransfercmd("RETR " .. src_path)
  if not sdata then
    return nil, err, code
  end
  ddata, err, code = dst:ntransfercmd("STOR " .. dst_path)
  if not ddata then
    src:_abort_transfer(sdata)
    return nil, err, code
  end
  attempt.stored = true
  if opts.rate_limit then -- reading no faster than the limit holds the writes to it too
    sdata:_set_rate(opts.rate_limit)
  end
  local called, state, bytes, ecode = pcall(pump, sdata, ddata,
    opts.blocksize or DEFAULT_BLOCKSIZE, opts.progress)
  ok, err, code = end_relay(src, sdata, dst, ddata, called, state, bytes, ecode)
  if not ok then
    return nil, err, code
  end
  return { method = "relay", bytes = bytes }
end

-- The public function -------------------------------------------------------

-- Why FXP cannot even be tried, or nil. Protected data connections between
-- two servers need SSCN or CPSV (one server acting as the TLS client),
-- which few servers offer: relayed instead.
local function fxp_obstacle(src, dst, opts)
  if opts.fxp == false then
    return "opts.fxp is false"
  elseif src._prot_p or dst._prot_p then
    return "a TLS session protects its data (PROT P): FXP would need SSCN/CPSV"
  elseif src._proxy then
    return "the source is reached through a proxy: the target may not reach its address"
  elseif opts.rate_limit then
    return "opts.rate_limit: FXP's bytes do not pass through the client to be held to it"
  end
end

local function check_session(argn, ftp)
  checks.check("copy", argn, ftp, "userdata")
  if getmetatable(ftp) ~= debug.getregistry()["ftplib.FTP"] then
    checks.raise(("bad argument #%d to 'copy' (FTP object expected)"):format(argn))
  end
end

local OPTION_TYPES = {
  fxp = "boolean", relay = "boolean", timeout = "number", progress = "function",
  blocksize = "number", rate_limit = "number",
}

local function check_options(opts)
  opts = checks.check_options("copy", 5, opts, OPTION_TYPES)
  if opts.fxp == false and opts.relay == false then
    checks.raise("copy: opts.fxp and opts.relay are both false")
  elseif opts.rate_limit and opts.relay == false then
    checks.raise("copy: opts.rate_limit needs the relay (FXP's bytes never pass through "
      .. "the client), and opts.relay is false")
  end
  checks.check_rate("copy", opts.rate_limit)
  return opts
end

local function check_arguments(src, src_path, dst, dst_path, opts)
  check_session(1, src)
  checks.check("copy", 2, src_path, "string")
  check_session(3, dst)
  checks.check("copy", 4, dst_path, "string")
  if rawequal(src, dst) then
    checks.raise("copy needs two sessions: one control connection cannot run two transfers")
  end
  opts = check_options(opts)
  for _, ftp in ipairs { src, dst } do
    local usable, err, code = ftp:_usable()
    if not usable then
      return nil, err, code
    end
  end
  return opts
end

-- FXP, then the relay when FXP was refused: result, or nil, msg, code.
local function try_both(src, src_path, dst, dst_path, opts, attempt)
  local reason = fxp_obstacle(src, dst, opts)
  if reason and opts.relay == false then
    return nil, "FXP not possible: " .. reason, "proto"
  end
  if not reason then
    local result, err, code, worth_relay = fxp(src, src_path, dst, dst_path, opts, attempt)
    if result or not worth_relay or opts.relay == false then
      return result, err, code
    end
    reason = "FXP refused: " .. err
  end
  local result, err, code = relay(src, src_path, dst, dst_path, opts, attempt)
  if result then
    result.reason = reason
  end
  return result, err, code
end

--- Copies a file from one server to another. FXP first: PASV (EPSV on IPv6) on the
-- source, PORT/EPRT to the target with the source's real address (its control
-- connection's peer, never the text of the 227), STOR on the target, RETR on the
-- source, both final replies read. When a server refuses a step (PORT to a foreign
-- address, 425), both sessions are brought back in step and the bytes are relayed
-- through the client, one block at a time. Sessions with protected data (PROT P) are
-- always relayed: FXP between them needs SSCN/CPSV; so is a source reached through a
-- proxy (the `proxy` option: where it is, is the proxy's business). What a failed
-- copy left on the target is deleted.
-- @function ftplib.copy
-- @tparam FTP src the source session
-- @tparam string src_path the file on the source
-- @tparam FTP dst the target session (another one)
-- @tparam string dst_path the file to write on the target
-- @tparam[opt] table opts
-- @tparam[opt=true] boolean opts.fxp `false`: relay at once
-- @tparam[opt=true] boolean opts.relay `false`: FXP only, no relay when it is refused
-- @tparam[opt=3600] number opts.timeout seconds an FXP transfer may take (the client
-- sees no data to time it by)
-- @tparam[opt] function opts.progress called as `progress(done)` during a relay
-- @tparam[opt=65536] number opts.blocksize the relay's block size
-- @tparam[opt] number opts.rate_limit at most this many bytes a second, as for
-- @{FTP:retrbinary}: the copy is relayed (FXP's bytes never pass through the client,
-- so nothing could hold them to it; `reason` says so)
-- @treturn table the result: `method` (`"fxp"` or `"relay"`), `bytes` (the bytes
-- copied; after FXP from SIZE on the target or the 150 reply, `nil` when neither
-- tells) and `reason` (why it was relayed, when it was)
-- @return[2] `nil, message, code`
-- @raise for arguments that are not two distinct FTP sessions and strings, an unknown
-- or mistyped option, `fxp` and `relay` both false, `rate_limit` under 1 or with
-- `relay = false`
-- @usage local r = assert(ftplib.copy(src_ftp, "pub/big.iso", dst_ftp, "incoming/big.iso"))
-- print(r.method, r.bytes, r.reason)
local function copy(src, src_path, dst, dst_path, opts)
  local err, code
  opts, err, code = check_arguments(src, src_path, dst, dst_path, opts)
  if not opts then
    return nil, err, code
  end
  local attempt = {} -- attempt.stored: the target accepted a STOR
  local result
  result, err, code = try_both(src, src_path, dst, dst_path, opts, attempt)
  if not result and attempt.stored and dst:_isopen() then
    -- What the failed STOR left is empty or cut short: not a copy.
    dst:delete(dst_path)
  end
  return result, err, code
end

return { exports = { copy = copy }, option_types = { copy = OPTION_TYPES } }
