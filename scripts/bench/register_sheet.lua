-- wrk: register a countersign sheet by phone (POST /api/v1/communities/{id}/sheets) with a
-- receptionist's write API token: number drawn in the transaction, sheet, search terms,
-- first event and audit entry. A call needs no signature at registration. A repair is
-- opened with its category (and lands on the dispatcher's board), a complaint with the
-- details the desk must record (R-CMP-1).
-- Environment: TOKEN (hq_… with write scope, a receptionist), COMMUNITY (default 1), or
-- COMMUNITY_LIST (ids separated by commas) to register in each in turn, as the desks of a
-- company with many communities do at once.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "") .. "common.lua")
local paths = {}
for c in string.gmatch(os.getenv("COMMUNITY_LIST") or common.community(), "[^,]+") do
  paths[#paths + 1] = "/api/v1/communities/" .. c .. "/sheets"
end
local headers = common.json_headers(common.need("TOKEN"))
local names = common.names
local reasons = { "厨房下水道堵塞", "楼道灯不亮", "楼上装修噪音扰民", "入户门锁坏了", "卫生间漏水到楼下",
                  "电梯按键失灵", "物业费缴费方式", "客厅插座没电" }
local kinds = { "repair", "repair", "complaint", "repair", "repair", "repair", "inquiry", "repair" }
local details = {
  ',"repair":{"category":"drainage"}', ',"repair":{"category":"lighting"}',
  ',"complaint":{"category":"噪音","cause":"楼上装修","course":"晚上十点后仍在施工","occurred_unknown":true,"place":"3号楼2单元","people":"楼上装修工人"}',
  ',"repair":{"category":"door_window"}', ',"repair":{"category":"water"}', ',"repair":{"category":"lift"}', '',
  ',"repair":{"category":"electrical"}' }

common.number_threads()

local n = 0
function request()
  n = n + 1
  local phone = common.phone("139", n)
  local i = (n % #reasons) + 1
  local body = string.format('{"kind":"%s","channel":"phone","requester_name":"%s","requester_phone":"%s","reason":"%s"%s}',
                             kinds[i], names[(n % #names) + 1], phone, reasons[i], details[i])
  return wrk.format("POST", paths[(n + (thread_no or 0)) % #paths + 1], headers, body)
end
