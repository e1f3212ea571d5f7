--[[
  idempotency-take-over: the handler wrapper takes over an orphaned in-progress idempotency record
  (Powertools read it, saw its in-progress expiry pass, and now writes its own). Written only if the record
  is not COMPLETED by now: a completion that landed after that read must never be overwritten, or the user
  function would run a second time for a key that already completed.

  KEYS[1]  idempotency record  STRING JSON {"status", "expiration", "in_progress_expiration", "data"}

  ARGV[1]  the new in-progress record (JSON)
  ARGV[2]  TTL seconds, or "" for none

  Returns: 1 written, 0 the record is COMPLETED (nothing written)
]]
-- @include is-completed.lua

if is_completed(redis.call("GET", KEYS[1])) then return 0 end
if ARGV[2] == "" then
  redis.call("SET", KEYS[1], ARGV[1])
else
  redis.call("SET", KEYS[1], ARGV[1], "EX", tonumber(ARGV[2]))
end
return 1
