-- busted output handler: busted's own terminal output (utfTerminal, so failures print
-- with their details), then, as the very last line, a plain summary that CI reads:
--
--   N passed, N failed, N skipped
--
-- Failures and errors (including errors outside `it`: a spec file that does not load, an
-- error in a describe block) count as failed; pending tests count as skipped.
-- BUSTED_BASE_OUTPUT selects another built-in handler to wrap (e.g. plainTerminal, TAP).
-- When TEST_SUMMARY_FILE is set, the summary line is also written to that file (.ci/run
-- repeats it after make's own error message, so it stays the last line on failure too).
return function(options)
  local busted = require "busted"
  local base_name = os.getenv("BUSTED_BASE_OUTPUT") or "utfTerminal"
  local handler = require("busted.outputHandlers." .. base_name)(options)

  local function summary_line()
    return string.format("%d passed, %d failed, %d skipped",
      handler.successesCount,
      handler.failuresCount + handler.errorsCount,
      handler.pendingsCount)
  end

  -- 'exit' is published once, after every run and after the wrapped handler's report.
  busted.subscribe({ "exit" }, function()
    local line = summary_line()
    io.stdout:write("\n", line, "\n")
    io.stdout:flush()
    local path = os.getenv("TEST_SUMMARY_FILE")
    if path and path ~= "" then
      local f = io.open(path, "w")
      if f then
        f:write(line, "\n")
        f:close()
      end
    end
    return nil, true
  end)

  return handler
end
