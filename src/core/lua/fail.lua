--[[
  fail: records a failed attempt of a claimed job, fenced by its claim token. The job is retried at
  `retryAt` (Node computes the backoff) until its attempts are used up, then moves to dead with the error.
  A retry that would run after expiresAt goes to dead with reason "expired" instead.

  KEYS[1]  jobs      HASH id -> packed body
  KEYS[2]  state     HASH id -> "attempt|token|reason|error"
  KEYS[3]  dead      ZSET id -> failedAt
  KEYS[4]  delayed   ZSET id -> due ms (of the job's handler)
  KEYS[5]  inflight  ZSET id -> lease deadline (of the job's handler)

  ARGV[1]  id
  ARGV[2]  claim token
  ARGV[3]  now ms
  ARGV[4]  retry at ms, or -1 to dead-letter now
  ARGV[5]  reason ("error", "timeout", "unknown-handler", ...)
  ARGV[6]  error message (already truncated by Node)

  Returns: { outcome, attempt } where outcome is 1 retry scheduled, 2 dead, -1 no such claimed job,
           -2 stale token
]]
-- @include decode-body.lua
-- @include inflight-attempt.lua
-- @include holds-claim.lua
-- @include max-attempts.lua

local id = ARGV[1]
local now = tonumber(ARGV[3])
local retry_at = tonumber(ARGV[4])
local lease = redis.call("ZSCORE", KEYS[5], id)
if not lease then
  if redis.call("HEXISTS", KEYS[1], id) == 1 then return { -2, 0 } end
  return { -1, 0 }
end
local raw_state = redis.call("HGET", KEYS[2], id)
local attempt = inflight_attempt(raw_state)
if not holds_claim(raw_state, ARGV[2], lease, id) then return { -2, attempt } end

local body = redis.call("HGET", KEYS[1], id)
local header = decode_body(body, id)
local max_attempts = header.m or DEFAULT_MAX_ATTEMPTS
redis.call("ZREM", KEYS[5], id)
if retry_at < 0 or attempt >= max_attempts then
  redis.call("ZADD", KEYS[3], now, id)
  redis.call("HSET", KEYS[2], id, attempt .. "||" .. ARGV[5] .. "|" .. ARGV[6])
  return { 2, attempt }
end
if header.x and retry_at > header.x then
  redis.call("ZADD", KEYS[3], now, id)
  redis.call("HSET", KEYS[2], id, attempt .. "||expired|" .. ARGV[6])
  return { 2, attempt }
end
redis.call("ZADD", KEYS[4], retry_at, id)
redis.call("HSET", KEYS[2], id, attempt .. "||" .. ARGV[5] .. "|" .. ARGV[6])
return { 1, attempt }
