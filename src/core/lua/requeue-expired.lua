--[[
  requeue-expired: returns jobs whose lease ran out without an ack to their ready queue, so they are
  claimed again with the same idempotency key. It is ranked like promote ranks it (due now, minus its
  priority times the aging step), so a redelivery keeps its priority. A lost lease counts as an attempt:
  a job whose attempts are used up moves to dead with reason "lease-expired".

  KEYS[1]  jobs   HASH id -> packed body
  KEYS[2]  state  HASH id -> "attempt|token|reason|error"
  KEYS[3]  dead   ZSET id -> failedAt
  KEYS[4]  prio   HASH id -> priority
  KEYS[5 + 2*(g-1)], KEYS[6 + 2*(g-1)]  inflight:<h>, ready:<h> for group g = 1..G

  ARGV[1]  now ms
  ARGV[2]  most jobs per handler
  ARGV[3]  aging step ms per unit of priority

  Returns: { requeued, dead }
]]
-- @include decode-body.lua
-- @include inflight-attempt.lua
-- @include max-attempts.lua

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local step = tonumber(ARGV[3])
local requeued = 0
local dead = 0
for g = 1, (#KEYS - 4) / 2 do
  local inflight = KEYS[5 + 2 * (g - 1)]
  local ready = KEYS[6 + 2 * (g - 1)]
  local expired = redis.call("ZRANGEBYSCORE", inflight, "-inf", now, "LIMIT", 0, limit)
  for _, id in ipairs(expired) do
    redis.call("ZREM", inflight, id)
    local body = redis.call("HGET", KEYS[1], id)
    if not body then
      redis.call("HDEL", KEYS[2], id)
    else
      local header = decode_body(body, id)
      local attempt = inflight_attempt(redis.call("HGET", KEYS[2], id))
      if attempt >= (header.m or DEFAULT_MAX_ATTEMPTS) then
        redis.call("ZADD", KEYS[3], now, id)
        redis.call("HSET", KEYS[2], id, attempt .. "||lease-expired|lease expired without an ack")
        dead = dead + 1
      else
        local priority = tonumber(redis.call("HGET", KEYS[4], id)) or 0
        redis.call("ZADD", ready, now - priority * step, id)
        redis.call("HSET", KEYS[2], id, attempt .. "||lease-expired|lease expired without an ack")
        requeued = requeued + 1
      end
    end
  end
end
return { requeued, dead }
