-- MODE Z (draft-preston-ftpext-deflate; proftpd's mod_deflate): the data
-- connections carry a zlib stream, which the C core inflates and deflates
-- (src/deflate.c). Asked for once per session, after login, when the
-- option mode_z is set and FEAT offers it; a refusal leaves the session in
-- MODE S (stream mode), said in a debug line and by FTP:transfer_mode.
--
-- Uploads go in MODE S unless the option mode_z_upload is set: proftpd's
-- mod_deflate (0.6, in proftpd 1.3.8 and the 1.3.9 sources) inflates an
-- upload one network read at a time into a fixed buffer, and when a read
-- inflates past it the compressed bytes left over are overwritten by the
-- next read: an upload past that buffer (about 128 KiB of file) ends in
-- "451 Transfer aborted" (the zlib check catches it) or stalls until our
-- timeout (spec/protocol/mode_z_spec.lua shows both). So a session in MODE
-- Z sends MODE S before an upload and MODE Z again before the next download.
local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

-- Whether FEAT's MODE line names Z ("MODE Z", or a list such as "MODE B Z").
local function offers_z(features)
  local modes = features.MODE
  return type(modes) == "string" and (" " .. modes:upper() .. " "):find("[%s,;]Z[%s,;]") ~= nil
end

-- Login's last step (control.lua's FTP:login): MODE Z, or why not. Only a
-- lost connection fails the login; a refused FEAT or MODE Z does not.
function FTP:_negotiate_mode_z()
  local was = self._mode_z_now
  self._mode_z_on, self._mode_z_note, self._mode_z_now = false, nil, "S"
  if not self.mode_z then
    self._mode_z_note = "the option mode_z is off"
    if was == "Z" then -- a login again on the same connection: the server's MODE stays
      local rcode, text, errcode = self:_cmd("MODE S")
      if not rcode then
        return nil, text, errcode
      end
    end
    return true
  end
  local features, err, code = self:_features()
  if err and math.type(code) ~= "integer" then
    return nil, err, code
  end
  if not offers_z(features) then
    self._mode_z_note = "FEAT does not offer MODE Z"
  else
    local rcode, text, errcode = self:_cmd("MODE Z")
    if not rcode then
      return nil, text, errcode
    elseif rcode // 100 == 2 then
      self._mode_z_on, self._mode_z_now = true, "Z"
      return true
    end
    self._mode_z_note = "MODE Z refused: " .. text
  end
  self:_debug(1, "warn", "stream mode (MODE S): " .. self._mode_z_note)
  return true
end

-- Before a transfer of the library's own (protocol/transfer.lua): the mode
-- it goes in, Z or S (see above), sent when the session is in the other.
-- Only a lost connection fails; a refusal is taken as it comes (a refused
-- MODE Z: stream mode from now on, said as at login).
function FTP:_mode_for(upload)
  if not self._mode_z_on then
    return true
  end
  local want = (upload and not self.mode_z_upload) and "S" or "Z"
  if self._mode_z_now == want then
    return true
  end
  local rcode, text, errcode = self:_cmd("MODE " .. want)
  if not rcode then
    return nil, text, errcode
  elseif rcode // 100 == 2 then
    self._mode_z_now = want
  elseif want == "Z" then
    self._mode_z_on, self._mode_z_now, self._mode_z_note = false, "S", "MODE Z refused: " .. text
    self:_debug(1, "warn", "stream mode (MODE S): " .. self._mode_z_note)
  end
  return true
end

--- FTP methods: the transfer mode.
-- @classmod FTP

--- Connection and login.
-- @section connection

--- The transfer mode of the session's downloads and listings: `"Z"` (deflate: the
-- `mode_z` option was set, FEAT offered MODE Z and the server accepted it at login)
-- or `"S"` (stream mode, the default) with the reason. Uploads go in MODE S unless
-- the option `mode_z_upload` is set too. A transfer run by hand (@{FTP:transfercmd})
-- goes in the mode last sent, as the server sees it.
-- @treturn string `"Z"` or `"S"`
-- @treturn ?string for `"S"`: why not Z (`"the option mode_z is off"`, `"FEAT does
-- not offer MODE Z"`, `"MODE Z refused: 504 ..."`, `"not logged in"`)
function FTP:transfer_mode()
  if self._mode_z_on then
    return "Z"
  end
  return "S", self._mode_z_note or "not logged in"
end

return { FTP = FTP }
