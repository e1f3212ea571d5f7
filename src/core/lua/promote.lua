--[[
  promote: moves due jobs from each handler's delayed queue into its ready queue, ranked for claiming.

  rank = due ms - priority * aging step. A job that has waited longer than `priority * step` ms is ranked
  ahead of any job that becomes due later, whatever its priority: that is the aging rule, and why no due
  job starves. A job never enters ready before it is due, so priority never makes a job run early.

  KEYS[1]  prio     HASH id -> priority
  KEYS[2 + 2*(g-1)], KEYS[3 + 2*(g-1)]  delayed:<h>, ready:<h> for group g = 1..G

  ARGV[1]  now ms
  ARGV[2]  most jobs to move per handler
  ARGV[3]  aging step ms per unit of priority

  Returns: the number of jobs moved.
]]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local step = tonumber(ARGV[3])
local moved = 0
local CHUNK = 1000
for g = 1, (#KEYS - 1) / 2 do
  local delayed = KEYS[2 + 2 * (g - 1)]
  local ready = KEYS[3 + 2 * (g - 1)]
  local due = redis.call("ZRANGEBYSCORE", delayed, "-inf", now, "WITHSCORES", "LIMIT", 0, limit)
  local count = #due / 2
  -- In chunks: unpack() of more than ~8000 values fails ("too many results to unpack").
  for first = 1, count, CHUNK do
    local last = math.min(first + CHUNK - 1, count)
    local ids = {}
    for i = first, last do ids[#ids + 1] = due[2 * i - 1] end
    local priorities = redis.call("HMGET", KEYS[1], unpack(ids))
    local zadd = {}
    for j = 1, #ids do
      zadd[2 * j - 1] = tonumber(due[2 * (first + j - 1)]) - (tonumber(priorities[j]) or 0) * step
      zadd[2 * j] = ids[j]
    end
    redis.call("ZADD", ready, unpack(zadd))
    redis.call("ZREM", delayed, unpack(ids))
  end
  moved = moved + count
end
return moved
