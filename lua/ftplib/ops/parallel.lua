-- mirror and mirror_up with opts.parallel = N: the file transfers of the
-- plan run on N sessions at once, the first one and N - 1 clones of it
-- (same server, login, options, TLS settings and current folder), each
-- taking the next transfer when done with its last. Folders are made and
-- deletes done on the first session, before and after, in the plan's order.
-- A failed transfer, a clone that cannot log in or a session lost on the
-- way does not stop the others; the report lists items in plan order.
local scheduler = require "ftplib.concurrency.scheduler"
local sessions = require "ftplib.protocol.session"
local checks = require "ftplib.base.checks"

local spawn = scheduler.exports.spawn

local parallel = {}

local CLONED_OPTIONS = {
  "timeout", "passive", "use_epsv", "pipelining", "trust_server_pasv_ipv4_address", "maxline",
  "maxreply", "debuglevel", "debugfunc", "encoding", "source_address", "port_range",
  "keepalive", "maxlisting", "timezone", "proxy", "mode_z", "mode_z_upload",
}

local function clone_options(ftp)
  local opts = { port = ftp.port }
  for _, key in ipairs(CLONED_OPTIONS) do
    opts[key] = ftp[key]
  end
  local login = ftp._login_args or {}
  opts.user = login[1] or ftp.user or "anonymous"
  opts.passwd, opts.acct = login[2] or ftp.passwd, login[3] or ftp.acct
  if ftp._tls_ctx then
    opts.tls = ftp._tls_opts
  end
  return opts
end

-- A new session like ftp, in folder: the session, or nil, msg, code.
local function clone(ftp, folder)
  local opts = clone_options(ftp)
  local copy, err, code = (ftp._tls_ctx and sessions.FTP_TLS or sessions.FTP)(ftp.host, opts)
  if not copy then
    return nil, err, code
  end
  local ok = true
  copy._raw_names = ftp._raw_names -- names listed raw go back raw from clones too
  if ftp._tls_ctx and not ftp._prot_p then -- the script chose clear data
    ok, err, code = copy:prot_c()
  end
  if ok then
    ok, err, code = copy:cwd(folder)
  end
  if not ok then
    copy:close()
    return nil, err, code
  end
  return copy
end
parallel.clone = clone -- for segments.lua: the extra sessions of a segmented download

local function merge(report, part)
  for key, list in pairs(part) do
    table.move(list, 1, #list, #report[key] + 1, report[key])
  end
end

-- Waits for every task to end; answers the first error one raised (nil
-- when none did).
function parallel.join(tasks)
  local first_error
  for _, task in ipairs(tasks) do
    local ok, err = pcall(task.result, task)
    first_error = first_error or (not ok and err) or nil
  end
  return first_error
end

-- Runs run_item(session, i) for i = 1..count on up to n sessions: ftp and
-- clones of it in ftp's current folder, each taking the next item when done
-- with its last. Items whose every session was lost are left undone: the
-- caller sees no call for them. Returns the first error a worker raised.
local function run_workers(ftp, count, n, run_item)
  local taken = 0
  local function work(session)
    while taken < count and session:_isopen() do
      taken = taken + 1
      run_item(session, taken)
    end
  end
  local folder = ftp:_pwd_cached()
  local tasks, clones = { spawn(work, ftp) }, {}
  for _ = 2, folder and math.min(n, count) or 1 do
    tasks[#tasks + 1] = spawn(function()
      local copy = clone(ftp, folder)
      if copy then -- else the others do its share
        clones[#clones + 1] = copy
        work(copy)
        copy:quit()
      end
    end)
  end
  local first_error = parallel.join(tasks)
  for _, copy in ipairs(clones) do
    copy:close()
  end
  return first_error
end
parallel.run_workers = run_workers

local function transfers_run(mirror, ftp, items, opts, report, state, n)
  local outcomes = {}
  local err = run_workers(ftp, #items, n, function(session, i)
    outcomes[i] = mirror.empty_report()
    mirror.execute(session, { items = { items[i] } }, opts, outcomes[i], state)
  end)
  if err ~= nil then
    error(err, 0)
  end
  for i, item in ipairs(items) do
    if not outcomes[i] then -- every session was lost: the first one reports it
      outcomes[i] = mirror.empty_report()
      mirror.execute(ftp, { items = { item } }, opts, outcomes[i], state)
    end
    merge(report, outcomes[i])
  end
end

-- mirror.execute's contract, with the transfers on opts.parallel sessions.
-- `mirror` is the module whose plan this is (mirror.lua passes itself: it
-- requires this module, not the other way round): its execute and
-- empty_report are all used of it. state: mirror.run_state(), shared.
function parallel.execute_plan(mirror, ftp, plan, opts, report, state)
  local n = parallel.sessions(opts.parallel)
  if n == 1 or opts.dry_run then
    return mirror.execute(ftp, plan, opts, report, state)
  end
  local before, transfers, after = {}, {}, {}
  for _, item in ipairs(plan.items) do
    local phase = item.phase < 3 and before or item.phase == 3 and transfers or after
    phase[#phase + 1] = item
  end
  mirror.execute(ftp, { items = before }, opts, report, state)
  if #transfers > 0 then
    transfers_run(mirror, ftp, transfers, opts, report, state, n)
  end
  return mirror.execute(ftp, { items = after }, opts, report, state)
end

-- A positive integer number of sessions from opts.parallel (nil: 1).
function parallel.sessions(value)
  local n = math.tointeger(value or 1)
  if not n or n < 1 then
    checks.raise("parallel must be a positive integer")
  end
  return n
end

return parallel
