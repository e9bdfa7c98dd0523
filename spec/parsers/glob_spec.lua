-- parsers/glob.lua: globs compiled to a bounded matcher, and ops/filters.lua's rules
-- built on it (pure: no server).
local glob = require "ftplib.parsers.glob"
local filters = require "ftplib.ops.filters"
-- make valgrind runs Lua some 30 times slower: a shallower chain there (FTPLIB_TEST_SCALE)
local scaled = require "spec.support.scale"

local function matches(pattern, subject)
  return glob.matches(assert(glob.compile(pattern)), subject)
end

describe("glob", function()
  it("matches * within one name, ? as one character, ** across folders", function()
    assert.is_true(matches("*.txt", "a.txt"))
    assert.is_true(matches("*.txt", ".txt"))
    assert.is_false(matches("*.txt", "a/b.txt"))
    assert.is_false(matches("*.txt", "a.txt.bak"))
    assert.is_true(matches("a?c", "abc"))
    assert.is_false(matches("a?c", "a/c"))
    assert.is_false(matches("a?c", "ac"))
    assert.is_true(matches("src/**", "src/a/b/c.c"))
    assert.is_true(matches("src/**.c", "src/a/b/c.c"))
    assert.is_false(matches("src/**", "srcx/a"))
    assert.is_true(matches("**", ""))
    assert.is_true(matches("", ""))
    assert.is_false(matches("", "a"))
  end)

  it("lets **/ match no folder at all, and only whole folders", function()
    assert.is_true(matches("a/**/b", "a/b"))
    assert.is_true(matches("a/**/b", "a/x/y/b"))
    assert.is_false(matches("a/**/b", "a/xb"))
    assert.is_true(matches("**/b", "b"))
    assert.is_true(matches("**/b", "x/y/b"))
    assert.is_false(matches("**/b", "xb"))
    assert.is_true(matches("a/**/**/b", "a/b"))
    assert.is_true(matches("x**/b", "xyz/q/b")) -- ** not after a slash: no empty folder
  end)

  it("takes every other character as itself: no classes, no Lua pattern", function()
    assert.is_true(matches("[a]", "[a]"))
    assert.is_false(matches("[a]", "a"))
    assert.is_true(matches("%d+.(x)", "%d+.(x)"))
    assert.is_false(matches("%d+.(x)", "1+a(x)"))
    assert.is_true(matches("a.b", "a.b"))
    assert.is_false(matches("a.b", "axb"))
    assert.is_true(matches("^$", "^$"))
  end)

  it("makes the character after a backslash plain", function()
    assert.is_true(matches("\\*", "*"))
    assert.is_false(matches("\\*", "a"))
    assert.is_true(matches("\\?\\\\", "?\\"))
    assert.is_true(matches("a\\", "a\\")) -- a trailing backslash is itself
    assert.is_true(matches("\\*\\*", "**"))
    assert.is_false(matches("\\*\\*", "a/b"))
  end)

  it("matches bytes, whatever they are (NUL, CR, UTF-8)", function()
    assert.is_true(matches("a?b", "a\0b"))
    assert.is_true(matches("*\r", "x\r"))
    assert.is_true(matches("Ä*", "Äpfel"))
    assert.is_true(matches("??", "Ä")) -- two bytes
  end)

  it("says whether something after a prefix could match", function()
    local m = assert(glob.compile("src/**/*.c"))
    assert.is_true(glob.may_match_after(m, "src/"))
    assert.is_true(glob.may_match_after(m, "src/a/"))
    assert.is_false(glob.may_match_after(m, "doc/"))
    local literal = assert(glob.compile("a/b/c"))
    assert.is_true(glob.may_match_after(literal, "a/"))
    assert.is_false(glob.may_match_after(literal, "b/"))
    assert.is_false(glob.may_match_after(assert(glob.compile("*.c")), "src/"))
  end)

  it("resumes where it stopped: a path read in pieces matches as read whole", function()
    local patterns = { "src/**/*.c", "**/node_modules", "a/*/b", "a/**", "x", "*.c", "a/b" }
    local subjects = { "src/a.c", "src/x/y/a.c", "x/src/a.c", "a/b/node_modules", "node_modules",
      "a/q/b", "a/q/r/b", "a", "a/", "x", "y.c", "a/b", "" }
    for _, pattern in ipairs(patterns) do
      local m = glob.compile(pattern)
      for _, subject in ipairs(subjects) do
        local state = glob.resume(m, nil, "")
        for piece in subject:gmatch("[^/]*/?") do
          state = glob.resume(m, state, piece)
        end
        assert.equal(glob.matches(m, subject), glob.accepts(m, state), pattern .. " " .. subject)
        assert.equal(glob.may_match_after(m, subject), glob.resume(m, nil, subject) ~= "")
      end
    end
    assert.equal("", glob.resume(glob.compile("a/*"), nil, "b/")) -- nothing can match any more
  end)

  it("refuses what is not a glob, or one too long, without raising", function()
    assert.same({ nil, "a glob must be a string" }, { glob.compile(42) })
    local m, why = glob.compile(string.rep("a", glob.MAX_PATTERN + 1))
    assert.is_nil(m)
    assert.matches("longer than", why)
    assert.truthy(glob.compile(string.rep("a", glob.MAX_PATTERN)))
  end)

  it("runs hostile patterns in bounded time (no backtracking)", function()
    -- Exponential for a backtracking matcher: each * may end at any of 2000 places.
    local hostile = string.rep("*a", 30) .. "b"
    local subject = string.rep("a", 2000)
    local started = os.clock()
    assert.is_false(matches(hostile, subject))
    assert.is_false(matches(string.rep("**a", 30) .. "b", subject))
    assert.is_false(matches(string.rep("?", 100) .. "*b", subject))
    assert.is_true(matches(hostile:sub(1, -2), subject))
    local long = string.rep("*", glob.MAX_PATTERN) -- collapses to one *
    assert.is_true(matches(long, subject))
    assert.is_true(os.clock() - started < scaled.seconds(5), "took " .. (os.clock() - started)
      .. " s")
    -- The state set is at most the pattern's length: a long run of **/ stays small.
    started = os.clock()
    local m = assert(glob.compile(string.rep("**/", 1000) .. "x"))
    assert.is_true(glob.matches(m, "a/b/x"))
    assert.is_true(os.clock() - started < scaled.seconds(5), "took " .. (os.clock() - started)
      .. " s")
  end)
end)

describe("filter rules", function()
  local function takes(opts, rel, is_dir, entry)
    return filters.new("walk", opts):takes(rel, entry, is_dir)
  end

  it("matches a glob without / against the name at any depth, with / against the path",
    function()
      assert.is_false(takes({ exclude = { "*.tmp" } }, "a/b/c.tmp", false))
      assert.is_true(takes({ exclude = { "*.tmp" } }, "a/b/c.txt", false))
      assert.is_false(takes({ exclude = { "a/*.tmp" } }, "a/c.tmp", false))
      assert.is_true(takes({ exclude = { "a/*.tmp" } }, "x/a/c.tmp", false))
      assert.is_false(takes({ exclude = { "/build" } }, "build", true))
      assert.is_true(takes({ exclude = { "/build" } }, "src/build", true))
    end)

  it("matches a glob ending in / against folders only, and what lies in them", function()
    assert.is_false(takes({ exclude = { "cache/" } }, "x/cache", true))
    assert.is_true(takes({ exclude = { "cache/" } }, "x/cache", false))
    assert.is_false(takes({ exclude = { "cache/" } }, "cache/f", false)) -- in one
  end)

  it("takes with include only matching files, entering folders that could hold them",
    function()
      local opts = { include = { "src/**/*.c" } }
      assert.is_true(takes(opts, "src/a/b.c", false))
      assert.is_false(takes(opts, "src/a/b.h", false))
      assert.is_true(takes(opts, "src", true))
      assert.is_true(takes(opts, "src/a", true))
      assert.is_false(takes(opts, "doc", true))
      -- A folder an include names brings what it holds.
      assert.is_true(takes({ include = { "docs" } }, "docs/a/b.pdf", false))
      assert.is_true(takes({ include = { "*.c" } }, "any/where", true))
    end)

  it("lets exclude win over include", function()
    local opts = { include = { "*.c" }, exclude = { "gen/" } }
    assert.is_true(takes(opts, "a.c", false))
    assert.is_false(takes(opts, "gen/a.c", false))
    assert.is_false(takes(opts, "gen", true))
  end)

  it("asks filter after exclude, and reports one that raises", function()
    local asked = {}
    local opts = { exclude = { "*.tmp" }, filter = function(rel, entry)
      asked[#asked + 1] = rel
      if rel == "bad" then error("no opinion") end
      return entry.size < 10
    end }
    assert.is_false(takes(opts, "x.tmp", false, { size = 1 }))
    assert.is_true(takes(opts, "small", false, { size = 1 }))
    assert.is_false(takes(opts, "big", false, { size = 100 }))
    local ok, err = takes(opts, "bad", false, {})
    assert.is_nil(ok)
    assert.matches("no opinion", err)
    assert.same({ "small", "big", "bad" }, asked)
  end)

  it("takes everything without filters, and raises for a glob that is not a string", function()
    assert.is_nil(filters.new("walk", {}))
    assert.has_error(function() filters.new("walk", { include = { 1 } }) end,
      "ftplib: 'walk' option include must hold strings (globs)")
    assert.has_error(function()
      filters.new("mirror", { exclude = string.rep("x", glob.MAX_PATTERN + 1) })
    end)
    assert.is_false(takes({ exclude = "*" }, "anything", false)) -- a string: one glob
  end)
  it("answers alike for a path asked cold and one whose folders were asked first", function()
    local opts = { include = { "/src/**/*.c", "docs/", "keep" },
      exclude = { "gen/", "**/node_modules", "/top.tmp" } }
    local paths = { { "src", true }, { "src/a", true }, { "src/a/x.c", false },
      { "src/a/gen", true }, { "src/a/gen/y.c", false }, { "docs", true },
      { "docs/a/b.pdf", false }, { "x/keep", true }, { "x/keep/any", false },
      { "x/node_modules", true }, { "x/node_modules/keep/z", false }, { "top.tmp", false },
      { "src/top.tmp", false }, { "other", true }, { "other/file", false } }
    local warm = filters.new("walk", opts)
    for _, case in ipairs(paths) do
      local cold = filters.new("walk", opts)
      assert.equal(cold:takes(case[1], nil, case[2]), warm:takes(case[1], nil, case[2]), case[1])
      assert.equal(filters.new("walk", opts):included(case[1], case[2]),
        warm:included(case[1], case[2]), case[1])
    end
    -- The walked folder is not a folder above its entries: a folders-only
    -- exclude leaves a top-level file alone, not a file in a folder.
    local dirs_only = filters.new("walk", { exclude = { "*/" } })
    assert.is_true(dirs_only:takes("a", nil, false))
    assert.is_false(dirs_only:takes("a/b", nil, false))
  end)

  it("matches each entry of deep folders with long names only once (not per folder above)",
    function()
      -- A server may serve a chain of 128 folders named with 200 bytes each:
      -- matching every folder above again made each entry cost seconds.
      local selector = filters.new("walk", { include = { "**/keep/**", "*.c" },
        exclude = { "**/node_modules", "*.tmp" } })
      local name = string.rep("n", 200)
      local depth = scaled.count(128)
      local started, dir = os.clock(), nil
      for _ = 1, depth do
        if os.clock() - started > 2 then
          break -- failed already: the bound below says so
        end
        dir = dir and dir .. "/" .. name or name
        assert.is_true(selector:takes(dir, nil, true))
        assert.is_true(selector:takes(dir .. "/f.c", nil, false))
      end
      assert.is_true(os.clock() - started < 2, "took " .. (os.clock() - started) .. " s")
      assert.equal(depth * 201 - 1, #dir)
      assert.is_false(selector:takes(dir .. "/node_modules", nil, true))
      assert.is_false(selector:takes(dir .. "/x.tmp", nil, false))
      -- Asked cold (as download_many asks), each folder above is matched once.
      local cold = filters.new("download_many", { exclude = { "**/node_modules" } })
      assert.is_true(cold:takes(dir .. "/g.c", nil, false))
      assert.is_false(cold:takes(dir .. "/node_modules/h.c", nil, false))
      assert.is_true(os.clock() - started < 2, "took " .. (os.clock() - started) .. " s")
    end)
end)
