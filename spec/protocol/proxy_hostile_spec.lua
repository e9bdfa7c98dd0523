-- A hostile proxy (spec/support/fake_proxy.py): garbage, a header without end, a
-- stall, a drop, every kind of refusal. Each is an error of its own code within the
-- session's timeout, never a raise; the bytes the proxy sends after its reply (the
-- server's greeting) reach the session; a stalled proxy under the scheduler leaves the
-- other tasks running.
local ftplib = require "ftplib"
local proxies = require "spec.support.proxies"
local socket = require "socket"

local TIMEOUT = 1

-- Connects through the fake proxy p: what ftplib.FTP gave, and how long it took.
local function through(p)
  local started = socket.gettime()
  local ftp, err, code = ftplib.FTP("127.0.0.1", { port = 21, timeout = TIMEOUT,
    proxy = p:url() })
  return ftp, err, code, socket.gettime() - started
end

local FAILURES = {
  -- mode, the code, what the message says
  { "http-garbage", "proxy", "not an HTTP reply: \\x00" },
  { "http-huge", "limit", "reply header over 16384 bytes" },
  { "http-stall", "timeout", "waiting for its reply: timed out" },
  { "http-partial", "timeout", "waiting for its reply: timed out" },
  { "http-close", "proxy", "closed the connection during its reply" },
  { "http-403", "proxy", "refused the tunnel: HTTP/1.1 403 Forbidden" },
  { "socks-garbage", "proxy", "not a SOCKS5 proxy %(version 72%)" },
  { "socks-stall", "timeout", "waiting for its reply: timed out" },
  { "socks-close", "proxy", "closed the connection during its reply" },
  { "socks-noauth", "proxy", "wants authentication" },
  { "socks-reply-1", "proxy", "SOCKS5 reply 1: general SOCKS server failure" },
  { "socks-reply-2", "proxy", "SOCKS5 reply 2: connection not allowed by ruleset" },
  { "socks-reply-4", "proxy", "SOCKS5 reply 4: host unreachable" },
  { "socks-reply-8", "proxy", "SOCKS5 reply 8: address type not supported" },
  { "socks-reply-200", "proxy", "SOCKS5 reply 200: unknown failure" },
  { "socks-bad-atyp", "proxy", "malformed SOCKS5 reply %(address type 9%)" },
}

describe("a hostile proxy", function()
  for _, case in ipairs(FAILURES) do
    local mode, wanted_code, wanted_text = case[1], case[2], case[3]
    it(mode .. " fails with " .. wanted_code .. " within the timeout", function()
      local p = proxies.start_fake(mode)
      local ftp, err, code, took = through(p)
      p:stop()
      assert.is_nil(ftp)
      assert.equal(wanted_code, code)
      assert.matches(wanted_text, err)
      assert.matches("^cannot connect to 127%.0%.0%.1 port 21: proxy ", err)
      assert.is_true(took < TIMEOUT + 1, "took " .. took .. " s")
    end)
  end

  for _, mode in ipairs { "http-then-greeting", "socks-then-greeting" } do
    it(mode .. ": the bytes after the proxy's reply are the server's", function()
      local p = proxies.start_fake(mode)
      local ftp, err = through(p)
      assert(ftp, err)
      assert.equal("220 fake server through the tunnel", ftp:getwelcome())
      assert.matches("^221", (ftp:quit()))
      p:stop()
    end)
  end

  it("stalling under the scheduler, leaves the other tasks running", function()
    local p = proxies.start_fake("socks-stall")
    local ticks, outcome = 0, nil
    ftplib.spawn(function()
      outcome = { ftplib.FTP("127.0.0.1", { port = 21, timeout = TIMEOUT, proxy = p:url() }) }
    end)
    ftplib.spawn(function()
      while not outcome do
        ticks = ticks + 1
        ftplib.sleep(0.05)
      end
    end)
    assert.is_true(ftplib.run(TIMEOUT + 5))
    p:stop()
    assert.is_nil(outcome[1])
    assert.equal("timeout", outcome[3])
    assert.is_true(ticks >= 10, "ticks: " .. ticks)
  end)
end)
