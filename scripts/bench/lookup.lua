-- wrk: the desk's most frequent question, "who is calling?": find a person by full phone
-- number (GET /api/v1/communities/{id}/persons?q=<phone>) with an API token.
-- Environment: TOKEN (hq_…), PHONES (file, one number a line), COMMUNITY (default 1).
local token = os.getenv("TOKEN") or error("TOKEN is not set")
local community = os.getenv("COMMUNITY") or "1"
local reqs = {}
for line in io.lines(os.getenv("PHONES") or error("PHONES is not set")) do
  if #line > 0 then
    reqs[#reqs + 1] = wrk.format("GET", "/api/v1/communities/" .. community .. "/persons?q=" .. line,
                                 { ["Authorization"] = "Bearer " .. token })
  end
end
assert(#reqs > 0, "no phone numbers in PHONES")

-- Each wrk thread starts at a different place in the list.
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
