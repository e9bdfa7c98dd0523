-- MODE Z (draft-preston-ftpext-deflate; proftpd's mod_deflate): the data
-- connections carry a zlib stream, which the C core inflates and deflates
-- (src/deflate.c). Asked for once per session, after login, when the
-- option mode_z is set and FEAT offers it; a refusal leaves the session in
-- MODE S (stream mode), said in a debug line and by FTP:transfer_mode.
local FTP = {} -- the methods this module gives the FTP class (assembled by class.lua)

-- Whether FEAT's MODE line names Z ("MODE Z", or a list such as "MODE B Z").
local function offers_z(features)
  local modes = features.MODE
  return type(modes) == "string" and (" " .. modes:upper() .. " "):find("[%s,;]Z[%s,;]") ~= nil
end

-- Login's last step (control.lua's FTP:login): MODE Z, or why not. Only a
-- lost connection fails the login; a refused FEAT or MODE Z does not.
function FTP:_negotiate_mode_z()
  self._mode_z_on, self._mode_z_note = false, nil
  if not self.mode_z then
    self._mode_z_note = "the option mode_z is off"
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
      self._mode_z_on = true
      return true
    end
    self._mode_z_note = "MODE Z refused: " .. text
  end
  self:_debug(1, "warn", "stream mode (MODE S): " .. self._mode_z_note)
  return true
end

--- FTP methods: the transfer mode.
-- @classmod FTP

--- Connection and login.
-- @section connection

--- The transfer mode the session's data connections are in: `"Z"` (deflate: the
-- `mode_z` option was set, FEAT offered MODE Z and the server accepted it at login)
-- or `"S"` (stream mode, the default) with the reason.
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
