--[[
  leader-lease: takes or renews the tick leader lease. Only the owner can renew it; anyone can take it
  once it has expired (its owner died or stopped renewing).

  KEYS[1]  leader  STRING owner id, with a PX expiry

  ARGV[1]  owner id of the caller
  ARGV[2]  lease ms

  Returns: 1 the caller holds the lease, 0 another owner does
]]
local current = redis.call("GET", KEYS[1])
if current == false or current == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "PX", tonumber(ARGV[2]))
  return 1
end
return 0
