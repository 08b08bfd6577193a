-- wrk: register a person (POST /api/v1/communities/{id}/persons) with a write API token:
-- validation, encryption of the phone number, keyed hash, insert and audit entry.
-- Environment: TOKEN (hq_… with write scope), COMMUNITY (default 1).
local token = os.getenv("TOKEN") or error("TOKEN is not set")
local community = os.getenv("COMMUNITY") or "1"
local path = "/api/v1/communities/" .. community .. "/persons"
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
local names = { "张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周婷", "吴强" }

local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

local n = 0
function request()
  n = n + 1
  -- A new mobile number for every request: 199 + thread + counter.
  local phone = string.format("199%01d%07d", (thread_no or 0) % 10, n % 10000000)
  local body = string.format('{"name":"%s","phone":"%s"}', names[(n % #names) + 1], phone)
  return wrk.format("POST", path, headers, body)
end
