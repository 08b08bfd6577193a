-- wrk: register a person (POST /api/v1/communities/{id}/persons) with a write API token:
-- validation, encryption of the phone number, keyed hash, insert and audit entry.
-- Environment: TOKEN (hq_… with write scope), COMMUNITY (default 1).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
local path = "/api/v1/communities/" .. common.community() .. "/persons"
local headers = common.json_headers(common.need("TOKEN"))
local names = common.names

common.number_threads()

local n = 0
function request()
  n = n + 1
  local body = string.format('{"name":"%s","phone":"%s"}', names[(n % #names) + 1], common.phone("199", n))
  return wrk.format("POST", path, headers, body)
end
