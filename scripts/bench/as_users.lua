-- wrk: GET requests as several users, rotating through a list of "TOKEN PATH" lines (an
-- API token of the user, then the path): the dispatchers' boards, the technicians' days.
-- Environment: PATHS (the file).
local reqs = {}
for line in io.lines(os.getenv("PATHS") or error("PATHS is not set")) do
  local token, path = line:match("^(%S+)%s+(%S+)$")
  if token then
    reqs[#reqs + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
  end
end
assert(#reqs > 0, "no lines in PATHS")

local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

local n = 0
function init(args)
  n = (thread_no or 0) * 397
end

function request()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end
