--[[
  idempotency-begin: starts the executions of a batch of tasks of one shard (the handler wrapper's
  "in progress" step, batched per event-loop turn). For each idempotency record: write it "in progress"
  (SET NX), unless a record says the function already completed, or is running elsewhere. An orphan (an
  in-progress record whose execution timed out, or an expired record) is taken over in the same step:
  this script is atomic, so no lock is needed and a COMPLETED record is never overwritten.

  Records are Powertools' cache-layer records, byte for byte: key `<prefix>#<md5 of the key>`, JSON
  {"status", "expiration" (s), "in_progress_expiration" (ms), "data"} (Node builds the JSON).

  KEYS[i]    idempotency record of task i   STRING JSON, with EX

  ARGV[1]    now ms
  ARGV[2]    TTL seconds of a record
  ARGV[3]    the in-progress record (JSON), the same for every task of the batch

  Returns: one entry per task: 1 started (record written), 2 running elsewhere (nothing written),
           or the COMPLETED record (JSON string, nothing written)
]]
-- @include record-state.lua

local now = tonumber(ARGV[1])
-- The TTL stays the string it came as: a Lua number would be formatted again for every SET.
local ttl = ARGV[2]
local in_progress = ARGV[3]
local out = {}
for i = 1, #KEYS do
  if redis.call("SET", KEYS[i], in_progress, "EX", ttl, "NX") then
    out[i] = 1
  else
    local raw = redis.call("GET", KEYS[i])
    local state = record_state(raw, now)
    if state == "completed" then
      out[i] = raw
    elseif state == "running" then
      out[i] = 2
    else
      redis.call("SET", KEYS[i], in_progress, "EX", ttl)
      out[i] = 1
    end
  end
end
return out
