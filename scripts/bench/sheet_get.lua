-- wrk: GET requests with an API token, rotating through a list of paths (one a line):
-- the chase queue, archive searches, or sheet pages (/api/v1/sheets/{id}).
-- Environment: TOKEN (hq_…), PATHS (file of paths).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
local token = common.need("TOKEN")

common.rotate(common.requests("PATHS", "paths", function(line)
  return wrk.format("GET", line, { ["Authorization"] = "Bearer " .. token })
end))
