-- LIST line parsers, line by line, with lines as servers of many styles write them,
-- and MLSD facts turned into the same entries. Whole listings from
-- spec/fixtures/listings/ check the "total" line, CRLF endings and names with spaces.
local ftplib = require "ftplib"
local listparse = require "ftplib.parsers.list_lines"
local util = require "ftplib.base.utc"

-- 2024-03-10 12:00:00 UTC: the "now" the year of a "Mon DD HH:MM" date is inferred from.
local NOW = util.timegm(2024, 3, 10, 12, 0, 0)

local function utc(y, m, d, hh, mm)
  return util.timegm(y, m, d, hh or 0, mm or 0, 0)
end

-- Checks the fields `want` names (nil values included: a field that must be absent).
local function check_case(case)
  local entry = ftplib.parse_list_line(case.line, NOW)
  assert.is_table(entry, "no entry for: " .. case.line)
  for _, key in ipairs { "name", "type", "size", "modify", "precision", "target", "perm",
      "owner", "group", "major", "minor" } do
    if case[key] ~= nil or case.absent and case.absent[key] then
      assert.are.equal(case[key], entry[key], key .. " of: " .. case.line)
    end
  end
  assert.are.equal(case.line, entry.raw)
end

local function run_cases(cases)
  for _, case in ipairs(cases) do
    it(case.why or case.line, function()
      check_case(case)
    end)
  end
end

local function fixture_lines(name)
  local file = assert(io.open("spec/fixtures/listings/" .. name, "rb"))
  local lines = {}
  for line in file:lines() do
    lines[#lines + 1] = line
  end
  file:close()
  return lines
end

describe("Unix ls -l lines", function()
  describe("vsftpd (numeric owners)", function()
    run_cases {
      { line = "drwxr-xr-x    3 999      995          4096 Nov 21 07:01 a",
        name = "a", type = "dir", size = 4096, owner = "999", group = "995",
        perm = "drwxr-xr-x", modify = utc(2023, 11, 21, 7, 1), precision = 60,
        why = "a time of day in a month after now's: last year" },
      { line = "-rw-r--r--    1 999      995             8 Mar 02  2019 top.bin",
        name = "top.bin", type = "file", size = 8, modify = utc(2019, 3, 2),
        precision = 86400, why = "a date with a year (zero-padded day)" },
      { line = "lrwxrwxrwx    1 0        0              11 Nov 21 07:01 out -> /etc/passwd",
        name = "out", type = "link", target = "/etc/passwd", size = 11 },
    }
  end)

  describe("proftpd and pyftpdlib (owner names)", function()
    run_cases {
      { line = "-rw-r--r--   1 ftplibtest ftplibtest        5 Mar 10 07:01 b.txt",
        name = "b.txt", size = 5, owner = "ftplibtest", group = "ftplibtest",
        modify = utc(2024, 3, 10, 7, 1), why = "today, earlier" },
      { line = "drwxr-xr-x   2 ftp      ftp          4096 Jan  3  2020 pub",
        name = "pub", type = "dir", modify = utc(2020, 1, 3), precision = 86400 },
      { line = "-rw-r--r--   1 root     root           5 Mar 11 23:59 tomorrow.txt",
        modify = utc(2024, 3, 11, 23, 59),
        why = "a day ahead of now (time zones) stays this year" },
      { line = "-rw-r--r--   1 root     root           5 Mar 14 10:00 next-week.txt",
        modify = utc(2023, 3, 14, 10, 0), why = "days ahead of now: last year" },
    }
  end)

  describe("pure-ftpd", function()
    run_cases {
      { line = "-rw-r--r--    1 1000       1000             5 Jan 16 18:53 name with  two spaces",
        name = "name with  two spaces", size = 5, modify = utc(2024, 1, 16, 18, 53) },
      { line = "-rw-r--r--    1 1000       1000             5 Jan 16 18:53   leading spaces",
        name = "  leading spaces", why = "leading spaces of a name are kept" },
      { line = "-rw-r--r--    1 1000       1000             5 Jan 16 18:53 a -> b",
        name = "a -> b", type = "file", absent = { target = true },
        why = "an arrow in a plain file's name is part of the name" },
    }
  end)

  describe("busybox and device files", function()
    run_cases {
      { line = "crw-rw-rw-    1 0        0          1,   3 Jan  1 00:00 null",
        name = "null", type = "chardev", major = 1, minor = 3, absent = { size = true } },
      { line = "brw-rw----    1 0        6          8,0 Feb  5  2021 sda",
        name = "sda", type = "blockdev", major = 8, minor = 0, modify = utc(2021, 2, 5) },
      { line = "-rw-r--r--    1 0        0               5 Jan  1  1970 epoch",
        modify = 0, size = 5 },
      { line = "prw-r--r--    1 0        0               0 Jan  1  2000 fifo", type = "fifo" },
    }
  end)

  describe("odd columns", function()
    run_cases {
      { line = "-rw-r--r--    1 ftp          1234 Feb 28 09:10 nogroup.txt",
        name = "nogroup.txt", size = 1234, owner = "ftp", absent = { group = true },
        why = "no group column" },
      { line = "-rw-r--r-- ftp ftp 77 Feb 28 09:10 nolinks",
        name = "nolinks", size = 77, owner = "ftp", group = "ftp", why = "no link count" },
      { line = "-rw-r--r--+   1 jan      feb            42 Jan 15 10:00 acl",
        name = "acl", size = 42, owner = "jan", group = "feb",
        modify = utc(2024, 1, 15, 10, 0), why = "ACL mark; owners named like months" },
      { line = "drwxr-xr-x    2 user     group        4096 2021-05-06 07:08 iso dir",
        name = "iso dir", type = "dir", modify = utc(2021, 5, 6, 7, 8),
        why = "ls --time-style=long-iso" },
      { line = "-rw-r--r-- 1 ftp ftp            5 Jan 16 18:53 name",
        name = "name", why = "Windows FileZilla Server (Unix style)" },
      { line = "drwxr-xr-x 1 ftp ftp              0 Jan 16  2019 folder",
        name = "folder", type = "dir", size = 0, modify = utc(2019, 1, 16) },
      { line = "-rwxr-xr-x    1 0 0 99999999999 Dec 31 23:59 huge.iso",
        size = 99999999999, modify = utc(2023, 12, 31, 23, 59) },
    }
  end)

  it("ignores 'total N' lines and blank lines", function()
    assert.is_nil(ftplib.parse_list_line("total 24", NOW))
    assert.is_nil(ftplib.parse_list_line("", NOW))
    assert.is_nil(ftplib.parse_list_line("  \r", NOW))
  end)

  it("parses a whole vsftpd listing", function()
    local entries = {}
    for _, line in ipairs(fixture_lines("vsftpd.txt")) do
      entries[#entries + 1] = ftplib.parse_list_line(line, NOW)
    end
    assert.are.equal(5, #entries)
    assert.are.same({ "a", "linkdir", "top.bin", "my file.txt", "  two leading spaces" },
      { entries[1].name, entries[2].name, entries[3].name, entries[4].name, entries[5].name })
    assert.are.equal("a", entries[2].target)
  end)
end)

describe("DOS / IIS lines", function()
  run_cases {
    { line = "01-16-19  03:04PM       <DIR>          my dir",
      name = "my dir", type = "dir", modify = utc(2019, 1, 16, 15, 4), precision = 60,
      absent = { size = true } },
    { line = "02-03-2020  11:59AM               123456 report 2020.pdf",
      name = "report 2020.pdf", type = "file", size = 123456, modify = utc(2020, 2, 3, 11, 59) },
    { line = "12-31-99  12:00AM                 1,024 old.txt",
      name = "old.txt", size = 1024, modify = utc(1999, 12, 31, 0, 0),
      why = "12 AM is midnight; a two-digit year before 70 is 19xx; sizes with commas" },
    { line = "07-04-21  12:30PM                    7 noon.log",
      modify = utc(2021, 7, 4, 12, 30), why = "12 PM is noon" },
    { line = "07-04-21  18:15                    7 evening.log",
      name = "evening.log", modify = utc(2021, 7, 4, 18, 15), why = "24-hour times" },
    { line = "2021-07-04  18:15       <DIR>          iso",
      name = "iso", type = "dir", modify = utc(2021, 7, 4, 18, 15) },
  }

  it("parses a whole IIS listing with CRLF line ends", function()
    local names = {}
    for _, line in ipairs(fixture_lines("iis.txt")) do
      local entry = ftplib.parse_list_line(line, NOW)
      names[#names + 1] = entry.name
      assert.are_not.equal("unknown", entry.type)
    end
    assert.are.same({ "my dir", "report 2020.pdf", "old.txt", "midnight.log" }, names)
  end)

  it("refuses impossible dates and hours", function()
    assert.are.equal("unknown", ftplib.parse_list_line("13-40-19  03:04PM  <DIR>  x", NOW).type)
    assert.are.equal("unknown", ftplib.parse_list_line("01-16-19  13:04PM  5  x", NOW).type)
  end)
end)

describe("EPLF lines", function()
  run_cases {
    { line = "+i8388621.29609,m824255902,/,\tdev",
      name = "dev", type = "dir", modify = 824255902, precision = 1 },
    { line = "+i8388621.44468,m839956783,r,s10376,\tRFCEPLF",
      name = "RFCEPLF", type = "file", size = 10376, modify = 839956783 },
    { line = "+r,s5,up644,\tname with spaces",
      name = "name with spaces", size = 5, perm = "644" },
  }
end)

describe("lines no parser knows", function()
  local cases = {
    { "d [R----F--] supervisor            512       Jan 16 18:53    login", "login" },
    { "- [R----F--] rhesus             214059       Oct 20 15:27    cx.exe", "cx.exe" },
    { "CII-MANUAL.TEX;1  213/216  29-JAN-1996 03:33:12  [ANONYMOU,ANONYMOUS]   (RWED,RWED,,)",
      "CII-MANUAL.TEX;1" },
    { "just garbage", "garbage" },
  }
  for _, case in ipairs(cases) do
    it("keeps " .. case[1], function()
      local entry = ftplib.parse_list_line(case[1], NOW)
      assert.are.equal("unknown", entry.type)
      assert.are.equal(case[1], entry.raw)
      assert.are.equal(case[2], entry.name)
    end)
  end
end)

describe("user parsers", function()
  it("are tried before the built-ins; false drops a line", function()
    local seen = {}
    local remove = ftplib.add_list_parser(function(line, now)
      seen[#seen + 1] = now
      local name, size = line:match("^VMS (%S+) (%d+)$")
      if name then
        return { name = name, type = "file", size = tonumber(size) }
      elseif line:match("^Directory ") then
        return false
      end
      return nil
    end)
    local entry = ftplib.parse_list_line("VMS FOO.TXT;1 12", NOW)
    assert.are.same({ name = "FOO.TXT;1", type = "file", size = 12, raw = "VMS FOO.TXT;1 12" },
      entry)
    assert.is_nil(ftplib.parse_list_line("Directory DISK$USER:[ME]", NOW))
    -- Lines it does not know still reach the built-ins.
    assert.are.equal("dir", ftplib.parse_list_line("01-16-19  03:04PM  <DIR>  d", NOW).type)
    assert.are.equal(NOW, seen[1])
    remove()
    assert.are.equal("unknown", ftplib.parse_list_line("VMS FOO.TXT;1 12", NOW).type)
  end)

  it("must be functions", function()
    assert.has_error(function()
      ftplib.add_list_parser("no")
    end, "ftplib: bad argument #1 to 'add_list_parser' (function expected, got string)")
  end)
end)

describe("MLSD facts", function()
  local from_facts = listparse.from_facts

  it("gives files and folders with sizes, UTC times, permissions and mode", function()
    local entry = from_facts("a b.txt", {
      type = "file", size = "5", modify = "20240310120102", perm = "adfrw", ["unix.mode"] = "0644",
    })
    assert.are.equal("a b.txt", entry.name)
    assert.are.equal("file", entry.type)
    assert.are.equal(5, entry.size)
    assert.are.equal(util.timegm(2024, 3, 10, 12, 1, 2), entry.modify)
    assert.are.equal(1, entry.precision)
    assert.are.equal("adfrw", entry.perm)
    assert.are.equal(420, entry.mode)
  end)

  it("reads fractional seconds and upper-case types", function()
    local entry = from_facts("d", { type = "DIR", modify = "20240310120102.123" })
    assert.are.equal("dir", entry.type)
    assert.are.equal(util.timegm(2024, 3, 10, 12, 1, 2), entry.modify)
  end)

  it("tells cdir and pdir, which ftp:list drops", function()
    assert.are.equal("cdir", from_facts(".", { type = "cdir" }).type)
    assert.are.equal("pdir", from_facts("..", { type = "pdir" }).type)
  end)

  it("turns OS.unix link types into links, with their targets when given", function()
    local slink = from_facts("l", { type = "OS.unix=slink:/srv/ftp/target" })
    assert.are.equal("link", slink.type)
    assert.are.equal("/srv/ftp/target", slink.target)
    local symlink = from_facts("l2", { type = "OS.unix=symlink" })
    assert.are.equal("link", symlink.type)
    assert.is_nil(symlink.target)
  end)

  it("keeps other types, lower case, and leaves unknown facts out", function()
    local entry = from_facts("x", { type = "OS.unix=chr-13/29", modify = "garbage" })
    assert.are.equal("os.unix=chr-13/29", entry.type)
    assert.is_nil(entry.modify)
    assert.is_nil(entry.size)
  end)
end)
