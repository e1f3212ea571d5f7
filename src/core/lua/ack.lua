--[[
  ack: completes a claimed job, fenced by its claim token. A late ack (the lease expired and the job was
  claimed again, or the job was cancelled or upserted) is rejected and changes nothing.

  KEYS[1]  jobs      HASH id -> packed body
  KEYS[2]  state     HASH id -> "attempt|token|reason|error"
  KEYS[3]  keys      HASH user key -> id
  KEYS[4]  prio      HASH id -> priority
  KEYS[5]  inflight  ZSET id -> lease deadline (of the job's handler)

  ARGV[1]  id
  ARGV[2]  claim token

  Returns:  1 acknowledged, -1 no such claimed job, -2 stale token
]]
-- @include body.lua

local id = ARGV[1]
if not redis.call("ZSCORE", KEYS[5], id) then
  if redis.call("HEXISTS", KEYS[1], id) == 1 then return -2 end
  return -1
end
local _, token = parse_state(redis.call("HGET", KEYS[2], id))
if token ~= ARGV[2] then return -2 end

local body = redis.call("HGET", KEYS[1], id)
if body then
  local header = decode_body(body, id)
  if header.k and redis.call("HGET", KEYS[3], header.k) == id then redis.call("HDEL", KEYS[3], header.k) end
end
redis.call("ZREM", KEYS[5], id)
redis.call("HDEL", KEYS[2], id)
redis.call("HDEL", KEYS[1], id)
redis.call("HDEL", KEYS[4], id)
return 1
