-- wrk: GET requests with an API token, rotating through a list of paths (one a line):
-- the chase queue, archive searches, or sheet pages (/api/v1/sheets/{id}).
-- Environment: TOKEN (hq_…), PATHS (file of paths).
local token = os.getenv("TOKEN") or error("TOKEN is not set")
local reqs = {}
for line in io.lines(os.getenv("PATHS") or error("PATHS is not set")) do
  if #line > 0 then
    reqs[#reqs + 1] = wrk.format("GET", line, { ["Authorization"] = "Bearer " .. token })
  end
end
assert(#reqs > 0, "no paths in PATHS")

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
