-- wrk: keys leaving and coming back at the desk, with a receptionist's write API token: a
-- sign-out (POST /api/v1/keys/{id}/sign-outs: for an inspection, the taker another member
-- of staff, signed) and then its return (POST /api/v1/key-sign-outs/{id}/returns: by the
-- taker in person, signed), over many key sets in turn. Each answer is the key set's books,
-- which say what it needs next: its version for the next sign-out, or the open sign-out
-- and its taker for the return. A key set waits for its answer before its next request,
-- so none is signed out twice.
-- Environment: TOKEN (hq_… with write scope, a receptionist of the key sets' communities),
-- KEYS (a file of "key_set_id version taker_user_id" lines, as `huiqian bench-data
-- --key-ids` writes them: key sets on their hooks that need no approval), THREADS (wrk's -t,
-- default 2: each thread takes its own share of the key sets).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
local headers = common.json_headers(common.need("TOKEN"))
local SIGNATURE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACgAAAAUCAAAAADaLSBnAAAAJ0lEQVR42mNg+A8GBCli1aGQ1DGWgVjzGIi1l4FY9zGMBs9o8KBTAJ+1q3GjpzGEAAAAAElFTkSuQmCC"
local keys = common.requests("KEYS", "key sets", function(line)
  local id, version, taker = line:match("^(%d+)%s+(%d+)%s+(%d+)")
  if id then
    return { id = tonumber(id), version = tonumber(version), taker = tonumber(taker) }
  end
end)

common.number_threads()

local slots, by_id, n = {}, {}, 0

function init(args)
  local threads = tonumber(os.getenv("THREADS") or "2")
  for i, k in ipairs(keys) do
    if (i - 1) % threads == (thread_no or 0) then
      local s = { id = k.id, version = k.version, taker = k.taker, loan = nil, taker_name = nil, busy = false }
      slots[#slots + 1] = s
      by_id[k.id] = s
    end
  end
  assert(#slots > 0, "no key sets for thread " .. tostring(thread_no))
end

function request()
  for _ = 1, #slots do
    n = n % #slots + 1
    local s = slots[n]
    if not s.busy then
      s.busy = true
      if s.loan then
        local body = string.format('{"version":1,"quantity":1,"returner_name":"%s","signature":"%s"}',
                                   s.taker_name, SIGNATURE)
        return wrk.format("POST", "/api/v1/key-sign-outs/" .. s.loan .. "/returns", headers, body)
      end
      local body = string.format('{"version":%d,"quantity":1,"reason_kind":"inspection","reason":"空置房定期巡查",'
                                 .. '"due_at":%d,"taker_kind":"staff","taker_user_id":%d,"signature":"%s"}',
                                 s.version, (os.time() + 7200) * 1000, s.taker, SIGNATURE)
      return wrk.format("POST", "/api/v1/keys/" .. s.id .. "/sign-outs", headers, body)
    end
  end
  error("every key set of this thread is waiting for an answer")
end

-- The answer: {"key":{"id":…,…,"version":…,"loan_id":…,"loan_taker":"…",…},…}; an error
-- leaves its key set waiting (counted by wrk as a non-2xx response).
function response(status, headers, body)
  local key = body:match('^{"key":(%b{})')
  if not key then
    return
  end
  local s = by_id[tonumber(key:match('"id":(%d+)'))]
  if not s then
    return
  end
  s.version = tonumber(key:match('"version":(%d+)'))
  s.loan = key:match('"loan_id":(%d+)')
  s.taker_name = key:match('"loan_taker":"([^"]*)"')
  s.busy = false
end
