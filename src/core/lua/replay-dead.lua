--[[
  replay-dead: moves a dead job back to its delayed queue, due now, with a new revision (so a new
  idempotency key) and its attempts reset.

  KEYS[1]  jobs     HASH id -> packed body
  KEYS[2]  state    HASH id -> claim state
  KEYS[3]  dead     ZSET id -> failedAt
  KEYS[4]  delayed  ZSET (of the job's handler)
  KEYS[5]  seq      STRING revision counter

  ARGV[1]  id
  ARGV[2]  now ms
  ARGV[3]  handler as the body Node read stores it (its code, or its name in a format-1 body)

  Returns: 1 replayed, 0 not in the dead set, -1 the handler changed
]]
-- @include decode-body.lua
-- @include encode-body.lua
-- @include handler-ref.lua

local id = ARGV[1]
if not redis.call("ZSCORE", KEYS[3], id) then return 0 end
local body = redis.call("HGET", KEYS[1], id)
if not body then
  redis.call("ZREM", KEYS[3], id)
  return 0
end
local header, payload = decode_body(body, id)
if handler_ref(header) ~= ARGV[3] then return -1 end
local now = tonumber(ARGV[2])
header.v = redis.call("INCR", KEYS[5])
header.r = now
if header.o then header.o = now end
redis.call("HSET", KEYS[1], id, encode_body(header, payload, id))
-- Attempts start again, with a state entry kept (attempt 0): the next claim writes its token, so a late ack
-- of an earlier claim is rejected (claim.lua fences a first claim by the absence of state).
redis.call("HSET", KEYS[2], id, "0||")
redis.call("ZREM", KEYS[3], id)
redis.call("ZADD", KEYS[4], now, id)
return 1
