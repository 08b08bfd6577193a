-- wrk: GET requests as several users, rotating through a list of "TOKEN PATH" lines (an
-- API token of the user, then the path): the dispatchers' boards, the technicians' days.
-- Environment: PATHS (the file).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")

common.rotate(common.requests("PATHS", "lines", function(line)
  local token, path = line:match("^(%S+)%s+(%S+)$")
  if token then
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
  end
end))
