--[[
  complete: records a batch of finished executions of one handler in one shard and acks their claims
  (the handler wrapper's "completed" step, batched per event-loop turn). For each task, in order:
  1. write its COMPLETED idempotency record, when given: the function ran, so the record is written
     whatever the claim says (a stale claim's result still stands for the next delivery);
  2. ack the claim as ack.lua does (the same checks and writes; the user-key and priority lookups are
     skipped when the shard has none), fenced by the claim token: a stale or missing claim is
     rejected and changes nothing, without affecting the other tasks of the batch.
  Record and ack land together: no window between them.

  KEYS[1]    jobs      HASH id -> packed body
  KEYS[2]    state     HASH id -> "attempt|token|reason|error"
  KEYS[3]    keys      HASH user key -> id
  KEYS[4]    prio      HASH id -> priority
  KEYS[5]    inflight  ZSET id -> lease deadline (of the handler)
  KEYS[5+i]  idempotency record of task i   STRING JSON (Powertools' format)

  ARGV[1]    TTL seconds of a record
  ARGV[3i-1] id of task i
  ARGV[3i]   claim token of task i
  ARGV[3i+1] COMPLETED record of task i (JSON), or "" to ack only (a duplicate: the record exists)

  Returns: one code per task: 1 acknowledged, -1 no such claimed job, -2 stale token
]]
-- @include body.lua

local ttl = tonumber(ARGV[1])
-- Checked once per batch: with no user keys (or no priorities) in the shard there is no mapping to remove,
-- so the body is neither read nor decoded (and no HDEL on prio) for any task of the batch.
local any_keys = redis.call("HLEN", KEYS[3]) > 0
local any_prio = redis.call("HLEN", KEYS[4]) > 0

-- The body of ack.lua.
local function ack(id, token)
  if not redis.call("ZSCORE", KEYS[5], id) then
    if redis.call("HEXISTS", KEYS[1], id) == 1 then return -2 end
    return -1
  end
  local _, current = parse_state(redis.call("HGET", KEYS[2], id))
  if current ~= token then return -2 end
  if any_keys then
    local body = redis.call("HGET", KEYS[1], id)
    if body then
      local header = decode_body(body)
      if header.k and redis.call("HGET", KEYS[3], header.k) == id then redis.call("HDEL", KEYS[3], header.k) end
    end
  end
  redis.call("ZREM", KEYS[5], id)
  redis.call("HDEL", KEYS[2], id)
  redis.call("HDEL", KEYS[1], id)
  if any_prio then redis.call("HDEL", KEYS[4], id) end
  return 1
end

local out = {}
for i = 1, #KEYS - 5 do
  local record = ARGV[3 * i + 1]
  if record ~= "" then redis.call("SET", KEYS[5 + i], record, "EX", ttl) end
  out[i] = ack(ARGV[3 * i - 1], ARGV[3 * i])
end
return out
