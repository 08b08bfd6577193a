-- wrk: the desk's most frequent question, "who is calling?": find a person by full phone
-- number (GET /api/v1/communities/{id}/persons?q=<phone>) with an API token.
-- Environment: TOKEN (hq_…), PHONES (file, one number a line), COMMUNITY (default 1).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
local token = common.need("TOKEN")
local community = common.community()

common.rotate(common.requests("PHONES", "phone numbers", function(line)
  return wrk.format("GET", "/api/v1/communities/" .. community .. "/persons?q=" .. line,
                    { ["Authorization"] = "Bearer " .. token })
end))
