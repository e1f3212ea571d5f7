--[[
  release: hands a claimed job back without counting the attempt, fenced by its claim token. The tick
  uses it when publishing failed (EventBridge rejected or throttled the entry): the job waits a short
  backoff in its delayed queue, and is never lost.

  KEYS[1]  state     HASH id -> "attempt|token|reason|error"
  KEYS[2]  delayed   ZSET (of the job's handler)
  KEYS[3]  inflight  ZSET (of the job's handler)

  ARGV[1]  id
  ARGV[2]  claim token
  ARGV[3]  due again at ms
  ARGV[4]  why (kept as the job's last error)

  Returns: 1 released, -2 stale token or not claimed
]]
-- @include inflight-attempt.lua
-- @include holds-claim.lua

local id = ARGV[1]
local lease = redis.call("ZSCORE", KEYS[3], id)
if not lease then return -2 end
local raw_state = redis.call("HGET", KEYS[1], id)
if not holds_claim(raw_state, ARGV[2], lease, id) then return -2 end
local attempt = inflight_attempt(raw_state)
redis.call("ZREM", KEYS[3], id)
redis.call("ZADD", KEYS[2], tonumber(ARGV[3]), id)
redis.call("HSET", KEYS[1], id, math.max(attempt - 1, 0) .. "||publish-failed|" .. ARGV[4])
return 1
