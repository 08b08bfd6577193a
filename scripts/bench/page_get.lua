-- wrk: GET pages as a signed-in browser, rotating through a list of paths (one a line):
-- the key register's and the count form's HTML pages.
-- Environment: COOKIE (the session cookie, `hq_session=…`), PATHS (file of paths).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
local cookie = common.need("COOKIE")

common.rotate(common.requests("PATHS", "paths", function(line)
  return wrk.format("GET", line, { ["Cookie"] = cookie })
end))
