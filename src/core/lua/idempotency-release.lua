--[[
  idempotency-release: deletes the in-progress idempotency record of an execution that failed, so a retry
  can run, unless another execution has completed the record meanwhile (it took the record over after an
  in-progress expiry): a COMPLETED record is never deleted.

  KEYS[1]  idempotency record  STRING JSON {"status", ...}

  Returns: 1 deleted, 0 no such record, -1 the record is COMPLETED (kept)
]]
-- @include is-completed.lua

local current = redis.call("GET", KEYS[1])
if not current then return 0 end
if is_completed(current) then return -1 end
redis.call("DEL", KEYS[1])
return 1
