--[[
  rate-reserve: reserves claims of one handler against its rate limit, over all shards together, before
  the per-shard claims that use them. A sliding log, timed by Redis TIME (ARCHITECTURE.md "Rate limits").

  The log holds one member per reservation. While a reservation is pending, it is scored by the time it
  was made (r) and its claims may run until r + grace (claim.lua claims nothing after that deadline, by
  Redis TIME), so it counts against every window its claims could fall in. rate-settle.lua then turns it
  into what happened: the number of jobs claimed, scored by the exact time of the claim. A window of
  `window` ms therefore never holds more than `limit` claims, whatever the delays between the calls; a
  reservation never settled (its tick died) counts conservatively until it ages out.

  KEYS[1]  log  ZSET member -> ms: "<reservation id>:<count>" (pending: scored by reservation time) or
                "<reservation id>:<count>:s" (settled: scored by claim time)

  ARGV[1]  limit: most claims in any window
  ARGV[2]  window ms (1000 for perSecond)
  ARGV[3]  grace ms: how long after this call its claims may run
  ARGV[4]  claims wanted (> 0)
  ARGV[5]  reservation id (random, from Node)

  Returns: { granted, claim deadline ms (Redis TIME), member ("" when nothing was granted),
             retry at ms (0, or when less than wanted was granted: the earliest time the window frees) }
]]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- The new claims run in [now, now + grace]; a window holding any of them starts after now - window. A
-- settled entry (claims at its score) counts when its score is in (now - window, now]; a pending one
-- (claims somewhere in [score, score + grace]) when its score is in (now - window - grace, now].
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - window - grace)
local live = redis.call("ZRANGE", KEYS[1], 0, -1, "WITHSCORES")
local used = 0
local frees_at = nil
for i = 1, #live, 2 do
  local count, settled = string.match(live[i], ":(%d+)(:?s?)$")
  local score = tonumber(live[i + 1])
  local ends = score + window + (settled == ":s" and 0 or grace)
  if ends > now then
    used = used + tonumber(count)
    if not frees_at or ends < frees_at then frees_at = ends end
  end
end
local granted = math.max(0, math.min(wanted, limit - used))
local member = ""
if granted > 0 then
  member = ARGV[5] .. ":" .. granted
  redis.call("ZADD", KEYS[1], now, member)
end
-- An idle handler's log expires on its own.
redis.call("PEXPIRE", KEYS[1], window + grace + 1000)
local retry_at = 0
if granted < wanted and frees_at then retry_at = frees_at end
return { granted, now + grace, member, retry_at }
