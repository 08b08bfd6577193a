-- Shared by the wrk scripts in this folder, which load it with
--   local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
-- (from their own folder, whatever the working directory): the environment, lists of
-- requests read from a file, the numbering of wrk's threads and the rotation through a list.
local common = {}

-- The value of an environment variable that must be set.
function common.need(name)
  return os.getenv(name) or error(name .. " is not set")
end

-- The community the requests go to: COMMUNITY, 1 by default.
function common.community()
  return os.getenv("COMMUNITY") or "1"
end

-- Names for the people a script registers.
common.names = { "张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周婷", "吴强" }

-- The headers of a JSON request with the API token `token`.
function common.json_headers(token)
  return { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

-- A new mobile number for every request: `prefix` (three digits), the thread's number
-- (one digit) and the counter `n` (seven digits).
function common.phone(prefix, n)
  return string.format("%s%01d%07d", prefix, (thread_no or 0) % 10, n % 10000000)
end

-- The requests `make` returns for the non-empty lines of the file named by the environment
-- variable `var` (a line for which it returns nil is passed over); at least one, or an
-- error that there are no `what` in the file.
function common.requests(var, what, make)
  local reqs = {}
  for line in io.lines(common.need(var)) do
    if #line > 0 then
      local req = make(line)
      if req then
        reqs[#reqs + 1] = req
      end
    end
  end
  assert(#reqs > 0, "no " .. what .. " in " .. var)
  return reqs
end

-- Gives every wrk thread its number, 0 for the first, in the global `thread_no`.
function common.number_threads()
  local threads = 0
  function setup(thread)
    thread:set("thread_no", threads)
    threads = threads + 1
  end
end

-- Sends the requests in `reqs` in turn; each wrk thread starts at a different place in
-- the list.
function common.rotate(reqs)
  common.number_threads()
  local n = 0
  function init(args)
    n = (thread_no or 0) * 397
  end
  function request()
    n = n + 1
    return reqs[(n % #reqs) + 1]
  end
end

return common
