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

  ARGV[1]        TTL seconds of a record
  ARGV[2]        head of the batch's COMPLETED records (JSON up to and with the expiry)
  ARGV[2+i]      id of task i              (n = #KEYS - 5 tasks: ids, then tokens, then tails, so that
  ARGV[2+n+i]    claim token of task i      the ids and tokens are read in place)
  ARGV[2+2n+i]   tail of task i's COMPLETED record (its record is head .. tail; "}" is a record without
                 data), or a whole record (JSON, starts with "{", written as it is), or "" to ack only
                 (a duplicate: the record exists)

  Returns: one code per task: 1 acknowledged, -1 no such claimed job, -2 stale token
]]
-- @include ack-claim.lua

-- The TTL stays the string it came as: a Lua number would be formatted again for every SET.
local ttl = ARGV[1]
-- Checked once per batch: with no user keys (or no priorities) in the shard there is no mapping to remove,
-- so the body is neither read nor decoded (and no HDEL on prio) for any task of the batch.
local any_keys = redis.call("HLEN", KEYS[3]) > 0
local any_prio = redis.call("HLEN", KEYS[4]) > 0

local n = #KEYS - 5
local head = ARGV[2]
-- The record of a task whose function returned nothing, built once for the batch.
local without_data = head .. "}"
for i = 1, n do
  local tail = ARGV[2 + 2 * n + i]
  if tail == "}" then
    redis.call("SET", KEYS[5 + i], without_data, "EX", ttl)
  elseif tail ~= "" then
    if string.byte(tail, 1) == 123 then
      redis.call("SET", KEYS[5 + i], tail, "EX", ttl)
    else
      redis.call("SET", KEYS[5 + i], head .. tail, "EX", ttl)
    end
  end
end
return ack_claims(ARGV, 3, 3 + n, n, any_keys, any_prio)
