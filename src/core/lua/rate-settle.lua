--[[
  rate-settle: records what a reservation (rate-reserve.lua) was used for: the number of jobs its claim
  took, at the Redis time of that claim. Unused claims go back to the handler's budget at once, so an
  almost empty queue does not hold the budget for a whole window.

  KEYS[1]  log  ZSET, as in rate-reserve.lua

  ARGV[1]  member (as rate-reserve returned it)
  ARGV[2]  jobs claimed with it (0 .. its count)
  ARGV[3]  Redis time of the claim, ms (claim.lua's reply)

  Returns: 1 settled, 0 the reservation had already aged out of the log (nothing left to correct)
]]
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then return 0 end
local used = tonumber(ARGV[2])
redis.call("ZREM", KEYS[1], ARGV[1])
if used > 0 then
  local id = string.match(ARGV[1], "^(.*):%d+$")
  redis.call("ZADD", KEYS[1], tonumber(ARGV[3]), id .. ":" .. used .. ":s")
end
return 1
