--[[
  leader-release: gives the tick leader lease up, if the caller still holds it.

  KEYS[1]  leader  STRING owner id

  ARGV[1]  owner id of the caller

  Returns: 1 released, 0 not the owner
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
