-- Names that are not UTF-8: the iconv converter of the core, opts.encoding
-- against servers that speak GBK (vsftpd keeps GBK bytes on disk; pyftpdlib
-- with --encoding gbk keeps UTF-8 on disk and speaks GBK on the wire), and
-- OPTS UTF8 ON after login, checked command by command on the fake server.
local ftplib = require "ftplib"
local core = require "ftplib.core"
local servers = require "spec.support.servers"
local fake = require "spec.support.fake"
local lfs = require "lfs"

-- "中文名.txt" and "上传.txt", in UTF-8 and in GBK.
local NAME_UTF8 = "\228\184\173\230\150\135\229\144\141.txt"
local NAME_GBK = "\214\208\206\196\195\251.txt"
local UPLOAD_UTF8 = "\228\184\138\228\188\160.txt"
local UPLOAD_GBK = "\201\207\180\171.txt"
local DIR_UTF8 = "\231\155\174\229\189\149" -- "目录"
local DIR_GBK = "\196\191\194\188"
local EMOJI = "\240\159\152\128" -- not in GBK

local function contains(list, value)
  for _, item in ipairs(list) do
    if item == value then return true end
  end
  return false
end

local function grep(lines, text)
  for _, line in ipairs(lines) do
    if line:find(text, 1, true) then return line end
  end
end

describe("core.iconv_open", function()
  it("converts UTF-8 to GBK and back, byte for byte", function()
    local to_gbk = core.iconv_open("GBK", "UTF-8")
    local to_utf8 = core.iconv_open("UTF-8", "GBK")
    assert.equal(NAME_GBK, to_gbk:convert(NAME_UTF8))
    assert.equal(NAME_UTF8, to_utf8:convert(NAME_GBK))
    assert.equal(UPLOAD_UTF8, to_utf8:convert(to_gbk:convert(UPLOAD_UTF8)))
  end)

  it("converts Latin-1 both ways", function()
    local to_latin1 = core.iconv_open("ISO-8859-1", "UTF-8")
    local to_utf8 = core.iconv_open("UTF-8", "latin1")
    assert.equal("caf\233 na\239ve", to_latin1:convert("caf\195\169 na\195\175ve"))
    assert.equal("caf\195\169", to_utf8:convert("caf\233"))
    local all = {}
    for byte = 0, 255 do all[#all + 1] = string.char(byte) end
    all = table.concat(all)
    assert.equal(all, to_latin1:convert(to_utf8:convert(all)))
  end)

  it("keeps empty strings, NUL bytes and long strings whole", function()
    local to_gbk = core.iconv_open("GBK", "UTF-8")
    assert.equal("", to_gbk:convert(""))
    assert.equal("a\0b", to_gbk:convert("a\0b"))
    local long = ("\228\184\173"):rep(100000) -- 300 kB in, 200 kB out: the buffer grows
    assert.equal(("\214\208"):rep(100000), to_gbk:convert(long))
  end)

  it("ends a stateful encoding in its initial state", function()
    local to_jis = core.iconv_open("ISO-2022-JP", "UTF-8")
    local out = to_jis:convert("\230\151\165a\230\151\165") -- "日a日"
    assert.equal("\27(B", out:sub(-3)) -- back to ASCII at the end
    assert.equal(out, to_jis:convert("\230\151\165a\230\151\165")) -- each call starts afresh
  end)

  it("answers nil, message, 'proto' for invalid, incomplete or unrepresentable input", function()
    local to_utf8 = core.iconv_open("UTF-8", "GBK")
    local to_gbk = core.iconv_open("GBK", "UTF-8")
    local out, err, code = to_utf8:convert("ok\255\255")
    assert.is_nil(out)
    assert.equal("proto", code)
    assert.matches("GBK to UTF%-8: invalid or unrepresentable sequence at byte 3", err)
    out, err, code = to_utf8:convert("ab\214") -- a lead byte without its trail byte
    assert.is_nil(out)
    assert.equal("proto", code)
    assert.matches("incomplete sequence at byte 3", err)
    out, err = to_gbk:convert("x" .. EMOJI)
    assert.is_nil(out)
    assert.matches("at byte 2", err)
    assert.is_nil((to_gbk:convert("\195(")))
    assert.equal(NAME_GBK, to_gbk:convert(NAME_UTF8)) -- a failure leaves no state behind
  end)

  it("raises for an unknown encoding name, and for a closed converter", function()
    assert.has_error(function() core.iconv_open("NO-SUCH-CHARSET", "UTF-8") end,
      "ftplib: no conversion from encoding 'UTF-8' to 'NO-SUCH-CHARSET' (not an iconv name?)")
    local cv = core.iconv_open("GBK", "UTF-8")
    assert.equal("ftplib.Iconv (UTF-8 to GBK)", tostring(cv))
    cv:close()
    cv:close() -- twice is fine
    assert.matches("closed", tostring(cv))
    assert.has_error(function() cv:convert("x") end, "ftplib: converter is closed")
  end)
end)

describe("opts.encoding", function()
  it("raises at the caller's line for a name iconv does not know", function()
    local ok, err = pcall(ftplib.FTP, { encoding = "no-such-charset" })
    assert.is_false(ok)
    assert.matches("encoding_spec.lua:%d+: ftplib: unknown encoding 'no%-such%-charset'", err)
  end)

  it("accepts any iconv name, and UTF-8 under its spellings as no conversion", function()
    for _, name in ipairs { "gbk", "GB18030", "CP936", "latin1", "SHIFT_JIS" } do
      assert.equal(name, ftplib.FTP({ encoding = name }).encoding)
    end
    for _, name in ipairs { "utf-8", "UTF8", "utf_8" } do
      assert.is_nil(ftplib.FTP({ encoding = name })._encoder)
    end
  end)
end)

-- The fake server: login and FEAT steps, then `steps`; returns the session
-- and the server once the client has logged in.
local function fake_session(steps, opts)
  local srv = fake.start(steps, { timeout = 20 })
  local options = { port = srv.port, user = "anonymous", passwd = "guest", timeout = 5 }
  for key, value in pairs(opts or {}) do options[key] = value end
  local ftp, err, code = ftplib.FTP(srv.host, options)
  return ftp, srv, err, code
end

local function finish(ftp, srv)
  ftp:close()
  assert.is_true(srv:wait(5), "the fake server did not finish")
  assert.same({}, srv:errors())
  return srv:commands()
end

local NOOP = { { expect = "^NOOP$" }, { send = "200 ok\r\n" } }

describe("OPTS UTF8 ON after login", function()
  it("is sent when FEAT lists UTF8, once, and FEAT is not sent again", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps(nil, { "MLST type*;", "UTF8" }),
      { { expect = "^OPTS UTF8 ON$" }, { send = "200 UTF8 set to on\r\n" } }, NOOP))
    assert.truthy(ftp)
    local features = assert(ftp:_features())
    assert.is_true(features.UTF8)
    assert.equal("type*;", features.MLST)
    assert.equal(features, ftp:_features()) -- cached: no second FEAT
    assert.truthy(ftp:noop())
    assert.same({ "USER anonymous", "PASS guest", "FEAT", "OPTS UTF8 ON", "NOOP" },
      finish(ftp, srv))
  end)

  it("is not sent when FEAT does not list UTF8", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps(nil, { "SIZE", "MDTM" }), NOOP))
    assert.truthy(ftp)
    assert.is_nil(ftp:_features().UTF8)
    assert.truthy(ftp:noop())
    assert.same({ "USER anonymous", "PASS guest", "FEAT", "NOOP" }, finish(ftp, srv))
  end)

  it("being refused does not fail the login", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps(nil, { "UTF8" }),
      { { expect = "^OPTS UTF8 ON$" }, { send = "501 no such option\r\n" } }, NOOP))
    assert.truthy(ftp)
    assert.truthy(ftp:noop())
    finish(ftp, srv)
  end)

  it("is not asked of a server that refuses FEAT, and the login goes on", function()
    local login = fake.login_steps()
    login[#login] = { send = "500 FEAT not understood\r\n" }
    local ftp, srv = fake_session(fake.script(login, NOOP))
    assert.truthy(ftp)
    assert.same({}, ftp:_features())
    assert.truthy(ftp:noop())
    assert.same({ "USER anonymous", "PASS guest", "FEAT", "NOOP" }, finish(ftp, srv))
  end)

  it("fails the login when the connection drops during FEAT", function()
    local login = fake.login_steps()
    login[#login] = { close = true }
    local ftp, srv, err, code = fake_session(login)
    assert.is_nil(ftp)
    assert.equal("closed", code)
    assert.is_string(err)
    srv:stop()
  end)

  it("is not asked, nor FEAT sent, when opts.encoding names another encoding", function()
    local login = fake.login_steps()
    login[#login - 1], login[#login] = nil, nil -- no FEAT
    local ftp, srv = fake_session(fake.script(login, NOOP), { encoding = "gbk" })
    assert.truthy(ftp)
    assert.truthy(ftp:noop())
    assert.same({ "USER anonymous", "PASS guest", "NOOP" }, finish(ftp, srv))
  end)
end)

describe("names on the fake server", function()
  local function gbk_session(steps, opts)
    local login = fake.login_steps()
    login[#login - 1], login[#login] = nil, nil
    local options = { encoding = "gbk" }
    for key, value in pairs(opts or {}) do options[key] = value end
    return fake_session(fake.script(login, steps), options)
  end

  it("go out in GBK, replies come back in UTF-8, PASS stays masked", function()
    local debug_lines = {}
    local ftp, srv = gbk_session({
      { expect = "^CWD " .. DIR_GBK .. "$" }, { send = "250 ok\r\n" },
      { expect = "^MKD " .. DIR_GBK .. "$" }, { send = '257 "/' .. DIR_GBK .. '" created\r\n' },
      { expect = "^PWD$" }, { send = '257 "/' .. DIR_GBK .. '" is current\r\n' },
      { expect = "^DELE " .. NAME_GBK:gsub("%p", "%%%0") .. "$" },
      { send = "550 " .. NAME_GBK .. ": no such file\r\n" },
      { expect = "^PASS " }, { send = "503 already in\r\n" },
    }, { debuglevel = 1, debugfunc = function(line) debug_lines[#debug_lines + 1] = line end })
    assert.truthy(ftp:cwd(DIR_UTF8))
    assert.equal("/" .. DIR_UTF8, ftp:mkd(DIR_UTF8))
    assert.equal("/" .. DIR_UTF8, ftp:pwd())
    assert.same({ nil, "550 " .. NAME_UTF8 .. ": no such file", 550 }, { ftp:delete(NAME_UTF8) })
    ftp:sendcmd("PASS " .. DIR_UTF8)
    local all = table.concat(debug_lines, "\n")
    assert.matches("*cmd* 'CWD " .. DIR_UTF8 .. "'", all, 1, true) -- shown as the script wrote it
    assert.matches("*cmd* 'PASS ****'", all, 1, true)
    finish(ftp, srv)
  end)

  it("that GBK cannot hold fail before anything is sent", function()
    local ftp, srv = gbk_session(NOOP)
    local ok, err, code = ftp:cwd(EMOJI)
    assert.is_nil(ok)
    assert.equal("proto", code)
    assert.matches("^CWD: name not representable in gbk", err)
    assert.truthy(ftp:noop()) -- still in step: CWD never went out
    assert.same({ "USER anonymous", "PASS guest", "NOOP" }, finish(ftp, srv))
  end)

  -- UTF-16 (any iconv name is taken) turns a name into bytes with NULs: refused
  -- before anything is queued, alone or as the second of two pipelined lines, so
  -- no EPSV is left behind to go out before the next command.
  it("that come out with a NUL in the server's encoding fail before anything is sent",
    function()
      local login = fake.login_steps()
      login[#login - 1], login[#login] = nil, nil -- no FEAT with another encoding
      local ftp, srv = fake_session(fake.script(login, NOOP), { encoding = "UTF-16LE" })
      local ok, err, code = ftp:putcmd("RETR caf\195\169") -- é: E9 00 in UTF-16LE
      assert.same({ nil, "proto" }, { ok, code })
      assert.matches("^RETR: the name in UTF%-16LE holds CR, LF or NUL", err)
      ok, err, code = ftp:_putcmds("EPSV", "RETR caf\195\169")
      assert.same({ nil, "proto" }, { ok, code }, err)
      assert.truthy(ftp:noop()) -- still in step: neither EPSV nor RETR went out
      assert.same({ "USER anonymous", "PASS guest", "NOOP" }, finish(ftp, srv))
    end)

  it("that are not valid UTF-8 go out as the bytes given", function()
    local ftp, srv = gbk_session({ { expect = "^CWD \255\254$" }, { send = "250 ok\r\n" } })
    assert.truthy(ftp:cwd("\255\254"))
    finish(ftp, srv)
  end)

  it("in a listing are decoded; a line invalid in GBK is kept raw and marked", function()
    local ftp, srv = gbk_session({
      { expect = "^TYPE A$" }, { send = "200 ok\r\n" },
      { expect = "^EPSV$" }, { pasv = true },
      { send = "229 Entering Extended Passive Mode (|||%PORT%|)\r\n" },
      { expect = "^NLST$" }, { accept = true }, { send = "150 here\r\n" },
      { data_send = NAME_GBK .. "\r\nbad\255\255name\r\nplain.txt\r\n" },
      { data_close = true }, { send = "226 done\r\n" },
      { expect = "^DELE bad\255\255name$" }, { send = "550 gone\r\n" },
    })
    local names = assert(ftp:nlst())
    assert.same({ NAME_UTF8, "bad\255\255name", "plain.txt" }, { names[1], names[2], names[3] })
    assert.same({ 2 }, names.undecoded)
    -- The raw name works in a command: it goes back as it came.
    assert.same({ nil, "550 gone", 550 }, { ftp:delete(names[2]) })
    finish(ftp, srv)
  end)

  it("without opts.encoding pass through as bytes, both ways", function()
    local ftp, srv = fake_session(fake.script(fake.login_steps(), {
      { expect = "^CWD " .. DIR_GBK .. "$" }, { send = "250 ok\r\n" },
      { expect = "^CWD " .. DIR_UTF8 .. "$" }, { send = "250 ok\r\n" },
      { expect = "^PWD$" }, { send = '257 "/' .. DIR_GBK .. '"\r\n' },
    }))
    assert.truthy(ftp:cwd(DIR_GBK))
    assert.truthy(ftp:cwd(DIR_UTF8))
    assert.equal("/" .. DIR_GBK, ftp:pwd())
    finish(ftp, srv)
  end)
end)

-- Real servers ---------------------------------------------------------------------------

local function login(s, extra)
  local opts = { port = s.port, user = s.user, passwd = s.passwd, timeout = 10 }
  for key, value in pairs(extra or {}) do opts[key] = value end
  return assert(ftplib.FTP(s.host, opts))
end

local function download(ftp, name)
  local parts = {}
  assert(ftp:retrbinary("RETR " .. name, function(chunk) parts[#parts + 1] = chunk end))
  return table.concat(parts)
end

local function listing(ftp)
  local lines = {}
  assert(ftp:dir(function(line) lines[#lines + 1] = line end))
  return lines
end

-- What both servers do with encoding = "gbk". on_disk(utf8_name, gbk_name) is the name
-- the server's files have on disk.
local function gbk_round_trip(kind, start_opts, on_disk)
  describe("GBK names on " .. kind, function()
    local s
    setup(function()
      s = servers.start(kind, start_opts)
      s:write(on_disk(NAME_UTF8, NAME_GBK), "gbk content\n")
    end)
    teardown(function() s:stop() end)

    it("lists, downloads, uploads, renames and deletes by UTF-8 names", function()
      local ftp = login(s, { encoding = "gbk" })
      assert.truthy(contains(assert(ftp:nlst()), NAME_UTF8))
      assert.truthy(grep(listing(ftp), NAME_UTF8))
      assert.equal(12, ftp:size(NAME_UTF8))
      assert.equal("gbk content\n", download(ftp, NAME_UTF8))

      assert(ftp:storbinary("STOR " .. UPLOAD_UTF8, "uploaded\n"))
      assert.equal("uploaded\n", s:read(on_disk(UPLOAD_UTF8, UPLOAD_GBK)))
      assert.truthy(ftp:rename(UPLOAD_UTF8, "renamed-" .. UPLOAD_UTF8))
      local renamed_on_disk = on_disk("renamed-" .. UPLOAD_UTF8, "renamed-" .. UPLOAD_GBK)
      assert.equal("uploaded\n", s:read(renamed_on_disk))
      assert.truthy(ftp:delete("renamed-" .. UPLOAD_UTF8))
      assert.is_nil(s:read(renamed_on_disk))

      local made = assert(ftp:mkd(DIR_UTF8))
      assert.matches(DIR_UTF8 .. "$", made)
      assert.equal("directory", lfs.attributes(s:path(on_disk(DIR_UTF8, DIR_GBK)), "mode"))
      assert.truthy(ftp:cwd(DIR_UTF8))
      assert.matches(DIR_UTF8 .. "$", assert(ftp:pwd()))
      assert.truthy(ftp:cwd(".."))
      assert.truthy(ftp:rmd(DIR_UTF8))
      ftp:close()
    end)

    it("gives UTF-8 names to ftp:list and takes them in ftp:download and ftp:upload",
      function()
      local ftp = login(s, { encoding = "gbk" })
      local entry
      for _, e in ipairs(assert(ftp:list())) do
        if e.name == NAME_UTF8 then entry = e end
      end
      assert.is_table(entry)
      assert.equal("file", entry.type)
      assert.equal(12, entry.size)
      local dir = os.tmpname()
      os.remove(dir)
      assert(lfs.mkdir(dir))
      finally(function()
        os.remove(dir .. "/copy.txt")
        os.remove(dir)
      end)
      assert.equal(12, ftp:download(NAME_UTF8, dir .. "/copy.txt"))
      assert.equal(12, ftp:upload(dir .. "/copy.txt", "again-" .. NAME_UTF8))
      assert.equal("gbk content\n", s:read(on_disk("again-" .. NAME_UTF8, "again-" .. NAME_GBK)))
      assert.truthy(ftp:delete("again-" .. NAME_UTF8))
      ftp:close()
    end)

    it("shows the server's GBK bytes to a session without encoding", function()
      local ftp = login(s)
      assert.truthy(contains(assert(ftp:nlst()), NAME_GBK))
      assert.equal("gbk content\n", download(ftp, NAME_GBK))
      ftp:close()
    end)

    it("leaves the content of downloaded files alone (retrlines)", function()
      s:write("gbk-text.txt", NAME_GBK .. "\n")
      local ftp = login(s, { encoding = "gbk" })
      local lines = {}
      assert(ftp:retrlines("RETR gbk-text.txt", function(line) lines[#lines + 1] = line end))
      assert.same({ NAME_GBK }, lines)
      ftp:close()
    end)
  end)
end

gbk_round_trip("vsftpd", nil, function(_, gbk) return gbk end)
gbk_round_trip("pyftpdlib", { encoding = "gbk" }, function(utf8_name) return utf8_name end)
-- proftpd where it can start (it is opt-in elsewhere): it stores the bytes it gets.
local PROFTPD = servers.available("proftpd")
if PROFTPD then
  gbk_round_trip("proftpd", nil, function(_, gbk) return gbk end)
end

describe("GBK names on pyftpdlib (--encoding gbk)", function()
  local s
  setup(function()
    s = servers.start("pyftpdlib", { encoding = "gbk" })
    s:write(NAME_UTF8, "x")
  end)
  teardown(function() s:stop() end)

  it("come out of MLSD in UTF-8", function()
    local ftp = login(s, { encoding = "gbk" })
    local found
    for name, facts in assert(ftp:mlsd(nil, { "type", "size" })) do
      if name == NAME_UTF8 then found = facts end
    end
    assert.same({ type = "file", size = "1" }, found)
    ftp:close()
  end)
end)

describe("OPTS UTF8 ON against real servers", function()
  local function commands_of_login(kind, opts)
    local s = servers.start(kind)
    finally(function() s:stop() end)
    local sent = {}
    local ftp = login(s, {
      debuglevel = 1,
      encoding = opts and opts.encoding,
      debugfunc = function(line) sent[#sent + 1] = line:match("^%*cmd%* '(.*)'$") end,
    })
    assert.truthy(ftp:noop())
    ftp:close()
    assert.equal("USER " .. s.user, table.remove(sent, 1))
    return sent
  end

  it("is asked of pyftpdlib (FEAT lists UTF8), whose refusal is ignored", function()
    assert.same({ "PASS ****", "FEAT", "OPTS UTF8 ON", "NOOP" },
      commands_of_login("pyftpdlib"))
  end)

  it("is not asked of vsftpd (no UTF8 in its FEAT)", function()
    assert.same({ "PASS ****", "FEAT", "NOOP" },
      commands_of_login("vsftpd"))
  end)

  if PROFTPD then
    it("is asked of proftpd, which accepts it", function()
      assert.same({ "PASS ****", "FEAT", "OPTS UTF8 ON", "NOOP" }, commands_of_login("proftpd"))
    end)
  end

  it("costs no round trip when opts.encoding names another encoding", function()
    assert.same({ "PASS ****", "NOOP" },
      commands_of_login("pyftpdlib", { encoding = "gbk" }))
  end)
end)

describe("examples/gbk_names.lua", function()
  it("lists and downloads a GBK server's files under their UTF-8 names", function()
    local s = servers.start("pyftpdlib", { encoding = "gbk" })
    finally(function() s:stop() end)
    s:write("in/" .. NAME_UTF8, "from a GBK server\n")
    local dir = os.tmpname()
    os.remove(dir)
    assert(lfs.mkdir(dir))
    finally(function()
      os.remove(dir .. "/" .. NAME_UTF8)
      os.remove(dir)
    end)
    local command = string.format(
      -- The module the specs load: the first entry of package.cpath ($(BUILD)/?.so).
      "LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. package.cpath:match("^([^;]+)")
        .. ";;' lua5.4 examples/gbk_names.lua %s %d %s %s in %s 2>&1",
      s.host, s.port, s.user, s.passwd, dir)
    local pipe = assert(io.popen(command))
    local output = pipe:read("a")
    assert.is_true(pipe:close(), output)
    assert.matches(NAME_UTF8, output, 1, true)
    assert.matches("1 file(s) downloaded", output, 1, true)
    local file = assert(io.open(dir .. "/" .. NAME_UTF8, "rb"))
    assert.equal("from a GBK server\n", file:read("a"))
    file:close()
  end)
end)
