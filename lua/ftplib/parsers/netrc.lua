-- ~/.netrc: credentials per host, as ftp(1), curl and Python's netrc read
-- them. netrc.parse is a pure function of the file's text; netrc.lookup
-- reads the file.
--
-- Tokens are separated by blanks and newlines, so an entry may span lines.
-- "machine NAME" starts an entry, "default" the entry for any other host;
-- "login", "password" and "account" take the next token. A token may be
-- quoted ("my secret", with \" and \\ inside). "macdef NAME" skips the macro
-- body: the lines up to the next empty one. A token starting with # skips
-- the rest of its line.
local netrc = {}

local ESCAPES = { n = "\n", r = "\r", t = "\t" }

-- The quoted token starting at text[pos] == '"': its value and the position
-- after the closing quote (or the end of the text).
local function quoted_token(text, pos)
  local parts = {}
  local i = pos + 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == '"' then
      return table.concat(parts), i + 1
    elseif c == "\\" and i < #text then
      local escaped = text:sub(i + 1, i + 1)
      parts[#parts + 1] = ESCAPES[escaped] or escaped
      i = i + 2
    else
      parts[#parts + 1] = c
      i = i + 1
    end
  end
  return table.concat(parts), i
end

-- A tokenizer over text: next() gives the next token (nil at the end);
-- skip_macro() skips from the current line's end to the next empty line.
local function tokenizer(text)
  local pos = 1
  local self = {}
  function self.next()
    while true do
      local start = text:find("%S", pos)
      if not start then
        pos = #text + 1
        return nil
      end
      local c = text:sub(start, start)
      if c == '"' then
        local value
        value, pos = quoted_token(text, start)
        return value
      elseif c == "#" then
        pos = (text:find("\n", start, true) or #text) + 1
      else
        local stop = (text:find("%s", start) or #text + 1) - 1
        pos = stop + 1
        return text:sub(start, stop)
      end
    end
  end
  function self.skip_macro()
    local line_end = text:find("\n", pos, true)
    if not line_end then
      pos = #text + 1
      return
    end
    local blank = text:find("\n[ \t\r]*\n", line_end)
    pos = blank and (text:find("\n", blank + 1, true) + 1) or #text + 1
  end
  return self
end

local FIELDS = { login = "login", password = "password", account = "account" }

-- The entries of a netrc text, in file order: { {machine = "host" (nil
-- for the default entry), default = true|nil, login =, password =,
-- account =}, ... }. Unknown tokens are ignored, as curl and ftp(1) do.
function netrc.parse(text)
  local entries, current = {}, nil
  local tokens = tokenizer(text)
  for token in tokens.next do
    if token == "machine" then
      current = { machine = tokens.next() }
      entries[#entries + 1] = current
    elseif token == "default" then
      current = { default = true }
      entries[#entries + 1] = current
    elseif token == "macdef" then
      tokens.next() -- the macro's name
      tokens.skip_macro()
    elseif FIELDS[token] then
      local value = tokens.next()
      if current then
        current[FIELDS[token]] = value
      end
    end
  end
  return entries
end

-- The first entry for host (compared without letter case), and with the
-- given login when there is one; the default entry when no machine matches.
function netrc.find(entries, host, login)
  host = host:lower()
  local fallback
  for _, entry in ipairs(entries) do
    local fits = login == nil or entry.login == nil or entry.login == login
    if fits and entry.machine and entry.machine:lower() == host then
      return entry
    elseif fits and entry.default and not fallback then
      fallback = entry
    end
  end
  return fallback
end

-- Where the netrc file is: path if given, else $HOME/.netrc.
function netrc.default_path()
  local home = os.getenv("HOME")
  return home and home ~= "" and (home .. "/.netrc") or nil
end

-- The entry for host (and login) in the netrc file at path (default
-- ~/.netrc), or nil when there is no file or no entry.
function netrc.lookup(host, login, path)
  path = path or netrc.default_path()
  local file = path and io.open(path, "rb")
  if not file then
    return nil
  end
  local text = file:read("a") or ""
  file:close()
  return netrc.find(netrc.parse(text), host, login)
end

return netrc
