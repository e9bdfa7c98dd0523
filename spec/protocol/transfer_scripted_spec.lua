-- Data channels and transfers against the scripted fake server (spec/support/fake.lua):
-- the replies and behaviours no real server produces on demand (a 426 mid-transfer, a
-- 226 without a 1xx, EPSV refused, PASV addresses, a stranger on the data port, the
-- bytes of line transfers and MLSD on the wire).
local ftplib = require "ftplib"
local fake = require "spec.support.fake"
local stranger_watcher = require("spec.support.stranger").watcher

-- Runs body(ftp, srv) against a fake server playing `steps` after the login, then
-- checks that the script ran as written.
local function with_fake(steps, opts, body)
  local srv = fake.start(fake.script(fake.login_steps(), steps))
  finally(function() srv:stop() end)
  local options = { port = srv.port, user = "anonymous", passwd = "guest", timeout = 10 }
  for key, value in pairs(opts or {}) do options[key] = value end
  local ftp = assert(ftplib.FTP(srv.host, options))
  body(ftp, srv)
  ftp:close()
  assert.is_true(srv:wait(5), "the fake server did not finish")
  assert.same({}, srv:errors())
  return srv
end

local function collect()
  local parts = {}
  return parts, function(chunk) parts[#parts + 1] = chunk end
end

describe("transfers", function()
  describe("against a scripted server", function()
    it("abort() with no transfer under way sends ABOR and answers its reply", function()
      with_fake({
        { expect = "ABOR$" }, -- after Telnet IP and Synch
        { send = "225 No transfer to ABOR.\r\n" },
        { expect = "^NOOP$" },
        { send = "200 NOOP ok.\r\n" },
      }, nil, function(ftp)
        assert.equal("225 No transfer to ABOR.", ftp:abort())
        assert.equal("200 NOOP ok.", ftp:sendcmd("NOOP"))
      end)
    end)

    it("a 150 then a 226 is a success", function()
      with_fake(fake.script(
        fake.type_steps("I", "200 Type set to I"),
        fake.epsv_steps(),
        fake.sending_steps("^RETR f$", "150 Opening BINARY mode data connection for f (11 bytes).",
          "hello world", "226 Transfer complete.")), nil, function(ftp)
        local parts, sink = collect()
        local reply, code = ftp:retrbinary("RETR f", sink)
        assert.equal("226 Transfer complete.", reply)
        assert.equal(226, code)
        assert.equal("hello world", table.concat(parts))
      end)
    end)

    it("ntransfercmd gives the size of a \"150 ... (N bytes)\" reply", function()
      with_fake(fake.script(fake.epsv_steps(), fake.sending_steps("^RETR f$",
        "150 Opening BINARY mode data connection for f (1234567 bytes).", "abc",
        "226 Transfer complete.")), nil, function(ftp)
        local data, size = ftp:ntransfercmd("RETR f")
        assert.is_not_nil(data, size)
        assert.equal(1234567, size)
        local parts = {}
        repeat
          local chunk = assert(data:recv(100))
          parts[#parts + 1] = chunk
        until chunk == ""
        data:close()
        assert.equal("abc", table.concat(parts))
        assert.equal("226 Transfer complete.", (ftp:voidresp()))
      end)
    end)

    it("a data connection closed early with a 426 is error 426", function()
      with_fake(fake.script(
        fake.type_steps("I", "200 ok"),
        fake.epsv_steps(),
        fake.sending_steps("^RETR f$",
          "150 Opening BINARY mode data connection for f (1000000 bytes).", 5000,
          "426 Connection closed; transfer aborted."), {
          { expect = "^NOOP$" }, -- the library's own, to be sure it is in step
          { send = "200 in step\r\n" },
          { expect = "^NOOP$" },
          { send = "200 NOOP ok\r\n" },
        }), nil, function(ftp)
        local parts, sink = collect()
        local ok, err, code = ftp:retrbinary("RETR f", sink)
        assert.is_nil(ok)
        assert.equal("426 Connection closed; transfer aborted.", err)
        assert.equal(426, code)
        assert.is_true(fake.pattern(5000) == table.concat(parts))
        assert.equal("200 NOOP ok", (ftp:noop()))
      end)
    end)

    it("a 226 with no 1xx before it is an error, and the session goes on", function()
      with_fake(fake.script(
        fake.type_steps("I", "200 ok"),
        fake.epsv_steps(),
        {
          { expect = "^RETR f$" },
          { send = "226 Transfer complete.\r\n" },
          { expect = "^NOOP$" }, -- the library's own, to be sure it is in step
          { send = "200 in step\r\n" },
          { expect = "^NOOP$" },
          { send = "200 NOOP ok\r\n" },
        }), nil, function(ftp)
        local called = false
        local ok, err, code = ftp:retrbinary("RETR f", function() called = true end)
        assert.is_nil(ok)
        assert.matches("226 Transfer complete", err)
        assert.equal("proto", code)
        assert.is_false(called)
        assert.equal("200 NOOP ok", (ftp:noop()))
      end)
    end)

    it("after EPSV is refused, PASV is used, and directly for the next transfers", function()
      local function pasv_retr(name, content)
        return {
          { expect = "^PASV$" },
          { pasv = true },
          { send = "227 Entering Passive Mode (%PASV%).\r\n" },
          { expect = "^RETR " .. name .. "$" },
          { send = "150 Here it comes\r\n" },
          { accept = true },
          { data_send = content },
          { data_close = true },
          { send = "226 Done\r\n" },
        }
      end
      local srv = with_fake(fake.script(
        fake.type_steps("I", "200 ok"),
        { { expect = "^EPSV$" }, { send = "500 EPSV not understood\r\n" } },
        pasv_retr("one", "first"),
        pasv_retr("two", "second")), nil, function(ftp)
        local parts, sink = collect()
        assert(ftp:retrbinary("RETR one", sink))
        assert(ftp:retrbinary("RETR two", sink))
        assert.equal("firstsecond", table.concat(parts))
      end)
      local data_commands = {}
      for _, line in ipairs(srv:commands()) do
        if line:match("^EPSV") or line:match("^PASV") or line:match("^RETR") then
          data_commands[#data_commands + 1] = line
        end
      end
      assert.same({ "EPSV", "PASV", "RETR one", "PASV", "RETR two" }, data_commands)
    end)

    local function pasv_script(listener, reply, content)
      return fake.script(
        fake.type_steps("I", "200 ok"),
        {
          { expect = "^PASV$" },
          { pasv = listener },
          { send = reply },
          { expect = "^RETR f$" },
          { send = "150 Here it comes\r\n" },
          { accept = true },
          { data_send = content },
          { data_close = true },
          { send = "226 Done\r\n" },
        })
    end

    it("ignores the address of a PASV reply by default: the data goes to the control peer",
      function()
        -- The listener is on 127.0.0.1; the reply names 127.0.0.2, where nothing listens.
        local steps = pasv_script(true, "227 Entering Passive Mode (127,0,0,2,%P1%,%P2%).\r\n",
          "peer")
        with_fake(steps, { use_epsv = false }, function(ftp)
          local parts, sink = collect()
          assert(ftp:retrbinary("RETR f", sink))
          assert.equal("peer", table.concat(parts))
        end)
      end)

    it("uses the address of a PASV reply with trust_server_pasv_ipv4_address = true",
      function()
        -- The listener is on 127.0.0.2 only: reachable only through the reply's address.
        local steps = pasv_script("127.0.0.2", "227 Entering Passive Mode (%PASV%).\r\n", "trusted")
        with_fake(steps, { use_epsv = false, trust_server_pasv_ipv4_address = true }, function(ftp)
          local parts, sink = collect()
          assert(ftp:retrbinary("RETR f", sink))
          assert.equal("trusted", table.concat(parts))
        end)
      end)

    for _, bad in ipairs({ "127,0,0,1,256,1", "127,0,0,1,4,256", "127,0,0,300,4,1",
      "127,0,0,1,-1,5", "127,0,0,1,4" }) do
      it("a PASV reply with numbers out of range (" .. bad .. ") is \"proto\"", function()
        with_fake(fake.script(
          fake.type_steps("I", "200 ok"),
          {
            { expect = "^PASV$" },
            { send = "227 Entering Passive Mode (" .. bad .. ").\r\n" },
            { expect = "^NOOP$" },
            { send = "200 NOOP ok\r\n" },
          }), { use_epsv = false }, function(ftp)
          local called = false
          local ok, err, code = ftp:retrbinary("RETR f", function() called = true end)
          assert.is_nil(ok)
          assert.is_string(err)
          assert.equal("proto", code)
          assert.is_false(called)
          assert.equal("200 NOOP ok", (ftp:noop()))
        end)
      end)
    end

    it("in active mode, refuses a data connection from another address (127.0.0.2)",
      function()
        local stranger = stranger_watcher("NOT THE SERVER'S DATA\r\n")
        finally(function() if stranger.sock then stranger.sock:close() end end)
        with_fake(fake.script(
          fake.type_steps("I", "200 ok"),
          {
            { expect = "^PORT 127,0,0,1,%d+,%d+$" },
            { send = "200 PORT command successful\r\n" },
            { expect = "^RETR f$" },
            { send = "150 Opening BINARY mode data connection\r\n" },
            { connect = true },
            { data_send = "the server's data" },
            { data_close = true },
            { send = "226 Transfer complete\r\n" },
          }), { passive = false, debuglevel = 1, debugfunc = stranger.debugfunc }, function(ftp)
          local parts, sink = collect()
          assert.matches("^226", (assert(ftp:retrbinary("RETR f", sink))))
          assert.equal("the server's data", table.concat(parts))
        end)
        assert.is_not_nil(stranger.sock, "no PORT command went through the debug output")
        assert.is_truthy(stranger.connected, "the stranger could not reach the listener: "
          .. tostring(stranger.connect_err))
        -- The library closed it without a byte; it did not serve it or wait on it.
        local data, err, partial = stranger.sock:receive("*a")
        assert.equal("", data or partial)
        assert.is_not.equal("timeout", err)
      end)

    it("storlines sends CRLF line ends on the wire", function()
      local srv = with_fake(fake.script(
        fake.type_steps("A", "200 ok"),
        fake.epsv_steps(),
        {
          { expect = "^STOR f$" },
          { send = "150 Go ahead\r\n" },
          { accept = true },
          { data_recv = true },
          { send = "226 Got it\r\n" },
        }), nil, function(ftp)
        assert.equal("226 Got it", (ftp:storlines("STOR f", "a\nb\r\n\nc")))
      end)
      assert.same({ "a\r\nb\r\n\r\nc\r\n" }, srv:received())
    end)

    it("retrlines strips CRLF and LF line ends from the wire", function()
      with_fake(fake.script(
        fake.type_steps("A", "200 ok"),
        fake.epsv_steps(),
        fake.sending_steps("^RETR f$", "150 Go ahead", "one\r\ntwo\n\r\nthree",
          "226 Done")), nil, function(ftp)
        local lines = {}
        assert(ftp:retrlines("RETR f", function(line) lines[#lines + 1] = line end))
        assert.same({ "one", "two", "", "three" }, lines)
      end)
    end)

    it("mlsd: names with spaces and ';', facts lower-case, values with '='", function()
      with_fake(fake.script(
        fake.type_steps("A", "200 ok"),
        fake.epsv_steps(),
        {
          { expect = "^MLSD d$" },
          { send = "150 Listing\r\n" },
          { accept = true },
          { data_send = "Type=file;Size=5;UNIX.mode=0644;X.Note=a=b=c;"
            .. " name with spaces;semi;.txt\r\n"
            .. "type=dir;Modify=20240102030405; sub dir\r\n"
            .. "Type=cdir; .\r\n" },
          { data_close = true },
          { send = "226 Done\r\n" },
        }), nil, function(ftp)
        local entries = {}
        for name, facts in assert(ftp:mlsd("d")) do entries[name] = facts end
        assert.same({
          ["name with spaces;semi;.txt"] = { type = "file", size = "5", ["unix.mode"] = "0644",
            ["x.note"] = "a=b=c" },
          ["sub dir"] = { type = "dir", modify = "20240102030405" },
          ["."] = { type = "cdir" },
        }, entries)
      end)
    end)
  end)
end)
