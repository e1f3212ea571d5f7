--[[
  next-wake: a read-only summary of one shard, so the tick knows how long it may sleep.

  KEYS[1]  arm   SET cron series waiting for Node
  KEYS[2]  prio  HASH id -> priority
  KEYS[3 + 3*(g-1)], KEYS[4 + 3*(g-1)], KEYS[5 + 3*(g-1)]  delayed:<h>, ready:<h>, inflight:<h>

  ARGV[1]  now ms
  ARGV[2]  aging step ms per unit of priority

  Returns: { next due ms or -1, jobs waiting in ready queues, next lease deadline ms or -1,
             oldest due-and-unclaimed ms or -1, series waiting in arm }
]]
local now = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local next_due = -1
local ready_total = 0
local next_lease = -1
local oldest_due = -1

local function min_of(current, value)
  if current < 0 or value < current then return value end
  return current
end

-- The earliest due time in a ready queue. Ranks are due - priority * step, so the head is not always the
-- oldest: a job due before the head's due time ranks between the head's rank and that due time (at most
-- 100 of them are read; beyond that the age is a lower bound).
local function oldest_ready_due(ready, head)
  local head_rank = tonumber(head[2])
  local head_due = head_rank + (tonumber(redis.call("HGET", KEYS[2], head[1])) or 0) * step
  if head_due == head_rank then return head_due end
  local range = redis.call("ZRANGEBYSCORE", ready, head_rank, head_due, "WITHSCORES", "LIMIT", 0, 100)
  local ids = {}
  for i = 1, #range, 2 do ids[#ids + 1] = range[i] end
  local priorities = redis.call("HMGET", KEYS[2], unpack(ids))
  local oldest = head_due
  for j = 1, #ids do
    oldest = math.min(oldest, tonumber(range[2 * j]) + (tonumber(priorities[j]) or 0) * step)
  end
  return oldest
end

for g = 1, (#KEYS - 2) / 3 do
  local delayed_head = redis.call("ZRANGE", KEYS[3 + 3 * (g - 1)], 0, 0, "WITHSCORES")
  if delayed_head[2] then
    local due = tonumber(delayed_head[2])
    next_due = min_of(next_due, due)
    if due <= now then oldest_due = min_of(oldest_due, due) end
  end
  local ready_count = redis.call("ZCARD", KEYS[4 + 3 * (g - 1)])
  if ready_count > 0 then
    ready_total = ready_total + ready_count
    local ready_head = redis.call("ZRANGE", KEYS[4 + 3 * (g - 1)], 0, 0, "WITHSCORES")
    oldest_due = min_of(oldest_due, oldest_ready_due(KEYS[4 + 3 * (g - 1)], ready_head))
  end
  local lease_head = redis.call("ZRANGE", KEYS[5 + 3 * (g - 1)], 0, 0, "WITHSCORES")
  if lease_head[2] then next_lease = min_of(next_lease, tonumber(lease_head[2])) end
end
return { next_due, ready_total, next_lease, oldest_due, redis.call("SCARD", KEYS[1]) }
