-- An idempotency record is Powertools' JSON; only its "status" matters here.
local function is_completed(raw)
  if not raw then return false end
  local ok, record = pcall(cjson.decode, raw)
  return ok and type(record) == "table" and record.status == "COMPLETED"
end
