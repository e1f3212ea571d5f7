-- What an existing record says, with Powertools' rules (CachePersistenceLayer#putInProgressRecord):
-- "completed" (COMPLETED, not past "expiration" in seconds), "running" (INPROGRESS, "in_progress_expiration"
-- in ms still ahead), else "orphan" (expired, timed out, or unreadable: it may be taken over).
local function record_state(raw, now_ms)
  if not raw then return "orphan" end
  local ok, record = pcall(cjson.decode, raw)
  if not ok or type(record) ~= "table" then return "orphan" end
  local expiration = tonumber(record.expiration)
  if expiration and now_ms / 1000 > expiration then return "orphan" end
  if record.status == "COMPLETED" then return "completed" end
  local running_until = tonumber(record.in_progress_expiration)
  if record.status == "INPROGRESS" and running_until and running_until > now_ms then return "running" end
  return "orphan"
end
