-- The command-line tool (bin/ftplib): ls, get, put, cat, mirror, rm, rmdir,
-- mkdir, mv and chmod on ftp:// and ftps:// URLs. bin/ftplib only calls cli.main; all of
-- the tool is here, on top of the library's helpers.
local cliargs = require "ftplib.cli.args"
local progressbar = require "ftplib.cli.progressbar"
local urlparse = require "ftplib.parsers.url"
local safename = require "ftplib.ops.safename"

local cli = {}

-- Exit codes scripts can test.
local EXIT = {
  ok = 0, usage = 1, network = 2, login = 3, refused = 4, io = 5, tls = 6,
  proto = 7, partial = 8, interrupted = 130,
}
cli.EXIT = EXIT

local NETWORK_CODES = {
  timeout = true, closed = true, refused = true, aborted = true, proxy = true,
}

-- The exit code for a failure's code (see the usage text).
local function exit_code(code)
  if code == 530 or code == 331 or code == 332 then
    return EXIT.login
  elseif type(code) == "number" then
    return EXIT.refused
  elseif NETWORK_CODES[code] then
    return EXIT.network
  end
  return EXIT[code] or EXIT.proto
end
cli.exit_code = exit_code

-- A line for stderr: URL passwords masked, control characters (a server's
-- reply text, a listed name) escaped so that none reaches the terminal raw.
local function say(env, ...)
  local text = table.concat({ ... })
  env.stderr:write(safename.shown(urlparse.masked(text)), "\n")
end

-- A name for stdout: escaped when stdout is a terminal.
local function shown(env, name)
  if env.stdout_terminal then
    return safename.shown(name)
  end
  return name
end

-- A failure: the message on stderr, and its exit code.
local function failed(env, what, msg, code)
  say(env, "ftplib: ", what, ": ", tostring(msg))
  return exit_code(code)
end

-- Options of the library taken from the command line.
local function session_options(opts)
  local session = { timeout = opts.timeout, passive = not opts.active,
    encoding = opts.encoding, timezone = opts.timezone, proxy = opts.proxy }
  if opts.verbose then
    session.debuglevel = 1
  end
  if opts.insecure or opts.cacert or opts.tls then
    session.tls = { verify = not opts.insecure, cafile = opts.cacert }
  end
  return session
end

local function open(env, url)
  local ftplib = require "ftplib"
  local ftp, path_or_err, code = ftplib.open(url, session_options(env.opts))
  if not ftp then
    return nil, path_or_err, code
  end
  return ftp, path_or_err
end

-- A progress function for ftp:download/upload, drawing a bar on a
-- terminal only.
local function progress_for(env, label)
  if not env.show_progress then
    return nil, function() end
  end
  local bar = progressbar.new(label, env.stderr, env.columns)
  local last_done, last_total = 0, nil
  local function progress(done, total)
    last_done, last_total = done, total
    bar:draw(done, total)
  end
  return progress, function()
    bar:finish(last_done, last_total)
  end
end

local function basename(path)
  return path:match("([^/]+)/*$") or path
end

local function isdir(path)
  return require("lfs").attributes(path, "mode") == "directory"
end

-- Runs work(ftp, path) on a logged-in session for url, then QUITs. A
-- failure of either is reported as "verb url: message" with its exit code;
-- the second result is false when no session could be opened.
local function with_session(env, verb, url, work)
  local ftp, path, code = open(env, url)
  if not ftp then
    return failed(env, url, path, code), false
  end
  local ok, err, errcode = work(ftp, path)
  ftp:quit()
  if not ok then
    return failed(env, verb .. " " .. url, err, errcode)
  end
  return EXIT.ok
end

local commands = {}

-- The verify option of get, put and mirror: "hash" with --verify-hash.
local function verify_mode(env)
  return env.opts.verify_hash and "hash" or nil
end

local TYPE_LETTER = { file = "-", dir = "d", link = "l" }

local function print_entries(env, entries)
  local out = env.stdout
  table.sort(entries, function(a, b) return (a.name or "") < (b.name or "") end)
  for _, e in ipairs(entries) do
    if e.type == "unknown" then
      out:write(shown(env, e.raw), "\n")
    else
      local when = e.modify and os.date("!%Y-%m-%d %H:%M", e.modify) or "                "
      local name = e.target and (e.name .. " -> " .. e.target) or e.name
      out:write(string.format("%s %12s %s %s\n", TYPE_LETTER[e.type] or "?",
        e.size or "", when, shown(env, name)))
    end
  end
end

function commands.ls(env, args)
  return with_session(env, "ls", args[1], function(ftp, path)
    local entries, err, code = ftp:list(path ~= "" and path or nil)
    if entries then
      print_entries(env, entries)
    end
    return entries, err, code
  end)
end

function commands.get(env, args)
  return with_session(env, "get", args[1], function(ftp, path)
    local target = args[2] or basename(path)
    if isdir(target) then
      target = target .. "/" .. basename(path)
    end
    local progress, finish = progress_for(env, basename(path))
    env.partial = target .. ".part"
    local bytes, info, code = ftp:download(path, target, {
      resume = env.opts.continue, progress = progress, retries = env.opts.retries,
      rate_limit = env.opts.limit_rate, verify = verify_mode(env),
      segments = math.tointeger(env.opts.segments) })
    finish()
    env.partial = nil
    if bytes and info.restarted and not env.opts.quiet then
      say(env, "ftplib: get: started over: ", info.restarted)
    end
    return bytes, info, code
  end)
end

function commands.cat(env, args)
  return with_session(env, "cat", args[1], function(ftp, path)
    return ftp:retrbinary("RETR " .. path, env.stdout, nil, nil,
      { rate_limit = env.opts.limit_rate })
  end)
end

function commands.put(env, args)
  local source, url = args[1], args[2]
  local readable = io.open(source, "rb")
  if not readable then
    return failed(env, "put", "cannot read " .. source, "io")
  end
  readable:close()
  return with_session(env, "put", url, function(ftp, path)
    if path == "" or url:sub(-1) == "/" then
      path = (path == "" and "" or path:gsub("/*$", "/")) .. basename(source)
    end
    local progress, finish = progress_for(env, basename(source))
    local bytes, info, code = ftp:upload(source, path, {
      resume = env.opts.continue, progress = progress, retries = env.opts.retries,
      rate_limit = env.opts.limit_rate, verify = verify_mode(env) })
    finish()
    if bytes and info.restarted and not env.opts.quiet then
      say(env, "ftplib: put: started over: ", info.restarted)
    end
    return bytes, info, code
  end)
end

local function report_line(report)
  return string.format("%d created, %d updated, %d skipped, %d deleted, %d failed",
    #report.created, #report.updated, #report.skipped, #report.deleted, #report.failed)
end

local function print_report(env, report)
  for _, failure in ipairs(report.failed) do
    say(env, "ftplib: mirror: ", failure.path, ": ", tostring(failure.err))
  end
  if env.opts.dry_run or not env.opts.quiet and (env.interactive or env.opts.verbose) then
    for _, kind in ipairs { "created", "updated", "deleted" } do
      for _, p in ipairs(report[kind]) do
        env.stdout:write(kind, " ", shown(env, p), "\n")
      end
    end
    env.stdout:write(report_line(report), "\n")
  end
end

function commands.mirror(env, args)
  local url, local_dir = args[1], args[2]
  if env.opts.reverse then
    url, local_dir = args[2], args[1]
  end
  local mirror_opts = { delete = env.opts.delete, dry_run = env.opts.dry_run,
    parallel = env.opts.parallel, retries = env.opts.retries,
    include = env.opts.include, exclude = env.opts.exclude,
    rate_limit = env.opts.limit_rate, verify = verify_mode(env) }
  if not env.opts.reverse then
    env.partial_dir = local_dir -- what a Ctrl-C would leave .part files in
  end
  local some_failed = false
  local status = with_session(env, "mirror", url, function(ftp, path)
    local remote = path ~= "" and path or "."
    local report, err, code
    if env.opts.reverse then
      report, err, code = ftp:mirror_up(local_dir, remote, mirror_opts)
    else
      report, err, code = ftp:mirror(remote, local_dir, mirror_opts)
    end
    if report then
      print_report(env, report)
      some_failed = #report.failed > 0
    end
    return report, err, code
  end)
  return some_failed and EXIT.partial or status
end

-- rm -r's report: failures and folders kept on stderr; in a dry run, or
-- verbose on a terminal, what was (or would be) deleted and a summary.
local function print_rmtree_report(env, report)
  for _, failure in ipairs(report.failed) do
    say(env, "ftplib: rm: ", failure.path, ": ", tostring(failure.err))
  end
  for _, kept in ipairs(report.kept) do
    say(env, "ftplib: rm: ", kept.path, ": ", kept.reason)
  end
  if env.opts.dry_run or not env.opts.quiet and (env.interactive or env.opts.verbose) then
    for _, p in ipairs(report.deleted) do
      env.stdout:write(env.opts.dry_run and "would delete " or "deleted ", shown(env, p), "\n")
    end
    env.stdout:write(string.format("%d %s, %d failed, %d kept\n", #report.deleted,
      env.opts.dry_run and "to delete" or "deleted", #report.failed, #report.kept))
  end
end

-- rm -r of one path: the report printed; `partial` set when it is not whole.
local function remove_tree(env, ftp, path, partial)
  local report, err, code = ftp:rmtree(path, { dry_run = env.opts.dry_run,
    include = env.opts.include, exclude = env.opts.exclude })
  if report then
    print_rmtree_report(env, report)
    partial.some = partial.some or #report.failed > 0
  end
  return report, err, code
end

-- work(ftp, path) for each URL of urls, a session each: the last failure's
-- exit code, or at once the code of a session that could not be opened.
local function each_url(env, verb, urls, work)
  local status = EXIT.ok
  for _, url in ipairs(urls) do
    local this, opened = with_session(env, verb, url, work)
    if opened == false then
      return this
    end
    status = this ~= EXIT.ok and this or status
  end
  return status
end

function commands.rm(env, args)
  local partial = {}
  local status = each_url(env, "rm", args, function(ftp, path)
    if env.opts.recursive then
      return remove_tree(env, ftp, path, partial)
    end
    return ftp:delete(path)
  end)
  if status == EXIT.ok and partial.some then
    return EXIT.partial
  end
  return status
end

function commands.rmdir(env, args)
  return with_session(env, "rmdir", args[1], function(ftp, path)
    return ftp:rmd(path)
  end)
end

function commands.mkdir(env, args)
  return with_session(env, "mkdir", args[1], function(ftp, path)
    if env.opts.parents then
      return ftp:makedirs(path)
    end
    return ftp:mkd(path)
  end)
end

-- mv's second word: a server path as it is, or a URL of the same server
-- (its path taken).
local function new_path(source_url, target)
  if not target:find("^%a[%w+.-]*://") then
    return target
  end
  local from, to = urlparse.parse(source_url), urlparse.parse(target)
  if from.host ~= to.host or from.port ~= to.port then
    return nil, "mv moves within one server: " .. urlparse.masked(target)
      .. " is on another"
  end
  return to.path .. (to.dir_only and to.path ~= "" and to.path:sub(-1) ~= "/" and "/" or "")
end

function commands.mv(env, args)
  local target, err = new_path(args[1], args[2])
  if not target then
    say(env, "ftplib: ", err)
    return EXIT.usage
  end
  return with_session(env, "mv", args[1], function(ftp, path)
    return ftp:move(path, target)
  end)
end

function commands.chmod(env, args)
  local mode = args[1]
  if not mode:find("^[0-7][0-7][0-7][0-7]?$") then
    say(env, "ftplib: chmod: MODE must be 3 or 4 octal digits (644, 0755), got ", mode)
    return EXIT.usage
  end
  return each_url(env, "chmod", { table.unpack(args, 2) }, function(ftp, path)
    return ftp:chmod(path, mode)
  end)
end

-- Ctrl-C: exit 130, as shells expect of a program stopped by SIGINT, naming
-- the .part a resume would continue.
local function interrupted(env)
  local part = env.partial
  if part and require("lfs").attributes(part, "mode") == "file" then
    say(env, "ftplib: interrupted; the partial download is kept in ", part,
      " (get -c resumes it)")
  elseif env.partial_dir then
    say(env, "ftplib: interrupted; a file being downloaded is kept as NAME.part under ",
      env.partial_dir)
  else
    say(env, "ftplib: interrupted")
  end
  return EXIT.interrupted
end

-- How many arguments each command takes: min, max (nil: any).
local ARITY = { ls = { 1, 1 }, get = { 1, 2 }, cat = { 1, 1 }, put = { 2, 2 },
  mirror = { 2, 2 }, rm = { 1 }, mkdir = { 1, 1 }, rmdir = { 1, 1 }, mv = { 2, 2 },
  chmod = { 2 } }

-- cli.main(argv, env) --> exit code. env: stdout, stderr, interactive (stderr
-- is a terminal), columns; the defaults are the process's.
function cli.main(argv, env)
  env = env or {}
  env.stdout, env.stderr = env.stdout or io.stdout, env.stderr or io.stderr
  local parsed, err = cliargs.parse(argv)
  if not parsed then
    say(env, "ftplib: ", err)
    say(env, "Try 'ftplib --help'.")
    return EXIT.usage
  elseif parsed.opts.help then
    env.stdout:write(cliargs.USAGE)
    return EXIT.ok
  elseif parsed.opts.version then
    env.stdout:write(require("ftplib")._VERSION, "\n")
    return EXIT.ok
  end
  local command, args = parsed.command, parsed.args
  local arity = ARITY[command]
  if not arity or #args < arity[1] or (arity[2] and #args > arity[2]) then
    env.stderr:write("ftplib: ", arity and ("wrong number of arguments to " .. command)
      or ("unknown command " .. tostring(command)), "\n", "Try 'ftplib --help'.\n")
    return EXIT.usage
  end
  env.opts = parsed.opts
  env.show_progress = env.interactive and not parsed.opts.quiet
  local ok, status = pcall(commands[command], env, args)
  if not ok and tostring(status):find("interrupted!$") then
    -- Ctrl-C (lua5.4 turns SIGINT into this error at the next Lua step).
    return interrupted(env)
  elseif not ok then
    -- Programming errors of the library's arguments: a malformed URL, say.
    say(env, (tostring(status):gsub("^ftplib: ", "ftplib: " .. command .. ": ")))
    return EXIT.usage
  end
  return status
end

return cli
